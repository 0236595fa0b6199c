"""Kamailio's static type check of expressions (src/core/rvalue.c, rve_check_type): a string where an
integer is needed (`@cseq.num > 5`, `"a" - 1`), or operands of `==`/`+`/`eq` whose known types differ,
make Kamailio refuse the config ("bad expression: type mismatch: str instead of int"), so does kampy.

A string literal and a select are strings, a number, a function or route call, a comparison and the
integer operators give integers, a pseudo-variable or a bare word has no known type (checked at run
time). Comparisons with a core keyword on the left (`method == "INVITE"`) are not expressions of
this kind in Kamailio's grammar and are not checked."""
from __future__ import annotations

from kampy.config import ast

STR, INT, NONE = "str", "int", None
INT_OPS = frozenset({"-", "*", "/", "%", "|", "&", "^", "<<", ">>", "&&", "||", ">", ">=", "<", "<=",
                     "ieq", "ine"})
EQ_OPS = frozenset({"==", "!="})
STR_OPS = frozenset({"eq", "ne", "=~", "!~"})


def type_of(e: ast.Node) -> str | None:
    """rve_guess_type(): the type an expression surely has, or None."""
    if isinstance(e, ast.Str | ast.Select):
        return STR
    if isinstance(e, ast.Int | ast.Call | ast.RouteCall):
        return INT
    if isinstance(e, ast.UnOp):
        return {"int": INT, "str": STR}.get(e.op, INT)
    if isinstance(e, ast.BinOp):
        if isinstance(e.left, ast.Keyword):
            return INT
        return type_of(e.left) if e.op == "+" else INT
    return NONE


def mismatch(e: ast.Node) -> tuple[ast.Node, str, str] | None:
    """The operand of `e` (an operator node) whose type does not fit: (node, its type, expected)."""
    if isinstance(e, ast.UnOp):
        t = type_of(e.operand)
        if e.op in ("-", "!", "~") and t == STR:
            return e.operand, STR, INT
        if e.op in ("strlen", "strempty", "defined") and t == INT:
            return e.operand, INT, STR
        return None
    if not isinstance(e, ast.BinOp) or isinstance(e.left, ast.Keyword):
        return None
    left, right = type_of(e.left), type_of(e.right)
    if e.op in INT_OPS:
        if left == STR:
            return e.left, STR, INT
        if right == STR:
            return e.right, STR, INT
        return None
    if e.op in EQ_OPS or e.op == "+" or e.op in STR_OPS:
        if left is not None and right is not None and left != right and not (left == STR and right == INT):
            return e.right, right, left
        if e.op in STR_OPS and left == INT:
            return e.left, INT, STR
    return None
