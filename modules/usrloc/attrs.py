"""xavp_contact: the fields of an XAVP stored with each contact at save() and given back to the
message at lookup() (Kamailio's ucontact_xavp_store() and registrar's xavp_insert() of them).

A contact keeps one XAVP item as `{field: [values]}` (strings and integers only: Kamailio clones one
level, without data values or nested XAVPs). At lookup the contact of the R-URI gets index 0 of
`$xavp(<xavp_contact>)` and the contact of branch n index n; indexes left between are empty items.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kampy.api import Database, DBError, MessageContext, xavp_clone_level, xavp_insert

log = logging.getLogger("kampy.usrloc")

Attrs = dict[str, list[Any]]


def stored_attrs(ctx: MessageContext, name: str | None) -> Attrs | None:
    """What a contact saved with `ctx` keeps: the first item of $xavp(name), None without one."""
    if not name:
        return None
    items = ctx.xavps.get(name)
    return xavp_clone_level(items[0]) if items and isinstance(items[0], dict) else None


def insert_attrs(ctx: MessageContext, name: str, attrs: Attrs, index: int | None) -> None:
    """Give `attrs` back as item `index` of $xavp(name) (xavp_insert); None puts it first."""
    xavp_insert(ctx.xavps, name, {field: list(values) for field, values in attrs.items()}, index)


class AttrsTable:
    """The stored fields in the database (db_mode 1-3): `<domain>_attrs` (location_attrs), one row
    per value (`aname`, `atype` 0 string / 1 integer, `avalue`), keyed by `ruid` and the contact's
    `username` (and `domain` with use_domain), as Kamailio's uldb_insert_attrs() writes them. A
    contact's rows are rewritten when it is updated and read back with it; as in Kamailio 5.6,
    deleting a contact leaves its rows, and loading the table at start deletes rows whose contact
    is gone."""

    def __init__(self, db: Database, domain: str, use_domain: bool,
                 stamp: Callable[[], Any]) -> None:
        self.db = db
        self.table = f"{domain}_attrs"
        self.use_domain = use_domain
        self.stamp = stamp  # the `last_modified` value of a new row

    def _key(self, aor: str) -> dict[str, Any]:
        if self.use_domain:
            user, _, domain = aor.partition("@")
            return {"username": user, "domain": domain}
        return {"username": aor}

    def write(self, c: Any) -> None:
        """Insert the rows of `c`'s fields (none when it has none)."""
        if not c.xavp:
            return
        base = {**self._key(c.aor), "ruid": c.ruid, "last_modified": self.stamp()}
        try:
            for name, values in c.xavp.items():
                for value in values:
                    is_int = isinstance(value, int)
                    self.db.insert(self.table, {**base, "aname": name, "atype": 1 if is_int else 0,
                                                "avalue": str(value)})
        except DBError as exc:
            log.error("inserting contact attributes in db failed: %s", exc)

    def rewrite(self, c: Any) -> None:
        """An updated contact: its old rows deleted, the current fields written."""
        try:
            self.db.delete(self.table, {**self._key(c.aor), "ruid": c.ruid})
        except DBError as exc:
            log.error("deleting contact attributes from db failed: %s", exc)
            return
        self.write(c)

    def _rows(self, where: dict[str, Any] | None) -> list[tuple[Any, ...]]:
        try:
            return self.db.query(self.table, ["ruid", "aname", "atype", "avalue", "username", "domain"],
                                 where, order_by="id")
        except DBError as exc:
            log.error("reading contact attributes failed: %s", exc)
            return []

    def attach(self, contacts: list[Any], clean: bool = False) -> None:
        """Give each contact its stored fields (Kamailio's db_load_urecord, or uldb_preload_attrs
        with `clean`: every row read at once, those of no contact deleted)."""
        by_ruid = {c.ruid: c for c in contacts}
        if clean:
            rows = self._rows(None)
        else:
            rows = [r for c in contacts for r in self._rows({"ruid": c.ruid})]
        orphans: set[tuple[Any, ...]] = set()
        for ruid, name, atype, value, user, domain in rows:
            c = by_ruid.get(ruid)
            if c is None:
                orphans.add((ruid, user, domain))
                continue
            if int(atype or 0) == 1:
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    continue
            elif int(atype or 0) != 0:
                continue
            attrs = c.xavp if c.xavp is not None else {}
            attrs.setdefault(name, []).insert(0, value)  # xavp_add_value: the newest first
            c.xavp = attrs
        for ruid, user, domain in orphans:
            log.info("no contact record for this ruid")
            where = {"username": user, "ruid": ruid, **({"domain": domain} if self.use_domain else {})}
            try:
                self.db.delete(self.table, where)
            except DBError as exc:
                log.error("deleting contact attributes from db failed: %s", exc)
