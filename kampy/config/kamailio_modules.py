"""What each of Kamailio 5.6's modules declares to its core: parameters (integer or string),
functions (argument counts, route types), pseudo-variable classes and transformation classes.

The data (`kamailio_modules.json`, next to this file) is written by scripts/gen_kamailio_modules.py
from the module manifests in tests/data/kamailio-modules (Kamailio 5.6.3's export tables).
`kampy check --allow-missing` and the testing plugin's stand-ins use it for modules kampy does not
have, and to tell which module of a config a pseudo-variable, function or transformation kampy
lacks belongs to.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from kampy.module import RouteType

VAR_PARAM_NO = -128  # Kamailio's "any number of arguments"
DATA = Path(__file__).with_name("kamailio_modules.json")


@dataclass(frozen=True)
class KamailioFunction:
    name: str
    counts: tuple[int, ...]  # the argument counts it is exported with; VAR_PARAM_NO: any
    routes: RouteType

    @property
    def varargs(self) -> bool:
        return VAR_PARAM_NO in self.counts


@dataclass(frozen=True)
class KamailioPV:
    name: str
    takes_name: bool  # `$sht(name)`: the class parses a name in parentheses
    writable: bool


@dataclass(frozen=True)
class KamailioModule:
    name: str
    params: dict[str, tuple[type, ...]]
    functions: dict[str, KamailioFunction]
    pvars: dict[str, KamailioPV]
    transforms: dict[str, tuple[str, ...]]  # class -> the names it offers (`s` -> `len`, `substr`, ...)


@functools.cache
def _data() -> dict[str, dict]:
    return json.loads(DATA.read_text())["modules"]  # type: ignore[no-any-return]


def names() -> list[str]:
    """Every module of Kamailio 5.6, by name."""
    return sorted(_data())


@functools.cache
def module(name: str) -> KamailioModule | None:
    """Kamailio 5.6's declaration of module `name`, or None when Kamailio has no such module."""
    raw = _data().get(name)
    if raw is None:
        return None
    kinds = {"int": int, "str": str}
    return KamailioModule(
        name=name,
        params={p: tuple(kinds[t] for t in types) for p, types in raw["params"].items()},
        functions={f: KamailioFunction(f, tuple(d["args"]), RouteType(d["routes"]))
                   for f, d in raw["functions"].items()},
        pvars={pv: KamailioPV(pv, d["name"], d["writable"]) for pv, d in raw["pvars"].items()},
        transforms={cls: tuple(names) for cls, names in raw["transforms"].items()},
    )
