"""The route engine: a CompiledConfig turned into closures, once, at load time.

Every statement becomes `fn(ctx) -> int` (its return code, as Kamailio's do_action gives it) and every
expression `fn(ctx) -> int | str | None`. Module functions are bound to their handler methods with
their arguments prepared per ArgKind; pseudo-variables and transformations are resolved to accessors.
Control flow follows src/core/action.c: `exit`/`drop` and a 0 return code raise ScriptExit/ScriptDrop
(they end the whole script), `return` and `break` are internal exceptions caught by the route call /
the enclosing loop, switch or bare block.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kampy.config import ast
from kampy.config.compile import CompiledConfig
from kampy.config.pvparse import Literal, PVSyntaxError, parse_format
from kampy.errors import ConfigError, Diagnostic
from kampy.module import (
    ROUTE_KIND_NAMES,
    Process,
    PVClass,
    RouteType,
    Timer,
    TransformClass,
    route_type_of,
)
from kampy.runtime import avpflags
from kampy.runtime.context import MessageContext, ScriptDrop, ScriptExit
from kampy.runtime.core import Core
from kampy.runtime.calls import Calls
from kampy.runtime.flow import Break, Fn, LoadError, ModuleFailure, Return, one
from kampy.runtime.statements import Statements
from kampy.runtime.cfgcore import declare_all, memlog_level
from kampy.runtime.memstatus import log_shared_memory
from kampy.runtime.modules import build_modules
from kampy.runtime.selectcore import core_table
from kampy.runtime.selects import SelectError, SelectTable, parse_select, value_of
from kampy.runtime.pvs import Constant, Transformed, core_pv
from kampy.runtime.values import format_value, to_int

log = logging.getLogger("kampy.runtime")

# (ctx, route label such as "failure_route[1]", function name or "" on entering the route, code)
Tracer = Callable[[MessageContext, str, str, "int | None"], None]


def module_processes(compiled: CompiledConfig) -> list[tuple[str, Process]]:
    """(module, process) for every process of its own a loaded module runs (`Exports.processes`
    of its parameters), in loadmodule order: the same in every process of the server."""
    found: list[tuple[str, Process]] = []
    for name, mod in compiled.modules.items():
        if mod.exports.processes is not None:
            found.extend((name, process) for process in mod.exports.processes(dict(mod.params)))
    return found


def preload_modules(compiled: CompiledConfig) -> None:
    """Every loaded module's `Exports.preload`, in loadmodule order."""
    for mod in compiled.modules.values():
        if mod.exports.preload is not None:
            mod.exports.preload(dict(mod.params))


