"""`kampy [options]`: kampy started as `kamailio` is started, with its options and its ways.

Kamailio's main() in order: the options (kampy.cmdline.options), the config (read with the command
line's defines, substitutions, modules and module parameters), the options that win over the
config, the user and group to become, the runtime directory, the listen addresses (printed as
"Listening on" and "Aliases:"), `-c` stopping there; then, unless `-D`, daemonizing (the process
started returns 0 only once the server is up), binding, giving up root, the workers; at the end the
pid and pgid files go.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from kampy.cmdline import daemon, listing, logsetup, options
from kampy.cmdline.config import load
from kampy.cmdline.getopt import Token, tokens
from kampy.cmdline.options import FAILURE, Exit, Options, fail
from kampy.config.compile import CompiledConfig
from kampy.runtime.values import as_bool
from kampy.runtime.context import Socket
from kampy.runtime.sockets import param_values, sockets_from_config
from kampy.runtime.core import RUN_DIR

log = logging.getLogger("kampy.cli")
NOT_SUPPORTED = ("start", "stop", "restart")


def main(argv: list[str], own_process: bool = False) -> int:
    """Start as `kamailio argv...`; `own_process`: kampy is the program run (not called by a test),
    so `--atexit=no` may leave the process without running its exit handlers."""
    if argv and argv[0].lower() in NOT_SUPPORTED:
        sys.stderr.write(f"error: '{argv[0].lower()}' is not a supported argument\n"
                         "error: stopping kampy ...\n\n")
        return FAILURE
    toks = tokens(argv)
    try:
        opts = options.early(toks)
        options.before_config(toks, opts)
        logsetup.configure({}, stderr=opts.log_stderr, color=opts.log_color, debug=opts.debug or 0,
                           engine=opts.log_engine)
        code = Start(opts, toks).run()
        if not opts.atexit and own_process:  # --atexit=no: the exit handlers libraries registered
            logging.shutdown()                # do not run (Python runs the one registered last first)
            atexit.register(os._exit, code)
        return code
    except Exit as stop:
        sys.stdout.write(stop.out)
        sys.stdout.flush()
        sys.stderr.write(stop.err)
        return stop.code


@dataclass
class Mode:
    """How the processes are laid out (-D: Kamailio's dont_fork and dont_daemonize)."""

    fork: bool
    detach: bool


class Start:
    def __init__(self, opts: Options, toks: list[Token]) -> None:
        self.opts = opts
        self.tokens = toks

    def run(self) -> int:
        compiled = load(self.opts)
        params = compiled.core_params
        options.after_config(self.tokens, self.opts, as_bool(params.get("disable_tcp"), False))
        self._apply(params)
        self._configure_logging(params)
        for warning in compiled.warnings:
            logging.getLogger("kampy.config").warning("%s", warning.format())
        mode = self._mode(params)
        try:
            who = daemon.resolve_identity(self.opts.user or _str(params, "user", "uid"),
                                          self.opts.group or _str(params, "group", "gid"))
            daemon.ensure_runtime_dir(str(params["runtime_dir"]), who)
        except daemon.DaemonError as exc:
            raise fail(str(exc)) from None
        sockets, aliases = self._sockets(compiled)
        auto = as_bool(params.get("auto_aliases"), True)
        config_aliases = [a for a in param_values(params.get("alias")) if a not in self.opts.aliases]
        sys.stdout.write(listing.block(sockets, listing.aliases(self.opts.aliases, config_aliases, sockets,
                                                                auto), auto))
        sys.stdout.flush()
        if not mode.fork:
            sys.stderr.write("WARNING: no fork mode " + ("and no udp listen address found" if not any(
                s.proto == "udp" for s in sockets) else "") + "\n")
        if self.opts.check:
            sys.stderr.write("config file ok, exiting...\n")
            return 0
        return self._serve(compiled, mode, who, (sockets, aliases))

    # ------------------------------------------------------------ the options over the config

    def _apply(self, params: dict[str, Any]) -> None:
        """Write what the command line sets over the config's core parameters."""
        o = self.opts
        overrides: dict[str, Any] = {
            "debug": o.debug, "maxbuffer": o.maxbuffer, "children": o.children,
            "tcp_children": o.tcp_children, "tcp_poll_method": o.poll_method, "workdir": o.workdir,
            "chroot": o.chroot, "user": o.user, "group": o.group, "server_id": o.server_id,
            "shm_mem_size": o.shm_mb, "pkg_mem_size": o.pkg_mb,
        }
        for name, value in overrides.items():
            if value is not None:
                params[name] = value
        if o.log_stderr:
            params["log_stderror"] = "yes"
        if o.log_color:
            params["log_color"] = "yes"
        if o.disable_tcp:
            params["disable_tcp"] = "yes"
        for flag, name in ((o.check_via, "check_via"), (o.received_dns, "dns"),
                           (o.received_rev_dns, "rev_dns")):
            if flag:
                params[name] = "yes"
        if o.auto_aliases is not None:
            params["auto_aliases"] = "yes" if o.auto_aliases else "no"
        params["runtime_dir"] = o.rundir or _str(params, "runtime_dir", "rundir", "run_dir") or RUN_DIR
        if o.aliases:
            previous = params.get("alias")
            params["alias"] = [*(previous if isinstance(previous, list) else [previous] if previous else []),
                               *o.aliases]

    def _configure_logging(self, params: dict[str, Any]) -> None:
        stderr = as_bool(params.get("log_stderror"), False)
        color = as_bool(params.get("log_color"), False) and stderr
        logsetup.configure(params, stderr=stderr, color=color, debug=int(params.get("debug") or 0),
                           engine=self.opts.log_engine)

    def _mode(self, params: dict[str, Any]) -> Mode:
        """-D: no fork; -DD: fork, stay in the foreground; else (or -DDD) daemonize; a config's
        `fork=no` is -D when the command line says nothing."""
        dont_fork = self.opts.dont_fork or (0 if as_bool(params.get("fork"), True) else 1)
        if dont_fork == 1:
            params["fork"] = "no"
            return Mode(fork=False, detach=False)
        params["fork"] = "yes"
        return Mode(fork=True, detach=dont_fork != 2)

    def _sockets(self, compiled: CompiledConfig) -> tuple[list[Socket], list[tuple[str, int | None]]]:
        """The config's listen addresses and -l's (added to them, as in Kamailio), every interface
        without any; no TCP socket with -T/disable_tcp."""
        params = compiled.core_params
        entries = [*param_values(params.get("listen")), *param_values(params.get("socket")),
                   *self.opts.listen]
        sockets, aliases = sockets_from_config(compiled, entries or None, every_interface=True,
                                               auto_aliases=as_bool(params.get("auto_aliases"), True))
        if as_bool(params.get("disable_tcp"), False):
            sockets = [s for s in sockets if s.proto != "tcp"]
        return sockets, aliases

    # ------------------------------------------------------------ running

    def _serve(self, compiled: CompiledConfig, mode: Mode, who: daemon.Identity,
               sockets: tuple[list[Socket], list[tuple[str, int | None]]]) -> int:
        from kampy.net import BindError, Lifecycle, NetParams
        from kampy.net import run as net_run
        from kampy.net.local import LocalServiceError

        params = compiled.core_params
        done = daemon.Daemonized()
        code = FAILURE
        try:
            if mode.fork:
                logsetup.close()
                done = daemon.daemonize(
                    detach=mode.detach, workdir=str(params.get("workdir") or params.get("wdir") or "/"),
                    chroot=_str(params, "chroot"), pid_file=self.opts.pid_file,
                    pgid_file=self.opts.pgid_file, who=who,
                    keep_stderr=as_bool(params.get("log_stderror"), False))
                self._configure_logging(params)  # syslog from the daemon, stderr kept or not
            if who.uid or who.gid:
                daemon.preload_code()  # as root: -u may not read the interpreter's own files
            lifecycle = Lifecycle(before_fork=lambda store: _give_store(store, who),
                                  drop_privileges=lambda: daemon.drop_privileges(who),
                                  ready=lambda: done.report(0), worker_started=logsetup.set_rank)
            code = net_run(compiled, NetParams.from_core_params(params), sockets=sockets, lifecycle=lifecycle)
        except daemon.DaemonError as exc:
            log.critical("%s", exc)
            sys.stderr.write(f"{exc}\n")
        except (BindError, LocalServiceError) as exc:
            log.error("%s", exc)
        finally:
            done.remove_files()  # before the failure is reported: nothing of it is left then
            done.report(FAILURE)  # nothing when the server said it was up already
        return code


def _give_store(store: Any, who: daemon.Identity) -> None:
    """The shared store's files belong to -u/-g: the processes that give up root use it."""
    if who.uid or who.gid:
        uid, gid = who.sock_owner
        store.chown(uid, gid)


def _str(params: dict[str, Any], *names: str) -> str | None:
    for name in names:
        if params.get(name) not in (None, ""):
            return str(params[name])
    return None
