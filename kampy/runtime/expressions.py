"""Expressions with Kamailio's semantics (src/core/rvalue.c for values, src/core/route.c for keywords).

- `==`/`!=`: the left operand's run-time type decides: int compares as ints, string as strings
  (case-sensitive); an undefined left takes the type of the right one (undefined is 0 or "").
- `eq`/`ne` always compare strings, `ieq`/`ine` always ints; `<` `>` `<=` `>=` and arithmetic are ints.
- `+` concatenates when the left operand is a string, adds otherwise.
- `=~`/`!~`: POSIX extended regex, case-insensitive (REG_EXTENDED|REG_NOSUB|REG_ICASE), searched.
- `&&`/`||` short-circuit on non-zero; a function call in an expression is 1 when its code is > 0.
- Keywords (`method`, `uri`, `from_uri`, `to_uri`) compare strings case-insensitively (comp_str's
  strncasecmp); `uri == myself` checks the R-URI host/port against local sockets and aliases;
  `src_ip`/`dst_ip` compare as addresses, against `a.b.c.d/n` networks and `myself`.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.config import ast
from kampy.memo import BoundedCache
from kampy.module import RouteType
from kampy.runtime.flow import LoadError
from kampy.runtime.values import compile_posix, to_int, to_str
from kampy.sip.uri import parse_uri

if TYPE_CHECKING:
    from kampy.apis import CoreAPI
    from kampy.runtime.engine import Engine

log = logging.getLogger("kampy.runtime")

Fn = Callable[[Any], Any]

PROTO_NUMBERS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
AF_NUMBERS = {"inet": 2, "inet6": 10}

_regex_cache: BoundedCache[str, re.Pattern[str] | None] = BoundedCache(1024)


def regex_icase(pattern: str) -> re.Pattern[str] | None:
    compiled = _regex_cache.get(pattern, False)
    if compiled is False:
        try:
            compiled = compile_posix(pattern, re.IGNORECASE)
        except re.error:
            log.error("bad regular expression \"%s\"", pattern)
            compiled = None
        _regex_cache.put(pattern, compiled)
    return compiled  # type: ignore[return-value]


def plus(left: Any, right: Any) -> Any:
    if left.__class__ is str:
        return left + to_str(right)
    if left is None and right.__class__ is str:
        return right
    return to_int(left) + to_int(right)


def equals(left: Any, right: Any) -> bool:
    if left.__class__ is int:
        return left == to_int(right)
    if left is None:
        if right.__class__ is int:
            return right == 0
        return to_str(right) == ""
    return to_str(left) == to_str(right)


def _div(a: int, b: int) -> int:
    if b == 0:
        log.error("division by 0 in an expression")
        return 0
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q  # C division truncates toward zero


def _mod(a: int, b: int) -> int:
    if b == 0:
        log.error("modulo by 0 in an expression")
        return 0
    return a - b * _div(a, b)


INT_OPS: dict[str, Callable[[int, int], int]] = {
    "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": _div, "%": _mod,
    "|": lambda a, b: a | b, "&": lambda a, b: a & b, "^": lambda a, b: a ^ b,
    "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b,
    "<": lambda a, b: int(a < b), ">": lambda a, b: int(a > b),
    "<=": lambda a, b: int(a <= b), ">=": lambda a, b: int(a >= b),
    "ieq": lambda a, b: int(a == b), "ine": lambda a, b: int(a != b),
}


def compile_expr(engine: Engine, e: ast.Node, rtype: RouteType) -> Fn:
    if isinstance(e, ast.Int):
        return _const(e.value)
    if isinstance(e, ast.Str):
        return _const(e.value)
    if isinstance(e, ast.Ident):
        return _const(e.name)
    if isinstance(e, ast.PVar):
        getter = engine.pv_accessor(e).get
        return getter
    if isinstance(e, ast.Call):
        call = engine.call(e, rtype)
        return lambda ctx: 1 if call(ctx) > 0 else 0
    if isinstance(e, ast.RouteCall):
        route = engine.stmt_RouteCall(e, rtype)
        return lambda ctx: 1 if route(ctx) > 0 else 0
    if isinstance(e, ast.Keyword):
        return keyword_value(engine, e)
    if isinstance(e, ast.UnOp):
        return _unop(engine, e, rtype)
    if isinstance(e, ast.BinOp):
        if isinstance(e.left, ast.Keyword) and e.op in ("==", "!=", "=~", "!~", "<", ">", "<=", ">="):
            special = keyword_compare(engine, e, rtype)
            if special is not None:
                return special
        return _binop(engine, e, rtype)
    if isinstance(e, ast.Select):
        return engine.select(e)
    raise _load_error(e.pos, f"kampy cannot evaluate this expression: {type(e).__name__}")


def _load_error(pos: ast.Pos, message: str) -> Exception:
    return LoadError(pos, message)


def _const(value: Any) -> Fn:
    def const(ctx: Any) -> Any:
        return value
    const.constant = value  # type: ignore[attr-defined]
    return const


def _unop(engine: Engine, e: ast.UnOp, rtype: RouteType) -> Fn:
    if e.op == "defined":
        if isinstance(e.operand, ast.PVar):
            get = engine.pv_accessor(e.operand).get
            return lambda ctx: int(get(ctx) is not None)
        if isinstance(e.operand, ast.Select):
            value = engine.select(e.operand)
            return lambda ctx: int(value(ctx) is not None)
        compile_expr(engine, e.operand, rtype)
        return _const(1)
    value = compile_expr(engine, e.operand, rtype)
    if e.op == "!":
        return lambda ctx: int(not to_int(value(ctx)))
    if e.op == "-":
        return lambda ctx: -to_int(value(ctx))
    if e.op == "~":
        return lambda ctx: ~to_int(value(ctx))
    if e.op == "strempty":
        return lambda ctx: int(to_str(value(ctx)) == "")
    if e.op == "strlen":
        return lambda ctx: len(to_str(value(ctx)))
    raise _load_error(e.pos, f"unknown operator '{e.op}'")


def _binop(engine: Engine, e: ast.BinOp, rtype: RouteType) -> Fn:
    op = e.op
    left = compile_expr(engine, e.left, rtype)
    right = compile_expr(engine, e.right, rtype)
    if op == "&&":
        return lambda ctx: int(bool(to_int(left(ctx))) and bool(to_int(right(ctx))))
    if op == "||":
        return lambda ctx: int(bool(to_int(left(ctx))) or bool(to_int(right(ctx))))
    if op in ("==", "!="):
        return _equality(left, right, negate=op == "!=")
    if op == "eq":
        return lambda ctx: int(to_str(left(ctx)) == to_str(right(ctx)))
    if op == "ne":
        return lambda ctx: int(to_str(left(ctx)) != to_str(right(ctx)))
    if op in ("=~", "!~"):
        return _match(left, right, negate=op == "!~")
    if op == "+":
        return lambda ctx: plus(left(ctx), right(ctx))
    fn = INT_OPS.get(op)
    if fn is None:
        raise _load_error(e.pos, f"unknown operator '{op}'")
    return lambda ctx: fn(to_int(left(ctx)), to_int(right(ctx)))


def _equality(left: Fn, right: Fn, *, negate: bool) -> Fn:
    const = getattr(right, "constant", MISSING)
    if const is not MISSING:
        # the common `$x == "literal"` / `$x == 5`: conversions of the right side done once
        as_int, as_str = to_int(const), to_str(const)
        is_int = const.__class__ is int

        def eq_const(ctx: Any) -> int:
            v = left(ctx)
            if v.__class__ is int:
                r = v == as_int
            elif v is None:
                r = (as_int == 0) if is_int else (as_str == "")
            else:
                r = v == as_str if v.__class__ is str else to_str(v) == as_str
            return int(r != negate)
        return eq_const
    return lambda ctx: int(equals(left(ctx), right(ctx)) != negate)


def _match(left: Fn, right: Fn, *, negate: bool) -> Fn:
    const = getattr(right, "constant", MISSING)
    if const is not MISSING:
        pattern = regex_icase(to_str(const))

        def match_const(ctx: Any) -> int:
            if pattern is None:
                return 0
            return int((pattern.search(to_str(left(ctx))) is not None) != negate)
        return match_const

    def match(ctx: Any) -> int:
        pattern = regex_icase(to_str(right(ctx)))
        if pattern is None:
            return 0
        return int((pattern.search(to_str(left(ctx))) is not None) != negate)
    return match


MISSING = object()  # no `constant` attribute: the value is known only at run time


# ---------------------------------------------------------------- keywords


def _method(ctx: Any) -> str:
    msg = ctx.msg
    if msg.is_request:
        return msg.method
    cseq = msg.cseq
    return cseq.method if cseq is not None else ""


def _from_uri(ctx: Any) -> str:
    f = ctx.msg.from_
    return str(f.uri) if f is not None else ""


def _to_uri(ctx: Any) -> str:
    t = ctx.msg.to
    return str(t.uri) if t is not None else ""


def _status(ctx: Any) -> int:
    return getattr(ctx.msg, "status", 0)


KEYWORD_VALUES: dict[str, Fn] = {
    "method": _method,
    "uri": lambda ctx: ctx.ruri if ctx.msg.is_request else "",
    "from_uri": _from_uri,
    "to_uri": _to_uri,
    "src_ip": lambda ctx: ctx.src.ip,
    "src_port": lambda ctx: ctx.src.port,
    "dst_ip": lambda ctx: ctx.src.local.host,
    "dst_port": lambda ctx: ctx.src.local.port,
    "proto": lambda ctx: PROTO_NUMBERS.get(ctx.src.proto.lower(), 0),
    "af": lambda ctx: 10 if ":" in ctx.src.ip else 2,
    "status": _status,
    "msg:len": lambda ctx: len(ctx.msg.raw),
    "retcode": lambda ctx: ctx.retcode,
    "rc": lambda ctx: ctx.retcode,
}
_STRING_KEYWORDS = {"method", "uri", "from_uri", "to_uri"}
_URI_KEYWORDS = {"uri": lambda ctx: ctx.ruri, "from_uri": _from_uri, "to_uri": _to_uri}
_IP_KEYWORDS = {"src_ip", "dst_ip"}
_INT_KEYWORDS = {"src_port", "dst_port", "status", "msg:len", "retcode", "rc"}


def keyword_value(engine: Engine, e: ast.Keyword) -> Fn:
    fn = KEYWORD_VALUES.get(e.name)
    if fn is None:
        raise _load_error(e.pos, f"the keyword '{e.name}' cannot be used here")
    return fn


def _is_myself(node: ast.Node) -> bool:
    return isinstance(node, ast.Keyword | ast.Ident) and getattr(node, "name", "") == "myself"


def keyword_compare(engine: Engine, e: ast.BinOp, rtype: RouteType) -> Fn | None:
    name = e.left.name  # type: ignore[union-attr]
    op = e.op
    negate = op in ("!=", "!~")
    core = engine.core
    if _is_myself(e.right):
        return _myself_compare(name, core, negate, e)
    if name in _STRING_KEYWORDS and op in ("==", "!=", "=~", "!~"):
        left = keyword_value(engine, e.left)  # type: ignore[arg-type]
        right = compile_expr(engine, e.right, rtype)
        if op in ("=~", "!~"):
            return _match(left, right, negate=negate)
        const = getattr(right, "constant", MISSING)
        if const is not MISSING:
            folded = to_str(const).casefold()
            return lambda ctx: int((left(ctx).casefold() == folded) != negate)
        return lambda ctx: int((left(ctx).casefold() == to_str(right(ctx)).casefold()) != negate)
    if name in _IP_KEYWORDS and op in ("==", "!="):
        return _ip_compare(engine, name, e, rtype, negate)
    if name in ("proto", "af") and op in ("==", "!="):
        table = PROTO_NUMBERS if name == "proto" else AF_NUMBERS
        left = keyword_value(engine, e.left)  # type: ignore[arg-type]
        right_node = e.right
        if isinstance(right_node, ast.Ident | ast.Keyword | ast.Str):
            word = getattr(right_node, "name", None) or getattr(right_node, "value", "")
            number = table.get(word.lower())
            if number is None:
                raise _load_error(right_node.pos, f"'{word}' is not a {name} value "
                                                  f"({', '.join(w.upper() for w in table)})")
            return lambda ctx: int((left(ctx) == number) != negate)
        return None
    return None


def _myself_compare(name: str, core: CoreAPI, negate: bool, e: ast.BinOp) -> Fn:
    if name in _URI_KEYWORDS:
        get_uri = _URI_KEYWORDS[name]

        def uri_myself(ctx: Any) -> int:
            try:
                host, port = uri_host_port(get_uri(ctx))
            except Exception:
                return int(negate)
            return int(core.is_myself(host, port) != negate)
        return uri_myself
    if name in _IP_KEYWORDS:
        get_ip = KEYWORD_VALUES[name]
        return lambda ctx: int(core.is_myself(get_ip(ctx)) != negate)
    raise _load_error(e.pos, f"'{name} == myself' is not a valid comparison")


@functools.lru_cache(maxsize=1024)
def uri_host_port(text: str) -> tuple[str, int | None]:
    """The host ("" for none) and port of a URI, for `== myself`; many requests carry the same
    R-URI (a REGISTER's is the domain), so the parse is kept. Raises SIPProtocolError if malformed."""
    uri = parse_uri(text)
    return uri.host or "", uri.port


def _ip_compare(engine: Engine, name: str, e: ast.BinOp, rtype: RouteType, negate: bool) -> Fn:
    get_ip = KEYWORD_VALUES[name]
    right = e.right
    text = getattr(right, "name", None) if isinstance(right, ast.Ident) else (
        right.value if isinstance(right, ast.Str) else None)
    if text is not None:
        try:
            net = ipaddress.ip_network(text.strip("[]"), strict=False)
        except ValueError:
            net = None
        if net is not None:
            def in_net(ctx: Any) -> int:
                try:
                    inside = ipaddress.ip_address(get_ip(ctx).strip("[]")) in net
                except ValueError:
                    inside = False
                return int(inside != negate)
            return in_net
        return lambda ctx: int((get_ip(ctx) == text) != negate)
    value = compile_expr(engine, right, rtype)

    def ip_dynamic(ctx: Any) -> int:
        other = to_str(value(ctx))
        try:
            same = ipaddress.ip_address(get_ip(ctx).strip("[]")) in ipaddress.ip_network(
                other.strip("[]"), strict=False)
        except ValueError:
            same = get_ip(ctx) == other
        return int(same != negate)
    return ip_dynamic
