"""Reply codes out of 100..699 beside Kamailio 5.6: sl_send_reply() and t_reply() send any code the
config gives as its last three digits (Kamailio's unsigned code), and the script goes on after them."""
from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.beside import Server, both

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
request_route {
  if ($rU == "empty") sl_send_reply("", "R");
  if ($rU == "low") sl_send_reply("99", "R");
  if ($rU == "high") sl_send_reply("1000", "R");
  if ($rU == "minus") sl_send_reply("-1", "R");
  if ($rU == "tlow") { t_newtran(); t_reply("99", "R"); t_reply("200", "T"); exit; }
  if ($rU == "tminus") { t_newtran(); t_reply("-1", "R"); t_reply("200", "T"); exit; }
  sl_send_reply("202", "After $rc");
}
"""
USERS = ("empty", "low", "high", "minus", "tlow", "tminus")


def ask(server: Server, user: str) -> socket.socket:
    ua = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ua.bind(("127.0.0.1", 0))
    port = ua.getsockname()[1]
    ua.sendto((f"OPTIONS sip:{user}@127.0.0.1:{server.port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{user}-{server.name}\r\n"
               f"From: <sip:a@127.0.0.1>;tag=f1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
               f"Call-ID: {user}-{server.name}\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
              ("127.0.0.1", server.port))
    return ua


def statuses(ua: socket.socket, wait: float) -> list[str]:
    """The status lines `ua` got, until nothing came for `wait` seconds."""
    got: list[str] = []
    ua.settimeout(wait)
    try:
        while True:
            got.append(ua.recv(65535).split(b"\r\n")[0].decode())
    except TimeoutError:
        return got
    finally:
        ua.close()


def all_statuses(server: Server) -> dict[str, list[str]]:
    uas = {u: ask(server, u) for u in USERS}  # all at once, then each one's replies
    return {u: statuses(ua, 0.5 if u == USERS[0] else 0.05) for u, ua in uas.items()}


def test_odd_reply_codes_go_out_as_kamailio_sends_them(tmp_path: Path) -> None:
    with both(tmp_path, CFG) as (kamailio, kampy):
        seen = {s.name: all_statuses(s) for s in (kamailio, kampy)}
    assert seen["kamailio"]["minus"] == ["SIP/2.0 295 R", "SIP/2.0 202 After 1"]
    assert seen["kamailio"]["tlow"] == ["SIP/2.0 099 R", "SIP/2.0 200 T"]
    assert seen["kampy"] == seen["kamailio"]
