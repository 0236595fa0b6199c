"""uac on the wire, kampy beside Kamailio 5.6 running the same config (configs/uac.cfg) with Python
user agents on free 127.0.0.1 ports:

* uac_replace_from(): the callee sees the new From, the Record-Route carries Kamailio's encoded
  `vsf` parameter (the same bytes from both servers, so each restores the other's), the caller's
  replies get the original From back, and the dialog's BYEs are restored in both directions;
* uac_auth(): an upstream's 407 (and 401) answered in failure_route with the `credential` of its
  realm, the same Proxy-Authorization header and CSeq as Kamailio's;
* uac_req_send(): an INFO answered 401 is sent again with Authorization, event_route[uac:reply]
  running for both replies."""
from __future__ import annotations

import hashlib
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import NotAvailable, start_proxy

UAC_CFG = CONFIGS / "uac.cfg"
ALICE_FROM = '"Alice" <sip:alice@example.test>;tag=alice-tag-1'


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def _port(s: socket.socket) -> int:
    return int(s.getsockname()[1])


def _msg(first: str, headers: list[str]) -> bytes:
    return ("\r\n".join([first, *headers, "Content-Length: 0"]) + "\r\n\r\n").encode()


def _request(method: str, ruri: str, src: socket.socket, call_id: str, cseq: int, frm: str, to: str,
             routes: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> bytes:
    return _msg(f"{method} {ruri} SIP/2.0", [
        f"Via: SIP/2.0/UDP 127.0.0.1:{_port(src)};branch=z9hG4bK-{call_id}-{method}-{cseq}",
        "Max-Forwards: 70", f"From: {frm}", f"To: {to}", f"Call-ID: {call_id}", f"CSeq: {cseq} {method}",
        f"Contact: <sip:ua@127.0.0.1:{_port(src)}>", *[f"Route: {r}" for r in routes], *extra])


def _reply(request: list[str], code: int, reason: str, *, to_tag: str | None = None,
           extra: tuple[str, ...] = ()) -> bytes:
    keep = [line for line in request[1:] if line.split(":")[0] in ("Via", "From", "Call-ID", "CSeq",
                                                                     "Record-Route")]
    to = _header(request, "To")
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    return _msg(f"SIP/2.0 {code} {reason}", [*keep, f"To: {to}", *extra])


def _header(lines: list[str], name: str) -> str:
    for line in lines:
        if line.lower().startswith(name.lower() + ":"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name} in {lines}")


def _receive(sock: socket.socket, first: str) -> tuple[list[str], tuple[str, int]]:
    while True:
        data, addr = sock.recvfrom(65535)
        lines = data.decode().split("\r\n")
        if lines[0].startswith(first):
            return lines, addr


def _start(target: str, directory: Path, cfg: Path = UAC_CFG):  # type: ignore[no-untyped-def]
    try:
        return start_proxy(target, directory, cfg=cfg)
    except NotAvailable as exc:
        if target.startswith("kampy"):
            raise
        pytest.skip(str(exc))


def _replace_call(target: str, directory: Path, ruri_user: str = "bob",
                  cfg: Path = UAC_CFG) -> dict[str, object]:
    proxy = _start(target, directory, cfg)
    caller, callee = _sock(), _sock()
    me = f"127.0.0.1:{proxy.port}"
    try:
        bob = f"sip:{ruri_user}@127.0.0.1:{_port(callee)}"
        bob_to = f"<sip:{ruri_user}@example.test>"
        call_id = f"uac-{target}-{proxy.port}"
        caller.sendto(_request("INVITE", bob, caller, call_id, 1, ALICE_FROM, bob_to), proxy.addr)
        invite, paddr = _receive(callee, "INVITE")
        rr = _header(invite, "Record-Route")
        callee.sendto(_reply(invite, 200, "OK", to_tag="bob-tag-1",
                             extra=(f"Contact: <sip:bob@127.0.0.1:{_port(callee)}>",)), paddr)
        ok, _ = _receive(caller, "SIP/2.0 200")
        # caller's BYE (downstream): the callee sees the replaced From again
        route = rr.strip("<>")
        caller.sendto(_request("BYE", bob, caller, call_id, 2, ALICE_FROM, bob_to + ";tag=bob-tag-1",
                               routes=(f"<{route}>",)), proxy.addr)
        bye, paddr = _receive(callee, "BYE")
        callee.sendto(_reply(bye, 200, "OK"), paddr)
        bye_ok, _ = _receive(caller, "SIP/2.0 200")
        # callee's BYE (upstream) with what it saw: the caller gets its own From back in To
        callee.sendto(_request("BYE", f"sip:alice@127.0.0.1:{_port(caller)}", callee, call_id, 1,
                               _header(invite, "To") + ";tag=bob-tag-1", _header(invite, "From"),
                               routes=(f"<{route}>",)), proxy.addr)
        up_bye, paddr = _receive(caller, "BYE")
        caller.sendto(_reply(up_bye, 200, "OK"), paddr)
        up_ok, _ = _receive(callee, "SIP/2.0 200")

        def n(text: str) -> str:  # the dialog's id (restore_dlg) differs by nature
            return re.sub(r";did=[^;>]*", ";did=ID", text.replace(me, "PROXY"))
        return {
            "invite_from": _header(invite, "From"), "invite_to": _header(invite, "To"), "rr": n(rr),
            "ok_from": _header(ok, "From"), "ok_to": _header(ok, "To"),
            "bye_from": _header(bye, "From"), "bye_to": _header(bye, "To"),
            "bye_ok_from": _header(bye_ok, "From"),
            "up_bye_from": _header(up_bye, "From"), "up_bye_to": _header(up_bye, "To"),
            "up_ok_from": _header(up_ok, "From"), "up_ok_to": _header(up_ok, "To"),
        }
    finally:
        caller.close()
        callee.close()
        proxy.stop()


def test_replace_from_is_restored_on_replies_and_byes_as_kamailio(tmp_path: Path) -> None:
    kamailio = _replace_call("kamailio-1", tmp_path)
    kampy = _replace_call("kampy-1", tmp_path)
    assert kamailio["invite_from"] == "<sip:anonymous@anonymous.invalid>".join(ALICE_FROM.split(
        "<sip:alice@example.test>"))
    assert kamailio["ok_from"] == ALICE_FROM
    assert kamailio["bye_from"] == kamailio["invite_from"]
    assert kamailio["bye_ok_from"] == ALICE_FROM
    assert kamailio["up_bye_to"] == ALICE_FROM
    assert kamailio["up_ok_to"] == kamailio["invite_from"]
    assert str(kamailio["rr"]).startswith("<sip:PROXY;lr;ftag=alice-tag-1;vsf=")
    assert kampy == kamailio


@pytest.mark.parametrize("user", ["bob", "display"])
def test_restore_dlg_keeps_the_uris_in_the_dialog_as_kamailio(tmp_path: Path, user: str) -> None:
    cfg = CONFIGS / "uac_dlg.cfg"
    kamailio = _replace_call("kamailio-1", tmp_path, user, cfg)
    kampy = _replace_call("kampy-1", tmp_path, user, cfg)
    assert ";vsf=" not in str(kamailio["rr"]) and ";vst=" not in str(kamailio["rr"])
    if user == "bob":  # the dialog keeps the new display too: none (uac_replace_from with the URI only)
        assert kamailio["bye_from"] == "<sip:anonymous@anonymous.invalid>;tag=alice-tag-1"
    assert kampy == kamailio


def test_replace_display_and_to_as_kamailio(tmp_path: Path) -> None:
    kamailio = _replace_call("kamailio-1", tmp_path, "display")
    kampy = _replace_call("kampy-1", tmp_path, "display")
    assert kamailio["invite_to"] == '"Bob Anon" <sip:anon-bob@anon.test>'
    assert kamailio["ok_to"].startswith("<sip:display@example.test>")  # type: ignore[union-attr]
    assert kampy == kamailio


def _digest(user: str, realm: str, pw: str, method: str, uri: str, nonce: str, extra: str = "") -> str:
    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()
    return md5(f"{md5(f'{user}:{realm}:{pw}')}:{nonce}:{extra}{md5(f'{method}:{uri}')}")


def _auth_call(target: str, directory: Path, upstream: socket.socket, code: int) -> dict[str, object]:
    proxy = _start(target, directory)
    caller = _sock()
    try:
        uri = f"sip:auth@127.0.0.1:{_port(upstream)}"
        call_id = f"uacauth-{target}-{proxy.port}"
        caller.sendto(_request("INVITE", uri, caller, call_id, 5, ALICE_FROM, "<sip:auth@example.test>"),
                      proxy.addr)
        first, paddr = _receive(upstream, "INVITE")
        hname = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
        challenge = f'{hname}: Digest realm="upstream.test", nonce="n0nce-{code}", opaque="op4", qop="auth"'
        upstream.sendto(_reply(first, code, "Auth", to_tag="up-1", extra=(challenge,)), paddr)
        _receive(upstream, "ACK")
        second, paddr = _receive(upstream, "INVITE")
        upstream.sendto(_reply(second, 200, "OK", to_tag="up-2"), paddr)
        ok, _ = _receive(caller, "SIP/2.0 200")
        return {
            "cseq": (_header(first, "CSeq"), _header(second, "CSeq")),
            "ruri": second[0],
            "auth": _header(second, "Authorization" if code == 401 else "Proxy-Authorization"),
            "ok": ok[0],
        }
    finally:
        caller.close()
        proxy.stop()


@pytest.mark.parametrize("code", [407, 401])
def test_uac_auth_answers_upstream_challenge_as_kamailio(tmp_path: Path, code: int) -> None:
    upstream = _sock()
    uri = f"sip:auth@127.0.0.1:{_port(upstream)}"
    try:
        kamailio = _auth_call("kamailio-1", tmp_path, upstream, code)
        kampy = _auth_call("kampy-1", tmp_path, upstream, code)
    finally:
        upstream.close()
    auth = str(kamailio["auth"])
    cnonce = auth.split('cnonce="')[1].split('"')[0]
    expected = _digest("proxyuser", "upstream.test", "proxypass", "INVITE", uri, f"n0nce-{code}",
                       f"00000001:{cnonce}:auth:")
    assert f'response="{expected}"' in auth
    assert kamailio["cseq"] == ("5 INVITE", "5 INVITE")  # Kamailio keeps the CSeq (no dialog module)
    assert kampy == kamailio


def _send_info(target: str, directory: Path, peer: socket.socket) -> dict[str, object]:
    proxy = _start(target, directory)
    ua = _sock()
    try:
        target_uri = f"sip:peer@127.0.0.1:{_port(peer)}"
        ua.sendto(_request("OPTIONS", "sip:send@example.test", ua, f"send-{target}-{proxy.port}", 1,
                           ALICE_FROM, "<sip:send@example.test>", extra=(f"X-Target: {target_uri}",)),
                  proxy.addr)
        sending, _ = _receive(ua, "SIP/2.0 200")
        first, paddr = _receive(peer, "INFO")
        peer.sendto(_reply(first, 401, "Unauthorized", to_tag="p1", extra=(
            'WWW-Authenticate: Digest realm="peer.test", nonce="info-nonce"',)), paddr)
        second, paddr = _receive(peer, "INFO")
        peer.sendto(_reply(second, 200, "OK", to_tag="p2"), paddr)
        return {
            "reply": sending[0], "ruri": first[0],
            "from": _header(first, "From").split(";tag=")[0], "to": _header(first, "To"),
            "sent_by": _header(first, "X-Sent"),
            "cseq": (_header(first, "CSeq"), _header(second, "CSeq")),
            "same_call": _header(first, "Call-ID") == _header(second, "Call-ID"),
            "auth": _header(second, "Authorization"),
            "log": proxy,
        }
    except BaseException:
        proxy.stop()
        raise
    finally:
        ua.close()


def _reply_route_lines(proxy: Any) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        lines = [line[line.index("uac:reply"):] for line in proxy.output().splitlines()
                 if "uac:reply evcode" in line]
        if len(lines) >= 2 or time.monotonic() > deadline:
            proxy.stop()
            return lines
        time.sleep(0.1)


def test_uac_req_send_authenticates_and_runs_the_reply_route_as_kamailio(tmp_path: Path) -> None:
    peer = _sock()
    try:
        kamailio = _send_info("kamailio-1", tmp_path, peer)
        kamailio["log"] = _reply_route_lines(kamailio["log"])
        kampy = _send_info("kampy-1", tmp_path, peer)
        kampy["log"] = _reply_route_lines(kampy["log"])
    finally:
        peer.close()
    assert kamailio["from"] == "<sip:kam@uac.test>" and kamailio["to"] == "<sip:peer@uac.test>"
    assert kamailio["cseq"] == ("10 INFO", "11 INFO") and kamailio["same_call"]
    assert 'username="infouser", realm="peer.test", nonce="info-nonce"' in str(kamailio["auth"])
    assert kamailio["log"] == ["uac:reply evcode=401 evtype=1 method=INFO",
                               "uac:reply evcode=200 evtype=1 method=INFO"]
    assert kampy == kamailio
