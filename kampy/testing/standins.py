"""Stand-ins: Python in place of what kampy lacks, so the routing logic around it can be tested.

A config may use only what kampy implements or what the test stands in; anything else is refused
when the config loads, all of it listed at once (`StandInError`), as `kampy check` lists it
(`kampy check --allow-missing` as warnings). What kampy lacks is found by
`kampy.config.lacking`; Kamailio 5.6's declarations of its modules say what a stood-in module
offers (`kampy.config.kamailio_modules`).

* A function: `standins={"pike_check_req": 1}`, a return code or a callable
  `fn(ctx, *args) -> int` (None counts as 1; `ctx` is a `StandInContext`). Standing in a
  function of a module kampy does not have stands the module in, but then every function the
  config calls of it needs one.
* A whole module: `standins={"htable": stand_in(...)}`: its parameters (any value of the declared
  type, kept in `.params`), its functions (the return code `default`, or those given), its
  pseudo-variables (values kept in `.pvars`) and its transformations (the value unchanged, or a
  callable). For a module kampy has, only what kampy lacks of it (pv's `$sel`).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from kampy.config import ast
from kampy.config.lacking import (
    FUNCTION_HANDLER,
    Lacking,
    ModuleUse,
    standin_exports,
)
from kampy.module import Exports
from kampy.testing.context import StandInContext

log = logging.getLogger("kampy.testing")

FunctionStandIn = Union[int, Callable[..., Any]]
PVStandIn = Union[dict[str, Any], Callable[..., Any]]


class StandInError(Exception):
    """The config uses what kampy lacks and the test stood it not in (every such thing listed), or
    a stand-in names something the config does not use."""


@dataclass
class ModuleStandIn:
    """A whole module's stand-in; make it with `stand_in(...)`."""

    functions: dict[str, FunctionStandIn] = field(default_factory=dict)
    default: int = 1
    pvars: dict[str, PVStandIn] = field(default_factory=dict)
    transforms: dict[str, Callable[..., Any]] = field(default_factory=dict)
    strict: bool = False  # from function stand-ins only: each called function needs its own


def stand_in(functions: Mapping[str, FunctionStandIn] | None = None, *, default: int = 1,
             pvars: Mapping[str, PVStandIn] | None = None,
             transforms: Mapping[str, Callable[..., Any]] | None = None) -> ModuleStandIn:
    """Stand in a whole module (the key in `standins=` is its name).

    `functions`: name -> return code or `fn(ctx, *args)`; the others return `default`.
    `pvars`: class -> `{name: value}` (the values `$sht(name)` reads; assignments change them) or
    `fn(ctx, name) -> value` (reads; assignments are kept in the stand-in's `.pvars`).
    `transforms`: class -> `fn(value, name, *params) -> value`; the others leave the value as is."""
    return ModuleStandIn(dict(functions or {}), default, dict(pvars or {}), dict(transforms or {}))


StandIn = Union[FunctionStandIn, ModuleStandIn]


class StandInCalls:
    """Every call of a stand-in function, in order: `(function, args)`; args as the config gave
    them (formatted strings)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.modules: dict[str, StandInModule] = {}

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [args for fn, args in self.calls if fn == name]


class StandInModule:
    """The module instance behind a stand-in: `params` (the modparam values), `pvars` (class ->
    name -> value), and one handler per function."""

    def __init__(self, name: str, spec: ModuleStandIn, exports: Exports, params: dict[str, Any],
                 core: Any, record: StandInCalls) -> None:
        self.name = name
        self.params = {k: v for k, v in params.items() if v is not None}
        self.pvars: dict[str, dict[str, Any]] = {
            cls: dict(given) for cls, given in spec.pvars.items() if isinstance(given, dict)}
        self._spec = spec
        self._core = core
        for func in exports.functions:
            behaviour = spec.functions.get(func.name, spec.default)
            setattr(self, func.handler_name, _handler(func.name, behaviour, record))
        record.modules[name] = self

    def pv_standin(self, spec: ast.PVar) -> _PV:
        return _PV(self, spec.cls, _name_of(self._core, spec.arg or ""))

    def tr_standin(self, tr: ast.Transform) -> Callable[[Any, Any], Any]:
        fn = self._spec.transforms.get(tr.cls)
        params = [_name_of(self._core, p) for p in tr.params]
        if fn is None:
            return lambda ctx, value: value
        return lambda ctx, value: fn(value, tr.name, *(p(ctx) for p in params))


def _name_of(core: Any, text: str) -> Callable[[Any], str]:
    """A PV's name or a transformation's parameter, formatted per message when it holds PVs."""
    if "$" not in text:
        return lambda ctx: text
    return core.formatter(text)


class _PV:
    """`$sht(name)` of a stand-in: reads the given value (or asks the given function), writes keep
    the value in the stand-in's `pvars`."""

    def __init__(self, module: StandInModule, cls: str, name: Callable[[Any], str]) -> None:
        self.module, self.cls, self.name = module, cls, name

    def get(self, ctx: Any) -> Any:
        given = self.module._spec.pvars.get(self.cls)
        name = self.name(ctx)
        if callable(given):
            return given(StandInContext(ctx), name)
        return self.module.pvars.get(self.cls, {}).get(name)

    def set(self, ctx: Any, value: Any) -> None:
        store = self.module.pvars.setdefault(self.cls, {})
        name = self.name(ctx)
        if value is None:
            store.pop(name, None)
        else:
            store[name] = value


def _handler(name: str, behaviour: FunctionStandIn, record: StandInCalls) -> Callable[..., int]:
    def call(ctx: Any, *args: Any) -> int:
        record.calls.append((name, args))
        if callable(behaviour):
            ret = behaviour(StandInContext(ctx), *args)
            return 1 if ret is None else int(ret)
        return int(behaviour)
    call.__name__ = name
    return call


