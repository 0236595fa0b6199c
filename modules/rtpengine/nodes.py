"""The rtpengine instances ("nodes") in their sets, shared by every worker as Kamailio keeps them in
shared memory: each node's set, URL, weight, whether it is shown (a node gone from the database
table is hidden) and whether it is disabled, with the tick at which it is tried again (`recheck`;
RECHECK_MAX: disabled for good, by `rtpengine.enable URL 0` or the table's disabled column).

The nodes live in a shared table (`ShmTable`): one key per node, the order of the sets, the number of
nodes made so far (node indexes never repeat) and the list's version, which rtpengine.reload moves
so that each worker rebuilds its control sockets."""
from __future__ import annotations

import marshal
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kampy.api import ShmTable

RECHECK_MAX = 0xFFFFFFFF
MODES = (("udp6:", "udp6"), ("udp:", "udp"), ("unix:", "unix"), ("ws://", "ws"), ("wss://", "wss"))
_SETS, _NODE = b"S", b"N"
COUNT, VERSION, RELOADED = 0, 1, 2  # the table's counters


@dataclass
class Node:
    idx: int
    setid: int
    url: str
    weight: int
    displayed: bool = True
    disabled: bool = False
    recheck: int = 0

    @property
    def mode(self) -> str:
        low = self.url.lower()
        return next((m for prefix, m in MODES if low.startswith(prefix)), "")

    @property
    def address(self) -> str:
        """rn_address: the URL without `udp:`, `udp6:` or `unix:` (ws URLs whole)."""
        mode = self.mode
        if mode in ("ws", "wss"):
            return self.url
        return self.url.split(":", 1)[1]


class SockError(ValueError):
    """An rtpengine_sock value Kamailio refuses."""


def parse_sock(value: str, setid_default: int) -> tuple[int, list[tuple[str, int]]] | None:
    """`[<set> ==] url[=weight] url[=weight] ...`: the set and its (url, weight) entries; None for
    an empty definition. URLs that are not udp:, udp6:, unix:, ws:// or wss://, or end in an
    invalid port, are left out with a warning, as in Kamailio."""
    text = value.strip()
    if not text:
        return None
    setid = setid_default
    if "==" in text:
        head, _, text = text.partition("==")
        if not text:
            raise SockError("script error -invalid rtpengine list!")
        head = head.strip()
        if not head.isdigit():
            raise SockError("script error -invalid set_id value!")
        setid = int(head)
        text = text.strip()
        if not text:
            raise SockError("script error -empty rtp_proxy list")
    entries = []
    for token in text.split():
        url, eq, weight = token.partition("=")
        entries.append((url, _strtoul(weight) if eq else 1))
    return setid, entries


def _strtoul(text: str) -> int:
    m = re.match(r"\s*(\d+)", text)
    return int(m.group(1)) if m else 0


def url_problem(url: str, ws_loaded: bool) -> str | None:
    """Why Kamailio ignores a node URL (None: usable)."""
    node = Node(0, 0, url, 1)
    mode = node.mode
    if not mode:
        return ("Node address must start with 'udp:' or 'udp6:' or 'unix:' or 'ws://' or 'wss://'. "
                f"Ignore '{url}'.")
    if mode in ("ws", "wss"):
        if not ws_loaded:
            return f"Websocket protocol requested, but no websocket API loaded. Ignore '{url}'."
        return None
    address = node.address
    if mode == "udp6":
        at = address.find("]:")
        port = address[at + 2:] if at >= 0 else None
    else:
        port = address.split(":", 1)[1] if ":" in address else None
    if port and (not port.isdigit() or int(port) > 0xFFFF):
        return f"Node address must end with a valid port number. Ignore '{address}'."
    return None


