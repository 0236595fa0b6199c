"""The arguments of avpops' functions as its fixups read them (avpops.c, avpops_parse.c)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# what a source (avp_db_*'s first argument) identifies
UUID, URI, USERNAME, DOMAIN = "uuid", "uri", "username", "domain"
URI_CLASSES = {"ru", "ruri", "fu", "from", "tu", "to", "ou"}  # PVT_RURI, PVT_FROM, PVT_TO, PVT_OURI
CHECK_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "re", "fm", "and", "or", "xor")
MATH_OPS = ("add", "sub", "mul", "div", "mod", "and", "or", "xor", "not")


class ParamError(ValueError):
    pass


@dataclass(frozen=True)
class Source:
    """avp_db_*(source, ...): a constant uuid, or a pseudo-variable; what it stands for."""

    kind: str                    # UUID, URI, USERNAME or DOMAIN
    constant: str | None = None
    pv: Any = None               # the accessor of the pseudo-variable


@dataclass(frozen=True)
class Scheme:
    """A `db_scheme`: where and how a value is loaded from a table of one's own."""

    name: str
    uuid_col: str | None = None
    username_col: str | None = None
    domain_col: str | None = None
    value_col: str | None = None
    table: str | None = None
    value_int: bool = False


@dataclass
class DbParam:
    """avp_db_*(..., name): the AVPs (a name, or every name of a type) and the table or scheme."""

    avp: Any = None              # an AvpName, or None for every AVP ('s', 'i', 'a', '*')
    name_type: str | None = None  # "str", "int" or None (any): which AVPs, by the type of their name
    table: str | None = None
    scheme: Scheme | None = None
    script_flags: int = 0        # the digits after 's', 'i', 'a' or '*': set on the AVPs loaded


def parse_scheme(text: str) -> Scheme:
    """parse_avp_db_scheme(): `name:element[;element]*`."""
    m = re.fullmatch(r"\s*([^:\s]+)\s*:\s*(.+)", text, re.DOTALL)
    if m is None:
        raise ParamError(f"parse error in <{text}>")
    found: dict[str, str] = {}
    for element in m.group(2).split(";"):
        if not element.strip():
            continue
        key, eq, value = element.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not eq or not key or not value or any(c.isspace() for c in value):
            raise ParamError(f"parse error in <{text}>")
        if key not in ("uuid_col", "username_col", "domain_col", "value_col", "table", "value_type"):
            raise ParamError(f"unknown attribute <{key}>")
        if key in found and key != "value_type":
            raise ParamError(f"parse error in <{text}>")
        found[key] = value
    value_type = found.pop("value_type", "string").lower()
    if value_type not in ("integer", "string"):
        raise ParamError(f"unknown value type <{value_type}>")
    return Scheme(m.group(1), value_int=value_type == "integer", **found)


def split_flags(text: str) -> tuple[str, str | None]:
    """`name/flags` at the first `/`."""
    head, slash, tail = text.partition("/")
    return head, tail if slash else None


def parse_typed_value(text: str) -> int | str:
    """parse_intstr_value(): `i:N` (or `i:0xHEX`) an integer, `s:text` or `text` a string."""
    if not text:
        raise ParamError("parse error")
    if len(text) > 1 and text[1] == ":":
        kind, body = text[0].lower(), text[2:]
        if kind not in "is":
            raise ParamError(f"unknown value type <{text[0]}>")
        if not body:
            raise ParamError(f"parse error around <{text}>")
        if kind == "s":
            return body
        try:
            if len(body) > 2 and body[0] == "0" and body[1] in "xX":
                return int(body[2:], 16)
            if not re.fullmatch(r"[+-]?[0-9]+", body):
                raise ValueError(body)
            return int(body)
        except ValueError:
            raise ParamError(f"value is not int as type says <{body}>") from None
    return text


def parse_op_value(text: str, ops: tuple[str, ...]) -> tuple[str, str, str | None]:
    """`op/value[/flags]` as parse_check_value()/parse_op_value() read it: the operator (two or
    three letters), the value's text (to the next `/`) and the flags' text (None without)."""
    op_text, slash, rest = text.partition("/")
    if not slash or len(op_text) not in (2, 3):
        raise ParamError(f"parse error in <{text}>")
    op = next((o for o in ops if op_text.lower() == o or (len(o) == 2 and op_text[:2].lower() == o)), None)
    if op is None:
        raise ParamError(f"unknown operation <{op_text[:2]}>")
    if not rest:
        raise ParamError(f"parse error in <{text}>")
    value, slash, flags = rest.partition("/")
    if slash and not flags:
        raise ParamError(f"parse error in <{text}>")
    return op, value, flags if slash else None


def parse_flags(text: str | None, allowed: str, what: str = "flag") -> frozenset[str]:
    found = set()
    for c in text or "":
        if c.lower() not in allowed:
            raise ParamError(f"bad {what} <{c}>")
        found.add(c.lower())
    return frozenset(found)
