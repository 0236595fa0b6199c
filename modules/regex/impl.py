"""The regex module: pcre_match(), pcre_match_group() and regex.reload.

The groups live in a shared table (`regex`), with a generation number: regex.reload in whichever
process serves the RPC writes them there, and each process compiles them again when it sees a new
generation, as Kamailio's processes all see the pcres in shared memory."""
from __future__ import annotations

import json
import re
from typing import Any

from kampy.api import L_DBG, L_ERR, L_INFO, CoreAPI, MessageContext, Module, RpcFault, log_at, module_logger

from .groups import GroupsError, compile_groups, read_groups

log = module_logger("regex")
GROUPS_KEY = b"groups"


def pcre_flags(params: dict[str, Any]) -> int:
    flags = 0
    for name, flag in (("pcre_caseless", re.IGNORECASE), ("pcre_multiline", re.MULTILINE),
                       ("pcre_dotall", re.DOTALL), ("pcre_extended", re.VERBOSE)):
        if params[name]:
            flags |= flag
    return flags


class RegexModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.file: str | None = params["file"] or None
        self.max_groups: int = params["max_groups"]
        self.group_max_size: int = params["group_max_size"]
        self.flags = pcre_flags(params)
        self._generation = -1
        self._groups: list[re.Pattern[str]] = []
        if self.file is None:
            log_at(log, L_INFO, "'file' parameter is not set, group matching disabled")
            return
        table = self._table()
        if table.get(GROUPS_KEY) is None:
            try:
                patterns = self._load()
            except GroupsError as exc:
                raise ValueError(f"regex: failed to load pcres from {self.file}: {exc}") from None
            table.put(GROUPS_KEY, json.dumps(patterns).encode(), extra=1)

    def _table(self) -> Any:
        return self.core.shared.table("regex", capacity=64)

    def _load(self) -> list[str]:
        """Read and check the file (GroupsError when it cannot be used)."""
        try:
            with open(self.file or "", encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            raise GroupsError(f"could not open file '{self.file}'") from None
        patterns = read_groups(text, self.max_groups, self.group_max_size)
        compile_groups(patterns, self.flags)
        log_at(log, L_INFO, "num groups = %d", len(patterns))
        for i, pattern in enumerate(patterns):
            log_at(log, L_INFO, "<group[%d]>%s</group[%d]> (size = %d)", i, pattern, i, len(pattern))
        return patterns

    def _current(self) -> list[re.Pattern[str]]:
        entry = self._table().get(GROUPS_KEY)
        if entry is not None and entry[1] != self._generation:
            self._groups = compile_groups(json.loads(entry[0]), self.flags)
            self._generation = entry[1]
        return self._groups

    # ------------------------------------------------------------ config functions

    def pcre_match(self, ctx: MessageContext, string: str, pcre_regex: str) -> int:
        try:
            compiled = re.compile(pcre_regex, self.flags)
        except re.error as exc:
            log_at(log, L_ERR, "pcre_re compilation of '%s' failed at offset %d: %s",
                   pcre_regex, exc.pos or 0, exc.msg)
            return -4
        if compiled.search(string) is None:
            log_at(log, L_DBG, "'%s' doesn't match '%s'", string, pcre_regex)
            return -1
        log_at(log, L_DBG, "'%s' matches '%s'", string, pcre_regex)
        return 1

    def pcre_match_group(self, ctx: MessageContext, string: str, group: str | None = None) -> int:
        if self.file is None:
            log_at(log, L_ERR, "group matching is disabled")
            return -2
        index = _str2int(group) if group is not None else 0
        groups = self._current()
        if index >= len(groups):
            log_at(log, L_ERR, "invalid pcre index '%d', there are %d pcres", index, len(groups))
            return -4
        if groups[index].search(string) is None:
            log_at(log, L_DBG, "'%s' doesn't match pcres[%d]", string, index)
            return -1
        log_at(log, L_DBG, "'%s' matches pcres[%d]", string, index)
        return 1

    # ------------------------------------------------------------ RPC

    def rpc_reload(self) -> None:
        if self.file is None:
            raise RpcFault(500, "Group matching not enabled")
        log_at(log, L_INFO, "reloading pcres...")
        try:
            patterns = self._load()
        except GroupsError as exc:
            log_at(log, L_ERR, "%s", exc)
            log_at(log, L_ERR, "failed to reload pcres")
            raise RpcFault(500, "Failed to reload") from None
        table = self._table()
        with table.transaction():
            old = table.get(GROUPS_KEY)
            table.put(GROUPS_KEY, json.dumps(patterns).encode(), extra=(old[1] if old else 0) + 1)
        log_at(log, L_INFO, "reload success")


def _str2int(text: str) -> int:
    """Kamailio's str2int(): the leading digits (none: 0)."""
    digits = ""
    for ch in text.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0
