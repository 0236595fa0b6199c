"""Kamailio-style database API: a URL gives a `Database`; operations go by table and column with
typed values (int, float, str, bytes, datetime, None), always parameterised.

    db = connect("mysql://kamailio:kamailiorw@localhost/kamailio")
    check_table_version(db, "silo", 8)
    mid = db.insert("silo", {"username": "alice", "domain": "example.org", "body": b"hi"})
    rows = db.query("silo", ["id", "body"], {"username": "alice"}, order_by="id", limit=10)

Drivers live in the modules db_mysql and db_sqlite; each registers its URL scheme when imported,
and `connect` imports `db_<scheme>` through the module loader the first time a scheme is seen.
"""
from kampy.db.database import Backend, Database, Driver, Result, connect, driver_for, register_driver
from kampy.db.errors import DBError, Reason
from kampy.db.schema import (
    GROUPS,
    SETS,
    TABLES,
    Column,
    Index,
    Table,
    check_table_version,
    create_statements,
    create_tables,
    drop_tables,
    tables_of,
)
from kampy.db.sql import MYSQL, SQLITE, Dialect
from kampy.db.url import DBURL, parse_url

__all__ = [
    "Backend", "Database", "Driver", "Result", "connect", "driver_for", "register_driver",
    "DBError", "Reason", "GROUPS", "SETS", "TABLES", "Column", "Index", "Table", "check_table_version",
    "create_statements", "create_tables", "drop_tables", "tables_of", "MYSQL", "SQLITE", "Dialect", "DBURL",
    "parse_url",
]
