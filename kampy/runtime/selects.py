"""Selects (Kamailio's src/core/select.c): `@from.tag`, `@via[1].host`, `@cfg_get.my.x`, and the same
names in `$sel(...)`.

A select is parsed once (`parse_select`: Kamailio's w_parse_select) into its parts, each a name or
an index (`@hf_value.contact[1].uri` is `hf_value`, `contact`, 1, `uri`; `@msg.header["X-A"]`
is `msg`, `header`, `X-A`), then resolved once into `fn(ctx) -> str | None`: the core's table
(`kampy.runtime.selectcore`) or a module's (`Exports.selects`) owns the first name, matched without
regard to case, as Kamailio matches every part. None is Kamailio's "no value" (a select returning 1,
or a missing part): `$sel()` gives `$null`, an expression an undefined value.

The nested selects shared by many (`select_any_uri`, `select_any_nameaddr`, `select_any_params`)
are here for modules too (`kampy.api.select_uri`, ...), given a getter of the text they work on.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from kampy.sip.errors import SIPProtocolError
from kampy.sip.uri import parse_params, parse_uri

log = logging.getLogger("kampy.select")

Part = str | int
Path = tuple[Part, ...]
Getter = Callable[[Any], "str | None"]
MAX_PARTS = 32  # Kamailio's MAX_SELECT_PARAMS


class SelectError(ValueError):
    """A select Kamailio would refuse when the config is loaded."""


class NullText(str):
    """A select that found its part without a value (Kamailio returns 0 with a NULL string: a bare
    `;lr`, no display name): "" in an expression, and `defined`; `$sel()` gives `$null`."""


NULL = NullText()


def value_of(text: str | None) -> str | None:
    """What `$sel()` gives for a select's result."""
    return None if text is None or text.__class__ is NullText else text


def null_if_none(text: str | None) -> str:
    return NULL if text is None else text


PHONE2TEL = [True]  # the core's phone2tel: a sip: URI with user=phone is a tel: one (parse_uri)


def parse_select(text: str, start: int = 0) -> tuple[Path, int]:
    """The parts of the select at `text[start:]` (an `@` first is optional) and where it ends."""
    i = start + 1 if text.startswith("@", start) else start
    parts: list[Part] = []
    while i < len(text) and text[i].isalpha():
        if len(parts) > MAX_PARTS - 2:
            raise SelectError("select depth exceeds max")
        j = i
        while j < len(text) and (text[j].isalnum() or text[j] == "_"):
            j += 1
        parts.append(text[i:j])
        i = j
        if i < len(text) and text[i] == "[":
            i += 1
            if text.startswith("\\", i):
                i += 1
            if text.startswith('"', i):
                end = text.find('"', i + 1)
                if end < 0:
                    raise SelectError("end of string is missing")
                value = text[i + 1:end]
                parts.append(value[:-1] if value.endswith("\\") else value)
                i = end + 1
            else:
                m = re.compile(r"-?\d*").match(text, i)
                assert m is not None
                parts.append(int(m.group()) if m.group() not in ("", "-") else 0)
                i = m.end()
            if not text.startswith("]", i):
                raise SelectError("invalid index, no closing ]")
            i += 1
        if not text.startswith(".", i):
            break
        i += 1
    if not parts:
        raise SelectError(f"invalid select '{text[start:i]}'")
    return tuple(parts), i


def parse_whole(text: str) -> Path:
    """A select that must be the whole text (`$sel(...)`)."""
    parts, end = parse_select(text)
    if end != len(text):
        raise SelectError(f"invalid select name [{text}]")
    return parts


