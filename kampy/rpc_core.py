"""The core's RPC methods, `core.*` and `system.*`, with Kamailio 5.6's names, docs and replies
(src/core/core_cmd.c): what kamcmd, kamctl and kamcli call.

What kampy has no counterpart for is answered from what stands in for it: `core.shmmem` measures
the shared store and `core.flags` names the features kampy runs with (kampy.runtime.memory says
how); `core.udp4_raw_info` gives the config's values (kampy sends through ordinary sockets).
"""
from __future__ import annotations

import os
import platform
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from kampy.binrpc import Member
from kampy.module import RpcFault
from kampy.rpc_blocklist import register_blocklist_methods
from kampy.rpc_dns import register_dns_methods
from kampy.runtime.params import NetParams
from kampy.runtime.values import as_bool, as_number
from kampy.runtime.tcp_registry import connections
from kampy.runtime.memory import store_memory
from kampy.runtime.procs import processes
from kampy.version import KAMPY_VERSION, SERVER_NAME, built_time, source_id, version_string

if TYPE_CHECKING:
    from kampy.rpc import RpcRegistry
    from kampy.runtime.core import Core

# core.shmmem's unit parameter: the shift of each unit
_UNITS = {"b": 0, "k": 10, "m": 20, "g": 30}


def _ctime(t: float) -> str:
    """ctime(3) without its newline ("Sun Dec  6 19:26:46 2026"), as core.uptime prints times."""
    return time.ctime(t)


