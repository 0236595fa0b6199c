"""sqlops: SQL queries from the config, their results in $dbr, xavps or any pseudo-variable."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, TransformClass

from .impl import SqlopsModule, check_sqlcon

ANY = RouteType.ANY
RETURNS = ("1 with rows, 2 without rows, 3 when rows came and no result was asked for, -1 on an "
           "error, -2 without a database connection")

EXPORTS = Exports(
    name="sqlops",
    doc="Runs SQL statements written in the config on named database connections (several, on "
        "any driver kampy has), keeping the rows in named results ($dbr), in an xavp, or in "
        "pseudo-variables; {sql.val} and its variants quote values for SQL.",
    params=(
        Param("sqlcon", (str,), None, multi=True, validate=check_sqlcon,
              doc="a connection: name=>database URL"),
        Param("sqlres", (str,), None, multi=True, doc="a result name (results are also declared by use)"),
        Param("tr_buf_size", (int,), 2048, doc="the buffer of {sql.val}: a longer value fails it"),
        Param("connect_mode", (int,), 0,
              doc="0: a connection that fails stops the start; 1: start anyway and connect on use"),
        Param("results_maxsize", (int,), 32, doc="how many results may be declared"),
    ),
    functions=(
        Function("sql_query", args=(Arg("connection", ArgKind.STR, fixup="fix_connection"),
                                    Arg("query", ArgKind.FMT),
                                    Arg("result", ArgKind.STR, fixup="fix_result")),
                 min_args=2, routes=ANY,
                 doc="Run the query; keep the rows in the result (without one, they are dropped).",
                 returns=RETURNS),
        Function("sql_query_async", args=(Arg("connection", ArgKind.STR, fixup="fix_connection"),
                                          Arg("query", ArgKind.FMT)), routes=ANY,
                 doc="Run the query in the background (a MySQL connection only), for statements "
                     "whose rows nobody reads.",
                 returns="1 when started, -1 when not, -2 without connection"),
        Function("sql_xquery", args=(Arg("connection", ArgKind.STR, fixup="fix_connection"),
                                     Arg("query", ArgKind.FMT), Arg("result", ArgKind.FMT)), routes=ANY,
                 doc="Run the query; add each row to the xavp `result`, its columns by name.",
                 returns=RETURNS),
        Function("sql_pvquery", args=(Arg("connection", ArgKind.STR, fixup="fix_connection"),
                                      Arg("query", ArgKind.FMT),
                                      Arg("result", ArgKind.STR, fixup="fix_pvlist")), routes=ANY,
                 doc="Run the query; assign the columns to the pseudo-variables listed, from the "
                     "last row to the first (a NULL leaves an AVP alone).", returns=RETURNS),
        Function("sql_result_free", args=(Arg("result", ArgKind.STR, fixup="fix_result"),), routes=ANY,
                 doc="Empty the result.", returns="1"),
    ),
    pvars=(
        PVClass("dbr", handler="pv_dbr", arg="required",
                doc="result=>rows, result=>cols, result=>[row,col], result=>colname[col]"),
        PVClass("sqlrows", handler="pv_sqlrows", arg="required",
                doc="the rows the previous statement on the connection changed"),
    ),
    transforms=(TransformClass("sql", ("val", "val.int", "val.str"), handler="tr_sql"),),
    factory=SqlopsModule,
)
