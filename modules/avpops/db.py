"""avpops' table (usr_preferences by default, or a db_scheme's table) as avpops_db.c reads and
writes it: the selection by uuid, or by username and domain, and by attribute."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kampy.api import Database, DBResult

from .params import Scheme

# the type column's bits
NAME_INT, VAL_INT = 1 << 1, 1 << 0


@dataclass(frozen=True)
class Columns:
    uuid: str
    attribute: str
    value: str
    type: str
    username: str
    domain: str


class AvpTable:
    def __init__(self, db: Database, table: str, columns: Columns) -> None:
        self.db = db
        self.table = table
        self.columns = columns

    def _selection(self, uuid: str | None, username: str | None, domain: str | None, attr: str | None,
                   scheme: Scheme | None) -> dict[str, Any]:
        c = self.columns
        where: dict[str, Any] = {}
        if uuid is not None:
            where[(scheme and scheme.uuid_col) or c.uuid] = uuid
        else:
            if username is not None:
                where[(scheme and scheme.username_col) or c.username] = username
            if domain is not None:
                where[(scheme and scheme.domain_col) or c.domain] = domain
        if attr is not None and scheme is None:
            where[c.attribute] = attr
        return where

    def load(self, uuid: str | None, username: str | None, domain: str | None, attr: str | None,
             table: str | None, scheme: Scheme | None) -> list[tuple[Any, ...]]:
        """db_load_avp(): (value, attribute, type) rows, or (value,) rows of a scheme."""
        where = self._selection(uuid, username, domain, attr, scheme)
        if scheme is not None:
            return self.db.query(scheme.table or self.table, [scheme.value_col or self.columns.value], where)
        c = self.columns
        return self.db.query(table or self.table, [c.value, c.attribute, c.type], where)

    def store(self, row: dict[str, Any], table: str | None) -> None:
        self.db.insert(table or self.table, row)

    def delete(self, uuid: str | None, username: str | None, domain: str | None, attr: str | None,
               table: str | None) -> None:
        self.db.delete(table or self.table, self._selection(uuid, username, domain, attr, None))

    def raw(self, query: str) -> DBResult:
        return self.db.execute(query)
