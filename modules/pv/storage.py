"""Accessors of the value stores: $var/$vz/$vn (per process), $shv (shared), $avp, $xavp (per message)."""
from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from kampy.api import MessageContext

from .common import FIELD_DELIM, Dyn, Index, ReadWrite, Value, pick, to_int

log = logging.getLogger("kampy.pv")


# ---------------------------------------------------------------- $var, $vz, $vn


def script_var(store: dict[str, Any], name: str, nullable: bool) -> ReadWrite:
    """`$var(x)`/`$vz(x)` start as int 0 and `= $null` makes them 0; `$vn(x)` starts as and may be $null.
    (Kamailio's add_var with VAR_TYPE_ZERO / VAR_TYPE_NULL; $var and $vz share one store.)"""
    if not nullable:
        store.setdefault(name, 0)

    def get(ctx: MessageContext) -> Value:
        return store.get(name)  # type: ignore[no-any-return]

    def set_(ctx: MessageContext, value: Value) -> None:
        if value is None:
            store[name] = None if nullable else 0
        else:
            store[name] = value

    return ReadWrite(get, set_)


# ---------------------------------------------------------------- $shv


def shared_var(store: MutableMapping[str, Any], name: str) -> ReadWrite:
    """`$shv(x)`: shared by all processes in Kamailio; starts as $null (`shvset` gives a value)."""
    def get(ctx: MessageContext) -> Value:
        return store.get(name)  # type: ignore[no-any-return]

    def set_(ctx: MessageContext, value: Value) -> None:
        store[name] = 0 if value is None else value  # pv_set_shvar: $null sets int 0

    return ReadWrite(get, set_)


def parse_var_init(text: str) -> tuple[str, Value]:
    """`shvset`/`varset` values: `name=s:text` or `name=i:42` (a bare value is a string)."""
    name, eq, rest = text.partition("=")
    if not eq or not name.strip():
        raise ValueError(f"invalid value {text!r}: expected name=s:text or name=i:number")
    kind, colon, val = rest.partition(":")
    if colon and kind.strip() in ("i", "I"):
        n = to_int(val)
        if n is None:
            raise ValueError(f"invalid integer in {text!r}")
        return name.strip(), n
    if colon and kind.strip() in ("s", "S"):
        return name.strip(), val
    return name.strip(), rest


# ---------------------------------------------------------------- $avp


def avp_key(name: str, aliases: dict[str, str]) -> str:
    """`s:x` and `x` name the same AVP; `i:5` is an integer-named one; aliases map to their target."""
    n = name.strip()
    if n in aliases:
        n = aliases[n]
    if n[:2] in ("s:", "S:"):
        return n[2:]
    if n[:2] in ("i:", "I:"):
        return "i:" + n[2:]
    return n


def avp_accessor(name: Dyn, index: Index, aliases: dict[str, str]) -> ReadWrite:
    def key(ctx: MessageContext) -> str:
        return avp_key(name.render(ctx), aliases)

    def get(ctx: MessageContext) -> Value:
        return pick(ctx.avps.get(key(ctx), []), index, ctx)

    def set_(ctx: MessageContext, value: Value) -> None:
        k = key(ctx)
        values = ctx.avps.get(k)
        if value is None:  # pv_set_avp: `= $null` drops the newest, `[*] = $null` drops all
            if values:
                if index.kind == "all":
                    del ctx.avps[k]
                else:
                    values.pop(0)
                    if not values:
                        del ctx.avps[k]
            if k not in ctx.avps:
                ctx.avp_flags.pop(k, None)
            return
        if index.kind == "all":  # `$(avp(x)[*]) = v` replaces every value
            values = None
            ctx.avp_flags.pop(k, None)
        ctx.avps[k] = [value] + (values or [])

    return ReadWrite(get, set_)


# ---------------------------------------------------------------- $xavp


class XName:
    """`root[i]=>field[j]` as Kamailio's pv_xavp_name_t: names and indexes may hold PVs."""

    def __init__(self, root: Dyn, rindex: Index, field: Dyn | None, findex: Index) -> None:
        self.root = root
        self.rindex = rindex
        self.field = field
        self.findex = findex