def show(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


def is_name(part: Part, *names: str) -> bool:
    return isinstance(part, str) and part.lower() in names


def unknown(path: Path, level: int) -> SelectError:
    part = path[level] if level < len(path) else ""
    return SelectError(f"Unable to resolve select '{part}' at level {level}")


def end_of(path: Path, level: int) -> None:
    """Nothing may follow `level`."""
    if len(path) > level:
        raise unknown(path, level)


def chain(get: Getter, then: Callable[[str], str | None]) -> Getter:
    """`then` applied to what `get` gives; a value that does not parse is no value."""
    def chained(ctx: Any) -> str | None:
        value = get(ctx)
        if value is None:
            return None
        try:
            return then(value)
        except SIPProtocolError as exc:
            log.debug("select: %s", exc)
            return None
    return chained


# ------------------------------------------------------------------ text helpers (quotes respected)


def find_not_quoted(text: str, char: str, start: int = 0) -> int:
    quoted = False
    i = start
    while i < len(text):
        c = text[i]
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif c == char and not quoted:
            return i
        i += 1
    return -1


def param_value(params: str, name: str) -> str | None:
    """The value of parameter `name` (any case) in `a=1;b;c=x`: the value, NULL for a bare one, None
    when absent (Kamailio's search_param)."""
    try:
        parsed, _ = parse_params(";" + params.strip().lstrip(";"))
    except SIPProtocolError:
        return None
    for key in parsed:
        if key.lower() == name.lower():
            value = parsed.get(key)
            return NULL if value is None else value
    return None


# ------------------------------------------------------------------ select_any_params


def select_params(path: Path, level: int) -> Callable[[str], str | None]:
    """`.params` (the parameters as they are) or `.params.<name>` (`_` standing for `-`), applied to
    a text of parameters."""
    if len(path) == level:
        return lambda text: text or None
    name = path[level]
    if not isinstance(name, str):
        raise unknown(path, level)
    end_of(path, level + 1)
    wanted = name.replace("_", "-")

    def one(text: str) -> str | None:
        if not text:
            return None
        found = param_value(text, wanted)
        return None if found is None or found == "" else found
    return one


# ------------------------------------------------------------------ select_any_uri

URI_PARTS = ("type", "user", "rn_user", "pwd", "host", "port", "params", "hostport", "transport")
_RAW_URI = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?:(?P<user>[^@:;?]*)(?::(?P<pwd>[^@;?]*))?@)?"
                      r"(?P<host>\[[^\]]*\]|[^;?:]*)(?::(?P<port>[^;?]*))?(?:;(?P<params>[^?]*))?"
                      r"(?:\?(?P<headers>.*))?\Z", re.S)
_DEFAULT_PORT = {"sip": "5060", "tel": "5060", "urn": "5060", "sips": "5061", "tels": "5061"}


def _uri_fields(text: str) -> dict[str, str | None]:
    """The parts of a URI as Kamailio's parse_uri() gives them: a tel: URI's number is its user; a
    sip: URI with user=phone (and the core's phone2tel) is of type tel, its params those after a
    `;` in the user part (the URI's own are then `sip_params`)."""
    text = text.strip()
    parse_uri(text)  # refuse what Kamailio's parse_uri refuses
    m = _RAW_URI.match(text)
    if m is None:
        raise SIPProtocolError(f"bad URI: {text}")
    fields = m.groupdict()
    scheme = (fields["scheme"] or "").lower()
    fields["sip_params"] = fields["params"]
    if scheme in ("tel", "tels"):  # tel:+123;params -> the number is the user
        fields["user"], fields["host"] = fields["host"], None
    elif PHONE2TEL[0] and scheme in ("sip", "sips") and _user_phone(fields["params"]):
        scheme = "tel"
        user, semi, tel_params = (fields["user"] or "").partition(";")
        fields["user"], fields["params"] = user, tel_params if semi else None
    fields["scheme"] = scheme
    return fields


def _user_phone(params: str | None) -> bool:
    return param_value(params or "", "user") == "phone"


def select_uri(path: Path, level: int) -> Callable[[str], str | None]:
    """What follows a URI (`@ruri.user`, `@from.uri.host`, `.params.transport`), applied to its text."""
    if len(path) == level:
        return lambda text: text
    part = path[level]
    if not is_name(part, *URI_PARTS):
        raise unknown(path, level)
    name = str(part).lower()
    if name == "params":
        if len(path) == level + 1:
            return lambda text: null_if_none(_uri_fields(text)["params"])
        rest = select_params(path, level + 1)

        def params(text: str) -> str | None:
            fields = _uri_fields(text)
            found = rest(fields["params"] or "")
            if found is None and fields["sip_params"] != fields["params"]:
                found = rest(fields["sip_params"] or "")
            return found
        return params
    end_of(path, level + 1)
    getter = _URI_GETTERS[name]
    return lambda text: null_if_none(getter(text))


