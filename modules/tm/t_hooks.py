"""Transaction callbacks (Kamailio's t_hooks.c): what other modules (acc, dialog, uac, siptrace)
register to be told of a transaction's events, with Kamailio's TMCB_* types.

Callbacks of a transaction run newest first, as Kamailio's (its lists are pushed at the head);
REQUEST_IN and LOCAL_REQUEST_IN run for every new transaction, registered once by a module's
`__init__`. A callback registered on a message before it has a transaction is kept on the message
and moves to the transaction t_newtran creates for it (Kamailio's early callback list). A callback
that raises is logged and the transaction goes on.
"""
from __future__ import annotations

from kampy.api import (
    TMCB_ACK_NEG_IN,
    TMCB_DESTROY,
    TMCB_DLG,
    TMCB_DONT_ACK,
    TMCB_E2EACK_IN,
    TMCB_E2EACK_RETR_IN,
    TMCB_E2ECANCEL_IN,
    TMCB_LOCAL_COMPLETED,
    TMCB_LOCAL_REQUEST_IN,
    TMCB_LOCAL_RESPONSE_IN,
    TMCB_LOCAL_RESPONSE_OUT,
    TMCB_MAX,
    TMCB_ON_BRANCH_FAILURE,
    TMCB_ON_BRANCH_FAILURE_RO,
    TMCB_ON_FAILURE,
    TMCB_ON_FAILURE_RO,
    TMCB_REQ_RETR_IN,
    TMCB_REQUEST_FWDED,
    TMCB_REQUEST_IN,
    TMCB_REQUEST_OUT,
    TMCB_REQUEST_PENDING,
    TMCB_REQUEST_SENT,
    TMCB_RESPONSE_FWDED,
    TMCB_RESPONSE_IN,
    TMCB_RESPONSE_OUT,
    TMCB_RESPONSE_READY,
    TMCB_RESPONSE_SENT,
    MessageContext,
    Request,
    Response,
    TmCallback,
    TmcbParams,
    TmTransaction,
)

from .base import TmBase, log
from .cell import Cell, cell_of_view, view_of

E_BUG = -5
EARLY = "tm_early_tmcbs"  # ctx.local: callbacks registered before the message had a transaction

NAMES = {
    TMCB_REQUEST_IN: "TMCB_REQUEST_IN", TMCB_RESPONSE_IN: "TMCB_RESPONSE_IN",
    TMCB_E2EACK_IN: "TMCB_E2EACK_IN", TMCB_REQUEST_PENDING: "TMCB_REQUEST_PENDING",
    TMCB_REQUEST_FWDED: "TMCB_REQUEST_FWDED", TMCB_RESPONSE_FWDED: "TMCB_RESPONSE_FWDED",
    TMCB_ON_FAILURE_RO: "TMCB_ON_FAILURE_RO", TMCB_ON_FAILURE: "TMCB_ON_FAILURE",
    TMCB_REQUEST_OUT: "TMCB_REQUEST_OUT", TMCB_RESPONSE_OUT: "TMCB_RESPONSE_OUT",
    TMCB_LOCAL_COMPLETED: "TMCB_LOCAL_COMPLETED", TMCB_LOCAL_RESPONSE_OUT: "TMCB_LOCAL_RESPONSE_OUT",
    TMCB_ACK_NEG_IN: "TMCB_ACK_NEG_IN", TMCB_REQ_RETR_IN: "TMCB_REQ_RETR_IN",
    TMCB_LOCAL_RESPONSE_IN: "TMCB_LOCAL_RESPONSE_IN", TMCB_LOCAL_REQUEST_IN: "TMCB_LOCAL_REQUEST_IN",
    TMCB_DLG: "TMCB_DLG", TMCB_DESTROY: "TMCB_DESTROY", TMCB_E2ECANCEL_IN: "TMCB_E2ECANCEL_IN",
    TMCB_E2EACK_RETR_IN: "TMCB_E2EACK_RETR_IN", TMCB_RESPONSE_READY: "TMCB_RESPONSE_READY",
    TMCB_DONT_ACK: "TMCB_DONT_ACK", TMCB_REQUEST_SENT: "TMCB_REQUEST_SENT",
    TMCB_RESPONSE_SENT: "TMCB_RESPONSE_SENT", TMCB_ON_BRANCH_FAILURE_RO: "TMCB_ON_BRANCH_FAILURE_RO",
    TMCB_ON_BRANCH_FAILURE: "TMCB_ON_BRANCH_FAILURE",
}