class Engine(Statements, Calls):
    """Executable routes of one config, bound to the module instances of one process."""

    def __init__(self, compiled: CompiledConfig, core: Core, tracer: Tracer | None = None) -> None:
        """Build the modules into `core` and the routes; `tracer(ctx, route, function, code)` is told
        of every route entered (function "") and every function's return code (the testing plugin):
        closures that report to it are built only when it is set."""
        self.compiled = compiled
        self.core = core
        self.errors: list[Diagnostic] = []
        self.defines: dict[str, str | None] = dict(getattr(compiled, "defines", None) or {})
        self.flag_names = self._flag_names(compiled.ast)
        self.avp_flag_names = avpflags.declared_names(compiled.ast)
        self._pv_cache: dict[ast.PVar, Any] = {}
        self.selects: SelectTable | None = None
        self._building: tuple[str, str | None] | None = None  # the route block being built
        self.pv_owners: dict[str, tuple[str, PVClass]] = {}
        self.tr_owners: dict[str, tuple[str, TransformClass]] = {}
        self.timers: list[tuple[Timer, float, Callable[[], Any]]] = []
        # the processes of their own the modules run (Exports.processes), in order, with their jobs
        self.process_jobs: list[tuple[Process, Callable[[], Any]]] = []
        self._owners()
        core.attach_routes(self)
        self.errors.extend(build_modules(compiled, core))
        self._declare_cfg()
        self.selects = self._select_table()
        self._module_timers()
        self._module_processes()
        self.routes: dict[tuple[str, str | None], Fn] = {}
        self.tracer = tracer
        # what modules asked to be told around each action (core.trace_actions), fixed once built
        self._before = tuple(before for before, _ in core.action_hooks)
        self._after = tuple(after for _, after in core.action_hooks if after is not None)
        self._route_label = ""
        self._route_key: tuple[str, str | None] = ("request", None)
        for key, route in compiled.routes.items():
            self._route_label = route_label(key)
            self._route_key = key
            self._building = key
            body = self._safe(lambda r=route: self.block(r.body.stmts, route_type_of(
                r.kind, r.name)), route.pos)
            self.routes[key] = body if self.tracer is None else self._traced_route(body)
        self._building = None
        if self.errors:
            raise ConfigError(self.errors)

    # ------------------------------------------------------------ setup

    @staticmethod
    def _flag_names(config: ast.Config) -> dict[str, int]:
        names: dict[str, int] = {}
        for item in config.items:
            if isinstance(item, ast.FlagDecl) and not item.avp:
                for name, number in item.names:
                    names[name] = number if number is not None else len(names)
        return names

    def _safe(self, build: Callable[[], Fn], pos: ast.Pos) -> Fn:
        try:
            return build()
        except LoadError as exc:
            self.errors.append(Diagnostic(exc.pos, exc.message))
        except ConfigError as exc:
            self.errors.extend(exc.diagnostics)
        return one

    def _owners(self) -> None:
        """Which loaded module provides each PV and transformation class (the first, in loadmodule
        order); its instance is looked up when a spec is resolved (it may be built later)."""
        for name, mod in self.compiled.modules.items():
            for pv in mod.exports.pvars:
                self.pv_owners.setdefault(pv.name, (name, pv))
            for tc in mod.exports.transforms:
                self.tr_owners.setdefault(tc.name, (name, tc))

    def _declare_cfg(self) -> None:
        """The cfg framework's groups: the config's, the core's and the loaded modules'."""
        store = self.core

        def dump_shm(value: Any) -> Any:
            if value:
                log_shared_memory(store.shared, memlog_level(store.cfg))
            return value
        try:
            compiled = self.compiled
            declare_all(self.core.cfg, compiled.ast, compiled.core_params, compiled.modules,
                        self.core.modules, {"fixup:mem_dump_shm": dump_shm})
        except ConfigError as exc:
            self.errors.extend(exc.diagnostics)

    def _select_table(self) -> SelectTable:
        """The core's selects, then those the loaded modules add (Exports.selects)."""
        table = core_table(self.core, self.core.cfg)
        for name, mod in self.compiled.modules.items():
            instance = self.core.modules.get(name)
            for decl in mod.exports.selects:
                if instance is not None:
                    table.add(decl.name, getattr(instance, decl.handler))
        return table

    def select(self, e: ast.Select) -> Fn:
        """An `@...` select as `fn(ctx) -> str | None`."""
        try:
            path, end = parse_select(e.text)
            if end != len(e.text):
                raise SelectError(f"invalid select '{e.text}'")
            return self.selects.resolve(path)
        except (ValueError, LookupError) as exc:  # SelectError, or a module's handler refusing it
            raise LoadError(e.pos, f"bad select {e.text}: {exc}") from None

    def resolve_select(self, text: str) -> Fn:
        """`CoreAPI.select`: a select named as `$sel()` names it; a problem is a LookupError."""
        if getattr(self, "selects", None) is None:
            raise LookupError("selects are known once the modules are built")
        try:
            get = self.selects.resolve_text(text)
        except (ValueError, LookupError) as exc:  # SelectError, or a module's handler refusing it
            raise LookupError(f"invalid select name [{text}]: {exc}") from None
        return lambda ctx: value_of(get(ctx))

    def _module_timers(self) -> None:
        for name, instance in self.core.modules.items():
            mod = self.compiled.modules[name]
            for timer in mod.exports.timers:
                interval = timer.interval
                if timer.interval_param is not None:
                    interval = mod.params.get(timer.interval_param, interval)
                if interval and to_int(interval) > 0 or (isinstance(interval, float) and interval > 0):
                    self.timers.append((timer, float(interval), getattr(instance, timer.handler)))

    def _module_processes(self) -> None:
        for name, process in module_processes(self.compiled):
            handler = getattr(self.core.modules.get(name), process.handler, None)
            if handler is None:
                self.errors.append(Diagnostic(self.compiled.modules[name].pos,
                                              f"module '{name}' has no method '{process.handler}' "
                                              f"for its process '{process.description}'"))
                continue
            self.process_jobs.append((process, lambda fn=handler, args=process.args: fn(*args)))

    # ------------------------------------------------------------ running

    def run_route(self, kind: str, name: str | None, ctx: MessageContext) -> int:
        """Run a route block; returns its return code. ScriptExit/ScriptDrop propagate to the caller."""
        body = self.routes.get((kind, name))
        if body is None:
            return 1
        try:
            ret = body(ctx)
        except Return as r:
            ret = r.value
        except Break:
            ret = ctx.retcode
        ctx.retcode = ret
        return ret

    def has_route(self, kind: str, name: str | None) -> bool:
        return (kind, name) in self.compiled.routes  # known while the modules are built too

    def building_route(self) -> str | None:
        """Kamailio's route name of the block being built: its name, DEFAULT_ROUTE when unnamed."""
        key = self._building
        if key is None:
            return None
        return key[1] if key[1] is not None else "DEFAULT_ROUTE"

    def resolve_pv(self, spec: ast.PVar) -> Any:
        """`pv_accessor` for a module (`CoreAPI.pv_accessor`): a problem is a LookupError."""
        try:
            return self.pv_accessor(spec)
        except LoadError as exc:
            raise LookupError(exc.message) from None

    def pvars(self) -> list[ast.PVar]:
        """Every pseudo-variable resolved so far (Kamailio's pv cache), in the order first met."""
        return list(self._pv_cache)

    def resolve_format(self, text: str) -> Fn:
        """`format_text` for a module (`CoreAPI.formatter`): a problem is a LookupError."""
        try:
            return self.format_text(text)
        except LoadError as exc:
            raise LookupError(exc.message) from None

    def run_event_route(self, name: str, ctx: MessageContext,
                        route_type: RouteType = RouteType.EVENT) -> bool:
        """Run event_route[name] as an event: `exit` and `drop` end it, a module function's failure
        is logged. False when it ended with `drop`. `route_type` is what the route's functions see
        (core:worker-one-init runs as a request route, as in Kamailio)."""
        saved, ctx.route_type = ctx.route_type, route_type
        try:
            self.run_route("event", name, ctx)
        except ScriptExit:
            pass
        except ScriptDrop:
            return False
        except ModuleFailure as failure:
            log.error("event_route[%s]: %s", name, failure)
        finally:
            ctx.route_type = saved
        return True

    # ------------------------------------------------------------ formats and PVs

    def format_text(self, text: str, pos: ast.Pos = ast.NOWHERE) -> Fn:
        """A format string (`"From $fu to $ru"`) as `fn(ctx) -> str`; a static one is a constant
        (its function has a `constant` attribute)."""
        try:
            parts = parse_format(text, pos)
        except PVSyntaxError as exc:
            raise LoadError(pos, f"bad pseudo-variable in \"{text}\": {exc}") from None
        if not parts:
            parts = (Literal(""),)
        if all(isinstance(p, Literal) for p in parts):
            const = "".join(p.text for p in parts)  # type: ignore[union-attr]
            return _const_fn(const)
        getters = tuple(_literal_getter(p.text) if isinstance(p, Literal) else self.pv_accessor(p).get
                        for p in parts)
        if len(getters) == 1:
            only = getters[0]
            return lambda ctx: format_value(only(ctx))
        return lambda ctx: "".join([format_value(g(ctx)) for g in getters])

    def pv_accessor(self, spec: ast.PVar) -> Any:
        """The accessor for a PV spec (with its transformations chained), built once per spec."""
        cached = self._pv_cache.get(spec)
        if cached is not None:
            return cached
        base = self._base_pv(spec)
        if spec.transforms:
            base = Transformed(base, [self._transform(tr) for tr in spec.transforms])
        self._pv_cache[spec] = base
        return base

    def _base_pv(self, spec: ast.PVar) -> Any:
        if spec.cls == "null":
            return Constant(None)
        owner = self.pv_owners.get(spec.cls)
        if owner is None:
            accessor = core_pv(spec, self.defines)
            if accessor is not None:
                return accessor
            self._refuse_unimplemented(spec.pos, "pvar", spec.cls)
            raise LoadError(spec.pos, f"unknown pseudo-variable '${spec.cls}'")
        module, decl = owner
        instance = self._instance(module, spec.pos, f"pseudo-variable ${spec.cls}")
        handler = getattr(instance, decl.handler or f"pv_{decl.name}", None)
        if handler is None:
            raise LoadError(spec.pos, f"pseudo-variable ${spec.cls} of module {module} is not "
                                      "implemented in kampy yet")
        try:
            return handler(spec)
        except (ValueError, LookupError) as exc:
            raise LoadError(spec.pos, f"bad pseudo-variable '{spec.text or spec.cls}': {exc}") from None

    def _instance(self, module: str, pos: ast.Pos, what: str) -> Any:
        """The instance of `module` providing `what`; LoadError when it has none (yet)."""
        instance = self.core.modules.get(module)
        if instance is not None:
            return instance
        if self.compiled.modules[module].exports.factory is None:
            raise LoadError(pos, f"{what} of module {module} is not implemented in kampy yet")
        raise LoadError(pos, f"{what} of module {module} is not available yet (the module is built later)")

    def _transform(self, tr: ast.Transform) -> Callable[[Any, Any], Any]:
        self._refuse_unimplemented(tr.pos, "transform", f"{tr.cls}.{tr.name}")
        owner = self.tr_owners.get(tr.cls)
        if owner is None:
            self._refuse_unimplemented(tr.pos, "transform", tr.cls)
            raise LoadError(tr.pos, f"unknown transformation class '{tr.cls}'")
        module, decl = owner
        instance = self._instance(module, tr.pos, f"transformation {{{tr.cls}.{tr.name}}}")
        handler = getattr(instance, decl.handler or f"tr_{decl.name}", None)
        if handler is None:
            raise LoadError(tr.pos, f"transformation {{{tr.cls}.{tr.name}}} of module {module} is not "
                                    "implemented in kampy yet")
        try:
            return handler(tr)
        except (ValueError, LookupError) as exc:
            raise LoadError(tr.pos, f"bad transformation {{{tr.cls}.{tr.name}}}: {exc}") from None

    def _refuse_unimplemented(self, pos: ast.Pos, kind: str, name: str, args: int | None = None) -> None:
        """A LoadError with the reason when a loaded module lists the item in its `not_implemented`."""
        for module, mod in self.compiled.modules.items():
            gap = mod.exports.unimplemented(kind, name, args)
            if gap is not None:
                raise LoadError(pos, gap.warning(module))


def route_label(key: tuple[str, str | None]) -> str:
    """`("request", None)` -> `request_route`, `("failure", "1")` -> `failure_route[1]`."""
    kind, name = key
    word = ROUTE_KIND_NAMES.get(kind, kind)
    return f"{word}[{name}]" if name is not None else word


def _const_fn(value: Any) -> Fn:
    def const(ctx: MessageContext) -> Any:
        return value
    const.constant = value  # type: ignore[attr-defined]
    return const


def _literal_getter(text: str) -> Fn:
    return lambda ctx: text
