"""Choosing the rtpengine instance for a command (select_rtpp_node): the one the call went to before,
else one of the set's enabled instances by weight and a hash of the Call-ID; and testing instances
with a ping (rtpp_test) when they are due to be tried again."""
from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from . import bencode as b
from .calltable import CallTable
from .nodes import RECHECK_MAX, Node, Registry
from .transport import Transport

log = logging.getLogger("kampy.rtpengine")

HASH_CALLID, HASH_SHA1, HASH_CRC32 = 0, 1, 2


@dataclass
class Tuning:
    """The settings Kamailio lets `cfg.set_now_int rtpengine ...` change."""

    disable_tout: int
    aggressive_redetection: int
    queried_nodes_limit: int
    allow_op: int
    hash_algo: int


def _signed_sum(data: bytes) -> int:
    """The sum of the bytes as C `char`s (signed), as an unsigned int."""
    return sum(x - 256 if x > 127 else x for x in data) & 0xFFFFFFFF


def call_hash(callid: str, algo: int) -> int:
    data = callid.encode("utf-8", "surrogateescape")
    if algo == HASH_CRC32:
        return zlib.crc32(data) & 0xFFFFFFFF
    if algo == HASH_SHA1:
        return _signed_sum(hashlib.sha1(data).digest())
    return _signed_sum(data) & 0xFF


class Selector:
    def __init__(self, registry: Registry, transport: Transport, calls: CallTable, tuning: Tuning,
                 now: Callable[[], int]) -> None:
        self.registry = registry
        self.transport = transport
        self.calls = calls
        self.tuning = tuning
        self.now = now

    # ------------------------------------------------------------------ testing

    def ping(self, node: Node) -> bool:
        """rtpp_test_ping: the instance answers a ping with pong."""
        reply = self.transport.send(node, b.encode({"command": "ping"}), "ping")
        if reply is None:
            return False
        try:
            return b.text(b.get(b.decode(reply), "result")) == "pong"
        except b.BencodeError:
            return False

    def test(self, node: Node, isdisabled: bool, force: bool) -> bool:
        """rtpp_test: whether the node is (still) disabled; a ping when it is due (or forced).
        Updates the shared state when the ping fails or succeeds."""
        if node.recheck == RECHECK_MAX:
            return True
        if not force:
            if not isdisabled:
                return False
            if node.recheck > self.now():
                return True
        reply = self.transport.send(node, b.encode({"command": "ping"}), "ping")
        if reply is None:
            node.disabled, node.recheck = True, self.now() + self.tuning.disable_tout
            self.registry.set_state(node.idx, True, node.recheck)
            log.error("proxy did not respond to ping")
            return True
        try:
            pong = b.text(b.get(b.decode(reply), "result")) == "pong"
        except b.BencodeError:
            pong = False
        if not pong:
            log.error("proxy responded with invalid response")
            return True
        log.info("rtpengine instance <%s> found, support for it %senabled", node.url, "" if force else "re-")
        return False

    def _retest(self, node: Node, isdisabled: bool, force: bool) -> None:
        node.disabled = self.test(node, isdisabled, force)
        self.registry.set_state(node.idx, node.disabled)

    # ------------------------------------------------------------------ choosing

    def select_new(self, setid: int, callid: str, queried: list[int]) -> Node | None:
        nodes = [n for n in self.registry.nodes(setid) if n.displayed]
        total = call_hash(callid, self.tuning.hash_algo)
        forced = False
        while True:
            weight_sum = 0
            for node in nodes:
                if node.disabled and node.recheck <= self.now():
                    self._retest(node, True, False)
                if not node.disabled and node.idx not in queried:
                    weight_sum += node.weight
            if weight_sum == 0:
                if not self.tuning.aggressive_redetection or forced:
                    return None
                forced = True
                for node in nodes:
                    self._retest(node, True, True)
                continue
            cut = total % weight_sum
            chosen = None
            for node in nodes:
                if node.disabled or node.idx in queried:
                    continue
                if cut < node.weight:
                    chosen = node
                    break
                cut -= node.weight
            if chosen is None:
                return None
            if not chosen.disabled:
                return chosen

    def select(self, setid: int, callid: str, viabranch: str, delete: bool,
               queried: list[int]) -> Node | None:
        """select_rtpp_node: the call's earlier node when it is in the set, else a new one; a
        disabled one only as rtpengine_allow_op lets it."""
        node = None
        idx = self.calls.lookup(callid, viabranch, delete, self.now())
        if idx is not None:
            node = self.registry.node(idx)
        if node is None or node.setid != setid:
            node = self.select_new(setid, callid, queried)
            if node is None:
                log.error("rtpengine failed to select new for calllen=%d callid=%s", len(callid), callid)
                return None
        if not node.disabled:
            return node
        allow = self.tuning.allow_op
        if allow and (node.recheck == RECHECK_MAX or allow == 1):
            return node
        return None
