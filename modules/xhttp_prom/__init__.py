"""Prometheus metrics over xhttp: the statistics on /metrics with Kamailio's names.

Kamailio's user-defined metrics (prom_counter/prom_gauge/prom_histogram parameters, the
prom_*_inc/set/reset/observe functions and xhttp_prom.* RPCs) are not offered yet: use
statistics' update_stat(), which /metrics shows too."""

from __future__ import annotations

from kampy.api import Exports, Function, Param, RouteType

from .impl import XHttpProm

EXPORTS = Exports(
    name="xhttp_prom",
    doc="Prometheus metrics over xhttp.",
    params=(
        Param("xhttp_prom_stats", (str,), ""),
        Param("xhttp_prom_beginning", (str,), "kamailio_"),
    ),
    functions=(
        Function(
            "prom_check_uri",
            routes=RouteType.REQUEST | RouteType.EVENT,
            doc="Check if path of HTTP URL equals /metrics.",
            returns="",
        ),
        Function(
            "prom_dispatch",
            routes=RouteType.REQUEST | RouteType.EVENT,
            doc="Handle the HTTP request and generate a response.",
            returns="",
        ),
    ),
    factory=XHttpProm,
)
