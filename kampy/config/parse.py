"""Parse a preprocessed Kamailio configuration into the AST of `kampy.config.ast`.

The grammar lives in `grammar/kamailio.lark` (LALR, contextual lexer). The Lark parser is built
once per process and cached on disk between processes. Syntax errors become `ConfigError`s that
point at the user's original file and line (through the preprocessor's line map) and say what
was expected in Kamailio words.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from collections.abc import Callable, Iterable

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from kampy.config import ast
from kampy.config.pvparse import PVSyntaxError, parse_pv
from kampy.errors import ConfigError, Diagnostic, register_source

log = logging.getLogger(__name__)

LineMap = Callable[[int], tuple[str, int]]

# ---------------------------------------------------------------------------- the parser


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kampy"


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    text = resources.files("kampy.grammar").joinpath("kamailio.lark").read_text(encoding="utf-8")
    options = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)
    cache: str | bool = False
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    try:
        directory = _cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        if os.access(directory, os.W_OK):
            path = directory / f"kamailio-grammar-{digest}.lark-cache"
            if not path.exists():  # a new grammar: forget the parsers built from older ones
                for old in directory.glob("kamailio-grammar-*.lark-cache"):
                    old.unlink(missing_ok=True)
            cache = str(path)
    except OSError as exc:  # no home, read-only file system...: build the parser every time
        log.debug("no parser cache: %s", exc)
    return Lark(text, cache=cache, **options)


def parse(text: str, filename: str = "<string>", line_map: LineMap | None = None) -> ast.Config:
    """Parse preprocessed config `text`; `line_map(output_line) -> (orig_file, orig_line)`."""
    if line_map is None:
        register_source(filename, text)
        line_map = functools.partial(_identity_map, filename)
    positions = _Positions(line_map)
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        diagnostics = _describe_error(parser, text, exc, positions)
        diagnostics += _long_strings_before(parser, text, exc.pos_in_stream, positions)
        raise ConfigError(diagnostics) from None
    if not tree.children and not _has_tokens(parser, text):
        raise ConfigError.at(positions.at(1, 1), "the config has no statement (Kamailio refuses an empty "
                                                 "config: 'syntax error')")
    bad_addresses = _bad_addresses(tree, positions)
    if bad_addresses:
        raise ConfigError(bad_addresses)
    try:
        return _ToAst(positions).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConfigError):
            raise exc.orig_exc from None
        raise


def _long_strings_before(parser: Lark, text: str, end: int | None, positions: _Positions) -> list[Diagnostic]:
    """A note on the first string before a syntax error that spans lines: strings may, so a
    missing quote shows only where the quotes stop pairing up, often far below it."""
    try:
        for token in parser.lex(text[:end] if end is not None else text):
            if token.type == "DQSTRING" and "\n" in token and token.end_line is not None:
                lines = token.end_line - token.line + 1
                return [Diagnostic(positions.of(token), f"this string runs over {lines} lines: is its "
                                                        "closing quote missing?", "note")]
    except UnexpectedInput:
        pass
    return []


def _has_tokens(parser: Lark, text: str) -> bool:
    """Whether the text holds anything but comments and blanks: a lone `;` is a statement."""
    try:
        return any(True for _ in parser.lex(text))
    except UnexpectedInput:
        return True


_DOTTED_QUAD = re.compile(r"\d+\.\d+\.\d+\.\d+")


def _bad_addresses(tree: Tree, positions: _Positions) -> list[Diagnostic]:
    """cfg.y's `ipv4` and `ipnet` rules: each part of an IPv4 address at most 255, a netmask's
    bits at most the address's length."""
    found = []
    for token in tree.scan_values(lambda v: isinstance(v, Token) and v.type in ("IPV4", "NET")):
        address, _, mask = str(token).partition("/")
        quad = _DOTTED_QUAD.search(address)
        if quad and any(int(part) > 255 for part in quad.group(0).split(".")):
            found.append(Diagnostic(positions.of(token), f"invalid ipv4 address {quad.group(0)}"))
        elif mask.strip().isdigit() and int(mask) > (32 if quad else 128):
            found.append(Diagnostic(positions.of(token), f"invalid bit number in netmask: {token}"))
    return found


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