class Registry:
    """The sets and nodes, in a shared table every worker reads and writes."""

    def __init__(self, table: ShmTable) -> None:
        self.table = table

    def _key(self, idx: int) -> bytes:
        return _NODE + idx.to_bytes(4, "big")

    # ------------------------------------------------------------------ reading

    def set_order(self) -> list[int]:
        found = self.table.get(_SETS)
        return list(marshal.loads(found[0])) if found is not None else []

    def node(self, idx: int) -> Node | None:
        found = self.table.get(self._key(idx))
        if found is None:
            return None
        setid, url, weight, displayed, disabled, recheck = marshal.loads(found[0])
        return Node(idx, setid, url, weight, bool(displayed), bool(disabled), recheck)

    def nodes(self, setid: int | None = None) -> list[Node]:
        """The nodes (of one set), in the order they were made."""
        found = []
        for idx in range(self.table.counter(COUNT)):
            node = self.node(idx)
            if node is not None and (setid is None or node.setid == setid):
                found.append(node)
        return found

    def in_order(self) -> Iterator[Node]:
        """Every node, set by set in the sets' order (as the RPC commands list them)."""
        every = self.nodes()
        for setid in self.set_order():
            yield from (n for n in every if n.setid == setid)

    def has_set(self, setid: int) -> bool:
        return setid in self.set_order()

    @property
    def version(self) -> int:
        return self.table.counter(VERSION)

    # ------------------------------------------------------------------ writing

    def _put(self, node: Node) -> None:
        self.table.put(self._key(node.idx), marshal.dumps(
            (node.setid, node.url, node.weight, int(node.displayed), int(node.disabled), node.recheck)))

    def add_set(self, setid: int) -> None:
        order = self.set_order()
        if setid not in order:
            self.table.put(_SETS, marshal.dumps(order + [setid]))

    def add(self, setid: int, url: str, weight: int, disabled: bool, recheck: int) -> Node:
        """add_rtpengine_socks for one URL: a node of the set with this URL is updated (shown
        again), else a new node is made."""
        with self.table.transaction():
            self.add_set(setid)
            for node in self.nodes(setid):
                if node.url == url:
                    node.disabled, node.displayed, node.recheck, node.weight = disabled, True, recheck, weight
                    self._put(node)
                    return node
            node = Node(self.table.counter(COUNT), setid, url, weight, True, disabled, recheck)
            self._put(node)
            self.table.add(COUNT, 1)
            return node

    def hide_all(self) -> None:
        """rtpengine_delete_node_all: every node hidden and disabled for good."""
        with self.table.transaction():
            for node in self.nodes():
                node.displayed, node.disabled, node.recheck = False, True, RECHECK_MAX
                self._put(node)

    def set_state(self, idx: int, disabled: bool, recheck: int | None = None) -> None:
        with self.table.transaction():
            node = self.node(idx)
            if node is None:
                return
            node.disabled = disabled
            if recheck is not None:
                node.recheck = recheck
            self._put(node)

    def bump_version(self) -> None:
        self.table.add(VERSION, 1)

    def once(self, name: bytes) -> bool:
        """True for the first process asking (the node list is made once for all workers)."""
        with self.table.transaction():
            if self.table.get(b"O" + name) is not None:
                return False
            self.table.put(b"O" + name, b"")
            return True

    def counter(self, index: int) -> int:
        return self.table.counter(index)

    def add_counter(self, index: int, delta: int) -> None:
        self.table.add(index, delta)

    def info(self, node: Node, now: int) -> dict[str, Any]:
        """A node as rtpengine.show gives it."""
        info: dict[str, Any] = {"url": node.url, "set": node.setid, "index": node.idx, "weight": node.weight}
        if node.disabled and node.recheck == RECHECK_MAX:
            info["disabled"] = "1(permanent)"
        else:
            info["disabled"] = int(node.disabled)
        if node.recheck == RECHECK_MAX:
            info["recheck_ticks"] = "N/A"
        else:
            info["recheck_ticks"] = max(node.recheck - now, 0)
        return info
