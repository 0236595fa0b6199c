"""What every worker shares (Kamailio keeps it in shared memory): the destination sets with their
states and round-robin/weight positions, the keepalive switch, the time of the last reload, and
the call-load cells of algorithm 10, in one shared table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from kampy.api import ShmTable

LIST_KEY = b"list"
PING_KEY = b"ping"
RELOAD_KEY = b"reload"
LOAD_PREFIX = b"load:"
POS_PREFIX = b"pos:"
LAST, WLAST, RWLAST = 0, 1, 2  # a set's positions: round robin, weight table, relative weight table


class Store:
    def __init__(self, table: ShmTable) -> None:
        self.table = table
        self._cache: tuple[bytes, dict[str, Any]] | None = None

    def read(self) -> dict[str, Any]:
        """The current list ({"sets": {id: set}, "order": [ids]}); do not change what it returns
        outside of `change()`."""
        found = self.table.get(LIST_KEY)
        raw = found[0] if found else b'{"sets": {}, "order": []}'
        if self._cache is None or self._cache[0] != raw:
            self._cache = (raw, json.loads(raw))
        return self._cache[1]

    @contextlib.contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """The list to change, written back (for every worker) when the block ends."""
        with self.table.transaction():
            found = self.table.get(LIST_KEY)
            data = json.loads(found[0]) if found else {"sets": {}, "order": []}
            yield data
            self.table.put(LIST_KEY, json.dumps(data, separators=(",", ":")).encode())

    def replace(self, data: dict[str, Any]) -> None:
        """A new list (load, reload, RPC add/remove): its sets start from their first positions."""
        with self.table.transaction():
            for key in self.table.keys(prefix=POS_PREFIX):
                self.table.delete(key)
            self.table.put(LIST_KEY, json.dumps(data, separators=(",", ":")).encode())

    @contextlib.contextmanager
    def positions(self, setid: int) -> Iterator[list[int]]:
        """A set's positions [last, wlast, rwlast] to change, kept apart from the list so that
        moving them (every round-robin or weighted choice) writes a few bytes."""
        key = POS_PREFIX + str(setid).encode()
        with self.table.transaction():
            found = self.table.get(key)
            pos = [int(x) for x in found[0].split()] if found else [0, 0, 0]
            yield pos
            self.table.put(key, " ".join(map(str, pos)).encode())

    def has_list(self) -> bool:
        return self.table.get(LIST_KEY) is not None

    # ------------------------------------------------------------ small values
    def get_int(self, key: bytes, default: int) -> int:
        found = self.table.get(key)
        return int(found[0]) if found else default

    def set_int(self, key: bytes, value: int) -> None:
        self.table.put(key, str(value).encode())

    # ------------------------------------------------------------ call load cells
    def load_cell(self, callid: str) -> dict[str, Any] | None:
        found = self.table.get(LOAD_PREFIX + callid.encode())
        return json.loads(found[0]) if found else None

    def put_load_cell(self, callid: str, cell: dict[str, Any]) -> None:
        self.table.put(LOAD_PREFIX + callid.encode(), json.dumps(cell).encode())

    def del_load_cell(self, callid: str) -> None:
        self.table.delete(LOAD_PREFIX + callid.encode())

    def load_cells(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (key[len(LOAD_PREFIX) :].decode(), json.loads(value))
            for key, value in ((i.key, i.value) for i in self.table.items(prefix=LOAD_PREFIX))
        ]