def _identity_map(filename: str, line: int) -> tuple[str, int]:
    return filename, line


class _Positions:
    def __init__(self, line_map: LineMap):
        self._line_map = line_map

    def at(self, line: int | None, col: int | None) -> ast.Pos:
        if line is None:
            return ast.NOWHERE
        file, orig = self._line_map(line)
        return ast.Pos(file, orig, col or 1)

    def of(self, item: Token | Tree | object) -> ast.Pos:
        if isinstance(item, Token):
            return self.at(item.line, item.column)
        meta = getattr(item, "meta", None)
        if meta is not None and not meta.empty:
            return self.at(meta.line, meta.column)
        return ast.NOWHERE


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
class _ToAst(Transformer):
    """Tree -> AST. Every method gets the rule's `meta` (its position) and its children."""

    def __init__(self, positions: _Positions):
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


# ---------------------------------------------------------------------------- errors

# What the regexp terminals are called in an error message (keywords are shown quoted).
_TERMINAL_WORDS = {
    "ID": "a name", "NUMBER": "a number", "DQSTRING": "a string", "SQSTRING": "a string",
    "PVAR": "a pseudo-variable", "SELECT": "a select (@...)", "HOST": "a host name",
    "IPV4": "an IPv4 address", "IPV6": "an IPv6 address", "NET": "a network address",
    "CFG_VAR_NAME": "a config variable (group.name)", "EVENT_NAME": "an event name (module:event)",
    "MSG_LEN": "'msg:len'", "URI_HOST": "'uri:host'", "URI_PORT": "'uri:port'", "CAST": "'(int)'",
    "$END": "the end of the file",
}
_CLOSERS = {")", "}", ";", ",", ":", "]"}
# words that only start top-level items
_TOP_WORDS = {"route", "request_route", "failure_route", "onreply_route", "reply_route", "branch_route",
              "onsend_route", "event_route", "loadmodule", "loadmodulex", "loadpath", "mpath"}


@dataclass(frozen=True)
class _Terminals:
    """Terminal names grouped for error messages, taken from the grammar itself."""

    literal: dict[str, str]  # terminal name -> its text, for keywords and punctuation
    by_rule: dict[str, frozenset[str]]  # rule name -> the terminals its alternatives start with

    def group(self, *rules: str) -> frozenset[str]:
        return frozenset().union(*(self.by_rule.get(r, frozenset()) for r in rules))

    def named(self, *texts: str) -> frozenset[str]:
        return frozenset(n for n, t in self.literal.items() if t in texts)


@functools.lru_cache(maxsize=1)
def _terminals() -> _Terminals:
    parser = _parser()
    literal = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
    by_rule: dict[str, set[str]] = {}
    for rule in parser.rules:
        if rule.expansion and rule.expansion[0].is_term:
            by_rule.setdefault(rule.origin.name, set()).add(rule.expansion[0].name)
    return _Terminals(literal, {k: frozenset(v) for k, v in by_rule.items()})


