"""uac's remote registrations on the wire, kampy beside Kamailio 5.6 with the same config
(configs/uacreg.cfg) and the same `uacreg` row in SQLite: a Python registrar challenges each
REGISTER with a 401, checks the digest of the second, accepts it for 2 seconds, and the server
registers again (reg_timer_interval 1) with a new Call-ID: the same requests from both; then
uac_reg_status() answers "registered" in every worker (kampy with two: the state is shared)."""
from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kampy.db import connect
from kampy.db.schema import create_tables
from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import NotAvailable, start_proxy

CFG = CONFIGS / "uacreg.cfg"
NONCE = "0123abcd"


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _db(path: Path, registrar_port: int) -> str:
    url = f"sqlite://{path}"
    db = connect(url)
    try:
        create_tables(db, ["version", "uacreg"])
        db.insert("uacreg", {
            "l_uuid": "kam1", "l_username": "alice", "l_domain": "example.test", "r_username": "alice",
            "r_domain": f"127.0.0.1:{registrar_port}", "realm": "reg.test", "auth_username": "alice",
            "auth_password": "s3cret", "auth_ha1": "", "auth_proxy": f"sip:127.0.0.1:{registrar_port}",
            "expires": 60, "flags": 0, "reg_delay": 0, "contact_addr": "", "socket": ""})
    finally:
        db.close()
    return url


def _header(lines: list[str], name: str) -> str:
    for line in lines:
        if line.lower().startswith(name.lower() + ":"):
            return line.partition(":")[2].strip()
    return ""


