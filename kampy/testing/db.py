"""Read and seed the tables the config's modules use (`silo`, `location`, ...)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kampy.db import Database, connect, create_tables


class Table:
    """One table: `rows()` as dicts, `count()`, `insert(row)`, `delete(where)`."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name

    def rows(self, where: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None,
             order_by: str | None = "id") -> list[dict[str, Any]]:
        names = list(columns) if columns is not None else self.columns()
        order = order_by if order_by in names else None
        found = self.db.query(self.name, names, dict(where) if where else None, order_by=order)
        return [dict(zip(names, row, strict=True)) for row in found]

    def columns(self) -> list[str]:
        from kampy.db.schema import TABLES

        table = TABLES.get(self.name)
        if table is None:
            raise KeyError(f"unknown table {self.name!r}: pass columns=[...]")
        return [c.name for c in table.columns]

    def count(self, where: Mapping[str, Any] | None = None) -> int:
        return len(self.db.query(self.name, None, dict(where) if where else None))

    def insert(self, row: Mapping[str, Any]) -> int:
        """Insert one row (columns left out take their defaults); returns its id."""
        return self.db.insert(self.name, dict(row))

    def delete(self, where: Mapping[str, Any] | None = None) -> int:
        return self.db.delete(self.name, dict(where) if where else {})

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return f"Table({self.name!r})"


class Tables:
    """The test database, by table name: `tables["silo"].rows()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = connect(url)

    @staticmethod
    def create(url: str) -> None:
        """Create Kamailio's standard tables where they are missing."""
        db = connect(url)
        try:
            create_tables(db)
        finally:
            db.close()

    def __getitem__(self, name: str) -> Table:
        return Table(self.db, name)

    def close(self) -> None:
        self.db.close()
