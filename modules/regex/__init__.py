"""regex: PCRE-style matching against an expression, or against the groups of a file."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod

from .impl import RegexModule

ROUTES = (RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY | RouteType.BRANCH
          | RouteType.LOCAL)

EXPORTS = Exports(
    name="regex",
    doc="Matching with regular expressions: pcre_match() against an expression given as an "
        "argument, pcre_match_group() against the groups of expressions read from a text file "
        "(`[0]`, `[1]` ... each followed by one expression a line), reloaded with regex.reload.",
    params=(
        Param("file", (str,), None, doc="the file of expression groups; without it group matching is off"),
        Param("max_groups", (int,), 20, doc="the most groups the file may have"),
        Param("group_max_size", (int,), 8192, doc="the most characters of a group's expressions"),
        Param("pcre_caseless", (int,), 0, doc="1: match without regard to case (Perl's /i)"),
        Param("pcre_multiline", (int,), 0, doc="1: ^ and $ also match at inner newlines (Perl's /m)"),
        Param("pcre_dotall", (int,), 0, doc="1: a dot matches a newline too (Perl's /s)"),
        Param("pcre_extended", (int,), 0,
              doc="1: whitespace and #-comments in a pattern are ignored (Perl's /x)"),
    ),
    functions=(
        Function(
            "pcre_match",
            args=(Arg("string", ArgKind.FMT, doc="the text to match; may hold pseudo-variables"),
                  Arg("pcre_regex", ArgKind.FMT, doc="the expression, compiled on each call; "
                      "may hold pseudo-variables ($$ for an end-of-line $)")),
            routes=ROUTES,
            doc="Whether the string matches the regular expression.",
            returns="1 on a match, -1 without one, -4 when the expression does not compile",
        ),
        Function(
            "pcre_match_group",
            args=(Arg("string", ArgKind.FMT, doc="the text to match; may hold pseudo-variables"),
                  Arg("group", ArgKind.FMT, doc="the group's number in the file (from 0); "
                      "may hold pseudo-variables; 0 when not given")),
            min_args=1,
            routes=ROUTES,
            doc="Whether the string matches any expression of a group of the file.",
            returns="1 on a match, -1 without one, -2 when no file is set, -4 for a group the "
                    "file does not have",
        ),
    ),
    rpc=(RpcMethod("regex.reload", "rpc_reload",
                   doc="Read the file again and compile its groups; every process uses them next."),),
    factory=RegexModule,
)
