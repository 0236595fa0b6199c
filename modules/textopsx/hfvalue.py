"""textopsx's selects (modules/textopsx/textopsx.c, sel_hf_value*): the values of a header whose body is
a comma-separated list, and their parts.

* `@hf_value.<header>` all its values (of every such header) joined by `,`; `@hf_value.<header>[N]`
  the Nth (from 1; negative: from the end), with `.uri` (also `.uri.<part>`), `.name`,
  `.param.<param>`/`.p.<param>` (the value of a parameter), `.nameaddr.<part>`, `.params.<param>`;
* `@hf_value_exists.<header>.<value>`: "1" when one of the values is `value` (any case), else "0";
* `@hf_value2.<header>[N]`: the Nth header line's body, `.params.<param>`.

In header and parameter names `_` stands for `-`. The shorthand `.<param>` (for `.param.<param>`)
that textopsx declares is not resolved by Kamailio 5.6 (its table lists it after the rows that
refuse it), so it is refused here too."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import SELECT_NULL, MessageContext, select_nameaddr, select_params, select_uri

Getter = Callable[[MessageContext], "str | None"]
MAX_STACK = 32  # MAX_HF_VALUE_STACK: how far from the end a negative index reaches


def _unknown(path: tuple[Any, ...], level: int) -> ValueError:
    part = path[level] if level < len(path) else ""
    return ValueError(f"Unable to resolve select '{part}' at level {level}")


def _bodies(ctx: MessageContext, name: str) -> list[str]:
    """The bodies of the header lines called `name` (compact forms match their long names)."""
    want = header_key(name)
    return [value for hname, value in ctx.msg.headers() if header_key(hname) == want]


_COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
            "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
            "r": "refer-to", "b": "referred-by", "o": "event", "u": "allow-events", "x": "session-expires",
            "y": "identity", "a": "accept-contact", "j": "reject-contact", "d": "request-disposition"}


def header_key(name: str) -> str:
    low = name.strip().lower()
    return _COMPACT.get(low, low)


def split_values(body: str) -> list[str]:
    """find_next_value(): the comma-separated values of a body, trimmed (a comma in quotes does not
    split; one in `<...>` does, as in Kamailio)."""
    values, start, quoted, i = [], 0, False, 0
    while i < len(body):
        c = body[i]
        if c == '"' and (not quoted or body[i - 1] != "\\"):
            quoted = not quoted
        elif c == "," and not quoted:
            values.append(body[start:i].strip())
            start = i + 1
        i += 1
    values.append(body[start:].strip())
    return values


def _values(ctx: MessageContext, name: str) -> list[str]:
    return [v for body in _bodies(ctx, name) for v in split_values(body)]


def _pick(items: list[str], idx: int) -> str | None:
    if idx > 0:
        return items[idx - 1] if idx <= len(items) else None
    if -idx > MAX_STACK or -idx > len(items):
        return None
    return items[idx]


def uri_and_params(value: str) -> tuple[str, str, str]:
    """get_uri_and_skip_until_params(): (display name, uri as written with its <>, the rest from
    the first parameter on)."""
    i, name_len, uri, uri_done = 0, -1, "", False
    while i < len(value) and value[i] != ";":
        quoted, uri_pos = False, i
        while i < len(value):
            c = value[i]
            if not quoted:
                if c == '"':
                    quoted, uri_pos = True, -1
                elif c in "<; \t":
                    break
            elif c == '"' and value[i - 1] != "\\":
                quoted = False
            i += 1
        if name_len < 0:
            name_len = i
        if uri_pos >= 0 and not uri_done:
            uri = value[uri_pos:i]
        while i < len(value) and value[i] in " \t":
            i += 1
        if i < len(value) and value[i] == "<":
            start, quoted = i, False
            while i < len(value):
                c = value[i]
                if not quoted:
                    if c == '"':
                        quoted = True
                    elif c == ">":
                        uri, uri_done = value[start:i + 1], True
                        break
                elif c == '"' and value[i - 1] != "\\":
                    quoted = False
                i += 1
    name = value[:max(name_len, 0)]
    if uri and value.find(uri) == 0:
        name = ""
    return name, uri, value[i:]


def value_param(area: str, param: str) -> str | None:
    """find_hf_value_param(): the value of `;param[=value]` in `area` (quotes removed), "" bare."""
    i, n = 0, len(area)
    while True:
        while i < n and area[i].isspace():
            i += 1
        if i >= n or area[i] != ";":
            return None
        i += 1
        while i < n and area[i].isspace():
            i += 1
        j = i
        while i < n and not area[i].isspace() and area[i] not in "=;":
            i += 1
        found = area[j:i].lower() == param.lower()
        value = ""
        while i < n and area[i].isspace():
            i += 1
        if i < n and area[i] == "=":
            i += 1
            while i < n and area[i].isspace():
                i += 1
            if i < n and area[i] == '"':
                end = area.find('"', i + 1)
                end = n if end < 0 else end
                value, i = area[i + 1:end], end + 1
            else:
                j = i
                while i < n and not area[i].isspace() and area[i] != ";":
                    i += 1
                value = area[j:i]
        if found:
            return value


def _text(value: str | None) -> str:
    return SELECT_NULL if not value else value


class HfValueSelects:
    """The select handlers (textopsx's Exports.selects)."""

    def select_hf_value(self, path: tuple[Any, ...]) -> Getter:
        name, idx, level = _name_and_index(path)
        if len(path) == level:
            return self._value(name, idx, None)
        part = path[level]
        if not isinstance(part, str):
            raise _unknown(path, level)
        low = part.lower()
        if low in ("param", "p"):
            if len(path) != level + 2 or not isinstance(path[level + 1], str):
                raise _unknown(path, level + 1)
            return self._value(name, idx, str(path[level + 1]).replace("_", "-"))
        if low == "uri":
            uri = self._uri(name, idx)
            if len(path) == level + 1:
                return uri
            rest = select_uri(path, level + 1)
            return lambda ctx: _then(uri(ctx), rest)
        if low == "name":
            if len(path) != level + 1:
                raise _unknown(path, level + 1)
            return self._display(name, idx or 1)
        if low == "nameaddr":
            if len(path) == level + 1:
                raise _unknown(path, level + 1)
            rest = select_nameaddr(path, level + 1)
            whole = self._value(name, idx, None)
            return lambda ctx: _then(whole(ctx), rest)
        if low == "params":
            if len(path) != level + 2:
                raise _unknown(path, level + 1)
            rest = select_params(path, level + 1)
            whole = self._value(name, idx, None)
            return lambda ctx: _then(whole(ctx), rest)
        # `.<param>` (textopsx's STR_NULL row) is declared but Kamailio 5.6 resolves no such select
        raise _unknown(path, level)

    def _value(self, name: str, idx: int | None, param: str | None) -> Getter:
        def get(ctx: MessageContext) -> str | None:
            values = _values(ctx, name)
            if idx is None:
                return _text(",".join(values))
            value = _pick(values, idx)
            if value is None:
                return SELECT_NULL
            if param is None:
                return value
            return _text(value_param(uri_and_params(value)[2], param))
        return get

    def _uri(self, name: str, idx: int | None) -> Getter:
        def strip(value: str) -> str:
            uri = uri_and_params(value)[1]
            return uri[1:-1] if uri.startswith("<") else uri

        def get(ctx: MessageContext) -> str | None:
            values = _values(ctx, name)
            if idx is None:
                return _text(",".join(strip(v) for v in values))
            value = _pick(values, idx)
            return SELECT_NULL if value is None else _text(strip(value))
        return get

    def _display(self, name: str, idx: int) -> Getter:
        def get(ctx: MessageContext) -> str | None:
            value = _pick(_values(ctx, name), idx)
            if value is None:
                return SELECT_NULL
            display = uri_and_params(value)[0]
            if len(display) >= 2 and display[0] == '"' and display[-1] == '"':
                display = display[1:-1]
            return display
        return get

    def select_hf_value_exists(self, path: tuple[Any, ...]) -> Getter:
        if len(path) != 3 or not all(isinstance(p, str) for p in path[1:]):
            raise _unknown(path, min(len(path), 3) - 1)
        name, wanted = str(path[1]).replace("_", "-"), str(path[2])

        def get(ctx: MessageContext) -> str:
            found = wanted and any(v and v.lower() == wanted.lower() for v in _values(ctx, name))
            return "1" if found else "0"
        return get

    def select_hf_value2(self, path: tuple[Any, ...]) -> Getter:
        name, idx, level = _name_and_index(path)
        line = idx or 1

        def body(ctx: MessageContext) -> str | None:
            found = _pick(_bodies(ctx, name), line)
            return SELECT_NULL if found is None else found
        if len(path) == level:
            return body
        part = path[level]
        if not isinstance(part, str):
            raise _unknown(path, level)
        if part.lower() == "params":
            if len(path) != level + 2:
                raise _unknown(path, level + 1)
            rest = select_params(path, level + 1)
            return lambda ctx: _then(body(ctx), rest)
        raise _unknown(path, level)  # `.<param>`: Kamailio 5.6 resolves no such select


def _name_and_index(path: tuple[Any, ...]) -> tuple[str, int | None, int]:
    if len(path) < 2 or not isinstance(path[1], str):
        raise _unknown(path, 1)
    name = path[1].replace("_", "-")
    if len(path) > 2 and isinstance(path[2], int):
        return name, path[2] or 1, 3
    return name, None, 2


def _then(value: str | None, fn: Callable[[str], str | None]) -> str | None:
    return value if not value else fn(value)
