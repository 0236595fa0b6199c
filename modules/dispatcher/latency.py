"""Latency statistics of pinged destinations and congestion control (ds_update_latency(),
latency_stats_update() and ds_update_weighted_congestion_control())."""

from __future__ import annotations

import math
from typing import Any

from .dslist import DS_PROBING_DST

TRAINING_COUNT = 10000


def _vor1(v: float) -> float:
    return v if v else 1


def stats_update(stats: dict[str, Any], latency: int, alpha: float) -> None:
    if stats["count"] < 2097152:
        stats["count"] += 1
    else:
        stats["m2"] -= stats["m2"] / _vor1(stats["count"])
    if stats["count"] == 1:
        stats.update(
            std=0.0, m2=0.0, max=latency, min=latency, avg=float(latency), est=float(latency), count=1
        )
    if 10 < stats["count"] < TRAINING_COUNT and stats["std"] < 0.5:
        stats["count"] = TRAINING_COUNT
    stats["min"] = min(stats["min"], latency)
    stats["max"] = max(stats["max"], latency)
    if stats["count"] > 1:
        delta = latency - stats["avg"]
        stats["avg"] += delta / _vor1(stats["count"])
        delta2 = latency - stats["avg"]
        stats["m2"] += delta * delta2
        stats["std"] = math.sqrt(max(stats["m2"], 0.0) / _vor1(stats["count"] - 1))
    if stats["count"] < 10:
        stats["est"] = stats["avg"]
    else:
        stats["est"] = stats["est"] * alpha + latency * (1 - alpha)


def _active_weight(cc: dict[str, int], weight: int, stats: dict[str, Any]) -> int:
    congestion_ms = max(int(stats["est"] - stats["avg"]), 0)
    cc["total"] += congestion_ms
    active = max(weight - congestion_ms, 0)
    cc["congested" if active == 0 else "normal"] += 1
    return active


def update_latency(node: dict[str, Any], uri: str, code: int, latency_ms: int, alpha: float) -> bool:
    """Update the set's statistics for a ping reply; True when the relative weights changed."""
    cc = {"congested": 0, "normal": 0, "total": 0, "enabled": 1, "apply": 0}
    for dest in node["dests"]:
        attrs = dest["attrs"]
        stats = dest["latency"]
        weight = attrs.get("weight") or 0
        if dest["uri"].lower() == uri.lower():
            if not dest["flags"] & DS_PROBING_DST:
                continue
            if code == 408:
                stats["timeout"] += 1
            else:
                stats_update(stats, latency_ms, alpha)
            if attrs.get("cc") and weight > 0:
                active = _active_weight(cc, weight, stats)
                if (attrs.get("rweight") or 0) != active:
                    cc["apply"] = 1
                    attrs["rweight"] = active
        elif attrs.get("cc") and weight > 0:
            _active_weight(cc, weight, stats)
        if not attrs.get("cc"):
            cc["enabled"] = 0
    if cc["enabled"] and cc["congested"] > 1 and cc["normal"] == 0:
        for dest in node["dests"]:
            stats = dest["latency"]
            congestion_ms = int(stats["est"] - stats["avg"])
            active = (cc["total"] << 4) // int(_vor1(congestion_ms))
            if (dest["attrs"].get("rweight") or 0) != active:
                cc["apply"] = 1
                dest["attrs"]["rweight"] = active
    return bool(cc["enabled"] and cc["apply"])
