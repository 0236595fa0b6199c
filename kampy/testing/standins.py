"""Stand-ins: Python replacements for functions of modules kampy lacks (or does not implement yet),
so the routing logic around them can be tested.

A stand-in is a return code (`1`, `-1`) or a callable `fn(ctx, *args) -> int` (None counts as 1).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, Union

from kampy.config import ast
from kampy.config.compile import CompiledConfig
from kampy.config.lacking import Lacking, implemented
from kampy.module import Arg, ArgKind, Exports, Function, Param

log = logging.getLogger("kampy.testing")

StandIn = Union[int, Callable[..., Any]]


class StandInError(Exception):
    """The config calls a function kampy lacks and the test gave it no stand-in."""


class StandInCalls:
    """Every call of a stand-in, in order: `(function, args)`; args as the config gave them
    (formatted strings for the usual arguments)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [args for fn, args in self.calls if fn == name]


class StandInModule:
    """The instance behind a stand-in module: one method per stand-in function."""

    def __init__(self, standins: Mapping[str, StandIn], record: StandInCalls) -> None:
        for name, standin in standins.items():
            setattr(self, name, _handler(name, standin, record))


def _handler(name: str, standin: StandIn, record: StandInCalls) -> Callable[..., int]:
    def call(ctx: Any, *args: Any) -> int:
        record.calls.append((name, args))
        if callable(standin):
            ret = standin(ctx, *args)
            return 1 if ret is None else int(ret)
        return int(standin)
    call.__name__ = name
    return call


def _function(name: str) -> Function:
    return Function(name, args=(Arg("arg", ArgKind.FMT),), min_args=0, varargs=True,
                    doc="a test's stand-in")


def modparam_names(config: ast.Config, module: str) -> list[str]:
    return list(dict.fromkeys(item.name for item in config.items
                              if isinstance(item, ast.ModParam) and item.module == module))


def assign(lacking: Lacking, standins: Mapping[str, StandIn]) -> dict[str, dict[str, StandIn]]:
    """module -> {function: stand-in}. Refuses (StandInError) when a function the config calls
    from a missing module has no stand-in."""
    needed = {name: module for name, (module, _) in lacking.functions.items()}
    without = [name for name, module in needed.items() if module in lacking.missing and name not in standins]
    if without:
        lines = [f"  {n}() called at line(s) {', '.join(str(p.line) for p in lacking.functions[n][1])}"
                 for n in without]
        example = ", ".join(f"{n!r}: 1" for n in without)
        raise StandInError("the config calls functions of modules kampy lacks ("
                           + ", ".join(lacking.missing) + "):\n" + "\n".join(lines)
                           + f"\ngive them stand-ins, e.g. kampy_cfg(..., standins={{{example}}})")
    by_module: dict[str, dict[str, StandIn]] = {}
    first_missing = lacking.missing[0] if lacking.missing else None
    for name, standin in standins.items():
        module = needed.get(name)
        if module in (None, "?"):
            module = first_missing
        if module is None:
            raise StandInError(f"stand-in {name!r}: the config calls no function {name}() that kampy "
                               "lacks (stand-ins replace only functions of modules kampy lacks or does "
                               "not implement yet)")
        by_module.setdefault(module, {})[name] = standin
    return by_module


def missing_module_exports(config: ast.Config, name: str, standins: Mapping[str, StandIn],
                           record: StandInCalls) -> Exports:
    """A declaration for a module kampy lacks: its stand-in functions (any arguments, any route)
    and every parameter the config sets for it (any value)."""
    params = tuple(Param(p, (int, str), multi=False) for p in modparam_names(config, name))
    return Exports(name=name, doc="stand-in module (kampy.testing)", params=params,
                   functions=tuple(_function(f) for f in standins),
                   factory=lambda _params, _core: StandInModule(standins, record))


def patch_unimplemented(compiled: CompiledConfig, by_module: Mapping[str, Mapping[str, StandIn]],
                        record: StandInCalls) -> None:
    """Give modules kampy declares but does not implement yet an instance made of stand-ins."""
    for name, standins in by_module.items():
        mod = compiled.modules.get(name)
        if mod is None or mod.origin == "stand-in":
            continue
        exports = mod.exports
        lacking = [f.name for f in exports.functions if f.name in standins
                   and not implemented(exports, f.handler_name)]
        if exports.factory is not None:
            raise StandInError(f"module {name} is implemented by kampy; stand-ins are only for functions "
                               f"of modules kampy lacks (not {', '.join(standins)})")
        handlers = {f.handler_name: standins[f.name] for f in exports.functions if f.name in lacking}
        mod.exports = dataclasses.replace(
            exports, factory=lambda _params, _core, h=handlers: StandInModule(h, record))
        log.info("module %s: stand-ins for %s", name, ", ".join(sorted(lacking)))
