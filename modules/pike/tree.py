"""Pike's tree of IP address prefixes (Kamailio's ip_tree.c, pike_funcs.c, timer.c), in shared memory.

Kamailio keeps a tree per first byte of the address: a node per prefix, counting the requests of
its sub-tree (`hits`) and, at a whole address, those of the address itself (`leaf_hits`), each for
the previous and the current sampling unit. A prefix node is split (a child for the next byte is
made) when it gets hot, so the tree grows only under the sources that send much; a whole address
whose leaf hits reach `reqs_density_per_unit` turns red (blocked) until a unit passes without it.
Nodes nobody hits are removed `remove_latency` seconds after their last hit.

Here a node is an entry of a shared table keyed by its prefix (1..16 bytes), so every worker counts
into the same tree; a check is one transaction of that table. Two things are kept differently,
with the same outcome:

* the swap of the units: Kamailio moves every node's current counts to the previous ones every
  `sampling_time_unit` seconds; here a node records the unit (`epoch`, counted from the server's
  start) its counts belong to, and is brought forward when it is next read;
* the timer list: Kamailio keeps the nodes that may expire in a list ordered by expiry; here such a
  node's expiry is its entry's `extra` (NEVER when it is not in the list), so the cleaner finds the
  due ones from the table's index.
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

from kampy.api import ShmTable

NEVER = 1 << 62
U16_LIMIT = 0xFFFF - 1      # counts stop one below the type's maximum (MAX_TYPE_VAL(x) - 1)

# node flags (ip_tree.h)
EXPIRED, INTIMER, IPLEAF, ISRED = 1, 2, 4, 8
# what mark() found
NEW_NODE, RED_NODE, NEWRED_NODE, NO_UPDATE = 1, 2, 4, 8
# node status (pike.top)
STATUS_OK, STATUS_WARM, STATUS_HOT, STATUS_ALL = 0, 1, 2, 3
STATUS_NAMES = ("", "WARM", "HOT", "ALL")

_NODE = struct.Struct("<HHHHHIqQI")  # hits prev/curr, leaf hits prev/curr, flags, epoch, expires, seq, kids
_T0, _SEQ = 0, 1                      # the table's counters: start tick + 1, last node number


@dataclass
class Node:
    key: bytes
    hits: list[int]
    leaf_hits: list[int]
    flags: int = 0
    epoch: int = 0
    expires: int = 0
    seq: int = 0
    kids: int = 0

    @property
    def pointer(self) -> str:
        """What Kamailio's logs print for the node (its address): a number of its own here."""
        return f"{0x7F0000000000 + self.seq * 0x40:#x}"


def _decode(key: bytes, data: bytes) -> Node:
    hp, hc, lp, lc, flags, epoch, expires, seq, kids = _NODE.unpack(data)
    return Node(key, [hp, hc], [lp, lc], flags, epoch, expires, seq, kids)


def _u16(value: int) -> int:
    return value & 0xFFFF


