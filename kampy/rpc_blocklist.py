"""The core's RPC methods of the destination blocklist (Kamailio's src/core/dst_blocklist.c, with
their replies as `kamcmd` prints them): dst_blocklist.view, .debug, .add, .delete_all, .mem_info.
Every one answers 500 "dst blocklist support disabled" while the core's use_dst_blocklist is off.
Kamailio's dst_blocklist.stats_get exists only in builds with USE_DST_BLOCKLIST_STATS, which
Debian's 5.6 is not (kamcmd: "command dst_blocklist.stats_get not found"); kampy has none either."""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from kampy.module import RpcFault
from kampy.runtime.dst_blocklist import BLST_IS_IPV6, BlstEntry, DstBlocklist

if TYPE_CHECKING:
    from kampy.rpc import RpcRegistry
    from kampy.runtime.core import Core

# Kamailio's PROTO_* numbers up to PROTO_SCTP (what dst_blocklist.add takes), as get_proto_name names them
PROTO_NAMES = ("*", "udp", "tcp", "tls", "sctp")


def _seconds(entry: BlstEntry) -> int:
    """TICKS_TO_S of the time left (or, negated, of the time since it expired): whole seconds."""
    left = entry.expires_in
    return int(left) if left >= 0 else -int(-left)


def _address(text: str, flags: int) -> tuple[str, int]:
    """str2ip, then str2ip6 (only str2ip6 with BLST_IS_IPV6): the address as ip_addr2a prints it,
    and the flags (BLST_IS_IPV6 for an IPv6 one)."""
    if not flags & BLST_IS_IPV6:
        try:
            return str(ipaddress.IPv4Address(text)), flags
        except ValueError:
            pass
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.IPv6Address(bare)), flags | BLST_IS_IPV6
    except ValueError:
        raise RpcFault(400, "Malformed ip address") from None


class BlocklistMethods:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._blocklist: DstBlocklist | None = None

    def _enabled(self) -> DstBlocklist:
        if not self.core.cfg.get("core", "use_dst_blocklist"):
            raise RpcFault(500, "dst blocklist support disabled")
        if self._blocklist is None:
            self._blocklist = DstBlocklist(self.core.shared, self.core.clock)
        return self._blocklist

    def _max_mem(self) -> int:
        return int(self.core.cfg.get("core", "dst_blocklist_mem") or 0) * 1024  # KB, as blst_max_mem

    def dst_blocklist_mem_info(self) -> list[int]:
        """dst blocklist memory usage info."""
        blocklist = self._enabled()
        return [blocklist.mem_used(), self._max_mem()]

    def dst_blocklist_debug(self) -> list[Any]:
        """dst blocklist debug info."""
        out: list[Any] = []
        for e in self._enabled().entries():
            out += [e.proto, e.host, e.port, _seconds(e), e.flags]
        return out

    def dst_blocklist_view(self) -> list[str]:
        """dst blocklist dump in human-readable format."""
        out = []
        for e in self._enabled().entries():
            expires = _seconds(e)
            if expires < 0:
                continue
            out += [f"{{\n    protocol: {e.proto}", f"    ip: {e.host}", f"    port: {e.port}",
                    f"    expires in (s): {expires}", f"    flags: {e.flags}\n}}"]
        return out

    def dst_blocklist_delete_all(self) -> None:
        """Deletes all the entries from the dst blocklist except the permanent ones."""
        self._enabled().delete_all()

    def dst_blocklist_add(self, ip: str, port: int, proto: int, flags: int) -> None:
        """Adds a new entry to the dst blocklist."""
        blocklist = self._enabled()
        proto, flags = proto & 0xFF, flags & 0xFF  # unsigned char, as Kamailio casts them
        if proto >= len(PROTO_NAMES):
            raise RpcFault(400, "Unknown protocol")
        host, flags = _address(ip, flags)
        ttl = float(self.core.cfg.get("core", "dst_blocklist_expire") or 0)
        if not blocklist.add(PROTO_NAMES[proto], host, port & 0xFFFF, ttl, flags, self._max_mem()):
            raise RpcFault(400, "Failed to add the entry to the blocklist")


BLOCKLIST_METHODS = ("dst_blocklist.mem_info", "dst_blocklist.debug", "dst_blocklist.view",
                     "dst_blocklist.delete_all", "dst_blocklist.add")


def register_blocklist_methods(core: Core, registry: RpcRegistry) -> None:
    methods = BlocklistMethods(core)
    for name in BLOCKLIST_METHODS:
        fn = getattr(methods, name.replace(".", "_"))
        registry.register(name, fn, (fn.__doc__ or "").strip(), "core", False)
