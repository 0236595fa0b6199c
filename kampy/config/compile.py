"""Resolve a parsed config against the modules it loads.

Every function, parameter, route name, pseudo-variable and transformation is checked once, here,
against the module declarations (`kampy.module.Exports`) that the runtime uses too. All errors are
collected (not just the first) so `kampy check` can report every one with its position.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kampy import loader
from kampy.config import ast, core_ignored, core_params, rvtypes
from kampy.config.cfgcheck import check_cfg, select_problem
from kampy.config.core import AVP_FLAG_FUNCTIONS, CORE_EXPORTS, CORE_PARAMS
from kampy.config.pvparse import PVSyntaxError, avp_ident, parse_format, parse_pv, parse_pv_at
from kampy.errors import ConfigError, Diagnostic
from kampy.runtime import avpflags, forward
from kampy.runtime.flow import LoadError
from kampy.runtime.selects import SelectTable
from kampy.runtime.values import fparam_int
from kampy.module import (
    ROUTE_KIND_NAMES,
    ArgKind,
    Exports,
    Function,
    PVClass,
    RouteType,
    Unimplemented,
    allowed_in,
    route_type_of,
)

# Pseudo-variables the core itself registers (src/core/pv_core.c).
CORE_PVARS: tuple[PVClass, ...] = (
    PVClass("?"), PVClass("rc"), PVClass("retcode"),
    PVClass("env", arg="required"), PVClass("envn", arg="required"),
    PVClass("def", arg="required"), PVClass("defn", arg="required"),
    PVClass("defv", arg="required"), PVClass("defs", arg="required"),
    PVClass("iuid"),
)

ROUTE_TYPE_WORDS = {
    RouteType.REQUEST: "request_route/route", RouteType.FAILURE: "failure_route",
    RouteType.TM_ONREPLY: "onreply_route", RouteType.BRANCH: "branch_route",
    RouteType.ONSEND: "onsend_route", RouteType.ERROR: "error_route", RouteType.LOCAL: "local_route",
    RouteType.CORE_ONREPLY: "reply_route", RouteType.BRANCH_FAILURE: "event_route[tm:branch-failure]",
    RouteType.ONEVENT: "event_route",
}


@dataclass
class ModuleConfig:
    """A loaded module: its declaration and its parameter values (defaults, then modparams)."""

    exports: Exports
    origin: str
    pos: ast.Pos
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompiledConfig:
    ast: ast.Config
    core_params: dict[str, Any]
    modules: dict[str, ModuleConfig]
    routes: dict[tuple[str, str | None], ast.Route]
    warnings: list[Diagnostic] = field(default_factory=list)
    functions_used: set[str] = field(default_factory=set)
    # every function call of the routes, by id() of its ast.Call: (module or "core", declaration);
    # the engine binds each call to this, without looking the name up again
    calls: dict[int, tuple[str, Function]] = field(default_factory=dict)
    # the calls of functions a loaded module lists as not implemented (`kampy run` refuses them): why
    refused: dict[int, str] = field(default_factory=dict)
    # the preprocessor's defines, in definition order: (name, value or None, Kamailio's define type)
    ppdefines: list[tuple[str, str | None, int]] = field(default_factory=list)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)`, or ` (did you mean 'x' or 'y'?)` when two are as close."""
    scored = sorted(((difflib.SequenceMatcher(None, name, c).ratio(), c) for c in set(candidates)),
                    reverse=True)
    close = [c for ratio, c in scored[:2] if ratio >= 0.75 and ratio >= scored[0][0] - 0.01]
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in sorted(close)) + "?)"


# Kamailio's own event routes (src/core/receive.c, events.c) that kampy's core does not run yet;
# core:worker-one-init it runs (kampy.runtime.server)
_CORE_EVENTS_NOT_RUN = ("core:msg-received", "core:pre-routing", "core:receive-parse-error")


def _route_key(route: ast.Route) -> tuple[str, str | None]:
    if route.kind == "route" and route.name is None:
        return ("request", None)
    return (route.kind, route.name)


def _route_words(key: tuple[str, str | None]) -> str:
    kind, name = key
    word = ROUTE_KIND_NAMES.get(kind, kind)
    return f"{word}[{name}]" if name is not None else word


