"""A small RTPProxy stand-in for the rtpproxy tests: no RTPProxy is packaged for Debian here, so this
answers the control protocol as RTPProxy's documentation and sources describe it (a command per
UDP datagram `<cookie> <command>` with the reply `<cookie> <result>`, or one command per unix stream
connection without a cookie), keeps the sessions U creates, and records every command. It relays no
media.

Commands: `V` (protocol version 20040107), `VF <version>` (1 for the capabilities listed, 0 else),
`U[mods] <callid> <addr> <port> <from>[;n] [<to>[;n] [<notify>]]` (create/update: a port of its own
for that party and stream), `L[mods] ...` (lookup: the session must exist, else `0`), `D <callid>
<from> [<to>]`, `R`, `P<n>`, `S` (`0`), `Q` (`<ttl> <in> <in> <relayed> <dropped>`); an empty or
unknown command gets `E1`.
"""
from __future__ import annotations

import os
import select
import socket
import threading
from pathlib import Path

CAPABILITIES = {"20040107", "20050322", "20060704", "20071116", "20071218", "20080403", "20081102",
                "20081224", "20090810"}


class Responder:
    def __init__(self, address: str = "127.0.0.1", unix_path: Path | None = None,
                 advertise: str = "127.0.0.1", base_port: int = 35000,
                 capabilities: set[str] | None = None) -> None:
        self.advertise = advertise
        self.capabilities = CAPABILITIES if capabilities is None else capabilities
        self.commands: list[str] = []
        self.sessions: dict[tuple[str, str, str], int] = {}
        self.next_port = base_port
        self.silent = False  # while set, nothing is answered (a dead proxy)
        self._lock = threading.Lock()
        self._stop = False
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if unix_path.exists():
                os.unlink(unix_path)
            self.sock.bind(str(unix_path))
            self.sock.listen(16)
            self.url = f"unix:{unix_path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((address, 0))
            self.url = f"udp:{address}:{self.sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, name="rtpproxy-responder", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the protocol

    def answer(self, command: str) -> str:
        with self._lock:
            self.commands.append(command)
            return self._answer(command)

    def _answer(self, command: str) -> str:
        argv = command.split()
        if not argv:
            return "E1"
        head = argv[0]
        kind = head[0].upper()
        if head.upper() == "V":
            return "20040107"
        if head.upper() == "VF":
            return "1" if len(argv) > 1 and argv[1] in self.capabilities else "0"
        if kind in "UL" and len(argv) >= 5:
            return self._update(kind, head[1:], argv)
        if kind in "DRPS" and len(argv) >= 3:
            if kind == "D":
                for key in [k for k in self.sessions if k[0] == argv[1].split(";")[0]]:
                    del self.sessions[key]
            return "0"
        if kind == "Q" and len(argv) >= 3:
            return "60 0 0 0 0"
        return "E1"

    def _update(self, kind: str, mods: str, argv: list[str]) -> str:
        callid = argv[1].split(";")[0]
        tag, _, medianum = argv[4].partition(";")
        key = (callid, tag, medianum or "1")
        if kind == "L" and not any(k[0] == callid for k in self.sessions):
            return "0"
        if key not in self.sessions:
            self.sessions[key] = self.next_port
            self.next_port += 2
        port = self.sessions[key]
        family = " 6" if "6" in mods else ""
        return f"{port} {self.advertise}{family}"

    # ------------------------------------------------------------------ serving

    def _run(self) -> None:
        while not self._stop:
            readable, _, _ = select.select([self.sock], [], [], 0.1)
            if not readable:
                continue
            if self.sock.type == socket.SOCK_STREAM:
                self._stream()
            else:
                self._datagram()

    def _datagram(self) -> None:
        try:
            data, src = self.sock.recvfrom(65536)
        except OSError:
            return
        cookie, _, command = data.decode("utf-8", "replace").partition(" ")
        reply = self.answer(command.strip())
        if not self.silent:
            self.sock.sendto(f"{cookie} {reply}".encode(), src)

    def _stream(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2)
            try:
                data = conn.recv(65536)
            except OSError:
                return
            reply = self.answer(data.decode("utf-8", "replace").strip())
            if not self.silent:
                conn.sendall(reply.encode())

    def seen(self) -> list[str]:
        """The commands received, version queries left out."""
        with self._lock:
            return [c for c in self.commands if not c.upper().startswith("V")]

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()
