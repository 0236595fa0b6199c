"""The configuration AST: frozen dataclasses, every node with its source position.

Positions are in the *original* files (the preprocessor's line map is applied by the parser),
so an error anywhere after parsing can point at the user's file, line and column.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Pos:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Pos("<none>", 0, 0)


@dataclass(frozen=True)
class Node:
    pos: Pos = field(default=NOWHERE, compare=False, kw_only=True)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Str(Node):
    """A string literal after escape processing; adjacent literals are already joined."""

    value: str


@dataclass(frozen=True)
class Int(Node):
    value: int


@dataclass(frozen=True)
class Ident(Node):
    """A bare word in value position: a define left unexpanded, `yes`, `INET`, an IP address, `udp`..."""

    name: str


@dataclass(frozen=True)
class Transform(Node):
    """`{s.substr,0,3}`: class `s`, name `substr`, params as raw text (they may hold PVs)."""

    cls: str
    name: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class PVar(Node):
    """A pseudo-variable. `text` is exactly as written, e.g. `$(avp(s:x)[0]{s.len})`.

    `cls` is the class (`ru`, `var`, `avp`, `hdr`, `T_reply_code`, ...); `arg` the raw text inside the
    parentheses (`s:x`, `From`, `t=>$var(k)`), or None for `$ru`; `index` the raw index text
    (`0`, `-1`, `*`, `$var(i)`) or None; `transforms` the chain in order.
    """

    cls: str
    arg: str | None = None
    index: str | None = None
    transforms: tuple[Transform, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Select(Node):
    """A select such as `@to.tag` or `@hf_value.contact[1].uri`, kept as text."""

    text: str


@dataclass(frozen=True)
class Keyword(Node):
    """A core keyword used as a value: `method`, `uri`, `src_ip`, `myself`, `status`, `msg:len`, ..."""

    name: str


@dataclass(frozen=True)
class BinOp(Node):
    """`op` is the canonical operator: `==`, `!=`, `<`, `>`, `<=`, `>=`, `=~`, `!~`, `eq`, `ne`,
    `ieq`, `ine`, `&&`, `||`, `+`, `-`, `*`, `/`, `%`, `|`, `&`, `^`, `<<`, `>>`.
    (`and`/`or` are folded to `&&`/`||`.)"""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnOp(Node):
    """`op` is one of `!` (`not` folded in), `-`, `~`, `defined`, `strempty`, `strlen`, and the
    casts `int` / `str` (written `(int)` / `(str)`)."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Call(Node):
    """A function call, as a statement or inside an expression: `name(arg, ...)`.

    Core actions (`log`, `forward`, `setflag`, `rewriteuri`, ...) are Calls too; the compiler tells
    them apart from module functions. `selval(cond, a, b)` is a Call named `selval`. Socket-like
    arguments (`force_send_socket(udp:1.2.3.4:5060)`, `forward(host.example.com)`) are Idents
    holding the text; `forward(uri:host, uri:port)` gives Keywords.
    """

    name: str
    args: tuple[Expr, ...] = ()


# `route(NAME)` may also be used as a value: `if (route(CHECK)) {...}`.
Expr = Union[Str, Int, Ident, PVar, Select, Keyword, BinOp, UnOp, Call, "RouteCall"]


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Block(Node):
    stmts: tuple[Stmt, ...] = ()


@dataclass(frozen=True)
class If(Node):
    cond: Expr
    then: Block
    orelse: Block | None = None  # `else if` is an If inside a one-statement Block
    end_line: int = field(default=0, compare=False, kw_only=True)  # where it ends (its last `}`)


@dataclass(frozen=True)
class Case(Node):
    value: Expr | None  # None for `default:`
    stmts: tuple[Stmt, ...] = ()
    regex: bool = False  # `case /"^sip:": ...` matches the value as a regular expression


@dataclass(frozen=True)
class Switch(Node):
    expr: Expr
    cases: tuple[Case, ...] = ()
    end_line: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class While(Node):
    cond: Expr
    body: Block
    end_line: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Return(Node):
    value: Expr | None = None


@dataclass(frozen=True)
class Exit(Node):
    value: Expr | None = None  # `exit 1;` / `exit(0);` set the return code


@dataclass(frozen=True)
class Drop(Node):
    value: Expr | None = None


@dataclass(frozen=True)
class Break(Node):
    pass


@dataclass(frozen=True)
class RouteCall(Node):
    """`route(NAME)`; `name` is the route name as written (a number stays a string: `"1"`), or an
    expression for a route chosen at run time (`route($var(next))`)."""

    name: str | Expr


@dataclass(frozen=True)
class Assign(Node):
    """`$x = expr`; `op` is `=`, `:=` or `+=`."""

    target: PVar
    op: str
    value: Expr


@dataclass(frozen=True)
class ExprStmt(Node):
    """An expression used as a statement; usually a Call."""

    expr: Expr


Stmt = Union[Block, If, Switch, While, Return, Exit, Drop, Break, RouteCall, Assign, ExprStmt]


# ---------------------------------------------------------------- top level


@dataclass(frozen=True)
class CoreParam(Node):
    """`name = value`. `value` is an Expr (Str, Int, Ident for yes/no/on/off/addresses/words) or, for
    `listen`-like parameters, a ListenValue; a list of several values is a tuple."""

    name: str
    value: Union[Expr, ListenValue, tuple]


@dataclass(frozen=True)
class ListenValue(Node):
    """`[proto:]host[:port]` with optional `advertise host[:port]` and `name "..."`."""

    proto: str | None
    host: str
    port: int | None = None
    advertise: str | None = None
    name: str | None = None
    virtual: bool = False


@dataclass(frozen=True)
class CfgVar(Node):
    """A custom config variable: `group.var = value desc "..."`."""

    group: str
    name: str
    value: Expr
    desc: str | None = None


@dataclass(frozen=True)
class LoadModule(Node):
    path: str
    expand: bool = False  # loadmodulex: the path may hold defines/PV-like variables


@dataclass(frozen=True)
class LoadPath(Node):
    """`mpath=` / `loadpath`."""

    path: str


@dataclass(frozen=True)
class ModParam(Node):
    """`modparam(...)`; value is an Ident only for a word left unexpanded by the preprocessor
    (`yes`/`no`/`inet`... become Ints, as in Kamailio). `modparamx` (expand=True) may pass a PVar."""

    module: str  # may be a regex like "acc|tm"
    name: str
    value: Str | Int | Ident | PVar
    expand: bool = False


@dataclass(frozen=True)
class FlagDecl(Node):
    """`flags NAME: N, ...` (old-style named flag declarations)."""

    names: tuple[tuple[str, int | None], ...]
    avp: bool = False  # `avpflags NAME, ...`


@dataclass(frozen=True)
class Route(Node):
    """A route block. `kind` is one of `request`, `route`, `failure`, `onreply`, `branch`, `onsend`,
    `reply`, `event`, `error`, `local`. `name` is None for the unnamed form; numbers stay strings;
    `request_route` and unnamed `route` both give kind `request`. For `event`, the name is `mod:event`."""

    kind: str
    name: str | None
    body: Block


TopItem = Union[CoreParam, CfgVar, LoadModule, LoadPath, ModParam, FlagDecl, Route]


@dataclass(frozen=True)
class Config(Node):
    items: tuple[TopItem, ...] = ()