def _allowed_words(flags: RouteType) -> str:
    if flags == RouteType.ANY:
        return "any route"
    return ", ".join(w for bit, w in ROUTE_TYPE_WORDS.items() if flags & bit) or "no route"


def _plain_value(node: ast.Node) -> Any:
    if isinstance(node, ast.Str | ast.Int):
        return node.value
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, tuple):
        return [_plain_value(n) for n in node]
    return node


def _value_pos(value: ast.Node | tuple, default: ast.Pos) -> ast.Pos:
    first = value[0] if isinstance(value, tuple) and value else value
    pos = getattr(first, "pos", None)
    return pos if pos is not None and pos.line else default


# Given the name of a module kampy cannot find, a declaration to use in its place (the testing
# plugin's stand-ins), or None to report it missing.
MissingModuleHook = Callable[[str], "Exports | None"]


class Resolver:
    def __init__(self, config: ast.Config, resolve: bool = True,
                 missing_module: MissingModuleHook | None = None,
                 extra_modules: Iterable[tuple[Exports, ast.Pos]] = ()):
        self.config = config
        self.resolve = resolve
        self.missing_module = missing_module
        self.extra_modules = list(extra_modules)
        self.diags: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.modules: dict[str, ModuleConfig] = {}
        self.load_paths: list[str] = []
        self.core_params: dict[str, Any] = {}
        self.routes: dict[tuple[str, str | None], ast.Route] = {}
        self.functions_used: set[str] = set()
        self.calls: dict[int, tuple[str, Function]] = {}
        self.refused: dict[int, str] = {}
        self.selects: SelectTable | None = None

    # ------------------------------------------------------------ reporting

    def error(self, pos: ast.Pos, message: str) -> None:
        self.diags.append(Diagnostic(pos, message))

    def unimplemented(self, pos: ast.Pos, kind: str, name: str, args: int | None = None) -> str | None:
        """Warn when a loaded module lists the item in its `not_implemented`; the warning, if one does."""
        for mod in self.modules.values():
            gap = mod.exports.unimplemented(kind, name, args)
            if gap is not None:
                self.warn_unimplemented(pos, mod.exports.name, gap)
                return gap.warning(mod.exports.name)
        return None

    def warn_unimplemented(self, pos: ast.Pos, module: str, gap: Unimplemented) -> None:
        warning = Diagnostic(pos, gap.warning(module), "warning")
        if warning not in self.warnings:
            self.warnings.append(warning)

    # ------------------------------------------------------------ top level

    def run(self) -> CompiledConfig:
        for item in self.config.items:
            self.top_item(item)
        for exports, pos in self.extra_modules:
            self.modules[exports.name] = ModuleConfig(exports, "stand-in", pos,
                                                      {p.name: p.default for p in exports.params})
        if self.resolve:
            self.check_needs()
            self.selects, problems = check_cfg(self.config, self.core_params, self.modules)
            self.diags.extend(problems)
            for key, route in self.routes.items():
                if route.kind == "event" and route.name:
                    self.unimplemented(route.pos, "event_route", route.name)
                self.warn_unrun(route)
                block = route_type_of(route.kind, route.name)
                self.block(route.body, block, key)
        if self.diags:
            raise ConfigError(sorted(self.diags, key=lambda d: (d.pos.file, d.pos.line, d.pos.col)))
        return CompiledConfig(self.config, self.core_params, self.modules, self.routes,
                              self.warnings, self.functions_used, self.calls, self.refused)

    def warn_unrun(self, route: ast.Route) -> None:
        """A route block of the core that kampy accepts but does not run."""
        if route.kind == "onsend":
            what = "onsend_route"
        elif route.kind == "event" and route.name in _CORE_EVENTS_NOT_RUN:
            what = f"event_route[{route.name}]"
        else:
            return
        self.warnings.append(Diagnostic(route.pos, f"{what} is not run by kampy (not implemented yet): "
                                                   "its statements are ignored", "warning"))

    def top_item(self, item: ast.Node) -> None:
        if isinstance(item, ast.CoreParam):
            self.core_param(item)
        elif isinstance(item, ast.LoadPath):
            self.load_paths.append(item.path)
        elif isinstance(item, ast.LoadModule):
            self.load_module(item)
        elif isinstance(item, ast.ModParam):
            self.modparam(item)
        elif isinstance(item, ast.Route):
            self.add_route(item)

    def core_param(self, item: ast.CoreParam) -> None:
        if item.name in ("mpath", "loadpath"):
            self.load_paths.append(str(_plain_value(item.value)))
            return
        if self.resolve and item.name not in CORE_PARAMS:
            self.error(item.pos, f"unknown core parameter '{item.name}'{suggest(item.name, CORE_PARAMS)}")
            return
        checked = core_params.check(item.name, item.value)
        if checked.error is not None:
            self.error(_value_pos(checked.value, item.pos), checked.error)
            return
        if checked.warning is not None:
            self.warnings.append(Diagnostic(_value_pos(checked.value, item.pos), checked.warning, "warning"))
        value = checked.value if isinstance(checked.value, ast.ListenValue) else _plain_value(checked.value)
        ignored = item.name in core_ignored.IGNORED and not core_ignored.is_default(item.name, value)
        if item.name not in core_params.PARAM_KINDS and item.name in CORE_PARAMS:
            later = f"'{item.name}' is a core parameter of a later Kamailio: 5.6 rejects it"
            used = "" if item.name in core_ignored.IGNORED else " (kampy uses it)"
            self.warnings.append(Diagnostic(item.pos, later + used, "warning"))
        if ignored:
            self.warnings.append(Diagnostic(item.pos, core_ignored.ignored_warning(item.name), "warning"))
        if item.name in ("listen", "socket", "alias") and item.name in self.core_params:
            previous = self.core_params[item.name]
            values = previous if isinstance(previous, list) else [previous]
            self.core_params[item.name] = [*values, value]
        else:
            self.core_params[item.name] = value

    def load_module(self, item: ast.LoadModule) -> None:
        name = loader.module_name(item.path)
        if name in self.modules:
            return
        if not self.resolve:
            return
        try:
            found = loader.find_module(item.path, self.load_paths)
        except loader.ModuleNotFound as exc:
            standin = self.missing_module(name) if self.missing_module is not None else None
            if standin is not None:
                params = standin.defaults()
                self.modules[name] = ModuleConfig(standin, "stand-in", item.pos, params)
                return
            hint = suggest(name, loader.all_known_names())
            self.error(item.pos, f"kampy has no module '{name}'{hint}; looked in: {', '.join(exc.searched)}")
            return
        except Exception as exc:  # a broken third-party module must not crash `kampy check`
            self.error(item.pos, f"module '{name}' failed to load: {exc}")
            return
        params = found.exports.defaults()
        self.modules[found.exports.name] = ModuleConfig(found.exports, found.origin, item.pos, params)

    def check_needs(self) -> None:
        """Every API a module requires (`Exports.needs`) must be offered by a loaded module
        (Kamailio's modules fail to bind otherwise)."""
        offered = {offer.name for mod in self.modules.values() for offer in mod.exports.offers}
        for mod in self.modules.values():
            for need in mod.exports.needs:
                if need.optional or need.name in offered:
                    continue
                owner = self.builtin_offerer(need.name)
                hint = f": add loadmodule \"{owner}.so\"" if owner else ""
                self.error(mod.pos, f"module '{mod.exports.name}' needs the API '{need.name}', which "
                                    f"no loaded module offers{hint}")

    @staticmethod
    def builtin_offerer(api: str) -> str | None:
        """The built-in module offering API `api`, if one does."""
        for mod_name in loader.builtin_names():
            try:
                if any(offer.name == api for offer in loader.load_builtin(mod_name).offers):
                    return mod_name
            except ImportError:
                continue
        return None

    def modparam(self, item: ast.ModParam) -> None:
        if not self.resolve:
            return
        try:
            pattern = re.compile(f"^({item.module})$", re.IGNORECASE)
        except re.error as exc:
            self.error(item.pos, f"bad module name pattern '{item.module}': {exc}")
            return
        matched = [m for name, m in self.modules.items() if pattern.match(name)]
        if not matched:
            hint = suggest(item.module, self.modules)
            self.error(item.pos, f"modparam for '{item.module}': no loaded module matches{hint} "
                                 "(the module must be loaded with loadmodule before its modparam)")
            return
        for mod in matched:
            self.set_param(mod, item)

    def set_param(self, mod: ModuleConfig, item: ast.ModParam) -> None:
        param = mod.exports.param(item.name)
        gap = mod.exports.unimplemented("param", item.name) if param is None else None
        if gap is not None:
            self.unimplemented_param(mod, item, gap)
            return
        if param is None:
            names = [p.name for p in mod.exports.params]
            self.error(item.pos, f"module '{mod.exports.name}' has no parameter '{item.name}'"
                                 f"{suggest(item.name, names)}")
            return
        value = item.value.value
        if self.wrong_type(mod, item, param.types):
            return
        if param.validate is not None:
            try:
                param.validate(value)
            except ValueError as exc:
                self.error(item.value.pos, f"bad value for '{item.name}' of module "
                                           f"'{mod.exports.name}': {exc}")
                return
        if not param.implemented and (param.multi or value != param.default):
            self.warnings.append(Diagnostic(item.pos, param.ignored_warning(mod.exports.name), "warning"))
        if param.multi:
            mod.params[param.name] = [*(mod.params.get(param.name) or []), value]
        else:
            mod.params[param.name] = value

    def unimplemented_param(self, mod: ModuleConfig, item: ast.ModParam, gap: Unimplemented) -> None:
        """A modparam of a parameter the module lists as not implemented: type-checked as Kamailio
        does, then ignored, with a warning unless it sets Kamailio's default."""
        if gap.types and self.wrong_type(mod, item, gap.types):
            return
        if gap.default is None or item.value.value != gap.default:
            self.warn_unimplemented(item.pos, mod.exports.name, gap)

    def wrong_type(self, mod: ModuleConfig, item: ast.ModParam, types: tuple[type, ...]) -> bool:
        """Report a modparam value of another type than the parameter takes (Kamailio refuses it)."""
        value = item.value.value
        if type(value) in types:
            return False
        words = " or ".join("integer" if t is int else "string" for t in types)
        given = "an integer" if isinstance(value, int) else "a string"
        self.error(item.value.pos, f"parameter '{item.name}' of module '{mod.exports.name}' takes {words}, "
                                   f"not {given}")
        return True

    def add_route(self, route: ast.Route) -> None:
        key = _route_key(route)
        if key in self.routes:
            first = self.routes[key].pos
            self.error(route.pos, f"duplicate {_route_words(key)} (first defined at line {first.line})")
            return
        self.routes[key] = route

    # ------------------------------------------------------------ lookups

    def pv_classes(self) -> dict[str, PVClass]:
        found = {pv.name: pv for pv in CORE_PVARS}
        for mod in self.modules.values():
            found.update({pv.name: pv for pv in mod.exports.pvars})
        return found

    def transforms(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for mod in self.modules.values():
            for tc in mod.exports.transforms:
                found.setdefault(tc.name, set()).update(tc.names)
        return found

    def functions(self, name: str) -> list[tuple[str, Function]]:
        found = [("core", f) for f in CORE_EXPORTS.functions_named(name)]
        for mod in self.modules.values():
            found.extend((mod.exports.name, f) for f in mod.exports.functions_named(name))
        return found

    def all_function_names(self) -> set[str]:
        names = {f.name for f in CORE_EXPORTS.functions}
        for mod in self.modules.values():
            names.update(f.name for f in mod.exports.functions)
        return names

    # ------------------------------------------------------------ statements

    def block(self, block: ast.Block, rtype: RouteType, where: tuple[str, str | None]) -> None:
        for stmt in block.stmts:
            self.stmt(stmt, rtype, where)

    def stmt(self, s: ast.Node, rtype: RouteType, where: tuple[str, str | None]) -> None:
        if isinstance(s, ast.Block):
            self.block(s, rtype, where)
        elif isinstance(s, ast.If):
            self.expr(s.cond, rtype)
            self.block(s.then, rtype, where)
            if s.orelse is not None:
                self.block(s.orelse, rtype, where)
        elif isinstance(s, ast.Switch):
            self.expr(s.expr, rtype)
            for case in s.cases:
                if case.value is not None:
                    self.expr(case.value, rtype)
                for inner in case.stmts:
                    self.stmt(inner, rtype, where)
        elif isinstance(s, ast.While):
            self.expr(s.cond, rtype)
            self.block(s.body, rtype, where)
        elif isinstance(s, ast.Return) and s.value is not None:
            self.expr(s.value, rtype)
        elif isinstance(s, ast.RouteCall):
            self.route_call(s, rtype)
        elif isinstance(s, ast.Assign):
            self.assign(s, rtype)
        elif isinstance(s, ast.ExprStmt):
            self.expr(s.expr, rtype)
        else:  # a bare expression used as a statement, usually a Call
            self.expr(s, rtype)

    def route_call(self, s: ast.RouteCall, rtype: RouteType) -> None:
        if isinstance(s.name, str):
            if ("route", s.name) not in self.routes:
                names = [n for k, n in self.routes if k == "route" and n]
                self.error(s.pos, f"route({s.name}): there is no route[{s.name}]{suggest(s.name, names)}")
        else:
            self.expr(s.name, rtype)

    def assign(self, s: ast.Assign, rtype: RouteType) -> None:
        pv = self.pvar(s.target)
        if pv is not None and not pv.writable:
            self.error(s.target.pos, f"${s.target.cls} is read-only: it cannot be assigned")
        self.expr(s.value, rtype)

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Node, rtype: RouteType) -> None:
        if isinstance(e, ast.Call):
            self.call(e, rtype)
        elif isinstance(e, ast.PVar):
            self.pvar(e)
        elif isinstance(e, ast.BinOp):
            self.expr(e.left, rtype)
            self.expr(e.right, rtype)
            self.types(e)
        elif isinstance(e, ast.UnOp):
            self.expr(e.operand, rtype)
            self.types(e)
        elif isinstance(e, ast.Select):
            self.select(e.text, e.pos, whole=True)

    def types(self, e: ast.Node) -> None:
        bad = rvtypes.mismatch(e)
        if bad is not None:
            node, found, expected = bad
            self.error(node.pos if node.pos.line else e.pos,
                       f"bad expression: type mismatch: {found} instead of {expected}")

    def select(self, text: str, pos: ast.Pos, whole: bool) -> None:
        if self.selects is None:
            return
        problem = select_problem(self.selects, text, whole)
        if problem is not None:
            self.error(pos, f"bad select {text}: {problem}")

    def call(self, call: ast.Call, rtype: RouteType) -> None:
        candidates = self.functions(call.name)
        by_count = [(m, f) for m, f in candidates if f.accepts_count(len(call.args))]
        if not by_count:
            gap = self.unimplemented(call.pos, "function", call.name, len(call.args))
            if gap is not None:
                self.refused[id(call)] = gap  # kampy run refuses the config with the reason
                return
        if not candidates:
            self.unknown_function(call)
            return
        if not by_count:
            self.error(call.pos, f"{call.name}() {self.counts_words(candidates)}, "
                                 f"{len(call.args)} given")
            return
        allowed = [(m, f) for m, f in by_count if allowed_in(f.routes, rtype)]
        if not allowed:
            flags = RouteType(0)
            for _, f in by_count:
                flags |= f.routes
            self.error(call.pos, f"{call.name}() cannot be used in {_allowed_words(rtype)} "
                                 f"(allowed in: {_allowed_words(flags)})")
            return
        self.functions_used.add(call.name)
        self.calls[id(call)] = allowed[0]
        if allowed[0][0] == "core":
            self.core_call(call)
        _, func = allowed[0]
        for i, arg in enumerate(call.args):
            if i == 0 and call.name in AVP_FLAG_FUNCTIONS:
                continue  # an AVP's name, checked when the action is built
            self.argument(func, i, arg, rtype)

    def core_call(self, call: ast.Call) -> None:
        """What cfg.y's grammar refuses in a core action's arguments (kampy builds them later)."""
        try:
            if call.name in AVP_FLAG_FUNCTIONS:
                avpflags.avp_name(call, self.pv_classes())
                avpflags.flag_bit(call, avpflags.declared_names(self.config))
            elif call.name == "udp_mtu_try_proto":
                forward.mtu_proto_bit(call)
        except LoadError as exc:
            self.error(exc.pos, exc.message)
        except ConfigError:
            pass  # (too many avpflags: the engine reports it at their declaration)

    @staticmethod
    def counts_words(candidates: list[tuple[str, Function]]) -> str:
        counts: set[int] = set()
        varargs = False
        for _, f in candidates:
            counts.update(range(f.required, len(f.args) + 1))
            varargs = varargs or f.varargs
        ordered = sorted(counts)
        if varargs:
            return f"takes at least {ordered[0]} argument{'s' if ordered[0] != 1 else ''}"
        words = " or ".join(str(c) for c in ordered)
        return f"takes {words} argument{'s' if ordered != [1] else ''}"

    def unknown_function(self, call: ast.Call) -> None:
        owner = self.builtin_owner(call.name)
        if owner:
            self.error(call.pos, f"{call.name}() is exported by module '{owner}', which is not loaded "
                                 f"(add: loadmodule \"{owner}.so\")")
            return
        self.error(call.pos, f"unknown function '{call.name}'{suggest(call.name, self.all_function_names())}")

    @staticmethod
    def builtin_owner(name: str) -> str | None:
        for mod_name in loader.builtin_names():
            try:
                if loader.load_builtin(mod_name).functions_named(name):
                    return mod_name
            except ImportError:
                continue
        return None

    def argument(self, func: Function, index: int, arg: ast.Node, rtype: RouteType) -> None:
        kind = func.arg_kind(index)
        if isinstance(arg, ast.Str):
            self.string_argument(func, index, kind, arg)
        else:
            if kind is ArgKind.PVAR and isinstance(arg, ast.PVar):
                pv = self.pvar(arg)
                if pv is not None and not pv.writable:
                    self.error(arg.pos, f"{func.name}() writes its argument {index + 1}, "
                                        f"but ${arg.cls} is read-only")
                return
            self.expr(arg, rtype)
            if kind is ArgKind.ROUTE and isinstance(arg, ast.Int | ast.Ident):
                self.route_ref(func, arg.pos, str(_plain_value(arg)))

    def string_argument(self, func: Function, index: int, kind: ArgKind, arg: ast.Str) -> None:
        text = arg.value
        if kind is ArgKind.ROUTE:
            if "$" not in text:
                self.route_ref(func, arg.pos, text)
            return
        if kind is ArgKind.PVAR:
            try:
                spec = parse_pv(text, arg.pos)
            except PVSyntaxError as exc:
                self.error(arg.pos, f"{func.name}() argument {index + 1} must be a pseudo-variable: {exc}")
                return
            pv = self.pvar(spec)
            if pv is not None and not pv.writable:
                self.error(arg.pos, f"{func.name}() writes its argument {index + 1}, but ${spec.cls} "
                                    "is read-only")
            return
        if kind is ArgKind.INT and func.arg_var_fixup(index).startswith("int"):
            if not self.lone_pv(arg) and fparam_int(text) is None:
                self.error(arg.pos, f"{func.name}() argument {index + 1} must be an integer (digits with an "
                                    f"optional sign, no spaces), not '{text}'")
            return
        if kind is ArgKind.INT and "$" not in text:
            if not re.fullmatch(r"\s*[-+]?(0x[0-9a-fA-F]+|\d+)\s*", text):
                self.error(arg.pos, f"{func.name}() argument {index + 1} must be a number, not '{text}'")
            return
        if kind is ArgKind.FMT and func.arg_var_fixup(index) and self.lone_pv(arg):
            return
        if kind in (ArgKind.FMT, ArgKind.INT, ArgKind.EXPR):
            self.format_string(arg)

    def lone_pv(self, arg: ast.Str) -> bool:
        """Kamailio's "var" fixups (FPARAM_PVS, then FPARAM_AVP): a text that starts with a
        pseudo-variable is that one alone, one that starts with `$` and no known pseudo-variable
        names an AVP; False for a text that is neither (a format, checked as such)."""
        text = arg.value.strip()
        if not text.startswith("$"):
            return False
        try:
            spec: ast.PVar | None = parse_pv_at(text, 0, arg.pos)[0]
        except PVSyntaxError:
            spec = None
        if spec is not None and spec.cls == "$":  # the $$ marker
            return True
        if spec is not None and (not self.resolve or spec.cls in self.pv_classes()):
            self.pvar(spec)
            return True
        return avp_ident(text, arg.pos) is not None

    def format_string(self, arg: ast.Str) -> None:
        try:
            parts = parse_format(arg.value, arg.pos)
        except PVSyntaxError as exc:
            self.error(arg.pos, f"bad pseudo-variable in string \"{arg.value}\": {exc}")
            return
        for part in parts:
            if isinstance(part, ast.PVar):
                self.pvar(part)

    def route_ref(self, func: Function, pos: ast.Pos, name: str) -> None:
        kind = next((a.route_kind for a in func.args if a.kind is ArgKind.ROUTE), None) or "route"
        if kind != "route" and name in ("", "0"):
            return  # tm's t_on_*("0"): no route (Kamailio's fixup_on_* take "" and "0" for none)
        if kind == "branch_failure":
            kind, name = "event", f"tm:branch-failure:{name}"
        if (kind, name) not in self.routes:
            names = [n for k, n in self.routes if k == kind and n]
            self.error(pos, f"{func.name}(\"{name}\"): there is no {ROUTE_KIND_NAMES.get(kind, kind)}[{name}]"
                            f"{suggest(name, names)}")

    def pvar(self, pv: ast.PVar) -> PVClass | None:
        """Check a pseudo-variable (and its transformations); return its class if known."""
        if not self.resolve:
            return None
        classes = self.pv_classes()
        decl = classes.get(pv.cls)
        if decl is None and self.unimplemented(pv.pos, "pvar", pv.cls):
            return None
        if decl is None:
            self.error(pv.pos, f"unknown pseudo-variable '${pv.cls}'{suggest(pv.cls, classes)}")
            return None
        if decl.arg == "required" and not pv.arg:
            self.error(pv.pos, f"${pv.cls} needs a name in parentheses: ${pv.cls}(name)")
        elif decl.arg == "none" and pv.arg:
            self.error(pv.pos, f"${pv.cls} takes no name: write ${pv.cls}, not ${pv.cls}({pv.arg})")
        if pv.cls == "sel" and pv.arg:
            self.select(pv.arg, pv.pos, whole=False)
        self.nested_pvs(pv)
        self.check_transforms(pv)
        return decl

    def nested_pvs(self, pv: ast.PVar) -> None:
        for text in (pv.arg, pv.index):
            if text and "$" in text:
                for part in self.safe_format(text, pv.pos):
                    self.pvar(part)

    def safe_format(self, text: str, pos: ast.Pos) -> Iterator[ast.PVar]:
        try:
            parts = parse_format(text, pos)
        except PVSyntaxError:
            return
        yield from (p for p in parts if isinstance(p, ast.PVar))

    def check_transforms(self, pv: ast.PVar) -> None:
        known = self.transforms()
        for tr in pv.transforms:
            names = known.get(tr.cls)
            known_here = names is not None and tr.name in names
            if known_here or self.unimplemented(tr.pos, "transform", f"{tr.cls}.{tr.name}") \
                    or self.unimplemented(tr.pos, "transform", tr.cls):
                pass
            elif names is None:
                self.error(tr.pos, f"unknown transformation class '{tr.cls}' in {{{tr.cls}.{tr.name}}}"
                                   f"{suggest(tr.cls, known)}")
            else:
                self.error(tr.pos, f"unknown transformation '{{{tr.cls}.{tr.name}}}'"
                                   f"{suggest(tr.name, names)}")
            for param in tr.params:
                for part in self.safe_format(param, tr.pos):
                    self.pvar(part)


def compile_config(config: ast.Config, *, resolve: bool = True,
                   missing_module: MissingModuleHook | None = None,
                   extra_modules: Iterable[tuple[Exports, ast.Pos]] = ()) -> CompiledConfig:
    """Check and resolve a parsed config; raise ConfigError with every problem found.
    `missing_module` may supply a declaration for a module kampy cannot find, and `extra_modules`
    declarations to load after the config's own, each shown at a position (stand-ins: those of
    `kampy check --allow-missing` and of the testing plugin)."""
    return Resolver(config, resolve, missing_module, extra_modules).run()
