"""Breakpoints: Kamailio's interactive debugger (the wait loop of dbg_cfg_trace and the dbg.bp RPC).

A process whose breakpoints are on (the `breakpoint` parameter, or `dbg.bp on`) stops before each
action of the config and waits there, polling every `step_usleep` microseconds, for a command that
dbg.bp leaves in its slot of the shared table: `next` runs the action and stops at the next one,
`move` runs on without stopping, `show` and `eval` answer in the slot, `log` logs a value. dbg.bp
waits `step_loops` times `step_usleep` for an answer, as Kamailio's does.
"""
from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from typing import Any

from kampy.api import RpcFault, ShmTable, module_logger, python_level

log = module_logger("debugger")

ABKPOINT_ON = 2  # DBG_ABKPOINT_ON (the process's flags, `set` in dbg.ls)
STATE_INIT, STATE_WAIT, STATE_NEXT = 0, 1, 2
CMD_NOP, CMD_ERR, CMD_READ, CMD_NEXT, CMD_MOVE, CMD_SHOW, CMD_PVEVAL, CMD_PVLOG = range(8)
CMD_SIZE = 256  # DBG_CMD_SIZE: the longest text of a command or an answer (with its NUL)

_SLOT = struct.Struct("<iii")  # state, in.cmd, in.pid; in.buf follows
_OUT = struct.Struct("<i")      # out.cmd; out.buf follows
_NEEDS_PID = ("keep", "move", "next", "show", "eval", "log")

Flags = Callable[[int], int]
SetFlags = Callable[[dict[int, int]], None]


