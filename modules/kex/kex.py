"""kex: flag and destination-URI functions, pv_printf, is_myself, setdebug, and the stats.* RPCs
with Kamailio 5.6's result shapes (src/modules/kex/core_stats.c)."""
from __future__ import annotations

import itertools
import logging
import os
from typing import Any

from .memory import MemoryReports
from kampy.api import (
    CoreAPI,
    MessageContext,
    Module,
    PVAccessor,
    RpcFault,
    debug_threshold,
    parse_uri,
)

log = logging.getLogger("kampy.kex")
KAMPY_LOGGER = "kampy"  # the loggers `debug=` governs

SFLAGS = "kex.sflags"   # ctx.local key of the script flags
MAX_FLAG = 31
_sruid = itertools.count(1)


def _bit(flag: int) -> int:
    if not 0 <= flag <= MAX_FLAG:
        raise ValueError(f"bad flag {flag} (0..{MAX_FLAG})")
    return 1 << flag


def _ret(ok: bool) -> int:
    return 1 if ok else -1


class SruidPV:
    """$sruid: a new unique id on each read (Kamailio's sruid, `srid-<hex time>-<pid>-<n>`)."""

    def __init__(self, core: CoreAPI) -> None:
        self.core = core

    def get(self, ctx: MessageContext) -> str:
        return f"srid-{int(self.core.clock.time()):x}-{os.getpid():x}-{next(_sruid):x}"


