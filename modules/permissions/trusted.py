"""The `trusted` table of Kamailio's permissions module: peers trusted by source address and
transport, with optional From and R-URI patterns, a tag and a priority.

The patterns are POSIX *basic* regular expressions, case-sensitive and searched (Kamailio compiles
them with regcomp(REG_NOSUB) and no REG_EXTENDED): `bre_to_ere` turns them into the extended form
kampy compiles. In db_mode 1 the rows are cached (highest priority first) for every worker; in
db_mode 0 every check reads the rows of the source address from the table (lowest priority first,
the database's order).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kampy.api import L_ERR, compile_posix, log_at

from .address import LoadError, perm_hash

log = logging.getLogger("kampy.permissions")

# Kamailio's protocol numbers (PROTO_*), as trustedDump shows them
PROTOS = {"any": 0, "udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


def bre_to_ere(pattern: str) -> str:
    """A POSIX basic regular expression (with GNU's \\+, \\?, \\|) in extended syntax."""
    out: list[str] = []
    i, n = 0, len(pattern)
    at_start = True  # where `*` is literal and `^` an anchor
    while i < n:
        c = pattern[i]
        if c == "[":
            end = _bracket_end(pattern, i)
            out.append(pattern[i:end].replace("\\", "\\\\"))
            i, at_start = end, False
            continue
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            i += 2
            if nxt in "(){}|+?":
                out.append(nxt)
                at_start = nxt in "(|"
            elif nxt in "<>":
                out.append(r"\b")
            elif nxt.isdigit() or nxt in "wWsSbB":
                out.append("\\" + nxt)
                at_start = False
            else:
                out.append(re.escape(nxt))
                at_start = False
            continue
        i += 1
        if c == "*" and at_start:
            out.append(r"\*")
        elif c == "^":
            out.append("^" if at_start else r"\^")
            continue  # `*` after an anchoring `^` is literal too
        elif c == "$":
            anchor = i == n or pattern.startswith(("\\)", "\\|"), i)
            out.append("$" if anchor else r"\$")
        elif c in "(){}|+?":
            out.append("\\" + c)
        else:
            out.append(c)
        at_start = False
    return "".join(out)


def _bracket_end(pattern: str, start: int) -> int:
    """The index after the `]` closing the bracket expression at `start`."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        if pattern.startswith(("[:", "[.", "[="), i):
            close = pattern.find(pattern[i + 1] + "]", i + 2)
            i = close + 2 if close >= 0 else i + 1
        else:
            i += 1
    return min(i + 1, len(pattern))


@lru_cache(maxsize=1024)
def compile_bre(pattern: str) -> re.Pattern[str] | None:
    try:
        return compile_posix(bre_to_ere(pattern), re.DOTALL)
    except re.error:
        log_at(log, L_ERR, "invalid regular expression")
        return None


def _matches(pattern: str | None, value: str) -> bool:
    if pattern is None:
        return True
    compiled = compile_bre(pattern)
    return compiled is not None and compiled.search(value) is not None


@dataclass(frozen=True)
class Peer:
    src_ip: str
    proto: int  # PROTOS; an `any` row is 0
    pattern: str | None
    ruri_pattern: str | None
    tag: str | None
    priority: int

    def matches(self, from_uri: str, ruri: str | None) -> bool:
        """The patterns (checked only for SIP messages: `ruri` not None)."""
        if ruri is None:
            return True
        return _matches(self.pattern, from_uri) and _matches(self.ruri_pattern, ruri)


def load_rows(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """reload_trusted_table(): src_ip, proto, from_pattern, ruri_pattern, tag, priority rows, in the
    cache's order (highest priority first, rows of one priority in load order); `none` rows left out."""
    peers: list[list[Any]] = []
    for src_ip, proto, pattern, ruri_pattern, tag, priority in rows:
        if not isinstance(src_ip, str) or not isinstance(proto, str) \
                or any(v is not None and not isinstance(v, str) for v in (pattern, ruri_pattern, tag)):
            raise LoadError("database problem")
        kind = proto.lower()
        if kind == "none":
            continue
        if kind not in PROTOS:
            raise LoadError("unknown protocol")
        peers.append([src_ip, PROTOS[kind], pattern, ruri_pattern, tag, int(priority or 0)])
    peers.sort(key=lambda p: -p[5])
    return peers


class TrustedTable:
    """One worker's index of the cached rows: by source address, and by hash slot for the dump."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.by_ip: dict[str, list[Peer]] = {}
        self.slots: list[list[Peer]] = [[] for _ in range(128)]
        for row in rows:
            peer = Peer(*row)
            self.by_ip.setdefault(peer.src_ip, []).append(peer)
            self.slots[perm_hash(peer.src_ip.encode("utf-8", "surrogateescape"))].append(peer)

    def matching(self, src_ip: str, proto: int, from_uri: str, ruri: str | None) -> list[Peer]:
        return [p for p in self.by_ip.get(src_ip, ()) if (p.proto == 0 or proto == 0 or p.proto == proto)
                and p.matches(from_uri, ruri)]

    def dump(self) -> list[tuple[str, Any]]:
        """The members of trustedDump's one struct: "table" and "item" again and again."""
        members: list[tuple[str, Any]] = []
        for i, slot in enumerate(self.slots):
            for p in slot:
                item = {"ip": p.src_ip, "proto": p.proto, "pattern": p.pattern or "NULL",
                        "ruri_pattern": p.ruri_pattern or "NULL", "tag": p.tag or "NULL",
                        "priority": p.priority}
                members += [("table", i), ("item", item)]
        return members


def match_proto(proto_text: str, proto: int) -> bool:
    """match_proto() of a row read in db_mode 0."""
    return proto == 0 or proto_text.lower() == "any" or PROTOS.get(proto_text.lower(), -1) == proto


def uncached_matches(rows: list[tuple[Any, ...]], proto: int, from_uri: str, ruri: str | None) -> list[Peer]:
    """match_res(): the rows (proto, from_pattern, ruri_pattern, tag) of db_mode 0 that match."""
    found = []
    for row_proto, pattern, ruri_pattern, tag in rows:
        if not isinstance(row_proto, str) or not match_proto(row_proto, proto):
            continue
        peer = Peer("", proto, pattern, ruri_pattern, tag, 0)
        if peer.matches(from_uri, ruri):
            found.append(peer)
    return found
