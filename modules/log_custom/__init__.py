"""log_custom: the core's log lines, and log_udp() texts, sent over UDP to log_engine_data."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, RouteType

from .impl import LogCustomModule, preload

EXPORTS = Exports(
    name="log_custom",
    doc="Logging to custom systems: with the core parameters log_engine_type=\"udp\" and "
        "log_engine_data=\"address:port\", every log line of a process goes to that UDP target "
        "instead of syslog once the modules are initialized (not when logging to stderr).",
    functions=(
        Function(
            "log_udp",
            args=(Arg("text", ArgKind.FMT, doc="the text to send; may hold pseudo-variables"),),
            routes=RouteType.ANY,
            doc="Send the text to the address in the core parameter log_engine_data.",
            returns="1 when sent (or when no UDP log engine is set: nothing to do), -1 when the "
                    "text could not be sent",
        ),
    ),
    factory=LogCustomModule,
    preload=preload,
)
