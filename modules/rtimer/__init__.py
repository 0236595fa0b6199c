"""rtimer: route blocks run on a timer, in processes of their own."""
from __future__ import annotations

from kampy.api import Exports, Param, PVClass

from .impl import RtimerModule, check_exec, check_timer, processes

EXPORTS = Exports(
    name="rtimer",
    doc="Runs route blocks on a timer, with Kamailio's faked request as the message: each timer "
        "of mode N > 0 in N processes of its own (each runs every route of the timer), the "
        "timers of mode 0 one after the other in one shared timer process.",
    params=(
        Param("default_interval", (int,), 120,
              doc="the interval, in seconds, of a timer that gives none"),
        Param("timer", (str,), None, multi=True, validate=check_timer,
              doc="a timer: name=NAME;mode=N;interval=SECONDS (or MICROSECONDSu)"),
        Param("exec", (str,), None, multi=True, validate=check_exec,
              doc="a route the timer runs: timer=NAME;route=ROUTE (a timer may run several)"),
    ),
    pvars=(PVClass("rtimer_worker", handler="pv_worker",
                   doc="the index (0..mode-1) of the timer process running the route"),),
    processes=processes,
    factory=RtimerModule,
)
