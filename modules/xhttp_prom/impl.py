"""xhttp_prom: the server's statistics as Prometheus metrics on /metrics.

Kamailio's names: `kamailio_<group>_<name>` (the prefix is `xhttp_prom_beginning`), the selection
by `xhttp_prom_stats` (`all`, `group:`, one name, or empty for none). The text comes from
`prometheus_client`, which adds `# HELP`/`# TYPE` comments (Kamailio 5.6 writes none): statistics
declared `no_reset` (levels such as usrloc:registered_users) are gauges, the others counters
typed `untyped` so that their names stay Kamailio's (a prometheus_client counter would get
`_total` appended). Each sample carries a millisecond timestamp, as Kamailio's do.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric, UnknownMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from kampy.api import CoreAPI, MessageContext, Module, XhttpAPI

log = logging.getLogger("kampy.xhttp_prom")

METRICS_URI = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4"
_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def reply_buffer(core_params: dict[str, Any]) -> int:
    """xhttp_prom_buf_size's default: a third of the private memory (-M, `pkg_mem_size` in MB,
    Kamailio's default 8)."""
    try:
        megabytes = int(core_params.get("pkg_mem_size") or 8)
    except (TypeError, ValueError):
        megabytes = 8
    return megabytes * 1024 * 1024 // 3


def metric_name(prefix: str, key: str) -> str:
    group, _, name = key.partition(":")
    return _BAD.sub("_", f"{prefix}{group}_{name}")


class StatsCollector(Collector):
    def __init__(self, module: XHttpProm) -> None:
        self.module = module

    def collect(self) -> Iterator[Metric]:
        stats = self.module.core.stats
        now = self.module.core.clock.time()
        for key in self.module.selected():
            name = metric_name(self.module.prefix, key)
            family: Metric
            if stats.is_no_reset(key):
                family = GaugeMetricFamily(name, f"Kamailio statistic {key}")
            else:
                family = UnknownMetricFamily(name, f"Kamailio statistic {key}")
            family.add_metric([], stats.value(key), timestamp=now)
            yield family


class XHttpProm(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.xhttp: XhttpAPI = core.api("xhttp")
        self.which = str(params["xhttp_prom_stats"] or "")
        self.prefix = str(params["xhttp_prom_beginning"])
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatsCollector(self))
        self.buf_size = int(params["xhttp_prom_buf_size"] or 0) or reply_buffer(core.core_params)

    def selected(self) -> list[str]:
        stats = self.core.stats
        which = self.which
        if not which:
            return []
        if which == "all":
            return stats.names()
        if which.endswith(":"):
            return [k for k in stats.names() if k.partition(":")[0] == which[:-1]]
        key = stats.find(which)
        return [key] if key is not None else []

    def metrics_text(self) -> bytes:
        return generate_latest(self.registry)

    def prom_check_uri(self, ctx: MessageContext) -> int:
        if not self.xhttp.is_http(ctx):
            return -1
        return 1 if ctx.msg.uri == METRICS_URI else -1

    def prom_dispatch(self, ctx: MessageContext) -> int:
        if not self.xhttp.is_http(ctx):
            log.error("prom_dispatch: not an HTTP request")
            return -1
        text = self.metrics_text()
        if len(text) >= self.buf_size:  # Kamailio's reply buffer: the metrics do not fit
            log.error("Error body buffer overflow: %d (%d)", len(text), self.buf_size)
            reason = "Internal Server Error"
            return self.xhttp.send_reply(ctx, 500, reason, CONTENT_TYPE, reason.encode())
        return self.xhttp.send_reply(ctx, 200, "OK", CONTENT_TYPE, text)
