"""Kamailio's substitution expressions (src/core/re.c): `/re/replacement/flags` as subst_parser()
reads it, and a replacement alone as parse_repl() reads it (dialplan's repl_exp).

A replacement holds literal text, `\\0`..`\\9` (the match and its groups), `\\n`, `\\r`, `\\t`,
`\\\\`, `\\$`, `\\u` (the R-URI) and pseudo-variables (`$rU`); any other escaped character stands
for itself. The regular expression is POSIX extended, compiled with REG_NEWLINE (`.` does not
match a newline; `^`/`$` match at line ends) unless the `s` flag is given, without regard to case
with `i`; `g` replaces every match.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.config.pvparse import PVSyntaxError, parse_pv_at
from kampy.runtime.values import posix_to_python

# the value of a pseudo-variable for a message (None: the message has none, as an RPC has none)
Resolve = Callable[[Any], Callable[[Any], Any]]
_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"}
MAX_ESCAPES = 64  # MAX_REPLACE_WITH of src/core/re.h


class SubstError(ValueError):
    pass


@dataclass(frozen=True)
class Token:
    """One escape of a replacement: its place in the text and what it stands for."""

    offset: int
    size: int
    kind: str            # "char", "group", "uri", "pv"
    value: Any = None    # the character, the group number, or the PV's accessor
    text: str = ""       # the PV as written


@dataclass(frozen=True)
class Replacement:
    text: str
    tokens: tuple[Token, ...]
    max_group: int

    def expand(self, ctx: Any, match: re.Match[str] | None, ruri: Callable[[Any], str] | None = None,
               pv_value: Callable[[Any, Any], str | None] | None = None) -> str:
        """The replacement for one match (`replace_build()`): a group that did not take part gives
        nothing; a pseudo-variable gives its value (`pv_value(ctx, accessor)`, "<null>" for
        $null); without a message (`ctx` None) the R-URI and pseudo-variables give nothing."""
        out: list[str] = []
        pos = 0
        for token in self.tokens:
            out.append(self.text[pos:token.offset])
            pos = token.offset + token.size
            if token.kind == "char":
                out.append(token.value)
            elif token.kind == "group":
                if match is not None and token.value <= (match.re.groups or 0):
                    out.append(match.group(token.value) or "")
            elif token.kind == "uri":
                if ctx is not None and ruri is not None:
                    out.append(ruri(ctx))
            elif ctx is not None:
                value = pv_value(ctx, token.value) if pv_value is not None else token.value.get(ctx)
                out.append("<null>" if value is None else str(value))
        out.append(self.text[pos:])
        return "".join(out)


def parse_replacement(text: str, resolve: Resolve, separator: str | None = None) -> tuple[Replacement, int]:
    """parse_repl(): the replacement of `text` up to an unescaped `separator` (or to the end
    without one); returns it and where it ended (the separator's index)."""
    tokens: list[Token] = []
    max_group = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                tokens.append(Token(i, 2, "char", _ESCAPES[nxt]))
            elif nxt == "u":
                tokens.append(Token(i, 2, "uri"))
            elif "0" <= nxt <= "9":
                tokens.append(Token(i, 2, "group", int(nxt)))
                max_group = max(max_group, int(nxt))
            else:
                tokens.append(Token(i, 2, "char", nxt))
            i += 2
        elif c == "$":
            try:
                spec, end = parse_pv_at(text, i)
            except PVSyntaxError:
                raise SubstError(f"bad specifier in replace part {text}") from None
            tokens.append(Token(i, end - i, "pv", resolve(spec), text[i:end]))
            i = end
        elif separator is not None and c == separator:
            return Replacement(text[:i], tuple(tokens), max_group), i
        else:
            i += 1
        if len(tokens) > MAX_ESCAPES:
            raise SubstError(f"too many escapes in the replace part {text}")
    if separator is not None:
        raise SubstError(f"missing separator: {text}")
    return Replacement(text, tuple(tokens), max_group), len(text)


@dataclass(frozen=True)
class SubstExpr:
    """A compiled `/re/replacement/flags`."""

    regex: re.Pattern[str]
    replacement: Replacement
    replace_all: bool

    def run(self, ctx: Any, text: str, ruri: Callable[[Any], str] | None = None) -> tuple[str | None, int]:
        """subst_str(): (the text with the matches replaced, how many) — (None, 0) without a match,
        (None, -1) when a match is empty (Kamailio takes it for an invalid expression)."""
        pieces: list[str] = []
        pos = count = 0
        while True:
            m = self.regex.search(text, pos)
            if m is None:
                break
            if m.start() == m.end():
                return None, -1
            pieces.append(text[pos:m.start()])
            pieces.append(self.replacement.expand(ctx, m, ruri))
            pos = m.end()
            count += 1
            if not self.replace_all:
                break
        if not count:
            return None, 0
        pieces.append(text[pos:])
        return "".join(pieces), count


def parse_subst(expr: str, resolve: Resolve) -> SubstExpr:
    """subst_parser(): `expr` is `<c>re<c>replacement<c>flags`, `<c>` any character but `\\`."""
    if len(expr) < 3:
        raise SubstError(f"expression is too short: {expr}")
    sep = expr[0]
    if sep == "\\":
        raise SubstError(f"invalid separator char <{sep}> in {expr}")
    end = next((i for i in range(1, len(expr)) if expr[i] == sep and expr[i - 1] != "\\"), None)
    if end is None:
        raise SubstError(f"no separator found: {expr}")
    regex_text = expr[1:end]
    if len(expr) < end + 2:
        raise SubstError("String too short")
    replacement, stop = parse_replacement(expr[end + 1:], resolve, sep)
    flags = re.MULTILINE
    replace_all = False
    for f in expr[end + 1 + stop + 1:]:
        if f == "i":
            flags |= re.IGNORECASE
        elif f == "s":
            flags = (flags & ~re.MULTILINE) | re.DOTALL
        elif f == "g":
            replace_all = True
        else:
            raise SubstError(f"unknown flag {f} in {expr}")
    try:
        regex = re.compile(posix_to_python(regex_text), flags)
    except re.error:
        raise SubstError(f"bad regular expression {regex_text} in {expr}") from None
    return SubstExpr(regex, replacement, replace_all)
