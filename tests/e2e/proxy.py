"""The proxy of configs/proxy.cfg run by Kamailio 5.6 or by kampy, and tiny SIP user agents for it.

Plain functions and classes (no pytest), so bench/ can use them too. Both servers get the config
unchanged, with `-A LISTEN=udp:127.0.0.1:PORT`; each runs in a process group of its own, stopped
with everything it forked (kampy_process.stop_process).
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.kampy_process import CONFIGS, REPO, free_port, kampy_command, start_server, stop_process, track

log = logging.getLogger(__name__)

PROXY_CFG = CONFIGS / "proxy.cfg"
DOMAIN = "example.test"
FR_TIMER_MS = 2000  # proxy.cfg's default fr_timer
TARGETS = ("kamailio", "kampy-1", "kampy-4")

_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}x{os.getpid()}"


# --------------------------------------------------------------------------- servers

class NotAvailable(Exception):
    """The server cannot run the proxy config here (not installed, modules missing)."""


@dataclass
class Proxy:
    """A running proxy: `name` is one of TARGETS."""

    name: str
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    pid_file: Path | None = None
    stopped: bool = False

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        code = stop_process(self.proc, timeout=timeout)
        self.stopped = True
        return code


def start_proxy(target: str, directory: Path, *, cfg: Path = PROXY_CFG, defines: Sequence[str] = (),
                host: str = "127.0.0.1", ready_timeout: float = 30) -> Proxy:
    """Start `target` ("kamailio" with 4 workers, "kamailio-N", "kampy-N" with N workers) on a free UDP
    port; wait until it answers."""
    port = free_port(host)
    defs = [a for d in (f"LISTEN=udp:{host}:{port}", *defines) for a in ("-A", d)]
    log_path = directory / f"{target}-{port}.log"
    pid_file = None
    if target == "kamailio" or target.startswith("kamailio-"):
        children = target.partition("-")[2] or "4"
        kamailio = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists()
                                                else None)
        if kamailio is None:
            raise NotAvailable("kamailio is not installed")
        run_dir = directory / f"kamailio-{port}"
        run_dir.mkdir(exist_ok=True)
        pid_file = run_dir / "kamailio.pid"
        # -m 512: bench/stateful.py's REGISTER climb leaves ~75,000 bindings, which exhaust a 64 MB
        # shared memory pool ("could not allocate shared memory") and make the MESSAGEs after it fail.
        cmd = [kamailio, "-f", str(cfg), "-E", "-DD", "-n", children, "-Y", str(run_dir), "-P", str(pid_file),
               "-m", "512", "-M", "8", *defs]
    elif target.startswith("kampy-"):
        cmd = kampy_command(cfg, "-n", target.split("-", 1)[1], *defs)
    else:
        raise ValueError(f"unknown target {target!r}")
    with open(log_path, "wb") as out:
        proc = start_server(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    proxy = track(Proxy(target, proc, host, port, log_path, pid_file))
    try:
        _wait_answering(proxy, ready_timeout)
    except BaseException:
        proxy.stop()
        raise
    return proxy


def _wait_answering(proxy: Proxy, timeout: float) -> None:
    """Ready when an OPTIONS to the proxy itself gets any reply (proxy.cfg answers it 404)."""
    ua = UA("probe", proxy.addr)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proxy.proc.poll() is not None:
                text = proxy.output()
                if "not implemented in kampy yet" in text:
                    raise NotAvailable(f"{proxy.name}: " + "; ".join(
                        sorted(set(re.findall(r"function \w+ of module \w+ is not implemented", text)))))
                raise RuntimeError(f"{proxy.name} exited with {proxy.proc.returncode}:\n{text[-4000:]}")
            ua.send_request("OPTIONS", f"sip:ping@{DOMAIN}")
            if ua.recv(0.2) is not None:
                return
        raise RuntimeError(f"{proxy.name} does not answer after {timeout}s:\n{proxy.output()[-4000:]}")
    finally:
        ua.close()


# --------------------------------------------------------------------------- messages

_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}


@dataclass
class Msg:
    """A received (or built) SIP message, parsed just enough for the tests."""

    first: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    src: tuple[str, int] = ("", 0)

    @classmethod
    def parse(cls, data: bytes, src: tuple[str, int] = ("", 0)) -> Msg:
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers.append((_COMPACT.get(name, name), value.strip()))
        return cls(lines[0], headers, body, data, src)

    @property
    def is_request(self) -> bool:
        return not self.first.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        return self.first.split(" ", 1)[0] if self.is_request else self.cseq[1]

    @property
    def ruri(self) -> str:
        return self.first.split(" ")[1]

    @property
    def status(self) -> int:
        return 0 if self.is_request else int(self.first.split(" ")[1])

    @property
    def reason(self) -> str:
        return self.first.split(" ", 2)[2] if not self.is_request else ""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for n, v in self.headers if n == name), None)

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    @property
    def call_id(self) -> str:
        return self.header("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        num, _, method = (self.header("cseq") or "0 ?").partition(" ")
        return int(num), method.strip()

    @property
    def branch(self) -> str:
        m = re.search(r";\s*branch=([^;,\s]+)", self.header("via") or "")
        return m.group(1) if m else ""

    @property
    def to_tag(self) -> str | None:
        m = re.search(r";\s*tag=([^;>\s]+)", self.header("to") or "")
        return m.group(1) if m else None

    def __str__(self) -> str:
        return self.raw.decode(errors="replace")


# --------------------------------------------------------------------------- user agents

@dataclass
class Dialog:
    """What a caller keeps of a request it sent: enough to retransmit, CANCEL, ACK and BYE."""

    method: str
    ruri: str
    to: str
    call_id: str
    cseq: int
    branch: str
    data: bytes
    from_tag: str
    to_tag: str | None = None
    remote_contact: str | None = None


class UA:
    """A tiny SIP user agent on its own UDP socket on 127.0.0.1; everything goes through `proxy`."""

    def __init__(self, user: str, proxy: tuple[str, int], domain: str = DOMAIN) -> None:
        self.user = user
        self.proxy = proxy
        self.domain = domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = self.sock.getsockname()[:2]
        self.aor = f"sip:{user}@{domain}"
        self.contact = f"sip:{user}@{self.addr[0]}:{self.addr[1]}"
        self.tag = f"tag-{user}"
        self.seen: list[Msg] = []  # everything received, in order

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes, dest: tuple[str, int] | None = None) -> None:
        self.sock.sendto(data, dest or self.proxy)

    # -- requests --
    def build(self, method: str, ruri: str, *, to: str | None = None, call_id: str | None = None,
              cseq: int = 1, branch: str | None = None, to_tag: str | None = None, body: bytes = b"",
              content_type: str | None = None, extra: Sequence[str] = ()) -> Dialog:
        to = to or ruri
        call_id = call_id or unique(f"{self.user}-call-")
        branch = branch or "z9hG4bK" + unique("b")
        host, port = self.addr
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {host}:{port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <{self.aor}>;tag={self.tag}",
                 f"To: <{to}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {call_id}",
                 f"CSeq: {cseq} {method}",
                 f"Contact: <{self.contact}>",
                 *extra]
        if body:
            lines.append(f"Content-Type: {content_type or 'text/plain'}")
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        return Dialog(method, ruri, to, call_id, cseq, branch, data, self.tag, to_tag)

    def send_request(self, method: str, ruri: str, **kw: object) -> Dialog:
        d = self.build(method, ruri, **kw)  # type: ignore[arg-type]
        self.send(d.data)
        return d

    def register(self, expires: int = 120, timeout: float = 5) -> Msg:
        d = self.send_request("REGISTER", f"sip:{self.domain}", to=self.aor, extra=(f"Expires: {expires}",))
        return self.final_reply(d, timeout)

    def message(self, to: UA | str, text: bytes = b"hello", **kw: object) -> Dialog:
        aor = to.aor if isinstance(to, UA) else to
        return self.send_request("MESSAGE", aor, body=text, **kw)  # type: ignore[arg-type]

    def invite(self, to: UA | str) -> Dialog:
        aor = to.aor if isinstance(to, UA) else to
        sdp = (f"v=0\r\no=- 1 1 IN IP4 {self.addr[0]}\r\ns=-\r\nc=IN IP4 {self.addr[0]}\r\nt=0 0\r\n"
               f"m=audio {self.addr[1] + 2} RTP/AVP 0\r\n").encode()
        return self.send_request("INVITE", aor, body=sdp, content_type="application/sdp")

    def cancel(self, d: Dialog) -> Dialog:
        """CANCEL of `d` (RFC 3261 9.1: same R-URI, Call-ID, From, To, CSeq number, and branch)."""
        c = self.build("CANCEL", d.ruri, to=d.to, call_id=d.call_id, cseq=d.cseq, branch=d.branch)
        self.send(c.data)
        return c

    def ack(self, d: Dialog, reply: Msg) -> None:
        """ACK for a final reply to INVITE `d`: a 2xx gets a new transaction to the remote Contact
        (through the proxy), a non-2xx the INVITE's branch and R-URI (RFC 3261 17.1.1.3)."""
        if 200 <= reply.status < 300:
            contact = _uri_of(reply.header("contact") or "") or d.ruri
            d.to_tag, d.remote_contact = reply.to_tag, contact
            a = self.build("ACK", contact, to=d.to, call_id=d.call_id, cseq=d.cseq, to_tag=reply.to_tag)
        else:
            a = self.build("ACK", d.ruri, to=d.to, call_id=d.call_id, cseq=d.cseq, branch=d.branch,
                           to_tag=reply.to_tag)
        self.send(a.data)

    def bye(self, d: Dialog) -> Dialog:
        assert d.remote_contact is not None, "ACK the 200 first"
        return self.send_request("BYE", d.remote_contact, to=d.to, call_id=d.call_id, cseq=d.cseq + 1,
                                 to_tag=d.to_tag)

    # -- receiving --
    def recv(self, timeout: float = 5) -> Msg | None:
        self.sock.settimeout(timeout)
        try:
            data, src = self.sock.recvfrom(70000)
        except TimeoutError:
            return None
        msg = Msg.parse(data, src[:2])
        self.seen.append(msg)
        return msg

    def wait_for(self, accept: Callable[[Msg], bool], timeout: float = 5, what: str = "a message") -> Msg:
        deadline = time.monotonic() + timeout
        skipped: list[str] = []
        while True:
            left = deadline - time.monotonic()
            msg = self.recv(left) if left > 0 else None
            if msg is None:
                raise AssertionError(f"{self.user}: no {what} within {timeout}s; got instead: {skipped}")
            if accept(msg):
                return msg
            skipped.append(msg.first)

    def wait_request(self, method: str, timeout: float = 5) -> Msg:
        return self.wait_for(lambda m: m.is_request and m.method == method, timeout, f"{method} request")

    def final_reply(self, d: Dialog, timeout: float = 5, method: str | None = None) -> Msg:
        method = method or d.method
        return self.wait_for(lambda m: (not m.is_request and m.call_id == d.call_id and m.status >= 200
                                        and m.cseq == (d.cseq, method)), timeout, f"final reply to {method}")

    def reply_status(self, d: Dialog, status: int, timeout: float = 5) -> Msg:
        return self.wait_for(lambda m: not m.is_request and m.call_id == d.call_id and m.status == status,
                             timeout, f"{status} reply to {d.method}")

    def no_more(self, accept: Callable[[Msg], bool], within: float) -> list[Msg]:
        """Everything `accept`ed that arrives within `within` seconds (expected: nothing)."""
        got = []
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(left)
            if msg is not None and accept(msg):
                got.append(msg)
        return got

    def respond(self, req: Msg, status: int, reason: str, *, to_tag: str | None = "callee",
                contact: bool = False, body: bytes = b"", extra: Sequence[str] = ()) -> None:
        """Answer `req` back to where it came from (the proxy), RFC 3261 8.2.6."""
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {v}" for v in req.all("via")]
        lines.append(f"From: {req.header('from')}")
        to = req.header("to") or ""
        if to_tag and status > 100 and ";tag=" not in to.replace(" ", ""):
            to += f";tag={to_tag}"
        lines += [f"To: {to}", f"Call-ID: {req.call_id}", f"CSeq: {req.header('cseq')}"]
        if contact:
            lines.append(f"Contact: <{self.contact}>")
        lines += extra
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, req.src)


def _uri_of(value: str) -> str | None:
    m = re.search(r"<([^>]+)>", value)
    if m:
        return m.group(1)
    return value.split(";", 1)[0].strip() or None


@dataclass
class Pair:
    """A caller and a callee, both registered with the proxy."""

    caller: UA
    callee: UA
    others: list[UA] = field(default_factory=list)

    def close(self) -> None:
        for ua in (self.caller, self.callee, *self.others):
            ua.close()


def registered_pair(proxy: tuple[str, int]) -> Pair:
    caller, callee = UA(unique("alice"), proxy), UA(unique("bob"), proxy)
    for ua in (caller, callee):
        reply = ua.register()
        assert reply.status == 200, f"REGISTER of {ua.aor}: {reply}"
    return Pair(caller, callee)
