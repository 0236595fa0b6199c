"""mtree: prefix trees loaded from the database, matched from the config."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod

from .impl import MtreeModule

EXPORTS = Exports(
    name="mtree",
    doc="Loads (prefix, value) records from the database into named memory trees and matches "
        "strings against them: the value of the longest matching prefix, every matching value, or "
        "(type 1 trees) destination ids ordered by weight.",
    params=(
        Param("mtree", (str,), None, multi=True,
              doc="a tree: name=NAME;dbtable=TABLE;type=0|1|2;multi=0|1;cols='prefix,value,...'"),
        Param("db_url", (str,), "mysql://kamailio:kamailiorw@localhost/kamailio", doc="the database URL"),
        Param("db_table", (str,), None,
              doc="a table of many trees, named by the tname column (used when no mtree is defined)"),
        Param("tname_column", (str,), "tname", doc="the column of the tree name"),
        Param("tprefix_column", (str,), "tprefix", doc="the column of the prefix"),
        Param("tvalue_column", (str,), "tvalue", doc="the column of the value"),
        Param("char_list", (str,), "0123456789", doc="the characters a prefix may have"),
        Param("fetch_rows", (int,), 1000, doc="rows read from the database in one step"),
        Param("pv_value", (str,), "$avp(s:tvalue)", doc="where mt_match() puts the matched value"),
        Param("pv_values", (str,), "$avp(s:tvalues)", doc="the AVP of every matched value (mode 2)"),
        Param("pv_dstid", (str,), "$avp(s:tdstid)", doc="the AVP of the destination ids (type 1)"),
        Param("pv_weight", (str,), "$avp(s:tweight)", doc="the AVP of the weights (type 1)"),
        Param("pv_count", (str,), "$avp(s:tcount)",
              doc="where the count of matched destinations goes (type 1)"),
        Param("mt_tree_type", (int,), 0, doc="the type of the trees of db_table: 0 string, 2 integer"),
        Param("mt_ignore_duplicates", (int,), 0, doc="1: a prefix already loaded is skipped"),
        Param("mt_allow_duplicates", (int,), 0, doc="1: a prefix may have several values"),
    ),
    functions=(
        Function(
            "mt_match",
            args=(Arg("mtree", ArgKind.FMT), Arg("pv", ArgKind.FMT), Arg("mode", ArgKind.INT)),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH | RouteType.ONREPLY,
            doc="Match pv against the tree: mode 0 sets pv_value to the value of the longest "
                "matching prefix, mode 2 sets pv_values to every matching value (longest first); "
                "a type 1 tree sets pv_dstid, pv_weight and pv_count.",
            returns="1 on a match, -1 otherwise",
        ),
    ),
    rpc=(
        RpcMethod("mtree.summary", "rpc_summary", doc="usage summary of all trees or of one"),
        RpcMethod("mtree.reload", "rpc_reload", doc="reload all trees, or those named, from the database"),
        RpcMethod("mtree.match", "rpc_match", autoconvert=(0,),
                  doc="match a prefix against a tree (tname, prefix, mode 0 or 2)"),
        RpcMethod("mtree.list", "rpc_list", autoconvert=(0,), doc="the content of all trees or of one"),
    ),
    factory=MtreeModule,
)
