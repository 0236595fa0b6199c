"""dialplan: string translations by matching and replacement rules from the database."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod

from .impl import DialplanModule

ANY = RouteType.ANY

EXPORTS = Exports(
    name="dialplan",
    doc="Translates strings (the R-URI's user, or any variable) with the rules of the `dialplan` "
        "table: the first rule of the dialplan id whose expression matches (string, PCRE or "
        "fnmatch; by match length, then priority) gives the output, built from its replacement "
        "with the groups of its substitution expression, and its attributes.",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio", doc="the database URL"),
        Param("table_name", (str,), "dialplan", doc="the table of the rules"),
        Param("dpid_col", (str,), "dpid", doc="the column of the dialplan id"),
        Param("pr_col", (str,), "pr", doc="the column of the priority"),
        Param("match_op_col", (str,), "match_op", doc="the column of the match operator (0 string, "
                                                      "1 PCRE, 2 fnmatch)"),
        Param("match_exp_col", (str,), "match_exp", doc="the column of the match expression"),
        Param("match_len_col", (str,), "match_len",
              doc="the column of the length a value must have (0: any)"),
        Param("subst_exp_col", (str,), "subst_exp", doc="the column of the substitution expression"),
        Param("repl_exp_col", (str,), "repl_exp", doc="the column of the replacement"),
        Param("attrs_col", (str,), "attrs", doc="the column of the attributes"),
        Param("attrs_pvar", (str,), None,
              doc="the $avp, $xavp or $var the attributes of the rule applied go to"),
        Param("fetch_rows", (int,), 1000, doc="rows read from the database in one step"),
        Param("match_dynamic", (int,), 0,
              doc="1: match and substitution expressions may hold variables, evaluated per message"),
        Param("append_branch", (int,), 1,
              doc="1: a translation that changes $ru or $rU in failure_route appends a branch"),
        Param("reload_delta", (int,), 5, doc="seconds between two reloads over RPC, at least"),
    ),
    functions=(
        Function("dp_translate", args=(Arg("id", ArgKind.STR, fixup="fix_id"),
                                       Arg("src/dest", ArgKind.STR, fixup="fix_srcdst")),
                 min_args=1, routes=ANY,
                 doc="Translate src (default $rU) with the rules of dialplan id (a number, or an "
                     "$avp/$xavp/$var holding one) into dest ($avp, $xavp, $var, $ru or $rU; none: "
                     "only the attributes are set).",
                 returns="1 when translated, -1 when no rule applies, -2 when the dialplan id has no rules"),
        Function("dp_reload", routes=ANY, doc="Reload the rules from the database.", returns="1 or -1"),
        Function("dp_match", args=(Arg("dpid", ArgKind.INT), Arg("inval", ArgKind.FMT)), routes=ANY,
                 doc="Match inval against the rules of dpid; set the attributes of the rule found.",
                 returns="1 when a rule matches, -1 when none, -2 when the dialplan id has no rules"),
        Function("dp_replace", args=(Arg("dpid", ArgKind.INT), Arg("inval", ArgKind.FMT),
                                     Arg("outvar", ArgKind.STR, fixup="fix_outvar")), routes=ANY,
                 doc="Translate inval with the rules of dpid into outvar.",
                 returns="1 when translated, -1 when no rule applies, -2 when the dialplan id has no rules"),
    ),
    rpc=(
        RpcMethod("dialplan.reload", "rpc_reload", doc="reload the rules from the database"),
        RpcMethod("dialplan.translate", "rpc_translate", params_fault=(500, "Invalid parameters"),
                  doc="translate a string with a dialplan id: Output and Attributes"),
        RpcMethod("dialplan.dump", "rpc_dump", params_fault=(500, "Missing parameter"),
                  doc="the rules of a dialplan id"),
    ),
    factory=DialplanModule,
)
