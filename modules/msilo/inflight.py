"""The in-flight list: ids of silo rows whose MESSAGE is being delivered, shared by every worker.

Kamailio keeps this list in shared memory; kampy keeps it in the server's shared store, so a
message is never sent twice at once whichever worker handles the REGISTER. Claiming is one
`INSERT OR IGNORE` on the primary key (atomic across processes). A claim is released when the
final reply arrives; claims of a worker that died are released by the cleanup timer after
`timeout` seconds. The store belongs to one server run: claims vanish with it.
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("kampy.msilo")

TABLE = "msilo_inflight"


class InFlight:
    def __init__(self, store: Any, rank: int, clock: Any, timeout: float) -> None:
        self._store = store
        self._rank = rank
        self._clock = clock
        self.timeout = timeout
        store.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} "
                      "(id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, since REAL NOT NULL)")

    def claim(self, mid: int) -> bool:
        """True when this worker now owns the delivery of row `mid`; False when one is under way."""
        if not mid:
            return False
        return self._store.execute(f"INSERT OR IGNORE INTO {TABLE} (id, owner, since) VALUES (?, ?, ?)",
                                   (mid, self._rank, self._clock.time())) == 1

    def release(self, mid: int) -> None:
        self._store.execute(f"DELETE FROM {TABLE} WHERE id = ? AND owner = ?", (mid, self._rank))

    def expire(self) -> int:
        """Drop claims older than the timeout (their worker died or lost the reply)."""
        count = self._store.execute(f"DELETE FROM {TABLE} WHERE since < ?",
                                    (self._clock.time() - self.timeout,))
        if count:
            log.warning("msilo: released %d delivery claim(s) older than %gs", count, self.timeout)
        return count

    def ids(self) -> list[int]:
        return [row[0] for row in self._store.query(f"SELECT id FROM {TABLE} ORDER BY id")]
