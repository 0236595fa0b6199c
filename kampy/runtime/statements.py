"""The route engine's statements: each becomes `fn(ctx) -> int`, its return code as Kamailio's
do_action gives it (src/core/action.c). `if`, `while`, `switch`, bare blocks, `return`, `exit`,
`drop`, `break`, `route(...)` calls and assignments; module function calls are `Calls`'."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kampy.config import ast
from kampy.config.compile import CompiledConfig
from kampy.module import RouteType
from kampy.runtime import actionhooks, expressions
from kampy.runtime.context import MessageContext, ScriptDrop, ScriptExit
from kampy.runtime.core import Core
from kampy.runtime.flow import Break, Fn, LoadError, Return, one
from kampy.runtime.values import to_int, to_str

log = logging.getLogger("kampy.runtime")


def with_continuation(call: Fn, rest: Fn | None) -> Fn:
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


class Statements:
    """The statement builders of `Engine` (a mixin: the engine's state is its own)."""

    compiled: CompiledConfig
    core: Core
    routes: dict[tuple[str, str | None], Fn]
    _before: tuple[Callable[..., Any], ...]
    _after: tuple[Callable[..., Any], ...]
    _route_key: tuple[str, str | None]

    def block(self, stmts: tuple[ast.Node, ...], rtype: RouteType) -> Fn:
        # (the next statement's line: where Kamailio's parser ends an `if` without `else`)
        nexts = [t.pos.line for t in stmts[1:]] + [0] if stmts else []
        fns = [self._safe(lambda s=s, n=n: self.stmt(s, rtype, n), s.pos)
               for s, n in zip(stmts, nexts, strict=True)]
        for i, stmt in enumerate(stmts):
            if self._wants_continuation(stmt):
                rest = self.block(stmts[i + 1:], rtype) if i + 1 < len(stmts) else None
                fns[i] = with_continuation(fns[i], rest)
        if not fns:
            return one
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
