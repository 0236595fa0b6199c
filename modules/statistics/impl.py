"""statistics: script statistics (`variable` param, `update_stat`, `reset_stat`).

As in Kamailio, declared names go into the `script` group whole (`my_stat` -> `script:my_stat`,
`grp:x` -> `script:grp:x`), and `update_stat`/`reset_stat` find a statistic by its name in any
group (`404_replies`) or by `group:name`. Unlike Kamailio, `update_stat` on a name nobody declared
creates `script:<name>` at run time, in the shared statistics, so every worker sees it.
"""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module

log = logging.getLogger("kampy.statistics")

SCRIPT_GROUP = "script"


def declared_name(text: str) -> tuple[str, bool]:
    """`name[/no_reset]` -> (name, no_reset)."""
    name, _, flag = text.strip().partition("/")
    if flag and flag.lower() != "no_reset":
        raise ValueError(f"statistic '{text}': unsupported flag '{flag}'")
    if not name:
        raise ValueError("empty statistic name")
    return name, bool(flag)


def parse_update(value: str) -> int | None:
    try:
        return int(value.strip(), 10)
    except (ValueError, AttributeError):
        return None


class Statistics(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self._resolved: dict[str, str] = {}   # script name -> statistic key (found once)
        declared = params["variable"] or []
        for text in declared if isinstance(declared, list) else [declared]:
            name, no_reset = declared_name(str(text))
            self.core.stats.register(SCRIPT_GROUP, name, no_reset=no_reset)

    def _key(self, name: str) -> str:
        key = self._resolved.get(name)
        if key is None:
            key = self._resolved[name] = self.core.stats.find(name) or f"{SCRIPT_GROUP}:{name}"
        return key

    def update_stat(self, ctx: MessageContext, variable: str, value: str) -> int:
        """Add `value` ("+3", "-1", "5") to the statistic, creating it if it is new."""
        by = parse_update(value)
        if by is None or not variable:
            log.error("update_stat: bad value %r for %r", value, variable)
            return -1
        self.core.stats.inc(self._key(variable.strip()), by)
        return 1

    def reset_stat(self, ctx: MessageContext, variable: str) -> int:
        key = self.core.stats.find(variable.strip())
        if key is None:
            log.error("reset_stat: no statistic %r", variable)
            return -1
        self.core.stats.reset(key)
        return 1
