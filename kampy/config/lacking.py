"""Which functions a config calls that kampy cannot run: those of modules kampy does not have
(`loadmodule "rtpengine.so"`) and those of modules it declares but does not implement yet.

`kampy check` prints them as a note; the testing plugin uses them to build stand-in modules.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from kampy import loader
from kampy.config import ast
from kampy.config.core import CORE_EXPORTS
from kampy.module import Exports


@dataclass
class Lacking:
    """`missing`: loadmodule names kampy has no module for. `functions`: function name -> the
    module that should provide it ("?" when unknown) and where the config calls it."""

    missing: list[str] = field(default_factory=list)
    functions: dict[str, tuple[str, list[ast.Pos]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.missing or self.functions)

    def note(self) -> str:
        """One note for `kampy check`, or "" when nothing lacks."""
        if not self.functions:
            return ""
        parts = []
        for name, (module, positions) in sorted(self.functions.items()):
            lines = ", ".join(str(p.line) for p in positions[:5]) + (", ..." if len(positions) > 5 else "")
            parts.append(f"  {name}() [{module}] line{'s' if len(positions) > 1 else ''} {lines}")
        return ("note: the config uses functions kampy lacks (tests can give them stand-ins, see "
                "docs/testing-your-cfg.md):\n" + "\n".join(parts))


def calls(node: object) -> Iterator[ast.Call]:
    """Every function call in a node, depth first, in source order."""
    if isinstance(node, ast.Call):
        yield node
    if isinstance(node, tuple):
        for item in node:
            yield from calls(item)
    elif isinstance(node, ast.Node):
        for f in dataclasses.fields(node):
            if f.name != "pos":
                yield from calls(getattr(node, f.name))


def loaded_modules(config: ast.Config) -> tuple[dict[str, Exports], list[str]]:
    """The modules a config loads, found as the compiler finds them, and the names not found."""
    load_paths: list[str] = []
    found: dict[str, Exports] = {}
    missing: list[str] = []
    for item in config.items:
        if isinstance(item, ast.LoadPath):
            load_paths.append(item.path)
        elif isinstance(item, ast.CoreParam) and item.name in ("mpath", "loadpath"):
            value = item.value
            load_paths.append(str(getattr(value, "value", value)))
        elif isinstance(item, ast.LoadModule):
            name = loader.module_name(item.path)
            try:
                found[name] = loader.find_module(item.path, load_paths).exports
            except loader.ModuleNotFound:
                if name not in missing:
                    missing.append(name)
            except Exception:  # noqa: BLE001 - a broken module is reported by the compiler
                continue
    return found, missing


def implemented(exports: Exports, handler: str) -> bool:
    """Whether a module's declared function has an implementation (its factory has the method)."""
    factory = exports.factory
    if factory is None:
        return False
    return not isinstance(factory, type) or hasattr(factory, handler)


def lacking_functions(config: ast.Config) -> Lacking:
    found, missing = loaded_modules(config)
    result = Lacking(missing=missing)
    core_names = {f.name for f in CORE_EXPORTS.functions}
    for route in (i for i in config.items if isinstance(i, ast.Route)):
        for call in calls(route.body):
            if call.name in core_names:
                continue
            owner = _owner(call.name, found, missing)
            if owner is not None:
                entry = result.functions.setdefault(call.name, (owner, []))
                entry[1].append(call.pos)
    return result


def _owner(name: str, found: dict[str, Exports], missing: list[str]) -> str | None:
    """The module lacking `name`, or None when kampy can run it (or it is simply unknown)."""
    for mod_name, exports in found.items():
        funcs = exports.functions_named(name)
        if funcs:
            return None if any(implemented(exports, f.handler_name) for f in funcs) else mod_name
    if not missing or _builtin_has(name):
        return None
    guess = next((m for m in missing if re.match(re.escape(m) + r"(_|$)", name)), None)
    return guess or (missing[0] if len(missing) == 1 else "?")


def _builtin_has(name: str) -> bool:
    """Whether one of kampy's own modules declares `name` (the config just does not load it)."""
    for mod_name in loader.builtin_names():
        try:
            if loader.load_builtin(mod_name).functions_named(name):
                return True
        except ImportError:
            continue
    return False
