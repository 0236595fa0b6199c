"""AVPs as avpops sees them: named by a `$avp(...)` argument (a fixed or a computed name), kept
in `ctx.avps` (name -> values, newest first), each name either a string or an integer id
(`i:N`), each value a string or an integer. Kamailio marks the AVPs it loaded from or stored to
the database (AVP_IS_IN_DB) so that avp_db_store() does not store them again; kampy keeps those
marks beside the message (`ctx.local`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.api import MessageContext, PVar, avp_key

IN_DB = "avpops.in_db"
# a script flag with this bit (2, 3, 6, 7, ...) is Kamailio's AVP_TRACK_TO: add_avp() then puts the
# AVP into the To track's list, which `$avp(name)` and every avpops function leave alone
AVP_TRACK_TO = 0x200


@dataclass(frozen=True)
class AvpName:
    """The AVP of a `$avp(...)` argument; `index` is the spec's raw index (is_avp_set())."""

    text: str
    fixed: str | None
    computed: Callable[[MessageContext], str] | None = None
    index: str | None = None

    def key(self, ctx: MessageContext) -> str:
        if self.fixed is not None:
            return self.fixed
        assert self.computed is not None
        return avp_key(self.computed(ctx))  # a computed name is no alias (as in Kamailio)


Aliases = Callable[[str], str | None] | None


def resolve(name: str, aliases: Aliases) -> str:
    """The key of an AVP name, an alias of the pv module's avp_aliases replaced by its AVP."""
    target = aliases(name) if aliases is not None else None
    return avp_key(target if target is not None else name)


def avp_name(spec: PVar, formatter: Callable[[str], Callable[[MessageContext], str]],
             aliases: Aliases = None) -> AvpName:
    """The AvpName of a parsed `$avp(...)`: its name may hold pseudo-variables."""
    arg = spec.arg or ""
    if "$" in arg:
        return AvpName(spec.text, None, formatter(arg), spec.index)
    return AvpName(spec.text, resolve(arg, aliases), None, spec.index)


def is_int_name(key: str) -> bool:
    return key.startswith("i:")


def attribute_of(key: str) -> str:
    """The name as the database's attribute column holds it (an id as its number)."""
    return key[2:] if is_int_name(key) else key


def key_of(name: str | int, int_name: bool) -> str:
    return f"i:{name}" if int_name else str(name)


def values(ctx: MessageContext, key: str) -> list[Any]:
    return ctx.avps.get(key, [])


def add(ctx: MessageContext, key: str, value: Any, in_db: bool = False, script_flags: int = 0) -> None:
    """add_avp(): the value becomes the newest of the name; `script_flags` are the digits of a
    matching flag such as `a3` of avp_db_load()."""
    ctx.avps.setdefault(key, []).insert(0, value)
    if in_db:
        mark_in_db(ctx, key, value, script_flags)


def remove_at(ctx: MessageContext, key: str, positions: set[int]) -> None:
    """Remove the values at these positions (indexes into the list as it is now)."""
    kept = [v for i, v in enumerate(ctx.avps.get(key, [])) if i not in positions]
    if kept:
        ctx.avps[key] = kept
    else:
        ctx.avps.pop(key, None)


@dataclass
class Mark:
    """AVP_IS_IN_DB of the values of one name that are one Python object: `count` of them are in
    the database (an integer below 257 or a one-character string is one object wherever it
    comes from, so a value the script set may be the object a loaded value is)."""

    value: Any  # kept, so that its id is not reused
    count: int = 0
    script_flags: int = 0


def _marks(ctx: MessageContext) -> dict[tuple[str, int], Mark]:
    return ctx.local.setdefault(IN_DB, {})


def mark_in_db(ctx: MessageContext, key: str, value: Any, script_flags: int | None = None) -> None:
    """One more value of the name is in the database (AVP_IS_IN_DB), with its script flags
    (those it has when None)."""
    mark = _marks(ctx).setdefault((key, id(value)), Mark(value))
    mark.count += 1
    if script_flags is not None:
        mark.script_flags = script_flags


def in_db(ctx: MessageContext, key: str) -> dict[int, Mark]:
    """The positions (newest first) of the name's values that are in the database, with their
    marks: of the values that are one object, the oldest ones, as many as were loaded or stored."""
    found: dict[int, list[int]] = {}
    for i, value in enumerate(values(ctx, key)):
        found.setdefault(id(value), []).append(i)
    marks = _marks(ctx)
    positions: dict[int, Mark] = {}
    for ident, where in found.items():
        mark = marks.get((key, ident))
        if mark is not None:
            for i in where[len(where) - min(mark.count, len(where)):]:
                positions[i] = mark
    return positions


def flags_of(key: str, value: Any, mark: Mark | None) -> int:
    """The flags Kamailio's avp_print() shows: track FROM, class URI, name and value types,
    AVP_IS_IN_DB and the script flags (bits 8-15) avp_db_load() set."""
    flags = 0x110
    if not is_int_name(key):
        flags |= 0x1
    if isinstance(value, str):
        flags |= 0x2
    if mark is not None:
        flags |= 0x1000 | script_flag_bits(mark.script_flags)
    return flags


def script_flag_bits(script_flags: int) -> int:
    """avp_script_flags(): the 8 bits the flags keep of the number given."""
    return (script_flags << 8) & 0xFF00