class Tree:
    """The tree of one server; `max_hits` is reqs_density_per_unit, `unit` sampling_time_unit and
    `timeout` remove_latency. `on_unblock(node)` is told when a red node cools down."""

    def __init__(self, table: ShmTable, max_hits: int, unit: int, timeout: int,
                 on_unblock: Callable[[Node], None]) -> None:
        self.table = table
        self.max_hits = max_hits & 0xFFFF  # an unsigned short in Kamailio
        self.unit = max(1, unit)
        self.timeout = timeout
        self.on_unblock = on_unblock

    # ------------------------------------------------------------ the node's tests (ip_tree.c)

    def hot_leaf(self, n: Node) -> bool:
        m = self.max_hits
        return n.leaf_hits[0] >= m or n.leaf_hits[1] >= m or (n.leaf_hits[0] + n.leaf_hits[1]) >> 1 >= m

    def hot_non_leaf(self, n: Node) -> bool:
        q = self.max_hits >> 2
        return n.hits[0] >= q or n.hits[1] >= q or (n.hits[0] + n.hits[1]) >> 1 >= q

    def warm_leaf(self, n: Node) -> bool:
        return n.hits[1] >= self.max_hits >> 2

    def status(self, n: Node) -> int:
        if self.hot_leaf(n):
            return STATUS_HOT
        if self.warm_leaf(n):
            return STATUS_WARM
        return STATUS_OK

    # ------------------------------------------------------------ storage

    def epoch(self, ticks: int) -> int:
        """The sampling unit `ticks` falls in, counted from the server's start."""
        t0 = self.table.counter(_T0)
        if t0 == 0:
            with self.table.transaction():
                if self.table.counter(_T0) == 0:
                    self.table.add(_T0, ticks + 1)
            t0 = self.table.counter(_T0)
        return (ticks - (t0 - 1)) // self.unit

    def read(self, key: bytes, epoch: int | None = None) -> Node | None:
        """The node of prefix `key`, its counts brought to `epoch` (without writing)."""
        found = self.table.get(key)
        if found is None:
            return None
        node = _decode(key, found[0])
        if epoch is not None:
            self._swap(node, epoch)
        return node

    def _swap(self, node: Node, epoch: int) -> None:
        """swap_routine/refresh_node for each unit that passed since the node was last counted."""
        for _ in range(min(max(0, epoch - node.epoch), 2)):
            node.hits = [node.hits[1], 0]
            node.leaf_hits = [node.leaf_hits[1], 0]
            if node.flags & ISRED and not self.hot_leaf(node):
                node.flags &= ~ISRED
                self.on_unblock(node)
        node.epoch = max(node.epoch, epoch)

    def write(self, node: Node) -> None:
        data = _NODE.pack(*node.hits, *node.leaf_hits, node.flags, node.epoch, node.expires,
                          node.seq, node.kids)
        self.table.put(node.key, data, node.expires if node.flags & INTIMER else NEVER, node.flags)

    def _new(self, key: bytes, epoch: int) -> Node:
        self.table.add(_SEQ, 1)
        return Node(key, [0, 0], [0, 0], epoch=epoch, seq=self.table.counter(_SEQ))

    # ------------------------------------------------------------ a hit (pike_check_ipaddr)

    def check(self, ip: bytes, ticks: int) -> tuple[int, Node]:
        """Count a request from `ip` (packed); the flags mark() returns and the node hit."""
        epoch = self.epoch(ticks)
        with self.table.transaction():
            node, father, flags = self._mark(ip, epoch)
            if flags & NEW_NODE:
                node.expires = ticks + self.timeout
                node.flags |= INTIMER
                if father is not None and not father.flags & IPLEAF and father.kids == 1:
                    father.flags &= ~INTIMER  # a prefix with kids waits for them to go
                    father.expires = 0
            elif node.flags & IPLEAF or node.kids == 0:
                if not flags & NO_UPDATE:
                    node.expires = ticks + self.timeout
            if father is not None:
                self.write(father)
            self.write(node)
        return flags, node

    def _mark(self, ip: bytes, epoch: int) -> tuple[Node, Node | None, int]:
        """mark_node: the longest prefix of `ip` in the tree, counted, split when hot."""
        node: Node | None = None
        depth = 0
        while depth < len(ip):
            found = self.read(ip[:depth + 1], epoch)
            if found is None:
                break
            node, depth = found, depth + 1
        if node is None:
            node = self._new(ip[:1], epoch)
            node.hits[1] = 1
            return node, None, NEW_NODE
        if depth == len(ip):
            node.flags |= IPLEAF
            if node.leaf_hits[1] < U16_LIMIT:
                node.leaf_hits[1] += 1
            if node.flags & ISRED:
                return node, None, RED_NODE
            if self.hot_leaf(node):
                node.flags |= ISRED
                return node, None, RED_NODE | NEWRED_NODE
            return node, None, 0
        if node.hits[1] < U16_LIMIT:
            node.hits[1] += 1
        if self.hot_non_leaf(node):
            return self._split(node, ip[depth], epoch), node, NEW_NODE
        return node, None, 0 if self.warm_leaf(node) else NO_UPDATE

    def _split(self, dad: Node, byte: int, epoch: int) -> Node:
        """split_node: a child of `dad` for `byte`, inheriting part of its hits (the leaf hits as
        Kamailio does: the previous unit's, less one, when the current one has any)."""
        kid = self._new(dad.key + bytes([byte]), epoch)
        if dad.hits[1] >= 1:
            kid.hits[1] = dad.hits[1] - 1
        if dad.leaf_hits[1] >= 1:
            kid.leaf_hits[0] = _u16(dad.leaf_hits[0] - 1)
        dad.kids += 1
        return kid

    # ------------------------------------------------------------ the cleaner (clean_routine)

    def clean(self, ticks: int) -> list[Node]:
        """Remove the nodes whose time is up (an address with kids only stops being an address);
        a prefix left without kids starts its own time. The nodes removed."""
        epoch = self.epoch(ticks)
        removed: list[Node] = []
        if not self.table.keys(extra_at_most=ticks):
            return removed
        with self.table.transaction():
            due = [n for n in (self.read(item.key, epoch) for item in self.table.items(extra_at_most=ticks))
                   if n is not None and n.flags & INTIMER and n.expires <= ticks]
            due.sort(key=lambda n: (n.expires, n.seq))
            for stale in due:
                node = self.read(stale.key, epoch)
                if node is None or not node.flags & INTIMER or node.expires > ticks:
                    continue
                node.flags &= ~INTIMER
                node.expires = 0
                if node.kids:
                    node.flags &= ~IPLEAF
                    node.leaf_hits[1] = 0
                    self.write(node)
                    continue
                if len(node.key) > 1:
                    dad = self.read(node.key[:-1], epoch)
                    if dad is not None:
                        if dad.kids == 1 and not dad.flags & IPLEAF:
                            dad.expires = ticks + self.timeout
                            dad.flags |= INTIMER
                        dad.kids = max(0, dad.kids - 1)
                        self.write(dad)
                self.table.delete(node.key)
                removed.append(node)
        return removed

    def cool_down(self, ticks: int) -> None:
        """Bring the red nodes to the current unit, so that those that cooled down are unblocked
        (and said so) when the unit changes, as Kamailio's swap timer does, hit or not."""
        epoch = self.epoch(ticks)
        red = [item.key for item in self.table.items(flags_any=ISRED)]
        if not red:
            return
        with self.table.transaction():
            for key in red:
                node = self.read(key)
                if node is not None and node.epoch < epoch:
                    self._swap(node, epoch)
                    self.write(node)

    # ------------------------------------------------------------ pike.top

    def leaves(self, ticks: int, wanted: int) -> list[tuple[Node, int]]:
        """(node, status) of the whole addresses of the requested status (STATUS_HOT or
        STATUS_ALL; STATUS_WARM lists none, as in Kamailio), in pike.top's order."""
        epoch = self.epoch(ticks)
        nodes = {item.key: _decode(item.key, item.value) for item in self.table.items()}
        for node in nodes.values():
            self._peek(node, epoch)
        kids: dict[bytes, list[Node]] = {}
        for node in nodes.values():
            kids.setdefault(node.key[:-1], []).append(node)
        for group in kids.values():
            group.sort(key=lambda n: -n.seq)  # Kamailio inserts a new kid first
        found: list[tuple[Node, int]] = []

        def walk(node: Node) -> None:
            if node.flags & IPLEAF:
                status = self.status(node)
                if (wanted == STATUS_HOT and status & STATUS_HOT) or wanted == STATUS_ALL:
                    found.append((node, status))
            for kid in kids.get(node.key, []):
                walk(kid)

        for root in sorted(kids.get(b"", []), key=lambda n: n.key):
            walk(root)
        found.reverse()  # pike_top_add_entry puts each entry first
        return found

    def _peek(self, node: Node, epoch: int) -> None:
        """The node's counts as of `epoch`, without side effects."""
        shifted = replace(node)
        for _ in range(min(max(0, epoch - node.epoch), 2)):
            shifted.hits = [shifted.hits[1], 0]
            shifted.leaf_hits = [shifted.leaf_hits[1], 0]
        node.hits, node.leaf_hits = shifted.hits, shifted.leaf_hits


def packed_ip(text: str) -> bytes | None:
    """str2ip: the address's bytes (4 for IPv4, 16 for IPv6), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


def ip_text(packed: bytes) -> str:
    """pike_top_print_addr: inet_ntop for 4 and 16 bytes."""
    return str(ipaddress.ip_address(packed)) if len(packed) in (4, 16) else packed.hex()
