"""The debugger module: the config's running trace (cfgtrace), assignments logged (log_assign),
per-module log levels and syslog facilities, message dumps (dbg_sip_msg, dbg_pv_dump), message id
resets, and their dbg.* RPCs.

What Kamailio keeps in shared memory is shared here too (a shared table `debugger`): each process's
trace flags (by pid, as dbg.ls and dbg.trace name them), the module levels and facilities, the
message id resets. A worker takes in what another changed (an RPC runs in the worker serving it)
before the next message it handles; a change counter in the table tells it when.
"""
from __future__ import annotations

import os
import struct
from typing import Any

from kampy.api import (L_ALERT, L_BUG, L_CRIT2, L_DBG, L_ERR, L_INFO, L_NOTICE, L_WARN, Action, CoreAPI,
                       MessageContext, Module, PVar, Request, Response, RouteType, RpcFault, module_logger,
                       python_level, set_module_facility, set_module_level)

from . import dump, trace
from .breakpoints import ABKPOINT_ON, Breakpoints

log = module_logger("debugger")

CFGTRACE_ON = 1                  # DBG_CFGTRACE_ON
NOCFGFILE = 1                    # cfgtrace_format: no file name
_I32 = struct.Struct("<i")
_GEN = 0                         # the shared table's counter: changes made

# str2facility()/facility2str(): Kamailio's names, syslog(3)'s numbers (as SysLogHandler's)
FACILITIES = {
    "LOG_AUTH": 4, "LOG_CRON": 9, "LOG_DAEMON": 3, "LOG_KERN": 0, "LOG_LOCAL0": 16, "LOG_LOCAL1": 17,
    "LOG_LOCAL2": 18, "LOG_LOCAL3": 19, "LOG_LOCAL4": 20, "LOG_LOCAL5": 21, "LOG_LOCAL6": 22,
    "LOG_LOCAL7": 23, "LOG_LPR": 6, "LOG_MAIL": 2, "LOG_NEWS": 7, "LOG_USER": 1, "LOG_UUCP": 8,
    "LOG_AUTHPRIV": 10, "LOG_FTP": 11, "LOG_SYSLOG": 5,
}
FACILITY_NAMES = {number: name for name, number in FACILITIES.items()}

# the level names dbg_sip_msg and dbg_pv_dump take, told apart by their third character
LEVELS_BY_LETTER = {"A": L_ALERT, "B": L_BUG, "C": L_CRIT2, "E": L_ERR, "W": L_WARN, "N": L_NOTICE,
                    "I": L_INFO, "D": L_DBG}


def facility_number(name: str) -> int | None:
    return FACILITIES.get(name.strip().upper())


def level_of(text: str) -> int:
    """`L_ERR`, `L_DBG` ... as the fixups read them (the third character); ValueError otherwise."""
    level = LEVELS_BY_LETTER.get(text[2:3])
    if level is None:
        raise ValueError(f"unknown log level {text!r}")
    return level


def module_setting(text: str) -> tuple[str, str]:
    """`module=value` (mod_level, mod_facility)."""
    name, eq, value = text.partition("=")
    if not eq:
        raise ValueError(f"invalid parameter value: {text}")
    return name, value


def check_mod_level(text: str) -> None:
    _, value = module_setting(text)
    body = value[1:] if value[:1] in "+-" else value
    if not body.isdigit():
        raise ValueError(f"invalid parameter - level value: {text}")


def check_mod_facility(text: str) -> None:
    _, value = module_setting(text)
    if facility_number(value) is None:
        raise ValueError(f"invalid parameter - facility value: {text}")


def check_facility(value: str) -> None:
    if value and facility_number(value) is None:
        raise ValueError("invalid log facility configured")


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])


