"""group: group membership checks against the database (strict, and by regular expression)."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .impl import GroupModule

ROUTES = RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH | RouteType.LOCAL
URI_DOC = ('whose user: "Request-URI", "To", "From", "Credentials" (the authorized digest '
           'credentials) or an $avp(...) holding a URI')

EXPORTS = Exports(
    name="group",
    doc="Checks whether a user is in a group of the `grp` table (is_user_in(), one query per "
        "check) and finds the groups whose regular expression of the `re_grp` table the user's "
        "URI matches (get_user_group(), the expressions loaded at start).",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio", doc="the database URL"),
        Param("table", (str,), "grp", doc="the table of users and their groups"),
        Param("user_column", (str,), "username", doc="the column of the user names"),
        Param("domain_column", (str,), "domain", doc="the column of the domains"),
        Param("group_column", (str,), "grp", doc="the column of the groups"),
        Param("use_domain", (int,), 0, doc="1: is_user_in() matches the domain too"),
        Param("re_table", (str,), None,
              doc="the table of regular expressions and group ids (unset: get_user_group() finds none)"),
        Param("re_exp_column", (str,), "reg_exp", doc="the column of the regular expressions"),
        Param("re_gid_column", (str,), "group_id", doc="the column of the group ids"),
        Param("multiple_gid", (int,), 1, doc="0: get_user_group() stops at the first group matched"),
    ),
    functions=(
        Function("is_user_in", args=(Arg("uri", ArgKind.STR, fixup="fix_source", doc=URI_DOC),
                                     Arg("group", ArgKind.STR, doc="the group (a plain string)")),
                 routes=ROUTES, doc="Whether the user (and, with use_domain, the domain) is in the group.",
                 returns="1 when a member, -6 when not, -5 on a database error, -1 when the user "
                         "cannot be found"),
        Function("get_user_group", args=(Arg("uri", ArgKind.STR, fixup="fix_source", doc=URI_DOC),
                                         Arg("avp", ArgKind.STR, fixup="fix_avp",
                                             doc="the $avp(...) the group ids are added to")),
                 routes=ROUTES,
                 doc="Add to the AVP the id of each group whose expression sip:user@domain matches.",
                 returns="the number of groups found, -1 when none"),
    ),
    factory=GroupModule,
)
