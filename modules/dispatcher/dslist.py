"""Destination sets as Kamailio builds them: the list file's lines (or the table's rows) parsed,
each set ordered by priority (highest first; equal priorities in reverse order of reading, as
reindex_dests() copies the list backwards), and the 100-slot weight tables of algorithms 9 and 11.

A loaded list is plain data (dicts and lists) so that it can live in the shared table every worker
reads; `Dest` fields are the keys of each destination's dict."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from kampy.api import SIPProtocolError, module_logger, parse_uri

log = module_logger("dispatcher")

DS_INACTIVE_DST, DS_TRYING_DST, DS_DISABLED_DST, DS_PROBING_DST, DS_NODNSARES_DST = 1, 2, 4, 8, 16
DS_STATES_ALL = 31
PROTO_IDS = {"": 0, "udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
DS_DNS_MODE_INIT, DS_DNS_MODE_ALWAYS, DS_DNS_MODE_TIMER, DS_DNS_MODE_QSRV = 1, 2, 4, 8


class LoadError(Exception):
    """A destination list that cannot be loaded."""


def skip_dst(flags: int) -> bool:
    """ds_skip_dst(): inactive or disabled."""
    return bool(flags & (DS_INACTIVE_DST | DS_DISABLED_DST))


def parse_attrs(body: str, attrs_none: bool) -> dict[str, Any]:
    """ds_set_attrs(): the attribute string and the special attributes it holds."""
    if not body:
        if not attrs_none:
            return {"body": None}
        body = "none=yes"
    if body.endswith(";"):
        body = body[:-1]
    attrs: dict[str, Any] = {
        "body": body,
        "duid": None,
        "maxload": 0,
        "weight": 0,
        "rweight": 0,
        "socket": None,
        "sockname": None,
        "ping_from": None,
        "obproxy": None,
        "cc": 0,
        "latency": None,
    }
    for item in body.split(";"):
        name, _, value = item.partition("=")
        name, value = name.strip().lower(), value.strip()
        if name == "duid":
            attrs["duid"] = value
        elif name == "cc":
            attrs["cc"] = _sint(value)
        elif name in ("weight", "rweight"):
            number = _sint(value)
            attrs[name] = number if 1 <= number <= 100 else 0
            if attrs[name] == 0:
                log.log(
                    40 if name == "weight" else 30,
                    "%s %d not in 1-100 range - ignoring%s",
                    name,
                    number,
                    " destination" if name == "weight" else "",
                )
        elif name == "latency":
            attrs["latency"] = _sint(value)
        elif name == "maxload":
            attrs["maxload"] = _sint(value)
        elif name in ("socket", "sockname", "ping_from", "obproxy"):
            attrs[name] = value
    return attrs


def _sint(text: str) -> int:
    """str2sint(): the leading integer, 0 when there is none."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    digits = ""
    for ch in text.lstrip("+-"):
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def new_latency(initial: int | None) -> dict[str, float]:
    stats = {
        "min": 0,
        "max": 0,
        "avg": 0.0,
        "std": 0.0,
        "est": 0.0,
        "m2": 0.0,
        "count": 0,
        "timeout": 0,
        "start": 0.0,
    }
    if initial is not None:
        stats.update(min=initial, max=initial, avg=float(initial), est=float(initial), count=10000)
    return stats


def pack_dest(
    uri: str,
    flags: int,
    priority: int,
    attrs_text: str,
    *,
    attrs_none: bool,
    resolve: Callable[[str, int, int], tuple[str, int, int] | None] | None,
    sockets: Any,
    dload: int = 0,
) -> dict[str, Any]:
    """pack_dest(): one destination, its URI checked (a missing `sip:` added), its socket found,
    its host resolved with `resolve` when given (unless flag 16 says not to)."""
    try:
        parsed = parse_uri(uri)
        if not parsed.is_sip or not parsed.host:
            raise SIPProtocolError("not a SIP URI")
    except SIPProtocolError:
        if len(uri) > 4 and not uri.startswith("sip:"):
            try:
                parsed = parse_uri("sip:" + uri)
            except SIPProtocolError:
                raise LoadError(f"bad uri [{uri}]") from None
            log.info("uri without sip scheme - fixing it: %s", uri)
            uri = "sip:" + uri
        else:
            raise LoadError(f"bad uri [{uri}]") from None
    attrs = parse_attrs(attrs_text, attrs_none)
    sock = None
    if attrs["body"] is not None and attrs["sockname"]:
        sock = sockets.by_name(attrs["sockname"])
        if sock is None:
            raise LoadError(f"non-local socket name <{attrs['sockname']}>")
    elif attrs["body"] is not None and attrs["socket"]:
        sock = sockets.by_text(attrs["socket"])
        if sock is None:
            raise LoadError(f"non-local socket <{attrs['socket']}>")
    host = parsed.host or ""
    proto = parsed.transport or ""  # none: PROTO_NONE, as parse_uri() leaves it
    dest: dict[str, Any] = {
        "uri": uri,
        "flags": flags,
        "priority": priority,
        "dload": dload,
        "attrs": attrs,
        "host": host,
        "port": parsed.port or 0,
        "proto": PROTO_IDS.get(proto, 0),
        "ip": None,
        "noip": False,
        "sock": sock,
        "message_count": 0,
        "latency": new_latency(attrs.get("latency")),
        "dnstime": 0.0,
    }
    if flags & DS_NODNSARES_DST:
        dest["noip"] = True
    elif resolve is not None:
        found = resolve(host, dest["port"], dest["proto"])
        if found is None:
            raise LoadError(f"could not resolve {host} (missing no-probing flag?!?)")
        dest["ip"], dest["port"], dest["proto"] = found
    return dest


