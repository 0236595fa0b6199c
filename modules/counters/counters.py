"""The counters module: script counters (`script_counter`), cnt_inc/cnt_add/cnt_reset and the
cnt.* RPCs over every counter of the server.

Kamailio's statistics are counters of its counters framework, so the cnt.* commands see every
statistic (`core`, `tmx`, `usrloc` ...) and `stats.get_statistics` sees the script counters. kampy's
counters are its statistics (`group:name`, summed over the workers), so the same holds here.
"""
from __future__ import annotations

from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, RpcFault, module_logger

log = module_logger("counters")

DEFAULT_DOC = "custom script counter."
NO_DOC = "kamailio statistic (no description)"


def parse_declaration(text: str, default_group: str) -> tuple[str, str, str]:
    """`[group.]name[( |:)description]` -> (group, name, description), as add_script_counter."""
    name, doc = text, DEFAULT_DOC
    cut = text.find(":")
    if cut < 0:
        cut = text.find(" ")
    if cut >= 0:
        name, rest = text[:cut], text[cut + 1:].lstrip(" \t")
        doc = rest or DEFAULT_DOC
    group = default_group
    if "." in name:
        group, name = name.split(".", 1)
    if not name:
        raise ValueError(f"invalid script counter [{text}]")
    return group, name, doc


def split_counter(text: str, default_group: str) -> tuple[str, str]:
    """`[group.]name` as cnt_inc() names a counter."""
    group, dot, name = text.partition(".")
    return (group, name) if dot else (default_group, text)


class Counters(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.group = params["script_cnt_grp_name"] or "script"
        self.docs: dict[str, str] = {}
        declared = params["script_counter"] or []
        for text in declared if isinstance(declared, list) else [declared]:
            group, name, doc = parse_declaration(str(text), self.group)
            key = f"{group}:{name}"
            if key in self.docs:
                log.error("counter %s.%s already registered", group, name)
                continue
            self.docs[key] = doc
            core.stats.register(group, name)

    # ------------------------------------------------------------ functions

    def fix_counter(self, text: str) -> str:
        """cnt_fixup1: the counter must be declared (a config error otherwise)."""
        group, name = split_counter(text, self.group)
        key = f"{group}:{name}"
        if key not in self.docs and not self.core.stats.exists(key):
            raise ValueError(f"counter {group}.{name} does not exist (forgot to define it?)")
        return key

    def cnt_inc(self, ctx: MessageContext, counter: str) -> int:
        self.core.stats.inc(counter)
        return 1

    def cnt_add(self, ctx: MessageContext, counter: str, value: int) -> int:
        self.core.stats.inc(counter, value)
        return 1

    def cnt_reset(self, ctx: MessageContext, counter: str) -> int:
        self.core.stats.reset(counter)
        return 1

    # ------------------------------------------------------------ RPC

    def _key(self, group: str, name: str) -> str:
        key = f"{group}:{name}"
        if not self.core.stats.exists(key):
            raise RpcFault(400, f"non-existent counter {group}.{name}\n")
        return key

    def _vars(self, group: str) -> list[str]:
        return sorted(name for key in self.core.stats.names()
                      for g, _, name in [key.partition(":")] if g == group)

    def rpc_get(self, group: str, name: Any = None) -> Any:
        if name is None:
            return self.rpc_grp_get_all(group)
        return self.core.stats.get(self._key(group, str(name)))

    def rpc_get_raw(self, group: str, name: str) -> int:
        return self.core.stats.get(self._key(group, name))

    def rpc_reset(self, group: str, name: str) -> None:
        self.core.stats.reset(self._key(group, name))

    def rpc_list_groups(self) -> list[str]:
        return self.core.stats.groups()

    def rpc_list_vars(self, group: str) -> list[str]:
        return self._vars(group)

    def rpc_grp_get_all(self, group: str) -> dict[str, int]:
        return {name: self.core.stats.get(f"{group}:{name}") for name in self._vars(group)}

    def rpc_help(self, group: str, name: str) -> str:
        key = self._key(group, name)
        return self.docs.get(key, NO_DOC)
