"""hello: an example kampy module that answers requests with a greeting.

Loaded with `loadmodule "hello.so"` once this distribution is installed (its entry point in the
`kampy.modules` group names it), or from a folder on `loadpath`.
"""
from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod, Stat, Timer

from .hello import HelloModule, check_greeting

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
            doc="Replies 200 with the greeting as reason phrase and in an X-Hello header.",
            returns="1 when the reply was sent, -1 when it could not be",
        ),
    ),
    stats=(Stat("greeted", doc="requests answered by hello()"),
           Stat("ticks", doc="runs of the tick timer")),
    rpc=(RpcMethod("hello.greeted", "rpc_greeted", doc="how many requests hello() answered"),),
    timers=(Timer("tick", "tick", interval_param="tick_interval", doc="counts and logs a tick"),),
    depends=("sl",),
    factory=HelloModule,
)
