"""The machines of a transaction at work (Kamailio's timer.c and the freeing of h_table.c): their
actions carried out in order, their timers on the core's, a transaction freed once its last
machine ended, and one the script left alone released after the wait time."""
from __future__ import annotations

from dataclasses import replace
from collections.abc import Callable
from typing import Any

from kampy.api import (
    TMCB_DESTROY,
    TMCB_LOCAL_F,
    TMCB_REQUEST_SENT,
    TMCB_RESPONSE_SENT,
    TMCB_RETR_F,
    TYPE_LOCAL_ACK,
    TYPE_LOCAL_CANCEL,
    TYPE_REQUEST,
    CancelTimer,
    Deliver,
    MessageContext,
    RouteType,
    Send,
    StartTimer,
    Terminated,
    Timeout,
    TransportFailed,
)

from .base import CELL, RELEASED, TmBase, log
from .cell import ON_HOLD, Cell, Leg

ON_SEND = TMCB_REQUEST_SENT | TMCB_RESPONSE_SENT


class Timers(TmBase):
    """Running the machines of transactions; releasing and freeing transactions."""

    def _run(self, leg: Leg, actions: list[Any], reply_ctx: MessageContext | None = None,
             fresh: bytes | None = None) -> None:
        """Carry out a machine's actions in their order: its sends and timers (the ACK of a negative
        reply goes out before the reply is relayed), then what tm is told, then the end. `fresh`
        is a message the caller is sending for the first time (it runs its callbacks itself)."""
        for action in actions:
            if isinstance(action, Send):
                if leg.dest.proto == ON_HOLD:
                    continue  # a branch on hold (failure_exec_mode): its timers run, nothing is sent
                packet = leg.dest.packet(action.data)
                if leg.role == "uac" and action.data is fresh:  # t_send_branch: its failure is news
                    packet = replace(packet, on_error=lambda: self._uac_send_failed(leg))  # type: ignore[attr-defined]
                self.core.send(packet)
                if leg.cell.tmcb_types & ON_SEND and action.data is not fresh:
                    self._resent(leg, action.data)
            elif isinstance(action, StartTimer):
                self._arm(leg, action.name, action.at)
            elif isinstance(action, CancelTimer):
                handle = leg.handles.pop(action.name, None)
                if handle is not None:
                    self.core.cancel_timer(handle)
            elif isinstance(action, Deliver):
                if leg.role == "uac":
                    self._branch_reply(leg, action.message, reply_ctx)  # type: ignore[arg-type]
            elif isinstance(action, Timeout | TransportFailed):
                if leg.role == "uac":
                    self._branch_timeout(leg)
            elif isinstance(action, Terminated):
                self._terminated(leg)

    def _arm(self, leg: Leg, name: str, at: float) -> None:
        old = leg.handles.pop(name, None)
        if old is not None:
            self.core.cancel_timer(old)
        leg.handles[name] = self.core.call_at(at, lambda: self._fire(leg, name))

    def _fire(self, leg: Leg, name: str) -> None:
        leg.handles.pop(name, None)
        self._guarded(leg, lambda: self._run(leg, leg.tx.on_timer(name, self._now())), f"timer {name}")

    def _guarded(self, leg: Leg, step: Callable[[], None], what: str) -> None:
        """Run a step of a transaction outside of a route (a timer, a reply); a bug there must not
        leave the transaction alive: it gets a 500 upstream if it can, and is freed."""
        try:
            step()
        except Exception:
            log.exception("tm: internal error on %s of a %s transaction, freeing it", what, leg.cell.method)
            self.core.stats.inc("core:err_internal")
            self._kill(leg.cell)

    def _kill(self, cell: Cell, reply: bool = True) -> None:
        if reply and cell.uas is not None and cell.uas_status < 200:
            try:
                self._reply(MessageContext(cell.request, cell.src, self.core), cell, 500,  # type: ignore[arg-type]
                            "Server Internal Error")
            except Exception:
                log.exception("tm: cannot send a 500 for a %s transaction", cell.method)
        for leg in cell.legs():
            if leg.tx in self._legs:
                try:
                    self._run(leg, leg.tx.terminate())
                except Exception:
                    log.exception("tm: cannot stop a %s transaction cleanly", cell.method)
                if leg.tx in self._legs:
                    self._terminated(leg)
        if not cell.freed:
            self._free(cell)

    def _add_leg(self, leg: Leg, actions: list[Any], fresh: bytes | None = None) -> None:
        self.table.add(leg.tx)
        self._legs[leg.tx] = leg
        self._run(leg, actions, fresh=fresh)

    def _resent(self, leg: Leg, data: bytes) -> None:
        """TMCB_RESPONSE_SENT / TMCB_REQUEST_SENT for what a machine sends on its own: a
        retransmission, or the ACK of a negative reply."""
        cell, tx, dst = leg.cell, leg.tx, (leg.dest.proto, leg.dest.host, leg.dest.port)
        if leg.role == "uas":
            if cell.tmcb_types & TMCB_RESPONSE_SENT:
                self._tmcb(cell, TMCB_RESPONSE_SENT, cell.request, code=tx.status or 0,  # type: ignore[union-attr]
                           flags=TMCB_RETR_F, send_buf=data, dst=dst)
        elif cell.tmcb_types & TMCB_REQUEST_SENT:
            if leg.role == "uac" and data is getattr(tx, "ack", None):
                req = None if cell.is_local else cell.request
                self._tmcb(cell, TMCB_REQUEST_SENT, req, code=TYPE_LOCAL_ACK, branch=leg.branch,
                           flags=TMCB_LOCAL_F, send_buf=data, dst=dst)
            else:
                code = TYPE_LOCAL_CANCEL if leg.role == "cancel" else TYPE_REQUEST
                self._tmcb(cell, TMCB_REQUEST_SENT, code=code, branch=leg.branch, flags=TMCB_RETR_F,
                           send_buf=data, dst=dst)

    def _terminated(self, leg: Leg) -> None:
        for handle in leg.handles.values():
            self.core.cancel_timer(handle)
        leg.handles.clear()
        self.table.remove(leg.tx)
        self._legs.pop(leg.tx, None)
        cell = leg.cell
        if not cell.freed and all(lg.tx.terminated for lg in cell.legs()):
            self._free(cell)

    def _free(self, cell: Cell) -> None:
        cell.freed = True
        if cell.e2e_key is not None:
            self._forget_e2e(cell)
        if cell.tmcb_types & TMCB_DESTROY:
            self._tmcb(cell, TMCB_DESTROY)
        if not cell.waiting:
            cell.waiting = True
            self._count("waiting")
        self._count("deleted")
        if cell.shared_key is not None and not (cell.uas and self.table.has_live_server(cell.uas.tx.key)):
            # an RFC 2543 request with the same key and another To tag still lives here
            self.core.shared.claims.release(cell.shared_key, self.core.rank)
        # a freed cell lets go of its legs once the event that freed it is handled (a reply's
        # callbacks still read them): a leg points back at its cell, and without this edge cut the
        # finished transaction (its request, replies and machines) waits for the cyclic collector
        self.core.call_at(self._now(), lambda: _let_go_of_legs(cell))

    def post_script(self, ctx: MessageContext) -> bool:
        """t_unref: a transaction the request route neither replied to nor relayed is released (as
        Kamailio's "script writer didn't release transaction"); after an internal error it gets a
        500 first. True while the transaction answers the request."""
        cell = ctx.local.get(CELL)
        if cell is None or cell.freed or cell.uas is None or ctx.route_type != RouteType.REQUEST:
            return False
        if cell.uas_status >= 200 or cell.branches:
            return True
        if ctx.failed and self._reply(ctx, cell, 500, "Server Internal Error") > 0:
            return True
        if not ctx.local.get(RELEASED):
            log.warning("script writer didn't release transaction")
            self._put_on_wait(cell)
        return False

    def _put_on_wait(self, cell: Cell) -> None:
        wait = cell.timers.wt_timer if cell.timers.wt_timer is not None else self.timers.t4
        self.core.call_at(self._now() + wait, lambda: self._release(cell))

    def _forget_e2e(self, cell: Cell) -> None:
        if self.e2e.get(cell.e2e_key) is cell:  # type: ignore[arg-type]
            del self.e2e[cell.e2e_key]  # type: ignore[arg-type]
            if self.core.workers > 1:
                self.core.shared.claims.release(cell.e2e_key, self.core.rank)  # type: ignore[arg-type]

    def _release(self, cell: Cell) -> None:
        """t_release_transaction's put_on_wait ran out: a transaction still without a final reply or
        a branch is freed (one that got them meanwhile ends by its own timers)."""
        if not cell.freed and cell.uas_status < 200 and not cell.branches:
            self._kill(cell, reply=False)


def _let_go_of_legs(cell: Cell) -> None:
    cell.uas = None
    for br in cell.branches:
        br.leg = br.cancel_leg = None