def _scan_string(value: Any) -> str:
    """A parameter read with Kamailio's "s" scan: numbers become their integer text."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return str(int(value))
    return str(value)


def program_argv() -> list[str]:
    """The command line kampy was started with (`python -m kampy ...` shows as `kampy ...`)."""
    argv = list(sys.argv) or ["kampy"]
    if argv[0].endswith("__main__.py") or argv[0] in ("-m", "-c", ""):
        argv[0] = "kampy"
    return argv


class CoreMethods:
    """`core.*` and `system.*`, with Kamailio 5.6's result structures."""

    def __init__(self, core: Core, registry: RpcRegistry) -> None:
        self.core = core
        self.registry = registry

    # ------------------------------------------------------------ versions and the process

    def core_version(self) -> str:
        """Returns the version string of the server."""
        return version_string()

    def core_flags(self) -> str:
        """Returns the compile flags."""
        return ", ".join(self._flags())

    def core_info(self, *_: Any) -> dict[str, str]:
        """Verbose info, including version number, compile flags, compiler,repository hash a.s.o."""
        return {"version": f"{SERVER_NAME} {KAMPY_VERSION}", "id": source_id(),
                "compiler": _compiler(), "compiled": built_time(), "flags": ", ".join(self._flags())}

    def core_runinfo(self, *_: Any) -> dict[str, Any]:
        """Runtime info - binary name, version, uptime, ..."""
        now = self.core.clock.time()
        up = int(now - self.core.started)
        return {"name": SERVER_NAME, "version": KAMPY_VERSION, "sourceid": source_id(),
                "compiler": _compiler(), "compiled": built_time(), "time_now": _ctime(now),
                "time_started": _ctime(self.core.started), "uptime_secs": up,
                "utime_days": f"{up // 86400}d {up % 86400 // 3600}h {up % 3600 // 60}m {up % 60}s"}

    def _flags(self) -> list[str]:
        """What this server runs with, in the words of Kamailio's compile flags where one fits."""
        protos = {s.proto for s in self.core.sockets}
        flags = [f"USE_{p.upper()}" for p in ("udp", "tcp", "tls", "sctp") if p in protos]
        if any(":" in s.host for s in self.core.sockets):
            flags.append("USE_IPV6")
        flags += ["SHM_MMAP", "SHARED_STORE_SQLITE", "STATS_MMAP", f"WORKERS={self.core.workers}"]
        return flags

    def core_uptime(self, *_: Any) -> dict[str, Any]:
        """Returns uptime of SIP server."""
        now = self.core.clock.time()
        return {"now": _ctime(now), "up_since": _ctime(self.core.started),
                "uptime": int(now - self.core.started)}

    def core_ps(self, *_: Any) -> list[Any]:
        """Returns the description of running processes."""
        out: list[Any] = []
        for _idx, pid, _rank, dsc in processes(self.core):
            out += [pid, dsc]
        return out

    def core_psx(self, *_: Any) -> list[dict[str, Any]]:
        """Returns the detailed description of running processes."""
        return [{"IDX": idx, "PID": pid, "DSC": dsc} for idx, pid, _rank, dsc in processes(self.core)]

    def core_psa(self, *_: Any) -> list[dict[str, Any]]:
        """Return all the attributes of running processes."""
        return [{"index": idx, "pid": pid, "status": 1, "rank": rank, "description": dsc}
                for idx, pid, rank, dsc in processes(self.core)]

    def core_pwd(self, *_: Any) -> list[str]:
        """Returns the working directory of server."""
        try:
            return [os.getcwd()]
        except OSError:
            raise RpcFault(500, "getcwd Failed") from None

    def core_arg(self, *_: Any) -> list[str]:
        """Returns the list of command line arguments used on startup."""
        return program_argv()

    def core_kill(self, *params: Any) -> None:
        """Sends the given signal to server."""
        number = params[0] if params and isinstance(params[0], int) and not isinstance(params[0], bool) \
            else signal.SIGTERM
        pids = [pid for _idx, pid, _rank, _dsc in processes(self.core)]
        # the answer leaves first (Kamailio's rpc->send() before kill(0, sig))
        threading.Timer(0.1, _signal_all, (pids, int(number))).start()

    # ------------------------------------------------------------ echoes

    def core_echo(self, *params: Any) -> list[str]:
        """Returns back its parameters."""
        return [_scan_string(p) for p in params if not isinstance(p, (dict, list))]

    def core_prints(self, *params: Any) -> list[str]:
        """Returns the strings given as parameters."""
        out = []
        for p in params:
            if not isinstance(p, str):
                break
            out.append(p)
        return out

    def core_printi(self, *params: Any) -> list[int]:
        """Returns the integers given as parameters."""
        out = []
        for p in params:
            if not isinstance(p, int) or isinstance(p, bool):
                break
            out.append(p)
        return out

    # ------------------------------------------------------------ memory

    def core_shmmem(self, *params: Any) -> dict[str, int]:
        """Returns shared memory info. It has an optional parameter that specifies the measuring unit: b - bytes (default), k or kb, m or mb, g or gb. Note: when using something different from bytes, the value is truncated."""  # noqa: E501 (Kamailio's text)
        shift = 0
        if params and isinstance(params[0], str):
            unit = params[0].lower()
            shift = _UNITS.get(unit[:1], -1)
            if shift < 0 or unit[1:] not in ("", "b"):
                raise RpcFault(500, "bad param, (use b|k|m|g)")
        mem = store_memory(self.core.shared)
        return {"total": mem.total >> shift, "free": mem.free >> shift, "used": mem.used >> shift,
                "real_used": mem.real_used >> shift, "max_used": mem.max_used >> shift,
                "fragments": mem.fragments}

    # ------------------------------------------------------------ sockets and TCP

    def _net(self) -> NetParams:
        return NetParams.from_core_params(self.core.core_params)

    def _tcp_enabled(self) -> None:
        if self._net().disable_tcp:
            raise RpcFault(500, "tcp support disabled")

    def core_tcp_info(self, *_: Any) -> dict[str, int]:
        """Returns tcp related info."""
        self._tcp_enabled()
        net = self._net()
        params = self.core.core_params
        opened = connections(self.core.shared)
        return {"readers": net.tcp_workers, "max_connections": net.tcp_max_connections,
                "max_tls_connections": int(as_number(params.get("tls_max_connections"), 2048)),
                "opened_connections": sum(1 for c in opened if c.type != "TLS"),
                "opened_tls_connections": sum(1 for c in opened if c.type == "TLS"),
                "write_queued_bytes": 0}

    def core_tcp_options(self, *_: Any) -> dict[str, int]:
        """Returns active tcp options."""
        self._tcp_enabled()
        return tcp_options(self.core.core_params, self._net())

    def core_tcp_list(self, *_: Any) -> list[dict[str, Any]]:
        """Returns tcp connections details."""
        self._tcp_enabled()
        now = time.monotonic()
        return [{"id": c.id, "type": c.type, "state": c.state, "timeout": c.timeout(now),
                 "lifetime": int(c.lifetime), "ref_count": 1, "src_ip": c.src_ip, "src_port": c.src_port,
                 "dst_ip": c.dst_ip, "dst_port": c.dst_port} for c in connections(self.core.shared)]

    def core_udp4_raw_info(self, *_: Any) -> dict[str, int]:
        """Returns udp4_raw related info."""
        params = self.core.core_params
        return {"udp4_raw": int(as_number(params.get("udp4_raw"), 0)),
                "udp4_raw_mtu": int(as_number(params.get("udp4_raw_mtu"), 1500)),
                "udp4_raw_ttl": int(as_number(params.get("udp4_raw_ttl"), 64))}

    def core_aliases_list(self, *_: Any) -> dict[str, Any]:
        """List local SIP server host aliases"""
        listed = [Member("alias", {"proto": proto, "address": host, "port": port if port else "*"})
                  for proto, host, port in reversed(alias_entries(self.core))]
        return {"myself_callbacks": "no", "aliases": listed}

    def core_sockets_list(self, *_: Any) -> list[list[Member]]:
        """List local SIP server listen sockets"""
        out: list[Member] = []
        for proto in ("udp", "tcp", "tls", "sctp"):
            for sock in self.core.sockets:
                if sock.proto != proto:
                    continue
                out.append(Member("socket", {"proto": proto, "address": sock.host, "port": str(sock.port),
                                             "mcast": "no", "mhomed": "no", "virtual": "no"}))
        return [out]  # one array, its members named "socket"

    # ------------------------------------------------------------ the config

    def core_modules(self, *_: Any) -> list[str]:
        """List loaded modules"""
        return list(reversed(self._module_names()))

    def _module_names(self) -> list[str]:
        if self.core.config is not None and self.core.config.modules:
            return list(self.core.config.modules)
        return list(self.core.modules)

    def core_ppdefines(self, *_: Any) -> list[str]:
        """List preprocessor defines"""
        return [name for name, _value, _dtype in self._ppdefines()]

    def core_ppdefines_full(self, *_: Any) -> list[dict[str, Any]]:
        """List preprocessor defines with full details"""
        return [{"name": name, "type": dtype, "value": "none" if value is None else value}
                for name, value, dtype in self._ppdefines()]

    def _ppdefines(self) -> list[tuple[str, str | None, int]]:
        config = self.core.config
        return list(config.ppdefines) if config is not None else []

    # ------------------------------------------------------------ system.*

    def system_listMethods(self, *_: Any) -> list[str]:  # noqa: N802 (Kamailio's name)
        """Lists all RPC methods supported by the server."""
        return self.registry.names()

    def system_methodHelp(self, *params: Any) -> str:  # noqa: N802
        """Print the help string for given method."""
        if not params or not isinstance(params[0], str):
            raise RpcFault(400, "Method Name Expected")
        entry = self.registry.get(params[0])
        if entry is None:
            raise RpcFault(400, "command not found")
        return entry.doc or "undocumented"

    def system_methodSignature(self, *_: Any) -> str:  # noqa: N802
        """Returns signature of given method."""
        raise RpcFault(500, "Not Implemented Yet")


