"""What presence keeps in Kamailio's shared memory, kept where every kampy worker sees it: tables of
the server's shared store (`core.shared`), one statement or transaction per Kamailio lock section.

* `SubsTable` (hash.c's subs_htable): the subscription dialogs, in slots of
  `core_case_hash(presentity URI, event) & (2^subs_htable_size - 1)`, `expires` absolute.
* `PresIndex` (hash.c's pres_htable, publ_cache 1): which presentities have published state for an
  event, with a publication count and the RPID sphere, in slots of 2^pres_htable_size.
* `PresRecords` (hash.c's ps_ptable, publ_cache 2): the published documents themselves, newest first
  in each slot, nothing in the presentity table.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kampy.api import SharedStore, Subscription, hash2_raw

# db_flag values (hash.h)
NO_UPDATEDB_FLAG, UPDATEDB_FLAG, INSERTDB_FLAG, WTHROUGHDB_FLAG = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOTE_TYPE, LOCAL_TYPE = 1 << 1, 1 << 2

_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def core_case_hash(s1: str, s2: str | None = None, size: int = 0) -> int:
    """Kamailio's core_case_hash: ASCII letters folded, the slot index when `size` (a power of 2)."""
    h = hash2_raw(s1.translate(_FOLD), (s2 or "").translate(_FOLD))
    return h & (size - 1) if size else h


_SUBS_COLUMNS = (
    "pres_uri",
    "event",
    "event_id",
    "to_user",
    "to_domain",
    "from_user",
    "from_domain",
    "watcher_user",
    "watcher_domain",
    "to_tag",
    "from_tag",
    "callid",
    "sockinfo_str",
    "remote_cseq",
    "local_cseq",
    "contact",
    "local_contact",
    "record_route",
    "expires",
    "status",
    "reason",
    "version",
    "flags",
    "user_agent",
    "send_on_cback",
    "db_flag",
    "updated",
    "updated_winfo",
)
_INT_COLUMNS = {
    "remote_cseq",
    "local_cseq",
    "expires",
    "status",
    "version",
    "flags",
    "send_on_cback",
    "db_flag",
    "updated",
    "updated_winfo",
}


@dataclass
class StoredSubs:
    """A row of the subscription table: the dialog, its event package's name, its slot."""

    slot: int
    event_name: str
    subs: Subscription


