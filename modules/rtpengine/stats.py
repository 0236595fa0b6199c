"""What rtpengine's replies give the config: the MOS figures of a query or delete (the mos_*_pv
parameters: for the whole call and for the legs labelled by mos_A_label_pv / mos_B_label_pv), the
$rtpstat text, and rtpengine_query_v()'s JSON (srjson's compact and pretty forms)."""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import bencode as b

# the figures of one min/max/average group, and their parameter suffixes (`mos_min_at_pv` ...)
FIGURES = ("mos", "at", "packetloss", "jitter", "roundtrip", "roundtrip_leg", "samples")
GROUPS = ("min", "max", "average")
SIDES = ("", "A", "B")


def param_name(group: str, figure: str, side: str) -> str:
    """The parameter holding the PV of one figure: mos_min_pv, mos_min_at_A_pv, mos_average_B_pv."""
    name = "mos_" + group + ("" if figure == "mos" else "_" + figure)
    return name + (f"_{side}" if side else "") + "_pv"


def all_params() -> list[str]:
    names = []
    for side in SIDES:
        if side:
            names.append(f"mos_{side}_label_pv")
        for group in GROUPS:
            for figure in FIGURES:
                if group != "average" and figure == "samples":
                    continue
                if group == "average" and figure == "at":
                    continue
                names.append(param_name(group, figure, side))
    return names


@dataclass
class Vals:
    mos: int = 0
    at: int = 0
    packetloss: int = 0
    jitter: int = 0
    roundtrip: int = 0
    roundtrip_leg: int = 0
    samples: int = 0
    avg_samples: int = 0


@dataclass
class SideStats:
    """The PV formats of one side (label: "" for the whole call)."""

    label: Callable[[Any], str] | None = None
    pvs: dict[tuple[str, str], Callable[[Any, str], None]] = field(default_factory=dict)

    @property
    def wanted(self) -> bool:
        return self.label is not None or bool(self.pvs)


def _decode_vals(d: Any, key: str) -> Vals | None:
    ent = b.get(d, key)
    if not isinstance(ent, dict):
        return None
    return Vals(b.get_int(ent, "MOS", -1), b.get_int(ent, "reported at", -1),
                b.get_int(ent, "packet loss", -1), b.get_int(ent, "jitter", -1),
                b.get_int(ent, "round-trip time", -1), b.get_int(ent, "round-trip time leg", -1),
                b.get_int(ent, "samples", -1), 1)


def _c_div(a: int, n: int) -> int:
    """C's integer division (towards zero)."""
    q = abs(a) // abs(n)
    return q if (a >= 0) == (n > 0) else -q


def _formatted(figure: str, value: int, created: int) -> str:
    if figure == "mos":
        return f"{_c_div(value, 10)}.{abs(value - _c_div(value, 10) * 10)}"
    if figure == "at":
        secs = value - created
        return f"{_c_div(secs, 60)}:{abs(secs - _c_div(secs, 60) * 60):02d}"
    return str(value)


def _ssrcs_of_label(reply: Any, label: str) -> list[int] | None:
    """The SSRCs of the first stream of each medium of the tags labelled `label` (up to 4)."""
    tags = b.get(reply, "tags")
    if not isinstance(tags, dict):
        return None
    found: list[int] = []
    for tag in tags.values():
        if b.text(b.get(tag, "label")) != label:
            continue
        for media in b.get(tag, "medias") or []:
            streams = b.get(media, "streams")
            if not isinstance(streams, list) or not streams:
                continue
            ssrc = b.get_int(streams[0], "SSRC", -1)
            if ssrc == -1:
                continue
            found.append(ssrc)
            if len(found) >= 4:
                return found
    return found


def collect(reply: Any, side: SideStats, ctx: Any) -> None:
    """parse_call_stats_1: set the side's PVs from a query or delete reply."""
    if not side.wanted:
        return
    ssrcs: list[int] | None = None
    if side.label is not None:
        ssrcs = _ssrcs_of_label(reply, side.label(ctx))
        if not ssrcs:
            return
    created = b.get_int(reply, "created", 0)
    ssrc_list = b.get(reply, "SSRC")
    if not isinstance(ssrc_list, dict):
        return
    low, high, avg = Vals(mos=100), Vals(mos=-1), Vals()
    for key, entry in ssrc_list.items():
        if ssrcs is not None:
            try:
                number = int(key.split(b".")[0]) if key else None
            except ValueError:
                continue
            if number not in ssrcs:
                continue
        got = _decode_vals(entry, "average MOS")
        if got is not None and got.mos > 0:
            avg.avg_samples += 1
            for name in ("mos", "packetloss", "jitter", "roundtrip", "roundtrip_leg", "samples"):
                setattr(avg, name, getattr(avg, name) + getattr(got, name))
        got = _decode_vals(entry, "highest MOS")
        if got is not None and got.mos > high.mos:
            high = got
        got = _decode_vals(entry, "lowest MOS")
        if got is not None and 0 < got.mos < low.mos:
            low = got
    for group, vals in (("max", high), ("min", low), ("average", avg)):
        if not vals.avg_samples:
            continue
        for figure in FIGURES:
            setter = side.pvs.get((group, figure))
            if setter is None:
                continue
            value = getattr(vals, figure)
            value = value if figure == "at" else _c_div(value, vals.avg_samples)
            setter(ctx, _formatted(figure, value, created))


def rtpstat(reply: Any) -> str | None:
    """$rtpstat's text from a query reply (None when the reply has no totals)."""
    totals = b.get(reply, "totals")
    rtp, rtcp = b.get(totals, "RTP"), b.get(totals, "RTCP")
    if not isinstance(rtp, dict) or not isinstance(rtcp, dict):
        return None
    def figures(d: Any) -> str:
        return (f"{b.get_int(d, 'bytes', -1)} bytes, {b.get_int(d, 'packets', -1)} packets, "
                f"{b.get_int(d, 'errors', -1)} errors")
    return f"RTP: {figures(rtp)}; RTCP: {figures(rtcp)}"


# ------------------------------------------------------------------ rtpengine_query_v's JSON

def _number(value: int) -> str:
    """srjson (cJSON) prints numbers as doubles: whole ones without a fraction."""
    d = float(value)
    if d == int(d) and abs(d) < 1.0e60:
        return f"{d:.0f}" if abs(d) > 2147483647 else str(int(d))
    return f"{d:e}" if math.fabs(d) >= 1.0e9 or math.fabs(d) < 1.0e-6 else f"{d:f}"


def _string(value: bytes) -> str:
    return json.dumps(value.decode("utf-8", "surrogateescape"), ensure_ascii=False)


def to_json(value: Any, pretty: bool, depth: int = 0) -> str:
    if isinstance(value, bytes):
        return _string(value)
    if isinstance(value, int):
        return _number(value)
    if isinstance(value, list):
        parts = [to_json(v, pretty, depth + 1) for v in value]
        return "[" + (", " if pretty else ",").join(parts) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [(_string(k), to_json(v, pretty, depth + 1)) for k, v in value.items()]
        if not pretty:
            return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
        inner = "\t" * (depth + 1)
        return "{\n" + ",\n".join(f"{inner}{k}:\t{v}" for k, v in items) + "\n" + "\t" * depth + "}"
    raise TypeError(type(value).__name__)
