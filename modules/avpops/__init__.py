"""avpops: operations on AVPs from the config, and AVPs loaded from and stored to the database."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Param, PvAPI, RouteType

from .impl import AvpopsModule, check_scheme

ROUTES = (RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH | RouteType.ONREPLY
          | RouteType.LOCAL)
SOURCE_DOC = ("whose AVPs: a uuid, or a pseudo-variable ($ru, $fu, $tu, $ou: a URI), with "
              "/username, /domain, /uri or /uuid")
NAME_DOC = ("which AVPs: $avp(name), or s, i, a, * (every AVP with a string name, an integer "
            "name, any name), with /table or (avp_db_load) /$scheme")


def _fn(name: str, args: tuple[Arg, ...], doc: str, returns: str = "1 or -1", min_args: int | None = None,
        routes: RouteType = ROUTES) -> Function:
    return Function(name, args=args, min_args=min_args, routes=routes, doc=doc, returns=returns)


EXPORTS = Exports(
    name="avpops",
    doc="Operations on AVPs: loaded from, stored to and deleted from the database by owner (the "
        "usr_preferences table, another table, or a db_scheme), loaded by an SQL query, deleted, "
        "copied, pushed into the R-URI, $du or a branch, checked, computed with, substituted.",
    params=(
        Param("db_url", (str,), None, doc="the database URL (unset: no avp_db_* function)"),
        Param("avp_table", (str,), None, doc="the default table (needed with db_url)"),
        Param("use_domain", (int,), 0, doc="1: the URI's domain identifies the owner too"),
        Param("uuid_column", (str,), "uuid", doc="the column of the uuid"),
        Param("attribute_column", (str,), "attribute", doc="the column of the AVP's name"),
        Param("value_column", (str,), "value", doc="the column of the AVP's value"),
        Param("type_column", (str,), "type",
              doc="the column of the type: 0 string name and value, 1 integer value, 2 integer "
                  "name, 3 both integers"),
        Param("username_column", (str,), "username", doc="the column of the username"),
        Param("domain_column", (str,), "domain", doc="the column of the domain"),
        Param("db_scheme", (str,), None, multi=True, validate=check_scheme,
              doc="a scheme: name:uuid_col=...;username_col=...;domain_col=...;value_col=...;"
                  "value_type=integer|string;table=..."),
    ),
    functions=(
        _fn("avp_print", (), "Log every AVP of the message (L_INFO).", "1"),
        _fn("avp_db_load", (Arg("source", ArgKind.STR, fixup="fix_source", doc=SOURCE_DOC),
                            Arg("name", ArgKind.STR, fixup="fix_load", doc=NAME_DOC)),
            "Load the owner's AVPs from the database.", "1 when some were loaded, -1 otherwise"),
        _fn("avp_db_delete", (Arg("source", ArgKind.STR, fixup="fix_source", doc=SOURCE_DOC),
                              Arg("name", ArgKind.STR, fixup="fix_store", doc=NAME_DOC)),
            "Delete the owner's AVPs from the database.", "1, -1 on an error"),
        _fn("avp_db_store", (Arg("source", ArgKind.STR, fixup="fix_source", doc=SOURCE_DOC),
                             Arg("name", ArgKind.STR, fixup="fix_store", doc=NAME_DOC)),
            "Store the AVPs (those not loaded from or stored to the database already) for the owner.",
            "1 when some were stored, -1 otherwise"),
        _fn("avp_db_query", (Arg("query", ArgKind.FMT, fixup="fix_query"),
                             Arg("dest", ArgKind.STR, fixup="fix_query_dest")),
            "Run the SQL query; each column of each row (from the last) goes to the AVP of its place "
            "in dest ($avp(a);$avp(b)...; without dest $avp(i:1), $avp(i:2)...).",
            "1 with rows, -2 without, -1 on an error", min_args=1),
        _fn("avp_delete", (Arg("name", ArgKind.STR, fixup="fix_delete",
                               doc="$avp(name)[/g], or s, i, a, * for every AVP of that type"),),
            "Delete the newest value of the AVP (every value with /g), or every AVP of a type."),
        _fn("avp_copy", (Arg("old_name", ArgKind.STR, fixup="fix_copy_src"),
                         Arg("new_name", ArgKind.STR, fixup="fix_copy_dst",
                             doc="$avp(name)[/flags]: g all values, d delete the source, n/s to "
                                 "integer/string")),
            "Copy (or move) the AVP's value(s) to another AVP."),
        _fn("avp_pushto", (Arg("destination", ArgKind.STR, fixup="fix_push_dst",
                               doc="$ru[/username|/domain], $du or $br"),
                           Arg("name", ArgKind.STR, fixup="fix_push_src", doc="a pseudo-variable[/g]")),
            "Push the value(s) into the R-URI (a further value: a new branch), $du or a new branch."),
        _fn("avp_check", (Arg("name", ArgKind.STR, fixup="fix_check_src"),
                          Arg("op_value", ArgKind.STR, fixup="fix_check",
                              doc="op/value[/flags]: eq ne lt le gt ge re fm and or xor; i:N, s:text, "
                                  "text or a pseudo-variable; g all values, i ignore case")),
            "Check the value(s) against the operator and value.", "1 when one matches, -1 otherwise"),
        _fn("avp_op", (Arg("name", ArgKind.STR, fixup="fix_op_avps", doc="$avp(src)[/$avp(dst)]"),
                       Arg("op_value", ArgKind.STR, fixup="fix_op",
                           doc="op/value[/flags]: add sub mul div mod and or xor not; i:N or a "
                               "pseudo-variable; d delete the source")),
            "Compute with the integer value(s); the results are added to dst (or src).", "1 or -1"),
        _fn("avp_subst", (Arg("avps", ArgKind.STR, fixup="fix_subst_avps",
                              doc="$avp(src)[/$avp(dst)][/flags]"),
                          Arg("subst", ArgKind.STR, fixup="fix_subst", doc="/regexp/replacement/flags")),
            "Apply the substitution to the string value(s); the results go to dst (or replace src).",
            "1 when something was substituted, -1 otherwise"),
        _fn("avp_subst_pv", (Arg("avps", ArgKind.STR, fixup="fix_subst_avps"),
                             Arg("subst", ArgKind.FMT, doc="the substitution, evaluated first")),
            "As avp_subst(), the substitution being evaluated (its variables) first.",
            "1 when something was substituted, -1 otherwise"),
        _fn("is_avp_set", (Arg("name", ArgKind.STR, fixup="fix_is_set",
                               doc="$avp(name)[/flags]: e empty, s string, n number"),),
            "Whether the AVP (at its index) is set (and empty, a string or a number)."),
    ),
    needs=(Need("pv", PvAPI, optional=True, doc="the AVP aliases (avp_aliases) in AVP names"),),
    factory=AvpopsModule,
)
