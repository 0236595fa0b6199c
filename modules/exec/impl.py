"""The exec module: commands run with /bin/sh -c in the worker (which waits for them, as
Kamailio's does), killed after time_to_kill seconds when it is set."""
from __future__ import annotations

import os
import subprocess
from typing import Any

from kampy.api import (L_DBG, L_ERR, Branch, CoreAPI, MessageContext, Module, PVAccessor, PVSyntaxError,
                       log_at, module_logger, parse_pv_at)

from .environment import sip_environment

log = module_logger("exec")

MAX_LINE = 1023  # MAX_URI_SIZE - 1: what one fgets() of Kamailio's reads


class ExecModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.setvars = bool(params["setvars"])
        self.time_to_kill: int = params["time_to_kill"]
        self.bash_safety = bool(params["bash_safety"])
        self.ruri = core.pv_accessor("$ru")

    # ------------------------------------------------------------ running a command

    def _env(self, ctx: MessageContext) -> dict[str, str] | None:
        return {**os.environ, **sip_environment(ctx, self.bash_safety)} if self.setvars else None

    def _run(self, command: str, env: dict[str, str] | None, stdin: bytes | None = None,
             capture: bool = True) -> tuple[int, bytes] | None:
        """(exit status, what it printed); None when it could not be run or was killed."""
        try:
            done = subprocess.run(command, shell=True, env=env, input=stdin,
                                  stdin=None if stdin is not None else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                                  timeout=self.time_to_kill or None, check=False)
        except subprocess.TimeoutExpired:
            log_at(log, L_ERR, "cmd %s killed after %d seconds (time_to_kill)", command, self.time_to_kill)
            return None
        except OSError as exc:
            log_at(log, L_ERR, "cannot open pipe: %s (%s)", command, exc)
            return None
        if done.returncode < 0:
            log_at(log, L_ERR, "cmd %s failed. exit_status=%d", command, done.returncode)
        return done.returncode, done.stdout or b""

    @staticmethod
    def _lines(output: bytes) -> list[str]:
        """The lines as Kamailio's fgets() loop reads them: in pieces of at most MAX_LINE
        characters, trailing CR, LF, tab and space dropped, empty ones skipped."""
        found = []
        for raw in output.decode("utf-8", "surrogateescape").splitlines(keepends=True):
            for start in range(0, len(raw), MAX_LINE):
                piece = raw[start:start + MAX_LINE].rstrip("\r\n\t ")
                if piece:
                    found.append(piece)
        return found

    # ------------------------------------------------------------ functions

    def exec_dset(self, ctx: MessageContext, command: str) -> int:
        uri = ctx.ruri
        line = f"{command} '{uri}'" if uri else command
        log_at(log, L_DBG, "executing [%s]", command)
        ran = self._run(line, self._env(ctx))
        if ran is None:
            return -1
        status, output = ran
        uris = self._lines(output)
        for i, found in enumerate(uris):
            if i == 0:
                self.ruri.set(ctx, found)  # type: ignore[attr-defined]
            else:
                ctx.branches.append(Branch(found))
        if not uris:
            log_at(log, L_ERR, "no uri from %s", line)
            return -1
        return 1 if status == 0 else -1

    def exec_msg(self, ctx: MessageContext, command: str) -> int:
        log_at(log, L_DBG, "executing [%s]", command)
        ran = self._run(command, self._env(ctx), stdin=ctx.msg.raw, capture=False)
        if ran is None:
            return -1
        return 1 if ran[0] == 0 else -1

    def fix_avplist(self, text: str) -> list[str]:
        """parse_pvname_list(text, PVT_AVP): the AVP names, separated by spaces, commas or
        semicolons."""
        names: list[str] = []
        i = 0
        while i < len(text):
            if text[i] in " \t,;\n":
                i += 1
                continue
            try:
                spec, end = parse_pv_at(text, i)
            except PVSyntaxError:
                raise ValueError(f"bad format in P2 [{text}]") from None
            if spec.cls != "avp" or not spec.arg:
                raise ValueError(f"bad format in P2 [{text}]")
            names.append(spec.arg)
            i = end
        if not names:
            raise ValueError(f"bad format in P2 [{text}]")
        return names

    def exec_avp(self, ctx: MessageContext, command: str, avplist: list[str] | None = None) -> int:
        log_at(log, L_DBG, "executing [%s]", command)
        ran = self._run(command, self._env(ctx))
        if ran is None:
            return -1
        status, output = ran
        names = avplist or []
        for i, line in enumerate(self._lines(output)):
            name = names[i] if i < len(names) else f"i:{i + 1}"
            self._add_avp(ctx, name, line)
        return 1 if status == 0 else -1

    def _add_avp(self, ctx: MessageContext, name: str, value: str) -> None:
        accessor: PVAccessor = self.core.pv_accessor(f"$avp({name})")
        accessor.set(ctx, value)  # type: ignore[attr-defined]

    def exec_cmd(self, ctx: MessageContext, command: str) -> int:
        log_at(log, L_DBG, "executing [%s]", command)
        ran = self._run(command, None, capture=False)
        if ran is None:
            return -1
        log_at(log, L_DBG, "execution return code: %d", ran[0])
        return 1 if ran[0] == 0 else -1
