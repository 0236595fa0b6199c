"""uri_db: checks of SIP URIs against the authorized credentials and the database."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .impl import UriDbModule

CHECK_RETURNS = ("1 when the user matches; -10 when not (without use_uri_table), -9 when the uri "
                 "table has no such row, -8 on a database error, -4 when the URI has no user, -2 "
                 "without authorized credentials, -1 on other errors")

EXPORTS = Exports(
    name="uri_db",
    doc="Checks that the user of the To or From URI, or of a URI given, is the one the digest "
        "credentials were accepted for (compared with the username, or through the `uri` table), "
        "and whether the Request-URI's user exists in the `subscriber` (or `uri`) table.",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio",
              doc="the database URL (empty: no database; use_uri_table and does_uri_exist() then "
                  "refuse the config)"),
        Param("db_table", (str,), "subscriber", doc="the table: subscriber, or uri with use_uri_table"),
        Param("user_column", (str,), "username", doc="the column of the user names"),
        Param("domain_column", (str,), "domain", doc="the column of the domains"),
        Param("uriuser_column", (str,), "uri_user", doc="the column of the URI users (uri table)"),
        Param("use_uri_table", (int,), 0,
              doc="1: the checks look for (username, realm, URI user) in the uri table"),
        Param("use_domain", (int,), 0, doc="1: does_uri_exist() matches the domain too"),
    ),
    functions=(
        Function("check_to", routes=RouteType.REQUEST,
                 doc="Check the To URI's user against the authorized credentials.", returns=CHECK_RETURNS),
        Function("check_from", routes=RouteType.REQUEST,
                 doc="Check the From URI's user against the authorized credentials.", returns=CHECK_RETURNS),
        Function("check_uri", args=(Arg("uri", ArgKind.FMT), Arg("username", ArgKind.FMT),
                                    Arg("realm", ArgKind.FMT)), min_args=1, routes=RouteType.REQUEST,
                 doc="Check the URI's user against the authorized credentials, or against the "
                     "username and realm given (when both are given and not empty).",
                 returns=CHECK_RETURNS),
        Function("does_uri_exist", routes=RouteType.REQUEST | RouteType.LOCAL, fixup="fix_exist",
                 doc="Whether the Request-URI's user (and, with use_domain, domain) is in the table "
                     "(its uri_user with use_uri_table).",
                 returns="1 when it is, -5 when not, -4 on a database error, -1 on other errors"),
    ),
    factory=UriDbModule,
)
