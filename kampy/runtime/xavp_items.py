"""XAVP items as Kamailio's core copies and places them (xavp_clone_level_nodata, xavp_insert), for the
modules that carry an XAVP item along with a contact (usrloc's xavp_contact, tm's serial forking).

An item is `{field: [values]}` (the newest value first); a name's items are a list, index 0 first."""
from __future__ import annotations

from typing import Any

XavpItem = dict[str, list[Any]]


def xavp_clone_level(item: Any) -> XavpItem:
    """One item with its direct string and integer values (xavp_clone_level_nodata: no data values,
    no nested XAVPs); {} for what is not an item."""
    if not isinstance(item, dict):
        return {}
    out: XavpItem = {}
    for name, values in item.items():
        kept = [v for v in values if isinstance(v, str | int) and not isinstance(v, bool)]
        if kept:
            out[name] = kept
    return out


def xavp_insert(xavps: dict[str, list[Any]], name: str, item: XavpItem, index: int | None) -> None:
    """Put `item` at `index` of $xavp(name) (Kamailio's xavp_insert: an empty item at that index is
    replaced, missing ones before it are added empty); None puts it first (xavp_add)."""
    items = xavps.setdefault(name, [])
    if index is None or (index == 0 and (not items or items[0])):
        items.insert(0, item)
        return
    n = min(index, len(items))
    if n < len(items) and not items[n]:
        items[n] = item
        return
    items[n:n] = [{} for _ in range(index - n)] + [item]