# The types kampy's tm never runs, and why: registering one is refused, so that a module
# counting on it learns so at once instead of waiting for an event that never comes.
NOT_RUN = {
    TMCB_ON_FAILURE_RO: "Kamailio 5.6 does not run it either: use TMCB_ON_FAILURE",
    TMCB_ON_BRANCH_FAILURE_RO: "Kamailio 5.6 does not run it either: use TMCB_ON_BRANCH_FAILURE",
    TMCB_DLG: "tm's own dialog callbacks are not implemented",
}
GLOBAL = TMCB_REQUEST_IN | TMCB_LOCAL_REQUEST_IN
E2EACK = TMCB_E2EACK_IN | TMCB_E2EACK_RETR_IN
# The 2xx To-tags of an INVITE are kept when one of these is registered (a retransmitted 2xx is
# not reported again; an end-to-end ACK is matched by its To-tag).
TOTAGS = TMCB_RESPONSE_OUT | TMCB_RESPONSE_READY | E2EACK


class Hooks(TmBase):
    """register_tmcb and running the callbacks."""

    def register_tmcb(self, ctx: MessageContext | None, t: TmTransaction | None, types: int,
                      callback: TmCallback) -> int:
        """kampy.api.TmAPI.register_tmcb (Kamailio's register_tmcb)."""
        problem = problem_of(types, callback)
        if problem is not None:
            log.error("register_tmcb: %s", problem)
            return E_BUG
        if types & GLOBAL:
            (self.reqin_tmcbs if types == TMCB_REQUEST_IN else self.local_reqin_tmcbs).insert(0, callback)
            return 1
        cell = cell_of_view(t) if t is not None else self.cell_of(ctx) if ctx is not None else None
        if cell is not None:
            add_tmcb(cell, types, callback)
        elif t is None and ctx is not None:
            ctx.local.setdefault(EARLY, []).insert(0, (types, callback))
        else:
            log.error("register_tmcb: %s", "not a transaction of tm" if t is not None
                      else "no message nor transaction given")
            return E_BUG
        return 1

    def _tmcb(self, cell: Cell, kind: int, req: Request | None = None, rpl: Response | None = None,
              code: int = 0, branch: int = -1, flags: int = 0, send_buf: bytes = b"",
              dst: tuple[str, str, int] | None = None, ctx: MessageContext | None = None) -> None:
        """Run the callbacks of `cell` registered for `kind` (the caller checked there are some)."""
        params = TmcbParams(req, rpl, code, branch, flags, send_buf, dst, ctx)
        view = view_of(cell)
        for types, callback in list(cell.tmcbs or ()):
            if types & kind:
                _call(callback, view, kind, params)

    def _reqin(self, cell: Cell, callbacks: list[TmCallback], kind: int, req: Request | None,
               ctx: MessageContext | None) -> None:
        """REQUEST_IN / LOCAL_REQUEST_IN: every new transaction, before it does anything."""
        params = TmcbParams(req=req, ctx=ctx)
        view = view_of(cell)
        for callback in list(callbacks):
            _call(callback, view, kind, params)

    @staticmethod
    def _adopt_early(ctx: MessageContext, cell: Cell) -> None:
        """The callbacks registered on the message before t_newtran move to its transaction."""
        early = ctx.local.pop(EARLY, None)
        if early:
            cell.tmcbs = early
            for types, _ in early:
                cell.tmcb_types |= types


def add_tmcb(cell: Cell, types: int, callback: TmCallback) -> None:
    if cell.tmcbs is None:
        cell.tmcbs = []
    cell.tmcbs.insert(0, (types, callback))
    cell.tmcb_types |= types


def problem_of(types: int, callback: object) -> str | None:
    if not callable(callback):
        return "the callback is not callable"
    if not isinstance(types, int) or types <= 0 or types > TMCB_MAX:
        return f"invalid callback types: mask={types!r}"
    not_run = [f"{NAMES[bit]} ({why})" for bit, why in NOT_RUN.items() if types & bit]
    if not_run:
        return "kampy's tm does not run " + ", ".join(not_run)
    for bit in (TMCB_REQUEST_IN, TMCB_LOCAL_REQUEST_IN):
        if types & bit and types != bit:
            return f"callback type {NAMES[bit]} can't be registered along with other types"
    return None


def _call(callback: TmCallback, view: TmTransaction, kind: int, params: TmcbParams) -> None:
    try:
        callback(view, kind, params)
    except Exception:
        log.exception("tm: a %s callback failed", NAMES.get(kind, kind))
