"""The async module.

kampy suspends a request as Kamailio's t_suspend() does: its transaction is made if there is none,
the script stops, and the message context is kept with the transaction in the worker that owns
it (retransmissions are absorbed there). The processing resumes in that worker: after the delay
(async_route, async_sleep) from a one-shot timer, or at once (async_task_route, async_task_data)
once the current message is done, which is where kampy runs the core's asynchronous tasks."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import (L_ERR, CoreAPI, MessageContext, Module, PVar, RouteType, ScriptDrop, ScriptExit,
                       TmAPI, log_at, module_logger)

log = module_logger("async")
MAX_SECONDS = 100  # ASYNC_RING_SIZE
MAX_MS = 30 * 1000
MAX_MS_QUEUE = 10000
DEFAULT_GROUP = "default"
DATA_KEY = "async.data"
GROUP_KEY = "async.gname"


def task_groups(core_params: dict[str, Any]) -> list[str]:
    """The groups of asynchronous workers the core has: "default" with async_workers > 0, then
    each `async_workers_group` (name=...;workers=N;...) with workers > 0, in config order."""
    groups = []
    try:
        if int(core_params.get("async_workers") or 0) > 0:
            groups.append(DEFAULT_GROUP)
    except (TypeError, ValueError):
        pass
    specs = core_params.get("async_workers_group") or []
    for spec in specs if isinstance(specs, list | tuple) else [specs]:
        fields = dict(p.partition("=")[::2] for p in str(spec).split(";") if p.strip())
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        try:
            workers = int(fields.get("workers", "0"))
        except ValueError:
            workers = 0
        if fields.get("name") and workers > 0:
            groups.append(fields["name"])
    return groups


class _Async:
    def __init__(self, key: str) -> None:
        self.key = key

    def get(self, ctx: MessageContext) -> str | None:
        value = ctx.local.get(self.key)
        return value if isinstance(value, str) else None


class AsyncModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmAPI = core.api("tm")
        self.workers: int = params["workers"]
        self.ms_timer: int = params["ms_timer"]
        self.ret: int = params["return"]
        self.groups = task_groups(core.core_params)
        self.ms_queued = 0

    # ------------------------------------------------------------ suspending and resuming

    def _suspend(self, ctx: MessageContext) -> bool:
        """t_suspend(): the request's transaction, made when there is none."""
        if self.tm.has_transaction(ctx):
            return True
        if self.tm.t_newtran(ctx) < 0 or not self.tm.has_transaction(ctx):
            log_at(log, L_ERR, "cannot create the transaction")
            return False
        return True

    def _resume(self, ctx: MessageContext, run: Callable[[MessageContext], Any]) -> None:
        """t_continue(): run the rest of the processing with the suspended message."""
        try:
            run(ctx)
        except (ScriptExit, ScriptDrop):
            pass
        except Exception as exc:  # a failing function ends the resumed processing, as a route's end
            log_at(log, L_ERR, "resumed processing failed: %s", exc)
        finally:
            for out in ctx.outbox:
                self.core.send(out)
            ctx.outbox.clear()

    def _later(self, delay: float, ctx: MessageContext, run: Callable[[MessageContext], Any]) -> None:
        self.core.call_at(self.core.clock.monotonic() + delay, lambda: self._resume(ctx, run))

    def _route(self, name: str) -> Callable[[MessageContext], Any] | None:
        if not self.core.has_route("route", name):
            log_at(log, L_ERR, "route block not found: %s", name)
            return None
        return lambda ctx: self.core.run_route("route", name, ctx)

    def _suspend_for(self, ctx: MessageContext, delay: float,
                     run: Callable[[MessageContext], Any]) -> int:
        if not self._suspend(ctx):
            return -1
        self._later(delay, ctx, run)
        return self.ret

    # ------------------------------------------------------------ timed

    def _seconds_ok(self, seconds: int) -> bool:
        if self.workers <= 0:
            log_at(log, L_ERR, "no async mod timer workers (modparam missing?)")
            return False
        if seconds <= 0:
            log_at(log, L_ERR, "negative or zero sleep time (%d)", seconds)
            return False
        if seconds >= MAX_SECONDS:
            log_at(log, L_ERR, "max sleep time is %d sec (%d)", MAX_SECONDS, seconds)
            return False
        return True

    def _ms_delay(self, ms: int) -> float | None:
        if self.workers <= 0:
            log_at(log, L_ERR, "no async mod timer workers (modparam missing?)")
            return None
        if self.ms_timer <= 0:
            log_at(log, L_ERR, "async timer list not initialized - check modparams")
            return None
        if ms <= 0:
            log_at(log, L_ERR, "negative or zero sleep time (%d)", ms)
            return None
        if ms > MAX_MS:
            log_at(log, L_ERR, "max sleep time is %d msec", MAX_MS)
            return None
        if self.ms_queued >= MAX_MS_QUEUE:
            log_at(log, L_ERR, "max sleep queue length exceeded (%d)", MAX_MS_QUEUE)
            return None
        ticks = -(-ms // self.ms_timer)  # the timer runs every ms_timer milliseconds
        return ticks * self.ms_timer / 1000.0

    def _counted(self, run: Callable[[MessageContext], Any]) -> Callable[[MessageContext], Any]:
        self.ms_queued += 1

        def counted(ctx: MessageContext) -> Any:
            self.ms_queued -= 1
            return run(ctx)
        return counted

    def async_route(self, ctx: MessageContext, routename: str, seconds: int) -> int:
        run = self._route(routename)
        if run is None or not self._seconds_ok(seconds):
            return -1
        return self._suspend_for(ctx, seconds, run)

    def async_ms_route(self, ctx: MessageContext, routename: str, milliseconds: int) -> int:
        run = self._route(routename)
        delay = self._ms_delay(milliseconds) if run is not None else None
        if run is None or delay is None:
            return -1
        return self._suspend_for(ctx, delay, self._counted(run))

    def async_sleep(self, ctx: MessageContext, seconds: int) -> int:
        rest = ctx.continuation
        if rest is None:
            log_at(log, L_ERR, "cannot be executed as last action in a route block")
            return -1
        if not self._seconds_ok(seconds):
            return -1
        return self._suspend_for(ctx, seconds, rest)

    def async_ms_sleep(self, ctx: MessageContext, milliseconds: int) -> int:
        rest = ctx.continuation
        if rest is None:
            log_at(log, L_ERR, "cannot be executed as last action in a route block")
            return -1
        delay = self._ms_delay(milliseconds)
        if delay is None:
            return -1
        return self._suspend_for(ctx, delay, self._counted(rest))

    # ------------------------------------------------------------ asynchronous tasks

    def _group(self, name: str | None) -> str | None:
        if name is None:
            if not self.groups:
                log_at(log, L_ERR, "async task push failed: no async workers (core async_workers)")
                return None
            return self.groups[0]
        if name not in self.groups:
            log_at(log, L_ERR, "failed to push the async task to group [%s]", name)
            return None
        return name

    def _task_route(self, ctx: MessageContext, routename: str, group: str | None) -> int:
        run = self._route(routename)
        gname = self._group(group)
        if run is None or gname is None:
            return -1

        def in_group(c: MessageContext) -> Any:
            c.local[GROUP_KEY] = gname
            try:
                return run(c)
            finally:
                c.local.pop(GROUP_KEY, None)
        return self._suspend_for(ctx, 0, in_group)

    def async_task_route(self, ctx: MessageContext, routename: str) -> int:
        return self._task_route(ctx, routename, None)

    def async_task_group_route(self, ctx: MessageContext, routename: str, groupname: str) -> int:
        return self._task_route(ctx, routename, groupname)

    def _task_data(self, routename: str, group: str | None, data: str) -> int:
        run = self._route(routename)
        gname = self._group(group)
        if run is None or gname is None:
            return -1
        task = self.core.faked_context()
        task.route_type = RouteType.REQUEST
        task.local[DATA_KEY] = data
        task.local[GROUP_KEY] = gname
        self._later(0, task, run)
        return 1

    def async_task_data(self, ctx: MessageContext, routename: str, data: str) -> int:
        return self._task_data(routename, None, data)

    def async_task_group_data(self, ctx: MessageContext, routename: str, groupname: str, data: str) -> int:
        return self._task_data(routename, groupname, data)

    # ------------------------------------------------------------ $async

    def pv_async(self, spec: PVar) -> _Async:
        name = (spec.arg or "").strip()
        if name == "data":
            return _Async(DATA_KEY)
        if name == "gname":
            return _Async(GROUP_KEY)
        raise ValueError(f"unknown PV async name {name}")
