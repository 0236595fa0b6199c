"""The parse tree to kampy's AST (`kampy.config.ast`): literals unescaped and numbers read as
Kamailio's cfg.y reads them, each node with its position in the user's files."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from collections.abc import Iterable

from lark import Token, Transformer, v_args

from kampy.config import ast
from kampy.config.positions import Positions
from kampy.config.pvparse import PVSyntaxError, parse_pv
from kampy.errors import ConfigError


# ---------------------------------------------------------------------------- literals

_ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\"}
# As cfg.lex: \n \r \a \t \" \\ \xHH \ooo (2-3 octal digits), backslash-newline is dropped;
# any other backslash stays as it is (regex back-references such as \1 survive).
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{2,3}|\r?\n|[\s\S])")


def _unescape_match(m: re.Match[str]) -> str:
    seq = m.group(1)
    if seq[0] == "x" and len(seq) > 1:
        return chr(int(seq[1:], 16))
    if seq[0] in "01234567" and len(seq) > 1:
        return chr(int(seq, 8) & 0xFF)
    if seq in ("\n", "\r\n"):
        return ""
    return _ESCAPES.get(seq, m.group(0))


def unescape(body: str) -> str:
    """The value of a double-quoted string body (without its quotes)."""
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(_unescape_match, body)


def parse_number(text: str) -> int:
    if text.startswith("0x"):
        return int(text, 16)
    if text.endswith("b"):
        return int(text[:-1], 2)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8)
    return int(text)


_TRUE_WORDS = {"yes", "true", "on", "enable"}
_FALSE_WORDS = {"no", "false", "off", "disable"}
# cfg.lex reads these words as numbers (AF_INET, AF_INET6 on Linux).
_NUMBER_WORDS = {**{w: 1 for w in _TRUE_WORDS}, **{w: 0 for w in _FALSE_WORDS},
                 **{w: 2 for w in ("inet", "INET", "ipv4", "IPv4", "IPV4")},
                 **{w: 10 for w in ("inet6", "INET6", "ipv6", "IPv6", "IPV6")}}


def _modparamx_pv(pv: ast.PVar, expand: bool) -> ast.Str:
    """`modparamx("m", "p", $env(NAME))`: Kamailio reads the pseudo-variable when it sets the
    parameter, before any message exists; of those, kampy knows $env. `modparam` takes no PV."""
    if not expand:
        raise ConfigError.at(pv.pos, f"Invalid arguments: modparam takes no pseudo-variable ({pv.text}); "
                                     "modparamx does")
    if pv.cls != "env" or not pv.arg or pv.index is not None or pv.transforms:
        raise ConfigError.at(pv.pos, f"Can't set module parameter: kampy evaluates only $env(NAME) in "
                                     f"modparamx, not {pv.text}")
    return ast.Str(os.environ.get(pv.arg, ""), pos=pv.pos)


# ---------------------------------------------------------------------------- tree -> AST

_PROTOS = {"udp", "tcp", "tls", "sctp", "ws", "wss", "UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "*"}
_KEMI_PARAMS = {"onsend_route_callback", "reply_route_callback", "event_route_callback",
                "received_route_callback", "pre_routing_callback"}
_ROUTE_KINDS = {"route": "route", "request_route": "request", "failure_route": "failure",
                "onreply_route": "onreply", "reply_route": "reply", "branch_route": "branch",
                "onsend_route": "onsend"}
_UNNAMED_ONLY = {"request_route", "reply_route"}
_BINOPS = {"mod": "%", "eq": "eq", "ne": "ne"}


def _present(children: Iterable[object]) -> list:
    return [c for c in children if c is not None]


@v_args(meta=True)
class ToAst(Transformer):
    """Tree -> AST. Every method gets the rule's `meta` (its position) and its children."""

    def __init__(self, positions: Positions):
        super().__init__(visit_tokens=False)
        self._p = positions

    def _pos(self, meta) -> ast.Pos:
        return self._p.at(getattr(meta, "line", None), getattr(meta, "column", None))

    def _end_line(self, meta) -> int:
        """The line (in its own file) a statement ends on."""
        return self._p.at(getattr(meta, "end_line", None), getattr(meta, "end_column", None)).line

    # ------------------------------------------------------------ top level

    def start(self, meta, items):
        return ast.Config(tuple(items), pos=self._p.at(1, 1))

    def core_param(self, meta, c):
        return ast.CoreParam(str(c[0]), c[1], pos=self._pos(meta))

    # not a Kamailio 5.6 core parameter: kept for the compiler, which reports it with a suggestion
    unknown_param = core_param

    def listen_param(self, meta, c):
        return ast.CoreParam("listen", c[0], pos=self._pos(meta))

    def alias_param(self, meta, c):
        values = tuple(self._listen(addr) for addr in c)
        return ast.CoreParam("alias", values[0] if len(values) == 1 else values, pos=self._pos(meta))

    def listen_value(self, meta, c):
        *addrs, advertise, name, virtual = c
        values = tuple(self._listen(a, advertise, name, virtual is not None) for a in addrs)
        return values[0] if len(values) == 1 else values

    def advertise(self, meta, c):
        return ":".join(_text(p) for p in c[0].parts)

    def listen_name(self, meta, c):
        return c[0].value

    def virtual(self, meta, c):
        return True

    def listen_addr(self, meta, parts):
        return _ListenAddr(parts, self._pos(meta))

    def any_part(self, meta, c):
        return ast.Ident("*", pos=self._pos(meta))

    def multihomed(self, meta, c):
        return ast.Ident("(" + ",".join(_text(x) for x in c) + ")", pos=self._pos(meta))

    def _listen(self, addr: _ListenAddr, advertise: str | None = None, name: str | None = None,
                virtual: bool = False) -> ast.ListenValue:
        texts = [_text(p) for p in addr.parts]
        proto = None
        if len(texts) == 3 or (len(texts) == 2 and texts[0] in _PROTOS and not texts[1].isdigit()):
            proto = texts.pop(0).lower()
        if len(texts) > 2 or not texts:
            raise ConfigError.at(addr.pos, "bad listen address — expected [proto:]host[:port]")
        port = None
        if len(texts) == 2 and texts[1] != "*":
            try:
                port = parse_number(texts[1])  # a NUMBER: 5060, 0x13c4, 011704, 1001b
            except ValueError:
                raise ConfigError.at(addr.pos, f"bad port '{texts[1]}' — port number expected") from None
        return ast.ListenValue(proto, texts[0], port, advertise, name, virtual, pos=addr.pos)

    def cfg_var(self, meta, c):
        full_name, value, desc = c
        group, _, name = str(full_name).partition(".")
        if group == "kemi" and name in _KEMI_PARAMS:
            return ast.CoreParam(f"kemi.{name}", value, pos=self._pos(meta))
        return ast.CfgVar(group, name, value, desc, pos=self._pos(meta))

    def cfg_var_desc(self, meta, c):
        return c[0].value

    def load_module(self, meta, c):
        return ast.LoadModule(c[0].value, pos=self._pos(meta))

    def load_modulex(self, meta, c):
        return ast.LoadModule(c[0].value, expand=True, pos=self._pos(meta))

    def load_path(self, meta, c):
        return ast.LoadPath(_present(c)[-1].value, pos=self._pos(meta))

    def mod_param(self, meta, c, expand: bool = False):
        module, name, value = c
        if isinstance(value, ast.Ident) and value.name in _NUMBER_WORDS:
            value = ast.Int(_NUMBER_WORDS[value.name], pos=value.pos)
        elif isinstance(value, ast.Ident):
            raise ConfigError.at(value.pos, f"Invalid arguments: a modparam value is a string or a number, "
                                            f"not the word '{value.name}' (is a #!define for it missing?)")
        elif isinstance(value, ast.PVar):
            value = _modparamx_pv(value, expand)
        return ast.ModParam(module.value, name.value, value, expand=expand, pos=self._pos(meta))

    def mod_paramx(self, meta, c):
        return self.mod_param(meta, c, expand=True)

    def cfg_engine(self, meta, c):
        return ast.CoreParam("cfgengine", _present(c)[-1], pos=self._pos(meta))

    def flags_decl(self, meta, c):
        return ast.FlagDecl(tuple(c), pos=self._pos(meta))

    def avpflags_decl(self, meta, c):
        return ast.FlagDecl(tuple(c), avp=True, pos=self._pos(meta))

    def flag_spec(self, meta, c):
        name, number = c
        text = name.value if isinstance(name, ast.Str) else str(name)
        return (text, parse_number(number) if number is not None else None)

    def route_block(self, meta, c):
        keyword, name, body = c
        if name is not None and keyword in _UNNAMED_ONLY:
            raise ConfigError.at(self._pos(meta), f"'{keyword}' takes no name — write '{keyword} {{ ... }}'")
        kind = _ROUTE_KINDS[keyword]
        if kind == "route" and name is None:
            kind = "request"
        return ast.Route(kind, _route_name(name), body, pos=self._pos(meta))

    def route_kind(self, meta, c):
        return str(c[0])

    def event_route(self, meta, c):
        return ast.Route("event", str(c[0]), c[1], pos=self._pos(meta))

    # ------------------------------------------------------------ statements

    def block(self, meta, stmts):
        return ast.Block(tuple(s for s in stmts if s is not None), pos=self._pos(meta))

    route_body = block

    def body(self, meta, c):
        if c and isinstance(c[0], ast.Block):
            return c[0]
        return ast.Block(tuple(c), pos=self._pos(meta))

    def if_stmt(self, meta, c):
        return ast.If(c[0], c[1], c[2], pos=self._pos(meta), end_line=self._end_line(meta))

    def while_stmt(self, meta, c):
        return ast.While(c[0], c[1], pos=self._pos(meta), end_line=self._end_line(meta))

    def switch_stmt(self, meta, c):
        return ast.Switch(c[0], tuple(c[1:]), pos=self._pos(meta), end_line=self._end_line(meta))

    def case(self, meta, c):
        return ast.Case(c[0], tuple(c[1:]), pos=self._pos(meta))

    def regex_case(self, meta, c):
        return ast.Case(c[0], tuple(c[1:]), regex=True, pos=self._pos(meta))

    def default_case(self, meta, c):
        return ast.Case(None, tuple(c), pos=self._pos(meta))

    def assign(self, meta, c):
        return ast.Assign(self._pvar(c[0]), "=", c[1], pos=self._pos(meta))

    def return_stmt(self, meta, c):
        return ast.Return(_first(c), pos=self._pos(meta))

    def exit_stmt(self, meta, c):
        return ast.Exit(_first(c), pos=self._pos(meta))

    def drop_stmt(self, meta, c):
        return ast.Drop(_first(c), pos=self._pos(meta))

    def break_stmt(self, meta, c):
        return ast.Break(pos=self._pos(meta))

    def route_call(self, meta, c):
        target = c[0]
        if isinstance(target, ast.Str):
            return ast.RouteCall(target.value, pos=self._pos(meta))
        if isinstance(target, ast.Ident):
            return ast.RouteCall(target.name, pos=self._pos(meta))
        if isinstance(target, ast.Int):
            return ast.RouteCall(str(target.value), pos=self._pos(meta))
        return ast.RouteCall(target, pos=self._pos(meta))

    def call(self, meta, c):
        return ast.Call(str(c[0]), tuple(_present(c[1:])), pos=self._pos(meta))

    def socket(self, meta, c):
        return ast.Ident(":".join(_text(p) for p in _present(c)), pos=self._pos(meta))

    def noparen_action(self, meta, c):
        return str(c[0])

    def uri_keyword(self, meta, c):
        return ast.Keyword(str(c[0]), pos=self._pos(meta))

    def keyword(self, meta, c):
        return c[0]

    # ------------------------------------------------------------ expressions

    def _bin(self, meta, op: str, left, right):
        return ast.BinOp(op, left, right, pos=self._pos(meta))

    def binop(self, meta, c):
        return self._bin(meta, c[1], c[0], c[2])

    def log_or(self, meta, c):
        return self._bin(meta, "||", c[0], c[1])

    def log_and(self, meta, c):
        return self._bin(meta, "&&", c[0], c[1])

    def bit_or(self, meta, c):
        return self._bin(meta, "|", c[0], c[1])

    def bit_and(self, meta, c):
        return self._bin(meta, "&", c[0], c[1])

    def bit_xor(self, meta, c):
        return self._bin(meta, "^", c[0], c[1])

    def lshift(self, meta, c):
        return self._bin(meta, "<<", c[0], c[1])

    def rshift(self, meta, c):
        return self._bin(meta, ">>", c[0], c[1])

    def eq_op(self, meta, c):
        return str(c[0])

    rel_op = add_op = eq_op

    def mul_op(self, meta, c):
        return "%" if str(c[0]) == "mod" else str(c[0])

    def un_op(self, meta, c):
        return "!" if str(c[0]) == "not" else str(c[0])

    def unop(self, meta, c):
        op, operand = c
        if op == "-" and isinstance(operand, ast.Int):
            return ast.Int(-operand.value, pos=self._pos(meta))
        return ast.UnOp(op, operand, pos=self._pos(meta))

    def defined(self, meta, c):
        return ast.UnOp("defined", c[0], pos=self._pos(meta))

    def cast(self, meta, c):
        return ast.UnOp(str(c[0])[1:-1], c[1], pos=self._pos(meta))

    def strlen(self, meta, c):
        return ast.UnOp("strlen", c[0], pos=self._pos(meta))

    def strempty(self, meta, c):
        return ast.UnOp("strempty", c[0], pos=self._pos(meta))

    def selval(self, meta, c):
        return ast.Call("selval", tuple(c), pos=self._pos(meta))

    def keyword_cmp(self, meta, c):
        kw, op, right = c
        return ast.BinOp(op, ast.Keyword(str(kw), pos=self._pos(meta)), right, pos=self._pos(meta))

    def keyword_cmp_word(self, meta, c):
        kw, op, word = c
        left = ast.Keyword(str(kw), pos=self._pos(meta))
        return ast.BinOp(op, left, ast.Ident(str(word), pos=self._p.of(word)), pos=self._pos(meta))

    def myself_cmp(self, meta, c):
        op, kw = c
        return ast.BinOp(op, ast.Keyword("myself", pos=self._pos(meta)),
                         ast.Keyword(str(kw), pos=self._p.of(kw)), pos=self._pos(meta))

    def myself(self, meta, c):
        return ast.Keyword("myself", pos=self._pos(meta))

    # ------------------------------------------------------------ values

    def number(self, meta, c):
        return ast.Int(parse_number(str(c[0])), pos=self._p.of(c[0]))

    def negative(self, meta, c):
        return ast.Int(-parse_number(str(c[0])), pos=self._pos(meta))

    def string(self, meta, c):
        if c[0].type == "SQSTRING":
            value = c[0].value[1:-1]
        else:
            value = "".join(unescape(t.value[1:-1]) for t in c)
        return ast.Str(value, pos=self._p.of(c[0]))

    def ident(self, meta, c):
        return ast.Ident(str(c[0]), pos=self._p.of(c[0]))

    def ident_brackets(self, meta, c):
        return ast.Ident(f"[{c[0]}]", pos=self._pos(meta))

    def pvar(self, meta, c):
        return self._pvar(c[0])

    def _pvar(self, token: Token) -> ast.PVar:
        pos = self._p.of(token)
        try:
            return parse_pv(str(token), pos)
        except PVSyntaxError as exc:
            raise ConfigError.at(pos, f"bad pseudo-variable '{token}': {exc}") from None

    def select(self, meta, c):
        return ast.Select(str(c[0]), pos=self._p.of(c[0]))


@dataclass
class _ListenAddr:
    parts: list
    pos: ast.Pos


def _text(node: object) -> str:
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, ast.Str):
        return node.value
    if isinstance(node, ast.Int):
        return str(node.value)
    return str(node)


def _first(children: list) -> object | None:
    present = _present(children)
    return present[0] if present else None


def _route_name(name: object) -> str | None:
    if name is None:
        return None
    if isinstance(name, ast.Str):
        return name.value
    return str(name)