def _uri_transport(text: str) -> str | None:
    fields = _uri_fields(text)
    found = param_value(fields["sip_params"] or "", "transport")
    if found:
        return str(found).lower()
    return "tls" if fields["scheme"] in ("sips", "tels") else "udp"


def _uri_hostport(text: str) -> str | None:
    fields = _uri_fields(text)
    if not fields["host"]:
        return None
    if fields["port"]:
        return f"{fields['host']}:{fields['port']}"
    return f"{fields['host']}:{_DEFAULT_PORT.get(fields['scheme'] or '', '5060')}"


def _uri_rn_user(text: str) -> str | None:
    fields = _uri_fields(text)
    found = param_value(fields["params"] or "", "rn")
    return str(found) if found else fields["user"]


_URI_GETTERS: dict[str, Callable[[str], str | None]] = {
    "type": lambda text: _uri_fields(text)["scheme"],
    "user": lambda text: _uri_fields(text)["user"],
    "rn_user": _uri_rn_user,
    "pwd": lambda text: _uri_fields(text)["pwd"],
    "host": lambda text: _uri_fields(text)["host"],
    "port": lambda text: _uri_fields(text)["port"],
    "hostport": _uri_hostport,
    "transport": _uri_transport,
}


# ------------------------------------------------------------------ select_any_nameaddr


def nameaddr_uri(text: str) -> str | None:
    lt = find_not_quoted(text, "<")
    if lt < 0:
        semi = text.find(";")
        return text if semi < 0 else text[:semi]
    gt = find_not_quoted(text, ">", lt + 1)
    if gt < 0:
        raise SIPProtocolError("no > found, invalid nameaddr value")
    return text[lt + 1:gt]


def nameaddr_name(text: str) -> str | None:
    lt = find_not_quoted(text, "<")
    return text[:lt].rstrip(" \t") if lt >= 0 else None


def display_name(text: str) -> str:
    """The display name of a From/To value as its parser keeps it (NULL without one)."""
    lt = find_not_quoted(text, "<")
    name = text[:lt].strip(" \t") if lt >= 0 else ""
    return name or NULL


def nameaddr_params(text: str) -> str | None:
    lt = find_not_quoted(text, "<")
    if lt >= 0:
        gt = find_not_quoted(text, ">", lt + 1)
        if gt < 0:
            raise SIPProtocolError("no > found, invalid nameaddr value")
        semi = find_not_quoted(text, ";", gt + 1)
    else:
        semi = find_not_quoted(text, ";")
    return text[semi + 1:] if semi >= 0 else None


def select_nameaddr(path: Path, level: int) -> Callable[[str], str | None]:
    """`.name`, `.uri[...]` or `.params[.<name>]` of a name-addr text."""
    if len(path) == level:
        return lambda text: text
    part = path[level]
    if is_name(part, "name"):
        end_of(path, level + 1)
        return nameaddr_name
    if is_name(part, "uri"):
        rest = select_uri(path, level + 1)
        return lambda text: _then(nameaddr_uri(text), rest)
    if is_name(part, "params"):
        params = select_params(path, level + 1)
        return lambda text: _then(nameaddr_params(text), params)
    raise unknown(path, level)


def _then(value: str | None, fn: Callable[[str], str | None]) -> str | None:
    return None if value is None else fn(value)


# ------------------------------------------------------------------ the registry


Resolver = Callable[[Path], Getter]


class SelectTable:
    """The select roots known to one process: the core's, then the modules' (Exports.selects)."""

    def __init__(self) -> None:
        self.roots: dict[str, Resolver] = {}

    def add(self, name: str, resolver: Resolver) -> None:
        self.roots.setdefault(name.lower(), resolver)

    def resolve(self, path: Path) -> Getter:
        root = path[0]
        resolver = self.roots.get(root.lower()) if isinstance(root, str) else None
        if resolver is None:
            raise unknown(path, 0)
        return resolver(path)

    def resolve_text(self, text: str) -> Getter:
        """A select named as `$sel()` names it: what follows a valid select is ignored, as Kamailio's
        pv_parse_select_name() ignores it (`$sel(msg.body.sdp.line.o=)` is `...line.o`)."""
        return self.resolve(parse_select(text)[0])
