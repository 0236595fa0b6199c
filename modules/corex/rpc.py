"""corex's RPC methods (modules/corex/corex_rpc.c, corex_rpc_shm.c), with Kamailio 5.6's replies.

kampy's shared memory is its shared store (an SQLite database and memory-mapped tables in
/dev/shm): `shm.info` names it, `shm.stats` counts the bytes its files and tables use against the
configured size (`-m`, `shm_mem_size`, Kamailio's 64 MB by default); kampy has no allocator with
fragments, so `shm.report` answers as Kamailio does for a memory manager without a report."""
from __future__ import annotations

import os
from typing import Any

from kampy.api import CfgError, CoreAPI, L_INFO, RpcFault, log_at, module_logger

log = module_logger("corex")

DEFAULT_SHM = 64 * 1024 * 1024  # Kamailio's default shared memory size


class CorexRpc:
    core: CoreAPI

    def rpc_list_sockets(self) -> list[dict[str, Any]]:
        out = []
        for proto in ("udp", "tcp", "tls", "sctp"):
            for sock in self.core.sockets:
                if sock.proto != proto:
                    continue
                out.append({
                    "PROTO": proto, "NAME": sock.host, "ADDRLIST": {"ADDR": sock.host},
                    "PORT": str(sock.port), "MCAST": "no", "MHOMED": "no", "VIRTUAL": "no",
                    "SOCKNAME": sock.name or "-", "ADVERTISE": sock.advertise_host or "-"})
        return out

    def rpc_list_aliases(self) -> list[dict[str, Any]]:
        # Kamailio's list has the last alias added first
        return [{"PROTO": "*", "ADDR": host, "PORT": port or 0}
                for host, port in reversed(self.core.aliases)]

    def rpc_shm_status(self) -> None:
        log_at(log, L_INFO, "printing shared memory status report")
        self._shm_log()

    def rpc_shm_summary(self) -> None:
        log_at(log, L_INFO, "printing shared memory summary report")
        self._shm_log()

    def _shm_log(self) -> None:
        for path in self.core.shared.files():
            log_at(log, L_INFO, "shared memory: %s: %d bytes", path.name, path.stat().st_size)

    def rpc_pkg_summary(self, selector: str, value: int) -> None:
        """Have the process `pid N` (or process number `idx N`) log its memory status, through the
        cfg variable core.mem_dump_pkg."""
        if len(selector) != 3:
            raise RpcFault(500, "Unsupported selector")
        if selector.lower() == "idx":
            processes = self.core.rpc.call("core.psx")
            if not 0 <= value < len(processes):
                raise RpcFault(500, "Index value out of range")
            value = int(processes[value]["PID"])
        elif selector.lower() != "pid":
            raise RpcFault(500, "Unsupported selector type")
        try:
            self.core.cfg.set_now("core", None, "mem_dump_pkg", value)
        except CfgError:
            raise RpcFault(500, "Operation failed") from None

    def rpc_debug(self, level: int | None = None) -> dict[str, int]:
        old = int(self.core.cfg.read("core", None, "debug"))  # type: ignore[arg-type]
        if level is None:
            return {"debug": old}
        try:
            self.core.cfg.set_now("core", None, "debug", level)
        except CfgError:
            pass
        return {"old": old, "new": level}

    # ------------------------------------------------------------ shm.*

    def _shm_size(self) -> int:
        params = self.core.core_params
        for name in ("shm_mem_size", "shm_mem", "shm"):
            try:
                if params.get(name):
                    return int(params[name]) * 1024 * 1024
            except (TypeError, ValueError):
                continue
        return DEFAULT_SHM

    def _shm_used(self) -> int:
        return sum(os.path.getsize(p) for p in self.core.shared.files() if p.exists())

    def rpc_shm_info(self) -> dict[str, Any]:
        return {"name": "kampy shared store", "size": self._shm_size()}

    def rpc_shm_stats(self) -> dict[str, int]:
        total, used = self._shm_size(), self._shm_used()
        return {"total": total, "free": max(total - used, 0), "used": used, "real_used": used,
                "max_used": used, "fragments": len(self.core.shared.files())}

    def rpc_shm_report(self) -> None:
        raise RpcFault(500, "No report callback function")
