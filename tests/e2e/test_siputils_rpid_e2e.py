"""siputils' Remote-Party-ID functions on the wire, Kamailio 5.6 and kampy running the same config
(tests/e2e/beside.py): the forwarded INVITE carries the same Remote-Party-ID headers from both."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.beside import both

CONFIG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("siputils", "rpid_prefix", "<")
request_route {
  $avp(s:rpid) = $hdr(X-Rpid);
  if (append_rpid_hf()) { append_hf("X-Appended: 1\\r\\n"); }
  append_rpid_hf("P<", ">S");
  if (is_rpid_user_e164()) { append_hf("X-E164: yes\\r\\n"); }
  $du = $hdr(X-Next);
  t_relay();
}
"""


def forwarded(port: int, rpid: str) -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(10)
        caller.bind(("127.0.0.1", 0))
        lines = ["INVITE sip:bob@example.test SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{caller.getsockname()[1]};branch=z9hG4bK-rp{port}",
                 "Max-Forwards: 70", "From: <sip:alice@example.test>;tag=a1", "To: <sip:bob@example.test>",
                 f"Call-ID: rpid-{port}", "CSeq: 1 INVITE", f"X-Rpid: {rpid}",
                 f"X-Next: sip:127.0.0.1:{sink.getsockname()[1]}", "Content-Length: 0"]
        caller.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), ("127.0.0.1", port))
        data = sink.recv(65535).decode()
    wanted = ("Remote-Party-ID", "X-Appended", "X-E164")
    return [line for line in data.split("\r\n") if line.startswith(wanted)]


@pytest.mark.parametrize("rpid", ["sip:+4930123@example.test", "sip:alice@example.test"])
def test_append_rpid_hf_and_is_rpid_user_e164_match_kamailio(tmp_path: Path, rpid: str) -> None:
    with both(tmp_path, CONFIG) as (kamailio, kampy):
        theirs, ours = forwarded(kamailio.port, rpid), forwarded(kampy.port, rpid)
    assert theirs[:3] == [f"Remote-Party-ID: <{rpid};party=calling;id-type=subscriber;screen=yes",
                          "X-Appended: 1", f"Remote-Party-ID: P<{rpid}>S"]
    assert ours == theirs
