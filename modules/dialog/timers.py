"""The dialog module's timers: dialogs expiring (a timeout route, BYEs or the end), the clean
run (Kamailio's dlg_timer_routine and dlg_clean_run)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import (
    DLG_STATE_CONFIRMED,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_DELETED,
    DLG_STATE_EARLY,
    DLGCB_EXPIRED,
    DLGCB_LOADED,
    ScriptDrop,
    ScriptExit,
)

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

IFLAG_TIMEOUTBYE = 1 << 0
FLAG_EXPIRED = 1 << 10  # Kamailio's DLG_FLAG_EXPIRED


class DialogTimers:
    """Mixed into DialogModule."""

    # ------------------------------------------------------------ the timer
    def timer(self: DialogModule) -> None:
        """The dialog timer in worker 1 (timer_procs 0: Kamailio's core timer process)."""
        if self.timer_procs or self.core.rank > 1:
            return
        self.main_timer()

    def main_timer(self: DialogModule) -> None:
        """dlg_timer_routine: dialogs whose timeout passed expire."""
        now = int(self.core.clock.time())
        for dlg in list(self.store.all()):
            if dlg.timeout and dlg.timeout <= now:
                self.expire(dlg, now)
        self.store.expire_remote(now)
        if self.db is not None:
            self.db.timer()

    def clean_timer(self: DialogModule) -> None:
        """dlg_clean_timer_exec, every 90 seconds in the "Dialog Clean Timer" process."""
        now = int(self.core.clock.time())
        for dlg in list(self.store.all()):
            if not (dlg.timeout and dlg.timeout <= now):
                self.clean(dlg, now)

    def clean(self: DialogModule, dlg: Dialog, now: int) -> None:
        """dlg_clean_run: a dialog left early for early_timeout goes; one left without ACK for
        noack_timeout gets 10 more seconds; an ended one whose BYE got no answer goes after
        end_timeout."""
        if dlg.state <= DLG_STATE_EARLY and dlg.init_ts and dlg.init_ts < now - self.early_timeout:
            log.info("dialog in early state is too old (%d:%d)", dlg.h_entry, dlg.h_id)
            self.store.remove(dlg)
        elif (
            dlg.state == DLG_STATE_CONFIRMED_NA
            and dlg.start_ts
            and dlg.start_ts < now - self.noack_timeout
            and (dlg.timeout == 0 or dlg.timeout > now + 10)
        ):

            def change(d: Dialog) -> None:
                d.lifetime, d.timeout, d.db_dirty = 10, now + 10, True

            self.store.update(dlg.h_entry, dlg.h_id, change)
        elif dlg.state == DLG_STATE_DELETED and dlg.end_ts and dlg.end_ts < now - self.end_timeout:
            log.info("dialog in delete state is too old (%d:%d)", dlg.h_entry, dlg.h_id)
            self.store.remove(dlg)

    def loaded(self: DialogModule, dlg: Dialog) -> None:
        """A dialog loaded from the database."""
        self._stat("active_dialogs", 1)
        self.run_callbacks(DLGCB_LOADED, dlg)

    def is_local(self: DialogModule, dlg: Dialog, leg: int = CALLER) -> bool:
        return any(str(sock) == dlg.bind_addr[leg] for sock in self.core.sockets)

    def expire(self: DialogModule, dlg: Dialog, now: int) -> None:
        if self.filter_mode & 1 and not self.is_local(dlg):
            log.debug("skipping non local dialog")
            self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "timeout", 0))
            return
        if dlg.state in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
            self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "dflags", d.dflags | FLAG_EXPIRED))
            if dlg.toroute_name and self.core.has_route("route", dlg.toroute_name):
                ctx = self.core.faked_context()  # route[<timeout_route>] with the dialog as the current one
                self.attach(ctx, dlg)
                try:
                    self.core.run_route("route", dlg.toroute_name, ctx)
                except (ScriptExit, ScriptDrop):
                    pass
            if dlg.iflags & IFLAG_TIMEOUTBYE:
                self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "timeout", 0))
                log.debug("dialog %d:%d timed out, sending BYE", dlg.h_entry, dlg.h_id)
                self.bye(dlg, "all", "", expired=True)
                self._stat("expired_dialogs", 1)
                return

            def change(d: Dialog) -> Any:
                old = d.state
                d.state, d.end_ts, d.timeout = DLG_STATE_DELETED, now, 0
                return old

            cur, old = self.store.update(dlg.h_entry, dlg.h_id, change)
            if cur is None:
                return
            self.dmq_state(cur, old)
            log.warning(
                "dlg timeout - callid: '%s' tags: '%s' '%s' ostate: %d",
                cur.callid,
                cur.tag[CALLER],
                cur.tag[CALLEE],
                old,
            )
            self.event_route("dialog:end", cur, None)
            self.run_callbacks(DLGCB_EXPIRED, cur, data=old == DLG_STATE_CONFIRMED)
            self._stat("expired_dialogs", 1)
            self._stat("active_dialogs", -1)
            self.store.remove(cur)
            if self.db is not None:
                self.db.removed(cur)
        else:
            self.store.update(dlg.h_entry, dlg.h_id, lambda d: setattr(d, "timeout", 0))
