"""The `htable` parameter (`name=>size=8;autoexpire=300;...`) and `$sht(name=>key)` names, parsed as
Kamailio's keyvalue_parse_str, parse_params and ht_table_spec do."""
from __future__ import annotations

from dataclasses import dataclass

_WS = " \t\r\n"
MAX_COLS = 8  # HT_MAX_COLS


@dataclass(frozen=True)
class TableSpec:
    """One hash table as the `htable` parameter defines it."""

    name: str
    size: int = 4                # the `size` attribute: 2^size slots (see `slots`)
    autoexpire: int = 0
    dbtable: str = ""
    cols: tuple[str, ...] = ()   # the `cols` attribute split at commas ((): the module's columns)
    dbmode: int = 0
    initval: int | None = None   # None: a missing item is $null
    updateexpire: int = 1
    dmqreplicate: int = 0
    coldelim: str = ","          # between packed column values (later Kamailio's `coldelim`)
    colnull: str = "*"           # a NULL column value in a packed value (later Kamailio's `colnull`)

    @property
    def slots(self) -> int:
        """ht_add_table: size <= 1 gives 8 slots, size > 31 gives 16384, else 2^size."""
        if self.size <= 1:
            return 8
        if self.size > 31:
            return 1 << 14
        return 1 << self.size


def split_name(text: str, what: str) -> tuple[str, str]:
    """`name=>rest` -> (name, rest): the name ends at `=` or white space, white space may come
    before `=>` (keyvalue_parse_str / pv_parse_ht_name)."""
    p, n = 0, len(text)
    while p < n and text[p] in _WS:
        p += 1
    start = p
    while p < n and text[p] != "=" and text[p] not in _WS:
        p += 1
    name = text[start:p]
    while p < n and text[p] in _WS:
        p += 1
    if not name or text[p:p + 2] != "=>":
        raise ValueError(f"invalid {what} [{text}] at [{p}]: expected name=>...")
    return name, text[p + 2:]


def _params(text: str) -> list[tuple[str, str]]:
    """`a=1;b="x;y";c` as parse_params reads it (CLASS_ANY): names and values, quotes removed."""
    out: list[tuple[str, str]] = []
    p, n = 0, len(text)
    while p < n:
        while p < n and text[p] in _WS:
            p += 1
        start = p
        while p < n and text[p] not in "=;" and text[p] not in _WS:
            p += 1
        name = text[start:p]
        while p < n and text[p] in _WS:
            p += 1
        value = ""
        if p < n and text[p] == "=":
            p += 1
            while p < n and text[p] in _WS:
                p += 1
            if p < n and text[p] in "\"'":
                quote = text[p]
                end = text.find(quote, p + 1)
                if end < 0:
                    raise ValueError(f"unterminated quoted value of '{name}'")
                value = text[p + 1:end]
                p = end + 1
            else:
                start = p
                while p < n and text[p] != ";":
                    p += 1
                value = text[start:p].rstrip(_WS)
            while p < n and text[p] in _WS:
                p += 1
        if not name:
            raise ValueError("empty attribute name")
        out.append((name, value))
        if p < n:
            if text[p] != ";":
                raise ValueError(f"unexpected '{text[p]}' after attribute '{name}'")
            p += 1
    return out


def _uint(name: str, value: str) -> int:
    """str2int: digits only."""
    if not value.isdigit():
        raise ValueError(f"{name}: '{value}' is not an unsigned integer")
    return int(value)


def _sint(name: str, value: str) -> int:
    """str2sint: an optional sign, then digits."""
    body = value[1:] if value[:1] in "+-" else value
    if not body.isdigit():
        raise ValueError(f"{name}: '{value}' is not an integer")
    return int(value)


def _char(name: str, value: str, allow_empty: bool) -> str:
    if len(value) > 1 or (not value and not allow_empty):
        raise ValueError(f"{name}: one character expected, not '{value}'")
    return value


def parse_table(text: str) -> TableSpec:
    """The value of one `htable` parameter; ValueError with Kamailio's complaint."""
    try:
        name, rest = split_name(text, "htable parameter")
        rest = rest.lstrip(_WS)
        if rest.endswith(";"):
            rest = rest[:-1]
        fields: dict[str, object] = {}
        for key, value in _params(rest) if rest else []:
            if key == "dbtable":
                fields["dbtable"] = value
            elif key == "cols":
                fields["cols"] = tuple(value.split(",")) if value else ()
            elif key in ("autoexpire", "size", "dbmode", "updateexpire", "dmqreplicate"):
                fields[key] = _uint(key, value)
            elif key == "initval":
                fields["initval"] = _sint(key, value)
            elif key == "coldelim":
                fields["coldelim"] = _char(key, value, allow_empty=False)
            elif key == "colnull":
                fields["colnull"] = _char(key, value, allow_empty=True)
            else:
                raise ValueError(f"unknown attribute '{key}'")
    except ValueError as exc:
        raise ValueError(f"invalid htable parameter [{text}]: {exc}") from None
    spec = TableSpec(name=name, **fields)  # type: ignore[arg-type]
    if spec.cols and len(spec.cols) < 2:
        raise ValueError(f"invalid htable parameter [{text}]: there must be at least two columns "
                         "(prefix, value)")
    if len(spec.cols) > MAX_COLS:
        raise ValueError(f"invalid htable parameter [{text}]: too many columns {len(spec.cols) - 1}")
    return spec
