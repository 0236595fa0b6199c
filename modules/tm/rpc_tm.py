"""tm's RPC commands on transactions (Kamailio's t_stats.c tm.list/tm.hash_stats/tm.clean, t_cancel.c
tm.cancel, t_reply.c tm.reply/tm.reply_callid) and t_clean().

Transactions live in the worker that created them (see t_lookup.py): each command runs its part in
every worker (rpc_gather.py) and puts the parts together."""
from __future__ import annotations

from typing import Any

from kampy.api import CoreAPI, MessageContext, RpcFault, RpcStruct, hash2_raw

from .base import log
from .cell import Cell
from .replies import build_local_reply
from .rpc_gather import Answer, Gather, first_ok

TABLE_ENTRIES = 65536  # TM_TABLE_ENTRIES: 1 << 16 hash slots
TM_LIFETIME_LIMIT = 90  # h_table.h: tm_clean frees transactions whose lifetime ended this long ago (s)

# h_table.h's flags of a transaction, as tm.list shows them (tflags)
T_IS_INVITE_FLAG, T_IS_LOCAL_FLAG, T_NOISY_CTIMER_FLAG, T_CANCELED = 1, 2, 4, 8
T_IN_AGONY, T_AUTO_INV_100, T_DISABLE_FAILOVER = 32, 64, 512


def _line(cell: Cell, name: str) -> str:
    """A header line as the cell keeps it (`From: ...` up to and with its CRLF)."""
    raw = cell.request.get_all_raw(name)
    return raw[0].decode("utf-8", "surrogateescape") + "\r\n" if raw else ""


def _cseq_line(cell: Cell) -> str:
    """cell->cseq_n: the CSeq header up to its number."""
    line = _line(cell, "cseq").rstrip("\r\n")
    name, _, value = line.partition(":")
    return f"{name}: {value.split()[0]}" if value.split() else line


def hash_index(cell: Cell) -> int:
    req = cell.request
    return hash2_raw(req.call_id or "", str(req.cseq.num) if req.cseq else "") & 0xFFFF


