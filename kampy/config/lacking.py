"""What a config uses that kampy cannot run: modules kampy does not have (`loadmodule
"htable.so"`) with everything the config uses of them, and the parts of modules kampy has that it
lacks (a function it declares but does not implement, `$sel` of pv).

One analysis for both tools, so they agree: `kampy check` fails on it unless `--allow-missing`
(then each is a warning, and the config is checked against stand-in declarations made from
Kamailio 5.6's own, see `kampy.config.kamailio_modules`); the testing plugin refuses to load the
config until the test stands each of them in, listing all of them at once.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kampy import loader
from kampy.config import ast
from kampy.config import kamailio_modules as kamailio
from kampy.config.core import CORE_EXPORTS
from kampy.config.pvparse import PVSyntaxError, parse_format
from kampy.errors import Diagnostic
from kampy.module import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, TransformClass

# The handlers a stand-in instance has (kampy.testing.standins): one per function, one for every
# pseudo-variable class (it gets the spec), one for every transformation class.
FUNCTION_HANDLER = "standin_{}"
PV_HANDLER = "pv_standin"
TRANSFORM_HANDLER = "tr_standin"

Uses = dict[str, list[ast.Pos]]


@dataclass
class ModuleUse:
    """What a config uses of module `module` that kampy lacks: all of it when kampy has no such
    module (`missing`), else the parts kampy's module lacks. Each name maps to where it is used."""

    module: str
    loaded_at: ast.Pos
    missing: bool
    params: Uses = field(default_factory=dict)
    functions: Uses = field(default_factory=dict)
    pvars: Uses = field(default_factory=dict)
    transforms: dict[str, Uses] = field(default_factory=dict)  # class -> name -> positions

    def __bool__(self) -> bool:
        return self.missing or bool(self.functions or self.pvars or self.transforms)

    def parts(self) -> list[str]:
        """What is used, in words: `parameters a, b (lines 3, 4); $sht (line 9)`."""
        out = []
        if self.params:
            out.append(f"parameter{'s' if len(self.params) > 1 else ''} {_listed(self.params)}")
        out += [f"{name}() {_lines(pos)}" for name, pos in self.functions.items()]
        out += [f"${name} {_lines(pos)}" for name, pos in self.pvars.items()]
        out += [f"{{{cls}.{name}}} {_lines(pos)}" for cls, names in self.transforms.items()
                for name, pos in names.items()]
        return out

    def describe(self) -> str:
        parts = self.parts()
        used = "; ".join(parts) if parts else "the config uses nothing of it"
        if self.missing:
            return (f"module {self.module} (loaded at line {self.loaded_at.line}), which kampy does not "
                    f"have: {used}")
        return f"module {self.module}: what kampy's module lacks: {used}"


def _lines(positions: list[ast.Pos]) -> str:
    lines = sorted({p.line for p in positions})
    shown = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
    return f"(line{'s' if len(lines) > 1 else ''} {shown})"


def _listed(uses: Uses) -> str:
    lines = sorted({p.line for pos in uses.values() for p in pos})
    shown = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
    return ", ".join(uses) + f" (line{'s' if len(lines) > 1 else ''} {shown})"


@dataclass
class Lacking:
    """`missing`: loadmodule names kampy has no module for. `modules`: per module, what the config
    uses that kampy lacks (every missing module is there). `functions`: function name -> the
    module that should provide it ("?" when unknown) and where the config calls it."""

    missing: list[str] = field(default_factory=list)
    modules: dict[str, ModuleUse] = field(default_factory=dict)
    functions: dict[str, tuple[str, list[ast.Pos]]] = field(default_factory=dict)
    loaded: list[str] = field(default_factory=list)  # every module the config loads, in order

    def __bool__(self) -> bool:
        return any(self.modules.values()) or bool(self.functions)

    def describe(self) -> list[str]:
        """One line per module, for error messages and notes."""
        return [use.describe() for use in self.modules.values() if use]

    def note(self) -> str:
        """One note for `kampy check`, or "" when nothing lacks."""
        if not self:
            return ""
        return ("note: the config uses what kampy lacks (`kampy check --allow-missing` checks the rest; "
                "tests stand these in, see docs/testing-your-cfg.md):\n"
                + "\n".join("  " + line for line in self.describe()))


# ---------------------------------------------------------------- walking the config


def _nodes(node: object) -> Iterator[object]:
    """A node and every node under it, depth first, in source order."""
    yield node
    if isinstance(node, tuple):
        children: list[object] = list(node)
    elif isinstance(node, ast.Node):
        children = [getattr(node, f.name) for f in dataclasses.fields(node) if f.name != "pos"]
    else:
        return
    for child in children:
        yield from _nodes(child)


def calls(node: object) -> Iterator[ast.Call]:
    """Every function call in a node, depth first, in source order."""
    return (n for n in _nodes(node) if isinstance(n, ast.Call))