# ---------------------------------------------------------------- planning


@dataclass
class Plan:
    """What to load in place of what kampy lacks: declarations (with their factories) for the
    modules kampy does not have, and extra modules for what kampy's modules lack."""

    missing: dict[str, Exports] = field(default_factory=dict)
    extra: list[tuple[Exports, ast.Pos]] = field(default_factory=list)


def plan(lacking: Lacking, standins: Mapping[str, StandIn], record: StandInCalls) -> Plan:
    """Match the test's stand-ins with what the config uses that kampy lacks; StandInError lists
    everything lacking without a stand-in, and every stand-in that stands in nothing."""
    specs, problems = _specs(lacking, standins)
    result = Plan()
    for name in [*lacking.modules, *(n for n in specs if n not in lacking.modules)]:
        use = lacking.modules.get(name) or ModuleUse(name, ast.NOWHERE, missing=False)
        spec = specs.get(name)
        if not use:
            if spec is not None and (spec.functions or spec.pvars or spec.transforms) and not spec.strict:
                problems.append(f"stand-in for module {name}: kampy has all the config uses of it "
                                "(a stand-in replaces only what kampy lacks)")
            elif spec is not None:
                log.info("stand-in for module %s: kampy has all the config uses of it", name)
            continue
        if spec is None:
            problems.append(use.describe())
            continue
        without = [f for f in use.functions if f not in spec.functions] if spec.strict else []
        if without or (spec.strict and (use.pvars or use.transforms)):
            problems.append(f"module {name}: {_strict_missing(use, without)}")
            continue
        exports = _with_factory(use, spec, record)
        if use.missing:
            result.missing[name] = exports
        else:
            result.extra.append((exports, use.loaded_at))
    if problems:
        raise StandInError(_problem_text(problems, lacking, standins))
    return result


def _specs(lacking: Lacking, standins: Mapping[str, StandIn]) -> tuple[dict[str, ModuleStandIn], list[str]]:
    """The test's stand-ins by module: whole-module ones as given, function ones gathered into a
    strict module stand-in of the module that lacks the function."""
    specs: dict[str, ModuleStandIn] = {}
    problems: list[str] = []
    for key, value in standins.items():
        if isinstance(value, ModuleStandIn):
            if key not in lacking.loaded:
                problems.append(f"stand-in for module {key}: the config does not load it "
                                f"(it loads what kampy lacks of: {', '.join(lacking.modules) or 'nothing'})")
                continue
            specs[key] = dataclasses.replace(value, functions=dict(value.functions))
    for key, value in standins.items():
        if isinstance(value, ModuleStandIn):
            continue
        owner = lacking.functions.get(key, ("", []))[0]
        if owner in ("", "?"):
            owner = lacking.missing[0] if owner == "?" and len(lacking.missing) == 1 else owner
        if owner in ("", "?"):
            problems.append(f"stand-in {key!r}: the config calls no function {key}() that kampy lacks "
                            "(stand-ins replace only what kampy lacks)")
            continue
        spec = specs.setdefault(owner, ModuleStandIn(strict=True))
        spec.functions[key] = value
    return specs, problems


def _strict_missing(use: ModuleUse, functions: list[str]) -> str:
    parts = [f"{f}() {_where(use.functions[f])}" for f in functions]
    parts += [f"${pv} {_where(pos)}" for pv, pos in use.pvars.items()]
    parts += [f"{{{cls}...}}" for cls in use.transforms]
    return ("the test stood in some of its functions, not " + ", ".join(parts)
            + f" (give them too, or stand in the whole module: \"{use.module}\": stand_in())")


def _where(positions: list[ast.Pos]) -> str:
    return "(line " + ", ".join(str(p.line) for p in positions[:5]) + ")"


def _problem_text(problems: list[str], lacking: Lacking, standins: Mapping[str, StandIn]) -> str:
    needed = [n for n, use in lacking.modules.items() if use and n not in standins]
    example = ", ".join(f'"{n}": stand_in()' for n in needed)
    hint = ""
    if needed:
        hint = ("\nstand them in (docs/testing-your-cfg.md, stand-ins), e.g.\n"
                f"    kampy_cfg(..., standins={{{example}}})  # from kampy.testing import stand_in")
    return ("the config uses what kampy lacks, with no stand-in:\n"
            + "\n".join(f"  {p}" for p in problems) + hint)


def _with_factory(use: ModuleUse, spec: ModuleStandIn, record: StandInCalls) -> Exports:
    exports = standin_exports(use)
    names = {f.name for f in exports.functions}
    unknown = [f"{f}()" for f in spec.functions if f not in names]
    unknown += [f"${cls}" for cls in spec.pvars if cls not in {pv.name for pv in exports.pvars}]
    unknown += [f"{{{cls}...}}" for cls in spec.transforms if cls not in {t.name for t in exports.transforms}]
    if unknown:
        what = "Kamailio's module declares" if use.missing else "the config uses that kampy's module lacks"
        raise StandInError(f"stand-in for module {use.module}: {', '.join(unknown)} is nothing {what}")

    def factory(params: dict[str, Any], core: Any) -> StandInModule:
        return StandInModule(use.module, spec, exports, params, core, record)
    log.info("module %s: a stand-in for %s", use.module, "; ".join(use.parts()) or "nothing used")
    return dataclasses.replace(exports, factory=factory)


__all__ = ["FUNCTION_HANDLER", "ModuleStandIn", "Plan", "StandIn", "StandInCalls", "StandInError",
           "StandInModule", "plan", "stand_in"]
