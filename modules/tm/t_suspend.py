"""Suspending and continuing a request's processing (Kamailio's t_suspend.c, tmx's t_suspend() and
t_continue()).

t_suspend() gives the transaction a blind branch: a branch that sends nothing and has only its fr
timer (the transaction's fr_timer), so a transaction nobody continues still gets its 408 (and its
failure_route) when the timer runs out. The message context of the suspended request is kept with
the transaction, with everything the script changed; t_continue() runs a route with it, as
failure_route (its t_relay() adds branches, its t_reply() answers), after giving the blind branch a
faked 500 so it is never waited for.

A transaction lives in the worker that created it. Each suspended transaction is claimed in the
shared claims table under its id (hash index and label), so a t_continue() in another worker (a
second request, an rtimer process, an RPC) finds its owner and hands the call to it
(`core.call_worker`); the owner runs the route."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kampy.api import (
    TMCB_ACK_NEG_IN,
    TMCB_DESTROY,
    TMCB_RESPONSE_OUT,
    CoreAPI,
    MessageContext,
    Request,
    Response,
    RouteType,
    ScriptDrop,
    ScriptExit,
    TmcbParams,
    TmTransaction,
)

from .base import BRANCH, CELL, CLAIM_TTL, TmBase, log
from .cell import Cell, ScriptState, UacBranch, view_of
from .base import error_reply
from .t_hooks import add_tmcb
from .t_suspend_keys import REPLY_SUSPENDED

CONTINUE_CALL = "tm.continue"  # the worker call that carries a t_continue() to the owner
E_UNSPEC = -1


@dataclass(eq=False)
class Suspension:
    """A transaction t_suspend() ran for (Kamailio's T_ASYNC_SUSPENDED and async_backup)."""

    cell: Cell
    ctx: MessageContext      # the suspended request with the script's changes (or reply)
    blind: UacBranch | None  # None: a reply suspended in onreply_route
    index: int               # $T(id_index)
    branch: int = -1         # the branch of a suspended reply
    suspended: bool = True
    timer: int | None = None
    claim: str | None = None


def suspend_key(index: int, label: int) -> str:
    return f"tm.suspend\x1f{index}\x1f{label}"


class Suspend(TmBase):
    """TmAPI.t_suspend and t_continue."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.suspensions: dict[int, Suspension] = {}  # by label
        core.on_worker_call(CONTINUE_CALL, self._continue_call)

    # ------------------------------------------------------------ t_suspend

    def t_suspend(self, ctx: MessageContext) -> int:
        """kampy.api.TmAPI.t_suspend."""
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("transaction has not been created yet")
            return -1
        if cell.canceled:
            log.debug("trying to suspend an already canceled transaction")
            return 1
        if cell.uas_status >= 200:
            log.debug("trasaction sent out a final response already - %d", cell.uas_status)
            return -3
        if not isinstance(ctx.msg, Request):
            return self._suspend_reply(ctx, cell)
        if cell.is_invite and cell.auto_inv_100 and cell.uas_status < 100:
            self._reply(ctx, cell, 100, self.auto_inv_100_reason)  # type: ignore[attr-defined]
        if not cell.branches and ctx.route_type & RouteType.REQUEST:
            cell.state = ScriptState.of(ctx)  # what the request carries now (save_msg_lumps)
        cell.state.flags = ctx.flags
        blind = UacBranch(len(cell.branches), "", b"", ("", ""), on_failure=cell.on_failure)
        cell.branches.append(blind)
        susp = Suspension(cell, ctx, blind, view_of(cell).hash_index)
        susp.timer = self.core.call_at(self._now() + self._blind_fr(cell), lambda: self._blind_timeout(susp))
        self._keep(susp)
        return 0

    def _suspend_reply(self, ctx: MessageContext, cell: Cell) -> int:
        """In onreply_route: the reply is not relayed now; t_continue() runs the route with it and
        then relays it (its branch's timers run on)."""
        branch = ctx.local.get(BRANCH, -1)
        if not ctx.route_type & RouteType.TM_ONREPLY or not 0 <= branch < len(cell.branches):
            log.error("failed find UAC branch")
            return -1
        ctx.local[REPLY_SUSPENDED] = True
        self._keep(Suspension(cell, ctx, None, view_of(cell).hash_index, branch=branch))
        return 0

    def _keep(self, susp: Suspension) -> None:
        """The suspension, findable by its id here and, with several workers, from the others."""
        cell = susp.cell
        self._forget_freed()
        old = self.suspensions.get(cell.label)
        if old is not None and old.claim is not None:
            susp.claim = old.claim
        self.suspensions[cell.label] = susp
        if self.core.workers > 1 and susp.claim is None:
            key = suspend_key(susp.index, cell.label)
            owner = self.core.shared.claims.claim(key, self.core.rank, CLAIM_TTL)
            if owner is None:
                susp.claim = key
                add_tmcb(cell, TMCB_RESPONSE_OUT | TMCB_ACK_NEG_IN | TMCB_DESTROY, self._until_on_wait)
            else:  # another worker suspended a transaction with the same id: reach this one here only
                log.warning("t_suspend: transaction id [%d:%d] is suspended in worker %d too", susp.index,
                            cell.label, owner)

    def _until_on_wait(self, t: TmTransaction, kind: int, params: TmcbParams) -> None:
        """Once the transaction is on wait (a t_continue() cannot find it: freed, a final reply to
        a non-INVITE, a 2xx, the ACK of a negative reply), the other workers stop handing
        t_continue() calls to this one: they answer it "not found" themselves."""
        if kind == TMCB_RESPONSE_OUT and (params.code < 200 or (t.method == "INVITE" and params.code >= 300)):
            return
        susp = self.suspensions.get(t.label)
        if susp is not None and susp.claim is not None:
            self.core.shared.claims.release(susp.claim, self.core.rank)
            susp.claim = None

    def _blind_fr(self, cell: Cell) -> float:
        fr = cell.timers.fr_timer
        return fr if fr is not None else 64 * cell.timers.t1

    def _blind_timeout(self, susp: Suspension) -> None:
        """The fr timer of the blind branch: a 408 (after the failure_route, if one is set), as
        for a branch nobody answered (the blind branch makes the transaction's timer noisy)."""
        susp.timer = None
        cell, br = susp.cell, susp.blind
        if br is None or cell.freed or br.last_received != 0 or cell.uas_status >= 200:
            return
        br.timed_out = True
        try:
            self._fake_reply(cell, br, 408)  # type: ignore[attr-defined]
        except Exception:
            log.exception("tm: the fr timer of a suspended %s transaction failed", cell.method)
        self._flush(susp.ctx)

    def _forget_freed(self) -> None:
        for label, susp in list(self.suspensions.items()):
            if susp.cell.freed:
                self._forget(label, susp)

    def _forget(self, label: int, susp: Suspension) -> None:
        self.suspensions.pop(label, None)
        if susp.timer is not None:
            self.core.cancel_timer(susp.timer)
            susp.timer = None
        if susp.claim is not None:
            self.core.shared.claims.release(susp.claim, self.core.rank)
            susp.claim = None

    # ------------------------------------------------------------ t_continue

    def t_continue(self, index: int, label: int, route: str) -> int:
        """kampy.api.TmAPI.t_continue."""
        susp = self.suspensions.get(label)
        if susp is None or susp.index != index:
            owner = self._owner_of(index, label)
            if owner is not None:
                log.debug("t_continue: transaction [%d:%d] lives in worker %d: handing the call to it",
                          index, label, owner)
                self.core.call_worker(owner, CONTINUE_CALL, f"{index} {label} {route}".encode())
                return 1
        return self._continue(index, label, route)

    def _owner_of(self, index: int, label: int) -> int | None:
        if self.core.workers <= 1:
            return None
        owner = self.core.shared.claims.owner(suspend_key(index, label))
        return owner if owner != self.core.rank else None

    def _continue_call(self, data: bytes) -> None:
        """Another worker's t_continue() of a transaction this one owns."""
        try:
            index, label, route = data.decode().split(" ", 2)
            ret = self._continue(int(index), int(label), route)
        except ValueError:
            log.error("t_continue: bad call from another worker: %r", data[:100])
            return
        if ret < 0:
            log.warning("resuming the processing of transaction [%s:%s] failed", index, label)

    def _continue(self, index: int, label: int, route: str) -> int:
        """t_continue_helper: 0 continued, 1 nothing to continue (canceled, timed out), -1 not
        found, -2 not suspended."""
        susp = self.suspensions.get(label)
        if susp is None or susp.index != index or self._on_wait(susp.cell):
            log.warning("active transaction not found")
            return -1
        if not susp.suspended:
            log.warning("transaction is not suspended [%d:%d]", index, label)
            return -2
        cell, br = susp.cell, susp.blind
        susp.suspended = False
        if cell.canceled:
            return 1
        if br is None:
            return self._continue_reply(susp, route)
        if susp.timer is not None:
            self.core.cancel_timer(susp.timer)
            susp.timer = None
        if br.last_received != 0:
            return 1  # it timed out meanwhile
        br.last_received, br.faked = 500, True  # never picked for relaying, never canceled
        self._run_continue(susp, route)
        if cell.uas_status < 200 and all(b.last_received >= 200 for b in cell.branches):
            # no branch left that could bring a final reply: kill_transaction
            code, text = error_reply(E_UNSPEC)
            self._reply(susp.ctx, cell, code, text)  # type: ignore[attr-defined]
        self._release_claim(susp)  # unless suspended again
        return 0

    def _continue_reply(self, susp: Suspension, route: str) -> int:
        """The reply suspended in onreply_route: the route runs with it, then it is relayed (unless
        the route suspended it again)."""
        ctx, cell = susp.ctx, susp.cell
        br = cell.branches[susp.branch]
        reply = ctx.msg
        assert isinstance(reply, Response)
        ctx.local.pop(REPLY_SUSPENDED, None)
        ctx.local.update({CELL: cell, BRANCH: br.index})
        state = cell.state
        ctx.flags, ctx.xflags, ctx.bflags = state.flags, state.xflags, br.bflags
        try:
            self._run_route_as(ctx, route, RouteType.TM_ONREPLY)
        finally:
            state.flags, state.xflags, br.bflags = ctx.flags, ctx.xflags, ctx.bflags
            self._flush(ctx)
        if ctx.local.get(REPLY_SUSPENDED):
            log.debug("The transaction is suspended, so not continuing")
            return 0
        self._release_claim(susp)
        self._after_onreply(cell, br, reply)  # type: ignore[attr-defined]
        return 0

    def _release_claim(self, susp: Suspension) -> None:
        if self.suspensions.get(susp.cell.label) is susp and susp.claim is not None:
            self.core.shared.claims.release(susp.claim, self.core.rank)
            susp.claim = None

    def _on_wait(self, cell: Cell) -> bool:
        """t_lookup_ident_filter skips a transaction put on wait: freed, a non-INVITE or a 2xx
        answered, an INVITE whose negative reply was ACKed."""
        if cell.freed or cell.uas is None:
            return True
        if cell.uas_status < 200:
            return False
        if not cell.is_invite or cell.uas_status < 300:
            return True
        return cell.uas.tx.terminated or cell.uas.tx.state == "Confirmed"  # the ACK came (a StrEnum)

    def _run_continue(self, susp: Suspension, route: str) -> None:
        """Run route[route] with the suspended request, as a failure_route (faked_env)."""
        ctx, cell = susp.ctx, susp.cell
        ctx.local[CELL] = cell
        try:
            self._run_route_as(ctx, route, RouteType.FAILURE)
        finally:
            cell.state.flags = ctx.flags
            self._flush(ctx)

    def _run_route_as(self, ctx: MessageContext, route: str, route_type: RouteType) -> None:
        """route[route] of t_continue() run as `route_type`: exit and drop end it, a failure is
        logged; the context's route type is restored."""
        before, ctx.route_type = ctx.route_type, route_type
        try:
            self.core.run_route("route", route, ctx)
        except (ScriptExit, ScriptDrop):
            pass
        except Exception:
            log.exception("tm: route[%s] of t_continue() failed", route)
        finally:
            ctx.route_type = before

    def _flush(self, ctx: MessageContext) -> None:
        """What the route sent through the message (sl replies, stateless forwards) goes out."""
        for out in ctx.outbox:
            self.core.send(out)
        ctx.outbox.clear()