def pvars(node: object) -> Iterator[ast.PVar]:
    """Every pseudo-variable in a node, also those inside strings (function arguments), inside
    other PV names and in transformation parameters."""
    for found in _nodes(node):
        if isinstance(found, ast.PVar):
            yield found
            for text in (found.arg, found.index, *(p for tr in found.transforms for p in tr.params)):
                if text and "$" in text:
                    yield from _in_text(text, found.pos)
        elif isinstance(found, ast.Str) and "$" in found.value:
            yield from _in_text(found.value, found.pos)


def _in_text(text: str, pos: ast.Pos) -> Iterator[ast.PVar]:
    try:
        parts = parse_format(text, pos)
    except PVSyntaxError:
        return
    for part in parts:
        if isinstance(part, ast.PVar):
            yield from pvars(part)


# ---------------------------------------------------------------- modules


def loaded_modules(config: ast.Config) -> tuple[dict[str, Exports], list[str]]:
    """The modules a config loads, found as the compiler finds them, and the names not found."""
    found, missing, _ = _loaded(config)
    return found, missing


def _loaded(config: ast.Config) -> tuple[dict[str, Exports], list[str], dict[str, ast.Pos]]:
    load_paths: list[str] = []
    found: dict[str, Exports] = {}
    missing: list[str] = []
    where: dict[str, ast.Pos] = {}
    for item in config.items:
        if isinstance(item, ast.LoadPath):
            load_paths.append(item.path)
        elif isinstance(item, ast.CoreParam) and item.name in ("mpath", "loadpath"):
            value = item.value
            load_paths.append(str(getattr(value, "value", value)))
        elif isinstance(item, ast.LoadModule):
            name = loader.module_name(item.path)
            where.setdefault(name, item.pos)
            try:
                found[name] = loader.find_module(item.path, load_paths).exports
            except loader.ModuleNotFound:
                if name not in missing:
                    missing.append(name)
            except Exception:  # noqa: BLE001 - a broken module is reported by the compiler
                continue
    return found, missing, where


def implemented(exports: Exports, handler: str) -> bool:
    """Whether a module's declared function has an implementation (its factory has the method)."""
    factory = exports.factory
    if factory is None:
        return False
    return not isinstance(factory, type) or hasattr(factory, handler)


def lacking_functions(config: ast.Config) -> Lacking:
    """What the config uses that kampy lacks (the name is older than the pseudo-variables)."""
    found, missing, where = _loaded(config)
    result = Lacking(missing=missing, loaded=list(where))
    for name in missing:
        result.modules[name] = ModuleUse(name, where[name], missing=True)
    _params(config, found, result)
    _functions(config, found, missing, where, result)
    _pvars_and_transforms(config, found, where, result)
    return result


def _use(result: Lacking, name: str, where: dict[str, ast.Pos]) -> ModuleUse:
    use = result.modules.get(name)
    if use is None:
        use = result.modules[name] = ModuleUse(name, where[name], missing=False)
    return use


def _params(config: ast.Config, found: dict[str, Exports], result: Lacking) -> None:
    for item in config.items:
        if not isinstance(item, ast.ModParam):
            continue
        try:
            pattern = re.compile(f"^({item.module})$", re.IGNORECASE)
        except re.error:
            continue
        for name in result.missing:
            if pattern.match(name):
                result.modules[name].params.setdefault(item.name, []).append(item.pos)


def _functions(config: ast.Config, found: dict[str, Exports], missing: list[str],
               where: dict[str, ast.Pos], result: Lacking) -> None:
    core_names = {f.name for f in CORE_EXPORTS.functions}
    for route in (i for i in config.items if isinstance(i, ast.Route)):
        for call in calls(route.body):
            if call.name in core_names:
                continue
            owner = _owner(call.name, found, missing, list(where))
            if owner is None:
                continue
            entry = result.functions.setdefault(call.name, (owner, []))
            entry[1].append(call.pos)
            if owner != "?":
                _use(result, owner, where).functions.setdefault(call.name, []).append(call.pos)


def _owner(name: str, found: dict[str, Exports], missing: list[str], loaded: list[str]) -> str | None:
    """The module lacking `name`, or None when kampy can run it (or it is simply unknown)."""
    for mod_name, exports in found.items():
        funcs = exports.functions_named(name)
        if funcs:
            return None if any(implemented(exports, f.handler_name) for f in funcs) else mod_name
    by_kamailio = [m for m in loaded
                   if (decl := kamailio.module(m)) is not None and name in decl.functions]
    if by_kamailio:
        return by_kamailio[0]
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


def _pvars_and_transforms(config: ast.Config, found: dict[str, Exports], where: dict[str, ast.Pos],
                          result: Lacking) -> None:
    from kampy.config.compile import CORE_PVARS

    known_pvs = {pv.name for pv in CORE_PVARS}
    known_trs: set[str] = set()
    for exports in found.values():
        known_pvs.update(pv.name for pv in exports.pvars
                         if implemented(exports, pv.handler or f"pv_{pv.name}"))
        known_trs.update(tc.name for tc in exports.transforms)
    routes = tuple(i for i in config.items if isinstance(i, ast.Route))
    for pv in pvars(routes):
        if pv.cls not in known_pvs and pv.cls != "null":
            owner = _kamailio_owner(list(where), lambda decl, cls=pv.cls: cls in decl.pvars)
            if owner is not None:
                _use(result, owner, where).pvars.setdefault(pv.cls, []).append(pv.pos)
        for tr in pv.transforms:
            if tr.cls in known_trs:
                continue
            owner = _kamailio_owner(list(where), lambda decl, cls=tr.cls: cls in decl.transforms)
            if owner is not None:
                names = _use(result, owner, where).transforms.setdefault(tr.cls, {})
                names.setdefault(tr.name, []).append(tr.pos)


