"""The rtimer module: timers declared by `timer` parameters, each running the routes its `exec`
parameters name. A timer of mode N > 0 runs in N processes of its own (Kamailio forks them with
fork_basic_timer() in child_init(PROC_MAIN)); the timers of mode 0 run in one shared process,
as they do in Kamailio's timer process. kampy forks these processes from the declaration
`Exports.processes`: `processes(params)` says which, from the parameters alone."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kampy.api import (L_DBG, L_ERR, L_INFO, L_WARN, CoreAPI, MessageContext, Module, Process, RouteType,
                       ScriptDrop, ScriptExit, log_at, module_logger)

log = module_logger("rtimer")

MAIN_TICK = 1.0  # seconds: the shared timer process looks at its timers every second


class TimerSpecError(ValueError):
    pass


@dataclass
class TimerSpec:
    name: str
    mode: int = 0
    interval: int = 0
    usec: bool = False
    routes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.interval / 1_000_000 if self.usec else float(self.interval)


def _fields(text: str) -> list[tuple[str, str]]:
    """`name=value;...` as Kamailio's parse_params() reads it (a trailing `;` is dropped; names
    without regard to case; a value may be quoted)."""
    text = text.strip()
    if text.endswith(";"):
        text = text[:-1]
    found = []
    for part in text.split(";"):
        name, _, value = part.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        found.append((name.strip().lower(), value))
    return found


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise TimerSpecError(f"invalid {what}: {text}")
    return int(text)


def parse_timer(text: str, default_interval: int = 120) -> TimerSpec:
    """A `timer` value, as Kamailio's stm_t_param() reads it: a `u` after the interval makes it
    microseconds and the mode at least 1; a mode given after that is ignored, as there."""
    name = None
    mode = interval = 0
    usec = False
    for key, value in _fields(text):
        if key == "name":
            name = value
        elif key == "mode":
            if mode == 0:
                mode = _number(value, "mode")
        elif key == "interval":
            if value[-1:] in ("u", "U"):
                value = value[:-1]
                usec = True
                mode = mode or 1
            interval = _number(value, "interval")
    if not name:
        raise TimerSpecError("invalid timer name")
    return TimerSpec(name, mode, interval or default_interval, usec)


def parse_exec(text: str) -> tuple[str, str]:
    """An `exec` value: (timer, route)."""
    timer = route = None
    for key, value in _fields(text):
        if key == "timer":
            timer = value
        elif key == "route":
            route = value
    if not timer:
        raise TimerSpecError("invalid timer name")
    if not route:
        raise TimerSpecError("invalid route: ")
    return timer, route


def check_timer(value: Any) -> None:
    for text in value if isinstance(value, list | tuple) else [value]:
        parse_timer(str(text))


def check_exec(value: Any) -> None:
    for text in value if isinstance(value, list | tuple) else [value]:
        parse_exec(str(text))


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def timers(params: dict[str, Any]) -> list[TimerSpec]:
    """The timers, in the order Kamailio keeps them (the last declared first), with their routes
    (also the last declared first); raises TimerSpecError as Kamailio refuses the parameters."""
    found: list[TimerSpec] = []
    for text in _values(params.get("timer")):
        spec = parse_timer(text, params.get("default_interval") or 120)
        if any(t.name.lower() == spec.name.lower() for t in found):
            raise TimerSpecError(f"duplicate timer with same name: {spec.name}")
        found.insert(0, spec)
    for text in _values(params.get("exec")):
        timer, route = parse_exec(text)
        owner = next((t for t in found if t.name.lower() == timer.lower()), None)
        if owner is None:
            raise TimerSpecError(f"timer not found - name: {timer}")
        owner.routes.insert(0, route)
    return found


def processes(params: dict[str, Any]) -> list[Process]:
    """The processes rtimer runs: `mode` of them for each timer of mode > 0, and one shared by the
    timers of mode 0 (none when the parameters are wrong: the module then refuses to load)."""
    try:
        specs = timers(params)
    except TimerSpecError:
        return []
    found = [Process(f"RTIMER EXEC child={i} timer={spec.name}", "run_timer", spec.seconds, (spec.name, i))
             for spec in specs for i in range(spec.mode)]
    if any(spec.mode == 0 for spec in specs):
        found.append(Process("rtimer timer (mode 0 timers)", "tick", MAIN_TICK))
    return found


class WorkerIndex:
    """$rtimer_worker: the index of the timer process running the route (0 elsewhere)."""

    def __init__(self, module: RtimerModule) -> None:
        self.module = module

    def get(self, ctx: MessageContext) -> int:
        return self.module.worker


class RtimerModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        try:
            specs = timers(params)
        except TimerSpecError as exc:
            raise ValueError(str(exc)) from None
        for spec in specs:
            log_at(log, L_INFO, "created rtimer name=%s interval=%d mode=%d", spec.name, spec.interval,
                   spec.mode)
            for route in spec.routes:
                if not core.has_route("route", route):  # Kamailio runs an empty route then
                    log_at(log, L_WARN, "timer %s runs route[%s], which the config does not have: "
                           "it does nothing", spec.name, route)
        self.timers = {spec.name: spec for spec in specs}
        self.worker = 0
        # the mode 0 timers: when each is due next, on the monotonic clock
        now = core.clock.monotonic()
        self.due = {spec.name: now + spec.seconds for spec in specs if spec.mode == 0}

    def pv_worker(self, spec: Any) -> WorkerIndex:
        return WorkerIndex(self)

    def run_timer(self, name: str, worker: int) -> None:
        """One run of timer `name` in its process `worker` (Kamailio's stm_timer_exec)."""
        self.worker = worker
        for route in self.timers[name].routes:
            self._run(route)

    def tick(self) -> None:
        """The shared timer process: run each mode 0 timer that is due."""
        now = self.core.clock.monotonic()
        for name, due in self.due.items():
            if due <= now:
                spec = self.timers[name]
                self.due[name] = max(due + spec.seconds, now)
                self.run_timer(name, 0)

    def _run(self, route: str) -> None:
        """The route with a new faked request, as a request route."""
        ctx = self.core.faked_context()
        ctx.route_type = RouteType.REQUEST
        try:
            self.core.run_route("route", route, ctx)
        except (ScriptExit, ScriptDrop):
            pass
        except Exception:  # a bug in a function: logged, the timer goes on
            log_at(log, L_ERR, "error running route[%s] on timer", route)
            log.exception("route[%s]", route)
        for out in ctx.outbox:
            self.core.send(out)
        log_at(log, L_DBG, "rtimer ran route[%s]", route)
