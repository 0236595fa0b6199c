"""Pseudo-variable specs and format strings, parsed once at load time.

Follows Kamailio's `pv_parse_spec2`/`pv_parse_format` (src/core/pvapi.c): a spec is `$name`,
`$name(inner)` or the full form `$(name(inner)[index]{tr.one}{tr.two,p1,p2})`; `$$` is a literal `$`.
In a format string every `$` must start a valid spec.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kampy.config.ast import NOWHERE, Pos, PVar, Transform

_NAME = re.compile(r"[A-Za-z0-9_.?]*")


class PVSyntaxError(ValueError):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Literal:
    text: str


def _balanced(text: str, start: int, open_: str, close: str) -> int:
    """Index of the `close` that ends the group whose content starts at `start`."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == close:
            if depth == 0:
                return i
            depth -= 1
        elif c == open_:
            depth += 1
        i += 1
    raise PVSyntaxError(f"missing '{close}'", start)


def _split_tr_params(body: str) -> list[str]:
    """Split `s.substr,0,$var(x)` at top-level commas (not inside (), {} or quotes)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    cur = []
    for c in body:
        if quote:
            cur.append(c)
            if c == quote:
                quote = ""
            continue
        if c in "\"'":
            quote = c
        elif c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    parts.append("".join(cur))
    return parts


def _parse_transform(body: str, pos: Pos) -> Transform:
    parts = _split_tr_params(body)
    head = parts[0].strip()
    cls, dot, name = head.partition(".")
    if not dot or not cls or not name:
        raise PVSyntaxError(f"bad transformation '{{{body}}}': expected {{class.name[,params]}}", 0)
    return Transform(cls, name, tuple(p.strip() for p in parts[1:]), pos=pos)


def parse_pv_at(text: str, start: int, pos: Pos = NOWHERE) -> tuple[PVar, int]:
    """Parse the spec that begins with the `$` at `start`; return it and the index just after it."""
    if text[start] != "$":
        raise PVSyntaxError("a pseudo-variable starts with '$'", start)
    i = start + 1
    full = i < len(text) and text[i] == "("
    if full:
        i += 1
    if i < len(text) and text[i] == "$":
        i += 1
        if full:
            if i >= len(text) or text[i] != ")":
                raise PVSyntaxError("expected ')' after '$($'", i)
            i += 1
        return PVar("$", text=text[start:i], pos=pos), i
    m = _NAME.match(text, i)
    name = m.group(0)
    i = m.end()
    if not name:
        raise PVSyntaxError("'$' is not followed by a pseudo-variable name (write '$$' for a '$')", start)
    arg = index = None
    transforms: list[Transform] = []
    if i < len(text) and text[i] == "(":
        end = _balanced(text, i + 1, "(", ")")
        arg = text[i + 1:end]
        if not arg:
            raise PVSyntaxError(f"${name}() has an empty name", i)
        i = end + 1
    if full:
        if i < len(text) and text[i] == "[":
            end = _balanced(text, i + 1, "[", "]")
            index = text[i + 1:end]
            i = end + 1
        while i < len(text) and text[i] == "{":
            end = _balanced(text, i + 1, "{", "}")
            transforms.append(_parse_transform(text[i + 1:end], pos))
            i = end + 1
        if i >= len(text) or text[i] != ")":
            found = repr(text[i]) if i < len(text) else "the end"
            raise PVSyntaxError(f"expected ')' to close '$(' but found {found}", i)
        i += 1
    return PVar(name, arg, index, tuple(transforms), text=text[start:i], pos=pos), i


def parse_pv(text: str, pos: Pos = NOWHERE) -> PVar:
    pv, end = parse_pv_at(text, 0, pos)
    if end != len(text):
        raise PVSyntaxError(f"unexpected text after pseudo-variable: {text[end:]!r}", end)
    return pv


def avp_param_name(value: object, error: str) -> str | None:
    """The AVP name a module parameter such as `$avp(name)` gives (Kamailio's pv_parse_spec and
    pv_get_avp_name; an `s:` prefix dropped), None for an unset one; ValueError(`error`) when it is
    not an AVP."""
    if not value:
        return None
    try:
        spec = parse_pv(str(value))
    except ValueError as exc:
        raise ValueError(error) from exc
    if spec.cls != "avp" or not spec.arg:
        raise ValueError(error)
    return spec.arg[2:] if spec.arg[:2] in ("s:", "S:") else spec.arg


def avp_ident(text: str, pos: Pos = NOWHERE) -> PVar | None:
    """Kamailio's FPARAM_AVP, which its "var" fixups try when a `$` text is no pseudo-variable: the
    rest of the (trimmed) text names an AVP as parse_avp_ident() reads it, `$x y` the AVP `x y`;
    None for no name, a name starting with a blank, or the `<track>.<name>` forms (kampy's AVPs
    have no tracks or classes)."""
    text = text.strip()
    name = text[1:]
    if not text.startswith("$") or not name or name[0].isspace() or "." in name:
        return None
    if len(name) >= 2 and name[1] == ":" and (name[0] not in "sSiI" or len(name) == 2):
        return None
    return PVar("avp", name, text=f"$avp({name})", pos=pos)


def parse_format(text: str, pos: Pos = NOWHERE) -> tuple[Literal | PVar, ...]:
    """Split a string into literal text and pseudo-variables, as Kamailio's pv_parse_format."""
    parts: list[Literal | PVar] = []
    i = 0
    while i < len(text):
        j = text.find("$", i)
        if j < 0:
            parts.append(Literal(text[i:]))
            break
        if j > i:
            parts.append(Literal(text[i:j]))
        pv, i = parse_pv_at(text, j, pos)
        if pv.cls == "$":
            parts.append(Literal("$"))
        else:
            parts.append(pv)
    return tuple(_merge_literals(parts))


def _merge_literals(parts: list[Literal | PVar]) -> list[Literal | PVar]:
    out: list[Literal | PVar] = []
    for p in parts:
        if isinstance(p, Literal) and out and isinstance(out[-1], Literal):
            out[-1] = Literal(out[-1].text + p.text)
        else:
            out.append(p)
    return out


def has_pv(text: str) -> bool:
    return "$" in text