def _readable_expected(expected: Iterable[str]) -> str:
    """Turn a set of terminal names into words: 'a statement or '}'', 'an expression'..."""
    t = _terminals()
    names = set(expected)
    words: list[str] = []
    top = t.group("route_kind") | {"CORE_PARAM"} | t.named(
        "loadmodule", "loadmodulex", "modparam", "modparamx", "loadpath", "mpath", "listen", "alias",
        "event_route", "flags", "bool", "avpflags", "cfgengine")
    if t.named("loadmodule") <= names:
        words.append("a core parameter, loadmodule, modparam or a route block")
        names -= top | {"ID", "CFG_VAR_NAME", "$END"} | t.named(";")
    statement = t.group("noparen_action") | t.named(
        "if", "switch", "while", "return", "exit", "drop", "break", "route", ";") | {"ID", "PVAR"}
    if t.named("if") <= names:
        words.append("a statement")
        names -= statement
    if {"NUMBER", "PVAR"} <= names:
        words.append("a value or an expression")
        names = {n for n in names if t.literal.get(n) in _CLOSERS}
    operators = t.group("eq_op", "rel_op", "add_op", "mul_op") | t.named(
        "||", "or", "&&", "and", "|", "&", "^", "<<", ">>")
    if len(names & operators) > 3:
        words.append("an operator")
        names -= operators
    known = [n for n in names if n in t.literal or n in _TERMINAL_WORDS]
    for name in sorted(known, key=lambda n: (n not in t.literal, t.literal.get(n, n))):
        words.append(f"'{t.literal[name]}'" if name in t.literal else _TERMINAL_WORDS[name])
    words = list(dict.fromkeys(words))
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _expected(exc: UnexpectedInput) -> set[str]:
    """Terminals the parser could take at the error (also when the lexer raised it)."""
    state = getattr(exc, "state", None)
    if state is not None and hasattr(state, "parse_conf"):
        return set(state.parse_conf.parse_table.states[state.position].keys())
    return set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    text = str(token)
    if token.type in ("DQSTRING", "SQSTRING"):
        return f"string {text if len(text) < 30 else text[:27] + '...'}"
    if token.type == "NUMBER":
        return f"number {text}"
    if token.type in ("ID", "HOST") and text not in _TOP_WORDS:
        return f"name '{text}'"
    return f"'{text}'"


@dataclass
class _Context:
    """What a step-by-step re-parse learnt up to the error: open braces and the last token."""

    open_braces: list[Token]
    last: Token | None
    before_last: Token | None
    accepts: set[str]  # terminals the parser could really take at the error


def _context_at_error(parser: Lark, text: str) -> _Context:
    """Re-parse step by step up to the error (only on the error path) to learn the context."""
    interactive = parser.parse_interactive(text)
    braces: list[Token] = []
    last: Token | None = None
    before_last: Token | None = None
    pending: Token | None = None  # yielded by the lexer, fed to the parser on the next step

    def accept(token: Token) -> None:
        nonlocal last, before_last
        if token.type == "LBRACE":
            braces.append(token)
        elif token.type == "RBRACE" and braces:
            braces.pop()
        before_last, last = last, token

    try:
        for token in interactive.iter_parse():
            if pending is not None:
                accept(pending)
            pending = token
        if pending is not None:  # the text ran out: the error is at its end
            accept(pending)
    except UnexpectedToken as exc:
        if pending is not None and (exc.token.type == "$END" or exc.token.start_pos != pending.start_pos):
            accept(pending)  # the parser took it; the lexer then met a token it cannot take
    except UnexpectedInput:
        if pending is not None:
            accept(pending)
    try:
        accepts = set(interactive.accepts())
    except UnexpectedInput:
        accepts = set()
    return _Context(braces, last, before_last, accepts)


def _describe_error(parser: Lark, text: str, exc: UnexpectedInput, positions: _Positions) -> list[Diagnostic]:
    context = _context_at_error(parser, text)
    if isinstance(exc, UnexpectedCharacters):
        return [_lexer_error(text, exc, context, positions)]
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _eof_error(exc, context, positions)
    assert isinstance(exc, UnexpectedToken)
    start = exc.token.start_pos
    if start is not None and text.startswith("/*", start):
        return [Diagnostic(positions.of(exc.token), "unterminated comment — the closing '*/' is missing")]
    last = context.last
    if exc.token.type == "LPAR" and last is not None and last.type == "PVAR" and last.end_pos == start:
        return [Diagnostic(positions.of(last), f"malformed pseudo-variable '{last}(' — its parentheses "
                                               "are not balanced on this line")]
    return _token_error(exc, context, positions)


