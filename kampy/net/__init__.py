"""The only part of kampy that touches sockets and asyncio: listeners, workers, timers.

`run(compiled, params)` binds every socket of the config (or of `-l` overrides), logs each one,
then serves with `params.processes` workers until SIGTERM/SIGINT. See README.md in this folder.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from kampy.net.binding import BindError, Listener, bind_all
from kampy.net.limits import increase_open_fds, set_core_dump
from kampy.runtime.params import NetParams
from kampy.net.supervisor import Lifecycle, serve

if TYPE_CHECKING:
    from kampy.config.compile import CompiledConfig
    from kampy.runtime.context import Socket
    from kampy.runtime.server import Server
    from kampy.runtime.shared import SharedStore

__all__ = ["BindError", "Lifecycle", "NetParams", "run", "bind_all"]

log = logging.getLogger("kampy.net")
listen_log = logging.getLogger("kampy.listen")


def run(compiled: CompiledConfig, params: NetParams, listen_override: Sequence[str] | None = None, *,
        sockets: tuple[list[Socket], list[tuple[str, int | None]]] | None = None,
        lifecycle: Lifecycle | None = None) -> int:
    """Bind, serve, and return the exit code (0 after SIGTERM/SIGINT). Raises BindError.
    `sockets` (with their aliases) as the caller resolved them, else from the config and
    `listen_override`; `lifecycle` what the start-up does around the workers' start."""
    from kampy.runtime.sockets import sockets_from_config

    # main.c: shm + pkg memory + 4 MB (kampy: -m / shm_mem_size, else Kamailio's 64 MB; pkg's 8 MB)
    set_core_dump(not params.disable_core_dump, (params.shm_size or 64 << 20) + (8 << 20) + (4 << 20))
    if params.open_files_limit > 0 and not increase_open_fds(params.open_files_limit):
        log.error("error could not increase file limits")
        return -1
    if sockets is None:
        sockets = sockets_from_config(compiled, list(listen_override) if listen_override else None)
    wanted, aliases = sockets
    if params.tls_on and "tls" not in compiled.modules:
        log.warning("tls support enabled, but no tls engine available (forgot to load the tls module?)")
        log.warning("disabling tls...")
        params = replace(params, enable_tls=False)
    for s in wanted:
        if s.proto not in ("udp", "tcp", "tls"):
            log.warning("%s: kampy serves udp, tcp and tls only; not listening there", s)
        elif s.proto == "tls" and not params.tls_on:
            log.warning("%s: tls is disabled (enable_tls=no or no tcp); not listening there", s)
    wanted = [s for s in wanted if s.proto == "udp" or (s.proto == "tcp" and not params.disable_tcp)
              or (s.proto == "tls" and params.tls_on)]
    listeners = bind_all(wanted, backlog=params.tcp_listen_backlog, rcvbuf=params.maxbuffer, params=params)
    _log_listening(listeners, aliases, params)

    def build_server(rank: int, workers: int, shared: SharedStore, process: str | int) -> Server:
        from kampy.net.dns import DnsQueries
        from kampy.runtime.server import Server

        return Server.from_config(compiled, sockets=[x.socket for x in listeners], aliases=aliases,
                                  shared=shared, rank=rank, workers=workers, process=process,
                                  dns_client=DnsQueries())

    from kampy.runtime.engine import module_processes, preload_modules

    preload_modules(compiled)
    extra = module_processes(compiled)
    if extra and params.fork:
        listen_log.info("%d module process%s: %s", len(extra), "es" if len(extra) != 1 else "",
                        ", ".join(p.description for _, p in extra))
    return serve(build_server, listeners, params, lifecycle, len(extra))


def _log_listening(listeners: list[Listener], aliases: Sequence[object], params: NetParams) -> None:
    for x in listeners:
        listen_log.info("listening on %s", x.socket)
    for alias in aliases:
        listen_log.info("alias %s", _alias_text(alias))
    if params.fork:
        listen_log.info("%d worker processes (children=%d, tcp_children=%d)", params.processes,
                        params.udp_workers, params.tcp_workers)
    else:
        listen_log.info("fork=no: one process serves every socket")


def _alias_text(alias: object) -> str:
    if isinstance(alias, tuple) and len(alias) == 2:
        host, port = alias
        return f"{host}:{port}" if port else str(host)
    return str(alias)
