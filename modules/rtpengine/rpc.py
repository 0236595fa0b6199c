"""rtpengine's RPC commands: rtpengine.reload, rtpengine.ping, rtpengine.show, rtpengine.enable,
rtpengine.get_hash_total."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.api import RpcFault

from .calltable import CallTable
from .nodes import RECHECK_MAX, Node, Registry
from .selection import Selector, Tuning

log = logging.getLogger("kampy.rtpengine")

RELOAD_DELAY = 10  # seconds between two reloads (RTPE_LIST_VERSION_DELAY)


class RpcMixin:
    """Part of RtpengineModule."""

    registry: Registry
    selector: Selector
    calls: CallTable
    tuning: Tuning
    db_url: str
    core: Any

    if TYPE_CHECKING:
        def now(self) -> int: ...
        def build(self, test: bool) -> None: ...
        def load_db(self) -> None: ...

    def _iterate(self, url: str, visit: Callable[[Node], None]) -> int:
        """rtpengine_rpc_iterate: `visit` each shown node named `url` (or all); 404 for none."""
        self.build(test=True)
        if not self.registry.set_order():
            raise RpcFault(404, "Instance not found (no sets loaded)")
        every = url.startswith("all")
        found = 0
        for node in self.registry.in_order():
            if not node.displayed:
                continue
            if every or node.url == url:
                visit(node)
                found += 1
        if not found:
            raise RpcFault(404, "Instance not found")
        return found

    def rpc_reload(self) -> str:
        if not self.db_url:
            raise RpcFault(500, "No Database URL")
        now = int(self.core.clock.time())
        last = self.registry.counter(2)
        if now - last < 10:
            raise RpcFault(500, "Too short reload interval - try later")
        self.registry.add_counter(2, now - last)
        try:
            self.load_db()
        except ValueError as exc:
            log.error("%s", exc)
            raise RpcFault(500, "Failed reloading db") from exc
        self.build(test=True)
        return "Ok. Reload successful."

    def rpc_ping(self, url: str) -> dict[str, str]:
        failed = []

        def ping(node: Node) -> None:
            if not self.selector.ping(node):
                self.registry.set_state(node.idx, True, self.now() + self.tuning.disable_tout)
                failed.append(node)

        self._iterate(url, ping)
        return {"url": url, "status": "fail" if failed else "success"}

    def rpc_show(self, url: str) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = []
        now = self.now()
        self._iterate(url, lambda node: shown.append(self.registry.info(node, now)))
        return shown

    def rpc_enable(self, url: str, flag: int) -> dict[str, str]:
        outcome = [1 if int(flag) else 0]

        def enable(node: Node) -> None:
            if outcome[0]:
                if self.selector.ping(node):
                    self.registry.set_state(node.idx, False, 0)
                else:
                    self.registry.set_state(node.idx, True, self.now() + self.tuning.disable_tout)
                    outcome[0] = 2
            else:
                self.registry.set_state(node.idx, True, RECHECK_MAX)

        self._iterate(url, enable)
        status = {0: "disable", 1: "enable"}.get(outcome[0], "fail")
        return {"url": url, "status": status}

    def rpc_get_hash_total(self) -> int:
        return self.calls.total()
