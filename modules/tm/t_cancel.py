"""Canceling branches (Kamailio's t_cancel.c): a CANCEL per pending branch, or, before any reply,
per cancel_b_method."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from kampy.api import (
    TMCB_LOCAL_F,
    TMCB_REQUEST_OUT,
    TMCB_REQUEST_SENT,
    TYPE_LOCAL_CANCEL,
    ClientTransaction,
    Request,
    Response,
    TmTransaction,
)

from .base import TmBase, log
from .cell import Cell, Leg, UacBranch, cell_of_view
from .t_msgbuilder import cancel_of, negative_ack

# Kamailio's cfgenv uac_cseq_auth and uac_cseq_refresh: dialog's track_cseq_updates shifts the CSeq
# of a request carrying one on the wire, and the CANCEL of such an INVITE must be shifted alike
CSEQ_SHIFT_HEADERS = ("P-K-CSeq-Auth", "P-K-CSeq-Refresh")
# t_cancel.c's _cancel_reason_map: the text of a local CANCEL's Reason by the reply's code
CAUSE_TEXTS = {200: "Call completed elsewhere"}


class Cancel(TmBase):
    """cancel_branch, cancel_uacs."""

    def _local_reasons(self, code: int, text: bool = True) -> list[str] | None:
        """The Reason of a CANCEL tm sends because of the final reply `code` (cancel_reason_pack):
        `SIP;cause=<code>` (with the text of a 200), unless local_cancel_reason is off."""
        if code <= 0 or not self.cfg.get("tm", "local_cancel_reason"):
            return None
        reason = CAUSE_TEXTS.get(code) if text else None
        return [f"SIP;cause={code}" + (f';text="{reason}"' if reason else "")]

    def _e2e_reasons(self, invite: Cell, cancel: Request) -> list[str] | None:
        """The Reason headers of the CANCEL received, for the CANCELs of its INVITE's branches (kept
        as the INVITE's uas.cancel_reas), unless e2e_cancel_reason or t_set_no_e2e_cancel_reason
        turned that off for the INVITE."""
        if invite.cancel_reasons is None and not invite.no_e2e_cancel_reason:
            lines = [raw.decode("utf-8", "replace") for raw in cancel.get_all_raw("reason")]
            invite.cancel_reasons = lines or None
        return invite.cancel_reasons

    def _delayed_reasons(self, cell: Cell) -> list[str] | None:
        """A CANCEL that waited for a provisional reply: the received CANCEL's Reason headers, else the
        transaction's final reply as cause (t_reply.c reply_received)."""
        if cell.cancel_reasons is not None:
            return cell.cancel_reasons
        return self._local_reasons(cell.uas_status, text=False) if cell.uas_status >= 200 else None

    def _cancel_branch(self, cell: Cell, br: UacBranch, kill: bool = False,
                       reasons: list[str] | None = None) -> None:
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
        self._send_cancel(cell, br, reasons)

    def _send_cancel(self, cell: Cell, br: UacBranch, reasons: list[str] | None = None) -> None:
        assert br.leg is not None
        cancel = cancel_of(cell, br, reparse=bool(self.cfg.get("tm", "reparse_invite")),
                           prefix=str(self.cfg.get("tm", "ac_extra_hdrs") or ""),
                           user_agent=self.core.user_agent_header)
        for name in CSEQ_SHIFT_HEADERS:  # t_msgbuilder.c copies them under FL_UAC_AUTH
            value = br.request.header(name)
            if value is not None:
                cancel.add_header(name, value)
        for line in reasons or ():
            if ":" in line:  # a copied header line, `Reason: ...`
                name, _, value = line.partition(":")
                cancel.add_header(name.strip(), value.strip())
            else:
                cancel.add_header("Reason", line)
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

    def _ack_builder(self, cell: Cell, br: UacBranch) -> Callable[[Request, Response], Request]:
        """How the ACK of a negative reply on the branch is built (reparse_invite, ac_extra_hdrs)."""
        return partial(negative_ack, cell, br, reparse=bool(self.cfg.get("tm", "reparse_invite")),
                       prefix=str(self.cfg.get("tm", "ac_extra_hdrs") or ""),
                       user_agent=self.core.user_agent_header)

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