class Debugger(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.trace_level = int(params["log_level"])
        self.trace_prefix = str(params["log_prefix"])
        self.trace_level_name = params["log_level_name"] or None
        facility = params["log_facility"]
        self.trace_facility = facility_number(facility) if facility else None
        self.trace_format = int(params["cfgtrace_format"])
        self.log_assign = int(params["log_assign"]) > 0
        self.pkg_check = int(params["cfgpkgcheck"]) != 0
        self.reset_enabled = int(params["reset_msgid"]) == 1
        self.default_set = (CFGTRACE_ON if int(params["cfgtrace"]) == 1 else 0) \
            | (ABKPOINT_ON if int(params["breakpoint"]) == 1 else 0)
        self.hash_size = int(params["mod_hash_size"])
        self.level_mode = int(params["mod_level_mode"])
        self.facility_mode = int(params["mod_facility_mode"])
        self.table = core.shared.table("debugger", 1 << 10)
        self.breakpoints = Breakpoints(self.table, int(params["step_usleep"]), int(params["step_loops"]),
                                       self.trace_level)
        levels = [module_setting(t) for t in _values(params["mod_level"])]
        facilities = [module_setting(t) for t in _values(params["mod_facility"])]
        if int(params["cfgtest"]) == 1:  # it needs the cfgt module, which kampy does not have
            raise ValueError("can't find cfgt module")
        if (levels or facilities) and self.hash_size <= 0:
            raise ValueError("cannot store parameter: mod_level and mod_facility need mod_hash_size > 0")
        if not self._seen():
            with self.table.transaction():
                for name, value in levels:
                    self.table.put(b"lvl:" + name.encode(), _I32.pack(int(value)))
                for name, value in facilities:
                    self.table.put(b"fac:" + name.encode(), _I32.pack(facility_number(value) or 0))
        self.gen = -1
        self.flags = self.default_set
        self.msgid_base = 0
        self.current_line: int | None = None
        self.logger_levels: set[str] = set()
        self.logger_facilities: set[str] = set()
        core.trace_actions(self.dbg_cfg_trace, self._dbg_log_assign_action_pvar if self.log_assign else None)
        self.refresh()

    def _seen(self) -> bool:
        """Whether another worker set the shared table up already (and mark it set up)."""
        with self.table.transaction():
            if self.table.get(b"init") is not None:
                return True
            self.table.put(b"init", b"1")
        return False

    # ------------------------------------------------------------ shared state

    def _changed(self) -> None:
        self.table.add(_GEN, 1)

    def refresh(self) -> None:
        """Take in what changed in the shared table since this process last looked."""
        gen = self.table.counter(_GEN)
        if gen == self.gen:
            return
        self.gen = gen
        self.flags = self._flags_of(os.getpid())
        self._apply_levels()

    def _flags_of(self, pid: int) -> int:
        found = self.table.get(b"set:%d" % pid)
        return _I32.unpack(found[0])[0] if found is not None else self.default_set

    def _settings(self, prefix: bytes) -> dict[str, int]:
        return {item.key[len(prefix):].decode(): _I32.unpack(item.value)[0]
                for item in self.table.items(prefix=prefix)}

    def _apply_levels(self) -> None:
        levels = self._settings(b"lvl:") if self.level_mode and self.hash_size > 0 else {}
        for name in self.logger_levels - set(levels):
            self._set_level(name, None)
        for name, level in levels.items():
            self._set_level(name, level)
        self.logger_levels = set(levels)
        facilities = self._settings(b"fac:") if self.facility_mode and self.hash_size > 0 else {}
        for name in self.logger_facilities - set(facilities):
            set_module_facility(name, None)
        for name, facility in facilities.items():
            set_module_facility(name, facility)
        self.logger_facilities = set(facilities)

    @staticmethod
    def _set_level(name: str, level: int | None) -> None:
        set_module_level(name, level)
        if name == "xlog":  # what the config's xlog() prints is logged as module xlog in Kamailio
            set_module_level("script", level)

    def core_debug(self) -> int:
        return int(self.core.core_params.get("debug", L_WARN) or 0)

    def debug_level(self, name: str) -> int:
        """get_debug_level(): the module's level when per-module levels are on, else `debug`."""
        if self.level_mode and self.hash_size > 0:
            found = self.table.get(b"lvl:" + name.encode())
            if found is not None:
                return _I32.unpack(found[0])[0]
        return self.core_debug()

    def debug_facility(self, name: str) -> int:
        if self.facility_mode and self.hash_size > 0:
            found = self.table.get(b"fac:" + name.encode())
            if found is not None:
                return _I32.unpack(found[0])[0]
        return facility_number(str(self.core.core_params.get("log_facility") or "LOG_DAEMON")) or 3

    # ------------------------------------------------------------ message hooks

    def pre_script(self, ctx: MessageContext) -> bool:
        self.refresh()
        self._msgid_filter(ctx)
        return True

    def on_response(self, ctx: MessageContext) -> bool:
        self.refresh()
        self._msgid_filter(ctx)
        return True

    def _msgid_filter(self, ctx: MessageContext) -> None:
        """dbg_msgid_filter: after dbg.reset_msgid, this process's messages count from 1 again."""
        if not self.reset_enabled:
            return
        key = b"reset:%d" % os.getpid()
        if self.table.get(key) is not None:
            with self.table.transaction():
                self.table.delete(key)
            self.msgid_base = ctx.msg_id - 1
        if ctx.msg_id > self.msgid_base:
            ctx.msg_id -= self.msgid_base

    # ------------------------------------------------------------ action hooks

    def dbg_cfg_trace(self, ctx: MessageContext, action: Action) -> None:
        """dbg_cfg_trace: one line per action while this process traces; a stop before it while
        its breakpoints are on."""
        self.current_line = action.line
        if self.pkg_check:  # Kamailio 5.6's debugger is built without its q_malloc check, on every build
            log.debug("cfg pkg check is disbled due to missing qm handler")
        self.refresh()
        if self.flags & CFGTRACE_ON and self.trace_level <= self.debug_level("debugger"):
            self._trace_line(ctx, action)
        if self.flags & ABKPOINT_ON:
            number, name = trace.action_type(action)
            self.breakpoints.stop(action.file, trace.action_line(action), number, name,
                                  lambda spec: self.core.pv_accessor(spec).get(ctx))

    def _trace_line(self, ctx: MessageContext, action: Action) -> None:
        number, name = trace.action_type(action)
        where = "" if self.trace_format & NOCFGFILE else f" c=[{action.file}]"
        log.log(python_level(self.trace_level), "%s=[%s]%s l=%d a=%d n=%s",
                trace.route_type_name(ctx.route_type), trace.route_name(action), where,
                trace.action_line(action), number, name,
                extra={"kamailio_prefix": f"{self.trace_prefix}dbg_cfg_trace(): ",
                       "kamailio_level": self.trace_level_name, "kamailio_facility": self.trace_facility})

    def _dbg_log_assign_action_pvar(self, ctx: MessageContext, action: Action) -> None:
        """dbg_log_assign: the value an assignment left, at L_DBG."""
        if action.target is None:
            return
        value = self.core.pv_accessor(action.target).get(ctx)
        name = action.target.text or f"${action.target.cls}"
        if value is None:
            log.debug("%s: $null", name)
        elif isinstance(value, int):
            log.debug("%s:%d", name, value)
        else:
            log.debug('%s:"%s"', name, value)

    # ------------------------------------------------------------ functions

    def fix_breakpoint(self, value: str) -> int:
        return 0 if value.startswith("0") else 1

    def dbg_breakpoint(self, ctx: MessageContext, mode: int) -> int:
        """Kamailio 5.6 anchors the breakpoint at its line but never looks at it again: the process
        stops at every action while its breakpoints are on, wherever dbg_breakpoint() is."""
        return 1

    def fix_level(self, value: str) -> int:
        return level_of(value)

    def fix_facility(self, value: str) -> int:
        number = facility_number(value)
        if number is None:
            raise ValueError("invalid log facility configured")
        return number

    def dbg_pv_dump(self, ctx: MessageContext, mask: int = dump.DP_ALL, level: int = L_DBG) -> int:
        self.dbg_dump_json(ctx, mask, level)
        return 1

    def dbg_dump_json(self, ctx: MessageContext, mask: int, level: int) -> None:
        text = dump.pv_json(ctx, self.core.config_pvars(), lambda spec: self._value(ctx, spec), mask)
        log.log(python_level(level), "%s", text)

    def _value(self, ctx: MessageContext, spec: PVar) -> Any:
        try:
            return self.core.pv_accessor(spec).get(ctx)
        except Exception:  # a PV that cannot be read here: Kamailio warns and leaves it out
            log.warning("can't get value[%s]", spec.text)
            return None

    def dbg_sip_msg(self, ctx: MessageContext, level: int | None = None, facility: int | None = None) -> int:
        if not isinstance(ctx.msg, Response) and not (isinstance(ctx.msg, Request)
                                                          and ctx.route_type == RouteType.REQUEST):
            log.error("invalid usage - not in request route")
            return -1
        self.w_dbg_sip_msg(ctx, self.core_debug() if level is None else level, facility)
        return 1

    def w_dbg_sip_msg(self, ctx: MessageContext, level: int, facility: int | None) -> None:
        text = dump.sip_msg_text(ctx, self.current_line)
        log.log(python_level(level), "%s", text.removesuffix("\n"),
                extra={} if facility is None else {"kamailio_facility": facility})

    # ------------------------------------------------------------ RPC

    def _pids(self, pid: Any) -> list[int]:
        """Every process's pid, or the one asked for (an unknown one is Kamailio's fault)."""
        every = [int(p["PID"]) for p in self.core.rpc.call("core.psx")]
        if pid is None:
            return every
        if not isinstance(pid, int) or pid not in every:
            raise RpcFault(500, "No such pid")
        return [pid]

    def rpc_ls(self, pid: Any = None) -> list[dict[str, int]]:
        every = [int(p["PID"]) for p in self.core.rpc.call("core.psx")]
        entries = list(enumerate(every))
        if pid is not None:
            if pid not in every:
                raise RpcFault(500, "No such pid")
            entries = [(every.index(pid), pid)]
        return [self._process_entry(i, p) for i, p in entries]

    def _process_entry(self, entry: int, pid: int) -> dict[str, int]:
        state, cmd, sender, _ = self.breakpoints.slot(pid)
        return {"entry": entry, "pid": pid, "set": self._flags_of(pid), "state": state, "in.pid": sender,
                "in.cmd": cmd}

    def rpc_bp(self, cmd: Any = None, pid: Any = None, value: Any = None) -> str:
        return self.breakpoints.rpc(self._pids(None), self._flags_of, self._set_flags, cmd, pid, value)

    def _set_flags(self, flags: dict[int, int]) -> None:
        with self.table.transaction():
            for p, value in flags.items():
                self.table.put(b"set:%d" % p, _I32.pack(value))
            self._changed()

    def rpc_trace(self, cmd: Any = None, pid: Any = None) -> str:
        if not isinstance(cmd, str):
            raise RpcFault(500, "Config trace command missing")
        pids = self._pids(pid)
        if cmd not in ("on", "off"):
            raise RpcFault(500, "Unknown trace command")
        with self.table.transaction():
            flags = {p: self._flags_of(p) for p in pids}
            on = cmd == "on"
            self._set_flags({p: f | CFGTRACE_ON if on else f & ~CFGTRACE_ON for p, f in flags.items()})
        self.refresh()
        return "200 ok"

    def _store(self, prefix: bytes, name: str, value: int) -> None:
        if self.hash_size <= 0:
            raise RpcFault(500, "cannot store parameter")
        with self.table.transaction():
            self.table.put(prefix + name.encode(), _I32.pack(value))
            self._changed()
        self.refresh()

    def rpc_set_mod_level(self, name: Any = None, level: Any = None) -> str:
        if not isinstance(name, str) or not isinstance(level, int):
            raise RpcFault(500, "invalid parameters")
        self._store(b"lvl:", name, level)
        return "200 ok"

    def rpc_set_mod_facility(self, name: Any = None, facility: Any = None) -> str:
        if not isinstance(name, str) or not isinstance(facility, str):
            raise RpcFault(500, "invalid parameters")
        number = facility_number(facility)
        if number is None:
            raise RpcFault(500, "facility not found")
        self._store(b"fac:", name, number)
        return "200 ok"

    def rpc_get_mod_level(self, name: Any = None) -> int:
        if not isinstance(name, str):
            raise RpcFault(500, "invalid parameters")
        return self.debug_level(name)

    def rpc_get_mod_facility(self, name: Any = None) -> str:
        if not isinstance(name, str):
            raise RpcFault(500, "invalid parameters")
        return FACILITY_NAMES.get(self.debug_facility(name), "")

    def rpc_reset_msgid(self) -> str:
        if not self.reset_enabled:
            raise RpcFault(500, "reset_msgid is 0. Set it to 1 to enable.")
        with self.table.transaction():
            for p in self._pids(None):
                self.table.put(b"reset:%d" % p, b"1")
        return "200 ok"

