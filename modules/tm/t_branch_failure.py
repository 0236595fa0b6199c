"""Branch failures (Kamailio's run_branch_failure_handlers in t_reply.c, t_on_branch_failure in
tm.c, tmx's t_reuse_branch): each negative final reply of a branch (>= 300, a local 408 or 487
too) runs the TMCB_ON_BRANCH_FAILURE callbacks and the event_route[tm:branch-failure:<name>] the
branch was sent with, before tm decides whether the transaction is complete. The route sees the
request as failure_route does, with the failed branch as the one at hand ($T_reply_code,
t_check_status(), $T_rpl(...), t_branch_timeout()); a branch it adds (t_relay()) keeps the
transaction open."""
from __future__ import annotations

from kampy.api import TMCB_ON_BRANCH_FAILURE, MessageContext, Response, RouteType

from .base import BRANCH, CELL, PENDING_ROUTES, PICKED, RURI_SEEN, TmBase, log
from .cell import Cell, UacBranch

PREFIX = "tm:branch-failure:"


class BranchFailure(TmBase):
    """t_on_branch_failure, the branch-failure handlers, TmAPI.reuse_branch."""

    def t_on_branch_failure(self, ctx: MessageContext, name: str) -> int:
        """The route the branches sent from now on run when they fail: kept on the transaction,
        or, before it exists, for the transaction the request makes."""
        route = None if name in ("", "0") else name
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.on_branch_failure = route
        else:
            ctx.local.setdefault(PENDING_ROUTES, {})["on_branch_failure"] = route
        return 1

    def _branch_failed(self, cell: Cell, br: UacBranch, code: int, reply: Response | None) -> None:
        """run_branch_failure_handlers: a no-op without a route on the branch and without callbacks."""
        if br.on_branch_failure is None and not cell.tmcb_types & TMCB_ON_BRANCH_FAILURE:
            return
        if cell.is_local or cell.src is None:
            log.warning("no UAC support (%s, %d)", br.on_branch_failure, cell.tmcb_types)
            return
        state = cell.state
        bctx = MessageContext(cell.request, cell.src, self.core, route_type=RouteType.BRANCH_FAILURE,
                              flags=state.flags, bflags=br.bflags, xflags=state.xflags, avps=state.avps,
                              avp_flags=state.avp_flags,
                              xavps=state.xavps, xavis=state.xavis, new_ruri=state.new_ruri,
                              dst_uri=state.dst_uri, force_socket=state.force_socket)
        bctx.local.update({CELL: cell, PICKED: br.index, BRANCH: br.index})
        bctx.local[RURI_SEEN] = bctx.ruri  # the R-URI is consumed: only what the route adds forks
        before = len(cell.request.changes)
        try:
            if cell.tmcb_types & TMCB_ON_BRANCH_FAILURE:
                self._tmcb(cell, TMCB_ON_BRANCH_FAILURE, cell.request, reply, code, br.index,  # type: ignore[attr-defined]
                           ctx=bctx)
            if br.on_branch_failure is not None:
                cell.on_branch_failure = None  # branches added from now on run none unless set again
                self._run_route("event", PREFIX + br.on_branch_failure, bctx)  # type: ignore[attr-defined]
                state.flags = bctx.flags
        finally:
            for change in cell.request.changes[before:]:
                cell.request.cancel(change)

    def reuse_branch(self, ctx: MessageContext) -> int:
        """kampy.api.TmAPI.reuse_branch (tmx's t_reuse_branch)."""
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("no transaction")
            return -1
        if ctx.route_type != RouteType.BRANCH_FAILURE:
            log.error("unsupported route_type %d", int(ctx.route_type))
            return -1
        index = ctx.local.get(PICKED, -1)
        if not 0 <= index < len(cell.branches):
            log.critical("no picked branch (%d) for a final response in MODE_ONFAILURE", index)
            return -1
        br = cell.branches[index]
        ctx.new_ruri, ctx.ruri_new = br.uri, True  # rewrite_uri(): new, it forks again
        ctx.ruid = br.ruid
        ctx.path_vec = br.path
        ctx.bflags = br.bflags
        ctx.instance = br.instance
        return 1
