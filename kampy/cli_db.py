"""`kampy db ...`: Kamailio's tables and subscribers, as `kamdbctl` and `kamctl` make them.

    kampy db create   --db-url URL [--tables T,.. | --groups G,.. | --sets S,..]  kamdbctl create
    kampy db drop     --db-url URL [--tables ... | --groups ... | --sets ...]   kamdbctl drop (tables only)
    kampy db reinit   --db-url URL [--tables ... | --groups ... | --sets ...]   kamdbctl reinit
    kampy db add-tables --db-url URL GROUP                              kamdbctl add-tables
    kampy db presence|extra|dbuid --db-url URL                          kamdbctl presence|extra|dbuid
    kampy db sql      --dialect mysql|sqlite|postgres GROUP             kamdbctl's <GROUP>-create.sql
    kampy db version  --db-url URL TABLE
    kampy db add      --db-url URL USER@DOMAIN PASSWORD                 kamctl add
    kampy db passwd   --db-url URL USER@DOMAIN PASSWORD                 kamctl passwd
    kampy db rm       --db-url URL USER@DOMAIN                          kamctl rm

Exit status 0 on success, 1 when the database refuses (or the user exists, or does not), 2 on usage
errors.
"""
# Kept outside kampy.db so that building the CLI does not import the database drivers.
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

SETS = ("presence", "extra", "dbuid")


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="Kamailio's tables and subscribers (as kamdbctl and kamctl make them)",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    dbsub = db.add_subparsers(dest="db_command", required=True)

    def command(name: str, help: str, func: Callable[[argparse.Namespace], int], url: bool = True) -> Any:
        p = dbsub.add_parser(name, help=help, description=help)
        if url:
            p.add_argument("--db-url", required=True, help="mysql://user:pw@host[:port]/db or sqlite:///path")
        p.set_defaults(func=func)
        return p

    for name, what, func in (("create", "create the tables that do not exist, with their version rows "
                                        "(default: every table kamdbctl creates)", cmd_create),
                             ("drop", "drop the Kamailio tables (default: all of them) and their "
                                      "version rows", cmd_drop),
                             ("reinit", "drop, then create the tables again (empty)", cmd_reinit)):
        p = command(name, what, func)
        which = p.add_mutually_exclusive_group()
        which.add_argument("--tables", help="comma-separated tables (version, subscriber, location, ...)")
        which.add_argument("--groups", help="comma-separated kamdbctl groups, one <group>-create.sql each "
                                            "(acc, auth_db, presence, htable, ...)")
        which.add_argument("--sets", help="comma-separated sets of groups that kamdbctl create adds at once "
                                          "(standard, presence, extra, dbuid)")
    add_tables = command("add-tables", "create the tables of one kamdbctl group (acc, presence, htable, ...)",
                         cmd_add_tables)
    add_tables.add_argument("group")
    for name in SETS:
        command(name, f"create the {name} tables (kamdbctl {name})", cmd_set).set_defaults(set_name=name)
    sql = command("sql", "print Kamailio's SQL script of a group (kamdbctl's <group>-create.sql)", cmd_sql,
                  url=False)
    sql.add_argument("--dialect", choices=("mysql", "sqlite", "postgres"), default="mysql")
    sql.add_argument("group")
    version = command("version", "print a table's version from the version table", cmd_version)
    version.add_argument("table")
    for name, what, func in (("add", "add a subscriber (kamctl add)", cmd_add),
                             ("passwd", "change a subscriber's password (kamctl passwd)", cmd_passwd),
                             ("rm", "remove a subscriber, its aliases and groups (kamctl rm)", cmd_rm)):
        p = command(name, what, func)
        p.add_argument("account", metavar="USER@DOMAIN",
                       help="the domain defaults to $SIP_DOMAIN, as for kamctl")
        if name != "rm":
            p.add_argument("password")
            p.add_argument("--no-plaintext", action="store_true",
                           help="leave the password column empty (kamctl's STORE_PLAINTEXT_PW=0)")
            p.add_argument("--algorithm", choices=("MD5", "SHA-256", "SHA-512-256"), default="MD5",
                           help="hash of ha1 and ha1b (kamctl: MD5)")


