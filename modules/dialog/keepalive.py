"""Keep-alives within dialogs (Kamailio's dlg_ka_run and dlg_send_ka): OPTIONS to the caller
(`ka-src`) and/or the callee (`ka-dst`) of a confirmed dialog every ka_interval seconds, from the
"Dialog KA Timer" process; ka_failed_limit answers of 408 or 481 in a row leave the dialog 10
seconds to live."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import DLG_STATE_CONFIRMED, DLG_STATE_DELETED, TmcbParams, TmTransaction

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

IFLAG_KA_SRC = 1 << 1
IFLAG_KA_DST = 1 << 2


class DialogKeepalives:
    """Mixed into DialogModule."""

    def ka_add(self: DialogModule, d: Dialog, now: int) -> None:
        """dlg_ka_add, on a change the caller writes: the first keep-alive one interval from now."""
        if self.ka_interval > 0 and d.iflags & (IFLAG_KA_SRC | IFLAG_KA_DST):
            d.ka_next = now + self.ka_interval

    def ka_timer_run(self: DialogModule) -> None:
        """dlg_ka_run, every ka_timer seconds."""
        now = int(self.core.clock.time())
        for dlg in list(self.store.all()):
            if not dlg.ka_next or dlg.ka_next > now:
                continue
            if dlg.state == DLG_STATE_DELETED:
                self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "ka_next", 0))
                continue
            if dlg.state == DLG_STATE_CONFIRMED:
                if dlg.iflags & IFLAG_KA_SRC:
                    self.send_ka(dlg, CALLER)
                if dlg.iflags & IFLAG_KA_DST:
                    self.send_ka(dlg, CALLEE)
            self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "ka_next", now + self.ka_interval))

    def send_ka(self: DialogModule, dlg: Dialog, leg: int) -> int:
        """dlg_send_ka: OPTIONS to one side, with a CSeq below the dialog's (an old one)."""
        if self.filter_mode & 1 and not self.is_local(dlg, leg):
            log.debug("skipping non local dialog")
            return 0
        uac = self.uac_dialog(dlg, leg)
        seq = uac.local_seq or 0
        uac.local_seq = seq - 2 if seq > 1 else seq - 1
        headers = ""
        if leg == CALLEE and self.lreq_callee_headers:
            headers = self.lreq_callee_headers + ("" if self.lreq_callee_headers.endswith("\n") else "\r\n")
        ident = (dlg.h_entry, dlg.h_id)

        def on_reply(t: TmTransaction, kind: int, params: TmcbParams) -> None:
            self.ka_answered(ident, leg, params.code)

        if self.tm.t_request_within("OPTIONS", uac, headers=headers, callback=on_reply) < 0:
            log.error("failed to send the keep-alive to the %s", "caller" if leg == CALLER else "callee")
            return -1
        return 0

    def ka_answered(self: DialogModule, ident: tuple[int, int], leg: int, code: int) -> None:
        """dlg_ka_cb_all: 408 or 481 counts as a failure, any other final answer resets the count."""
        if code < 200:
            return
        now = int(self.core.clock.time())

        def change(d: Dialog) -> Any:
            if d.state != DLG_STATE_CONFIRMED:
                return False
            counters = d.ka_counters
            if code in (408, 481):
                if code == 408 and not d.cseq[leg]:
                    return False
                counters[leg] += 1
                if counters[leg] >= self.ka_failed_limit:
                    d.lifetime, d.timeout, d.db_dirty = 10, now + 10, True
            else:
                counters[leg] = 0
            return True

        self.store.update(ident[0], ident[1], change)
