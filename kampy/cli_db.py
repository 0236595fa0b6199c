"""`kampy db create|version`: the command-line side of the database layer (kept outside kampy.db so
that building the CLI does not import the database drivers)."""
from __future__ import annotations

import argparse
import sys



def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="create Kamailio's standard tables, read table versions")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    create = dbsub.add_parser("create", help="create Kamailio 5.6's standard tables (as kamdbctl create)")
    create.add_argument("--db-url", required=True, help="mysql://user:pw@host[:port]/db or sqlite:///path")
    create.add_argument("--tables", help="comma-separated tables (default: all the standard tables: "
                                         "version, silo, location, subscriber, ...)")
    create.set_defaults(func=cmd_create)
    version = dbsub.add_parser("version", help="print a table's version from the version table")
    version.add_argument("--db-url", required=True)
    version.add_argument("table")
    version.set_defaults(func=cmd_version)


def cmd_create(args: argparse.Namespace) -> int:
    from kampy.db.database import connect
    from kampy.db.errors import DBError
    from kampy.db.schema import create_tables

    names = args.tables.split(",") if args.tables else None
    try:
        with connect(args.db_url) as db:
            created = create_tables(db, names)
            where = db.url.redacted()
    except DBError as exc:
        print(f"kampy db create: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f"{where}: created {', '.join(created)}")
    else:
        print(f"{where}: all requested tables already exist")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    from kampy.db.database import connect
    from kampy.db.errors import DBError

    try:
        with connect(args.db_url) as db:
            version = db.table_version(args.table)
    except DBError as exc:
        print(f"kampy db version: {exc}", file=sys.stderr)
        return 1
    if version is None:
        print(f"kampy db version: no version row for table '{args.table}'", file=sys.stderr)
        return 1
    print(version)
    return 0
