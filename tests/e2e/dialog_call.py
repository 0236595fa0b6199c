"""A call through a record-routing proxy by two tiny UAs on UDP sockets: a callee that rings and
answers each INVITE and answers BYE, a caller that sends INVITE, ACK and BYE through the proxy.

Plain functions (no pytest), for tests/e2e/test_dialog_dmq.py and the capture of tests/data/dialog_dmq."""
from __future__ import annotations

import itertools
import re
import socket
import threading
import time

_seq = itertools.count(1)


def _headers(msg: str, name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{name}:(.*)$", msg, re.I | re.M)]


class Callee:
    """Answers INVITE with 180 then 200 (its tag and Contact, the Record-Route echoed), BYE with 200.

    It rings `delay` seconds after the INVITE came: a proxy replicating its dialogs over DMQ sends
    the dialog when it forwards the INVITE and its early state on the 180, and a node whose DMQ
    workers took the second first would refuse it (dialog not found), as Kamailio's do."""

    def __init__(self, delay: float = 0.1) -> None:
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.byes = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            msg = data.decode(errors="replace")
            method = msg.split(" ", 1)[0]
            if method == "INVITE":
                time.sleep(self.delay)
                for code, reason in ((180, "Ringing"), (200, "OK")):
                    self.sock.sendto(self._reply(msg, code, reason, record_route=True), addr)
            elif method == "BYE":
                self.byes += 1
                self.sock.sendto(self._reply(msg, 200, "OK"), addr)

    def _reply(self, msg: str, code: int, reason: str, *, record_route: bool = False) -> bytes:
        lines = [f"SIP/2.0 {code} {reason}"]
        lines += [f"Via: {v}" for v in _headers(msg, "Via")]
        lines += [f"Record-Route: {v}" for v in _headers(msg, "Record-Route")] if record_route else []
        to = _headers(msg, "To")[0]
        lines += [f"From: {_headers(msg, 'From')[0]}", f"To: {to}" + ("" if "tag=" in to else ";tag=callee1"),
                  f"Call-ID: {_headers(msg, 'Call-ID')[0]}", f"CSeq: {_headers(msg, 'CSeq')[0]}",
                  f"Contact: <sip:callee@127.0.0.1:{self.port}>", "Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    def stop(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Caller:
    """One call from sip:alice@example.test to `user` at the callee, through the proxy at `port`."""

    def __init__(self, proxy_port: int, callee: Callee, user: str) -> None:
        self.proxy = ("127.0.0.1", proxy_port)
        self.callee = callee
        self.user = user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.callid = f"dlgdmq-{next(_seq)}-{time.time_ns()}@test"
        self.to_tag = ""
        self.routes: list[str] = []
        self.cseq = 1

    def _send(self, method: str, uri: str, *, to_tag: str = "", routes: list[str] | None = None,
              cseq: int | None = None) -> str:
        branch = f"z9hG4bK-{method.lower()}-{next(_seq)}-{time.time_ns()}"
        lines = [f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
                 "Max-Forwards: 70", "From: <sip:alice@example.test>;tag=caller1",
                 f"To: <sip:{self.user}@example.test>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {self.callid}", f"CSeq: {cseq or self.cseq} {method}",
                 f"Contact: <sip:alice@127.0.0.1:{self.port}>"]
        lines += [f"Route: {r}" for r in routes or []]
        self.sock.sendto("\r\n".join([*lines, "Content-Length: 0", "", ""]).encode(), self.proxy)
        return branch

    def _final(self, method: str) -> int:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            data = self.sock.recv(65535).decode(errors="replace")
            code = int(data.split(" ", 2)[1]) if data.startswith("SIP/2.0 ") else 0
            if code >= 200 and _headers(data, "CSeq")[0].endswith(method):
                if code < 300 and method == "INVITE":
                    self.to_tag = re.search(r";tag=([^;>\s]+)", _headers(data, "To")[0]).group(1)  # type: ignore[union-attr]
                    self.routes = list(reversed(_headers(data, "Record-Route")))
                return code
        return 0

    def invite(self) -> int:
        """INVITE, then ACK for a 2xx: the final reply's code."""
        self._send("INVITE", f"sip:{self.user}@127.0.0.1:{self.callee.port}")
        code = self._final("INVITE")
        if 200 <= code < 300:
            self._send("ACK", f"sip:callee@127.0.0.1:{self.callee.port}", to_tag=self.to_tag,
                       routes=self.routes, cseq=1)
        return code

    def bye(self) -> int:
        self.cseq += 1
        self._send("BYE", f"sip:callee@127.0.0.1:{self.callee.port}", to_tag=self.to_tag, routes=self.routes)
        return self._final("BYE")

    def close(self) -> None:
        self.sock.close()