def _reply(request: list[str], code: int, reason: str, extra: list[str]) -> bytes:
    keep = [line for line in request[1:] if line.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    lines = [f"SIP/2.0 {code} {reason}", *keep, *extra, "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _registrations(target: str, tmp_path: Path, registrar: socket.socket,
                   cycles: int) -> list[dict[str, str]]:
    port = registrar.getsockname()[1]
    url = _db(tmp_path / f"{target}.sqlite", port)
    try:
        ctl = f"unix:{tmp_path}/{target}.ctl"
        proxy = start_proxy(target, tmp_path, cfg=CFG, defines=(f'DBURL="{url}"', f'CTLSOCK="{ctl}"'))
    except NotAvailable as exc:
        if target.startswith("kampy"):
            raise
        pytest.skip(str(exc))
    seen: list[dict[str, str]] = []
    call_ids: list[str] = []
    try:
        while len(seen) < 2 * cycles:
            data, addr = registrar.recvfrom(65535)
            lines = data.decode().split("\r\n")
            if not lines[0].startswith("REGISTER "):
                continue
            auth = _header(lines, "Authorization")
            call_ids.append(_header(lines, "Call-ID"))
            seen.append({
                "ruri": lines[0], "from": re.sub(r";tag=.*", "", _header(lines, "From")),
                "to": _header(lines, "To"), "contact": _header(lines, "Contact"),
                "expires": _header(lines, "Expires"), "cseq": _header(lines, "CSeq").split()[0],
                "auth": auth,
            })
            if not auth:
                registrar.sendto(_reply(lines, 401, "Unauthorized", [
                    f'WWW-Authenticate: Digest realm="reg.test", nonce="{NONCE}", qop="auth"']), addr)
                continue
            cnonce = re.search(r'cnonce="([^"]*)"', auth).group(1)  # type: ignore[union-attr]
            ruri = f"sip:127.0.0.1:{port}"
            good = _md5(f"{_md5('alice:reg.test:s3cret')}:{NONCE}:00000001:{cnonce}:auth:"
                        f"{_md5('REGISTER:' + ruri)}")
            assert f'response="{good}"' in auth
            expires = 2 if len(seen) < 2 * cycles else 60  # the last one stays registered
            contact = f"Contact: <sip:kam1@127.0.0.1:5099>;expires={expires}"
            registrar.sendto(_reply(lines, 200, "OK", [contact]), addr)
        seen.append({"status": _statuses(proxy)})
        seen.append({f"{i} {' '.join(cmd)}": _kamcmd(ctl, *cmd) for i, cmd in enumerate(RPCS)})
    finally:
        proxy.stop()
    assert call_ids[0] == call_ids[1] and call_ids[2] == call_ids[3]  # the challenge answered in-dialog
    assert call_ids[0] != call_ids[2]  # reg_keep_callid 0: a new Call-ID for the refresh
    return seen


RPCS = [("uac.reg_dump",), ("uac.reg_info", "l_uuid", "kam1"), ("uac.reg_info", "realm", "x"),
        ("uac.reg_info", "l_uuid", "nobody"), ("uac.reg_disable", "l_username", "alice"),
        ("uac.reg_info", "l_username", "alice"), ("uac.reg_active", "0"), ("uac.reg_remove", "kam1"),
        ("uac.reg_dump",)]
MASKED = ("timer_expires", "reg_init", "diff_expires")


def _kamcmd(ctl: str, *command: str) -> list[str]:
    """kamcmd's output, the times masked."""
    out = subprocess.run(["kamcmd", "-s", ctl, *command], capture_output=True, text=True, timeout=10)
    lines = (out.stdout + out.stderr).splitlines()
    pattern = r"^(\t*(" + "|".join(MASKED) + r")): .*$"
    return [re.sub(pattern, r"\1: <masked>", line) for line in lines]


def _statuses(proxy: Any) -> list[str]:
    """uac_reg_status("kam1") as each worker answers it (a burst of requests: both take some)."""
    ua = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ua.bind(("127.0.0.1", 0))
    ua.settimeout(5)
    port = ua.getsockname()[1]
    try:
        time.sleep(0.3)  # the 200 handled
        for i in range(6):
            request = "\r\n".join([
                "OPTIONS sip:status@example.test SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-st{i}", "Max-Forwards: 70",
                "From: <sip:t@example.test>;tag=t", "To: <sip:status@example.test>",
                f"Call-ID: st-{i}-{port}", "CSeq: 1 OPTIONS", "Content-Length: 0"]) + "\r\n\r\n"
            ua.sendto(request.encode(), proxy.addr)
        return sorted({ua.recvfrom(65535)[0].decode().split("\r\n")[0] for _ in range(6)})
    finally:
        ua.close()


def test_uac_reg_registers_authenticates_and_refreshes_as_kamailio(tmp_path: Path) -> None:
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 0))
    registrar.settimeout(10)
    port = registrar.getsockname()[1]
    try:
        kamailio = _registrations("kamailio-1", tmp_path, registrar, 2)
        kampy = _registrations("kampy-2", tmp_path, registrar, 2)
    finally:
        registrar.close()
    first = kamailio[0]
    assert first["ruri"] == f"REGISTER sip:127.0.0.1:{port} SIP/2.0"
    assert first["to"] == f"<sip:alice@127.0.0.1:{port}>"
    assert first["contact"] == "<sip:kam1@127.0.0.1:5099>" and first["expires"] == "60"
    assert [r["cseq"] for r in kamailio[:4]] == ["10", "11", "10", "11"]
    assert kamailio[4] == {"status": ["SIP/2.0 200 status 1"]}
    rpc = kamailio[5]
    assert "\tl_uuid: kam1" in rpc["0 uac.reg_dump"] and "\tflags: 20" in rpc["0 uac.reg_dump"]
    assert rpc["2 uac.reg_info realm x"] == ["error: 400 - Unsupported filter attribute"]
    assert "\tflags: 21" in rpc["5 uac.reg_info l_username alice"]  # online, init, now disabled
    assert "\tsocket: <null string>" in rpc["0 uac.reg_dump"]
    assert rpc["8 uac.reg_dump"] == []  # removed
    assert kampy == kamailio
