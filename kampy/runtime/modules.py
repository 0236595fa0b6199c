"""Building the modules of one process from their declarations (Kamailio's mod_init pass).

Each module is built by its `Exports.factory(params, core)` with every declared parameter (the
config's value or the default) and its own view of the core (`module_core`): the process's `Core`
narrowed to `CoreAPI`, whose `api(name)` answers only the APIs the module declared in
`Exports.needs`. Modules are built so that every module offering an API another needs comes first
(else in loadmodule order), so a module binds what it needs in `__init__`.

Once built, a module is checked against its declaration before anything uses it: its handlers
(`kampy.interfaces.handler_problems`) and each API it offers (`Offer`: the object must implement
the Protocol). A failure is a config error at the module's `loadmodule` line that names the module
and what is wrong.
"""
from __future__ import annotations

import logging
from typing import Any

from kampy.apis import CoreAPI
from kampy.config.compile import CompiledConfig, ModuleConfig
from kampy.errors import Diagnostic
from kampy.interfaces import handler_problems, narrow, protocol_problems
from kampy.module import Exports
from kampy.runtime.cfgcore import declare_module_group
from kampy.runtime.cfgframework import CfgError
from kampy.runtime.core import Core

log = logging.getLogger("kampy.runtime")


def build_order(modules: dict[str, ModuleConfig]) -> list[str]:
    """Loadmodule order, except that a module comes after the loaded modules offering the APIs it
    needs (required or optional). In a cycle of needs, the first module in loadmodule order goes
    first (it then finds the others' APIs only after load: see `module_core`)."""
    offerer = offerers(modules)
    after = {name: {offerer[n.name] for n in mod.exports.needs
                    if n.name in offerer and offerer[n.name] != name}
             for name, mod in modules.items()}
    order: list[str] = []
    pending = list(modules)
    while pending:
        ready = next((n for n in pending if after[n] <= set(order)), pending[0])
        order.append(ready)
        pending.remove(ready)
    return order


def offerers(modules: dict[str, ModuleConfig]) -> dict[str, str]:
    """API name -> the loaded module that offers it (the first one, in loadmodule order)."""
    found: dict[str, str] = {}
    for name, mod in modules.items():
        for offer in mod.exports.offers:
            found.setdefault(offer.name, name)
    return found


def module_core(core: Core, exports: Exports, offered: set[str]) -> CoreAPI:
    """The core as module `exports.name` sees it: `CoreAPI`'s members of `core`, with an `api()`
    that answers only the APIs the module declared (`offered`: the APIs loaded modules offer)."""
    declared = {need.name: need for need in exports.needs}
    module = exports.name

    def api(name: str) -> Any:
        need = declared.get(name)
        if need is None:
            raise LookupError(f"module '{module}' uses the API '{name}' without declaring it: "
                              f"add Need(\"{name}\") to its Exports.needs")
        offer = core.offers.get(name)
        if offer is not None:
            wrong = protocol_problems(offer, need.protocol) if need.protocol is not None else []
            if wrong:
                raise LookupError(f"module '{module}' uses the API '{name}' as "
                                  f"{need.protocol.__name__}, which the object offered does not "
                                  f"implement: {'; '.join(wrong)}")
            return offer
        if name in offered:
            raise LookupError(f"module '{module}': the API '{name}' is not built yet (the modules' "
                              "needs form a cycle): bind it in child_init or on first use")
        if need.optional:
            return None
        raise LookupError(f"module '{module}' needs the API '{name}', which no loaded module offers")

    view: CoreAPI = narrow(CoreAPI, core, fixed=FIXED_CORE_MEMBERS, api=api)
    return view


# What does not change once the core is built (read once into each module's view; the others, such
# as aor_case_sensitive, are read from the core on each access).
FIXED_CORE_MEMBERS = frozenset({"clock", "stats", "shared", "rank", "workers", "rpc", "core_params",
                                "cfg_file", "runtime_dir", "server_id", "server_header",
                                "user_agent_header", "sip_warning", "sockets"})


def build_modules(compiled: CompiledConfig, core: Core) -> list[Diagnostic]:
    """Build, check and register every module of `compiled` in `core` (`core.modules` in loadmodule
    order, `core.offers`, the statistics and RPC registries); returns the problems found."""
    errors: list[Diagnostic] = []
    offered = set(offerers(compiled.modules))
    for name in build_order(compiled.modules):
        mod = compiled.modules[name]
        if mod.exports.factory is None:
            continue
        try:
            instance = build_module(mod.exports, mod.params, core, offered)
        except LoadProblems as exc:
            errors.extend(Diagnostic(mod.pos, problem) for problem in exc.problems)
            continue
        core.modules[name] = instance  # known at once: later modules resolve its PV classes
    ordered = {name: core.modules[name] for name in compiled.modules if name in core.modules}
    core.modules.clear()
    core.modules.update(ordered)
    for name, mod in compiled.modules.items():
        core.rpc.register_exports(mod.exports, ordered.get(name))
    return errors


class LoadProblems(Exception):
    """A module could not be built or does not match its declaration; each problem names it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def build_module(exports: Exports, params: dict[str, Any], core: Core,
                 offered: set[str] | None = None) -> Any:
    """Build one module with `params` (completed with the declared defaults) and its view of `core`,
    check it against its declaration and register what it offers; raises LoadProblems."""
    assert exports.factory is not None
    core.stats.register_exports(exports)
    full = {**exports.defaults(), **params}
    view = module_core(core, exports, set(core.offers) if offered is None else offered)
    try:
        instance = exports.factory(full, view)
    except (ValueError, LookupError) as exc:
        raise LoadProblems([f"module '{exports.name}' failed to initialise: {exc}"]) from exc
    problems = handler_problems(exports, instance) or _offer(exports, instance, core)
    if problems:
        raise LoadProblems([f"module '{exports.name}': {p}" for p in problems])
    if exports.cfg is not None and exports.cfg.name not in core.cfg.groups:
        try:
            declare_module_group(core.cfg, exports.cfg, full, instance)
        except CfgError as exc:
            raise LoadProblems([f"module '{exports.name}': cfg group {exports.cfg.name}: {exc}"]) from None
    return instance


def _offer(exports: Exports, instance: Any, core: Core) -> list[str]:
    """Register the APIs the module offers, each checked against its Protocol; the problems found."""
    problems: list[str] = []
    for offer in exports.offers:
        obj = getattr(instance, offer.handler)() if offer.handler else instance
        protocol = offer.protocol
        wrong = protocol_problems(obj, protocol)
        problems += [f"the API '{offer.name}' it offers does not implement "
                     f"{getattr(protocol, '__name__', protocol)}: {w}" for w in wrong]
        if not wrong and offer.name not in core.offers:
            core.offers[offer.name] = obj if offer.handler else narrow(protocol, instance)
    return problems
