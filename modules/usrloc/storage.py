"""Where usrloc keeps bindings, one `Storage` per domain (table) name.

* `SharedStorage` — Kamailio's shared memory: a table in the server's shared store, so a binding
  saved by one worker is seen by all (db_mode 0, and the memory part of db_modes 1 and 2). Each row
  carries a sync state for write-back (db_mode 2): 0 in sync, 1 new, 2 changed; deletions waiting
  for the next flush are kept in a second table.
* `LocationTable` — Kamailio's `location` table (schema v9): the write-through/write-back target
  of db_modes 1 and 2, and the only storage of db_mode 3.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any, Protocol

from kampy.api import Database, SharedStore

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


# ---------------------------------------------------------------- shared store

_SHARED_COLUMNS = ", ".join(CONTACT_FIELDS)
_TEXT = frozenset({"aor", "contact", "ruid", "callid", "user_agent", "received", "path", "socket",
                   "instance"})
_SHARED_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS usrloc_contact (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    domain TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    {", ".join(f"{name} {'TEXT' if name in _TEXT else 'INTEGER'}" for name in CONTACT_FIELDS)},
    UNIQUE (domain, ruid)
);
CREATE INDEX IF NOT EXISTS usrloc_contact_aor ON usrloc_contact (domain, aor);
CREATE INDEX IF NOT EXISTS usrloc_contact_expires ON usrloc_contact (domain, expires);
CREATE TABLE IF NOT EXISTS usrloc_deleted (domain TEXT NOT NULL, ruid TEXT NOT NULL,
                                           PRIMARY KEY (domain, ruid));
CREATE TABLE IF NOT EXISTS usrloc_once (name TEXT PRIMARY KEY);
"""


_SELECT = f"SELECT {_SHARED_COLUMNS} FROM usrloc_contact WHERE domain = ? AND "
_BY_AOR = _SELECT + "aor = ? ORDER BY seq"
_BY_RUID = _SELECT + "ruid = ?"
_ALL = _SELECT + "1 ORDER BY seq"
_EXPIRED = _SELECT + "expires != 0 AND expires <= ? ORDER BY expires, seq"  # the index's order
_INSERT = (f"INSERT OR REPLACE INTO usrloc_contact (domain, state, {_SHARED_COLUMNS}) "
           f"VALUES ({', '.join('?' * (len(CONTACT_FIELDS) + 2))})")
_UPDATE_FIELDS = tuple(n for n in CONTACT_FIELDS if n != "ruid")
_UPDATE = (f"UPDATE usrloc_contact SET {', '.join(f'{n} = ?' for n in _UPDATE_FIELDS)}, "
           "state = CASE state WHEN 0 THEN ? ELSE state END WHERE domain = ? AND ruid = ?")


# insert() names the columns one by one (the hot path of save()); they must stay UContact's fields.
assert CONTACT_FIELDS == ("aor", "contact", "ruid", "expires", "q", "callid", "cseq", "flags", "cflags",
                          "user_agent", "received", "path", "socket", "methods", "instance", "reg_id",
                          "last_modified", "server_id", "connection_id", "keepalive")


def _contact_from_row(row: tuple[Any, ...]) -> UContact:
    return UContact(*row)  # the columns are CONTACT_FIELDS, in UContact's order