def _selection(args: argparse.Namespace) -> list[str] | None:
    """The tables named by --tables, --groups or --sets; None for all of them."""
    from kampy.db.schema import tables_of

    def names(text: str | None) -> list[str]:
        return [n.strip() for n in (text or "").split(",") if n.strip()]

    if getattr(args, "tables", None):
        return names(args.tables)
    if getattr(args, "groups", None) or getattr(args, "sets", None):
        return tables_of(names(getattr(args, "groups", None)), names(getattr(args, "sets", None)))
    return None


def _run(verb: str, args: argparse.Namespace, action: Callable[[Any], str]) -> int:
    """Open --db-url, run `action(db)` and print what it returns; a database error is one line on
    stderr and exit status 1."""
    from kampy.db.database import connect
    from kampy.db.errors import DBError

    try:
        with connect(args.db_url) as db:
            message = action(db)
    except DBError as exc:
        print(f"kampy db {verb}: {exc}", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0


def _created(db: Any, names: list[str] | None) -> str:
    from kampy.db.schema import create_tables

    created = create_tables(db, names)
    where = db.url.redacted()
    if not created:
        return f"{where}: all requested tables already exist"
    return f"{where}: created {', '.join(created)}"


def _dropped(db: Any, names: list[str] | None) -> str:
    from kampy.db.schema import drop_tables

    dropped = drop_tables(db, names)
    where = db.url.redacted()
    return f"{where}: dropped {', '.join(dropped)}" if dropped else f"{where}: none of the tables exists"


def _with_selection(verb: str, args: argparse.Namespace,
                    action: Callable[[Any, list[str] | None], str]) -> int:
    from kampy.db.errors import DBError

    try:
        names = _selection(args)
    except DBError as exc:
        print(f"kampy db {verb}: {exc}", file=sys.stderr)
        return 2
    return _run(verb, args, lambda db: action(db, names))


def cmd_create(args: argparse.Namespace) -> int:
    return _with_selection("create", args, _created)


def cmd_drop(args: argparse.Namespace) -> int:
    return _with_selection("drop", args, _dropped)


def cmd_reinit(args: argparse.Namespace) -> int:
    return _with_selection("reinit", args, lambda db, names: _dropped(db, names) + "\n" + _created(db, names))


def cmd_add_tables(args: argparse.Namespace) -> int:
    args.groups = args.group
    return cmd_create(args)


def cmd_set(args: argparse.Namespace) -> int:
    args.sets = args.set_name
    return cmd_create(args)


def cmd_sql(args: argparse.Namespace) -> int:
    from kampy.db.ddl import create_script
    from kampy.db.errors import DBError
    from kampy.db.schema import TABLES, tables_of

    try:
        names = tables_of(groups=[args.group])
    except DBError as exc:
        print(f"kampy db sql: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(create_script([TABLES[n] for n in names], args.dialect))
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    from kampy.db.errors import DBError, Reason

    def version(db: Any) -> str:
        found = db.table_version(args.table)
        if found is None:
            raise DBError(f"no version row for table '{args.table}'", Reason.MISSING_TABLE)
        return str(found)

    return _run("version", args, version)


def _account(args: argparse.Namespace) -> Any:
    from kampy.db.subscribers import Account

    return Account.parse(args.account, os.environ.get("SIP_DOMAIN"))


def _subscriber(verb: str, args: argparse.Namespace, action: Callable[[Any, Any], str]) -> int:
    from kampy.db.errors import DBError

    try:
        account = _account(args)
    except DBError as exc:
        print(f"kampy db {verb}: {exc}", file=sys.stderr)
        return 2
    return _run(verb, args, lambda db: action(db, account))


def cmd_add(args: argparse.Namespace) -> int:
    from kampy.db import subscribers

    def add(db: Any, account: Any) -> str:
        subscribers.add(db, account, args.password, plaintext=not args.no_plaintext, algorithm=args.algorithm)
        return f"new user '{account}' added"

    return _subscriber("add", args, add)


def cmd_passwd(args: argparse.Namespace) -> int:
    from kampy.db import subscribers

    def passwd(db: Any, account: Any) -> str:
        subscribers.change_password(db, account, args.password, plaintext=not args.no_plaintext,
                                    algorithm=args.algorithm)
        return f"password of '{account}' changed"

    return _subscriber("passwd", args, passwd)


def cmd_rm(args: argparse.Namespace) -> int:
    from kampy.db import subscribers

    def rm(db: Any, account: Any) -> str:
        subscribers.remove(db, account)
        return f"user '{account}' removed"

    return _subscriber("rm", args, rm)