class Kex(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self._debug = None
        self.memory = MemoryReports(core)

    # ------------------------------------------------------------ script flags

    def setsflag(self, ctx: MessageContext, flag: int) -> int:
        ctx.local[SFLAGS] = ctx.local.get(SFLAGS, 0) | _bit(flag)
        return 1

    def resetsflag(self, ctx: MessageContext, flag: int) -> int:
        ctx.local[SFLAGS] = ctx.local.get(SFLAGS, 0) & ~_bit(flag)
        return 1

    def issflagset(self, ctx: MessageContext, flag: int) -> int:
        return _ret(bool(ctx.local.get(SFLAGS, 0) & _bit(flag)))

    # ------------------------------------------------------------ branch flags

    def _branch_flags(self, ctx: MessageContext, branch: int) -> int | None:
        if branch == 0:
            return ctx.bflags
        if 0 < branch <= len(ctx.branches):
            return ctx.branches[branch - 1].flags
        return None

    def _set_branch_flags(self, ctx: MessageContext, branch: int, value: int) -> None:
        if branch == 0:
            ctx.bflags = value
        else:
            ctx.branches[branch - 1].flags = value

    def setbflag(self, ctx: MessageContext, flag: int, branch: int = 0) -> int:
        flags = self._branch_flags(ctx, branch)
        if flags is None:
            return -1
        self._set_branch_flags(ctx, branch, flags | _bit(flag))
        return 1

    def resetbflag(self, ctx: MessageContext, flag: int, branch: int = 0) -> int:
        flags = self._branch_flags(ctx, branch)
        if flags is None:
            return -1
        self._set_branch_flags(ctx, branch, flags & ~_bit(flag))
        return 1

    def isbflagset(self, ctx: MessageContext, flag: int, branch: int = 0) -> int:
        flags = self._branch_flags(ctx, branch)
        return _ret(flags is not None and bool(flags & _bit(flag)))

    # ------------------------------------------------------------ destination URI

    def setdsturi(self, ctx: MessageContext, uri: str) -> int:
        try:
            parse_uri(uri)
        except Exception:
            log.error("setdsturi: bad URI %r", uri)
            return -1
        ctx.dst_uri = uri
        return 1

    def resetdsturi(self, ctx: MessageContext) -> int:
        ctx.dst_uri = None
        return 1

    def isdsturiset(self, ctx: MessageContext) -> int:
        return _ret(bool(ctx.dst_uri))

    # ------------------------------------------------------------ misc

    def pv_printf(self, ctx: MessageContext, dst: PVAccessor, text: str) -> int:
        setter = getattr(dst, "set", None)
        if setter is None:
            log.error("pv_printf: the destination cannot be written")
            return -1
        setter(ctx, text)
        return 1

    avp_printf = pv_printf

    def is_myself(self, ctx: MessageContext, uri: str) -> int:
        try:
            parsed = parse_uri(uri)
        except Exception:
            return -1
        return _ret(self.core.is_myself(parsed.host or "", parsed.port))

    def setdebug(self, ctx: MessageContext, level: int) -> int:
        logger = logging.getLogger(KAMPY_LOGGER)
        if self._debug is None:
            self._debug = logger.level
        logger.setLevel(debug_threshold(int(level)))
        return 1

    def resetdebug(self, ctx: MessageContext) -> int:
        if self._debug is not None:
            logging.getLogger(KAMPY_LOGGER).setLevel(self._debug)
            self._debug = None
        return 1

    def pv_sruid(self, spec: Any) -> SruidPV:
        return SruidPV(self.core)

    # ------------------------------------------------------------ stats.* RPC

    def _select(self, what: str) -> list[str]:
        """Kamailio's selection: `all`, `group:`, or one statistic (a bare name in any group,
        or `group:name`)."""
        stats = self.core.stats
        if what == "all":
            return stats.names()
        if what.endswith(":"):
            group = what[:-1]
            return [k for k in stats.names() if k.partition(":")[0] == group]
        key = stats.find(what)
        return [key] if key is not None else []

    @staticmethod
    def _names(params: tuple[Any, ...], message: str) -> list[str]:
        names = [p for p in params if isinstance(p, str) and p]
        if not params or not isinstance(params[0], str) or not params[0]:
            raise RpcFault(400, message)
        return names

    def rpc_get_statistics(self, *params: Any) -> list[str]:
        """get core and modules stats"""
        out = []
        for what in self._names(params, "Please provide which stats to retrieve"):
            out += [f"{k} = {self.core.stats.value(k)}" for k in self._select(what)]
        return out

    def _fetch(self, params: tuple[Any, ...], numeric: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for what in self._names(params, "Please provide which stats to retrieve"):
            for key in self._select(what.replace(".", ":", 1) if ":" not in what and "." in what
                                    else what):
                value = self.core.stats.value(key)
                out[key.replace(":", ".", 1)] = value if numeric else str(value)
        return out

    def rpc_fetch(self, *params: Any) -> dict[str, str]:
        """fetch core and modules stats as string values"""
        return self._fetch(params, numeric=False)

    def rpc_fetchn(self, *params: Any) -> dict[str, int]:
        """fetch core and modules stats as number values"""
        return self._fetch(params, numeric=True)

    def rpc_reset_statistics(self, *params: Any) -> None:
        """reset core and modules stats (stats created with no_reset flag are not reset)"""
        for what in self._names(params, "Please provide stats name"):
            for key in self._select(what):
                self.core.stats.reset(key)

    def rpc_clear_statistics(self, *params: Any) -> list[str]:
        """clear core and modules stats: reset them and return their old values (a line per
        statistic; over JSON-RPC the last one, as Kamailio's jsonrpcs keeps the last value added)"""
        lines = []
        for what in self._names(params, "Please provide stats name"):
            for key in self._select(what):
                old = self.core.stats.value(key)
                self.core.stats.reset(key)
                new = self.core.stats.value(key)
                lines.append(f"{key} = {new}" if old == new else f"{key} = {new} ({old})")
        return lines

    # ------------------------------------------------------------ memory (modules/kex/memory.py)

    def rpc_pkg_stats(self, *params: Any) -> list[dict[str, Any]]:
        return self.memory.pkg_stats(*params)

    def rpc_pkg_info(self, *params: Any) -> dict[str, Any]:
        return self.memory.pkg_info(*params)

    def rpc_mod_stats(self, *params: Any) -> list[Any]:
        return self.memory.mod_stats(*params)

    def rpc_mod_statsx(self, *params: Any) -> list[Any]:
        return self.memory.mod_stats(*params, counts=True)