def parse_list_file(text: str) -> Iterable[tuple[int, str, int, int, str]]:
    """ds_load_list()'s reading of the file: (setid, uri, flags, priority, attrs) per line."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw[:1023]
        p = line.lstrip(" \t\r\n")
        if not p or p.startswith("#"):
            continue
        setid, p = _number(p)
        p = p.lstrip(" \t\r\n")
        if not p or p.startswith("#"):
            raise LoadError(f"bad line [{raw}] (line {number})")
        end = _token_end(p, "#")
        uri, p = p[:end], p[end:].lstrip(" \t\r\n")
        flags = priority = 0
        attrs = ""
        if p and not p.startswith("#"):
            flags, p = _number(p)
            p = p.lstrip(" \t\r\n")
            if p and not p.startswith("#"):
                priority, p = _number(p)
                p = p.lstrip(" \t\r\n")
                if p and not p.startswith("#"):
                    end = _token_end(p, "")
                    attrs = p[:end]
        yield setid, uri, flags, priority, attrs


def _number(text: str) -> tuple[int, str]:
    value = 0
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        value = value * 10 + ord(text[i]) - 48
        i += 1
    return value, text[i:]


def _token_end(text: str, extra: str) -> int:
    for i, ch in enumerate(text):
        if ch in " \t\r\n" or (extra and ch in extra):
            return i
    return len(text)


def build_sets(dests: Iterable[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """add_dest2list() for each destination then reindex_dests(): the sets in AVL insertion order
    of their ids (Kamailio's walk order: `order`), each ordered by priority, with weight tables."""
    lists: dict[int, list[dict[str, Any]]] = {}
    tree = AvlOrder()
    for setid, dest in dests:
        tree.insert(setid)
        chain = lists.setdefault(setid, [])
        at = len(chain)
        for i, other in enumerate(chain):  # after every one of lower or equal priority
            if other["priority"] > dest["priority"]:
                at = i
                break
        chain.insert(at, dest)
    sets = {}
    for setid, chain in lists.items():
        dlist = list(reversed(chain))
        node = {
            "id": setid,
            "dests": dlist,
            "wlist": init_weights(dlist),
            "rwlist": init_relative_weights(dlist),
        }
        sets[str(setid)] = node
    return {"sets": sets, "order": tree.walk()}


def init_weights(dlist: list[dict[str, Any]]) -> list[int]:
    """dp_init_weights(): each index `weight` times, the last filling up to 100, shuffled."""
    if not dlist or not (dlist[0]["attrs"].get("weight") or 0):
        return []
    table: list[int] = []
    for j, dest in enumerate(dlist):
        table.extend([j] * (dest["attrs"].get("weight") or 0))
    table = table[:100]
    table.extend([len(dlist) - 1] * (100 - len(table)))
    random.shuffle(table)
    return table


def init_relative_weights(dlist: list[dict[str, Any]]) -> list[int]:
    """dp_init_relative_weights(): the active destinations' share of 100 by rweight, truncated,
    the last active one filling up, shuffled."""
    if len(dlist) < 2:
        return []
    rw_sum = sum(d["attrs"].get("rweight") or 0 for d in dlist if not skip_dst(d["flags"]))
    if rw_sum == 0:
        return []
    table: list[int] = []
    for j, dest in enumerate(dlist):
        if skip_dst(dest["flags"]):
            continue
        table.extend([j] * ((dest["attrs"].get("rweight") or 0) * 100 // rw_sum))
    last = table[-1] if table else len(dlist) - 1
    table.extend([last] * (100 - len(table)))
    random.shuffle(table)
    return table


class AvlOrder:
    """The shape of Kamailio's AVL tree of set ids (ds_avl_insert), for the order its recursive
    walks visit the sets in: the smaller subtree, the larger one, then the node."""

    def __init__(self) -> None:
        self.root: list[Any] | None = None  # [id, left, right, height]

    def insert(self, setid: int) -> None:
        self.root = self._insert(self.root, setid)

    def _insert(self, node: list[Any] | None, setid: int) -> list[Any]:
        if node is None:
            return [setid, None, None, 1]
        if setid == node[0]:
            return node
        side = 2 if setid > node[0] else 1
        node[side] = self._insert(node[side], setid)
        return self._balance(node)

    @staticmethod
    def _h(node: list[Any] | None) -> int:
        return node[3] if node else 0

    def _fix(self, node: list[Any]) -> list[Any]:
        node[3] = 1 + max(self._h(node[1]), self._h(node[2]))
        return node

    def _rotate(self, node: list[Any], side: int) -> list[Any]:
        other = 3 - side
        child = node[side]
        node[side] = child[other]
        child[other] = self._fix(node)
        return self._fix(child)

    def _balance(self, node: list[Any]) -> list[Any]:
        self._fix(node)
        diff = self._h(node[1]) - self._h(node[2])
        if diff > 1:
            if self._h(node[1][1]) < self._h(node[1][2]):
                node[1] = self._rotate(node[1], 2)
            return self._rotate(node, 1)
        if diff < -1:
            if self._h(node[2][2]) < self._h(node[2][1]):
                node[2] = self._rotate(node[2], 1)
            return self._rotate(node, 2)
        return node

    def walk(self) -> list[int]:
        out: list[int] = []

        def visit(node: list[Any] | None) -> None:
            if node is not None:
                visit(node[1])
                visit(node[2])
                out.append(node[0])

        visit(self.root)
        return out