class SubsTable:
    """subs_htable. `resolve(name)` gives the registered event of a stored event name; `uri_match`
    compares URIs (sip_uri_match: case-sensitive or not)."""

    def __init__(
        self,
        shared: SharedStore,
        size: int,
        resolve: Callable[[str], Any],
        uri_match: Callable[[str, str], bool],
        remove_match: int,
        delete_same: int,
        on_same_deleted: Callable[[Subscription], None] | None = None,
        name: str = "presence_subs",
    ) -> None:
        self.shared = shared
        self.size = size
        self.resolve = resolve
        self.uri_match = uri_match
        self.remove_match = remove_match
        self.delete_same = delete_same
        self.on_same_deleted = on_same_deleted
        self.table = name
        columns = ", ".join(f"{c} {'INTEGER' if c in _INT_COLUMNS else 'TEXT'}" for c in _SUBS_COLUMNS)
        shared.executescript(
            f"CREATE TABLE IF NOT EXISTS {name} (seq INTEGER PRIMARY KEY AUTOINCREMENT, slot INTEGER, "
            f"{columns});"
            f"CREATE INDEX IF NOT EXISTS {name}_slot ON {name}(slot);"
            f"CREATE INDEX IF NOT EXISTS {name}_dialog ON {name}(callid, to_tag, from_tag);"
        )

    def slot(self, pres_uri: str, event_name: str) -> int:
        return core_case_hash(pres_uri, event_name, self.size)

    # -------------------------------------------------------------- rows
    def _subs(self, row: tuple[Any, ...]) -> StoredSubs:
        values = dict(zip(("seq", "slot", *_SUBS_COLUMNS), row, strict=True))
        event_name = values.pop("event")
        values.pop("seq")
        slot = values.pop("slot")
        subs = Subscription(event=self.resolve(event_name), **values)
        return StoredSubs(slot, event_name, subs)

    def _select(self, where: str, params: tuple[Any, ...]) -> list[StoredSubs]:
        rows = self.shared.query(f"SELECT * FROM {self.table} WHERE {where} ORDER BY seq DESC", params)
        return [self._subs(r) for r in rows]

    @staticmethod
    def _values(subs: Subscription, event_name: str) -> list[Any]:
        data = dataclasses.asdict(subs) | {"event": event_name}
        return [
            data[c] if data[c] is not None else ("" if c not in _INT_COLUMNS else 0) for c in _SUBS_COLUMNS
        ]

    # -------------------------------------------------------------- operations
    def insert(self, subs: Subscription, event_name: str, now: int) -> None:
        """insert_shtable: `subs.expires` is relative; the copy stored has it absolute. With
        delete_same_subs, a stored dialog of the same presentity and Call-ID goes first."""
        slot = self.slot(subs.pres_uri, event_name)
        with self.shared.transaction():
            if self.delete_same:
                for old in self._select(
                    "slot = ? AND pres_uri = ? AND callid = ?", (slot, subs.pres_uri, subs.callid)
                )[:1]:
                    self._delete_row(old.subs)
                    if self.on_same_deleted is not None:
                        self.on_same_deleted(old.subs)
            stored = dataclasses.replace(subs, expires=subs.expires + now, auth_rules_doc=None, event=None)
            values = self._values(stored, event_name)
            self.shared.execute(
                f"INSERT INTO {self.table} (slot, {', '.join(_SUBS_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' * len(_SUBS_COLUMNS))})",
                [slot, *values],
            )

    def _delete_row(self, subs: Subscription) -> None:
        self.shared.execute(
            f"DELETE FROM {self.table} WHERE callid = ? AND to_tag = ? AND from_tag = ?",
            (subs.callid, subs.to_tag, subs.from_tag),
        )

    def search(self, callid: str, to_tag: str, from_tag: str, slot: int | None = None) -> StoredSubs | None:
        """search_shtable in one slot (all slots when None: get_stored_info's scan)."""
        where = "callid = ? AND to_tag = ? AND from_tag = ?"
        params: tuple[Any, ...] = (callid, to_tag, from_tag)
        if slot is not None:
            where += " AND slot = ?"
            params += (slot,)
        found = self._select(where, params)
        return found[0] if found else None

    def update(self, subs: Subscription, event_name: str, kind: int, now: int) -> bool:
        """update_shtable: REMOTE_TYPE stores the new expiry and remote CSeq; LOCAL_TYPE counts the
        local CSeq and the version up and gives them to `subs`; the contact, route set, status and
        event follow `subs`; a stored record gets UPDATEDB_FLAG. False when there is no record."""
        slot = self.slot(subs.pres_uri, event_name)
        with self.shared.transaction():
            found = self.search(subs.callid, subs.to_tag, subs.from_tag, slot)
            if found is None:
                return False
            s = found.subs
            sets: dict[str, Any] = {}
            if kind & REMOTE_TYPE:
                sets["expires"] = subs.expires + now
                sets["remote_cseq"] = subs.remote_cseq
            else:
                subs.local_cseq = sets["local_cseq"] = s.local_cseq + 1
                subs.version = sets["version"] = s.version + 1
            if not self.uri_match(s.contact, subs.contact):
                sets["contact"] = subs.contact
            sets["record_route"] = subs.record_route
            sets["status"] = subs.status
            sets["event"] = event_name
            subs.db_flag = s.db_flag
            if s.db_flag & NO_UPDATEDB_FLAG:
                sets["db_flag"] = UPDATEDB_FLAG
            self._set(found.subs, sets)
            return True

    def _set(self, subs: Subscription, sets: dict[str, Any]) -> None:
        assignments = ", ".join(f"{c} = ?" for c in sets)
        self.shared.execute(
            f"UPDATE {self.table} SET {assignments} WHERE callid = ? AND to_tag = ? AND from_tag = ?",
            [*sets.values(), subs.callid, subs.to_tag, subs.from_tag],
        )

    def set_fields(self, subs: Subscription, **sets: Any) -> None:
        """Change fields of a stored dialog (status/reason/db_flag after an authorization change)."""
        self._set(subs, sets)

    def delete(self, pres_uri: str, event_name: str, to_tag: str, from_tag: str, callid: str) -> int:
        """delete_shtable: by To-tag alone (subs_remove_match 0) or by all three dialog ids; the
        deleted record's local CSeq + 1, or -1 when none matched."""
        slot = self.slot(pres_uri, event_name)
        with self.shared.transaction():
            if self.remove_match == 0:
                rows = self._select("slot = ? AND to_tag = ?", (slot, to_tag))
            else:
                rows = self._select(
                    "slot = ? AND callid = ? AND to_tag = ? AND from_tag = ?",
                    (slot, callid, to_tag, from_tag),
                )
            if not rows:
                return -1
            s = rows[0].subs
            self.shared.execute(
                f"DELETE FROM {self.table} WHERE slot = ? AND callid = ? AND to_tag = ? AND from_tag = ?",
                (slot, s.callid, s.to_tag, s.from_tag),
            )
            return s.local_cseq + 1

    def in_slot(self, pres_uri: str, event_name: str) -> list[StoredSubs]:
        """The records of the slot `pres_uri` and `event_name` hash to (all events of that slot)."""
        return self._select("slot = ?", (self.slot(pres_uri, event_name),))

    def slots(self) -> Iterator[list[StoredSubs]]:
        """Every slot's records, slot by slot (the timer's walk)."""
        for slot in range(self.size):
            rows = self._select("slot = ?", (slot,))
            if rows:
                yield rows

    def remove(self, stored: StoredSubs) -> None:
        self._delete_row(stored.subs)

    def count(self) -> int:
        return int(self.shared.query(f"SELECT COUNT(*) FROM {self.table}")[0][0])


