"""The six modules through a real config: load_text -> Server.from_config -> handle()."""
from __future__ import annotations

from kampy.api import Socket, Source, parse_message
from kampy.config.pipeline import load_text
from kampy.runtime.server import Server
from tests.modkit import INVITE, OPTIONS
from kampy.version import SERVER_HEADER

SERVER = SERVER_HEADER.encode()

SOCKET = Socket("udp", "127.0.0.1", 5060)
SRC = Source("udp", "127.0.0.1", 5070, SOCKET)

CFG = r'''
loadmodule "sl"
loadmodule "maxfwd"
loadmodule "textops"
loadmodule "textopsx"
loadmodule "siputils"
loadmodule "sanity"
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (!sanity_check("3047", "7")) {
        exit;
    }
    if (is_method("OPTIONS") && !has_totag()) {
        append_to_reply("X-Hello: world\r\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_present_hf("X-Foo")) {
        subst('/^X-Foo: (.*)$/X-Foo: new-\1/');
        msg_apply_changes();
        if (search("^X-Foo: new-one")) {
            sl_send_reply("202", "Edited");
            exit;
        }
    }
    sl_reply_error();
}
'''


def server() -> Server:
    return Server.from_config(load_text(CFG, "mods.cfg"), sockets=[SOCKET])


def reply(data: bytes) -> bytes:
    out = server().handle(data, SRC)
    assert len(out) == 1
    return out[0].data


def test_options_answered_200_with_appended_header() -> None:
    data = reply(OPTIONS)
    assert data.startswith(b"SIP/2.0 200 OK\r\n")
    assert b"\r\nX-Hello: world\r\nServer: " + SERVER + b"\r\nContent-Length: 0\r\n\r\n" in data
    assert b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=5070;received=127.0.0.1\r\n" in data


def test_max_forwards_zero_gets_483() -> None:
    data = reply(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    assert data.startswith(b"SIP/2.0 483 Too Many Hops\r\n")


def test_sanity_failure_replies_and_stops() -> None:
    data = reply(OPTIONS.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"))
    assert data.startswith(b"SIP/2.0 400 CSeq method does not match request method\r\n")


def test_subst_then_apply_changes_is_seen_by_search() -> None:
    data = reply(INVITE)
    assert data.startswith(b"SIP/2.0 202 Edited\r\n")
    assert parse_message(data).to.tag


def test_no_reply_to_ack() -> None:
    ack = OPTIONS.replace(b"OPTIONS sip", b"ACK sip").replace(b"1 OPTIONS", b"1 ACK")
    assert server().handle(ack, SRC) == []
