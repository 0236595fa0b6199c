"""Kamailio's own unit tests (kamailio/kamailio-tests), as kampy's tests: each unit's shape kept.

A unit of that suite writes a config, starts the server with Kamailio's command line
(`kamailio -P PID -w RUN -Y RUN -f CFG -a no -ddd -E 2>&1 | tee LOG &`), sends it a few requests
with sipsak, stops it with `kill $(cat PID)` and greps the log. `UnitServer` does the same with
kampy, in a private network and mount namespace (the configs listen on port 5060 of every
interface, as the units' do), and `sipsak()` sends the requests sipsak sends (the same request
lines and headers) from inside that namespace. The suite itself is never needed: each test
carries its unit's config.
"""
from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
from pathlib import Path

from kampy.testing.digest import authorization, pick
from tests.e2e.kampy_process import REPO, start_server
from tests.e2e.stock.netns import Namespace
from tests.support.kamailio_cli import Daemon, kampy_cmd, wait_until

SIP_PORT = 5060
DEBIAN_CFG = Path("/etc/kamailio/kamailio.cfg")  # installed by Debian's kamailio package


class UnitServer:
    """kampy started as a unit of the suite starts Kamailio, in namespaces of its own."""

    def __init__(self, tmp_path: Path, cfg: str | None, name: str = "unit") -> None:
        """`cfg` None: the unit starts Kamailio without `-f`, on the default config, Debian's
        /etc/kamailio/kamailio.cfg (a copy of it is mounted over /etc/kamailio in the namespace)."""
        self.dir = tmp_path
        etc = tmp_path / "etc"
        etc.mkdir(exist_ok=True)
        self.run_dir = tmp_path / "run"
        self.run_dir.mkdir(exist_ok=True)
        self.cfg: Path | None = None
        if cfg is None:
            shutil.copy(DEBIAN_CFG, etc / "kamailio.cfg")
        else:
            self.cfg = tmp_path / f"kamailio-{name}.cfg"
            self.cfg.write_text(cfg)
        self.log_path = tmp_path / f"kamailio-{name}.log"
        self.pid_file = self.run_dir / "kamailio.pid"
        self.ns = Namespace(tmp_path / "etc")
        self.daemon: Daemon | None = None

    def command(self, options: tuple[str, ...] = ("-a", "no", "-ddd", "-E")) -> list[str]:
        config = ("-f", str(self.cfg)) if self.cfg is not None else ()
        return kampy_cmd("-P", str(self.pid_file), "-w", str(self.run_dir), "-Y", str(self.run_dir),
                         *config, *options)

    def start(self, *options: str) -> None:
        """The unit's start line (its options after -f; `-a no -ddd -E` unless given): returns once
        kampy has daemonized (its output, as tee's, in `log_path`)."""
        with open(self.log_path, "ab") as log:
            proc = start_server([*self.ns.run_prefix(), *self.command(options or ("-a", "no", "-ddd", "-E"))],
                                stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        code = proc.wait(60)
        assert code == 0, f"kampy did not start (exit code {code}):\n{self.log()[-4000:]}"
        assert wait_until(self.pid_file.exists, 10)
        self.daemon = Daemon.from_pid_file(self.pid_file)

    def stop(self) -> None:
        """kill $(cat PID): SIGTERM to the main process; True when all of it is gone."""
        if self.daemon is not None:
            assert self.daemon.stop()
            self.daemon = None

    def close(self) -> None:
        try:
            if self.daemon is not None:
                self.daemon.stop()
        finally:
            self.ns.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rpc(self, *command: str) -> str:
        """`kamctl kamcmd METHOD ...`: kamcmd over the ctl socket in the run directory."""
        done = subprocess.run([*self.ns.run_prefix(), "kamcmd", "-s",
                               f"unix:{self.run_dir}/kamailio_ctl", *command],
                              capture_output=True, text=True, timeout=30, cwd=REPO)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    # ------------------------------------------------------------ sipsak's requests

    def sipsak(self, uri: str, *, message: bool = False, body: str | None = None,
               register_contact: str | None = None, expires: int = 15) -> bytes:
        """What `sipsak -s URI` sends (OPTIONS), with `-M` (MESSAGE, sipsak's text or `-B` body)
        or `-U -C CONTACT` (REGISTER); returns the final reply (b"" when none came)."""
        with contextlib.closing(self.ns.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if register_contact is not None:
                data = register_request(uri, register_contact, port, expires)
            elif message or body is not None:
                data = message_request(uri, port, body)
            else:
                data = options_request(uri, port)
            sock.sendto(data, ("127.0.0.1", SIP_PORT))
            return final_reply(sock)

    def sipsak_auth(self, uri: str, user: str, password: str, from_uri: str) -> bytes:
        """`sipsak -u USER -a PASSWORD -c FROM -s URI`: an OPTIONS from FROM_URI, sent again with
        the Digest credentials answering a 401/407; returns the last final reply."""
        with contextlib.closing(self.ns.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            _, call_id, tag = _common(port)
            sock.sendto(options_request(uri, port, from_uri=from_uri, call_id=call_id, tag=tag),
                        ("127.0.0.1", SIP_PORT))
            reply = final_reply(sock)
            code = status(reply)
            if code not in (401, 407):
                return reply
            name = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
            challenge = pick(header_values(reply, name))
            assert challenge is not None, reply.decode(errors="replace")
            credentials = authorization(challenge, username=user, password=password, method="OPTIONS",
                                        uri=uri)
            header = "Authorization" if code == 401 else "Proxy-Authorization"
            sock.sendto(options_request(uri, port, from_uri=from_uri, call_id=call_id, tag=tag, cseq=2,
                                        extra=f"{header}: {credentials}\r\n"), ("127.0.0.1", SIP_PORT))
            return final_reply(sock)


def _common(port: int) -> tuple[str, str, str]:
    branch = f"z9hG4bK.{random.getrandbits(32):08x}"
    return (f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport;alias",
            f"{random.getrandbits(31)}@127.0.0.1", f"{random.getrandbits(32):08x}")


def options_request(uri: str, port: int, *, from_uri: str | None = None, call_id: str | None = None,
                    tag: str | None = None, cseq: int = 1, extra: str = "") -> bytes:
    via, new_call_id, new_tag = _common(port)
    sender = from_uri or f"sip:sipsak@127.0.0.1:{port}"
    return (f"OPTIONS {uri} SIP/2.0\r\n{via}\r\nFrom: {sender};tag={tag or new_tag}\r\n"
            f"To: {uri}\r\nCall-ID: {call_id or new_call_id}\r\nCSeq: {cseq} OPTIONS\r\n"
            f"Contact: sip:sipsak@127.0.0.1:{port}\r\n{extra}"
            "Content-Length: 0\r\nMax-Forwards: 70\r\nUser-Agent: sipsak 0.9.9-pre\r\n"
            "Accept: text/plain\r\n\r\n").encode()


def header_values(reply: bytes, name: str) -> list[str]:
    """The values of every `name` header of a reply (no compact forms, no folding)."""
    wanted = name.lower() + ":"
    return [line.split(":", 1)[1].strip()
            for line in reply.decode(errors="replace").split("\r\n\r\n", 1)[0].split("\r\n")[1:]
            if line.lower().startswith(wanted)]


def message_request(uri: str, port: int, body: str | None) -> bytes:
    via, call_id, tag = _common(port)
    user = uri.split(":", 1)[1].split("@", 1)[0]
    text = body if body is not None else f"test message from SIPsak for user {user}."
    return (f"MESSAGE {uri} SIP/2.0\r\n{via}\r\nTo: {uri}\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\n"
            "Content-Type: text/plain\r\nMax-Forwards: 70\r\nUser-Agent: sipsak 0.9.9-pre\r\n"
            f"From: sip:sipsak@127.0.0.1:{port};tag={tag}\r\nContent-Length: {len(text.encode())}\r\n\r\n"
            f"{text}").encode()


def register_request(uri: str, contact: str, port: int, expires: int) -> bytes:
    via, call_id, tag = _common(port)
    domain = uri.split("@", 1)[1]
    return (f"REGISTER sip:{domain} SIP/2.0\r\n{via}\r\nFrom: {uri};tag={tag}\r\nTo: {uri}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\nMax-Forwards: 70\r\n"
            f"User-Agent: sipsak 0.9.9-pre\r\nExpires: {expires}\r\nContact: {contact}\r\n\r\n").encode()


def final_reply(sock: socket.socket, timeout: float = 5) -> bytes:
    """The first final reply (a provisional one is skipped), as sipsak waits for it."""
    sock.settimeout(timeout)
    while True:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return b""
        if not data.startswith(b"SIP/2.0 1"):
            return data


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"SIP/2.0 ") else 0
