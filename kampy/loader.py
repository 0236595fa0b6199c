"""Finding modules by the name a config gives in `loadmodule`.

`loadmodule "tm.so"`, `"tm"` and `"/usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so"` all name the
module `tm` (so do `"/x/tm.py"` and a package folder `"/x/tm"`). Places searched, in order: the
folder of a path given to `loadmodule`, then the `loadpath`/`mpath` folders, each for a package
`tm/`, a file `tm.py` or a package `kampy_tm/` (the source folder of a distribution such as
samples/modules/kampy-hello); then installed distributions that declare the module in the
`kampy.modules` entry point group (`tm = some_package:EXPORTS`); then kampy's built-in modules.
The first found wins, so a folder on `loadpath` can replace a built-in module.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import kampy.modules as builtin_modules
from kampy.module import Exports

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "kampy.modules"


class ModuleNotFound(LookupError):
    def __init__(self, name: str, searched: list[str]):
        self.name = name
        self.searched = searched
        super().__init__(f"module '{name}' not found (looked in: {', '.join(searched)})")


@dataclass(frozen=True)
class FoundModule:
    exports: Exports
    origin: str
    folder: Path | None = None  # the module's package folder (where its README.md lives)


def module_name(path: str) -> str:
    """`/x/y/tm.so` -> `tm` (and `hello.py` or a package folder `/x/hello` -> `hello`)."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    return base[:-3] if base.endswith((".so", ".py")) else base


def search_dirs(path: str, load_paths: list[str]) -> list[Path]:
    dirs = [Path(p) for lp in load_paths for p in lp.split(":") if p]
    if "/" in path:
        dirs.insert(0, Path(path).parent)
    return dirs


def _exports_of(obj: object, origin: str) -> Exports:
    exports = obj if isinstance(obj, Exports) else getattr(obj, "EXPORTS", None)
    if not isinstance(exports, Exports):
        raise ImportError(f"{origin} does not define EXPORTS (a kampy.module.Exports)")
    return exports


def _load_from_dir(directory: Path, name: str) -> FoundModule | None:
    candidates = (directory / name / "__init__.py", directory / f"{name}.py",
                  directory / f"kampy_{name}" / "__init__.py")  # a distribution's source folder
    for candidate in candidates:
        if candidate.is_file():
            qualified = f"kampy_ext_{name}"
            package_dirs = [str(candidate.parent)] if candidate.name == "__init__.py" else None
            spec = importlib.util.spec_from_file_location(
                qualified, candidate, submodule_search_locations=package_dirs)
            if spec is None or spec.loader is None:
                continue
            mod = importlib.util.module_from_spec(spec)
            sys.modules[qualified] = mod
            spec.loader.exec_module(mod)
            folder = candidate.parent if candidate.name == "__init__.py" else None
            return FoundModule(_exports_of(mod, str(candidate)), str(candidate), folder)
    return None


@cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


@cache
def builtin_names() -> tuple[str, ...]:
    return tuple(sorted(m.name for m in pkgutil.iter_modules(builtin_modules.__path__) if m.ispkg))


@cache
def load_builtin(name: str) -> Exports:
    return _exports_of(importlib.import_module(f"kampy.modules.{name}"), f"kampy.modules.{name}")


def find_module(path: str, load_paths: list[str] | None = None) -> FoundModule:
    name = module_name(path)
    searched: list[str] = []
    for directory in search_dirs(path, load_paths or []):
        searched.append(str(directory))
        found = _load_from_dir(directory, name)
        if found:
            return found
    searched.append(f"entry points '{ENTRY_POINT_GROUP}'")
    ep = _entry_points().get(name)
    if ep is not None:
        obj = ep.load()
        return FoundModule(_exports_of(obj, f"entry point {ep.value}"), f"entry point {ep.value}",
                           _folder_of(ep.module))
    searched.append("kampy's built-in modules")
    if name in builtin_names():
        return FoundModule(load_builtin(name), f"built-in modules.{name}",
                           Path(builtin_modules.__path__[0]) / name)
    raise ModuleNotFound(name, searched)


def _folder_of(dotted: str) -> Path | None:
    """The package folder of an entry point's module (None for a single-file module)."""
    path = getattr(sys.modules.get(dotted), "__file__", None)
    return Path(path).parent if path and Path(path).name == "__init__.py" else None


def all_known_names() -> list[str]:
    return sorted(set(builtin_names()) | set(_entry_points()))
