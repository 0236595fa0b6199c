"""The RTPProxy instances ("nodes") in their sets, shared by every worker (Kamailio keeps them in
shared memory): set, URL, weight, whether disabled and when to try it again, and the optional
protocol features it said it has (re-packetization, payload type lists)."""
from __future__ import annotations

import marshal
from dataclasses import dataclass

from kampy.api import ShmTable

RECHECK_MAX = 0xFFFFFFFF
COUNT = 0  # counter: nodes made
_SETS, _NODE = b"S", b"N"


@dataclass
class Node:
    idx: int
    setid: int
    url: str
    weight: int
    disabled: bool = False
    recheck: int = 0
    rep_supported: bool = False
    ptl_supported: bool = False

    @property
    def mode(self) -> str:
        """udp, udp6, or unix (also for a URL without a scheme, as Kamailio's)."""
        low = self.url.lower()
        if low.startswith("udp6:"):
            return "udp6"
        if low.startswith("udp:"):
            return "udp"
        return "unix"

    @property
    def address(self) -> str:
        low = self.url.lower()
        for prefix in ("udp6:", "udp:", "unix:"):
            if low.startswith(prefix):
                return self.url[len(prefix):]
        return self.url


def parse_sock(value: str) -> tuple[str, list[tuple[str, int]]] | None:
    """`[<set> ==] url[=weight] ...` (rtpproxy_add_rtpproxy_set): the set name and its entries."""
    text = value.strip()
    if not text:
        return None
    setid = "0"
    if "==" in text:
        head, _, text = text.partition("==")
        if not text:
            raise ValueError("script error -invalid rtp proxy list!")
        setid = head.strip()
        if not setid:
            raise ValueError("script error -invalid set_id value!")
        text = text.strip()
        if not text:
            raise ValueError("script error -empty rtp_proxy list")
    entries = []
    for token in text.split():
        url, eq, weight = token.partition("=")
        digits = ""
        for ch in weight:
            if not ch.isdigit():
                break
            digits += ch
        entries.append((url, int(digits) if eq and digits else (0 if eq else 1)))
    return setid, entries


def set_number(name: str) -> int:
    """get_rtpp_set: only integer set names are valid."""
    if not name or not name.lstrip("-").isdigit():
        raise ValueError(f"Invalid set name '{name}' - must be integer")
    return int(name)


class Registry:
    def __init__(self, table: ShmTable) -> None:
        self.table = table

    @staticmethod
    def _key(idx: int) -> bytes:
        return _NODE + idx.to_bytes(4, "big")

    def set_order(self) -> list[int]:
        found = self.table.get(_SETS)
        return list(marshal.loads(found[0])) if found is not None else []

    def has_set(self, setid: int) -> bool:
        return setid in self.set_order()

    def node(self, idx: int) -> Node | None:
        found = self.table.get(self._key(idx))
        if found is None:
            return None
        setid, url, weight, disabled, recheck, rep, ptl = marshal.loads(found[0])
        return Node(idx, setid, url, weight, bool(disabled), recheck, bool(rep), bool(ptl))

    def nodes(self, setid: int | None = None) -> list[Node]:
        found = []
        for idx in range(self.table.counter(COUNT)):
            node = self.node(idx)
            if node is not None and (setid is None or node.setid == setid):
                found.append(node)
        return found

    def in_order(self) -> list[Node]:
        every = self.nodes()
        return [n for setid in self.set_order() for n in every if n.setid == setid]

    def put(self, node: Node) -> None:
        self.table.put(self._key(node.idx), marshal.dumps(
            (node.setid, node.url, node.weight, int(node.disabled), node.recheck,
             int(node.rep_supported), int(node.ptl_supported))))

    def add(self, setid: int, url: str, weight: int, disabled: bool) -> Node:
        """insert_rtpp_node (a node marked disabled is disabled for good)."""
        with self.table.transaction():
            order = self.set_order()
            if setid not in order:
                self.table.put(_SETS, marshal.dumps(order + [setid]))
            node = Node(self.table.counter(COUNT), setid, url, weight, disabled,
                        RECHECK_MAX if disabled else 0)
            self.put(node)
            self.table.add(COUNT, 1)
            return node

    def once(self, name: bytes) -> bool:
        with self.table.transaction():
            if self.table.get(b"O" + name) is not None:
                return False
            self.table.put(b"O" + name, b"")
            return True
