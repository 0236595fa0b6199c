"""hello: an example kampy module that answers requests with a greeting.

Loaded with `loadmodule "hello.so"` once this distribution is installed (its entry point in the
`kampy.modules` group names it), or from a folder on `loadpath`.
"""
from kampy.api import (Arg, ArgKind, EventRoute, Exports, Function, Need, Offer, Param, RouteType, RpcMethod,
                       SlAPI, Stat, Timer)

from .hello import HelloAPI, HelloModule, check_greeting

EXPORTS = Exports(
    name="hello",
    doc="Answers requests with a greeting, counts them, and says so over RPC.",
    params=(
        Param("greeting", (str,), "Hello", doc="the first word of every greeting",
              validate=check_greeting),
        Param("tick_interval", (int,), 60, doc="seconds between two runs of the `tick` timer (0: off)"),
    ),
    functions=(
        Function(
            "hello",
            handler="say_hello",
            args=(Arg("name", ArgKind.FMT, doc="who to greet; may hold pseudo-variables"),),
            routes=RouteType.REQUEST,
            doc="Runs event_route[hello:greeting] with the request, then replies 200 with the "
                "greeting as reason phrase and in an X-Hello header.",
            returns="1 when the reply was sent, -1 when it could not be or the event route dropped it",
        ),
    ),
    stats=(Stat("greeted", doc="requests answered by hello()"),
           Stat("ticks", doc="runs of the tick timer")),
    rpc=(RpcMethod("hello.greeted", "rpc_greeted", doc="how many requests hello() answered"),),
    timers=(Timer("tick", "tick", interval_param="tick_interval",
                  doc="counts a tick and runs event_route[hello:tick]"),),
    event_routes=(
        EventRoute("hello:greeting", doc="run by hello() with the request; a drop stops the greeting"),
        EventRoute("hello:tick", doc="run by the tick timer with Kamailio's faked message"),
    ),
    offers=(Offer("hello", HelloAPI, doc="the greeting for a name"),),
    needs=(Need("sl", SlAPI, doc="the replies hello() sends"),),
    factory=HelloModule,
)
