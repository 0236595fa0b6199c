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
import re
from collections.abc import Callable
from typing import Any

from kampy.config import ast
from kampy.config.compile import CompiledConfig
from kampy.config.pvparse import Literal, PVSyntaxError, parse_format, parse_pv, parse_pv_at
from kampy.errors import ConfigError, Diagnostic
from kampy.memo import BoundedCache
from kampy.module import (
    REGEX_FLAGS,
    ROUTE_KIND_NAMES,
    ArgKind,
    Function,
    Process,
    PVClass,
    RouteType,
    Timer,
    TransformClass,
    route_type_of,
)
from kampy.runtime import actionhooks, actions, expressions
from kampy.runtime.context import MessageContext, ScriptDrop, ScriptExit
from kampy.runtime.core import Core
from kampy.runtime.flow import Break, LoadError, MalformedInput, ModuleFailure, Return
from kampy.runtime.cfgcore import declare_all, memlog_level
from kampy.runtime.memstatus import log_shared_memory
from kampy.runtime.modules import build_modules
from kampy.runtime.selectcore import core_table
from kampy.runtime.selects import SelectError, SelectTable, parse_select, value_of
from kampy.runtime.pvs import Constant, Transformed, core_pv
from kampy.sip.errors import SIPProtocolError
from kampy.runtime.values import compile_posix, format_value, parse_int_literal, to_int, to_str

log = logging.getLogger("kampy.runtime")

Fn = Callable[[MessageContext], Any]
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


_CONTROL = (ScriptExit, ScriptDrop, Return, Break, ModuleFailure)


def _with_continuation(call: Fn, rest: Fn | None) -> Fn:
    """The call with `ctx.continuation` set to the statements after it while it runs. Run later,
    they end where their block ends: a `return` or `break` in them ends them with its code."""
    if rest is not None:
        statements = rest

        def rest_of_block(ctx: MessageContext) -> Any:
            try:
                return statements(ctx)
            except Return as r:
                return r.value
            except Break:
                return 1
        rest = rest_of_block

    def call_with_rest(ctx: MessageContext) -> Any:
        saved, ctx.continuation = ctx.continuation, rest
        try:
            return call(ctx)
        finally:
            ctx.continuation = saved
    return call_with_rest


