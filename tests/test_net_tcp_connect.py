"""Outgoing TCP connections that cannot be opened fail cleanly: a log line, no exception left in
an asyncio task, no connection left to write to."""
from __future__ import annotations

import asyncio
import logging

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