class RpcTm(Gather):
    """tm.list, tm.hash_stats, tm.clean, tm.cancel, tm.reply, tm.reply_callid, t_clean()."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self._ticks_origin = self._now()  # Kamailio's ticks count from its start

    def _cells(self) -> list[Cell]:
        """Every transaction of this worker, by hash slot as Kamailio's table holds them."""
        cells: dict[int, Cell] = {}
        for leg in self._legs.values():
            cells.setdefault(id(leg.cell), leg.cell)
        return sorted(cells.values(), key=lambda c: (hash_index(c), c.label))

    def _tflags(self, cell: Cell) -> int:
        flags = T_IS_INVITE_FLAG if cell.is_invite else 0
        if cell.is_local:
            flags |= T_IS_LOCAL_FLAG
        if cell.noisy_ctimer:
            flags |= T_NOISY_CTIMER_FLAG
        if cell.canceled:
            flags |= T_CANCELED
        if cell.waiting:
            flags |= T_IN_AGONY
        if cell.is_invite and cell.auto_inv_100:
            flags |= T_AUTO_INV_100
        if cell.disable_failover:
            flags |= T_DISABLE_FAILOVER
        return flags

    def _lifetime_s(self, cell: Cell) -> int:
        eol = cell.timers.end_of_life
        return 0 if eol is None else int(eol - self._ticks_origin)

    def _local_part(self, op: str, args: list[Any]) -> Answer:
        """This worker's part of an RPC (see rpc_gather.py)."""
        try:
            if op == "list":
                return {"ok": [self._entry(cell) for cell in self._cells()]}
            if op == "hash":
                current: dict[str, int] = {}
                for cell in self._cells():
                    slot = str(hash_index(cell))
                    current[slot] = current.get(slot, 0) + 1
                acc = {str(slot): n for slot, n in self.hash_acc.items()}  # type: ignore[attr-defined]
                return {"ok": {"crt": current, "acc": acc}}
            if op == "clean":
                self._clean_lifetime()
                return {"ok": None}
            if op == "cancel":
                return {"ok": self._cancel_local(*args)}
            if op == "reply":
                return {"ok": self._reply_local(*args)}
        except RpcFault as fault:
            return {"fault": [fault.code, fault.message]}
        raise ValueError(f"unknown RPC part {op!r}")

    def _entry(self, cell: Cell) -> list[list[Any]]:
        return [["cell", f"0x{id(cell):x}"], ["tindex", hash_index(cell)], ["tlabel", cell.label],
                ["method", cell.method], ["from", _line(cell, "from")], ["to", _line(cell, "to")],
                ["callid", _line(cell, "call-id")], ["cseq", _cseq_line(cell)],
                ["uas_request", "no" if cell.is_local else "yes"], ["tflags", self._tflags(cell)],
                ["outgoings", len(cell.branches)], ["ref_count", 1], ["lifetime", self._lifetime_s(cell)]]

    def rpc_list(self) -> Any:
        """List transactions."""
        return self._everywhere("list", [], _combine_list)

    def rpc_hash_stats(self) -> Any:
        """Print transactions hash table statistics: the current and accumulated transactions per
        slot (Kamailio's -DTM_HASH_STATS build)."""
        return self._everywhere("hash", [], _combine_hash)

    def rpc_clean(self) -> Any:
        """Clean expired (lifetime exceeded) transactions."""
        return self._everywhere("clean", [], lambda answers: None)

    def t_clean(self, ctx: MessageContext) -> int:
        self._everywhere("clean", [], lambda answers: None)
        return 1

    def _clean_lifetime(self) -> None:
        """tm_clean_lifetime: free the transactions whose life ended TM_LIFETIME_LIMIT s ago."""
        limit = self._now() - TM_LIFETIME_LIMIT
        for cell in self._cells():
            eol = cell.timers.end_of_life
            if eol is not None and eol < limit:
                self._log_transaction(cell, "[hard cleanup]")
                self._kill(cell, reply=False)  # type: ignore[attr-defined]

    def _log_transaction(self, cell: Cell, text: str) -> None:
        log.warning("%s [start] transaction 0x%x", text, id(cell))
        log.warning("%s - tindex=%u tlabel=%u method='%s' from='%s' to='%s' callid='%s' cseq='%s' "
                    "uas_request=%s tflags=%u outgoings=%u ref_count=%u lifetime=%u", text, hash_index(cell),
                    cell.label, cell.method, _line(cell, "from"), _line(cell, "to"), _line(cell, "call-id"),
                    _cseq_line(cell), "no" if cell.is_local else "yes", self._tflags(cell),
                    len(cell.branches), 1, max(self._lifetime_s(cell), 0))
        log.warning("%s [end] transaction 0x%x", text, id(cell))

    def _by_callid(self, call_id: str, cseq: str) -> Cell | None:
        """t_lookup_callid: the transaction with this Call-ID and CSeq number."""
        for cell in self._cells():
            req = cell.request
            if req.call_id == call_id and req.cseq is not None \
                    and str(req.cseq.num) == cseq.strip():
                return cell
        return None

    def rpc_cancel(self, call_id: str, cseq: str) -> Any:
        """Cancel a pending transaction."""
        return self._everywhere("cancel", [call_id, cseq], first_ok)

    def _cancel_local(self, call_id: str, cseq: str) -> list[Any]:
        cell = self._by_callid(call_id, cseq)
        if cell is None:
            raise RpcFault(400, "Transaction not found")
        remaining = 0
        for br in cell.branches:  # prepare_to_cancel, then cancel_uacs without F_CANCEL_B_* flags
            if not self._cancelable(br):  # type: ignore[attr-defined]
                continue
            if br.blind:  # F_CANCEL_B_FAKE_REPLY: it ends now with a 487
                self._cancel_branch(cell, br)  # type: ignore[attr-defined]
                continue
            br.canceled = True
            remaining += 1  # cancel_branch() answers 1 for a CANCEL sent as for one left pending
            if br.last_received >= 100:
                self._send_cancel(cell, br)  # type: ignore[attr-defined]
            # else its CANCEL goes when a provisional comes; without one it times out
        return [remaining, "branches remaining (waiting for timeout)"]

    def rpc_reply(self, code: int, reason: str, trans_id: str, to_tag: str, headers: str = "",
                  body: str = "") -> Any:
        """Reply transaction."""
        hash_s, sep, label_s = trans_id.partition(":")
        try:
            slot, label = int(hash_s), int(label_s.split()[0] if sep and label_s.split() else "x")
        except ValueError:
            log.error("Invalid trans_id (%s)", trans_id)
            raise RpcFault(400, "Invalid transaction ID") from None
        return self._everywhere("reply", [code, reason, ["id", slot, label], to_tag, headers, body], first_ok)

    def rpc_reply_callid(self, code: int, reason: str, call_id: str, cseq: str, to_tag: str,
                         headers: str = "", body: str = "") -> Any:
        """Reply transaction by call-id."""
        return self._everywhere("reply", [code, reason, ["callid", call_id, cseq], to_tag, headers, body],
                                first_ok)

    def _reply_local(self, code: int, reason: str, which: list[Any], to_tag: str, headers: str,
                     body: str) -> None:
        if which[0] == "id":
            cell = next((c for c in self._cells() if c.label == which[2] and hash_index(c) == which[1]), None)
            if cell is None:
                log.error("Lookup failed")
                raise RpcFault(481, "No such transaction")
        else:
            cell = self._by_callid(which[1], which[2])
            if cell is None:
                raise RpcFault(404, "Transaction not found")
        if self._reply_with_body(cell, int(code), reason, body, headers, to_tag) < 0:
            log.error("Reply failed")
            raise RpcFault(500, "Reply failed")

    def _reply_with_body(self, cell: Cell, code: int, reason: str, body: str, headers: str,
                         to_tag: str) -> int:
        """t_reply_with_body: a reply with extra header lines, a body and a To-tag of the caller's."""
        if cell.uas is None or cell.src is None or not 100 <= code <= 699:
            return -1
        if cell.uas_status >= 200 and not (cell.is_invite and 200 <= code < 300 <= cell.uas_status):
            log.error("can't generate %d reply when a final %d was sent out", code, cell.uas_status)
            return -1
        data = build_local_reply(cell.request, cell.src, code, reason, tag=to_tag or None,
                                 server=self.core.server_header, lumps=[headers] if headers else [],
                                 body=body.encode())
        tag = cell.request.to.tag if cell.request.to is not None else None
        if not self._send_uas(cell, data, code, tag or to_tag or None):  # type: ignore[attr-defined]
            return -1
        self._count("rpl_generated")  # type: ignore[attr-defined]
        if code >= 200 and cell.is_invite:
            for br in cell.branches:  # cancel_uacs(F_CANCEL_B_KILL)
                if br.last_received < 200:
                    self._cancel_branch(cell, br, kill=True)  # type: ignore[attr-defined]
        return 1


