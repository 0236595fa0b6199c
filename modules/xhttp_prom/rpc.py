"""xhttp_prom's RPC methods: the user-defined metrics changed and printed over RPC, with
Kamailio 5.6's faults (xhttp_prom.c, rpc_prom_*)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import RpcFault

from .metrics import MetricError

if TYPE_CHECKING:
    from .metrics import MetricStore

log = logging.getLogger("kampy.xhttp_prom")


def scan_name(params: tuple[Any, ...], what: str) -> str:
    if not params or not isinstance(params[0], str):
        raise RpcFault(400, f"required {what} identifier")
    if not params[0]:
        raise RpcFault(400, f"invalid {what} identifier")
    return params[0]


def scan_int(params: tuple[Any, ...]) -> int:
    """`d`: an integer, or the FIFO's text of one."""
    value = params[1] if len(params) > 1 else None
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            value = None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RpcFault(400, "required number argument")
    return value


def scan_float(params: tuple[Any, ...]) -> float:
    """`f`: a double (binrpc refuses an integer here, as kamcmd sends `11`), or the FIFO's text."""
    value = params[1] if len(params) > 1 else None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, float):
        raise RpcFault(400, "required number argument")
    return float(value)


def scan_labels(params: tuple[Any, ...]) -> list[str]:
    """`*SSS`: up to three optional labels; the scan stops at one that is not a string."""
    labels = []
    for value in params[:3]:
        if not isinstance(value, str):
            break
        labels.append(value)
    return labels


def described(name: str, labels: list[str]) -> str:
    return f"{name} ({', '.join(labels)})" if labels else name


class PromRpc:
    """The RPC handlers of XHttpProm (mixed into the module)."""

    store: MetricStore
    prefix: str

    def rpc_fail(self, action: Any, text: str) -> None:
        try:
            action()
        except MetricError as exc:
            log.error("%s", exc)
            raise RpcFault(500, text) from None

    def rpc_counter_reset(self, *params: Any) -> None:
        name = scan_name(params, "counter")
        labels = scan_labels(params[1:])
        self.rpc_fail(lambda: self.store.counter_reset(name, labels),
                      f"Failed to reset counter: {described(name, labels)}")

    def rpc_counter_inc(self, *params: Any) -> None:
        name = scan_name(params, "counter")
        number = scan_int(params)
        if number < 0:
            log.error("invalid negative number parameter")
            return  # Kamailio answers without a fault
        labels = scan_labels(params[2:])
        self.rpc_fail(lambda: self.store.counter_inc(name, number, labels),
                      f"Failed to add {number} to counter: {described(name, labels)}")

    def rpc_gauge_reset(self, *params: Any) -> None:
        name = scan_name(params, "gauge")
        labels = scan_labels(params[1:])
        self.rpc_fail(lambda: self.store.gauge_reset(name, labels),
                      f"Failed to reset gauge: {described(name, labels)}")

    def rpc_gauge_set(self, *params: Any) -> None:
        name = scan_name(params, "gauge")
        number = scan_float(params)
        labels = scan_labels(params[2:])
        # Kamailio's own words: "assign %f gauge" without labels, "assign %f to gauge" with
        verb = f"assign {number:f} to gauge" if labels else f"assign {number:f} gauge"
        self.rpc_fail(lambda: self.store.gauge_set(name, number, labels),
                      f"Failed to {verb}: {described(name, labels)}")

    def rpc_histogram_observe(self, *params: Any) -> None:
        name = scan_name(params, "histogram")
        number = scan_float(params)
        labels = scan_labels(params[2:])
        self.rpc_fail(lambda: self.store.histogram_observe(name, number, labels),
                      f"Failed to observe {number:f} in histogram: {described(name, labels)}")

    def rpc_metric_list_print(self, *_params: Any) -> str:
        # Kamailio passes the text to rpc->rpl_printf() as the format: `%%` comes out as `%`
        return self.store.text(self.prefix).replace("%%", "%")