def _eof_error(exc: UnexpectedInput, context: _Context, positions: _Positions) -> list[Diagnostic]:
    if context.open_braces:
        brace = positions.of(context.open_braces[-1])
        message = f"unclosed '{{' opened at line {brace.line} — the file ends before its '}}'"
        return [Diagnostic(brace, message)]
    last = context.last
    where = positions.at(_end_line(last), _end_col(last)) if last is not None else positions.at(1, 1)
    expected = context.accepts or _expected(exc)
    return [Diagnostic(where, f"unexpected end of file — expected {_readable_expected(expected)}")]


def _token_error(exc: UnexpectedToken, context: _Context, positions: _Positions) -> list[Diagnostic]:
    token, expected, last = exc.token, context.accepts or _expected(exc), context.last
    pos = positions.of(token)
    top_level = _terminals().group("route_kind") | {"CORE_PARAM"} | _terminals().named(
        "loadmodule", "loadmodulex", "modparam", "modparamx", "event_route")
    # `failure_route[X] {` or `loadmodule "x"` where a statement was expected: the route block
    # before it is not closed (inside a block those words are read as names or `route(`)
    if last is not None and str(last) in _TOP_WORDS and token.type in ("LSQB", "LBRACE", "DQSTRING"):
        token, pos = last, positions.of(last)
    if context.open_braces and (token.type in top_level or str(token) in _TOP_WORDS):
        brace = positions.of(context.open_braces[-1])
        return [
            Diagnostic(brace, f"unclosed '{{' opened at line {brace.line} — "
                              f"{_describe_token(token)} at line {pos.line} is still inside it"),
            Diagnostic(pos, f"unexpected {_describe_token(token)} — expected a statement or '}}'"),
        ]
    if token.type == "RBRACE" and not context.open_braces:
        return [Diagnostic(pos, "unexpected '}' — there is no open '{' for it to close")]
    # a statement that runs into the next line: the ';' is missing at the end of the previous one
    if ("SEMICOLON" in expected and "IF" not in expected and last is not None and context.open_braces
            and last.type not in ("LBRACE", "RBRACE", "SEMICOLON") and token.line != _end_line(last)):
        end = positions.at(_end_line(last), _end_col(last))
        return [Diagnostic(end, f"missing ';' after {_describe_token(last)} "
                                f"(before {_describe_token(token)} at line {pos.line})")]
    if expected == {"LPAR"} and last is not None and last.type == "ID":
        before = context.before_last
        if before is None or before.type in ("SEMICOLON", "LBRACE", "RBRACE", "COLON", "ELSE"):
            return [Diagnostic(pos, f"'{last}' needs parentheses: write {last}();")]
        return [Diagnostic(positions.of(last), f"'{last}' is not a value: write \"{last}\" for a string, "
                                               f"{last}() for a function call, or #!define {last}")]
    return [Diagnostic(pos, f"unexpected {_describe_token(token)} — expected {_readable_expected(expected)}")]


def _end_line(token: Token) -> int:
    return token.end_line if token.end_line is not None else token.line


def _end_col(token: Token) -> int:
    return token.end_column if token.end_column is not None else token.column


def _lexer_error(text: str, exc: UnexpectedCharacters, context: _Context,
                 positions: _Positions) -> Diagnostic:
    pos = positions.at(exc.line, exc.column)
    rest = text[exc.pos_in_stream:exc.pos_in_stream + 2]
    if rest.startswith('"'):
        return Diagnostic(pos, "unterminated string — the closing '\"' is missing")
    if rest.startswith("'"):
        return Diagnostic(pos, "unterminated string — the closing \"'\" is missing")
    if rest == "/*":
        return Diagnostic(pos, "unterminated comment — the closing '*/' is missing")
    if rest.startswith("$"):
        return Diagnostic(pos, "malformed pseudo-variable — expected $name, $name(...) or $(...) "
                               "with balanced parentheses on one line")
    expected = context.accepts or _expected(exc)
    return Diagnostic(pos, f"unexpected character '{rest[:1]}' — expected {_readable_expected(expected)}")
