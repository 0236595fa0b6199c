"""Where usrloc keeps bindings, one `Storage` per domain (table) name.

* `SharedStorage` — Kamailio's shared memory: a shared-memory table of the server's shared store,
  so a binding saved by one worker is seen by all (db_mode 0, and the memory part of db_modes 1 and
  2). Each contact carries a sync state for write-back (db_mode 2): 0 in sync, 1 new, 2 changed;
  deletions waiting for the next flush are kept as keys of their own.
* `LocationTable` — Kamailio's `location` table (schema v9): the write-through/write-back target
  of db_modes 1 and 2, and the only storage of db_mode 3.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import marshal
import operator
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kampy.api import Database, DBError, SharedStore, ShmTable, TableFull, as_bytes

from .ucontact import CONTACT_FIELDS, FL_MEM, UContact, q_float, q_from_float

log = logging.getLogger("kampy.usrloc")

STATE_SYNC, STATE_NEW, STATE_DIRTY = 0, 1, 2


class Storage(Protocol):
    """The operations usrloc needs from a place that holds bindings. Contacts of one AoR come
    back in the order they were first inserted."""

    def contacts(self, aor: str) -> list[UContact]: ...

    def by_ruid(self, ruid: str) -> UContact | None: ...

    def insert(self, contact: UContact) -> None: ...

    def update(self, contact: UContact) -> None: ...

    def delete(self, contact: UContact) -> None: ...

    def all(self) -> list[UContact]: ...

    def expired(self, now: float) -> list[UContact]: ...

    def count_aors(self) -> int: ...

    def count_contacts(self) -> int: ...

    def lock(self) -> contextlib.AbstractContextManager[None]: ...


# ---------------------------------------------------------------- shared memory

# The keys of a domain's table: an AoR's record, a contact's AoR by ruid, a once-flag, a deletion
# waiting for the next write-back.
_AOR, _RUID, _ONCE, _DELETED = b"A", b"R", b"O", b"D"
AORS, CONTACTS, SEQ = 0, 1, 2        # the table's counters
FLAG_UNSYNCED = 1                    # a record holding a contact not in sync with the table (db_mode 2)
_NO_EXPIRY = 1 << 62
# A record is a tuple of rows (seq, state, *CONTACT_FIELDS), in the order they were first inserted.
_SEQ, _STATE, _RUID_AT, _EXPIRES_AT = 0, 1, 4, 5
_LAST_MODIFIED_AT = 2 + CONTACT_FIELDS.index("last_modified")
_fields = operator.attrgetter(*CONTACT_FIELDS)
Row = tuple[Any, ...]

assert CONTACT_FIELDS[2:4] == ("ruid", "expires")


class MemoryFull(DBError):
    """The domain's shared table has no room for a change (Kamailio: out of shared memory); the
    change is not made. `op` as DBWriteError's, so registrar answers as for a failed insert."""

    op = "insert"


class _Lock:
    """A domain's lock: the table's transaction, with a full table reported as `MemoryFull`
    (and told to `on_full`), and a growth of the table during it told to `on_grow`."""

    __slots__ = ("table", "transaction", "on_full", "on_grow", "generation")

    def __init__(self, table: ShmTable, on_full: Callable[[], None], on_grow: Callable[[], None]) -> None:
        self.table = table
        self.transaction = table.transaction()
        self.on_full = on_full
        self.on_grow = on_grow
        self.generation = 0

    def __enter__(self) -> None:
        self.transaction.__enter__()
        self.generation = self.table.generation

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            self.transaction.__exit__(kind, exc, tb)  # type: ignore[arg-type]
        except TableFull as full:
            self.on_full()
            log.error("usrloc: out of shared memory, change not made: %s", full)
            raise MemoryFull(str(full)) from None
        if self.table.generation != self.generation:
            self.on_grow()


def _key(kind: bytes, text: str) -> bytes:
    return kind + as_bytes(text)


def _contact(row: Row) -> UContact:
    return UContact(*row[2:])


def _index(rows: list[Row], ruid: str) -> int:
    """Where the contact `ruid` is in `rows`, or -1."""
    return next((i for i, row in enumerate(rows) if row[_RUID_AT] == ruid), -1)