class SharedStorage:
    """A domain's bindings in the shared store (every worker sees the same rows)."""

    def __init__(self, store: SharedStore, domain: str, write_back: bool = False) -> None:
        self.store = store
        self.domain = domain
        self.write_back = write_back
        store.executescript(_SHARED_SCHEMA)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Serialise a read-modify-write of bindings across workers (Kamailio's udomain lock):
        one transaction under the shared store's writers' lock."""
        return self.store.transaction()

    def once(self, name: str) -> bool:
        """True for the first process asking (loading the DB into the shared store happens once)."""
        return self.store.execute("INSERT OR IGNORE INTO usrloc_once (name) VALUES (?)",
                                  (f"{self.domain}:{name}",)) == 1

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[UContact]:
        return [UContact(*r) for r in self.store.query(sql, (self.domain, *params))]

    def contacts(self, aor: str) -> list[UContact]:
        return self._select(_BY_AOR, (aor,))

    def by_ruid(self, ruid: str) -> UContact | None:
        found = self._select(_BY_RUID, (ruid,))
        return found[0] if found else None

    def all(self) -> list[UContact]:
        return self._select(_ALL, ())

    def expired(self, now: float) -> list[UContact]:
        return self._select(_EXPIRED, (int(now),))

    def insert(self, contact: UContact, state: int | None = None) -> None:
        if state is None:
            state = STATE_NEW if self.write_back and not contact.flags & FL_MEM else STATE_SYNC
        c = contact
        self.store.execute(_INSERT, (self.domain, state, c.aor, c.contact, c.ruid, c.expires, c.q, c.callid,
                                     c.cseq, c.flags, c.cflags, c.user_agent, c.received, c.path, c.socket,
                                     c.methods, c.instance, c.reg_id, c.last_modified, c.server_id,
                                     c.connection_id, c.keepalive))

    def update(self, contact: UContact) -> None:
        dirty = STATE_DIRTY if self.write_back and not contact.flags & FL_MEM else STATE_SYNC
        self.store.execute(_UPDATE, (*[getattr(contact, n) for n in _UPDATE_FIELDS], dirty, self.domain,
                                     contact.ruid))

    def delete(self, contact: UContact) -> None:
        if self.write_back and not contact.flags & FL_MEM:
            rows = self.store.query("SELECT state FROM usrloc_contact WHERE domain = ? AND ruid = ?",
                                    (self.domain, contact.ruid))
            if rows and rows[0][0] != STATE_NEW:  # a row never flushed needs no DB delete
                self.store.execute("INSERT OR IGNORE INTO usrloc_deleted (domain, ruid) VALUES (?, ?)",
                                   (self.domain, contact.ruid))
        self.store.execute("DELETE FROM usrloc_contact WHERE domain = ? AND ruid = ?",
                           (self.domain, contact.ruid))

    def delete_expired(self, now: float) -> int:
        """Remove every expired contact in one statement (for a domain without write-back or a
        table to keep in step); returns how many."""
        return self.store.execute("DELETE FROM usrloc_contact WHERE domain = ? AND expires != 0 "
                                  "AND expires <= ?", (self.domain, int(now)))

    def count_aors(self) -> int:
        return int(self.store.query("SELECT COUNT(DISTINCT aor) FROM usrloc_contact WHERE domain = ?",
                                    (self.domain,))[0][0])

    def count_contacts(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM usrloc_contact WHERE domain = ?",
                                    (self.domain,))[0][0])

    # -------------------------------------------------- write-back (db_mode 2)

    def pending(self) -> tuple[list[tuple[int, UContact]], list[str]]:
        """(state, contact) for every row not in sync, and the ruids deleted since the last flush."""
        rows = self.store.query(f"SELECT state, {_SHARED_COLUMNS} FROM usrloc_contact "
                                "WHERE domain = ? AND state != 0 ORDER BY seq", (self.domain,))
        deleted = [r[0] for r in self.store.query("SELECT ruid FROM usrloc_deleted WHERE domain = ?",
                                                  (self.domain,))]
        return [(r[0], _contact_from_row(r[1:])) for r in rows], deleted

    def mark_synced(self, contact: UContact, state: int) -> None:
        """Back in sync, unless the row changed again (its state moved) since it was read."""
        self.store.execute("UPDATE usrloc_contact SET state = 0 WHERE domain = ? AND ruid = ? AND state = ? "
                           "AND last_modified = ?", (self.domain, contact.ruid, state, contact.last_modified))

    def forget_deleted(self, ruid: str) -> None:
        self.store.execute("DELETE FROM usrloc_deleted WHERE domain = ? AND ruid = ?", (self.domain, ruid))


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
    return int(dt.datetime.fromisoformat(str(value)).timestamp())


_DB_COLUMNS = ("ruid", "username", "domain", "contact", "received", "path", "expires", "q", "callid",
               "cseq", "flags", "cflags", "user_agent", "socket", "methods", "instance", "reg_id",
               "server_id", "connection_id", "keepalive", "last_modified")


class LocationTable:
    """A usrloc domain in Kamailio's `location` table (or another table of the same layout), with
    the values written as Kamailio's db_insert_ucontact writes them: DATETIME `expires` and
    `last_modified`, `q` as a float (-1 unspecified), `methods` NULL for all methods, the AoR split
    into `username`/`domain` when use_domain is on."""

    def __init__(self, db: Database, table: str, use_domain: bool) -> None:
        self.db = db
        self.table = table
        self.use_domain = use_domain

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield

    def _key(self, aor: str) -> dict[str, Any]:
        if self.use_domain:
            user, _, domain = aor.partition("@")
            return {"username": user, "domain": domain}
        return {"username": aor}

    def row(self, c: UContact) -> dict[str, Any]:
        row: dict[str, Any] = {**self._key(c.aor), "contact": c.contact,
                               "expires": _to_datetime(c.expires), "q": q_float(c.q), "callid": c.callid,
                               "cseq": c.cseq, "flags": c.flags, "cflags": c.cflags,
                               "user_agent": c.user_agent}
        for name in ("received", "path", "socket"):
            if getattr(c, name) is not None:
                row[name] = getattr(c, name)
        if c.methods != 0xFFFFFFFF:
            row["methods"] = c.methods
        row["last_modified"] = _to_datetime(c.last_modified)
        row["ruid"] = c.ruid
        if c.instance:
            row["instance"] = c.instance
        row.update(reg_id=c.reg_id, server_id=c.server_id, connection_id=c.connection_id,
                   keepalive=c.keepalive)
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
        return [self.from_row(r) for r in self.db.query(self.table, _DB_COLUMNS, where, order_by="id")]

    def contacts(self, aor: str) -> list[UContact]:
        return self._select(self._key(aor))

    def by_ruid(self, ruid: str) -> UContact | None:
        found = self._select({"ruid": ruid})
        return found[0] if found else None

    def all(self) -> list[UContact]:
        return self._select(None)

    def expired(self, now: float) -> list[UContact]:
        return self._select([("expires", "<=", _to_datetime(int(now))),
                             ("expires", ">", _to_datetime(0))])

    def insert(self, contact: UContact) -> None:
        if not contact.flags & FL_MEM:
            self.db.insert(self.table, self.row(contact))

    def update(self, contact: UContact) -> None:
        if contact.flags & FL_MEM:
            return
        row = self.row(contact)
        row.pop("ruid")
        if self.db.update(self.table, {"ruid": contact.ruid}, row) == 0 and not self._exists(contact.ruid):
            self.db.insert(self.table, self.row(contact))

    def _exists(self, ruid: str) -> bool:
        return bool(self.db.query(self.table, ["id"], {"ruid": ruid}, limit=1))

    def delete(self, contact: UContact) -> None:
        if not contact.flags & FL_MEM:
            self.db.delete(self.table, {"ruid": contact.ruid})

    def delete_ruid(self, ruid: str) -> None:
        self.db.delete(self.table, {"ruid": ruid})

    def count_aors(self) -> int:
        cols = "username, domain" if self.use_domain else "username"
        q = self.db.dialect.ident
        rows = self.db.raw_query(f"SELECT COUNT(*) FROM (SELECT DISTINCT {cols} FROM {q(self.table)}) t")
        return int(rows[0][0])

    def count_contacts(self) -> int:
        rows = self.db.raw_query(f"SELECT COUNT(*) FROM {self.db.dialect.ident(self.table)}")
        return int(rows[0][0])
