"""Kamailio's send flags on TCP (Outgoing.send_flags): SND_F_FORCE_CON_REUSE sends only on an open
connection, SND_F_CON_CLOSE closes the connection once the bytes are written (no bytes: just
closes it); the flags travel with a send handed to the worker that owns the connection."""
from __future__ import annotations

import asyncio

from kampy.net.channel import decode, encode_send
from kampy.net.tcp import TCPManager
from kampy.runtime.context import SND_F_CON_CLOSE, SND_F_FORCE_CON_REUSE, Outgoing, Socket
from kampy.runtime.params import NetParams

DATA = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"


async def _peer_and_manager() -> tuple[TCPManager, asyncio.StreamReader, asyncio.StreamWriter, int]:
    """A manager with one accepted connection from a peer; returns it, the peer's streams, conn id."""
    manager = TCPManager(NetParams(), handle=lambda *_: [], deliver=lambda _outs: None, after=lambda: None,
                         sockets=[])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(manager.accepted(Socket("tcp", "127.0.0.1", 0)), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(100):
        if manager.by_id:
            break
        await asyncio.sleep(0.01)
    (conn_id,) = manager.by_id
    return manager, reader, writer, conn_id


def _out(manager: TCPManager, conn_id: int, data: bytes, flags: int) -> Outgoing:
    peer = manager.by_id[conn_id].peer
    return Outgoing("tcp", peer[0], peer[1], data, None, conn_id, flags)


def test_close_flag_writes_the_reply_then_closes_the_connection() -> None:
    async def run() -> tuple[bytes, bool]:
        manager, reader, writer, conn_id = await _peer_and_manager()
        manager.send(_out(manager, conn_id, DATA, SND_F_CON_CLOSE))
        got = await asyncio.wait_for(reader.read(), 5)  # read() returns at EOF
        writer.close()
        return got, conn_id in manager.by_id
    got, still_open = asyncio.run(run())
    assert got == DATA and not still_open


def test_close_flag_without_bytes_just_closes_the_connection() -> None:
    async def run() -> bytes:
        manager, reader, writer, conn_id = await _peer_and_manager()
        manager.send(_out(manager, conn_id, b"", SND_F_FORCE_CON_REUSE | SND_F_CON_CLOSE))
        got = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return got
    assert asyncio.run(run()) == b""


def test_without_flags_the_connection_stays_open() -> None:
    async def run() -> bool:
        manager, reader, writer, conn_id = await _peer_and_manager()
        manager.send(_out(manager, conn_id, DATA, 0))
        assert await asyncio.wait_for(reader.readexactly(len(DATA)), 5) == DATA
        await asyncio.sleep(0.05)
        writer.close()
        return conn_id in manager.by_id
    assert asyncio.run(run())


def test_force_reuse_never_opens_a_connection() -> None:
    async def run() -> dict:
        manager = TCPManager(NetParams(), handle=lambda *_: [], deliver=lambda _outs: None,
                             after=lambda: None, sockets=[])
        manager.send(Outgoing("tcp", "127.0.0.1", 9, DATA, send_flags=SND_F_FORCE_CON_REUSE))
        await asyncio.sleep(0.01)
        return dict(manager.by_addr)
    assert asyncio.run(run()) == {}


def test_send_flags_travel_over_a_workers_channel() -> None:
    out = Outgoing("tcp", "127.0.0.1", 5070, DATA, Socket("tcp", "127.0.0.1", 5060), (2 << 40) | 7,
                   SND_F_CON_CLOSE)
    assert decode(encode_send(out)).outgoing() == out
    plain = Outgoing("tcp", "127.0.0.1", 5070, DATA, None, 5)
    assert decode(encode_send(plain)).outgoing() == plain
