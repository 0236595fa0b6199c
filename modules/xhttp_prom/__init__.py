"""Prometheus metrics over xhttp."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod

EXPORTS = Exports(
    name="xhttp_prom",
    doc="Prometheus metrics over xhttp.",
    params=(
        Param("xhttp_prom_buf_size", (int,), 0),
        Param("xhttp_prom_stats", (str,), ""),
        Param("xhttp_prom_beginning", (str,), "kamailio_"),
        Param("prom_counter", (str,), None, multi=True),
        Param("prom_gauge", (str,), None, multi=True),
        Param("prom_histogram", (str,), None, multi=True),
        Param("xhttp_prom_timeout", (int,), 60),
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
        Function(
            "prom_counter_reset",
            args=(
                Arg("name", ArgKind.FMT),
                Arg("l0", ArgKind.FMT),
                Arg("l1", ArgKind.FMT),
                Arg("l2", ArgKind.FMT),
            ),
            min_args=1,
            routes=RouteType.ANY,
            doc="Get a counter based on its name and labels and reset its value to 0.",
            returns="",
        ),
        Function(
            "prom_gauge_reset",
            args=(
                Arg("name", ArgKind.FMT),
                Arg("l0", ArgKind.FMT),
                Arg("l1", ArgKind.FMT),
                Arg("l2", ArgKind.FMT),
            ),
            min_args=1,
            routes=RouteType.ANY,
            doc="Get a gauge based on its name and labels and reset its value to 0.",
            returns="",
        ),
        Function(
            "prom_counter_inc",
            args=(
                Arg("name", ArgKind.FMT),
                Arg("number", ArgKind.FMT),
                Arg("l0", ArgKind.FMT),
                Arg("l1", ArgKind.FMT),
                Arg("l2", ArgKind.FMT),
            ),
            min_args=2,
            routes=RouteType.ANY,
            doc="Get a counter identified by its name and labels and increase its value by a...",
            returns="",
        ),
        Function(
            "prom_gauge_set",
            args=(
                Arg("name", ArgKind.FMT),
                Arg("number", ArgKind.FMT),
                Arg("l0", ArgKind.FMT),
                Arg("l1", ArgKind.FMT),
                Arg("l2", ArgKind.FMT),
            ),
            min_args=2,
            routes=RouteType.ANY,
            doc="Get a gauge identified by its name and labels and set its value to a number.",
            returns="",
        ),
        Function(
            "prom_histogram_observe",
            args=(
                Arg("name", ArgKind.FMT),
                Arg("number", ArgKind.FMT),
                Arg("l0", ArgKind.FMT),
                Arg("l1", ArgKind.FMT),
                Arg("l2", ArgKind.FMT),
            ),
            min_args=2,
            routes=RouteType.ANY,
            doc="Get a histogram identified by its name and labels and observe a value in it.",
            returns="",
        ),
    ),
    rpc=(
        RpcMethod("xhttp_prom.counter_reset", "rpc_counter_reset"),
        RpcMethod("xhttp_prom.counter_inc", "rpc_counter_inc"),
        RpcMethod("xhttp_prom.gauge_reset", "rpc_gauge_reset"),
        RpcMethod("xhttp_prom.gauge_set", "rpc_gauge_set"),
        RpcMethod("xhttp_prom.histogram_observe", "rpc_histogram_observe"),
        RpcMethod("xhttp_prom.metric_list_print", "rpc_metric_list_print"),
    ),
    factory=None,
)