def _kamailio_owner(loaded: list[str], has: object) -> str | None:
    for name in loaded:
        decl = kamailio.module(name)
        if decl is not None and has(decl):  # type: ignore[operator]
            return name
    return None


# ---------------------------------------------------------------- declarations to stand in


def standin_exports(use: ModuleUse, function_names: list[str] | None = None) -> Exports:
    """A declaration for what a config uses that kampy lacks of one module, from Kamailio 5.6's
    declaration of it (its parameters with their types, its functions with their argument counts
    and route types, its pseudo-variable classes) and from what the config uses of it. For a
    module kampy has, only the parts it lacks, under the name `<module>:stand-in`. No factory:
    `kampy check --allow-missing` checks against it; the testing plugin adds the behaviour."""
    decl = kamailio.module(use.module)
    params: dict[str, tuple[type, ...]] = {}
    if use.missing:  # Kamailio's parameters; for a module Kamailio has not, those the config sets
        params = dict(decl.params) if decl else {p: (int, str) for p in use.params}
    wanted = list(dict.fromkeys([*(decl.functions if decl and use.missing else ()), *use.functions,
                                 *(function_names or ())]))
    functions = tuple(_function(name, decl) for name in wanted)
    pv_names = list(dict.fromkeys([*(decl.pvars if decl and use.missing else ()), *use.pvars]))
    tr_classes = list(dict.fromkeys([*(decl.transforms if decl and use.missing else ()),
                                     *use.transforms]))
    return Exports(
        name=use.module if use.missing else f"{use.module}:stand-in",
        doc=f"stand-in for Kamailio's {use.module} module",
        params=tuple(_param(name, types) for name, types in params.items()),
        functions=functions,
        pvars=tuple(_pvar(name, decl) for name in pv_names),
        transforms=tuple(TransformClass(cls, _transform_names(cls, use, decl), handler=TRANSFORM_HANDLER)
                         for cls in tr_classes),
    )


def _param(name: str, types: tuple[type, ...]) -> Param:
    return Param(name, types, default=None, doc="a stand-in's parameter")


def _function(name: str, decl: kamailio.KamailioModule | None) -> Function:
    known = decl.functions.get(name) if decl else None
    if known is None or known.varargs:
        return Function(name, handler=FUNCTION_HANDLER.format(name), args=(Arg("arg", ArgKind.FMT),),
                        min_args=0, varargs=True, doc="a stand-in")
    args = tuple(Arg(f"arg{i + 1}", ArgKind.FMT) for i in range(max(known.counts)))
    return Function(name, handler=FUNCTION_HANDLER.format(name), args=args, min_args=min(known.counts),
                    routes=known.routes or RouteType.ANY, doc="a stand-in")


def _transform_names(cls: str, use: ModuleUse, decl: kamailio.KamailioModule | None) -> tuple[str, ...]:
    """Kamailio's names of a transformation class, or, when it lists none, those the config uses."""
    known = decl.transforms.get(cls, ()) if decl else ()
    return tuple(known) or tuple(use.transforms.get(cls, {}))


def _pvar(name: str, decl: kamailio.KamailioModule | None) -> PVClass:
    known = decl.pvars.get(name) if decl else None
    takes_name = known.takes_name if known else True
    return PVClass(name, handler=PV_HANDLER, arg="optional" if takes_name else "none",
                   writable=known.writable if known else True, doc="a stand-in")


StandIns = tuple[Callable[[str], "Exports | None"], list[tuple[Exports, ast.Pos]], list[Diagnostic]]


def allowed_missing(lacking: Lacking) -> StandIns:
    """For `kampy check --allow-missing`: the declarations to check the config against in place of
    what kampy lacks (`compile_config`'s `missing_module` hook and `extra_modules`), and one
    warning per module saying what the config uses that kampy lacks."""
    missing = {name: standin_exports(use) for name, use in lacking.modules.items() if use.missing}
    extra = [(standin_exports(use), use.loaded_at) for use in lacking.modules.values()
             if use and not use.missing]
    warnings = []
    for use in lacking.modules.values():
        if not use:
            continue
        known = " (nor has Kamailio 5.6)" if kamailio.module(use.module) is None else ""
        what = "; ".join(use.parts()) or "nothing of it is used"
        if use.missing:
            text = f"kampy has no module '{use.module}'{known}: {what}"
        else:
            text = f"kampy's module '{use.module}' lacks what the config uses: {what}"
        warnings.append(Diagnostic(use.loaded_at, text + "; a test must stand it in", "warning"))
    return missing.get, extra, warnings
