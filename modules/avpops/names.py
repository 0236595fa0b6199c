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
        return avp_key(self.computed(ctx))


def avp_name(spec: PVar, formatter: Callable[[str], Callable[[MessageContext], str]]) -> AvpName:
    """The AvpName of a parsed `$avp(...)`: its name may hold pseudo-variables."""
    arg = spec.arg or ""
    if "$" in arg:
        return AvpName(spec.text, None, formatter(arg), spec.index)
    return AvpName(spec.text, avp_key(arg), None, spec.index)


def is_int_name(key: str) -> bool:
    return key.startswith("i:")


def attribute_of(key: str) -> str:
    """The name as the database's attribute column holds it (an id as its number)."""
    return key[2:] if is_int_name(key) else key


def key_of(name: str | int, int_name: bool) -> str:
    return f"i:{name}" if int_name else str(name)


def values(ctx: MessageContext, key: str) -> list[Any]:
    return ctx.avps.get(key, [])


def add(ctx: MessageContext, key: str, value: Any, in_db: bool = False) -> None:
    """add_avp(): the value becomes the newest of the name."""
    ctx.avps.setdefault(key, []).insert(0, value)
    if in_db:
        mark_in_db(ctx, key, value)


def remove_at(ctx: MessageContext, key: str, positions: set[int]) -> None:
    """Remove the values at these positions (indexes into the list as it is now)."""
    kept = [v for i, v in enumerate(ctx.avps.get(key, [])) if i not in positions]
    if kept:
        ctx.avps[key] = kept
    else:
        ctx.avps.pop(key, None)


def _marks(ctx: MessageContext) -> dict[tuple[str, int], Any]:
    return ctx.local.setdefault(IN_DB, {})


def mark_in_db(ctx: MessageContext, key: str, value: Any) -> None:
    _marks(ctx)[(key, id(value))] = value  # the value kept, so its id is not reused


def is_in_db(ctx: MessageContext, key: str, value: Any) -> bool:
    return (key, id(value)) in _marks(ctx)


def flags_of(ctx: MessageContext, key: str, value: Any) -> int:
    """The flags Kamailio's avp_print() shows: track FROM, class URI, name and value types,
    AVP_IS_IN_DB."""
    flags = 0x110
    if not is_int_name(key):
        flags |= 0x1
    if isinstance(value, str):
        flags |= 0x2
    if is_in_db(ctx, key, value):
        flags |= 0x1000
    return flags
