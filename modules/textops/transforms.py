"""The `{re.subst,/re/repl/flags}` transformation (Kamailio 5.6 pv_trans.c tr_eval_re, core subst_parser).

The expression's first character is its delimiter; `repl` may hold `\\0`..`\\9` back-references
(`\\0` the whole match), `\\n \\r \\t \\\\` escapes and pseudo-variables; flags are `i` (ignore
case), `g` (every match, not only the first), `s` (dot matches newline) and `m` (multi-line).
The expression itself may be a pseudo-variable holding it, rendered per message.

Hook it from the textops EXPORTS with a module method, for example:
    TransformClass("re", ("subst",), handler="tr_re")
    def tr_re(self, tr): return re_subst_transform(tr, self.core.pv_accessor)
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.api import Literal, MessageContext, PVar, PVSyntaxError, Transform, parse_format

log = logging.getLogger("kampy.textops")

Value = str | int | None
Resolver = Callable[[PVar], Any]


class SubstError(ValueError):
    """A malformed `/re/repl/flags` expression."""


@dataclass(frozen=True)
class Subst:
    pattern: re.Pattern[str]
    repl: tuple[tuple[str, Any], ...]  # ("lit", text) | ("grp", n) | ("pv", accessor)
    global_: bool

    def apply(self, ctx: MessageContext, text: str) -> str | None:
        """The substituted text, or None when nothing matched (Kamailio keeps the value then)."""
        count = 0 if self.global_ else 1
        matched = False

        def replace(m: re.Match[str]) -> str:
            nonlocal matched
            matched = True
            return self._expand(ctx, m)

        out = self.pattern.sub(replace, text, count=count)
        return out if matched else None

    def _expand(self, ctx: MessageContext, m: re.Match[str]) -> str:
        out = []
        for kind, item in self.repl:
            if kind == "lit":
                out.append(item)
            elif kind == "grp":
                out.append(m.group(item) or "" if item <= (m.re.groups or 0) else "")
            else:
                value = item.get(ctx)
                out.append("" if value is None else str(value))
        return "".join(out)


def _split(expr: str) -> list[str]:
    if len(expr) < 4:
        raise SubstError(f"subst expression too short: {expr!r}")
    delim = expr[0]
    parts, cur, i = [], [], 1
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr) and expr[i + 1] == delim:
            cur.append(delim)
            i += 2
            continue
        if c == "\\" and i + 1 < len(expr):
            cur.append(expr[i:i + 2])
            i += 2
            continue
        if c == delim:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    if len(parts) != 3:
        raise SubstError(f"subst expression must be {delim}re{delim}repl{delim}flags: {expr!r}")
    return parts


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def _parse_repl(text: str, resolve: Resolver | None) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    lit: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt.isdigit():
                _flush(out, lit)
                out.append(("grp", int(nxt)))
            else:
                lit.append(_ESCAPES.get(nxt, nxt))
            i += 2
        elif c == "$" and resolve is not None:
            i = _parse_pv(text, i, out, lit, resolve)
        else:
            lit.append(c)
            i += 1
    _flush(out, lit)
    return tuple(out)


def _parse_pv(text: str, i: int, out: list[tuple[str, Any]], lit: list[str], resolve: Resolver) -> int:
    """Take the pseudo-variable at text[i] into `out`; a `$` that starts none stays literal."""
    from kampy.api import parse_pv_at  # parse one spec and find where it ends
    try:
        pv, end = parse_pv_at(text, i)
    except PVSyntaxError:
        lit.append("$")
        return i + 1
    _flush(out, lit)
    if pv.cls == "$":
        out.append(("lit", "$"))
    else:
        out.append(("pv", resolve(pv)))
    return end


def _flush(out: list[tuple[str, Any]], lit: list[str]) -> None:
    if lit:
        out.append(("lit", "".join(lit)))
        lit.clear()


def parse_subst(expr: str, resolve: Resolver | None = None) -> Subst:
    regex, repl, flags = _split(expr)
    reflags = 0
    for f in flags:
        if f == "i":
            reflags |= re.IGNORECASE
        elif f == "s":
            reflags |= re.DOTALL
        elif f == "m":
            reflags |= re.MULTILINE
        elif f != "g":
            raise SubstError(f"unknown subst flag {f!r} in {expr!r}")
    try:
        pattern = re.compile(regex, reflags)
    except re.error as exc:
        raise SubstError(f"bad regular expression {regex!r}: {exc}") from None
    return Subst(pattern, _parse_repl(repl, resolve), "g" in flags)


def re_subst_transform(tr: Transform, resolve: Resolver | None = None) -> Callable[[MessageContext, Value],
                                                                                    Value]:
    """The handler of `{re.subst,EXPR}`; EXPR is a literal or a pseudo-variable holding it."""
    if tr.name != "subst":
        raise SubstError(f"unknown transformation {{re.{tr.name}}}")
    if len(tr.params) != 1:
        raise SubstError("{re.subst} takes one parameter: /re/repl/flags")
    param = tr.params[0].strip()
    if param.startswith("$") and resolve is not None:
        return _dynamic(param, resolve)
    subst = parse_subst(param, resolve)
    return lambda ctx, value: _run(subst, ctx, value)


def _dynamic(param: str, resolve: Resolver) -> Callable[[MessageContext, Value], Value]:
    try:
        parts = parse_format(param)
    except PVSyntaxError as exc:
        raise SubstError(f"bad {{re.subst}} parameter {param!r}: {exc}") from None
    accs = [(p.text, None) if isinstance(p, Literal) else ("", resolve(p)) for p in parts]
    cache: dict[str, Subst] = {}

    def run(ctx: MessageContext, value: Value) -> Value:
        expr = "".join(t if a is None else str(a.get(ctx) or "") for t, a in accs)
        subst = cache.get(expr)
        if subst is None:
            try:
                subst = parse_subst(expr, resolve)
            except SubstError as exc:
                log.error("{re.subst}: %s", exc)
                return None
            if len(cache) < 64:
                cache[expr] = subst
        return _run(subst, ctx, value)
    return run


def _run(subst: Subst, ctx: MessageContext, value: Value) -> Value:
    if value is None:
        return None
    text = str(value)
    out = subst.apply(ctx, text)
    return text if out is None else out
