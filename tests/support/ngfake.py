"""A scripted ng peer for the in-process rtpengine tests: it answers each command with the reply the
test gives (by command name, or a function of the command), so that what rtpengine's module does with
replies the real daemon rarely gives (load limit, errors, MOS figures, media durations) can be
tested. Over UDP (`<cookie> <bencoded reply>`) or a unix stream socket (no cookie)."""
from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.rtpengine import bdecode

Reply = Any  # a dict (bencoded), bytes (sent as they are), or None (no answer)


def bencode(value: Any) -> bytes:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    return b"l" + b"".join(bencode(v) for v in value) + b"e"


class NgFake:
    def __init__(self, replies: dict[str, Reply | Callable[[dict], Reply]] | None = None,
                 unix_path: Path | None = None) -> None:
        self.replies: dict[str, Any] = {"ping": {"result": "pong"}, "offer": self._sdp, "answer": self._sdp,
                                        **(replies or {})}
        self.commands: list[dict] = []
        self.cookies: list[bytes] = []
        self.sources: list[str] = []  # the address each UDP command came from
        self.tos: list[int] = []  # the TOS byte of each UDP command
        self._stop = False
        if unix_path is not None:
            if unix_path.exists():
                os.unlink(unix_path)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(unix_path))
            self.sock.listen(8)
            self.url = f"unix:{unix_path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.url = f"udp:127.0.0.1:{self.sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, name="ng-fake", daemon=True)
        self._thread.start()

    @staticmethod
    def _sdp(cmd: dict) -> Reply:
        sdp = cmd.get(b"sdp", b"").replace(b"10.0.0.5", b"192.0.2.100").replace(b"10.0.0.6", b"192.0.2.100")
        return {"result": "ok", "sdp": sdp}

    def _reply(self, data: bytes) -> bytes | None:
        cmd = bdecode(data)
        assert isinstance(cmd, dict)
        self.commands.append(cmd)
        spec = self.replies.get(cmd.get(b"command", b"").decode(), {"result": "ok"})
        reply = spec(cmd) if callable(spec) else spec
        if reply is None:
            return None
        return reply if isinstance(reply, bytes) else bencode(reply)

    def _run(self) -> None:
        while not self._stop:
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            if self.sock.type == socket.SOCK_STREAM:
                conn, _ = self.sock.accept()
                with conn:
                    reply = self._reply(conn.recv(0x40000))
                    if reply is not None:
                        conn.sendall(reply)
                continue
            data, ancillary, _, src = self.sock.recvmsg(0x40000, socket.CMSG_SPACE(4))
            self.tos += [cdata[0] for level, kind, cdata in ancillary
                         if level == socket.IPPROTO_IP and kind == socket.IP_TOS]
            cookie, _, rest = data.partition(b" ")
            self.cookies.append(cookie)
            self.sources.append(src[0])
            reply = self._reply(rest)
            if reply is not None:
                self.sock.sendto(cookie + b" " + reply, src)

    def seen(self) -> list[str]:
        """The commands received, pings left out."""
        return [c[b"command"].decode() for c in self.commands if c.get(b"command") != b"ping"]

    def last(self, command: str) -> dict:
        return [c for c in self.commands if c.get(b"command") == command.encode()][-1]

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()
