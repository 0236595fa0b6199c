"""`$xavu(name)` / `$xavu(name=>child)`: xavps with unique names (one value each, assigning
replaces it), and the functions that explode parameter strings into xavps/xavus or implode them
back (Kamailio 5.6's pv_xavp.c and core/xavp.c).

A message's xavus live in `ctx.local[XAVU_KEY]`: name -> value, or -> {child: value}; newest name
first, as Kamailio prepends a new name to its list.
"""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import MessageContext

from .common import PVError, ReadWrite, Value
from .storage import _xavp_str

log = logging.getLogger("kampy.pv")

XAVU_KEY = "pv.xavu"


def _store(ctx: MessageContext) -> dict[str, Any]:
    store: dict[str, Any] = ctx.local.setdefault(XAVU_KEY, {})
    return store


def _put(store: dict[str, Any], name: str, value: Any) -> None:
    """xavu_set_xval: replace the value of a name in place, else add the name first."""
    if name in store:
        store[name] = value
        return
    items = list(store.items())
    store.clear()
    store[name] = value
    store.update(items)


def parse_name(text: str) -> tuple[str, str | None]:
    """pv_parse_xavu_name: `name` or `name=>child`."""
    s = text.strip()
    if not s:
        raise PVError("empty xavu name")
    root, eq, rest = s.partition("=")
    if not eq:
        return s, None
    if len(rest) < 2 or rest[0] != ">":
        raise PVError(f"invalid xavu name {text!r}")
    return root, rest[1:]


def _child_list(store: dict[str, Any], root: str) -> dict[str, Any] | None:
    """The children of `root`; Kamailio searches the root list instead when there are none
    (xavu_get_internal with an empty list)."""
    children = store.get(root)
    if not isinstance(children, dict):
        return None
    return children or store


def accessor(text: str) -> ReadWrite:
    root, child = parse_name(text)

    def get(ctx: MessageContext) -> Value:
        store = _store(ctx)
        if child is None:
            value = store.get(root)
        else:
            children = _child_list(store, root)
            value = children.get(child) if children is not None else None
        return _xavp_str(value) if isinstance(value, dict) else value

    def set_(ctx: MessageContext, value: Value) -> None:
        store = _store(ctx)
        if value is None:
            if child is None:
                store.pop(root, None)
            elif isinstance(store.get(root), dict):
                store[root].pop(child, None)
            return
        if child is None:
            _put(store, root, value)
            return
        # xavu_set_child_xval: a root that holds no children is replaced by one that does; a
        # child of the same name is removed and the new one put first
        children = store.get(root)
        if not isinstance(children, dict):
            store.pop(root, None)
            children = {}
            _put(store, root, children)
        children.pop(child, None)
        _put(children, child, value)

    return ReadWrite(get, set_)


def split_params(text: str) -> list[tuple[str, str]] | None:
    """parse_params of `a=1;b;c=x` (one ending ';' dropped); None when there is none."""
    if text.endswith(";"):
        text = text[:-1]
    out = []
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            out.append((name.strip(), value.strip()))
    return out or None


def params_explode_xavu(ctx: MessageContext, sparams: str, xname: str) -> int:
    params = split_params(sparams) if sparams and xname else None
    if params is None:
        log.error("invalid parameters")
        return -1
    # Kamailio 5.6's xavu_set_xval() adds a name missing from the list it is given to the root
    # list: the parameters land there, and $xavu(xname) holds no children
    store = _store(ctx)
    for name, value in params:
        _put(store, name, value)
    _put(store, xname, {})
    return 1


def serialize(fields: list[tuple[str, Any]]) -> str:
    """xavp_serialize_fields: `name=value;` per field (`name;` for an empty string)."""
    out = []
    for name, value in fields:
        if isinstance(value, int):
            out.append(f"{name}={value & 0xFFFFFFFF};")
        elif isinstance(value, str):
            out.append(f"{name};" if value == "" else f"{name}={value};")
    return "".join(out)


def xavp_fields(ctx: MessageContext, xname: str) -> list[tuple[str, Any]] | None:
    """The fields of the first $xavp(xname), in the order xavp_params_explode() gave them."""
    items = ctx.xavps.get(xname)
    if not items or not isinstance(items[0], dict):
        return None
    return [(name, v) for name in items[0] for v in items[0][name]]


def xavu_fields(ctx: MessageContext, xname: str) -> list[tuple[str, Any]] | None:
    children = _store(ctx).get(xname)
    if not isinstance(children, dict):
        return None
    return list(children.items())


def slist_explode(ctx: MessageContext, slist: str, sep: str, mode: str, xname: str) -> int:
    """xavp_slist_explode: the tokens of `slist` (split at any character of `sep`, trimmed with
    mode "t...", empty ones skipped) as $xavp(xname=>v[0..]) in their order."""
    if not slist or not sep or not xname:
        log.error("invalid parameters")
        return -1
    tokens: list[str] = []
    start = 0
    for i, c in enumerate(slist + sep[0]):
        if c in sep:
            token = slist[start:i]
            if token and mode[:1] == "t":
                token = token.strip(" \t\r\n")
            if token:
                tokens.append(token)
            start = i + 1
    ctx.xavps.setdefault(xname, []).insert(0, {"v": tokens} if tokens else {})
    return 1


def print_all(ctx: MessageContext) -> int:
    for name, value in _store(ctx).items():
        log.info("XAVU %s: %r", name, value)
    return 1
