"""Sending an ng command to one rtpengine instance and reading its reply (send_rtpp_command).

UDP (udp:/udp6:): a connected socket per instance and process; pending datagrams are drained, then
`<cookie> <bencoded command>` is sent up to rtpengine_retr times, each time waiting
rtpengine_tout_ms for a reply starting with the cookie (`<server_id>_<pid>_<counter>`). unix: a
stream connection per command, no cookie. ws:// and wss://: the cookie and command as one WebSocket
message (wsapi "lwsc"). A send or receive error fails at once; None is a failed command."""
from __future__ import annotations

import logging
import os
import select
import socket

from .nodes import Node
from .wsclient import WsConnection, WsError

log = logging.getLogger("kampy.rtpengine")

CPORT = "22222"
NG_PROTOCOL = "ng.rtpengine.com"
BUFFER = 0x40000


class Transport:
    """The control sockets of this process (rebuilt when the node list's version moves)."""

    def __init__(self, server_id: int, tout_ms: int, retr: int, tos: int, force_ip: str | None) -> None:
        self.server_id = server_id
        self.tout_ms = tout_ms
        self.retr = retr
        self.tos = tos
        self.force_ip = force_ip
        self.seq = 0
        self.pid = os.getpid()
        self._socks: dict[int, socket.socket] = {}
        self._ws: dict[str, WsConnection] = {}

    def cookie(self) -> bytes:
        if self.pid != os.getpid():  # a forked worker: cookies of its own
            self.pid, self.seq = os.getpid(), 0
        value = f"{self.server_id}_{self.pid}_{self.seq} ".encode()
        self.seq += 1
        return value

    def close(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()
        for ws in self._ws.values():
            ws.close()
        self._ws.clear()

    # ------------------------------------------------------------------ sending

    def send(self, node: Node, command: bytes, name: str) -> bytes | None:
        mode = node.mode
        try:
            if mode == "unix":
                return self._unix(node, command)
            if mode in ("ws", "wss"):
                return self._websocket(node, command)
            return self._udp(node, command, name)
        except OSError as exc:
            log.error("can't send command \"%s\" to RTPEngine <%s>: %s", name, node.url, exc)
            self._forget(node)
            return None

    def _unix(self, node: Node, command: bytes) -> bytes | None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(node.address)
            except OSError:
                log.error("can't connect to RTPEngine <%s>", node.url)
                return None
            sock.sendall(command)
            data = sock.recv(BUFFER - 1)
        if not data:
            log.error("can't read reply from RTPEngine <%s>", node.url)
            return None
        return data

    def _websocket(self, node: Node, command: bytes) -> bytes | None:
        cookie = self.cookie()
        timeout = self.tout_ms / 1000.0
        try:
            ws = self._ws.get(node.url)
            if ws is None:
                ws = self._ws[node.url] = WsConnection(node.url, NG_PROTOCOL, timeout)
            response = ws.request(cookie + command, timeout)
        except (OSError, WsError) as exc:
            log.error("failed to do websocket request: %s", exc)
            self._forget(node)
            return None
        if len(response) < len(cookie):
            log.error("empty or short websocket response")
            return None
        if response[:len(cookie)] != cookie:
            log.error("mismatched cookie in websocket response")
            return None
        return response[len(cookie):]

    def _udp(self, node: Node, command: bytes, name: str) -> bytes | None:
        sock = self._socket(node)
        if sock is None:
            return None
        while select.select([sock], [], [], 0)[0]:  # drain what earlier commands left
            try:
                sock.recv(BUFFER - 1)
            except OSError:
                break
        cookie = self.cookie()
        head = cookie[:-1]
        timeout = self.tout_ms / 1000.0
        for _ in range(max(self.retr, 0)):
            try:
                sock.send(cookie + command)
            except OSError:
                log.error("can't send command \"%s\" to RTPEngine <%s>", name, node.url)
                return None
            while select.select([sock], [], [], timeout)[0]:
                try:
                    data = sock.recv(BUFFER - 1)
                except OSError:
                    log.error("can't read reply for command \"%s\" from RTPEngine <%s>", name, node.url)
                    return None
                if len(data) >= len(head) and data[:len(head)] == head:
                    rest = data[len(head):]
                    return rest[1:] if rest else rest
        log.error("timeout waiting reply for command \"%s\" from RTPEngine <%s>", name, node.url)
        return None

    def _socket(self, node: Node) -> socket.socket | None:
        sock = self._socks.get(node.idx)
        if sock is not None:
            return sock
        address = node.address
        host, sep, port = address.rpartition(":")
        if not sep or not port:
            host, port = address, CPORT
        family = socket.AF_INET6 if node.mode == "udp6" else socket.AF_INET
        host = host.strip("[]")
        try:
            info = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)
        except OSError as exc:
            log.error("%s", exc)
            return None
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if 0 <= self.tos < 256:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, self.tos)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, self.tos)
            if self.force_ip:
                sock.bind((self.force_ip, 0))
            sock.connect(info[0][4])
        except OSError as exc:
            log.error("can't connect to a RTPEngine instance: %s", exc)
            sock.close()
            return None
        self._socks[node.idx] = sock
        return sock

    def _forget(self, node: Node) -> None:
        ws = self._ws.pop(node.url, None)
        if ws is not None:
            ws.close()

    def rebuild(self) -> None:
        """The node list changed: new sockets on next use."""
        self.close()
