"""The route engine's module function calls: each bound once to its handler, with its arguments
prepared per ArgKind and by the module's fix-ups (once for constants, per call for values with
pseudo-variables), traced and hooked when asked."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from kampy.config import ast
from kampy.config.compile import CompiledConfig
from kampy.module import REGEX_FLAGS, ArgKind, Function, RouteType
from kampy.config.pvparse import PVSyntaxError, avp_ident, parse_pv, parse_pv_at
from kampy.memo import BoundedCache
from kampy.runtime import actionhooks, actions, expressions
from kampy.runtime.context import MessageContext, ScriptDrop, ScriptExit
from kampy.runtime.core import Core
from kampy.runtime.flow import Break, Fn, LoadError, MalformedInput, ModuleFailure, Return
from kampy.runtime.pvs import Constant
from kampy.runtime.values import compile_posix, format_value, fparam_int, parse_int_literal, to_int, to_str
from kampy.sip.errors import SIPProtocolError

log = logging.getLogger("kampy.runtime")

_CONTROL = (ScriptExit, ScriptDrop, Return, Break, ModuleFailure)


def _avp_int(value: Any) -> int | None:
    """An AVP's value as get_int_fparam reads it: an integer, or a string of digits (str2int)."""
    if value.__class__ is int:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _needed(get: Fn, func: Function, node: ast.Node) -> Fn:
    """An integer argument the function cannot do without: when its pseudo-variable gives none,
    the function fails (get_int_fparam < 0: the Kamailio function returns -1)."""
    where = f"{node.pos.file}:{node.pos.line}"

    def value(ctx: MessageContext) -> Any:
        got = get(ctx)
        if got is None:
            raise _BadArgument(f"{where}: {func.name}(): Could not convert PV to int")
        return got
    return value


class _BadArgument(Exception):
    """A fix-up refused the value of an argument with pseudo-variables (logged; the call fails)."""


def as_fn(arg: Fn | Constant) -> Fn:
    if isinstance(arg, Constant):
        value = arg.value
        return lambda ctx: value
    return arg


class Calls:
    """The function-call builders of `Engine` (a mixin: the engine's state is its own)."""

    compiled: CompiledConfig
    core: Core
    tracer: Callable[[MessageContext, str, str, int | None], None] | None
    _before: tuple[Callable[..., Any], ...]
    _after: tuple[Callable[..., Any], ...]
    _route_key: tuple[str, str | None]
    _route_label: str

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
        fns = tuple(as_fn(a) for a in args)

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
            var = func.arg_var_fixup(index)
            if isinstance(node, ast.Str) and var.startswith("int"):
                lone_int = self._lone_int(node)
                if lone_int is not None:
                    return lone_int if var == "int_or_default" else _needed(lone_int, func, node)
                number = fparam_int(node.value)
                if number is None:
                    raise LoadError(node.pos, f"{func.name}() argument {index + 1} must be an integer "
                                              "(digits with an optional sign, no spaces), "
                                              f"not '{node.value}'")
                return Constant(number)
            return self._int_arg(node, rtype)
        if kind is ArgKind.REGEX:
            return self._regex_arg(node, rtype, self._regex_flags(func, index))
        if isinstance(node, ast.Str):
            if kind is ArgKind.STR:
                return Constant(node.value)
            var = func.arg_var_fixup(index)
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

    def _lone_pv(self, node: ast.Str) -> Fn | None:
        """Kamailio's FPARAM_PVS, FPARAM_AVP and FPARAM_SELECT, tried first by its "var" fixups:
        the pseudo-variable the text starts with (the rest of the text ignored), the AVP a `$`
        text that is no pseudo-variable names, or the select it is; None when it is none of them.
        An unset one gives None (get_str_fparam fails on it: sl_send_reply() and t_reply() then
        take their default_reason), not `<null>`."""
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
            if spec.cls == "$":  # Kamailio's $$ marker pseudo-variable
                return lambda ctx: "$"
            get = self.pv_accessor(spec).get
        except (PVSyntaxError, LoadError):  # no pseudo-variable: FPARAM_AVP, else a format
            avp = avp_ident(text, node.pos)
            if avp is None:
                return None
            get = self.pv_accessor(avp).get
        # get_str_fparam fails on an unset one: the function takes its default, not "<null>"
        return lambda ctx: None if (value := get(ctx)) is None else format_value(value)

    def _lone_int(self, node: ast.Str) -> Fn | None:
        """fixup_var_int_12's FPARAM_PVS and FPARAM_AVP: the pseudo-variable the text starts with,
        whose value counts only when it is an integer (get_int_fparam), or the AVP a `$` text that is
        no pseudo-variable names, whose string value is read as digits; None (the function's default)
        otherwise. None when the text is neither."""
        text = node.value.strip()
        if not text.startswith("$"):
            return None
        try:
            spec, _ = parse_pv_at(text, 0, node.pos)
            if spec.cls == "$":
                return None
            get = self.pv_accessor(spec).get
        except (PVSyntaxError, LoadError):
            avp = avp_ident(text, node.pos)
            if avp is None:
                return None
            get_avp = self.pv_accessor(avp).get
            return lambda ctx: _avp_int(get_avp(ctx))
        return lambda ctx: value if (value := get(ctx)).__class__ is int else None

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