def _compiler() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def _signal_all(pids: list[int], number: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, number)
        except (ProcessLookupError, PermissionError, ValueError, OverflowError):
            pass


def alias_entries(core: Core) -> list[tuple[str, str, int | None]]:
    """(proto, host, port) of each alias in the order Kamailio adds them: the config's `alias=`
    lines, then the names found for each listen socket (auto aliases) with that socket's protocol."""
    from kampy.config.ast import ListenValue
    from kampy.runtime.sockets import param_values, resolved_names, split_address

    out: list[tuple[str, str, int | None]] = []
    configured: set[tuple[str, int | None]] = set()
    for alias in param_values(core.core_params.get("alias")):
        if isinstance(alias, ListenValue):
            proto, host, port = (alias.proto or "*").lower(), alias.host.strip("[]"), alias.port
        else:
            proto, (_, host, port) = "*", split_address(str(alias))
        out.append((proto, host, port))
        configured.add((host, port))
    known = set(core.aliases)
    for sock in core.sockets:
        for name in resolved_names(sock.host):
            if (name, sock.port) in known and (name, sock.port) not in configured \
                    and (sock.proto, name, sock.port) not in out:
                out.append((sock.proto, name, sock.port))
    return out


def tcp_options(params: dict[str, Any], net: NetParams) -> dict[str, int]:
    """core.tcp_options: the TCP parameters with Kamailio's defaults."""
    def number(name: str, default: int) -> int:
        return int(as_number(params.get(name), default))

    def flag(name: str, default: bool) -> int:
        return int(as_bool(params.get(name), default))

    return {
        "connect_timeout": number("tcp_connect_timeout", 10), "send_timeout": number("tcp_send_timeout", 10),
        "connection_lifetime": int(net.tcp_connection_lifetime),
        "max_connections(soft)": net.tcp_max_connections,
        "max_tls_connections(soft)": number("tls_max_connections", 2048),
        "no_connect": flag("tcp_no_connect", False), "fd_cache": flag("tcp_fd_cache", True),
        "async": flag("tcp_async", True), "connect_wait": flag("tcp_connect_wait", True),
        "conn_wq_max": net.tcp_conn_wq_max, "wq_max": number("tcp_wq_max", 10 * 1024 * 1024),
        "defer_accept": number("tcp_defer_accept", 0), "delayed_ack": flag("tcp_delayed_ack", True),
        "syncnt": number("tcp_syncnt", 0), "linger2": number("tcp_linger2", 0),
        "keepalive": flag("tcp_keepalive", True), "keepidle": number("tcp_keepidle", 0),
        "keepintvl": number("tcp_keepintvl", 0), "keepcnt": number("tcp_keepcnt", 0),
        "crlf_ping": flag("tcp_crlf_ping", True), "accept_aliases": flag("tcp_accept_aliases", False),
        "alias_flags": number("tcp_alias_flags", 1),
        "new_conn_alias_flags": number("tcp_new_conn_alias_flags", 2),
    }