class SharedStorage:
    """A domain's bindings in shared memory (every worker sees the same): one key per AoR in a
    table of the server's shared store (`SharedStore.table`), its value all the AoR's contacts.
    Reads take no lock; `lock()` is the table's transaction (Kamailio's udomain lock), and a
    change outside one is a transaction of its own."""

    def __init__(self, store: SharedStore, domain: str, write_back: bool = False,
                 capacity: int = 1 << 18, max_capacity: int = 0,
                 on_full: Callable[[], None] = lambda: None, on_grow: Callable[[], None] = lambda: None,
                 ) -> None:
        """`capacity` index entries at first, growing up to `max_capacity` (0: fixed); `on_full` is
        called for each change refused because the table is full and cannot grow, `on_grow` when a
        change of this process made it grow."""
        self.domain = domain
        self.write_back = write_back
        self.table = store.table(f"usrloc.{domain}", capacity, max_capacity)
        self._lock = _Lock(self.table, on_full, on_grow)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return self._lock

    def once(self, name: str) -> bool:
        """True for the first process asking (loading the DB into shared memory happens once)."""
        key = _key(_ONCE, name)
        with self._lock:
            if self.table.get(key) is not None:
                return False
            self.table.put(key, b"")
            return True

    # -------------------------------------------------- records

    def _rows(self, aor: str) -> list[Row]:
        found = self.table.get(_key(_AOR, aor))
        return list(marshal.loads(found[0])) if found is not None else []

    def _aor_of(self, ruid: str) -> str | None:
        found = self.table.get(_key(_RUID, ruid))
        return found[0].decode("utf-8", "surrogateescape") if found is not None else None

    def _store(self, aor: str, rows: list[Row], before: int) -> None:
        """Write `aor`'s record (`before`: how many contacts it had)."""
        table, key = self.table, _key(_AOR, aor)
        if rows:
            soonest = min((r[_EXPIRES_AT] for r in rows if r[_EXPIRES_AT]), default=_NO_EXPIRY)
            flags = FLAG_UNSYNCED if any(r[_STATE] for r in rows) else 0
            table.put(key, marshal.dumps(tuple(rows)), soonest, flags)
        else:
            table.delete(key)
        if bool(rows) != bool(before):
            table.add(AORS, 1 if rows else -1)
        if len(rows) != before:
            table.add(CONTACTS, len(rows) - before)

    def _next_seq(self) -> int:
        self.table.add(SEQ, 1)
        return self.table.counter(SEQ)

    def _remove(self, ruid: str) -> Row | None:
        """Take the contact `ruid` out of its record; its row, or None."""
        aor = self._aor_of(ruid)
        if aor is None:
            return None
        rows = self._rows(aor)
        i = _index(rows, ruid)
        if i < 0:
            return None
        row = rows.pop(i)
        self._store(aor, rows, len(rows) + 1)
        self.table.delete(_key(_RUID, ruid))
        return row

    def _append(self, row: Row) -> None:
        aor = row[2]
        rows = self._rows(aor)
        before = len(rows)
        rows.append(row)
        rows.sort(key=lambda r: r[_SEQ])  # a moved contact keeps its place in insertion order
        self._store(aor, rows, before)
        self.table.put(_key(_RUID, row[_RUID_AT]), as_bytes(aor))

    # -------------------------------------------------- Storage

    def contacts(self, aor: str) -> list[UContact]:
        return [_contact(r) for r in self._rows(aor)]

    def by_ruid(self, ruid: str) -> UContact | None:
        aor = self._aor_of(ruid)
        if aor is None:
            return None
        return next((_contact(r) for r in self._rows(aor) if r[_RUID_AT] == ruid), None)

    def all(self) -> list[UContact]:
        return [_contact(r) for r in self._scan()]

    def expired(self, now: float) -> list[UContact]:
        """The contacts expired at `now`, soonest first, read without the lock (a caller acting on
        one re-reads it under the lock)."""
        rows = []
        for key in self.table.keys(prefix=_AOR, extra_at_most=int(now)):
            found = self.table.get(key)
            if found is not None:
                rows += [r for r in marshal.loads(found[0]) if r[_EXPIRES_AT] and r[_EXPIRES_AT] <= now]
        return [_contact(r) for r in sorted(rows, key=lambda r: (r[_EXPIRES_AT], r[_SEQ]))]

    def _scan(self, flags_any: int = 0) -> list[Row]:
        """Every row of the records picked, in insertion order."""
        items = self.table.items(prefix=_AOR, flags_any=flags_any)
        rows = [row for item in items for row in marshal.loads(item.value)]
        rows.sort(key=lambda r: r[_SEQ])
        return rows

    def insert(self, contact: UContact, state: int | None = None) -> None:
        """Add a contact at the end of its AoR's record; one with the same ruid is replaced."""
        if state is None:
            state = STATE_NEW if self.write_back and not contact.flags & FL_MEM else STATE_SYNC
        with self._lock:
            self._remove(contact.ruid)
            self._append((self._next_seq(), state, *_fields(contact)))

    def update(self, contact: UContact) -> None:
        """Replace the contact with `contact.ruid` in place; nothing when there is none."""
        with self._lock:
            aor = self._aor_of(contact.ruid)
            if aor is None:
                return
            rows = self._rows(aor)
            i = _index(rows, contact.ruid)
            if i < 0:
                return
            old = rows[i]
            state = old[_STATE]
            if state == STATE_SYNC and self.write_back and not contact.flags & FL_MEM:
                state = STATE_DIRTY
            row = (old[_SEQ], state, *_fields(contact))
            if contact.aor == aor:
                rows[i] = row
                self._store(aor, rows, len(rows))
            else:
                self._remove(contact.ruid)
                self._append(row)

    def set_fields(self, ruid: str, **fields: Any) -> UContact | None:
        """Change fields of the contact `ruid` in memory only, its sync state kept (Kamailio's
        keepalive bookkeeping, which no database write follows); the changed contact, or None."""
        with self._lock:
            aor = self._aor_of(ruid)
            rows = self._rows(aor) if aor is not None else []
            i = _index(rows, ruid)
            if i < 0:
                return None
            changed = _contact(rows[i]).copy(**fields)
            rows[i] = (rows[i][_SEQ], rows[i][_STATE], *_fields(changed))
            self._store(changed.aor, rows, len(rows))
            return changed

    def delete(self, contact: UContact) -> None:
        with self._lock:
            row = self._remove(contact.ruid)
            if row is not None and row[_STATE] != STATE_NEW and self.write_back \
                    and not contact.flags & FL_MEM:  # a row never flushed needs no DB delete
                self.table.put(_key(_DELETED, contact.ruid), b"")

    def delete_expired(self, now: float) -> int:
        """Remove every expired contact (for a domain without write-back or a table to keep in
        step); returns how many. One transaction per record, so that saves in other workers wait
        for one record at most, however many expire at once (Kamailio locks slot by slot)."""
        removed = 0
        for key in self.table.keys(prefix=_AOR, extra_at_most=int(now)):
            with self._lock:
                found = self.table.get(key)
                if found is None or found[1] > now:
                    continue
                rows = marshal.loads(found[0])
                kept = [r for r in rows if not r[_EXPIRES_AT] or r[_EXPIRES_AT] > now]
                for r in rows:
                    if r[_EXPIRES_AT] and r[_EXPIRES_AT] <= now:
                        self.table.delete(_key(_RUID, r[_RUID_AT]))
                self._store(key[1:].decode("utf-8", "surrogateescape"), kept, len(rows))
                removed += len(rows) - len(kept)
        return removed

    def count_aors(self) -> int:
        return self.table.counter(AORS)

    def count_contacts(self) -> int:
        return self.table.counter(CONTACTS)

    # -------------------------------------------------- write-back (db_mode 2)

    def pending(self) -> tuple[list[tuple[int, UContact]], list[str]]:
        """(state, contact) for every contact not in sync, and the ruids deleted since the last
        flush."""
        rows = [r for r in self._scan(flags_any=FLAG_UNSYNCED) if r[_STATE] != STATE_SYNC]
        deleted = [item.key[1:].decode("utf-8", "surrogateescape")
                   for item in self.table.items(prefix=_DELETED)]
        return [(r[_STATE], _contact(r)) for r in rows], deleted

    def mark_synced(self, contact: UContact, state: int) -> None:
        """Back in sync, unless the contact changed again (its state moved) since it was read."""
        with self._lock:
            aor = self._aor_of(contact.ruid)
            rows = self._rows(aor) if aor is not None else []
            i = _index(rows, contact.ruid)
            if i < 0 or rows[i][_STATE] != state or rows[i][_LAST_MODIFIED_AT] != contact.last_modified:
                return
            rows[i] = (rows[i][_SEQ], STATE_SYNC, *rows[i][2:])
            self._store(rows[i][2], rows, len(rows))

    def forget_deleted(self, ruid: str) -> None:
        self.table.delete(_key(_DELETED, ruid))


