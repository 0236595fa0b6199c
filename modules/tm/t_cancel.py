"""Canceling branches (Kamailio's t_cancel.c): a CANCEL per pending branch, or, before any reply,
per cancel_b_method."""
from __future__ import annotations

from kampy.api import (
    TMCB_LOCAL_F,
    TMCB_REQUEST_OUT,
    TMCB_REQUEST_SENT,
    TYPE_LOCAL_CANCEL,
    ClientTransaction,
    TmTransaction,
    build_cancel,
)

from .base import TmBase, log
from .cell import Cell, Leg, UacBranch, cell_of_view

# Kamailio's cfgenv uac_cseq_auth and uac_cseq_refresh: dialog's track_cseq_updates shifts the CSeq
# of a request carrying one on the wire, and the CANCEL of such an INVITE must be shifted alike
CSEQ_SHIFT_HEADERS = ("P-K-CSeq-Auth", "P-K-CSeq-Refresh")


class Cancel(TmBase):
    """cancel_branch, cancel_uacs."""

    def _cancel_branch(self, cell: Cell, br: UacBranch, kill: bool = False) -> None:
        """cancel_branch: send a CANCEL on a branch that had a provisional reply; without one, per
        cancel_b_method wait for it (1), give the branch a local 487 (0), or CANCEL anyway (2)."""
        if br.canceled or br.leg is None:
            return
        br.canceled = True
        if br.blind:  # cancel_uacs: F_CANCEL_B_FAKE_REPLY for a blind UAC, nothing to send
            self._stop(br.leg)
            self._fake_reply(cell, br, 487)
            return
        if br.last_received < 100 and self.cancel_b_method != 2:
            if kill or self.cancel_b_method == 0:
                self._stop(br.leg)
                self._fake_reply(cell, br, 487)
            return  # a provisional will trigger the CANCEL; else the branch times out
        self._send_cancel(cell, br)

    def _send_cancel(self, cell: Cell, br: UacBranch) -> None:
        assert br.leg is not None
        cancel = build_cancel(br.request)
        for name in CSEQ_SHIFT_HEADERS:  # t_msgbuilder.c copies them under FL_UAC_AUTH
            value = br.request.header(name)
            if value is not None:
                cancel.add_header(name, value)
        # a CANCEL's wait is not bound by the transaction's lifetime (not a TYPE_REQUEST buffer)
        tx, actions = ClientTransaction.new(cancel, reliable=br.leg.dest.proto != "udp", now=self._now(),
                                            timers=cell.timers.with_end_of_life(None))
        br.cancel_leg = Leg(tx, br.leg.dest, cell, "cancel", br.index)
        self._add_leg(br.cancel_leg, actions, fresh=tx.data)
        if cell.tmcb_types & (TMCB_REQUEST_OUT | TMCB_REQUEST_SENT):
            dest = br.leg.dest
            for kind in (TMCB_REQUEST_OUT, TMCB_REQUEST_SENT):  # t_cancel.c's order
                if cell.tmcb_types & kind:
                    self._tmcb(cell, kind, None if cell.is_local else cell.request, code=TYPE_LOCAL_CANCEL,
                               branch=br.index, flags=TMCB_LOCAL_F, send_buf=tx.data,
                               dst=(dest.proto, dest.host, dest.port))

    def _stop(self, leg: Leg) -> None:
        self._run(leg, leg.tx.terminate())

    def cancel_cell(self, t: TmTransaction) -> None:
        """Cancel every pending branch of a transaction (tmx t_cancel_callid)."""
        cell = cell_of_view(t)
        if cell is None:
            log.error("cancel_cell: not a transaction of tm: %r", t)
            return
        cell.canceled = True
        for br in cell.branches:
            if br.last_received < 200:
                self._cancel_branch(cell, br)
