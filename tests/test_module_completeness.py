"""Every kampy module offers everything its Kamailio 5.6 namesake offers, or says what it leaves out.

The manifests in tests/data/kamailio-modules (made by scripts/kamailio_manifest.py from Kamailio
5.6.3's source; see the README there) list each module's parameters, functions with every argument
count and its route types, pseudo-variable classes, transformations, statistics, RPC methods and
event routes. For each kampy module (found, not listed here) every item must be declared in its
EXPORTS under Kamailio's name, or be in its `not_implemented` with a reason; a function may not be
refused where Kamailio accepts it (an argument count or a route type).

When this fails for a module you work on: declare the item, or add
`Unimplemented(kind, name, reason)` to the module's `not_implemented` (then `kampy doc NAME --write`).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kampy import loader
from kampy.module import Exports, Function, RouteType, Unimplemented

MANIFESTS = Path(__file__).resolve().parent / "data" / "kamailio-modules"
# Kamailio's names of the route-type bits (src/core/route.h)
ROUTE_BITS = {
    "REQUEST_ROUTE": RouteType.REQUEST, "FAILURE_ROUTE": RouteType.FAILURE,
    "TM_ONREPLY_ROUTE": RouteType.TM_ONREPLY, "BRANCH_ROUTE": RouteType.BRANCH,
    "ONSEND_ROUTE": RouteType.ONSEND, "ERROR_ROUTE": RouteType.ERROR, "LOCAL_ROUTE": RouteType.LOCAL,
    "CORE_ONREPLY_ROUTE": RouteType.CORE_ONREPLY, "BRANCH_FAILURE_ROUTE": RouteType.BRANCH_FAILURE,
    "ONEVENT_ROUTE": RouteType.ONEVENT,
}
PY_TYPES = {"INT": int, "STR": str}


@cache
def manifest(name: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / f"{name}.json").read_text())


def modules_with_manifests() -> list[str]:
    return [name for name in loader.builtin_names() if (MANIFESTS / f"{name}.json").is_file()]


def exports(name: str) -> Exports:
    return loader.load_builtin(name)


def absent(ex: Exports, kind: str, names: list[str], declared: set[str]) -> list[str]:
    """The names neither declared nor listed in `not_implemented`."""
    return [n for n in names if n not in declared and ex.unimplemented(kind, n) is None]


def stat_name(group: str | None, name: str, module: str) -> str:
    return f"{group or module}:{name}"


# ------------------------------------------------------------------ what is checked


def missing_params(ex: Exports) -> list[str]:
    return absent(ex, "param", [p["name"] for p in manifest(ex.name)["params"]], {p.name for p in ex.params})


def params_refusing_a_type(ex: Exports) -> list[str]:
    wrong = []
    for item in manifest(ex.name)["params"]:
        param = ex.param(item["name"])
        refused = [t for t in item["types"] if PY_TYPES[t] not in (param.types if param else ())]
        if param is not None and refused:
            wrong.append(f"{item['name']}: Kamailio takes {'/'.join(item['types'])}, "
                         f"kampy {param.type_names()}")
    return wrong


def accepts(func: Function, count: int | str) -> bool:
    """Whether a kampy function takes a Kamailio argument count ("var": any, VAR_PARAM_NO)."""
    return func.varargs if count == "var" else func.accepts_count(int(count))


def missing_function_variants(ex: Exports) -> list[str]:
    """`name/count` for each argument count Kamailio accepts that kampy neither accepts nor lists;
    `name/var` for a Kamailio VAR_PARAM_NO function that kampy does not declare varargs."""
    missing = []
    for item in manifest(ex.name)["functions"]:
        declared = ex.functions_named(item["name"])
        for variant in item["variants"]:
            count = variant["args"]
            listed = ex.unimplemented("function", item["name"], None if count == "var" else count)
            if not any(accepts(f, count) for f in declared) and listed is None:
                missing.append(f"{item['name']}/{count}")
    return missing


def functions_refused_in_a_route(ex: Exports) -> list[str]:
    """Functions whose kampy route types lack one Kamailio allows, for an argument count both accept."""
    narrower = []
    for item in manifest(ex.name)["functions"]:
        for variant in item["variants"]:
            count = variant["args"]
            matching = [f for f in ex.functions_named(item["name"]) if accepts(f, count)]
            if not matching:
                continue
            allowed = RouteType(0)
            for f in matching:
                allowed |= f.routes
            lacking = RouteType(variant["flags"]) & ~allowed
            if lacking:
                names = [n for n, bit in ROUTE_BITS.items() if bit & lacking]
                narrower.append(f"{item['name']}/{count}: not in {', '.join(names)}")
    return narrower


def missing_pvars(ex: Exports) -> list[str]:
    return absent(ex, "pvar", [p["name"] for p in manifest(ex.name)["pvars"]], {p.name for p in ex.pvars})


def missing_transforms(ex: Exports) -> list[str]:
    declared = {t.name: set(t.names) for t in ex.transforms}
    missing = []
    for item in manifest(ex.name)["transforms"]:
        if item["name"] not in declared:
            missing += absent(ex, "transform", [item["name"]], set())
            continue
        full = [f"{item['name']}.{n}" for n in item["names"] if n not in declared[item["name"]]]
        missing += absent(ex, "transform", full, set())
    return missing


def missing_stats(ex: Exports) -> list[str]:
    declared = {stat_name(s.group, s.name, ex.name) for s in ex.stats}
    wanted = [stat_name(s["group"], s["name"], ex.name) for s in manifest(ex.name)["stats"]]
    return absent(ex, "stat", wanted, declared)


def missing_rpc(ex: Exports) -> list[str]:
    return absent(ex, "rpc", manifest(ex.name)["rpc"], {r.name for r in ex.rpc})


def missing_event_routes(ex: Exports) -> list[str]:
    return absent(ex, "event_route", [e["name"] for e in manifest(ex.name)["event_routes"]],
                  {e.name for e in ex.event_routes})


# ------------------------------------------------------------------ the tests


def test_every_kampy_module_has_a_kamailio_manifest() -> None:
    assert set(modules_with_manifests()) == set(loader.builtin_names())


@pytest.mark.parametrize("name", modules_with_manifests())
class TestModuleOffersWhatKamailioOffers:
    def test_every_parameter(self, name: str) -> None:
        assert missing_params(exports(name)) == []

    def test_every_parameter_takes_kamailios_value_types(self, name: str) -> None:
        assert params_refusing_a_type(exports(name)) == []

    def test_every_function_with_every_argument_count(self, name: str) -> None:
        assert missing_function_variants(exports(name)) == []

    def test_no_function_refused_in_a_route_kamailio_allows(self, name: str) -> None:
        assert functions_refused_in_a_route(exports(name)) == []

    def test_every_pseudo_variable_class(self, name: str) -> None:
        assert missing_pvars(exports(name)) == []

    def test_every_transformation(self, name: str) -> None:
        assert missing_transforms(exports(name)) == []

    def test_every_statistic(self, name: str) -> None:
        assert missing_stats(exports(name)) == []

    def test_every_rpc_method(self, name: str) -> None:
        assert missing_rpc(exports(name)) == []

    def test_every_event_route(self, name: str) -> None:
        assert missing_event_routes(exports(name)) == []


def kamailio_names(name: str) -> dict[str, set[str]]:
    """The names of each kind of item in a module's manifest, as `not_implemented` writes them."""
    data = manifest(name)
    return {
        "param": {p["name"] for p in data["params"]},
        "function": {f["name"] for f in data["functions"]},
        "pvar": {p["name"] for p in data["pvars"]},
        "transform": {t["name"] for t in data["transforms"]}
        | {f"{t['name']}.{n}" for t in data["transforms"] for n in t["names"]},
        "stat": {stat_name(s["group"], s["name"], name) for s in data["stats"]},
        "rpc": set(data["rpc"]),
        "event_route": {e["name"] for e in data["event_routes"]},
    }


