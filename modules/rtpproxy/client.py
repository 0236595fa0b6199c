"""Talking to RTPProxy (send_rtpp_command, rtpp_test): its text control protocol over a unix stream
socket (one connection per command, no cookie) or UDP (`<pid>_<counter> <command>`, sent up to
rtpproxy_retr times, each time waiting rtpproxy_tout seconds for the reply with the cookie). A proxy
that does not answer is disabled for rtpproxy_disable_tout seconds."""
from __future__ import annotations

import logging
import os
import select
import socket
from collections.abc import Callable

from .nodes import RECHECK_MAX, Node, Registry

log = logging.getLogger("kampy.rtpproxy")

CPORT = "22222"
SUP_CPROTOVER = 20040107
REQ_CPROTOVER = "20050322"
REP_CPROTOVER = "20071116"
PTL_CPROTOVER = "20081102"
BUFFER = 256


class Client:
    def __init__(self, registry: Registry, retr: int, tout: int, disable_tout: int,
                 now: Callable[[], int]) -> None:
        self.registry = registry
        self.retr = retr
        self.tout = tout
        self.disable_tout = disable_tout
        self.now = now
        self.pid = os.getpid()
        self.seq = 0
        self._socks: dict[int, socket.socket] = {}

    def close(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()

    def _cookie(self) -> bytes:
        if self.pid != os.getpid():
            self.pid, self.seq = os.getpid(), 0
            self.close()
        value = f"{self.pid}_{self.seq} ".encode()
        self.seq += 1
        return value

    def send(self, node: Node, command: str) -> str | None:
        """The reply (after the cookie), or None when the proxy does not answer (it is disabled)."""
        data = command.encode("utf-8", "surrogateescape")
        try:
            reply = self._unix(node, data) if node.mode == "unix" else self._udp(node, data)
        except OSError as exc:
            log.error("can't send command to a RTP proxy: %s", exc)
            reply = None
        if reply is None:
            log.error("proxy <%s> does not respond, disable it", node.url)
            node.disabled, node.recheck = True, self.now() + self.disable_tout
            self._store(node)
            return None
        return reply.decode("utf-8", "surrogateescape")

    def _store(self, node: Node) -> None:
        with self.registry.table.transaction():
            current = self.registry.node(node.idx)
            if current is not None:
                current.disabled, current.recheck = node.disabled, node.recheck
                self.registry.put(current)

    def _unix(self, node: Node, data: bytes) -> bytes | None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(node.address)
            except OSError:
                log.error("can't connect to RTP proxy")
                return None
            sock.sendall(data)
            reply = sock.recv(BUFFER - 1)
        if not reply:
            log.error("can't read reply from a RTP proxy")
            return None
        return reply

    def _udp(self, node: Node, data: bytes) -> bytes | None:
        sock = self._socket(node)
        if sock is None:
            return None
        while select.select([sock], [], [], 0)[0]:
            try:
                sock.recv(BUFFER - 1)
            except OSError:
                break
        cookie = self._cookie()
        head = cookie[:-1]
        for _ in range(max(self.retr, 0)):
            try:
                sock.send(cookie + data)
            except OSError:
                log.error("can't send command to a RTP proxy")
                return None
            while select.select([sock], [], [], self.tout)[0]:
                try:
                    reply = sock.recv(BUFFER - 1)
                except OSError:
                    log.error("can't read reply from a RTP proxy")
                    return None
                if len(reply) >= len(head) and reply[:len(head)] == head:
                    rest = reply[len(head):]
                    return rest[1:] if rest else rest
        log.error("timeout waiting reply from a RTP proxy")
        return None

    def _socket(self, node: Node) -> socket.socket | None:
        sock = self._socks.get(node.idx)
        if sock is not None:
            return sock
        host, sep, port = node.address.rpartition(":")
        if not sep or not port:
            host, port = node.address, CPORT
        family = socket.AF_INET6 if node.mode == "udp6" else socket.AF_INET
        try:
            info = socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_DGRAM)
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.connect(info[0][4])
        except OSError as exc:
            log.error("can't connect to a RTP proxy: %s", exc)
            return None
        self._socks[node.idx] = sock
        return sock

    # ------------------------------------------------------------------ testing

    def _capability(self, node: Node, version: str) -> int:
        reply = self.send(node, "VF " + version)
        if reply is None:
            return -1
        if reply.startswith("E") or _atoi(reply) != 1:
            return 0
        return 1

    def test(self, node: Node, isdisabled: bool, force: bool) -> bool:
        """rtpp_test: whether the node is (still) disabled; asks its version when due or forced."""
        if node.recheck == RECHECK_MAX:
            return True
        if not force:
            if not isdisabled:
                return False
            if node.recheck > self.now():
                return True
        reply = self.send(node, "V")
        ok = False
        if reply is None:
            log.warning("can't get version of the RTP proxy")
        elif _atoi(reply) != SUP_CPROTOVER:
            log.warning("unsupported version of RTP proxy <%s> found: %d supported,%d present",
                        node.url, SUP_CPROTOVER, _atoi(reply))
        else:
            required = self._capability(node, REQ_CPROTOVER)
            if required == -1:
                log.warning("RTP proxy went down during version query")
            elif required == 0:
                log.warning("of RTP proxy <%s> doesn't support required protocol version%s", node.url,
                            REQ_CPROTOVER)
            else:
                ok = True
        if not ok:
            log.warning("support for RTP proxy <%s> has been disabled%s", node.url,
                        "" if self.disable_tout < 0 else " temporarily")
            if self.disable_tout >= 0:
                node.recheck = self.now() + self.disable_tout
            node.disabled = True
            self._store(node)
            return True
        log.info("rtp proxy <%s> found, support for it %senabled", node.url, "" if force else "re-")
        rep = self._capability(node, REP_CPROTOVER)
        ptl = self._capability(node, PTL_CPROTOVER)
        with self.registry.table.transaction():
            current = self.registry.node(node.idx) or node
            current.rep_supported, current.ptl_supported = rep == 1, ptl == 1
            current.disabled = False
            self.registry.put(current)
        node.rep_supported, node.ptl_supported, node.disabled = rep == 1, ptl == 1, False
        return False


def _atoi(text: str) -> int:
    digits = ""
    for ch in text.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0
