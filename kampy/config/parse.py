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
from typing import Callable, Iterable

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from kampy.config import ast
from kampy.errors import ConfigError, Diagnostic, register_source

log = logging.getLogger(__name__)

LineMap = Callable[[int], tuple[str, int]]

# ---------------------------------------------------------------------------- the parser


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kampy"


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    text = resources.files("grammar").joinpath("kamailio.lark").read_text(encoding="utf-8")
    options = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)
    cache: str | bool = False
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    try:
        directory = _cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        if os.access(directory, os.W_OK):
            cache = str(directory / f"kamailio-grammar-{digest}.lark-cache")
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
        raise ConfigError(_describe_error(parser, text, exc, positions)) from None
    try:
        return _ToAst(positions).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConfigError):
            raise exc.orig_exc from None
        raise


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


# ---------------------------------------------------------------------------- pseudo-variables

_PV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _balanced(text: str, start: int, open_: str, close: str) -> int:
    """Index just past the `close` matching the `open_` at text[start]; -1 if unbalanced."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _split_params(text: str) -> list[str]:
    """Split transformation parameters on commas outside (), [] and {}."""
    params, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            params.append(text[start:i])
            start = i + 1
    params.append(text[start:])
    return params


def parse_transform(body: str, pos: ast.Pos) -> ast.Transform:
    """`s.substr,0,3` (the text between the braces) -> Transform."""
    head, _, rest = body.partition(",")
    cls, _, name = head.partition(".")
    if not cls or not name:
        raise ConfigError.at(pos, f"malformed transformation '{{{body}}}' — expected {{class.name,params}}")
    if not rest and "," not in body:
        params: tuple[str, ...] = ()
    elif head == "re.subst":  # the substitution expression may itself hold commas
        params = (rest,)
    elif head == "s.select":  # `{s.select,0,,}`: the separator may be a comma
        index, _, sep = rest.partition(",")
        params = (index, sep)
    else:
        params = tuple(_split_params(rest))
    return ast.Transform(cls.strip(), name.strip(), params, pos=pos)


def parse_pvar(text: str, pos: ast.Pos) -> ast.PVar:
    """Read `$rU`, `$var(x)`, `$(avp(s:x)[0]{s.len})`, `$?` into a PVar."""
    if text == "$?":
        return ast.PVar("?", text=text, pos=pos)
    if not text.startswith("$("):
        m = _PV_NAME.match(text, 1)
        if m is None:
            raise ConfigError.at(pos, f"malformed pseudo-variable '{text}'")
        arg = text[m.end() + 1:-1] if m.end() < len(text) else None
        return ast.PVar(m.group(), arg, text=text, pos=pos)
    inner = text[2:-1]
    m = _PV_NAME.match(inner)
    if m is None:
        raise ConfigError.at(pos, f"malformed pseudo-variable '{text}' — expected a name after '$('")
    i, arg, index, transforms = m.end(), None, None, []
    if i < len(inner) and inner[i] == "(":
        end = _balanced(inner, i, "(", ")")
        arg, i = inner[i + 1:end - 1], end
    if i < len(inner) and inner[i] == "[":
        end = _balanced(inner, i, "[", "]")
        if end < 0:
            raise ConfigError.at(pos, f"malformed pseudo-variable '{text}' — unclosed '['")
        index, i = inner[i + 1:end - 1].strip(), end
    while i < len(inner) and inner[i] == "{":
        end = _balanced(inner, i, "{", "}")
        if end < 0:
            raise ConfigError.at(pos, f"malformed pseudo-variable '{text}' — unclosed '{{'")
        transforms.append(parse_transform(inner[i + 1:end - 1], pos))
        i = end
    if inner[i:].strip():
        raise ConfigError.at(pos, f"malformed pseudo-variable '{text}' — unexpected '{inner[i:]}'")
    return ast.PVar(m.group(), arg, index, tuple(transforms), text=text, pos=pos)


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

    # ------------------------------------------------------------ top level

    def start(self, meta, items):
        return ast.Config(tuple(items), pos=self._p.at(1, 1))

    def core_param(self, meta, c):
        return ast.CoreParam(str(c[0]), c[1], pos=self._pos(meta))

    def unknown_param(self, meta, c):
        raise ConfigError.at(self._p.of(c[0]), f"unknown core parameter '{c[0]}'")

    def listen_param(self, meta, c):
        return ast.CoreParam("listen", c[0], pos=self._pos(meta))

    def alias_param(self, meta, c):
        values = tuple(self._listen(addr) for addr in c)
        return ast.CoreParam("alias", values[0] if len(values) == 1 else values, pos=self._pos(meta))

    def listen_value(self, meta, c):
        *addrs, _adv_kw, adv, _name_kw, name, virtual = c
        advertise = self._advertise(adv) if adv is not None else None
        name_text = name.value if name is not None else None
        values = tuple(self._listen(a, advertise, name_text, virtual is not None) for a in addrs)
        return values[0] if len(values) == 1 else values

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
        if len(texts) == 2:
            if not texts[1].isdigit() and texts[1] != "*":
                raise ConfigError.at(addr.pos, f"bad port '{texts[1]}' — expected a number")
            port = int(texts[1]) if texts[1].isdigit() else None
        return ast.ListenValue(proto, texts[0], port, advertise, name, virtual, pos=addr.pos)

    def _advertise(self, addr: _ListenAddr) -> str:
        return ":".join(_text(p) for p in addr.parts)

    def cfg_var(self, meta, c):
        group, index, name, value, _desc_kw, desc = c
        group_text = f"{group}[{index}]" if index is not None else str(group)
        desc_text = desc.value if desc is not None else None
        if group_text == "kemi" and name in _KEMI_PARAMS:
            return ast.CoreParam(f"kemi.{name}", value, pos=self._pos(meta))
        return ast.CfgVar(group_text, name, value, desc_text, pos=self._pos(meta))

    def cfg_var_name(self, meta, c):
        return str(c[0])

    def load_module(self, meta, c):
        return ast.LoadModule(c[1].value, expand=str(c[0]) == "loadmodulex", pos=self._pos(meta))

    def load_path(self, meta, c):
        return ast.LoadPath(_present(c)[-1].value, pos=self._pos(meta))

    def mod_param(self, meta, c):
        keyword, module, name, value = c
        if isinstance(value, ast.Ident) and value.name in _NUMBER_WORDS:
            value = ast.Int(_NUMBER_WORDS[value.name], pos=value.pos)
        return ast.ModParam(module.value, name.value, value, expand=str(keyword) == "modparamx",
                            pos=self._pos(meta))

    def cfg_engine(self, meta, c):
        return ast.CoreParam("cfgengine", _present(c)[-1], pos=self._pos(meta))

    def flags_decl(self, meta, c):
        return ast.FlagDecl(tuple(c[1:]), avp=str(c[0]) == "avpflags", pos=self._pos(meta))

    def flag_spec(self, meta, c):
        name, number = c
        text = name.value if isinstance(name, ast.Str) else str(name)
        return (text, parse_number(number) if number is not None else None)

    def route_block(self, meta, c):
        keyword, name, body = c
        if name is not None and str(keyword) in _UNNAMED_ONLY:
            raise ConfigError.at(self._p.of(keyword), f"'{keyword}' takes no name — write '{keyword} {{ ... }}'")
        kind = _ROUTE_KINDS[str(keyword)]
        if kind == "route" and name is None:
            kind = "request"
        return ast.Route(kind, _route_name(name), body, pos=self._pos(meta))

    def event_route(self, meta, c):
        return ast.Route("event", str(c[0]), c[1], pos=self._pos(meta))

    # ------------------------------------------------------------ statements

    def block(self, meta, stmts):
        return ast.Block(tuple(s for s in stmts if s is not None), pos=self._pos(meta))

    def body(self, meta, c):
        if c and isinstance(c[0], ast.Block):
            return c[0]
        return ast.Block(tuple(c), pos=self._pos(meta))

    def if_stmt(self, meta, c):
        return ast.If(c[0], c[1], c[2], pos=self._pos(meta))

    def while_stmt(self, meta, c):
        return ast.While(c[0], c[1], pos=self._pos(meta))

    def switch_stmt(self, meta, c):
        return ast.Switch(c[0], tuple(c[1:]), pos=self._pos(meta))

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
        return ast.RouteCall(getattr(target, "text", ""), expr=target, pos=self._pos(meta))

    def call(self, meta, c):
        return ast.Call(str(c[0]), tuple(_present(c[1:])), pos=self._pos(meta))

    def socket(self, meta, c):
        return ast.Ident(":".join(_text(p) for p in _present(c)), pos=self._pos(meta))

    def keyword(self, meta, c):
        return ast.Keyword(str(c[0]), pos=self._pos(meta))

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
        return ast.BinOp(op, ast.Keyword(str(kw), pos=self._p.of(kw)), right, pos=self._pos(meta))

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
        return ast.Int(-parse_number(str(c[1])), pos=self._p.of(c[0]))

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
        return parse_pvar(str(token), self._p.of(token))

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

# What each terminal is called in an error message.
_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "DQSTRING": "a string", "SQSTRING": "a string",
    "PVAR": "a pseudo-variable", "SELECT": "a select (@...)", "HOST": "a host name",
    "IPV4": "an IPv4 address", "IPV6": "an IPv6 address", "NET": "a network address",
    "CORE_PARAM": "a core parameter", "ROUTE_KIND": "a route block", "EVENT_NAME": "an event name (module:event)",
    "KEYWORD": "a keyword such as 'method' or 'uri'", "NOPAREN_CMD": "a core action",
    "LOADMODULE": "'loadmodule'", "LOADPATH": "'loadpath'", "MODPARAM": "'modparam'",
    "FLAGS_KW": "'flags'", "ADVERTISE": "'advertise'", "STRNAME": "'name'", "VIRTUAL": "'virtual'",
    "DESC": "'desc'", "URI_HOST": "'uri:host'", "URI_PORT": "'uri:port'", "CAST": "'(int)'",
    "$END": "the end of the file",
}
_STATEMENT_START = {"IF", "SWITCH", "WHILE", "RETURN", "EXIT", "DROP", "BREAK", "PVAR", "NOPAREN_CMD"}
_EXPRESSION_START = {"NUMBER", "DQSTRING", "PVAR", "SELECT", "KEYWORD", "STRLEN", "DEFINED"}
_TOP_START = {"CORE_PARAM", "ROUTE_KIND", "LOADMODULE", "MODPARAM"}
_OPERATORS = {"==", "!=", "=~", "+", "-", "*", "/", "&&", "||", "|", "&", "^", "<<", ">>", ">", "<",
              ">=", "<=", "eq", "ne", "ieq", "ine", "and", "or", "mod"}
_TOP_ONLY = {"ROUTE_KIND", "EVENT_ROUTE", "LOADMODULE", "MODPARAM", "CORE_PARAM", "LISTEN", "ALIAS"}


def _terminal_texts(parser: Lark) -> dict[str, str]:
    texts = {}
    for term in parser.terminals:
        if term.pattern.type == "str":
            texts[term.name] = term.pattern.value
    return texts


def _readable_expected(parser: Lark, expected: Iterable[str]) -> str:
    names = set(expected)
    literal = _terminal_texts(parser)
    words: list[str] = []
    if names & _TOP_START == _TOP_START:
        words.append("a core parameter, loadmodule, modparam or a route block")
        names -= _TOP_START | {"NAME", "LISTEN", "ALIAS", "EVENT_ROUTE", "FLAGS_KW", "LOADPATH", "CFGENGINE",
                               "SEMICOLON", "$END"}
    if "IF" in names:
        words.append("a statement")
        names -= _STATEMENT_START | {"NAME", "ROUTE", "SEMICOLON"}
    if "NUMBER" in names and "PVAR" in names:
        words.append("a value or an expression")
        names = {n for n in names if n in ("RPAR", "RBRACE", "SEMICOLON", "COMMA", "COLON", "RSQB")
                 or (n in literal and literal[n] in (")", "}", ";", ",", ":", "]"))}
    operators = {n for n in names if literal.get(n) in _OPERATORS}
    if len(operators) > 3:
        words.append("an operator")
        names -= operators
    for name in sorted(names, key=lambda n: (n not in literal, literal.get(n, n))):
        if name in literal:
            words.append(f"'{literal[name]}'")
        elif name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
    words = list(dict.fromkeys(words))
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    text = str(token)
    if token.type in ("DQSTRING", "SQSTRING"):
        return f"string {text if len(text) < 30 else text[:27] + '...'}"
    if token.type == "NUMBER":
        return f"number {text}"
    if token.type in ("NAME", "HOST"):
        return f"name '{text}'"
    return f"'{text}'"


@dataclass
class _Context:
    """What the interactive re-parse learnt up to the error: open braces and the last token."""

    open_braces: list[Token]
    last: Token | None


def _context_at_error(parser: Lark, text: str) -> _Context:
    interactive = parser.parse_interactive(text)
    braces: list[Token] = []
    last = None
    try:
        for token in interactive.iter_parse():
            if token.type == "LBRACE":
                braces.append(token)
            elif token.type == "RBRACE" and braces:
                braces.pop()
            last = token
    except UnexpectedInput:
        # the failing token was yielded (and recorded) before the parser rejected it
        if last is not None and last.type == "LBRACE" and braces and braces[-1] is last:
            braces.pop()
    return _Context(braces, last)


def _describe_error(parser: Lark, text: str, exc: UnexpectedInput, positions: _Positions) -> list[Diagnostic]:
    context = _context_at_error(parser, text)
    if isinstance(exc, UnexpectedCharacters):
        return [_lexer_error(parser, text, exc, positions)]
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _eof_error(parser, exc, context, positions)
    assert isinstance(exc, UnexpectedToken)
    return _token_error(parser, exc, context, positions)


def _eof_error(parser: Lark, exc: UnexpectedInput, context: _Context, positions: _Positions) -> list[Diagnostic]:
    if context.open_braces:
        brace = context.open_braces[-1]
        file, line = positions.at(brace.line, brace.column).file, positions.at(brace.line, 1).line
        return [Diagnostic(positions.of(brace),
                           f"unclosed '{{' opened at line {line} — the file ends before its '}}'"
                           + ("" if file == positions.of(brace).file else ""))]
    where = positions.of(context.last) if context.last is not None else positions.at(1, 1)
    expected = _readable_expected(parser, getattr(exc, "expected", ()) or ())
    return [Diagnostic(where, f"unexpected end of file — expected {expected}")]


def _token_error(parser: Lark, exc: UnexpectedToken, context: _Context, positions: _Positions) -> list[Diagnostic]:
    token = exc.token
    expected = set(exc.expected)
    pos = positions.of(token)
    last = context.last if context.last is not token else None
    # a route block or a module line in the middle of a route: some '{' was never closed
    if token.type in _TOP_ONLY and "RBRACE" in expected and context.open_braces:
        brace = context.open_braces[-1]
        brace_pos = positions.of(brace)
        return [
            Diagnostic(brace_pos, f"unclosed '{{' opened at line {brace_pos.line} — "
                                  f"{_describe_token(token)} at line {pos.line} is still inside it"),
            Diagnostic(pos, f"unexpected {_describe_token(token)} — expected a statement or '}}'"),
        ]
    # a statement that runs into the next line: the ';' is missing at the end of the previous one
    if "SEMICOLON" in expected and last is not None and token.line != _end_line(last):
        end = positions.at(_end_line(last), _end_col(last))
        return [Diagnostic(end, f"missing ';' after {_describe_token(last)} "
                                f"(before {_describe_token(token)} at line {pos.line})")]
    message = f"unexpected {_describe_token(token)} — expected {_readable_expected(parser, expected)}"
    if token.type == "NAME" and "LPAR" in expected:
        message = f"unexpected {_describe_token(token)}"
    return [Diagnostic(pos, message)]


def _end_line(token: Token) -> int:
    return token.end_line if token.end_line is not None else token.line


def _end_col(token: Token) -> int:
    return token.end_column if token.end_column is not None else token.column


def _lexer_error(parser: Lark, text: str, exc: UnexpectedCharacters, positions: _Positions) -> Diagnostic:
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
    char = rest[:1]
    expected = _readable_expected(parser, exc.allowed or ())
    return Diagnostic(pos, f"unexpected character '{char}' — expected {expected}")
