"""Building blocks shared by the pv module's accessors and transformations.

Values are `str`, `int` or `None` ($null). A PV name or index may hold other pseudo-variables
(`$avp($var(n))`, `$hdr(X)[$var(i)]`): those are parsed once at load time into a `Dyn` and
rendered per message through a resolver that turns a nested `PVar` into an accessor.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.api import Literal, MessageContext, PVar, PVSyntaxError, parse_format

log = logging.getLogger("kampy.pv")

Value = str | int | None
Getter = Callable[[MessageContext], Value]
Setter = Callable[[MessageContext, Value], None]
Resolver = Callable[[PVar], Any]  # nested PVar -> accessor with get(ctx)

FIELD_DELIM = ", "  # Kamailio's PV_FIELD_DELIM, between values of `[*]`


class PVError(ValueError):
    """A pseudo-variable spec the pv module cannot serve (bad name, bad index)."""


class Reader:
    """A read-only accessor."""

    __slots__ = ("get",)

    def __init__(self, get: Getter) -> None:
        self.get = get


class ReadWrite:
    """An accessor of a writable class; `set(ctx, None)` deletes (assigning `$null`)."""

    __slots__ = ("get", "set")

    def __init__(self, get: Getter, set: Setter) -> None:
        self.get = get
        self.set = set


def to_str(value: Value) -> str:
    """A value as a string: None gives "<null>", as Kamailio prints $null."""
    if value is None:
        return "<null>"
    return str(value)


def to_int(value: Value) -> int | None:
    """A value as an int (str2sint: an optional sign and digits), or None when it is not one."""
    if isinstance(value, int):
        return value
    if value is None:
        return None
    text = value.strip()
    body = text[1:] if text[:1] in "+-" else text
    if not body.isdigit():
        return None
    return int(text)


def str_to_int_prefix(text: str) -> int:
    """Kamailio's `{s.int}`: the leading integer of a string, 0 when there is none."""
    text = text.lstrip()
    sign = 1
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for c in text:
        if not c.isdigit():
            break
        digits += c
    return sign * int(digits) if digits else 0


# ---------------------------------------------------------------- dynamic text (names, params)


@dataclass(frozen=True)
class Dyn:
    """Text fixed at load time or holding pseudo-variables rendered per message."""

    static: str | None
    parts: tuple[tuple[str, Any], ...] = ()  # ("lit", text) | ("pv", accessor)

    @property
    def is_static(self) -> bool:
        return self.static is not None

    def render(self, ctx: MessageContext) -> str:
        if self.static is not None:
            return self.static
        out: list[str] = []
        for kind, item in self.parts:
            if kind == "lit":
                out.append(item)
            else:
                value = item.get(ctx)
                out.append("" if value is None else str(value))
        return "".join(out)

    def value(self, ctx: MessageContext) -> Value:
        """A single nested PV keeps its type (an int index stays an int)."""
        if self.static is None and len(self.parts) == 1 and self.parts[0][0] == "pv":
            return self.parts[0][1].get(ctx)  # type: ignore[no-any-return]
        return self.render(ctx)


def make_dyn(text: str, resolve: Resolver) -> Dyn:
    """Parse `text` for pseudo-variables; literal text (or text that is not a valid format) is static."""
    if "$" not in text:
        return Dyn(text)
    try:
        parts = parse_format(text)
    except PVSyntaxError:
        return Dyn(text)
    if all(isinstance(p, Literal) for p in parts):
        return Dyn("".join(p.text for p in parts))  # type: ignore[union-attr]
    out: list[tuple[str, Any]] = []
    for p in parts:
        if isinstance(p, Literal):
            out.append(("lit", p.text))
        else:
            out.append(("pv", resolve(p)))
    return Dyn(None, tuple(out))


def make_param(text: str, resolve: Resolver) -> Dyn:
    """A transformation parameter: a PV, or a literal (quotes around it removed)."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return Dyn(t[1:-1])
    if t.startswith("$"):
        return make_dyn(t, resolve)
    return Dyn(t)


# ---------------------------------------------------------------- indexes


@dataclass(frozen=True)
class Index:
    """`[n]`, `[-n]`, `[*]` or `[$var(i)]`; `none` when no index was written."""

    kind: str  # "none" | "int" | "all" | "pv"
    n: int = 0
    pv: Any = None

    def resolve(self, ctx: MessageContext) -> int | None:
        """The integer index for this message (None for `[*]` or an index PV that is not an int)."""
        if self.kind == "all":
            return None
        if self.kind == "pv":
            v = to_int(self.pv.get(ctx))
            if v is None:
                log.error("invalid index value")
            return v
        return self.n


NO_INDEX = Index("none")


def parse_index(text: str | None, resolve: Resolver) -> Index:
    if text is None:
        return NO_INDEX
    t = text.strip()
    if t == "*":
        return Index("all")
    if t.startswith("$"):
        dyn = make_dyn(t, resolve)
        if dyn.is_static:
            raise PVError(f"invalid index [{text}]")
        return Index("pv", pv=_DynAccessor(dyn))
    n = to_int(t)
    if n is None:
        raise PVError(f"invalid index [{text}]")
    return Index("int", n)


class _DynAccessor:
    __slots__ = ("dyn",)

    def __init__(self, dyn: Dyn) -> None:
        self.dyn = dyn

    def get(self, ctx: MessageContext) -> Value:
        return self.dyn.value(ctx)


def pick(values: list[Any], index: Index, ctx: MessageContext, fmt: Callable[[Any], str] = str) -> Value:
    """Kamailio's indexed read of a list ordered as Kamailio walks it: `[n]` from the start,
    `[-n]` from the end, `[*]` all joined with ", ", no index the first."""
    if not values:
        return None
    if index.kind == "all":
        return FIELD_DELIM.join(fmt(v) for v in values)
    i = index.resolve(ctx)
    if i is None:
        return None
    if -len(values) <= i < len(values):
        return values[i]  # type: ignore[no-any-return]
    return None
