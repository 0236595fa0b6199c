"""tm: t_write_req() and t_write_unix() write the request's fields (Kamailio's format 0.3) to a FIFO
or a unix datagram socket; the application answers with tm.reply, or fr_timer gives a 408."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.errors import ConfigError
from kampy.runtime.context import Outgoing
from tests.tmkit import ALICE, BOB, advance, lines, reply_to, request, server

APPEND = 'modparam("tm", "tw_append", "mine:hdr[Subject];uid=avp[$avp(uid)];msg[body]")\n'
INVITE_EXTRA = ("Contact: <sip:alice@192.0.2.10:5070>\r\nSubject: call me\r\n"
                "Record-Route: <sip:p2.example.test;lr>, <sip:p1.example.test;lr>\r\n")


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "vm.fifo"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    yield path, fd
    os.close(fd)


def _written(fd: int) -> list[str]:
    return os.read(fd, 65536).decode().split("\n")


def test_t_write_req_writes_the_invite_fields_to_the_fifo(fifo: tuple[Path, int]) -> None:
    path, fd = fifo
    srv = server(f'request_route {{ $avp(uid) = "u42"; t_newtran(); '
                 f't_write_req("{path}", "voicemail/mine"); }}', APPEND)
    srv.handle(request("INVITE", "sip:bob@example.test", extra=INVITE_EXTRA, body="v=0\r\n"), ALICE)
    written = _written(fd)
    entry = srv.core.rpc.call("tm.list", [])[0]
    assert written == [
        "0.3", "sip_request.voicemail", "INVITE", "bob", "example.test", "127.0.0.1", ".",
        "sip:bob@example.test", "sip:alice@192.0.2.10:5070", "<sip:alice@example.test>",
        "<sip:bob@example.test>", "call-1@192.0.2.10", "al1", "", "1", f"{entry['tindex']}:{entry['tlabel']}",
        "<sip:p2.example.test;lr>,<sip:p2.example.test;lr>,<sip:p1.example.test;lr>",  # (Kamailio's twice)
        "sip:p2.example.test;lr",
        "P-MsgFlags: 08", "Subject: call me", "uid: u42", ".", "v=0\r", "", ""]


def test_t_write_req_without_an_append_writes_a_dot_for_the_body_of_a_message(fifo: tuple[Path, int]) -> None:
    path, fd = fifo
    srv = server(f'request_route {{ t_newtran(); t_write_req("{path}", "im"); }}')
    srv.handle(request("MESSAGE", "sip:bob@example.test", body="hi"), ALICE)
    written = _written(fd)
    assert written[1] == "sip_request.im" and written[8] == "sip:alice@example.test"
    assert written[16:] == [".", ".", "P-MsgFlags: 08", ".", ".", ""]


def test_the_application_answers_with_tm_reply(fifo: tuple[Path, int]) -> None:
    path, fd = fifo
    srv = server(f'request_route {{ t_newtran(); t_write_req("{path}", "vm"); }}')
    srv.handle(request("INVITE", "sip:bob@example.test"), ALICE)
    trans_id = _written(fd)[15]
    srv.core.rpc.call("tm.reply", [200, "OK", trans_id, "vm1", "Contact: <sip:vm@192.0.2.99>\r\n", ""])
    assert lines([o for o in srv.core.outbox if isinstance(o, Outgoing)]) == ["SIP/2.0 200 OK"]
    # the blind branch ended with the reply: no 408 later (the 200 is resent until an ACK)
    assert set(lines(advance(srv, 40))) == {"SIP/2.0 200 OK"}


def test_without_an_answer_the_transaction_gets_408_after_fr_timer(fifo: tuple[Path, int]) -> None:
    path, _ = fifo
    srv = server(f'request_route {{ t_newtran(); t_write_req("{path}", "vm"); }}',
                 'modparam("tm", "fr_timer", 2000)\n')
    srv.handle(request("INVITE", "sip:bob@example.test"), ALICE)
    assert lines(advance(srv, 1.9)) == []
    assert lines(advance(srv, 0.2)) == ["SIP/2.0 408 Request Timeout"]


def test_t_write_req_fails_when_nobody_reads_the_fifo(tmp_path: Path) -> None:
    path = tmp_path / "nobody.fifo"
    os.mkfifo(path)
    srv = server(f'request_route {{ t_newtran(); '
                 f'if (!t_write_req("{path}", "vm")) t_reply("500", "No VM"); }}')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 500 No VM"]


def test_t_write_req_needs_a_transaction(fifo: tuple[Path, int]) -> None:
    path, _ = fifo
    srv = server(f'request_route {{ if (!t_write_req("{path}", "vm")) sl_send_reply("500", "No T"); }}')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 500 No T"]


def test_t_write_unix_sends_one_datagram(tmp_path: Path) -> None:
    path = tmp_path / "vm.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        srv = server(f'request_route {{ t_newtran(); t_write_unix("{path}", "vm"); }}',
                     'modparam("tm", "unix_tx_timeout", 250)\n')
        srv.handle(request("MESSAGE", "sip:bob@example.test"), ALICE)
        written = sock.recv(65536).decode().split("\n")
    # the 20 lines (the append takes 2), the last one ended too
    assert written[:3] == ["0.3", "sip_request.vm", "MESSAGE"] and len(written) == 22


@pytest.mark.parametrize("info", ["/mine", "vm/", "vm/other"])
def test_a_bad_action_or_append_name_is_a_config_error(info: str) -> None:
    with pytest.raises(ConfigError):
        server(f'request_route {{ t_write_req("/tmp/x", "{info}"); }}', APPEND)


def test_a_malformed_tw_append_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        server("request_route { t_newtran(); }", 'modparam("tm", "tw_append", "mine:foo[bar]")\n')


def test_t_write_req_in_failure_route_keeps_the_call_for_the_application(fifo: tuple[Path, int]) -> None:
    path, fd = fifo
    srv = server(f'request_route {{ t_on_failure("VM"); t_relay(); }}\n'
                 f'failure_route[VM] {{ t_write_req("{path}", "vm"); }}')
    invite = srv.handle(request("INVITE", "sip:bob@198.51.100.20:5080"), ALICE)[1]
    assert lines(srv.handle(reply_to(invite, 486, "Busy Here"), BOB)) == [
        "ACK sip:bob@198.51.100.20:5080 SIP/2.0"]  # the 486 is not relayed: the voicemail answers
    written = _written(fd)
    assert written[1:3] == ["sip_request.vm", "INVITE"]
    srv.core.rpc.call("tm.reply", [480, "Leave a Message", written[15], "vm1", "", ""])
    assert lines([o for o in srv.core.outbox if isinstance(o, Outgoing)]) == ["SIP/2.0 480 Leave a Message"]