class Breakpoints:
    def __init__(self, table: ShmTable, step_usleep: int, step_loops: int, level: int) -> None:
        self.table = table
        self.step = max(step_usleep, 0) / 1e6
        self.loops = step_loops
        self.level = level
        self.server_gone = False

    # ------------------------------------------------------------ the shared slots

    def slot(self, pid: int) -> tuple[int, int, int, str]:
        """(state, in.cmd, in.pid, in.buf) of process `pid`."""
        found = self.table.get(b"bp:%d" % pid)
        if found is None:
            return STATE_INIT, CMD_NOP, 0, ""
        state, cmd, sender = _SLOT.unpack_from(found[0])
        return state, cmd, sender, found[0][_SLOT.size:].decode("utf-8", "replace")

    def _put_slot(self, pid: int, state: int, cmd: int, sender: int, text: str = "") -> None:
        self.table.put(b"bp:%d" % pid, _SLOT.pack(state, cmd, sender) + text.encode())

    def _update(self, pid: int, state: int | None = None, cmd: int | None = None, sender: int | None = None,
                text: str | None = None) -> None:
        with self.table.transaction():
            old = self.slot(pid)
            self._put_slot(pid, old[0] if state is None else state, old[1] if cmd is None else cmd,
                           old[2] if sender is None else sender, old[3] if text is None else text)

    def _answer(self, pid: int, cmd: int, text: str = "") -> None:
        self.table.put(b"bpout:%d" % pid, _OUT.pack(cmd) + text[:CMD_SIZE - 1].encode())

    def _read_answer(self, pid: int) -> tuple[int, str]:
        found = self.table.get(b"bpout:%d" % pid)
        if found is None:
            return CMD_NOP, ""
        return _OUT.unpack_from(found[0])[0], found[0][_OUT.size:].decode("utf-8", "replace")

    # ------------------------------------------------------------ the process at a breakpoint

    def stop(self, file: str, line: int, number: int, name: str, evaluate: Callable[[str], Any]) -> None:
        """Wait before the action (`a=number n=name` of `file`:`line`) for dbg.bp's commands."""
        if self.server_gone:
            return
        pid = os.getpid()
        if self.slot(pid)[0] == STATE_INIT:
            log.log(python_level(self.level), "breakpoint hit: p=[%d] c=[%s] l=%d a=%d n=%s", pid, file, line,
                    number, name)
            self._update(pid, state=STATE_WAIT, cmd=CMD_NOP)
        place = f"[{file}:{line}] a={number} n={name}"
        parent = os.getppid()
        while True:
            state, cmd, _, text = self.slot(pid)
            if cmd == CMD_NOP:
                if os.getppid() != parent:  # the server is gone: no one will send a command
                    log.warning("the main process is gone: leaving the breakpoint")
                    self.server_gone = True
                    self._update(pid, state=STATE_INIT, cmd=CMD_NOP)
                    return
                time.sleep(self.step)
            elif cmd == CMD_MOVE:
                self._update(pid, state=STATE_INIT, cmd=CMD_NOP, sender=0)
                return
            elif cmd == CMD_NEXT:
                with self.table.transaction():
                    self._update(pid, state=STATE_NEXT if state == STATE_WAIT else state, cmd=CMD_NOP)
                    self._answer(pid, CMD_READ, f"exec {place}")
                return
            elif cmd in (CMD_PVEVAL, CMD_PVLOG):
                self._update(pid, cmd=CMD_NOP)
                self._evaluate(pid, cmd, text, evaluate)
            elif cmd == CMD_SHOW:
                with self.table.transaction():
                    self._update(pid, cmd=CMD_NOP)
                    self._answer(pid, CMD_READ, f"at bkp {place}")
            else:  # an unknown command: go on
                self._update(pid, state=STATE_INIT, cmd=CMD_NOP)
                return

    def _evaluate(self, pid: int, cmd: int, name: str, evaluate: Callable[[str], Any]) -> None:
        if not name:
            log.error("no pv to eval")
            return
        try:
            value = evaluate(name)
        except Exception:  # a name that is no pseudo-variable, or one not readable here
            log.error("unable to parse pv [%s]", name)
            return
        if value is None:
            text = f"{name} : t=null"
        elif isinstance(value, int):
            text = f"{name} : t=int v={value}"
        else:
            text = f"{name} : t=str v={value}"
        if cmd == CMD_PVEVAL:
            self._answer(pid, CMD_READ, text)
        else:
            log.log(python_level(self.level), "breakpoint eval: %s", text)

    # ------------------------------------------------------------ dbg.bp

    def rpc(self, every: list[int], flags_of: Flags, set_flags: SetFlags, cmd: Any, pid: Any,
            value: Any) -> str:
        """dbg.bp `cmd` [`pid` [`value`]] over the processes `every` (their pids)."""
        if not isinstance(cmd, str):
            raise RpcFault(500, "Config breakpoint command missing")
        if pid is not None and (not isinstance(pid, int) or pid not in every):
            raise RpcFault(500, "No such pid")
        pids = every if pid is None else [pid]
        if cmd in _NEEDS_PID and pid is None:
            raise RpcFault(500, "Missing pid parameter")
        if cmd in ("on", "off"):
            with self.table.transaction():
                set_flags({p: flags_of(p) | ABKPOINT_ON if cmd == "on" else flags_of(p) & ~ABKPOINT_ON
                           for p in pids})
                for p in pids:
                    self._update(p, state=STATE_INIT)
        elif cmd == "release":
            with self.table.transaction():
                waiting = {p for p in pids if self.slot(p)[0] == STATE_WAIT}
                set_flags({p: flags_of(p) & ~ABKPOINT_ON for p in pids if p not in waiting})
                for p in pids:
                    if p not in waiting:
                        self._update(p, state=STATE_INIT)
        elif cmd == "keep":
            self._move([p for p in every if p != pid], flags_of, set_flags, every_one=True)
        elif cmd == "move":
            self._move(pids, flags_of, set_flags, every_one=False)
        elif cmd in ("next", "show"):
            return self._ask(pid, CMD_NEXT if cmd == "next" else CMD_SHOW, "")
        elif cmd in ("eval", "log"):
            if not isinstance(value, str):
                raise RpcFault(500, "pv param missing")
            if len(value) < 2 or len(value) >= CMD_SIZE:
                raise RpcFault(500, "invalid pv param")
            if cmd == "log":
                self._update(pid, cmd=CMD_PVLOG, sender=os.getpid(), text=value)
            else:
                return self._ask(pid, CMD_PVEVAL, value)
        else:
            raise RpcFault(500, "Unknown inner command")
        return "200 ok"

    def _move(self, pids: list[int], flags_of: Flags, set_flags: SetFlags, every_one: bool) -> None:
        """keep (`every_one`: the others lose their breakpoints, stopped or not) and move: the
        processes stopped at a breakpoint go on."""
        with self.table.transaction():
            stopped = [p for p in pids if self.slot(p)[0] != STATE_INIT]
            set_flags({p: flags_of(p) & ~ABKPOINT_ON for p in (pids if every_one else stopped)})
            for p in stopped:
                self._update(p, cmd=CMD_MOVE, sender=os.getpid())

    def _ask(self, pid: int, cmd: int, text: str) -> str:
        """Leave command `cmd` for process `pid` and wait for its answer ("200 ok" when none comes)."""
        self._update(pid, cmd=cmd, sender=os.getpid(), text=text)
        for _ in range(self.loops):
            time.sleep(self.step)
            answer, result = self._read_answer(pid)
            if answer in (CMD_READ, CMD_ERR):
                self._answer(pid, CMD_NOP)
                return result if answer == CMD_READ else "cmd execution error"
        return "200 ok"