# ---------------------------------------------------------------- the location table

def _to_datetime(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts)


def _from_datetime(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    if str(value).isdigit():  # expires_type 1 in a column SQLite reads back as text
        return int(str(value))
    return int(dt.datetime.fromisoformat(str(value)).timestamp())


_DB_COLUMNS = ("ruid", "username", "domain", "contact", "received", "path", "expires", "q", "callid",
               "cseq", "flags", "cflags", "user_agent", "socket", "methods", "instance", "reg_id",
               "server_id", "connection_id", "keepalive", "last_modified")
# the module parameter naming each column; last_modified has none in Kamailio
COLUMN_PARAMS = {
    "ruid_column": "ruid", "user_column": "username", "domain_column": "domain",
    "contact_column": "contact", "expires_column": "expires", "q_column": "q", "callid_column": "callid",
    "cseq_column": "cseq", "flags_column": "flags", "cflags_column": "cflags",
    "user_agent_column": "user_agent", "received_column": "received", "path_column": "path",
    "socket_column": "socket", "methods_column": "methods", "instance_column": "instance",
    "reg_id_column": "reg_id", "server_id_column": "server_id", "connection_id_column": "connection_id",
    "keepalive_column": "keepalive", "partition_column": "partition"}
# written NULL with db_insert_null, left out of the INSERT otherwise (db_insert_ucontact)
_NULLABLE = ("received", "path", "socket", "methods", "instance")
CONTACT_ONLY, CONTACT_CALLID, CONTACT_PATH = 0, 1, 2


@dataclass(frozen=True)
class TableOptions:
    """How usrloc's parameters shape its SQL on the location table (Kamailio's ul_* globals)."""

    use_domain: bool = False
    columns: Mapping[str, str] = field(default_factory=dict)  # kampy's name -> the table's
    insert_update: bool = False       # db_insert_update: INSERT, or UPDATE the row of the same ruid
    update_as_insert: bool = False    # db_update_as_insert: an UPDATE is written as an INSERT
    check_update: bool = False        # db_check_update: an UPDATE that changed no row becomes an INSERT
    ops_ruid: bool = True             # db_ops_ruid: UPDATE/DELETE by ruid, else by AoR and contact
    matching_mode: int = CONTACT_ONLY
    expires_type: int = 0             # 1: expires and last_modified as seconds since the epoch
    insert_null: bool = False         # db_insert_null
    server_id: int | None = None      # server_id_filter: read only this server's rows (None: all)
    keep: Callable[[UContact], bool] | None = None  # skip_remote_socket: which rows read are used

    def col(self, name: str) -> str:
        return self.columns.get(name, name)


class Partitions:
    """The `partition` column of the rows usrloc inserts (Kamailio's db_insert_ucontact): 0, or,
    once a maximum is set (nathelper: natping_processes * natping_interval; usrloc's own keepalives:
    timer_procs), (a counter of the writing process + its pid) % maximum, so that the pinging
    timers of db_mode 3 each read a share of the rows."""

    def __init__(self) -> None:
        self.max = 0
        self._counter = 0  # per process: each worker counts its own inserts

    def next(self) -> int:
        if self.max <= 0:
            return 0
        value = (self._counter + os.getpid()) % self.max
        self._counter += 1
        return value


class LocationTable:
    """A usrloc domain in Kamailio's `location` table (or another table of the same layout), with
    the values written as Kamailio's db_insert_ucontact writes them: DATETIME `expires` and
    `last_modified` (epoch seconds with expires_type 1), `q` as a float (-1 unspecified), `methods`
    NULL for all methods, the AoR split into `username`/`domain` when use_domain is on, the
    `partition` of `partitions` on insert. Column names are the *_column parameters'."""

    def __init__(self, db: Database, table: str, options: TableOptions | None = None,
                 partitions: Partitions | None = None) -> None:
        self.db = db
        self.table = table
        self.options = options or TableOptions()
        self.use_domain = self.options.use_domain
        self.partitions = partitions if partitions is not None else Partitions()
        self.attrs: Any = None  # with xavp_contact: the contacts' fields table (attrs.AttrsTable)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield

    def _names(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` keyed by the table's column names."""
        return {self.options.col(k): v for k, v in values.items()}

    def _where(self, where: Any) -> Any:
        if isinstance(where, dict):
            where = self._names(where)
        elif isinstance(where, list):
            where = [(self.options.col(k), op, v) for k, op, v in where]
        if self.options.server_id is not None:
            extra = [(self.options.col("server_id"), "=", self.options.server_id)]
            if where is None:
                return extra
            return (list(where.items()) if isinstance(where, dict) else where) + extra
        return where

    def _time(self, ts: int) -> Any:
        return ts if self.options.expires_type == 1 else _to_datetime(ts)

    def _key(self, aor: str) -> dict[str, Any]:
        if self.use_domain:
            user, _, domain = aor.partition("@")
            return {"username": user, "domain": domain}
        return {"username": aor}

    def row(self, c: UContact) -> dict[str, Any]:
        """The row of `c`, keyed by kampy's column names."""
        row: dict[str, Any] = {**self._key(c.aor), "contact": c.contact,
                               "expires": self._time(c.expires), "q": q_float(c.q), "callid": c.callid,
                               "cseq": c.cseq, "flags": c.flags, "cflags": c.cflags,
                               "user_agent": c.user_agent}
        for name in ("received", "path", "socket"):
            if getattr(c, name) is not None:
                row[name] = getattr(c, name)
        if c.methods != 0xFFFFFFFF:
            row["methods"] = c.methods
        row["last_modified"] = self._time(c.last_modified)
        row["ruid"] = c.ruid
        if c.instance:
            row["instance"] = c.instance
        row.update(reg_id=c.reg_id, server_id=c.server_id, connection_id=c.connection_id,
                   keepalive=c.keepalive, partition=0)
        if self.options.insert_null:
            row.update({name: None for name in _NULLABLE if name not in row})
        return row

    def from_row(self, row: tuple[Any, ...]) -> UContact:
        v = dict(zip(_DB_COLUMNS, row, strict=True))
        aor = f"{v['username']}@{v['domain']}" if self.use_domain and v["domain"] else v["username"]
        methods = v["methods"]
        return UContact(
            aor=aor, contact=v["contact"], ruid=v["ruid"], expires=_from_datetime(v["expires"]),
            q=q_from_float(float(v["q"])), callid=v["callid"], cseq=int(v["cseq"]), flags=int(v["flags"]),
            cflags=int(v["cflags"]), user_agent=v["user_agent"] or "", received=v["received"] or None,
            path=v["path"] or None, socket=v["socket"] or None,
            methods=0xFFFFFFFF if methods is None else int(methods) & 0xFFFFFFFF,
            instance=v["instance"] or None, reg_id=int(v["reg_id"] or 0),
            last_modified=_from_datetime(v["last_modified"]), server_id=int(v["server_id"] or 0),
            connection_id=int(v["connection_id"] if v["connection_id"] is not None else -1),
            keepalive=int(v["keepalive"] or 0))

    def _select(self, where: Any) -> list[UContact]:
        columns = [self.options.col(c) for c in _DB_COLUMNS]
        rows = self.db.query(self.table, columns, self._where(where), order_by="id")
        found = [self.from_row(r) for r in rows]
        keep = self.options.keep
        return found if keep is None else [c for c in found if keep(c)]

    def contacts(self, aor: str) -> list[UContact]:
        return self._with_attrs(self._select(self._key(aor)))

    def by_ruid(self, ruid: str) -> UContact | None:
        found = self._with_attrs(self._select({"ruid": ruid}))
        return found[0] if found else None

    def _with_attrs(self, found: list[UContact]) -> list[UContact]:
        if self.attrs is not None and found:
            self.attrs.attach(found)
        return found

    def all(self) -> list[UContact]:
        return self._select(None)

    def in_partition(self, partition: int) -> list[UContact]:
        """The rows of one `partition` (what a pinging timer reads in db_mode 3)."""
        return self._select({"partition": partition})

    def expired(self, now: float) -> list[UContact]:
        return self._select([("expires", "<=", self._time(int(now))),
                             ("expires", ">", self._time(0))])

    def insert(self, contact: UContact) -> None:
        if contact.flags & FL_MEM:
            return
        if self.options.insert_update:
            self._insert_update(contact)
        else:
            self.db.insert(self.table, self._names(self._new_row(contact)))
        if self.attrs is not None:
            self.attrs.write(contact)

    def _new_row(self, contact: UContact) -> dict[str, Any]:
        """The row db_insert_ucontact writes: with the next `partition`."""
        return {**self.row(contact), "partition": self.partitions.next()}

    def _insert_update(self, contact: UContact) -> None:
        """db_insert_update: Kamailio's INSERT ... ON DUPLICATE KEY UPDATE on the unique ruid."""
        row = self._new_row(contact)
        ruid = row.pop("ruid")
        if self.db.update(self.table, self._names({"ruid": ruid}), self._names(row)) == 0 \
                and not self._exists(ruid):
            self.db.insert(self.table, self._names({**row, "ruid": ruid}))

    def update(self, contact: UContact) -> None:
        if contact.flags & FL_MEM:
            return
        if self.options.update_as_insert:
            self.insert(contact)
            return
        row = self.row(contact)
        row.pop("ruid")
        row.pop("partition")
        where = self._match(contact)
        for name in where:
            row.pop(name, None)
        changed = self.db.update(self.table, self._names(where), self._names(row))
        if changed == 0 and self.options.check_update and not self._exists(contact.ruid):
            self.db.insert(self.table, self._names(self._new_row(contact)))
        if self.attrs is not None:
            self.attrs.rewrite(contact)

    def _match(self, c: UContact) -> dict[str, Any]:
        """The row of `c` for an UPDATE or DELETE: by ruid (db_ops_ruid), else as Kamailio's
        db_update_ucontact_addr/_instance: AoR with contact (and Call-ID or path by matching_mode),
        or AoR with instance and reg-id."""
        if self.options.ops_ruid:
            return {"ruid": c.ruid}
        if c.instance:
            return {**self._key(c.aor), "instance": c.instance, "reg_id": c.reg_id}
        return self._match_addr(c)

    def _match_addr(self, c: UContact) -> dict[str, Any]:
        where = {**self._key(c.aor), "contact": c.contact}
        if self.options.matching_mode == CONTACT_CALLID:
            where["callid"] = c.callid
        elif self.options.matching_mode == CONTACT_PATH:
            where["path"] = c.path
        return where

    def _exists(self, ruid: str) -> bool:
        return bool(self.db.query(self.table, ["id"], self._names({"ruid": ruid}), limit=1))

    def delete(self, contact: UContact) -> None:
        if not contact.flags & FL_MEM:
            where = {"ruid": contact.ruid} if self.options.ops_ruid else self._match_addr(contact)
            self.db.delete(self.table, self._names(where))

    def delete_expired(self, now: float) -> int:
        """Kamailio's db_timer_udomain: delete every row expired at `now`; how many."""
        return self.db.delete(self.table, self._where([("expires", "<=", self._time(int(now))),
                                                       ("expires", "!=", self._time(0))]))

    def delete_tcp(self) -> int:
        """db_clean_tcp: delete the rows of bindings over TCP, TLS or WebSocket connections (which
        cannot outlive a restart); how many."""
        return self.db.delete(self.table, self._where([("connection_id", ">", 0)]))

    def delete_ruid(self, ruid: str) -> None:
        self.db.delete(self.table, self._names({"ruid": ruid}))

    def count_aors(self) -> int:
        q = self.db.dialect.ident
        cols = ", ".join(q(self.options.col(c)) for c in (("username", "domain") if self.use_domain
                                                            else ("username",)))
        rows = self.db.raw_query(f"SELECT COUNT(*) FROM (SELECT DISTINCT {cols} FROM {q(self.table)}) t")
        return int(rows[0][0])

    def count_contacts(self) -> int:
        rows = self.db.raw_query(f"SELECT COUNT(*) FROM {self.db.dialect.ident(self.table)}")
        return int(rows[0][0])
