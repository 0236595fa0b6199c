"""Delivery claims kept in the silo table itself, so that the workers of a server and the servers
(nodes) sharing one database never send a stored message twice at once.

A claim is a lease in the row's `status` column (`sc_status`): the time the claim lapses, 0 when the
row is free. Kamailio's silo table has that column and Kamailio never reads or writes it, so both
servers keep sharing the table. Claiming is one UPDATE that matches only while the row is free or
its lease has lapsed: the database makes it atomic across processes and machines. The worker that
sent a row renews its lease every `check_time` while the delivery waits for its final reply; a 2xx
deletes the row and a failure frees it. The claims of a worker or node that died lapse by
themselves, and the row goes out on its owner's next REGISTER at any node.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kampy.api import Database, DBError

log = logging.getLogger("kampy.msilo")

FREE = 0


class Claims:
    """This worker's claims on rows of one silo table."""

    def __init__(self, db: Database, table: str, id_col: str, status_col: str, lease: int,
                 now: Callable[[], int]) -> None:
        self._db, self._table, self._id, self._status = db, table, id_col, status_col
        self.lease = lease
        self._now = now
        self._held: dict[int, int] = {}  # row id -> the lease value this worker wrote

    def free_condition(self) -> tuple[str, str, int]:
        """The condition a row must meet to be claimed now (for the queries that look for work)."""
        return (self._status, "<=", self._now())

    def claim(self, mid: int) -> bool:
        """True when this worker now owns the delivery of row `mid`; False when another worker or
        node holds it (or the row is gone). DBError when the database fails."""
        if not mid:
            return False
        now = self._now()
        until = now + self.lease
        taken = self._db.update(self._table, [(self._id, "=", mid), (self._status, "<=", now)],
                                {self._status: until})
        if taken:
            self._held[mid] = until
        return bool(taken)

    def done(self, mid: int) -> None:
        """The row was delivered (and deleted): nothing left to release."""
        self._held.pop(mid, None)

    def release(self, mid: int, also: Mapping[str, Any] | None = None) -> None:
        """Free row `mid` for the next REGISTER (setting `also` with it), unless the claim lapsed
        and another worker or node holds it now."""
        until = self._held.pop(mid, None)
        if until is None:
            return
        try:
            self._db.update(self._table, [(self._id, "=", mid), (self._status, "=", until)],
                            {self._status: FREE, **(also or {})})
        except DBError as exc:  # the lease lapses by itself
            log.error("msilo: cannot release the claim on message %d (free again in %ds): %s", mid,
                      self.lease, exc)

    def renew(self) -> int:
        """Extend the lease of every delivery of this worker still waiting for its final reply;
        returns how many were renewed. A claim found taken over is forgotten."""
        until = self._now() + self.lease
        renewed = 0
        for mid, held in list(self._held.items()):
            if held >= until:
                continue
            try:
                kept = self._db.update(self._table, [(self._id, "=", mid), (self._status, "=", held)],
                                       {self._status: until})
            except DBError as exc:
                log.error("msilo: cannot renew the claim on message %d: %s", mid, exc)
                return renewed
            if kept:
                self._held[mid] = until
                renewed += 1
            elif self._held.get(mid) == held:  # delivered and deleted, or lapsed and taken over
                del self._held[mid]
        return renewed

    def held(self) -> list[int]:
        return sorted(self._held)