def declared(ex: Exports, gap: Unimplemented) -> bool:
    """Whether the module declares what a `not_implemented` entry says it lacks."""
    if gap.kind == "function":
        return any(gap.args is None or f.accepts_count(gap.args) for f in ex.functions_named(gap.name))
    if gap.kind == "transform":
        cls, _, tr_name = gap.name.partition(".")
        names = {t.name: t.names for t in ex.transforms}
        return cls in names and (not tr_name or tr_name in names[cls])
    return gap.name in {
        "param": {p.name for p in ex.params}, "pvar": {p.name for p in ex.pvars},
        "stat": {stat_name(s.group, s.name, ex.name) for s in ex.stats}, "rpc": {r.name for r in ex.rpc},
        "event_route": {e.name for e in ex.event_routes},
    }[gap.kind]


@pytest.mark.parametrize("name", modules_with_manifests())
def test_not_implemented_lists_only_kamailio_items_kampy_does_not_declare(name: str) -> None:
    """No stale entry (the item is declared now) and no invented one (Kamailio has no such item)."""
    ex, kamailio = exports(name), kamailio_names(name)
    wrong = [f"{g.kind} {g.name}: Kamailio 5.6's {name} has none" for g in ex.not_implemented
             if g.name not in kamailio[g.kind]]
    wrong += [f"{g.kind} {g.name}: declared too" for g in ex.not_implemented if declared(ex, g)]
    assert wrong == []


@pytest.mark.parametrize("name", modules_with_manifests())
def test_no_parameter_is_declared_ignored_outside_not_implemented(name: str) -> None:
    """`Param(implemented=False)` is the old way: what a module ignores is listed in one place."""
    assert [p.name for p in exports(name).params if not p.implemented] == []


@pytest.mark.parametrize("name", modules_with_manifests())
def test_declared_names_are_kamailios(name: str) -> None:
    """kampy adds no function, parameter, PV class, RPC method or event route Kamailio does not have
    (a module may declare one of the core's: $null is the core's, kampy's pv module declares it)."""
    ex, data, core = exports(name), manifest(name), manifest("core")
    extra = [f"function {f.name}" for f in ex.functions
             if f.name not in {x["name"] for x in data["functions"]}]
    extra += [f"param {p.name}" for p in ex.params if p.name not in {x["name"] for x in data["params"]}]
    extra += [f"pvar {p.name}" for p in ex.pvars
              if p.name not in {x["name"] for x in data["pvars"]} | {x["name"] for x in core["pvars"]}]
    extra += [f"rpc {r.name}" for r in ex.rpc if r.name not in data["rpc"] + core["rpc"]]
    extra += [f"event_route {e.name}" for e in ex.event_routes
              if e.name not in {x["name"] for x in data["event_routes"]}]
    assert [e for e in extra if (name, e) not in FROM_LATER_KAMAILIO] == []


# Names kampy takes from a Kamailio release after 5.6, with that release: the only names a module may
# declare beyond its 5.6 manifest.
FROM_LATER_KAMAILIO = {
    ("msilo", "param sc_status"): "5.8 (msilo's claim column, used for delivery exactly once across nodes)",
}