class Folded:
    """A name of $xavi: rendered in lower case, so that names match without regard to case."""

    def __init__(self, name: Any) -> None:
        self.name = name

    def render(self, ctx: MessageContext) -> str:
        return str(self.name.render(ctx)).lower()


def _xavp_str(item: Any) -> Value:
    if isinstance(item, dict):
        return f"<<xavp:{id(item):#x}>>"
    return item  # type: ignore[no-any-return]


def _fix(idx: int, count: int) -> int:
    return count + idx if idx < 0 else idx


def xavp_accessor(x: XName, store_attr: str = "xavps") -> ReadWrite:
    def get(ctx: MessageContext) -> Value:
        store: dict[str, list[Any]] = getattr(ctx, store_attr)
        items = store.get(x.root.render(ctx), [])
        if x.field is None:
            return pick(items, x.rindex, ctx, fmt=lambda v: str(_xavp_str(v)))  # type: ignore[arg-type]
        i = x.rindex.resolve(ctx) if x.rindex.kind != "all" else 0
        if i is None:
            return None
        i = _fix(i, len(items))
        if not 0 <= i < len(items) or not isinstance(items[i], dict):
            return None
        return pick(items[i].get(x.field.render(ctx), []), x.findex, ctx)

    def set_(ctx: MessageContext, value: Value) -> None:
        store: dict[str, list[Any]] = getattr(ctx, store_attr)
        if value is None:
            _xavp_delete(ctx, store, x)
        else:
            _xavp_assign(ctx, store, x, value)

    return ReadWrite(_typed(get), set_)


def _typed(get: Any) -> Any:
    def wrapped(ctx: MessageContext) -> Value:
        v = get(ctx)
        return _xavp_str(v) if isinstance(v, dict) else v
    return wrapped


def _remove_at(items: list[Any], index: Index, ctx: MessageContext) -> None:
    if not items:
        return
    if index.kind == "all":
        items.clear()
        return
    i = index.resolve(ctx) if index.kind != "none" else 0
    if i is None:
        return
    i = _fix(i, len(items))
    if 0 <= i < len(items):
        del items[i]


def _xavp_delete(ctx: MessageContext, store: dict[str, list[Any]], x: XName) -> None:
    root = x.root.render(ctx)
    items = store.get(root)
    if not items:
        return
    if x.field is None:
        _remove_at(items, x.rindex, ctx)
    else:
        field = x.field.render(ctx)
        targets = items if x.rindex.kind == "all" else _one(items, x.rindex, ctx)
        for item in targets:
            if isinstance(item, dict) and field in item:
                _remove_at(item[field], x.findex, ctx)
                if not item[field]:
                    del item[field]
    if not items:
        del store[root]


def _one(items: list[Any], index: Index, ctx: MessageContext) -> list[Any]:
    i = index.resolve(ctx) if index.kind != "none" else 0
    if i is None:
        return []
    i = _fix(i, len(items))
    return [items[i]] if 0 <= i < len(items) else []


def _xavp_assign(ctx: MessageContext, store: dict[str, list[Any]], x: XName, value: Value) -> None:
    root = x.root.render(ctx)
    items = store.setdefault(root, [])
    if x.field is None:
        if x.rindex.kind == "none":
            items.insert(0, value)  # a new value on top
        else:
            for_one = _index_of(items, x.rindex, ctx)
            if for_one is not None:
                items[for_one] = value
        return
    field = x.field.render(ctx)
    if x.rindex.kind == "none":  # `$xavp(r=>f) = v` starts a new root item on top
        items.insert(0, {field: [value]})
        return
    i = _index_of(items, x.rindex, ctx)
    if i is None or not isinstance(items[i], dict):
        if not items:
            del store[root]
        return
    values = items[i].setdefault(field, [])
    if x.findex.kind == "none":
        values.insert(0, value)
        return
    j = _index_of(values, x.findex, ctx)
    if j is not None:
        values[j] = value


def _index_of(items: list[Any], index: Index, ctx: MessageContext) -> int | None:
    if index.kind == "all":
        return None
    i = index.resolve(ctx)
    if i is None:
        return None
    i = _fix(i, len(items))
    return i if 0 <= i < len(items) else None


def join_values(values: list[Any]) -> str:
    return FIELD_DELIM.join(str(v) for v in values)
