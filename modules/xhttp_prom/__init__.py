"""Prometheus metrics over xhttp: the statistics on /metrics with Kamailio's names.

Kamailio's user-defined metrics (prom_counter/prom_gauge/prom_histogram parameters, the
prom_*_inc/set/reset/observe functions and xhttp_prom.* RPCs) are not offered yet: use
statistics' update_stat(), which /metrics shows too."""

from __future__ import annotations

from kampy.api import Exports, Function, Need, Param, RouteType, Unimplemented, XhttpAPI

from .impl import XHttpProm


# What Kamailio 5.6's xhttp_prom module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("param", "prom_counter", "not implemented yet", types=(str,)),
    Unimplemented("param", "prom_gauge", "not implemented yet", types=(str,)),
    Unimplemented("param", "prom_histogram", "not implemented yet", types=(str,)),
    Unimplemented("param", "xhttp_prom_timeout", "it expires the label sets of the metrics prom_counter, "
                  "prom_gauge and prom_histogram declare, which kampy does not implement yet", types=(int,)),
    Unimplemented("function", "prom_counter_reset", "not implemented yet"),
    Unimplemented("function", "prom_gauge_reset", "not implemented yet"),
    Unimplemented("function", "prom_counter_inc", "not implemented yet"),
    Unimplemented("function", "prom_gauge_set", "not implemented yet"),
    Unimplemented("function", "prom_histogram_observe", "not implemented yet"),
    Unimplemented("rpc", "xhttp_prom.counter_reset", "not implemented yet"),
    Unimplemented("rpc", "xhttp_prom.counter_inc", "not implemented yet"),
    Unimplemented("rpc", "xhttp_prom.gauge_reset", "not implemented yet"),
    Unimplemented("rpc", "xhttp_prom.gauge_set", "not implemented yet"),
    Unimplemented("rpc", "xhttp_prom.histogram_observe", "not implemented yet"),
    Unimplemented("rpc", "xhttp_prom.metric_list_print", "not implemented yet"),
)


EXPORTS = Exports(
    name="xhttp_prom",
    doc="Prometheus metrics over xhttp.",
    params=(
        Param("xhttp_prom_stats", (str,), ""),
        Param("xhttp_prom_beginning", (str,), "kamailio_"),
        Param("xhttp_prom_buf_size", (int,), 0, doc="bytes the metrics text may have; larger: 500 Internal "
              "Server Error (0: a third of pkg_mem_size)"),
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
    not_implemented=NOT_IMPLEMENTED,
    needs=(Need("xhttp", XhttpAPI, doc="the HTTP requests of /metrics"),),
    factory=XHttpProm,
)
