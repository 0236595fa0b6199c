"""Local channels between the workers of one server: handoffs and replies on another's TCP connection.

Each worker has one channel, a unix datagram socket pair created by the first process before it
forks: every process holds the sending end of every channel, worker *r* alone reads the receiving
end of channel *r*. Two kinds of packets travel on them:

* **message** (`Handoff`): bytes another worker received for a transaction this worker owns, with
  their `Source`; the owner handles them with `server.handle(data, src, handed_off=True)`.
* **send** (`Outgoing`): bytes to write on a TCP connection this worker owns (a connection's
  owner is encoded in its id, see `conn_owner`), e.g. the reply to a request that came over TCP
  to one worker and was handed over to another.
* **call** (a `Handoff` with `call` set, `CoreAPI.call_worker`): a module's work for this worker,
  the handler's name as the only header field, its data as is (tm's t_continue() of a
  transaction this worker owns).

The encoding is explicit and small (no pickle): one kind byte, a 2-byte header length, the header
(ASCII fields separated by NUL: proto, host, port, conn_id, local proto, local host, local port,
local advertised host, local advertised port, send flags; an absent value is empty), then the SIP
bytes as is.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kampy.runtime.context import Handoff, Outgoing, Socket, Source

log = logging.getLogger("kampy.net.channel")

MESSAGE = b"M"
SEND = b"S"
CALL = b"C"
_HEAD = struct.Struct("!cH")
_BUFFER = 4 << 20        # socket buffer of a channel: many SIP messages before a sender would wait
_MAX_QUEUED = 10_000     # packets queued for a worker that does not read; beyond that they are dropped

# TCP connection ids carry the rank of the worker that owns the connection in their high bits.
# Kamailio's connection ids are ints and usrloc stores them in location.connection_id (INT(11)):
# rank << 24 keeps them below 2^31 for up to 127 workers, 16M connections each before wrapping
CONN_RANK_SHIFT = 24
CONN_LOCAL_MASK = (1 << CONN_RANK_SHIFT) - 1


def conn_id_base(rank: int) -> int:
    """The first connection id of worker `rank`."""
    return rank << CONN_RANK_SHIFT | 1


def conn_owner(conn_id: int) -> int:
    """The rank of the worker that owns TCP connection `conn_id`."""
    return conn_id >> CONN_RANK_SHIFT


def _text(value: object) -> bytes:
    return b"" if value is None else str(value).encode()


def _num(field: bytes) -> int | None:
    return int(field) if field else None


def _encode(kind: bytes, proto: str, host: str, port: int, conn_id: int | None, local: Socket | None,
            data: bytes, send_flags: int = 0) -> bytes:
    fields = [proto.encode(), host.encode(), _text(port), _text(conn_id)]
    if local is None:
        fields += [b"", b"", b"", b"", b""]
    else:
        fields += [local.proto.encode(), local.host.encode(), _text(local.port),
                   _text(local.advertise_host), _text(local.advertise_port)]
    fields.append(_text(send_flags or None))
    head = b"\0".join(fields)
    return _HEAD.pack(kind, len(head)) + head + data


def encode_handoff(handoff: Handoff) -> bytes:
    src = handoff.src
    return _encode(MESSAGE, src.proto, src.ip, src.port, src.conn_id, src.local, handoff.data)


def encode_call(handoff: Handoff) -> bytes:
    head = (handoff.call or "").encode()
    return _HEAD.pack(CALL, len(head)) + head + handoff.data


def encode_send(out: Outgoing) -> bytes:
    return _encode(SEND, out.proto, out.host, out.port, out.conn_id, out.local, out.data, out.send_flags)


@dataclass(frozen=True)
class Packet:
    kind: bytes
    proto: str
    host: str
    port: int
    conn_id: int | None
    local: Socket | None
    data: bytes
    send_flags: int = 0

    def source(self) -> Source:
        assert self.local is not None, "a handed-off message always has its local socket"
        return Source(self.proto, self.host, self.port, self.local, self.conn_id)

    def outgoing(self) -> Outgoing:
        return Outgoing(self.proto, self.host, self.port, self.data, self.local, self.conn_id,
                        self.send_flags)


def decode(packet: bytes) -> Packet:
    """Raises ValueError for a packet that is not one of ours."""
    if len(packet) < _HEAD.size:
        raise ValueError("short channel packet")
    kind, size = _HEAD.unpack_from(packet)
    if kind not in (MESSAGE, SEND, CALL):
        raise ValueError(f"unknown channel packet kind {kind!r}")
    end = _HEAD.size + size
    if kind == CALL:
        return Packet(kind, packet[_HEAD.size:end].decode(), "", 0, None, None, packet[end:])
    fields = packet[_HEAD.size:end].split(b"\0")
    if len(fields) != 10:
        raise ValueError("bad channel packet header")
    proto, host, port, conn_id, lproto, lhost, lport, ahost, aport, flags = fields
    local = None
    if lproto:
        local = Socket(lproto.decode(), lhost.decode(), int(lport), ahost.decode() or None, _num(aport))
    return Packet(kind, proto.decode(), host.decode(), int(port), _num(conn_id), local, packet[end:],
                  _num(flags) or 0)


def _pair() -> tuple[socket.socket, socket.socket]:
    send, recv = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for sock, opt in ((send, socket.SO_SNDBUF), (recv, socket.SO_RCVBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, _BUFFER)
        except OSError:  # capped by the system: the default works, with less room
            pass
        sock.setblocking(False)
    return send, recv


class Channels:
    """The channels of every worker (ranks 1..workers), created before fork."""

    def __init__(self, workers: int) -> None:
        self._pairs = {rank: _pair() for rank in range(1, workers + 1)}
        self.rank: int | None = None
        self._queues: dict[int, deque[bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def ranks(self) -> list[int]:
        return list(self._pairs)

    def attach(self, rank: int) -> None:
        """In worker `rank` after fork: keep the sending ends and its own receiving end."""
        self.rank = rank
        for other, (_, recv) in self._pairs.items():
            if other != rank:
                recv.close()

    def close(self) -> None:
        if self._loop is not None and self.rank is not None:
            self._loop.remove_reader(self._pairs[self.rank][1].fileno())
            for rank in self._queues:
                self._loop.remove_writer(self._pairs[rank][0].fileno())
        for send, recv in self._pairs.values():
            send.close()
            recv.close()

    # -- receiving --
    def start(self, on_packet: Callable[[Packet], None]) -> None:
        """Read this worker's channel in the running event loop."""
        assert self.rank is not None
        self._loop = asyncio.get_running_loop()
        recv = self._pairs[self.rank][1]

        def readable() -> None:
            for _ in range(256):  # let the sockets have their turn too
                try:
                    packet = recv.recv(1 << 17)
                except (BlockingIOError, InterruptedError):
                    return
                try:
                    decoded = decode(packet)
                except (ValueError, UnicodeDecodeError) as exc:
                    log.error("worker %d: bad packet on its channel dropped: %s", self.rank, exc)
                    continue
                try:
                    on_packet(decoded)
                except Exception:
                    log.exception("worker %d: error handling a packet from another worker", self.rank)

        self._loop.add_reader(recv.fileno(), readable)

    # -- sending --
    def send(self, rank: int, packet: bytes) -> bool:
        """Send to worker `rank`'s channel; False if there is no such worker."""
        pair = self._pairs.get(rank)
        if pair is None:
            return False
        queue = self._queues.get(rank)
        if queue:
            self._enqueue(rank, queue, packet)
            return True
        try:
            pair[0].send(packet)
        except (BlockingIOError, InterruptedError):
            self._enqueue(rank, self._queues.setdefault(rank, deque()), packet)
        return True

    def _enqueue(self, rank: int, queue: deque[bytes], packet: bytes) -> None:
        if len(queue) >= _MAX_QUEUED:
            log.warning("worker %d does not read its channel; dropping a packet for it", rank)
            return
        queue.append(packet)
        if len(queue) == 1 and self._loop is not None:
            self._loop.add_writer(self._pairs[rank][0].fileno(), self._flush, rank)

    def _flush(self, rank: int) -> None:
        sock = self._pairs[rank][0]
        queue = self._queues[rank]
        while queue:
            try:
                sock.send(queue[0])
            except (BlockingIOError, InterruptedError):
                return
            queue.popleft()
        assert self._loop is not None
        self._loop.remove_writer(sock.fileno())
