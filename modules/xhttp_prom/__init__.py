"""Prometheus metrics over xhttp: the statistics and the config's own counters, gauges and
histograms on /metrics, with Kamailio 5.6's names and text."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Param, RouteType, RpcMethod, XhttpAPI

from .impl import XHttpProm
from .metrics import COUNTER, GAUGE, HISTOGRAM, check_spec

NAME = Arg("name", ArgKind.FMT, doc="the metric's name (as declared, without xhttp_prom_beginning)")
LABELS = (Arg("l1", ArgKind.FMT, doc="value of the first label"),
          Arg("l2", ArgKind.FMT, doc="value of the second label"),
          Arg("l3", ArgKind.FMT, doc="value of the third label"))
SPEC_DOC = ("`name=NAME; label=L1:L2:L3` (label optional, names separated by `:`){}; may be set "
            "several times, one metric each")


def metric_function(name: str, doc: str, number: Arg | None = None) -> Function:
    args = (NAME, number, *LABELS) if number is not None else (NAME, *LABELS)
    return Function(name, args=args, min_args=len(args) - 3, routes=RouteType.ANY, doc=doc,
                    returns="1 on success, -1 when the metric, its type or its number of labels is not "
                            "the declared one, or an argument is empty")


EXPORTS = Exports(
    name="xhttp_prom",
    doc="Prometheus metrics over xhttp.",
    params=(
        Param("xhttp_prom_stats", (str,), "", doc="which statistics /metrics shows: `all`, a group "
              "`group:`, one statistic's name, or empty for none"),
        Param("xhttp_prom_beginning", (str,), "kamailio_", doc="prefix of every metric's name"),
        Param("xhttp_prom_buf_size", (int,), 0, doc="bytes the metrics text may have; larger: 500 Internal "
              "Server Error (0: a third of pkg_mem_size)"),
        Param("prom_counter", (str,), None, multi=True, validate=check_spec(COUNTER),
              doc="declares a counter: " + SPEC_DOC.format("")),
        Param("prom_gauge", (str,), None, multi=True, validate=check_spec(GAUGE),
              doc="declares a gauge: " + SPEC_DOC.format("")),
        Param("prom_histogram", (str,), None, multi=True, validate=check_spec(HISTOGRAM),
              doc="declares a histogram: " + SPEC_DOC.format(
                  "; `buckets=B1:B2:...` its increasing upper bounds (default "
                  "0.005:0.01:0.025:0.05:0.1:0.25:0.5:1:2.5:5:10)")),
        Param("xhttp_prom_timeout", (int,), 60, doc="minutes after which a label set not updated is "
              "deleted (checked on each update; 0: never)"),
    ),
    functions=(
        Function("prom_check_uri", routes=RouteType.REQUEST | RouteType.EVENT,
                 doc="Check if path of HTTP URL equals /metrics.", returns="1 when it does, -1 otherwise"),
        Function("prom_dispatch", routes=RouteType.REQUEST | RouteType.EVENT,
                 doc="Handle the HTTP request and generate a response.",
                 returns="0 (the script ends) once it answered, 1 for a SIP message (nothing done)"),
        metric_function("prom_counter_reset", "Set a counter (with these label values) to zero."),
        metric_function("prom_gauge_reset", "Set a gauge (with these label values) to zero."),
        metric_function("prom_counter_inc", "Add a number (zero or more) to a counter.",
                        Arg("number", ArgKind.INT, doc="what to add; a negative number is refused")),
        metric_function("prom_gauge_set", "Set a gauge to a number.",
                        Arg("number", ArgKind.FMT, doc="the value, a decimal number (read as C's atof)")),
        metric_function("prom_histogram_observe", "Observe a number in a histogram.",
                        Arg("number", ArgKind.FMT, doc="the value, a decimal number (read as C's atof)")),
    ),
    rpc=(
        RpcMethod("xhttp_prom.counter_reset", "rpc_counter_reset",
                  doc="Reset a counter based on its identifier"),
        RpcMethod("xhttp_prom.counter_inc", "rpc_counter_inc",
                  doc="Add a number (greater or equal to zero) to a counter based on its identifier"),
        RpcMethod("xhttp_prom.gauge_reset", "rpc_gauge_reset", doc="Reset a gauge based on its identifier"),
        RpcMethod("xhttp_prom.gauge_set", "rpc_gauge_set",
                  doc="Set a gauge to a number based on its identifier"),
        RpcMethod("xhttp_prom.histogram_observe", "rpc_histogram_observe",
                  doc="Observe a number in a histogram"),
        RpcMethod("xhttp_prom.metric_list_print", "rpc_metric_list_print",
                  doc="Print a list showing all user defined metrics"),
    ),
    needs=(Need("xhttp", XhttpAPI, doc="the HTTP requests of /metrics"),),
    factory=XHttpProm,
)
