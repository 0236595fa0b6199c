"""Outgoing TCP connections that cannot be opened fail cleanly: a log line, no exception left in
an asyncio task, no connection left to write to."""
from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from kampy.net.tcp import TCPManager
from kampy.runtime.context import Outgoing
from kampy.runtime.params import NetParams


async def _connect_to(host: str) -> tuple[TCPManager, list[dict]]:
    loop = asyncio.get_running_loop()
    task_errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: task_errors.append(context))
    manager = TCPManager(NetParams(), handle=lambda *_: [], deliver=lambda _outs: None, after=lambda: None,
                         sockets=[])
    manager.send(Outgoing("tcp", host, 5060, b"OPTIONS sip:x SIP/2.0\r\n\r\n"))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if ("tcp", host, 5060) not in manager.by_addr:
            break
    return manager, task_errors


def test_tcp_connect_to_a_host_name_with_an_empty_label_fails_with_a_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kampy.net.tcp"):
        manager, task_errors = asyncio.run(_connect_to("spindle..example.com"))
    assert task_errors == []
    assert ("tcp", "spindle..example.com", 5060) not in manager.by_addr
    assert any("tcp connect to spindle..example.com:5060 failed" in r.getMessage() for r in caplog.records)


def test_the_log_line_of_an_invalid_host_name_says_so_without_the_codecs_exception(
        caplog: pytest.LogCaptureFixture) -> None:
    # the fuzz harness counts a line naming an exception as an internal error
    with caplog.at_level(logging.WARNING, logger="kampy.net.tcp"):
        asyncio.run(_connect_to("spindle..example.com"))
    lines = [r.getMessage() for r in caplog.records if "spindle" in r.getMessage()]
    assert lines == ["tcp connect to spindle..example.com:5060 failed: not a valid host name "
                     "(an empty or too long label)"]


def test_tcp_connect_timeout_gives_up_a_connect_that_gets_no_answer(caplog: pytest.LogCaptureFixture) -> None:
    # a listener whose accept queue is full drops the next SYNs: the connect hangs
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            params = NetParams.from_core_params({"tcp_connect_timeout": 1})
            with caplog.at_level(logging.WARNING, logger="kampy.net.tcp"):
                pending = asyncio.run(_pending_after(params, port, (0.5, 1.6)))
    assert pending == [True, False]  # still trying after 0.5 s, given up after 1 s (10 s by default)
    assert any(f"tcp connect to 127.0.0.1:{port} failed" in r.getMessage() for r in caplog.records)


async def _pending_after(params: NetParams, port: int, times: tuple[float, ...]) -> list[bool]:
    manager = TCPManager(params, handle=lambda *_: [], deliver=lambda _outs: None, after=lambda: None,
                         sockets=[])
    manager.send(Outgoing("tcp", "127.0.0.1", port, b"OPTIONS sip:x SIP/2.0\r\n\r\n"))
    pending, waited = [], 0.0
    for at in times:
        await asyncio.sleep(at - waited)
        waited = at
        pending.append(("tcp", "127.0.0.1", port) in manager.by_addr)
    return pending


async def _refused(port: int, failed: list[Outgoing]) -> None:
    manager = TCPManager(NetParams(), handle=lambda *_: [], deliver=lambda _outs: None, after=lambda: None,
                         sockets=[], failed=failed.append)
    told = Outgoing("tcp", "127.0.0.1", port, b"MESSAGE sip:x SIP/2.0\r\n\r\n", on_error=lambda: None)
    manager.send(told)
    manager.send(Outgoing("tcp", "127.0.0.1", port, b"MESSAGE sip:y SIP/2.0\r\n\r\n"))  # nobody to tell
    for _ in range(100):
        await asyncio.sleep(0.01)
        if failed:
            break


def test_a_refused_connect_fails_the_sends_waiting_for_it_that_want_to_know() -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        failed: list[Outgoing] = []
        asyncio.run(_refused(port, failed))
    assert [out.data for out in failed] == [b"MESSAGE sip:x SIP/2.0\r\n\r\n"]
