"""User-defined metrics: the prom_counter/prom_gauge/prom_histogram declarations, their values
shared by every worker, and their exposition text as Kamailio 5.6 writes it (prom_metric.c).

A declaration lives in each process (every worker reads the same modparams). A value with its
labels (Kamailio's `lvalue`) is one key of the shared table `xhttp_prom`: the key is the JSON list
[metric, label values...], the value the JSON of its number(s) and its creation order, `extra` the
millisecond time of its last update (what `xhttp_prom_timeout` expires).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FIELDS = {COUNTER: ("name", "label"), GAUGE: ("name", "label"), HISTOGRAM: ("name", "label", "buckets")}
U64 = 1 << 64
ORDER = 0  # the shared table's counter numbering the label sets in creation order

_ATOF = re.compile(r"\s*([+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))", re.IGNORECASE)


def atof(text: str) -> float:
    """C's atof(): the longest number at the start of `text`, 0.0 when there is none."""
    found = _ATOF.match(text)
    return float(found.group(1)) if found else 0.0


def c_float(value: float) -> str:
    """printf's %f."""
    if value != value:
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:f}"


@dataclass
class Metric:
    kind: str
    name: str = ""
    labels: tuple[str, ...] | None = None  # None: declared without labels
    buckets: tuple[float, ...] = field(default=DEFAULT_BUCKETS)


def split_fields(spec: str) -> list[tuple[str, str]]:
    """parse_params() of `name=...; label=...`: `;`-separated, a value optionally quoted."""
    if spec.endswith(";"):
        spec = spec[:-1]
    found = []
    for part in spec.split(";"):
        key, _, body = part.partition("=")
        key, body = key.strip(), body.strip()
        if len(body) >= 2 and body[0] == body[-1] and body[0] in "\"'":
            body = body[1:-1]
        if not key:
            raise ValueError(f"failed parsing params value: {spec!r}")
        found.append((key, body))
    return found


def parse_labels(text: str) -> tuple[str, ...]:
    if not text:
        raise ValueError("No label available")
    parts = text.split(":")
    if parts and parts[-1] == "":
        parts.pop()  # a last `:` adds nothing
    if any(not p for p in parts):
        raise ValueError(f"Cannot create label: {text}")
    return tuple(parts)


