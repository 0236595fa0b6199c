"""What `kampy check` verifies of the cfg framework and of selects, with the runtime's own code: the
config's cfg variables (`my.x = 5`, `my[2].x = 7`) against the core's and the loaded modules' groups,
and every select (`@from.tag`, `$sel(cfg_get.my.x)`) against the core's table and the modules'
(`@tm.uac.count`): a module's handler parses the select on an instance of the module that is never
initialised (the getter it returns is never called); a handler that needs the running module to
parse accepts every select of its root here."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.config import ast
from kampy.errors import ConfigError, Diagnostic
from kampy.runtime.cfgcore import declare_all
from kampy.runtime.cfgframework import CfgFramework
from kampy.runtime.selectcore import core_table
from kampy.runtime.selects import Getter, Path, SelectError, SelectTable, parse_select


def _no_table() -> Any:
    raise LookupError("no shared table while checking a config")


def check_cfg(config: ast.Config, core_params: dict[str, Any], modules: dict[str, Any],
              ) -> tuple[SelectTable, list[Diagnostic]]:
    """The select table a run would have, and the problems of the config's cfg variables."""
    fw = CfgFramework(_no_table)
    problems: list[Diagnostic] = []
    try:
        declare_all(fw, config, core_params, modules, None)
    except ConfigError as exc:
        problems.extend(exc.diagnostics)
    table = core_table(None, fw)
    for mod in modules.values():
        for decl in mod.exports.selects:
            table.add(decl.name, _parser(mod.exports.factory, decl.handler))
    return table, problems


def _parser(factory: Any, handler: str) -> Callable[[Path], Getter]:
    """A module's select handler, run to parse only: a ValueError refuses the select."""
    def parse(path: Path) -> Getter:
        try:
            blank = object.__new__(factory) if isinstance(factory, type) else None
            getattr(blank, handler)(path)
        except ValueError as exc:
            raise SelectError(str(exc)) from None
        except Exception:  # the handler needs the running module: the run checks it
            pass
        return lambda ctx: None
    return parse


def select_problem(table: SelectTable, text: str, whole: bool) -> str | None:
    """Why a select cannot be resolved, or None."""
    try:
        path, end = parse_select(text)
        if whole and end != len(text):
            raise SelectError(f"invalid select name [{text}]")
        table.resolve(path)
    except SelectError as exc:
        return str(exc)
    return None
