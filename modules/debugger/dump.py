"""dbg_pv_dump() (debugger_json.c) and dbg_sip_msg() (debugger_mod.c): what they print."""
from __future__ import annotations

import json
from typing import Any

from kampy.api import MessageContext, PVar, Request

# dbg_pv_dump's mask bits (debugger_api.h)
DP_NULL, DP_AVP, DP_SCRIPTVAR, DP_XAVP, DP_OTHER = 1, 2, 4, 8, 16
DP_ALL = 31

# Pseudo-variable classes of Kamailio's pv module whose type is not PVT_OTHER (nor an AVP, XAVP or
# script variable): dbg_pv_dump never prints them. From the pv_export_t table of Kamailio 5.6.3's
# src/modules/pv/pv.c.
TYPED_CLASSES = frozenset({
    "Bf", "Tf", "Ts", "bF", "bR", "bf", "br", "branch", "ds", "du", "duri", "from", "fu", "hdr", "hdrc",
    "hfl", "hflc", "ou", "ouri", "rU", "rUl", "rb", "rd", "ru", "ruri", "ruri.domain", "ruri.user",
    "sbranch", "time", "timef", "to", "tu", "utime", "utimef", "xavi", "xavu",
})
SCRIPT_VARS = frozenset({"var", "vz", "vn"})


def _kind(spec: PVar) -> int:
    if spec.cls == "avp":
        return DP_AVP
    if spec.cls == "xavp":
        return DP_XAVP
    if spec.cls in SCRIPT_VARS:
        return DP_SCRIPTVAR
    if spec.cls in TYPED_CLASSES or spec.cls in ("null",):
        return 0
    return DP_OTHER


def _avp_name(spec: PVar) -> str:
    name = (spec.arg or "").strip()
    return name[2:] if name[:2] in ("s:", "S:") else name


def pv_json(ctx: MessageContext, specs: list[PVar], value_of: Any, mask: int) -> str:
    """The JSON object dbg_get_json() builds from the pv cache (`specs`), `value_of(spec)` giving
    the value of a plain one."""
    out: dict[str, Any] = {}
    xavps_seen: set[str] = set()
    for spec in specs:
        kind = _kind(spec)
        if not kind & mask or spec.transforms:
            continue
        if kind == DP_AVP:
            if spec.index is not None and spec.index.strip() != "0":
                continue
            name = _avp_name(spec)
            values = list(ctx.avps.get(name, ()))
            if not values and not mask & DP_NULL:
                continue
            out[f"$avp({name})"] = values
        elif kind == DP_XAVP:
            root = (spec.arg or "").split("=>", 1)[0].split("[", 1)[0].strip()
            if root in xavps_seen:
                continue
            xavps_seen.add(root)
            items = [{key: list(values) for key, values in item.items()} for item in ctx.xavps.get(root, ())]
            if not items and not mask & DP_NULL:
                continue
            out[f"$xavp({root})"] = items
        else:
            value = value_of(spec)
            if value is None or value == "":
                if not mask & DP_NULL:
                    continue
                value = None
            out[spec.text or f"${spec.cls}"] = value
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


START = "------------------------- START OF SIP message debug --------------------------\n"
HEADERS = "------------------------------ SIP header diffs -------------------------------\n"
BODY = "------------------------------- SIP body diffs --------------------------------\n"
END = "-------------------------- END OF SIP message debug ---------------------------\n\n"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def sip_msg_text(ctx: MessageContext, line: int | None) -> str:
    """The message as it would be sent now (its edits applied, no Via of ours) and its edits:
    removed lines with `- `, added ones as they are."""
    msg = ctx.msg
    wire = msg.to_bytes()
    if isinstance(msg, Request) and ctx.new_ruri is not None:
        start, sep, rest = wire.partition(b"\r\n")
        method, _, tail = start.partition(b" ")
        wire = method + b" " + ctx.new_ruri.encode() + b" " + tail.rpartition(b" ")[2] + sep + rest
    lines = msg.header_lines()
    position = {}  # (canonical name, n) -> where that received line is
    seen: dict[str, int] = {}
    for at, (lname, _) in enumerate(lines):
        position[(lname, seen.get(lname, 0))] = at
        seen[lname] = seen.get(lname, 0) + 1
    received = {name: [raw for lname, raw in lines if lname == name] for name in seen}
    # (where in the message, order made, text): Kamailio lists its lumps by their place
    header_diffs: list[tuple[float, int, str]] = []
    body_diffs: list[str] = []
    for order, change in enumerate(msg.changes):
        kind = type(change).__name__
        if kind == "AddHeader":
            value = change.value if isinstance(change.value, str) else _text(change.value)
            header_diffs.append((-1 if change.first else len(lines), order, f"{change.name}: {value}\r\n"))
        elif kind == "InsertHeader":
            at = _at(position, seen, change.anchor, change.index)
            header_diffs.append((at + (0.5 if change.after else -0.5), order, _text(change.lines) + "\r\n"))
        elif kind == "ReplaceHeader":
            old = _nth(received.get(change.name, []), change.index)
            at = _at(position, seen, change.name, change.index)
            if old is not None:
                header_diffs.append((at, order, "- " + _text(old) + "\r\n"))
            if change.lines:
                header_diffs.append((at, order, _text(change.lines) + "\r\n"))
        elif kind == "RemoveHeader":
            name = change.name.lower()
            count = seen.get(name, 0)
            wanted = range(count) if change.index is None else \
                [change.index % count] if count and -count <= change.index < count else []
            header_diffs += [(position[(name, n)], order, "- " + _text(received[name][n]) + "\r\n")
                             for n in wanted]
        elif kind == "SetBody":
            if msg.body:
                body_diffs.append("- " + _text(msg.body))
            body_diffs.append(_text(change.body))
    header_text = "".join(text for _, _, text in sorted(header_diffs, key=lambda d: (d[0], d[1])))
    where = "unknown" if line is None else str(line)
    return (f"CONFIG LINE {where}\n{START}{_text(wire)}{HEADERS}{header_text}"
            f"{BODY}{''.join(body_diffs)}{END}")


def _at(position: dict[tuple[str, int], int], seen: dict[str, int], name: str, index: int) -> float:
    count = seen.get(name, 0)
    return position.get((name, index % count), 0) if count else 0


def _nth(items: list[bytes], index: int) -> bytes | None:
    return items[index] if -len(items) <= index < len(items) else None
