"""The requests the dialog module sends within a dialog: BYE (dlg_bye, dlg.end_dlg, a timeout)
(Kamailio's dlg_req_within.c)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import (
    DLG_STATE_CONFIRMED,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_DELETED,
    DLGCB_TERMINATED_CONFIRMED,
    TmcbParams,
    TmTransaction,
    UacDialog,
)

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")


class DialogRequests:
    """Mixed into DialogModule."""

    # ------------------------------------------------------------ BYE, sent by us
    def uac_dialog(self: DialogModule, dlg: Dialog, to_leg: int) -> UacDialog:
        """The dialog as this proxy sends to leg `to_leg` in it (Kamailio's build_dlg_t)."""
        other = CALLER if to_leg == CALLEE else CALLEE
        local_uri, remote_uri = (dlg.from_uri, dlg.to_uri) if to_leg == CALLEE else (dlg.to_uri, dlg.from_uri)
        try:
            seq = int(dlg.cseq[other] or 0)
        except ValueError:
            seq = 0
        routes = [r.strip() for r in dlg.route_set[to_leg].split(",") if r.strip()]
        sock = next((s for s in self.core.sockets if str(s) == dlg.bind_addr[to_leg]), None)
        return UacDialog(
            call_id=dlg.callid,
            local_tag=dlg.tag[other],
            local_uri=local_uri,
            remote_uri=remote_uri,
            remote_tag=dlg.tag[to_leg],
            local_seq=seq,
            remote_target=dlg.contact[to_leg] or remote_uri,
            route_set=routes,
            send_socket=sock,
        )

    def bye(self: DialogModule, dlg: Dialog, side: str, headers: str, *, expired: bool = False) -> int:
        """dlg_bye: BYE to the caller, the callee or both; the dialog ends with the first answer."""
        if dlg.state not in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA):
            log.error("dialog %d:%d is not confirmed (state %d)", dlg.h_entry, dlg.h_id, dlg.state)
            return -1
        legs = {"caller": (CALLER,), "callee": (CALLEE,), "all": (CALLEE, CALLER)}[side]
        extra = self.extra_hdrs + headers
        if extra and not extra.endswith("\r\n"):
            extra += "\r\n"
        ident = (dlg.h_entry, dlg.h_id)
        sent = 0
        callee_extra = extra
        if self.lreq_callee_headers:
            callee_extra += self.lreq_callee_headers + (
                "" if self.lreq_callee_headers.endswith("\n") else "\r\n"
            )
        flags = sum((1 << 4) if leg == CALLER else (1 << 5) for leg in legs)  # DLG_FLAG_CALLERBYE, _CALLEEBYE
        self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "dflags", d.dflags | flags))
        for leg in legs:

            def on_reply(t: TmTransaction, kind: int, params: TmcbParams, leg: int = leg) -> None:
                self._bye_answered(ident, params)

            if (
                self.tm.t_request_within(
                    "BYE",
                    self.uac_dialog(dlg, leg),
                    headers=callee_extra if leg == CALLEE else extra,
                    callback=on_reply,
                )
                > 0
            ):
                sent += 1
            else:
                log.error("failed to send the BYE to the %s", "caller" if leg == CALLER else "callee")
        return 1 if sent else -1

    def _bye_answered(self: DialogModule, ident: tuple[int, int], params: TmcbParams) -> None:
        """bye_reply_cb: the first final reply to a BYE we sent ends the dialog."""
        now = int(self.core.clock.time())

        def change(d: Dialog) -> Any:
            if d.state not in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA):
                return False
            old = d.state
            d.state, d.end_ts, d.timeout = DLG_STATE_DELETED, now, 0
            return old

        cur, old = self.store.update(ident[0], ident[1], change)
        if cur is None or old is None:
            return
        self.terminated(cur, old)
        self.run_callbacks(DLGCB_TERMINATED_CONFIRMED, cur, rpl=params.rpl)
        self.store.remove(cur)
