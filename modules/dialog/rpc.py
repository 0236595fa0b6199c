"""The dialog module's RPC commands (dlg.*), with Kamailio's reply structure."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from kampy.api import (
    DLG_STATE_CONFIRMED,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_DELETED,
    DLG_STATE_EARLY,
    DLG_STATE_UNCONFIRMED,
    RpcFault,
)

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")


def _leg(dlg: Dialog, leg: int) -> dict[str, Any]:
    return {
        "tag": dlg.tag[leg],
        "contact": dlg.contact[leg],
        "cseq": dlg.cseq[leg],
        "route_set": dlg.route_set[leg],
        "socket": dlg.bind_addr[leg] or None,  # no socket (a replicated dialog): "<null string>"
    }


class DialogRpc:
    """Mixed into DialogModule."""

    def rpc_dialog(self: DialogModule, dlg: Dialog) -> dict[str, Any]:
        """internal_rpc_print_dlg."""
        now = int(self.core.clock.time())
        if dlg.end_ts:
            duration = dlg.end_ts - dlg.start_ts
        elif dlg.start_ts:
            duration = now - dlg.start_ts
        else:
            duration = 0
        alive = dlg.state < DLG_STATE_DELETED
        return {
            "h_entry": dlg.h_entry,
            "h_id": dlg.h_id,
            "ref": dlg.ref,
            "call-id": dlg.callid,
            "from_uri": dlg.from_uri,
            "to_uri": dlg.to_uri,
            "state": dlg.state,
            "start_ts": dlg.start_ts,
            "init_ts": dlg.init_ts,
            "end_ts": dlg.end_ts,
            "duration": duration,
            "timeout": dlg.timeout,
            "lifetime": dlg.lifetime,
            "dflags": dlg.dflags,
            "sflags": dlg.sflags,
            "iflags": dlg.iflags,
            "caller": _leg(dlg, CALLER),
            "callee": _leg(dlg, CALLEE),
            # newest first, as Kamailio's lists (each new link and variable goes at the head)
            "profiles": [
                ({name: value} if name in self.profiles_with_value else name)
                for name, value in reversed(dlg.profiles)
            ]
            if alive
            else [],
            "variables": [{k: v} for k, v in reversed(dlg.vars.items())] if alive else [],
        }

    def _dialogs(self: DialogModule) -> list[Dialog]:
        return sorted(self.store.all(), key=lambda d: (d.h_entry, d.h_id))

    def rpc_list(self: DialogModule) -> list[Any]:
        return [self.rpc_dialog(d) for d in self._dialogs()]

    def rpc_list_ctx(self: DialogModule) -> list[Any]:
        return self.rpc_list()

    def rpc_dlg_list(self: DialogModule, callid: str, from_tag: str | None = None) -> list[Any]:
        found = sorted(self.store.of_callid(callid), key=lambda d: (d.h_entry, d.h_id))
        return [self.rpc_dialog(d) for d in found if from_tag is None or d.tag[CALLER] == from_tag]

    def rpc_dlg_list_ctx(self: DialogModule, callid: str, from_tag: str | None = None) -> list[Any]:
        return self.rpc_dlg_list(callid, from_tag)

    def rpc_list_match(self: DialogModule, mkey: str, mop: str, mval: str, limit: int = 0) -> list[Any]:
        keys = {
            "ruri": "req_uri",
            "furi": "from_uri",
            "turi": "to_uri",
            "callid": "callid",
            "start_ts": "start_ts",
        }
        if not mkey or not mop or not mval:
            raise RpcFault(500, "Invalid parameters")
        if mkey not in keys:
            raise RpcFault(500, "Invalid matching key parameter")
        if mop not in ("eq", "re", "sw", "gt", "lt"):
            raise RpcFault(500, "Invalid matching operator parameter")
        if mkey == "start_ts" and mop in ("eq", "re", "sw"):
            raise RpcFault(500, "Matching operator not supported with start_ts key")
        if mkey != "start_ts" and mop in ("gt", "lt"):
            raise RpcFault(500, "Matching operator not supported")
        regex = None
        if mop == "re":
            try:
                regex = re.compile(mval, re.IGNORECASE)
            except re.error as exc:
                raise RpcFault(500, "Invalid matching value parameter") from exc
        found = []
        for dlg in self._dialogs():
            value = getattr(dlg, keys[mkey])
            if mop == "eq":
                hit = value == mval
            elif mop == "re":
                hit = regex is not None and regex.search(value) is not None
            elif mop == "sw":
                hit = value.startswith(mval)
            else:
                try:
                    number = int(mval)
                except ValueError as exc:
                    raise RpcFault(500, "Invalid matching value parameter") from exc
                hit = value > number if mop == "gt" else value < number
            if hit:
                found.append(self.rpc_dialog(dlg))
                if limit and len(found) >= limit:
                    break
        if not found:
            raise RpcFault(404, "Not found")
        return found

    def rpc_list_match_ctx(self: DialogModule, mkey: str, mop: str, mval: str, limit: int = 0) -> list[Any]:
        return self.rpc_list_match(mkey, mop, mval, limit)

    def rpc_end_dlg(self: DialogModule, h_entry: int, h_id: int, extra_hdrs: str | None = None) -> None:
        dlg = self.store.get(int(h_entry), int(h_id))
        if dlg is None:
            raise RpcFault(404, "Dialog not found")
        self.bye(dlg, "all", extra_hdrs or "")

    def rpc_terminate_dlg(self: DialogModule, callid: str, ftag: str, ttag: str) -> None:
        found = self.store.find(callid, ftag, ttag)
        if found is None:
            raise RpcFault(500, "Couldnt find callid in dialog")
        if self.bye(found[0], "all", "") >= 0:
            log.warning("Dialog is terminated callid: '%s'", callid)

    def rpc_set_state(
        self: DialogModule, callid: str, ftag: str, ttag: str, state: int = DLG_STATE_DELETED
    ) -> str:
        if not DLG_STATE_UNCONFIRMED <= int(state) <= DLG_STATE_DELETED:
            raise RpcFault(500, "Invalid state value")
        found = self.store.find(callid, ftag, ttag)
        if found is None:
            raise RpcFault(500, "Dialog not found")
        now = int(self.core.clock.time())

        def change(d: Dialog) -> int:
            old = d.state
            d.state = int(state)
            if old == DLG_STATE_CONFIRMED and d.state == DLG_STATE_DELETED:
                d.init_ts = d.end_ts = now
            return old

        cur, old = self.store.update(found[0].h_entry, found[0].h_id, change)
        if cur is not None and old == DLG_STATE_CONFIRMED and cur.state == DLG_STATE_DELETED:
            self._stat("active_dialogs", -1)
            self.store.remove(cur)
            if self.db is not None:
                self.db.removed(cur)
        log.info("dialog callid '%s' - state change forced - old: %s - new: %s", callid, old, state)
        return "Done"

    def rpc_profile_get_size(self: DialogModule, profile: str, value: str | None = None) -> int:
        if profile not in self.profiles_with_value and profile not in self.profiles_no_value:
            raise RpcFault(404, f"Profile not found: {profile}")
        return self.store.profile_size(profile, value if profile in self.profiles_with_value else None)

    def rpc_profile_list(self: DialogModule, profile: str, value: str | None = None) -> list[Any]:
        if profile not in self.profiles_with_value and profile not in self.profiles_no_value:
            raise RpcFault(404, f"Profile not found: {profile}")
        value = value if profile in self.profiles_with_value else None
        dialogs = {(d.h_entry, d.h_id): d for d, _ in self.store.profile_dialogs(profile, value)}
        return [self.rpc_dialog(d) for _, d in sorted(dialogs.items())]

    def rpc_stats_active(self: DialogModule, own: int = 0) -> dict[str, int]:
        counts = dict.fromkeys(
            (DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY, DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED), 0
        )
        for dlg in self.store.all():
            if own and not dlg.bind_addr[CALLER]:
                continue
            if dlg.state in counts:
                counts[dlg.state] += 1
        return {
            "starting": counts[1],
            "connecting": counts[2],
            "answering": counts[3],
            "ongoing": counts[4],
            "all": sum(counts.values()),
        }

    def rpc_is_alive(self: DialogModule, callid: str, ftag: str, ttag: str) -> str:
        found = self.store.find(callid, ftag, ttag)
        if found is None:
            raise RpcFault(404, "Dialog not found")
        if found[0].state != DLG_STATE_CONFIRMED:
            raise RpcFault(500, "Dialog not in confirmed state")
        return "Alive"

    def rpc_briefing(self: DialogModule, fmt: str = "ftcFT") -> list[Any]:
        out = []
        for dlg in self._dialogs():
            item: dict[str, Any] = {"h_entry": dlg.h_entry, "h_id": dlg.h_id}
            for ch in fmt:
                if ch == "f":
                    item["from_uri"] = dlg.from_uri
                elif ch == "t":
                    item["to_uri"] = dlg.to_uri
                elif ch == "c":
                    item["call-id"] = dlg.callid
                elif ch == "F":
                    item["from_tag"] = dlg.tag[CALLER]
                elif ch == "T":
                    item["to_tag"] = dlg.tag[CALLER]  # sic: Kamailio 5.6 prints the caller's tag
                elif ch == "I":
                    item["init_ts"] = dlg.init_ts
                elif ch == "S":
                    item["start_ts"] = dlg.start_ts
                elif ch == "E":
                    item["end_ts"] = dlg.end_ts
                elif ch == "s":
                    item["state"] = dlg.state
            out.append(item)
        return out

    def rpc_dump_file(self: DialogModule, path: str) -> None:
        """dlg.dump_file: each dialog appended to the file as a line of JSON (internal_rpc_dump_file_dlg)."""
        try:
            with open(path, "a", encoding="utf-8") as out:
                for dlg in self._dialogs():
                    line = json.dumps(self._dump_item(dlg), separators=(",", ":"), ensure_ascii=False)
                    out.write(line + "\n")
        except OSError as exc:
            log.error("failed to open output file: %s (%s)", path, exc)

    def _dump_item(self: DialogModule, dlg: Dialog) -> dict[str, Any]:
        item = self.rpc_dialog(dlg)
        del item["duration"]
        item = {("call_id" if k == "call-id" else k): v for k, v in item.items()}
        alive = dlg.state < DLG_STATE_DELETED
        item["profiles"] = {name: value for name, value in reversed(dlg.profiles)} if alive else {}
        item["variables"] = dict(reversed(dlg.vars.items())) if alive else {}
        return item

    @staticmethod
    def _active(dlg: Dialog) -> bool:
        return dlg.state in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA)
