"""xhttp_prom: the server's statistics and the config's own metrics in Prometheus' text format on
/metrics, byte for byte as Kamailio 5.6 writes them (no `# HELP`/`# TYPE` lines; each sample with
its millisecond timestamp; the user-defined metrics first, then the statistics that
`xhttp_prom_stats` selects).
"""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, XhttpAPI

from .metrics import COUNTER, GAUGE, HISTOGRAM, Metric, MetricError, MetricStore, atof, parse_metric
from .rpc import PromRpc

log = logging.getLogger("kampy.xhttp_prom")

METRICS_URI = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4"
LABEL_NAMES = ("l1", "l2", "l3")


def reply_buffer(core_params: dict[str, Any]) -> int:
    """xhttp_prom_buf_size's default: a third of the private memory (-M, `pkg_mem_size` in MB,
    Kamailio's default 8)."""
    try:
        megabytes = int(core_params.get("pkg_mem_size") or 8)
    except (TypeError, ValueError):
        megabytes = 8
    return megabytes * 1024 * 1024 // 3


class StatsError(Exception):
    """The statistic `xhttp_prom_stats` names does not exist: /metrics answers 500."""


def declared(params: dict[str, Any]) -> list[Metric]:
    """The metrics of the prom_counter, prom_gauge and prom_histogram modparams. Kamailio keeps
    them in the order the modparams come; kampy gets each parameter's values apart, so counters
    come before gauges, gauges before histograms."""
    found = []
    for kind, param in ((COUNTER, "prom_counter"), (GAUGE, "prom_gauge"), (HISTOGRAM, "prom_histogram")):
        for spec in params[param] or []:
            found.append(parse_metric(kind, str(spec)))
    return found


class XHttpProm(PromRpc, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.xhttp: XhttpAPI = core.api("xhttp")
        self.which = str(params["xhttp_prom_stats"] or "")
        self.prefix = str(params["xhttp_prom_beginning"])
        self.buf_size = int(params["xhttp_prom_buf_size"] or 0) or reply_buffer(core.core_params)
        timeout = int(params["xhttp_prom_timeout"])
        if timeout < 0:
            raise ValueError(f"Invalid timeout: {timeout}")
        self.store = MetricStore(declared(params), core.shared.table("xhttp_prom", 1 << 12, 1 << 20),
                                 core.clock, timeout)

    # ------------------------------------------------------------ the statistics

    def stat_line(self, key: str, now: int) -> str:
        group, _, name = key.partition(":")
        value = self.core.stats.value(key) % (1 << 64)  # printed with %lu
        return f"{self.prefix}{group}_{name}".replace("-", "_") + f" {value} {now}\n"

    def stats_text(self) -> str:
        """prom_stats_get()'s part after the user-defined metrics."""
        stats, which = self.core.stats, self.which
        now = self.store.now_ms()
        if not which:
            return ""
        if which == "all":
            return "\n# Kamailio whole internal statistics\n" + "".join(
                self.stat_line(k, now) for k in stats.names())
        if which.endswith(":"):
            if len(which) == 1:
                raise StatsError(f"Void group for statistics: {which}")
            keys = [k for k in stats.names() if k.partition(":")[0] == which[:-1]]
            lines = "".join(self.stat_line(k, now) for k in keys)
            return f"\n# Kamailio statistics for group: {which}\n" + lines
        key = stats.find(which)
        if key is None:
            raise StatsError(f"stat not found: {which}")
        return f"\n# Kamailio statistics for: {which}\n" + self.stat_line(key, now)

    def metrics_text(self) -> bytes:
        return (self.store.text(self.prefix) + self.stats_text()).encode()

    # ------------------------------------------------------------ HTTP

    def prom_check_uri(self, ctx: MessageContext) -> int:
        if not self.xhttp.is_http(ctx):
            return -1
        return 1 if ctx.msg.uri == METRICS_URI else -1

    def prom_dispatch(self, ctx: MessageContext) -> int:
        """0 (the script ends) once answered, as Kamailio's; 1 for a SIP message (nothing done)."""
        if not self.xhttp.is_http(ctx):
            log.debug("Got non HTTP msg")
            return 1
        status, reason, body = 200, "OK", b""
        try:
            body = self.metrics_text()
        except StatsError as exc:
            log.error("%s", exc)
            status, reason = 500, "Internal Server Error"
        if len(body) >= self.buf_size:  # Kamailio's reply buffer: the metrics do not fit
            log.error("Error body buffer overflow: %d (%d)", len(body), self.buf_size)
            status, reason = 500, "Internal Server Error"
        if status != 200:
            body = reason.encode()
        return 0 if self.xhttp.send_reply(ctx, status, reason, CONTENT_TYPE, body) > 0 else -1

    # ------------------------------------------------------------ config functions

    def labels(self, values: tuple[str | None, ...]) -> list[str] | None:
        """The label arguments given; None (logged) when one is empty."""
        given = [v for v in values if v is not None]
        for name, value in zip(LABEL_NAMES, given, strict=False):
            if not value:
                log.error("Invalid %s string", name)
                return None
        return given

    def run(self, what: str, name: str, labels: list[str] | None, action: Any) -> int:
        if not name:
            log.error("Invalid name string")
            return -1
        if labels is None:
            return -1
        try:
            action()
        except MetricError as exc:
            log.error("%s", exc)
            log.error("Cannot %s: %s", what, name)
            return -1
        return 1

    def prom_counter_reset(self, ctx: MessageContext, name: str, l1: str | None = None,
                           l2: str | None = None, l3: str | None = None) -> int:
        labels = self.labels((l1, l2, l3))
        return self.run("reset counter", name, labels, lambda: self.store.counter_reset(name, labels or []))

    def prom_gauge_reset(self, ctx: MessageContext, name: str, l1: str | None = None,
                         l2: str | None = None, l3: str | None = None) -> int:
        labels = self.labels((l1, l2, l3))
        return self.run("reset gauge", name, labels, lambda: self.store.gauge_reset(name, labels or []))

    def prom_counter_inc(self, ctx: MessageContext, name: str, number: int, l1: str | None = None,
                         l2: str | None = None, l3: str | None = None) -> int:
        if int(number) < 0:
            log.error("invalid negative number parameter")
            return -1
        labels = self.labels((l1, l2, l3))
        return self.run(f"add number: {number} to counter", name, labels,
                        lambda: self.store.counter_inc(name, int(number), labels or []))

    def prom_gauge_set(self, ctx: MessageContext, name: str, number: str, l1: str | None = None,
                       l2: str | None = None, l3: str | None = None) -> int:
        if not number:
            log.error("Invalid number string")
            return -1
        value = atof(number)
        labels = self.labels((l1, l2, l3))
        return self.run(f"assign number: {value:f} to gauge", name, labels,
                        lambda: self.store.gauge_set(name, value, labels or []))

    def prom_histogram_observe(self, ctx: MessageContext, name: str, number: str, l1: str | None = None,
                               l2: str | None = None, l3: str | None = None) -> int:
        if not number:
            log.error("Invalid number string")
            return -1
        value = atof(number)
        labels = self.labels((l1, l2, l3))
        return self.run(f"observe number: {value:f} in histogram", name, labels,
                        lambda: self.store.histogram_observe(name, value, labels or []))
