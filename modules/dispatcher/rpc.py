"""The dispatcher.* RPC commands, with Kamailio's reply structures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampy.api import Member, RpcFault

from .dslist import DS_DISABLED_DST, DS_INACTIVE_DST, DS_PROBING_DST, DS_TRYING_DST, LoadError, build_sets
from .store import PING_KEY, RELOAD_KEY

if TYPE_CHECKING:
    from .dispatcher import DispatcherModule

PRINT_NORMAL, PRINT_SHORT, PRINT_FULL = 1, 2, 3


def flags_text(flags: int) -> str:
    first = (
        "I"
        if flags & DS_INACTIVE_DST
        else "D"
        if flags & DS_DISABLED_DST
        else "T"
        if flags & DS_TRYING_DST
        else "A"
    )
    return first + ("P" if flags & DS_PROBING_DST else "X")


def rpc_state(text: str) -> int:
    """dispatcher_rpc_set_state_helper()'s reading of the state."""
    if not text:
        raise RpcFault(500, "Invalid State Parameter")
    first, probing = text[0], len(text) > 1 and text[1] in "Pp"
    if first in "0Ii":
        return DS_INACTIVE_DST | (DS_PROBING_DST if probing else 0)
    if first in "1Aa":
        return DS_PROBING_DST if probing else 0
    if first in "2Dd":
        return DS_DISABLED_DST
    if first in "3Tt":
        return DS_TRYING_DST | (DS_PROBING_DST if probing else 0)
    raise RpcFault(500, "Unknown State Value")


class RpcMixin:
    def _reload_allowed(self: DispatcherModule) -> None:
        now = int(self.core.clock.time())
        last = self.store.get_int(RELOAD_KEY, 0)
        if last and last > now - self.reload_delta:
            raise RpcFault(500, "Ongoing reload")
        self.store.set_int(RELOAD_KEY, now)

    def rpc_reload(self: DispatcherModule) -> str:
        fault = self.reload()
        if fault:
            raise RpcFault(500, fault)
        return "Ok. Dispatcher successfully reloaded."

    def rpc_list(self: DispatcherModule, mode: str = "") -> dict[str, Any]:
        vmode = {"short": PRINT_SHORT, "full": PRINT_FULL}.get(mode.lower(), PRINT_NORMAL)
        data = self.store.read()
        if not data["sets"]:
            raise RpcFault(500, "No Destination Sets")
        records = [
            Member(
                "SET",
                {
                    "ID": group,
                    "TARGETS": [
                        Member("DEST", self._dest_info(d, vmode)) for d in data["sets"][str(group)]["dests"]
                    ],
                },
            )
            for group in data["order"]
        ]
        return {"NRSETS": len(data["sets"]), "RECORDS": records}

    def _dest_info(self: DispatcherModule, dest: dict[str, Any], vmode: int) -> dict[str, Any]:
        info: dict[str, Any] = {
            "URI": dest["uri"],
            "FLAGS": flags_text(dest["flags"]),
            "PRIORITY": dest["priority"],
        }
        if vmode == PRINT_FULL:
            info.update(
                HOST=dest["host"],
                IPADDR=dest["ip"] or "",
                PORT=dest["port"],
                PROTOID=dest["proto"],
                DNSTIME_SEC=int(dest["dnstime"]),
                DNSTIME_USEC=int(dest["dnstime"] % 1 * 1e6),
            )
        attrs = dest["attrs"]
        if vmode != PRINT_SHORT and attrs.get("body") is not None:
            info["ATTRS"] = {
                "BODY": attrs["body"],
                "DUID": attrs.get("duid"),
                "MAXLOAD": attrs.get("maxload") or 0,
                "WEIGHT": attrs.get("weight") or 0,
                "RWEIGHT": attrs.get("rweight") or 0,
                "SOCKET": attrs.get("socket"),
                "SOCKNAME": attrs.get("sockname"),
                "OBPROXY": attrs.get("obproxy"),
            }
        if self.latency_stats:
            lat = dest["latency"]
            info["LATENCY"] = {
                "AVG": float(lat["avg"]),
                "STD": float(lat["std"]),
                "EST": float(lat["est"]),
                "MAX": int(lat["max"]),
                "TIMEOUT": int(lat["timeout"]),
            }
        if self.hash_size > 0:
            info["RUNTIME"] = {"DLGLOAD": dest["dload"]}
        return info

    def _set_state(self: DispatcherModule, state: str, group: int, dest: str, by_duid: bool) -> str:
        value = rpc_state(state)
        if dest == "all":
            self.reinit_state(group, lambda d: True, value)
        elif by_duid:
            if not self.reinit_state(
                group, lambda d: (d["attrs"].get("duid") or "").lower() == dest.lower(), value
            ):
                raise RpcFault(500, "State Update Failed")
        elif not self.reinit_state(group, lambda d: d["uri"].lower() == dest.lower(), value):
            raise RpcFault(500, "State Update Failed")
        return "Ok. Dispatcher state updated."

    def rpc_set_state(self: DispatcherModule, state: str, group: int, address: str) -> str:
        return self._set_state(state, group, address, False)

    def rpc_set_duid_state(self: DispatcherModule, state: str, group: int, duid: str) -> str:
        return self._set_state(state, group, duid, True)

    def rpc_ping_active(self: DispatcherModule, state: int | None = None) -> dict[str, int]:
        old = self.store.get_int(PING_KEY, 1)
        if state is None:
            return {"OldPingState": old}
        self.store.set_int(PING_KEY, int(state))
        return {"NewPingState": int(state), "OldPingState": old}

    def _rebuilt(
        self: DispatcherModule, keep: Any, extra: tuple[int, dict[str, Any]] | None
    ) -> dict[str, Any]:
        data = self.store.read()
        dests = []
        for group in data["order"]:
            for dest in data["sets"][str(group)]["dests"]:
                if keep(group, dest):
                    try:
                        dests.append(
                            (
                                group,
                                self.pack(
                                    dest["uri"],
                                    dest["flags"],
                                    dest["priority"],
                                    dest["attrs"].get("body") or "",
                                    dest["dload"],
                                ),
                            )
                        )
                    except LoadError:
                        continue
        if extra is not None:
            dests.append(extra)
        return build_sets(dests)

    def rpc_add(
        self: DispatcherModule, group: int, address: str, flags: int = 0, priority: int = 0, attrs: str = ""
    ) -> str:
        self._reload_allowed()
        try:
            new = (group, self.pack(address, flags, priority, attrs))
        except LoadError as exc:
            if self.load_mode == 1:
                raise RpcFault(500, "Adding dispatcher dst failed") from exc
            new = None
        self.store.replace(self._rebuilt(lambda g, d: True, new))
        return "Ok. Dispatcher destination added."

    def rpc_remove(self: DispatcherModule, group: int, address: str) -> str:
        self._reload_allowed()
        try:
            packed = self.pack(address, 0, 0, "")
        except LoadError as exc:
            raise RpcFault(500, "Removing dispatcher dst failed") from exc
        self.store.replace(self._rebuilt(lambda g, d: not (g == group and d["uri"] == packed["uri"]), None))
        return "Ok. Dispatcher destination removed."

    def rpc_hash(self: DispatcherModule, nslots: int, val1: str, val2: str | None = None) -> dict[str, int]:
        hashid = self.hash_values(val1, val2)
        return {"hashid": hashid, "slot": hashid % nslots if nslots > 0 else 0}