def _combine_list(answers: list[Answer]) -> list[RpcStruct]:
    """Every worker's transactions, a struct per hash slot as Kamailio's tm.list gives them."""
    entries = [entry for ans in answers for entry in ans.get("ok") or ()]
    entries.sort(key=lambda entry: (entry[1][1], entry[2][1]))
    slots: dict[int, RpcStruct] = {}
    for entry in entries:
        slot = slots.setdefault(entry[1][1], RpcStruct())
        for name, value in entry:
            slot.add(name, value)
    return list(slots.values())


def _combine_hash(answers: list[Answer]) -> dict[str, Any]:
    current: dict[int, int] = {}
    acc: dict[int, int] = {}
    for ans in answers:
        for total, part in ((current, (ans.get("ok") or {}).get("crt", {})),
                            (acc, (ans.get("ok") or {}).get("acc", {}))):
            for slot, count in part.items():
                total[int(slot)] = total.get(int(slot), 0) + int(count)
    out: dict[str, Any] = {"hash_size": TABLE_ENTRIES}
    out.update(_slot_stats("crt", current))
    out.update(_slot_stats("acc", acc))
    return out


def _slot_stats(prefix: str, counts: dict[int, int]) -> dict[str, Any]:
    """tm_rpc_hash_stats' figures for one kind of count per slot (most slots count 0)."""
    total = sum(counts.values())
    average = total / TABLE_ENTRIES
    values = list(counts.values())
    zeroes = TABLE_ENTRIES - sum(1 for v in values if v)
    low = 0 if zeroes else min(values)
    high = max(values, default=0)
    deviating = sum(1 for v in values if abs(v - average) > 1) + (zeroes if average > 1 else 0)
    deviation = sum((v - average) ** 2 for v in values) + zeroes * average ** 2
    return {f"{prefix}_transactions": total, f"{prefix}_target_per_cell": average, f"{prefix}_min": low,
            f"{prefix}_max": high, f"{prefix}_worst_case_extra_cells": high - int(average),
            f"{prefix}_no_zero_cells": zeroes, f"{prefix}_no_deviating_cells": deviating,
            f"{prefix}_deviation_sq_sum": deviation}

