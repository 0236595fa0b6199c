"""mtree's trees: prefixes of allowed characters, each with its values (newest first), matched
as Kamailio's mt_get_tvalue(), mt_add_tvalues() and mt_match_prefix() walk their trie."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 63
TYPE_STR, TYPE_DW, TYPE_INT = 0, 1, 2
MAX_DST_LIST = 64


class TreeError(ValueError):
    pass


@dataclass
class TreeSpec:
    """One `mtree` parameter: name, dbtable, type, multi, cols."""

    name: str
    dbtable: str = "mtree"
    type: int = TYPE_STR
    multi: int = 0
    cols: tuple[str, ...] = ()


def parse_spec(text: str) -> TreeSpec:
    values: dict[str, str] = {}
    for item in text.split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            values[key.strip().lower()] = value.strip()
    name = values.get("name")
    if not name:
        raise TreeError(f"mtree: invalid mtree name in {text!r}")
    spec = TreeSpec(name, values.get("dbtable") or "mtree", _int(values.get("type", "0")),
                    _int(values.get("multi", "0")))
    if spec.type not in (TYPE_STR, TYPE_DW, TYPE_INT):
        raise TreeError(f"mtree: unknown tree type <{spec.type}>")
    if spec.multi not in (0, 1):
        raise TreeError(f"mtree: unknown multi value <{spec.multi}>")
    if "cols" in values:
        cols = tuple(c.strip() for c in values["cols"].strip("'\"").split(",") if c.strip())
        if len(cols) < 2:
            raise TreeError(f"mtree: tree {name}: cols needs the prefix column and a value column")
        spec.cols = cols
    return spec


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


def parse_dw(text: str) -> list[tuple[int, int]]:
    """`dstid=weight;...` of a type-1 value, last first (as mt_node_set_payload() links them)."""
    pairs = []
    for item in text.rstrip(";").split(";"):
        name, _, body = item.partition("=")
        if name.strip():
            pairs.insert(0, (_int(name), _int(body)))
    return pairs


@dataclass
class Tree:
    name: str
    type: int
    chars: str
    values: dict[str, list[Any]] = field(default_factory=dict)  # prefix -> values, newest first
    inner: set[str] = field(default_factory=set)  # every proper prefix of a stored prefix
    reload_count: int = 0
    reload_time: int = 0

    def add(self, prefix: str, value: str, ignore_duplicates: bool, allow_duplicates: bool) -> None:
        if len(prefix) > MAX_DEPTH:
            raise TreeError("max prefix len exceeded")
        bad = next((i for i, ch in enumerate(prefix) if ch not in self.chars), None)
        if bad is not None:
            raise TreeError(f"invalid char at {bad} in [{prefix}]")
        stored: Any = value
        if self.type == TYPE_INT:
            try:
                stored = int(value.strip())
            except ValueError:
                raise TreeError(f"bad integer string <{value}>") from None
        if prefix in self.values:
            if ignore_duplicates:
                return
            if not allow_duplicates:
                raise TreeError(f"prefix already allocated [{prefix}/{value}]")
        self.values.setdefault(prefix, []).insert(0, stored)
        self.inner.update(prefix[:i] for i in range(1, len(prefix)))

    def walk(self, tomatch: str) -> tuple[list[tuple[str, list[Any]]], bool]:
        """The prefixes of `tomatch` that hold values, shortest first, and whether the walk met a
        character outside the tree's list."""
        found, bad, _ = self.walk_depth(tomatch)
        return found, bad

    def walk_depth(self, tomatch: str) -> tuple[list[tuple[str, list[Any]]], bool, int]:
        """walk(), and how many characters the walk went through (Kamailio's `len` of
        mt_get_tvalue(), which mtree.match reports as the prefix)."""
        found: list[tuple[str, list[Any]]] = []
        if not self.values:
            return found, False, 0
        depth = 0
        for length in range(1, min(len(tomatch), MAX_DEPTH) + 1):
            if tomatch[length - 1] not in self.chars:
                return found, True, depth
            prefix = tomatch[:length]
            depth = length
            if prefix in self.values:
                found.append((prefix, self.values[prefix]))
            if prefix not in self.inner:
                break
        return found, False, depth

    def longest(self, tomatch: str) -> Any:
        found, bad = self.walk(tomatch)
        if bad or not found:
            return None
        return found[-1][1][0]

    def destinations(self, tomatch: str) -> list[tuple[int, int]] | None:
        """Type 1: (dstid, weight) of the matching prefixes, a dstid kept only at its longest
        prefix, ordered by weight (highest first); None when a character is not allowed."""
        found, bad = self.walk(tomatch)
        if bad:
            return None
        pairs: list[list[int]] = []
        for _, values in found:
            for dstid, weight in parse_dw(values[0]):
                pairs.append([dstid, weight])
                if len(pairs) == MAX_DST_LIST:
                    break
            if len(pairs) == MAX_DST_LIST:
                break
        for i in range(len(pairs) - 1, 0, -1):
            if pairs[i][0] != 0:
                for j in range(i):
                    if pairs[j][0] == pairs[i][0]:
                        pairs[j][0] = 0
        for i in range(len(pairs) - 1, -1, -1):  # mt_match_prefix()'s bubble sort, stable
            for j in range(1, i + 1):
                if pairs[j - 1][1] < pairs[j][1]:
                    pairs[j - 1], pairs[j] = pairs[j], pairs[j - 1]
        return [(d, w) for d, w in pairs]

    def ordered(self) -> list[tuple[str, list[Any]]]:
        """(prefix, values) depth first in the order of the character list (rpc_mtree_print_node)."""
        rank = {ch: i for i, ch in enumerate(self.chars)}
        return sorted(self.values.items(), key=lambda kv: [rank[c] for c in kv[0]])

    def nodes(self) -> int:
        return len(self.inner | set(self.values))

    def items(self) -> int:
        return sum(len(v) for v in self.values.values())
