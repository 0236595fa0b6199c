"""Resolve a parsed config against the modules it loads.

Every function, parameter, route name, pseudo-variable and transformation is checked once, here,
against the module declarations (`kampy.module.Exports`) that the runtime uses too. All errors are
collected (not just the first) so `kampy check` can report every one with its position.
This file holds the top level (core parameters, modules, modparams, routes); the checks of what the
routes do are in compile_routes.py.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kampy import loader
from kampy.config import ast, core_ignored, core_params
from kampy.config.cfgcheck import check_cfg
from kampy.config.core import CORE_EXPORTS, CORE_PARAMS
from kampy.config.compile_routes import RouteChecks, plain_value, suggest
from kampy.errors import ConfigError, Diagnostic
from kampy.runtime.selects import SelectTable
from kampy.module import ROUTE_KIND_NAMES, Exports, Function, PVClass, Unimplemented, route_type_of

# Pseudo-variables the core itself registers (src/core/pv_core.c).
CORE_PVARS: tuple[PVClass, ...] = (
    PVClass("?"), PVClass("rc"), PVClass("retcode"),
    PVClass("env", arg="required"), PVClass("envn", arg="required"),
    PVClass("def", arg="required"), PVClass("defn", arg="required"),
    PVClass("defv", arg="required"), PVClass("defs", arg="required"),
    PVClass("iuid"),
)


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


def _value_pos(value: ast.Node | tuple, default: ast.Pos) -> ast.Pos:
    first = value[0] if isinstance(value, tuple) and value else value
    pos = getattr(first, "pos", None)
    return pos if pos is not None and pos.line else default


# Given the name of a module kampy cannot find, a declaration to use in its place (the testing
# plugin's stand-ins), or None to report it missing.
MissingModuleHook = Callable[[str], "Exports | None"]


class Resolver(RouteChecks):
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
            self.load_paths.append(str(plain_value(item.value)))
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
        value = checked.value if isinstance(checked.value, ast.ListenValue) else plain_value(checked.value)
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

def compile_config(config: ast.Config, *, resolve: bool = True,
                   missing_module: MissingModuleHook | None = None,
                   extra_modules: Iterable[tuple[Exports, ast.Pos]] = ()) -> CompiledConfig:
    """Check and resolve a parsed config; raise ConfigError with every problem found.
    `missing_module` may supply a declaration for a module kampy cannot find, and `extra_modules`
    declarations to load after the config's own, each shown at a position (stand-ins: those of
    `kampy check --allow-missing` and of the testing plugin)."""
    return Resolver(config, resolve, missing_module, extra_modules).run()