class PresIndex:
    """pres_htable (publ_cache 1): (presentity URI, event type) -> publication count, sphere."""

    def __init__(
        self,
        shared: SharedStore,
        size: int,
        uri_match: Callable[[str, str], bool],
        name: str = "presence_phtable",
    ) -> None:
        self.shared = shared
        self.size = size
        self.uri_match = uri_match
        self.table = name
        shared.executescript(
            f"CREATE TABLE IF NOT EXISTS {name} (slot INTEGER, pres_uri TEXT, event INTEGER, "
            f"publ_count INTEGER, sphere TEXT);"
            f"CREATE INDEX IF NOT EXISTS {name}_slot ON {name}(slot);"
        )

    def _find(self, pres_uri: str, event: int) -> tuple[int, int, str | None] | None:
        slot = core_case_hash(pres_uri, None, self.size)
        for rowid, uri, count, sphere in self.shared.query(
            f"SELECT rowid, pres_uri, publ_count, sphere FROM {self.table} WHERE slot = ? AND event = ?",
            (slot, event),
        ):
            if len(uri) == len(pres_uri) and self.uri_match(uri, pres_uri):
                return rowid, count, sphere
        return None

    def search(self, pres_uri: str, event: int) -> tuple[int, str | None] | None:
        """search_phtable: (publication count, sphere), None when nothing is published."""
        found = self._find(pres_uri, event)
        return (found[1], found[2]) if found is not None else None

    def insert(self, pres_uri: str, event: int, sphere: str | None) -> None:
        with self.shared.transaction():
            found = self._find(pres_uri, event)
            if found is not None:
                self.shared.execute(
                    f"UPDATE {self.table} SET publ_count = publ_count + 1 WHERE rowid = ?", (found[0],)
                )
                return
            self.shared.execute(
                f"INSERT INTO {self.table} VALUES (?, ?, ?, 1, ?)",
                (core_case_hash(pres_uri, None, self.size), pres_uri, event, sphere),
            )

    def delete(self, pres_uri: str, event: int) -> None:
        with self.shared.transaction():
            found = self._find(pres_uri, event)
            if found is None:
                return
            if found[1] <= 1:
                self.shared.execute(f"DELETE FROM {self.table} WHERE rowid = ?", (found[0],))
            else:
                self.shared.execute(
                    f"UPDATE {self.table} SET publ_count = publ_count - 1 WHERE rowid = ?", (found[0],)
                )

    def set_sphere(self, pres_uri: str, event: int, sphere: str) -> bool:
        """update_phtable's part: store a new sphere; True when it changed."""
        with self.shared.transaction():
            found = self._find(pres_uri, event)
            if found is None or found[2] == sphere:
                return False
            self.shared.execute(f"UPDATE {self.table} SET sphere = ? WHERE rowid = ?", (sphere, found[0]))
            return True


@dataclass
class PresRecord:
    """ps_presentity_t: one published document held in memory (publ_cache 2)."""

    user: str
    domain: str
    event: str
    etag: str
    expires: int = 0
    received_time: int = 0
    priority: int = 0
    ruid: str = ""
    sender: str = ""
    body: bytes = b""
    hashid: int = 0


_REC_COLUMNS = (
    "user",
    "domain",
    "event",
    "etag",
    "expires",
    "received_time",
    "priority",
    "ruid",
    "sender",
    "body",
    "hashid",
)


