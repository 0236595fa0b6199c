"""What `kampy check` verifies of the cfg framework and of selects, with the runtime's own code: the
config's cfg variables (`my.x = 5`, `my[2].x = 7`) against the core's and the loaded modules' groups,
and every select (`@from.tag`, `$sel(cfg_get.my.x)`) against the core's table and the roots the
loaded modules declare (whose own parts only the running module can check)."""
from __future__ import annotations

from typing import Any

from kampy.config import ast
from kampy.errors import ConfigError, Diagnostic
from kampy.runtime.cfgcore import declare_all
from kampy.runtime.cfgframework import CfgFramework
from kampy.runtime.selectcore import core_table
from kampy.runtime.selects import SelectError, SelectTable, parse_select


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
            table.add(decl.name, lambda path: (lambda ctx: None))
    return table, problems


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