# the core's methods with Kamailio's RET_ARRAY flag
_CORE_ARRAY = {"core.psx", "core.ps", "core.psa", "core.echo", "core.prints", "core.printi", "core.pwd",
               "core.arg", "core.tcp_list", "core.modules", "core.ppdefines", "core.ppdefines_full",
               "system.listMethods"}
CORE_METHODS = ("system.listMethods", "system.methodSignature", "system.methodHelp", "core.prints",
                "core.printi", "core.echo", "core.version", "core.flags", "core.info", "core.runinfo",
                "core.uptime", "core.ps", "core.psx", "core.psa", "core.pwd", "core.arg", "core.kill",
                "core.shmmem", "core.tcp_info", "core.tcp_options", "core.tcp_list", "core.udp4_raw_info",
                "core.aliases_list", "core.sockets_list", "core.modules", "core.ppdefines",
                "core.ppdefines_full")


def register_core_methods(core: Core, registry: RpcRegistry) -> None:
    methods = CoreMethods(core, registry)
    for name in CORE_METHODS:
        fn = getattr(methods, name.replace(".", "_"))
        registry.register(name, fn, (fn.__doc__ or "").strip(), "core", name in _CORE_ARRAY)
    register_blocklist_methods(core, registry)
    register_dns_methods(core, registry)


__all__ = ["CoreMethods", "register_core_methods"]