def parse_buckets(text: str) -> tuple[float, ...]:
    if not text:
        raise ValueError("Void bucket string")
    parts = text.split(":")
    if any(not p for p in parts):
        raise ValueError(f"Error creating buckets: {text}")
    bounds = tuple(atof(p) for p in parts)
    if any(b < a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError("Buckets must increase")
    return bounds


def parse_metric(kind: str, spec: str) -> Metric:
    """One prom_counter/prom_gauge/prom_histogram value; ValueError with Kamailio's words."""
    metric = Metric(kind)
    for key, body in split_fields(spec):
        if key not in FIELDS[kind]:
            raise ValueError(f"Unknown field: {key} ({body})")
        if key == "name":
            metric.name = body
        elif key == "label":
            if metric.labels is not None:
                raise ValueError("Label already created")
            metric.labels = parse_labels(body)
        else:
            metric.buckets = parse_buckets(body)
    if not metric.name:
        raise ValueError(f"No {kind} name")
    return metric


def check_spec(kind: str) -> Any:
    def validate(value: object) -> None:
        for spec in value if isinstance(value, list) else [value]:
            parse_metric(kind, str(spec))
    return validate


class MetricError(Exception):
    """An update Kamailio refuses (logged by the caller, -1 or an RPC fault)."""


class MetricStore:
    """The declared metrics and their shared values."""

    def __init__(self, metrics: Sequence[Metric], table: Any, clock: Any, timeout_minutes: int) -> None:
        self.metrics = list(metrics)
        self.table = table
        self.clock = clock
        self.timeout_ms = timeout_minutes * 60000

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def find(self, name: str, kind: str) -> Metric:
        metric = next((m for m in self.metrics if m.name == name), None)
        if metric is None:
            raise MetricError(f"No metric found for name: {name}")
        if metric.kind != kind:
            raise MetricError(f"Metric type does not match for metric: {name}")
        return metric

    def update(self, name: str, kind: str, labels: Sequence[str], change: Any) -> None:
        """Find (or create) the label set of `name` and apply `change(value dict)` to it, under
        the table's lock (Kamailio's prom_lock)."""
        with self.table.transaction():
            now = self.now_ms()
            if self.timeout_ms > 0:
                for key in self.table.keys(extra_at_most=now - self.timeout_ms - 1):
                    self.table.delete(key)
            try:
                metric = self.find(name, kind)
            except MetricError as exc:
                refused: MetricError | None = exc
            else:
                refused = None
                if len(labels) != len(metric.labels or ()):
                    refused = MetricError(f"Number of labels does not match for metric: {name}")
            if refused is None:
                self.apply(metric, now, labels, change)
        if refused is not None:
            raise refused

    def apply(self, metric: Metric, now: int, labels: Sequence[str], change: Any) -> None:
        key = json.dumps([metric.name, *labels]).encode()
        found = self.table.get(key)
        if found is None:
            self.table.add(ORDER, 1)
            value: dict[str, Any] = {"o": self.table.counter(ORDER), "v": 0}
            if metric.kind == HISTOGRAM:
                value = {"o": value["o"], "b": [0] * len(metric.buckets), "c": 0, "s": 0.0}
        else:
            value = json.loads(found[0])
        change(metric, value)
        self.table.put(key, json.dumps(value).encode(), extra=now)

    def counter_inc(self, name: str, number: int, labels: Sequence[str]) -> None:
        def add(_m: Metric, v: dict[str, Any]) -> None:
            v["v"] = (v["v"] + number) % U64
        self.update(name, COUNTER, labels, add)

    def counter_reset(self, name: str, labels: Sequence[str]) -> None:
        self.update(name, COUNTER, labels, lambda _m, v: v.update(v=0))

    def gauge_set(self, name: str, number: float, labels: Sequence[str]) -> None:
        self.update(name, GAUGE, labels, lambda _m, v: v.update(v=number))

    def gauge_reset(self, name: str, labels: Sequence[str]) -> None:
        self.update(name, GAUGE, labels, lambda _m, v: v.update(v=0.0))

    def histogram_observe(self, name: str, number: float, labels: Sequence[str]) -> None:
        def observe(metric: Metric, v: dict[str, Any]) -> None:
            for i in range(len(metric.buckets) - 1, -1, -1):
                if not number <= metric.buckets[i]:
                    break
                v["b"][i] += 1
            v["c"] += 1
            v["s"] += number
        self.update(name, HISTOGRAM, labels, observe)

    # ------------------------------------------------------------ exposition

    def text(self, prefix: str) -> str:
        """prom_metric_list_print(): every label set of every metric, in declaration then
        creation order, each sample stamped with the time of printing."""
        out = ["# User defined metrics\n" if self.metrics else "# NO User defined metrics\n"]
        values: dict[str, list[tuple[int, list[str], dict[str, Any]]]] = {}
        for item in self.table.items():
            name, *labels = json.loads(item.key)
            value = json.loads(item.value)
            values.setdefault(name, []).append((value["o"], labels, value))
        done: set[str] = set()
        for metric in self.metrics:
            if metric.name in done:  # a second declaration of a name shares the first's values
                continue
            done.add(metric.name)
            for _order, labels, value in sorted(values.get(metric.name, []), key=lambda e: e[0]):
                out.append(self.sample_text(prefix, metric, labels, value))
        return "".join(out)

    def sample_text(self, prefix: str, metric: Metric, labels: list[str], value: dict[str, Any]) -> str:
        ts = self.now_ms()
        base = f"{prefix}{metric.name}"
        plain = label_text(metric.labels, labels)
        if metric.kind == COUNTER:
            return f"{base}{plain} {value['v']} {ts}\n"
        if metric.kind == GAUGE:
            return f"{base}{plain} {c_float(value['v'])} {ts}\n"
        lines = [f"{base}_bucket{le_text(metric.labels, labels, c_float(bound))} {count} {ts}\n"
                 for bound, count in zip(metric.buckets, value["b"], strict=False)]
        lines.append(f"{base}_bucket{le_text(metric.labels, labels, '+Inf')} {value['c']} {ts}\n")
        lines.append(f"{base}_sum{plain} {c_float(value['s'])} {ts}\n")
        lines.append(f"{base}_count{plain} {value['c']} {ts}\n")
        return "".join(lines)


def label_text(names: tuple[str, ...] | None, values: list[str]) -> str:
    if not names or not values:
        return ""
    return "{" + ", ".join(f'{n}="{v}"' for n, v in zip(names, values, strict=False)) + "}"


def le_text(names: tuple[str, ...] | None, values: list[str], le: str) -> str:
    pairs = ""
    if names and values:
        pairs = "".join(f'{n}="{v}", ' for n, v in zip(names, values, strict=False))
    return "{" + pairs + f'le="{le}"' + "}"