class Engine:
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
            if isinstance(item, ast.FlagDecl):
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
        return _noop

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

    def run_event_route(self, name: str, ctx: MessageContext) -> bool:
        """Run event_route[name] as an event: `exit` and `drop` end it, a module function's failure
        is logged. False when it ended with `drop`."""
        saved, ctx.route_type = ctx.route_type, RouteType.EVENT
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

    # ------------------------------------------------------------ statements

    def block(self, stmts: tuple[ast.Node, ...], rtype: RouteType) -> Fn:
        # (the next statement's line: where Kamailio's parser ends an `if` without `else`)
        nexts = [t.pos.line for t in stmts[1:]] + [0] if stmts else []
        fns = [self._safe(lambda s=s, n=n: self.stmt(s, rtype, n), s.pos)
               for s, n in zip(stmts, nexts, strict=True)]
        for i, stmt in enumerate(stmts):
            if self._wants_continuation(stmt):
                rest = self.block(stmts[i + 1:], rtype) if i + 1 < len(stmts) else None
                fns[i] = _with_continuation(fns[i], rest)
        if not fns:
            return _one
        if len(fns) == 1:
            return fns[0]
        fns_t = tuple(fns)

        def run_block(ctx: MessageContext) -> int:
            ret = 1
            for fn in fns_t:
                ret = fn(ctx)
            return ret
        return run_block

    def _wants_continuation(self, stmt: ast.Node) -> bool:
        resolved = self.compiled.calls.get(id(stmt)) if isinstance(stmt, ast.Call) else None
        return resolved is not None and resolved[1].continuation

    def stmt(self, s: ast.Node, rtype: RouteType, next_line: int = 0) -> Fn:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise LoadError(s.pos, f"kampy cannot run this statement yet: {type(s).__name__}")
        fn = method(s, rtype)
        if self._before or self._after:
            action = actionhooks.action_of(s, self._route_key, next_line)
            if action is not None:
                return actionhooks.hooked(fn, action, self._before, self._after)
        return fn

    def stmt_Block(self, s: ast.Block, rtype: RouteType) -> Fn:
        body = self.block(s.stmts, rtype)

        def bare_block(ctx: MessageContext) -> int:
            try:
                return body(ctx)
            except Break:  # a bare block catches break, returns pass through (BLOCK_T)
                return 1
        return bare_block

    def stmt_ExprStmt(self, s: ast.ExprStmt, rtype: RouteType) -> Fn:
        if isinstance(s.expr, ast.Call):
            return self.call(s.expr, rtype)
        value = self.expr(s.expr, rtype)

        def eval_stmt(ctx: MessageContext) -> int:
            value(ctx)
            return 1
        return eval_stmt

    def stmt_Call(self, s: ast.Call, rtype: RouteType) -> Fn:
        return self.call(s, rtype)

    def stmt_If(self, s: ast.If, rtype: RouteType) -> Fn:
        cond = self.cond(s.cond, rtype)
        then = self.block(s.then.stmts, rtype)
        orelse = self.block(s.orelse.stmts, rtype) if s.orelse is not None else None

        if orelse is None:
            def if_(ctx: MessageContext) -> int:
                if cond(ctx):
                    return then(ctx)
                return 1
            return if_

        def if_else(ctx: MessageContext) -> int:
            if cond(ctx):
                return then(ctx)
            return orelse(ctx)
        return if_else

    def stmt_While(self, s: ast.While, rtype: RouteType) -> Fn:
        cond = self.cond(s.cond, rtype)
        body = self.block(s.body.stmts, rtype)
        cfg = self.core.cfg
        where = f"{s.pos.file}:{s.pos.line}"

        def while_(ctx: MessageContext) -> int:
            ret = 1
            i = 0
            limit = cfg.get("core", "max_while_loops")
            try:
                while cond(ctx):
                    if limit > 0:
                        i += 1
                        if i > limit:
                            log.error("%s: runaway while: more than %d loops (max_while_loops)", where, limit)
                            return -1
                    ret = body(ctx)
            except Break:
                pass
            return ret
        return while_

    def stmt_Switch(self, s: ast.Switch, rtype: RouteType) -> Fn:
        value = self.expr(s.expr, rtype)
        values = [c.value for c in s.cases if c.value is not None]
        as_int = all(isinstance(v, ast.Int) for v in values)
        table: dict[Any, int] = {}
        default = None
        for i, case in enumerate(s.cases):
            if case.value is None:
                default = i
                continue
            key = self._case_key(case.value, as_int)
            table.setdefault(key, i)
        bodies = [self.block(c.stmts, rtype) for c in s.cases]
        # fall-through: a case runs its statements and those of every following case until break
        chains = [tuple(bodies[i:]) for i in range(len(bodies))]
        convert = to_int if as_int else to_str

        def switch(ctx: MessageContext) -> int:
            start = table.get(convert(value(ctx)), default)
            if start is None:
                return 1
            ret = 1
            try:
                for body in chains[start]:
                    ret = body(ctx)
            except Break:
                pass
            return ret
        return switch

    def _case_key(self, node: ast.Node, as_int: bool) -> Any:
        if isinstance(node, ast.Int):
            return node.value if as_int else str(node.value)
        if isinstance(node, ast.Str):
            return node.value
        if isinstance(node, ast.Ident):
            return node.name
        if isinstance(node, ast.UnOp) and node.op == "-" and isinstance(node.operand, ast.Int):
            return -node.operand.value if as_int else str(-node.operand.value)
        raise LoadError(node.pos, "a case value must be a number or a string")

    def stmt_Return(self, s: ast.Return, rtype: RouteType) -> Fn:
        if s.value is None:
            def return_1(ctx: MessageContext) -> int:
                raise Return(1)
            return return_1
        value = self.expr(s.value, rtype)

        def return_(ctx: MessageContext) -> int:
            ret = to_int(value(ctx))
            if ret == 0:  # `return 0` ends the script like exit (DROP_T with RETURN_R_F)
                ctx.retcode = 0
                raise ScriptExit()
            raise Return(ret)
        return return_

    def stmt_Exit(self, s: ast.Exit, rtype: RouteType) -> Fn:
        def exit_(ctx: MessageContext) -> int:
            raise ScriptExit()
        return exit_

    def stmt_Drop(self, s: ast.Drop, rtype: RouteType) -> Fn:
        def drop(ctx: MessageContext) -> int:
            ctx.dropped = True
            raise ScriptDrop()
        return drop

    def stmt_Break(self, s: ast.Break, rtype: RouteType) -> Fn:
        def break_(ctx: MessageContext) -> int:
            raise Break()
        return break_

    def stmt_RouteCall(self, s: ast.RouteCall, rtype: RouteType) -> Fn:
        routes = self.routes
        if isinstance(s.name, str):
            key = ("route", s.name)
            if key not in self.compiled.routes:
                raise LoadError(s.pos, f"route({s.name}): there is no route[{s.name}]")
            return self._route_call(lambda ctx: key, routes, s.pos)
        name = self.expr(s.name, rtype)
        return self._route_call(lambda ctx: ("route", to_str(name(ctx))), routes, s.pos)

    @staticmethod
    def _route_call(key_of: Callable[[MessageContext], tuple[str, str]], routes: dict[Any, Fn],
                    pos: ast.Pos) -> Fn:
        def route_call(ctx: MessageContext) -> int:
            key = key_of(ctx)
            body = routes.get(key)
            if body is None:
                log.error("%s:%d: route(%s): there is no such route", pos.file, pos.line, key[1])
                return -1
            try:
                ret = body(ctx)
            except Return as r:
                ret = r.value
            except Break:
                ret = 1
            ctx.retcode = ret
            return ret
        return route_call

    def stmt_Assign(self, s: ast.Assign, rtype: RouteType) -> Fn:
        target = self.pv_accessor(s.target)
        setter = getattr(target, "set", None)
        if setter is None:
            raise LoadError(s.target.pos, f"${s.target.cls} is read-only: it cannot be assigned")
        # `$x = f()` stores f's return code, as Kamailio's lval_assign() does for a lone call;
        # inside an expression (`$x = f() + 1`) a call counts as true or false
        value = self.call(s.value, rtype) if isinstance(s.value, ast.Call) else self.expr(s.value, rtype)
        if s.op == "+=":
            current = target.get

            def add_assign(ctx: MessageContext) -> int:
                setter(ctx, expressions.plus(current(ctx), value(ctx)))
                return 1
            return add_assign

        def assign(ctx: MessageContext) -> int:
            setter(ctx, value(ctx))
            return 1
        return assign

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Node, rtype: RouteType) -> Fn:
        return expressions.compile_expr(self, e, rtype)

    def cond(self, e: ast.Node, rtype: RouteType) -> Callable[[MessageContext], bool]:
        """An `if`/`while` condition: true when the value, as an int, is > 0."""
        if isinstance(e, ast.Call):
            call = self.call(e, rtype)
            return lambda ctx: call(ctx) > 0
        if isinstance(e, ast.UnOp) and e.op == "!" and isinstance(e.operand, ast.Call):
            negated = self.call(e.operand, rtype)  # `!f()`: the value of `!` is 1 when f's code is <= 0
            return lambda ctx: negated(ctx) <= 0
        value = self.expr(e, rtype)
        return lambda ctx: to_int(value(ctx)) > 0

    # ------------------------------------------------------------ function calls

    def call(self, c: ast.Call, rtype: RouteType) -> Fn:
        """A call as a statement: returns the function's code; 0 ends the script."""
        fn = self._call(c, rtype)
        if self.tracer is not None:
            fn = self._traced_call(fn, c.name)
        if self._before or self._after:
            resolved = self.compiled.calls.get(id(c))
            action = actionhooks.call_action(c, resolved[0] if resolved is not None else "", self._route_key)
            fn = actionhooks.hooked(fn, action, self._before, self._after)
        return fn

    def _traced_route(self, body: Fn) -> Fn:
        tracer, label = self.tracer, self._route_label
        assert tracer is not None

        def traced_route(ctx: MessageContext) -> Any:
            tracer(ctx, label, "", None)
            return body(ctx)
        return traced_route

    def _traced_call(self, fn: Fn, name: str) -> Fn:
        """Report `(ctx, route, function, code)` after each call; 0 when it ended the script,
        None when it raised."""
        tracer, label = self.tracer, self._route_label
        assert tracer is not None

        def traced_call(ctx: MessageContext) -> Any:
            try:
                ret = fn(ctx)
            except (ScriptExit, ScriptDrop):
                tracer(ctx, label, name, 0)
                raise
            except (Return, Break):
                raise
            except Exception:
                tracer(ctx, label, name, None)
                raise
            tracer(ctx, label, name, ret)
            return ret
        return traced_call

    def _call(self, c: ast.Call, rtype: RouteType) -> Fn:
        resolved = self.compiled.calls.get(id(c))  # the compiler's resolution, not a second lookup
        if resolved is None:
            refused = self.compiled.refused.get(id(c))
            raise LoadError(c.pos, refused or f"{c.name}(): the config was not resolved against its modules")
        owner, func = resolved
        if owner == "core":
            return actions.build(self, c, func, rtype)
        instance = self.core.modules.get(owner)
        if instance is None:
            raise LoadError(c.pos, f"function {c.name} of module {owner} is not implemented in kampy yet")
        handler = getattr(instance, func.handler_name)  # present: checked when the module was built
        if func.fixup:
            try:
                getattr(instance, func.fixup)()
            except ValueError as exc:
                raise LoadError(c.pos, f"{func.name}(): {exc}") from None
        args = [self.fixed_argument(instance, func, i, a, rtype) for i, a in enumerate(c.args)]
        return self._bind(c, handler, args)

    def _bind(self, c: ast.Call, handler: Callable[..., Any], args: list[Fn | Constant]) -> Fn:
        pos, name = c.pos, c.name

        def invoke(ctx: MessageContext, values: Any) -> int:
            try:
                ret = handler(ctx, *values)
            except _CONTROL:
                raise
            except SIPProtocolError as exc:
                raise MalformedInput(pos, name, exc) from exc
            except Exception as exc:
                raise ModuleFailure(pos, name, exc) from exc
            ctx.retcode = ret
            if ret == 0:
                raise ScriptExit()
            return ret

        if all(isinstance(a, Constant) for a in args):
            consts = tuple(a.value for a in args)  # type: ignore[union-attr]
            return lambda ctx: invoke(ctx, consts)
        fns = tuple(_as_fn(a) for a in args)

        def invoke_dynamic(ctx: MessageContext) -> int:
            try:
                values = [f(ctx) for f in fns]
            except _BadArgument as exc:  # a fix-up refused a value: the function fails
                log.error("%s", exc)
                ctx.retcode = -1
                return -1
            return invoke(ctx, values)
        return invoke_dynamic

    # ------------------------------------------------------------ argument fixups

    def fixed_argument(self, instance: Any, func: Function, index: int, node: ast.Node,
                       rtype: RouteType) -> Fn | Constant:
        """An argument prepared by its kind, then by the module's `fixup` method when the
        declaration names one (once for a constant; per call for a value with pseudo-variables)."""
        value = self.argument(func, index, node, rtype)
        name = func.args[index].fixup if index < len(func.args) else ""
        if not name:
            return value
        fixup = getattr(instance, name)
        if isinstance(value, Constant):
            try:
                return Constant(fixup(value.value))
            except ValueError as exc:
                raise LoadError(node.pos, f"{func.name}(): bad argument {index + 1}: {exc}") from None
        dynamic = value
        where = f"{node.pos.file}:{node.pos.line}"

        def fixed(ctx: MessageContext) -> Any:
            try:
                return fixup(dynamic(ctx))
            except ValueError as exc:
                raise _BadArgument(f"{where}: {func.name}(): bad argument {index + 1}: {exc}") from None
        return fixed

    def argument(self, func: Function, index: int, node: ast.Node, rtype: RouteType) -> Fn | Constant:
        kind = func.arg_kind(index)
        if kind is ArgKind.PVAR:
            spec = node if isinstance(node, ast.PVar) else self._parse_pv(node)
            return Constant(self.pv_accessor(spec))
        if kind is ArgKind.EXPR:
            return self._maybe_const(self.expr(node, rtype), node)
        if kind is ArgKind.INT:
            return self._int_arg(node, rtype)
        if kind is ArgKind.REGEX:
            return self._regex_arg(node, rtype, self._regex_flags(func, index))
        if isinstance(node, ast.Str):
            if kind is ArgKind.STR:
                return Constant(node.value)
            var = self._var_fixup(func, index)
            if var:
                lone = self._lone_pv(node)
                if lone is not None:
                    return lone
                if var == "str":
                    return Constant(node.value)
            return self._maybe_const(self.format_text(node.value, node.pos), node)
        if isinstance(node, ast.Int):
            return Constant(str(node.value))
        if isinstance(node, ast.Ident):
            return Constant(node.name)
        value = self.expr(node, rtype)
        return lambda ctx: to_str(value(ctx))

    @staticmethod
    def _var_fixup(func: Function, index: int) -> str:
        args = func.args
        arg = args[index] if index < len(args) else (args[-1] if args else None)
        return arg.var_fixup if arg is not None else ""

    def _lone_pv(self, node: ast.Str) -> Fn | None:
        """Kamailio's FPARAM_PVS and FPARAM_SELECT, tried first by its "var" fixups: the
        pseudo-variable the text starts with (the rest of the text ignored), or the select it
        is; None when it is neither."""
        text = node.value.strip()
        if text.startswith("@"):
            try:
                get_sel = self.select(ast.Select(text, pos=node.pos))
            except LoadError:
                return None
            return lambda ctx: get_sel(ctx) or ""
        if not text.startswith("$"):
            return None
        try:
            spec, _ = parse_pv_at(text, 0, node.pos)
        except PVSyntaxError:
            return None
        get = self.pv_accessor(spec).get
        return lambda ctx: format_value(get(ctx))

    @staticmethod
    def _maybe_const(fn: Fn, node: ast.Node) -> Fn | Constant:
        const = getattr(fn, "constant", expressions.MISSING)
        return fn if const is expressions.MISSING else Constant(const)

    def _parse_pv(self, node: ast.Node) -> ast.PVar:
        if not isinstance(node, ast.Str):
            raise LoadError(node.pos, "expected a pseudo-variable")
        try:
            return parse_pv(node.value, node.pos)
        except PVSyntaxError as exc:
            raise LoadError(node.pos, f"bad pseudo-variable '{node.value}': {exc}") from None

    def _int_arg(self, node: ast.Node, rtype: RouteType) -> Fn | Constant:
        if isinstance(node, ast.Int):
            return Constant(node.value)
        if isinstance(node, ast.Str) and "$" not in node.value:
            try:
                return Constant(parse_int_literal(node.value))
            except ValueError:
                raise LoadError(node.pos, f"expected a number, not '{node.value}'") from None
        if isinstance(node, ast.Str):
            fmt = self.format_text(node.value, node.pos)
            return lambda ctx: to_int(fmt(ctx))
        value = self.expr(node, rtype)
        return lambda ctx: to_int(value(ctx))

    @staticmethod
    def _regex_flags(func: Function, index: int) -> int:
        args = func.args
        arg = args[index] if index < len(args) else (args[-1] if args else None)
        return arg.regex_flags if arg is not None else REGEX_FLAGS

    def _regex_arg(self, node: ast.Node, rtype: RouteType, flags: int) -> Fn | Constant:
        if isinstance(node, ast.Str):  # like fixup_regexp: `$` is an anchor, not a PV
            try:
                return Constant(compile_posix(node.value, flags))
            except re.error as exc:
                raise LoadError(node.pos, f"bad regular expression '{node.value}': {exc}") from None
        text = self.expr(node, rtype)
        cache: BoundedCache[str, re.Pattern[str]] = BoundedCache(256)

        def dynamic_regex(ctx: MessageContext) -> re.Pattern[str]:
            pattern = to_str(text(ctx))
            compiled = cache.get(pattern)
            if compiled is None:
                compiled = cache.put(pattern, compile_posix(pattern, flags))
            return compiled
        return dynamic_regex

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


class _BadArgument(Exception):
    """A fix-up refused the value of an argument with pseudo-variables (logged; the call fails)."""


def route_label(key: tuple[str, str | None]) -> str:
    """`("request", None)` -> `request_route`, `("failure", "1")` -> `failure_route[1]`."""
    kind, name = key
    word = ROUTE_KIND_NAMES.get(kind, kind)
    return f"{word}[{name}]" if name is not None else word


def _noop(ctx: MessageContext) -> int:
    return 1


def _one(ctx: MessageContext) -> int:
    return 1


def _const_fn(value: Any) -> Fn:
    def const(ctx: MessageContext) -> Any:
        return value
    const.constant = value  # type: ignore[attr-defined]
    return const


def _literal_getter(text: str) -> Fn:
    return lambda ctx: text


def _as_fn(arg: Fn | Constant) -> Fn:
    if isinstance(arg, Constant):
        value = arg.value
        return lambda ctx: value
    return arg