class PresRecords:
    """ps_ptable (publ_cache 2): the documents, in slots of the user and domain's hash, newest
    first in a slot (an update moves a record to the front)."""

    def __init__(self, shared: SharedStore, size: int, name: str = "presence_ptable") -> None:
        self.shared = shared
        self.size = size
        self.table = name
        self._seq = itertools.count()
        shared.executescript(
            f"CREATE TABLE IF NOT EXISTS {name} (seq INTEGER PRIMARY KEY AUTOINCREMENT, slot INTEGER, "
            "user TEXT, domain TEXT, event TEXT, etag TEXT, expires INTEGER, received_time INTEGER, "
            "priority INTEGER, ruid TEXT, sender TEXT, body BLOB, hashid INTEGER);"
            f"CREATE INDEX IF NOT EXISTS {name}_slot ON {name}(slot);"
        )

    def _slot(self, hashid: int) -> int:
        return hashid & (self.size - 1)

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[PresRecord]:
        rows = self.shared.query(
            f"SELECT {', '.join(_REC_COLUMNS)} FROM {self.table} WHERE {where} ORDER BY seq DESC", params
        )
        return [PresRecord(*r[:9], bytes(r[9] or b""), r[10]) for r in rows]

    @staticmethod
    def _match(a: PresRecord, user: str, domain: str, event: str | None, etag: str | None) -> bool:
        """ps_presentity_match: user and domain (and event, and etag), case-sensitive."""
        return (
            a.user == user
            and a.domain == domain
            and (event is None or a.event == event)
            and (etag is None or a.etag == etag)
        )

    def _write(self, rec: PresRecord) -> None:
        rec.hashid = core_case_hash(rec.user, rec.domain)
        values = [getattr(rec, c) for c in _REC_COLUMNS]
        self.shared.execute(
            f"INSERT INTO {self.table} (slot, {', '.join(_REC_COLUMNS)}) VALUES "
            f"(?, {', '.join('?' * len(_REC_COLUMNS))})",
            [self._slot(rec.hashid), *values],
        )

    def _remove(self, user: str, domain: str, event: str, etag: str) -> bool:
        hashid = core_case_hash(user, domain)
        for rec in self._rows("slot = ? AND hashid = ?", (self._slot(hashid), hashid)):
            if self._match(rec, user, domain, event, etag):
                self.shared.execute(
                    f"DELETE FROM {self.table} WHERE ruid = ? AND user = ? AND domain = ? AND "
                    "event = ? AND etag = ?",
                    (rec.ruid, user, domain, event, etag),
                )
                return True
        return False

    def insert(self, rec: PresRecord) -> None:
        with self.shared.transaction():
            self._write(rec)

    def replace(self, user: str, domain: str, event: str, etag: str, rec: PresRecord) -> None:
        """ps_ptable_replace: the matching record (if any) replaced by `rec`, at the front."""
        with self.shared.transaction():
            self._remove(user, domain, event, etag)
            self._write(rec)

    def update(self, user: str, domain: str, event: str, etag: str, rec: PresRecord) -> int:
        """ps_ptable_update: 1 when a record matched and was replaced by `rec`, else 0."""
        with self.shared.transaction():
            if not self._remove(user, domain, event, etag):
                return 0
            self._write(rec)
            return 1

    def remove(self, user: str, domain: str, event: str, etag: str) -> None:
        with self.shared.transaction():
            self._remove(user, domain, event, etag)

    def search(
        self,
        user: str,
        domain: str,
        event: str | None = None,
        etag: str | None = None,
        expires_after: int = 0,
        by_priority: bool = False,
    ) -> list[PresRecord]:
        """ps_ptable_search: the records of the user (and event, and etag) newest first, those with
        `expires` > `expires_after` when it is set; by priority (stable, ascending) with rmode 1."""
        hashid = core_case_hash(user, domain)
        found = [
            r
            for r in self._rows("slot = ? AND hashid = ?", (self._slot(hashid), hashid))
            if self._match(r, user, domain, event, etag) and (not expires_after or r.expires > expires_after)
        ]
        return sorted(found, key=lambda r: r.priority) if by_priority else found

    def get_item(self, user: str, domain: str, event: str, etag: str) -> PresRecord | None:
        found = self.search(user, domain, event, etag)
        return found[0] if found else None

    def expired(self, now: int) -> list[PresRecord]:
        """ps_ptable_get_expired: records with 0 < expires <= now."""
        return self._rows("expires > 0 AND expires <= ?", (now,))

    def all(self) -> list[PresRecord]:
        """Every record, slot by slot (presence.presentity_list)."""
        rows = self.shared.query(
            f"SELECT {', '.join(_REC_COLUMNS)} FROM {self.table} ORDER BY slot, seq DESC"
        )
        return [PresRecord(*r[:9], bytes(r[9] or b""), r[10]) for r in rows]
