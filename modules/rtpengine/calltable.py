"""Which rtpengine instance each call (Call-ID and via-branch) went to, so that its answer and
delete go there too (Kamailio's rtpengine_hash_table). Shared by every worker: one key per Call-ID
in a shared table, its value the (via-branch, node index, timeout) entries of the call; the key's
`extra` is its soonest timeout, so that expired entries can be found and dropped."""
from __future__ import annotations

import marshal

from kampy.api import ShmTable

TOTAL = 0  # counter: entries in the table


class CallTable:
    def __init__(self, table: ShmTable, tout: int) -> None:
        self.table = table
        self.tout = tout

    @staticmethod
    def _key(callid: str) -> bytes:
        return callid.encode("utf-8", "surrogateescape")

    def _entries(self, key: bytes) -> list[tuple[str, int, int]]:
        found = self.table.get(key)
        return [tuple(e) for e in marshal.loads(found[0])] if found is not None else []  # type: ignore[misc]

    def _store(self, key: bytes, entries: list[tuple[str, int, int]], before: int) -> None:
        if entries:
            self.table.put(key, marshal.dumps(entries), min(e[2] for e in entries))
        else:
            self.table.delete(key)
        if len(entries) != before:
            self.table.add(TOTAL, len(entries) - before)

    @staticmethod
    def _matches(entry: tuple[str, int, int], viabranch: str, delete: bool) -> bool:
        return entry[0] == viabranch or (delete and not viabranch)

    def lookup(self, callid: str, viabranch: str, delete: bool, now: int) -> int | None:
        """The node of the call (any of its branches for a delete without via-branch)."""
        for entry in self._entries(self._key(callid)):
            if entry[2] >= now and self._matches(entry, viabranch, delete):
                return entry[1]
        return None

    def insert(self, callid: str, viabranch: str, node: int, now: int) -> bool:
        key = self._key(callid)
        with self.table.transaction():
            entries = self._entries(key)
            before = len(entries)
            live = [e for e in entries if e[2] >= now]
            if any(e[0] == viabranch for e in live):
                return False
            live.append((viabranch, node, now + self.tout))
            self._store(key, live, before)
        return True

    def remove(self, callid: str, viabranch: str, delete: bool, now: int) -> bool:
        key = self._key(callid)
        with self.table.transaction():
            entries = self._entries(key)
            kept = [e for e in entries if e[2] >= now and not self._matches(e, viabranch, delete)]
            found = any(self._matches(e, viabranch, delete) for e in entries)
            if len(kept) != len(entries):
                self._store(key, kept, len(entries))
        return found

    def expire(self, now: int) -> int:
        """Drop every entry whose timeout passed; how many."""
        dropped = 0
        for key in self.table.keys(extra_at_most=now - 1):
            with self.table.transaction():
                entries = self._entries(key)
                kept = [e for e in entries if e[2] >= now]
                if len(kept) != len(entries):
                    self._store(key, kept, len(entries))
                    dropped += len(entries) - len(kept)
        return dropped

    def total(self) -> int:
        return self.table.counter(TOTAL)
