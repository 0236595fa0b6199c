"""User aliases from a database table: alias_db_lookup(), alias_db_find()."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .alias_db import AliasDbModule

__all__ = ["EXPORTS", "AliasDbModule"]

TABLE = Arg("table", ArgKind.FMT, doc="the alias table; may hold pseudo-variables")
FLAGS = Arg("flags", ArgKind.STR, fixup="fix_flags",
            doc="d: without domain, u: with domain (both over use_domain), r: reverse (user to alias)")
FIND_ROUTES = RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY | RouteType.BRANCH | RouteType.LOCAL
RETURNS = "1 found, -1 not found or error"

EXPORTS = Exports(
    name="alias_db",
    doc="User aliases from a database table: alias_db_lookup(), alias_db_find().",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio"),
        Param("user_column", (str,), "username"),
        Param("domain_column", (str,), "domain"),
        Param("alias_user_column", (str,), "alias_username"),
        Param("alias_domain_column", (str,), "alias_domain"),
        Param("use_domain", (int,), 0, doc="1: match the domain too (the flags d/u override it per call)"),
        Param("domain_prefix", (str,), None, doc="prefix stripped from the host before matching the domain"),
        Param("append_branches", (int,), 0, doc="1: every alias found, not only the first (branches, or "
                                                "more values of the variable)"),
    ),
    functions=(
        Function("alias_db_lookup", args=(TABLE, FLAGS), min_args=1,
                 routes=RouteType.REQUEST | RouteType.FAILURE,
                 doc="Replaces the R-URI with the user the R-URI is an alias of (flag r: an alias of "
                     "the user).",
                 returns=RETURNS),
        Function("alias_db_find", args=(TABLE, Arg("input", ArgKind.PVAR, doc="the URI to look up"),
                                        Arg("output", ArgKind.STR, fixup="fix_output",
                                            doc="an $avp or $var that gets the URI found"),
                                        FLAGS),
                 min_args=3, routes=FIND_ROUTES,
                 doc="alias_db_lookup() for the URI in a variable, into another.", returns=RETURNS),
    ),
    factory=AliasDbModule,
)
