"""tmx on the wire, kampy beside Kamailio 5.6 running the same config (configs/tmx.cfg): an INVITE
forked to two user agents of the test, onreply_route cancelling branches (t_cancel_branches), the
extended flags kept for failure_route (t_flush_xflags), $T(...)/$T_branch(...) read back in headers,
and t_drop(); the user agents' view of both servers is compared."""
from __future__ import annotations

from pathlib import Path

from tests.e2e import dualserver
from tests.e2e.dualserver import Server, Started, differences
from tests.e2e.kampy_process import free_port
from tests.e2e.sip import UDPPeer, header, reply_to

CFG = dualserver.CONFIGS / "tmx.cfg"


class UA(UDPPeer):
    def recv(self, timeout: float = 5) -> str:
        self.sock.settimeout(timeout)
        while True:
            data = self.sock.recv(65536).decode()
            if not data.startswith("SIP/2.0 100"):
                return data

    def poll(self, timeout: float) -> str | None:
        """The next message other than a 100 Trying within `timeout`, else None."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536).decode()
                if not data.startswith("SIP/2.0 100"):
                    return data
        except TimeoutError:
            return None


def invite(case: str, uac: UA, b1: UA, b2: UA, server: Server) -> str:
    return (f"INVITE sip:x@{server.host}:{server.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{uac.port};branch=z9hG4bK-{case}-{server.name};rport\r\n"
            f"From: <sip:a@example.test>;tag=a-{case}\r\nTo: <sip:x@example.test>\r\n"
            f"Call-ID: tmx-{case}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:a@127.0.0.1:{uac.port}>\r\n"
            f"X-Case: {case}\r\nX-B1: 127.0.0.1:{b1.port}\r\nX-B2: 127.0.0.1:{b2.port}\r\n"
            "Content-Length: 0\r\n\r\n")


def forked_call(case: str, server: Server, uac: UA, b1: UA, b2: UA) -> list[str]:
    """b2 rings, b1 answers 183 (onreply_route cancels per the case), then both fail: what the
    user agents see."""
    seen: list[str] = []
    uac.send(invite(case, uac, b1, b2, server), server.addr)
    inv1, inv2 = b1.recv(), b2.recv()
    b2.send(reply_to(inv2, 180, "Ringing", "t2"), server.addr)
    seen.append("uac " + header(uac.recv(), "X-T"))
    b1.send(reply_to(inv1, 183, "Session Progress", "t1"), server.addr)
    seen.append("uac " + header(uac.recv(), "X-T"))
    for name, ua in (("b2", b2), ("b1", b1)):
        cancel = ua.poll(0.3)
        seen.append(f"{name} " + (cancel.split(" ")[0] + " " + header(cancel, "Call-ID") if cancel else "-"))
        if cancel:
            ua.send(reply_to(cancel, 200, "OK", "c"), server.addr)
    for name, ua, inv, tag in (("b2", b2, inv2, "t2"), ("b1", b1, inv1, "t1")):
        ua.send(reply_to(inv, 487, "Request Terminated", tag), server.addr)
        seen.append(f"{name} " + ua.recv().split("\r\n")[0].split(" ")[0])  # the ACK
    final = uac.recv()
    seen.append("uac " + final.split("\r\n")[0] + " " + header(final, "X-F"))
    return seen


def dropped(server: Server, uac: UA, b1: UA, b2: UA) -> list[str]:
    uac.send(invite("drop", uac, b1, b2, server).replace("INVITE", "MESSAGE"), server.addr)
    return [f"uac got {(uac.poll(0.5) or '-').split(chr(13))[0]}"]


def test_tmx_functions_and_variables_as_kamailio(tmp_path: Path, dual_servers: Started) -> None:
    seen: dict[str, dict[str, list[str]]] = {}
    ports = [free_port() for _ in range(3)]
    for server in dual_servers.each(CFG, tmp_path):
        uas = [UA(p) for p in ports]
        try:
            seen[server.name] = {case: forked_call(case, server, *uas) for case in ("others", "this", "all")}
            seen[server.name]["drop"] = dropped(server, *uas)
        finally:
            for ua in uas:
                ua.close()
    differ = differences(seen)
    assert not differ, "\n".join(differ)
    assert "b2 CANCEL tmx-others" in seen["kampy"]["others"] and "b1 -" in seen["kampy"]["others"]
    assert "b1 CANCEL tmx-this" in seen["kampy"]["this"]
