"""What tmx asks of tm beyond the transaction readers (Kamailio's tm_xbinds and tmx's direct uses of
the cell): cancel branches from onreply_route, drop a transaction, keep the extended flags, the
branch flags and ruid of the branch at hand."""
from __future__ import annotations

from kampy.api import MessageContext, Response

from .base import BRANCH, PICKED, TmBase, log
from .cell import Cell, UacBranch

# t_cancel_branches() modes
CANCEL_ALL, CANCEL_OTHERS, CANCEL_THIS = 0, 1, 2


class TmxOps(TmBase):
    """TmAPI.cancel_branches, t_drop, flush_xflags, branch_of."""

    def cancel_branches(self, ctx: MessageContext, mode: int) -> int:
        """kampy.api.TmAPI.cancel_branches (tmx's t_cancel_branches_helper)."""
        cell = self.cell_of(ctx)
        if cell is None or not cell.is_invite:
            return -1
        idx = int(ctx.local.get(BRANCH, 0))
        code = ctx.msg.status if isinstance(ctx.msg, Response) else 0
        # Kamailio 5.6.3's prepare_to_cancel starts its bitmap afresh: "this" on a provisional
        # reply cancels every pending branch; on a final one it cancels nothing and returns 1
        if mode == CANCEL_THIS and code >= 200:
            log.critical("attempt to rewrite cancel buffer")
            return 1
        skip = {idx} if mode == CANCEL_OTHERS or (mode == CANCEL_ALL and code >= 200) else set()
        pending = [br for br in cell.branches if br.index not in skip and self._cancelable(br)]
        log.debug("canceling %d/%s", mode, [br.index for br in pending])
        if not pending:
            return -1
        for br in pending:
            self._cancel_branch(cell, br)  # type: ignore[attr-defined]
        return 1

    @staticmethod
    def _cancelable(br: UacBranch) -> bool:
        """prepare_to_cancel's test: sent, no final reply yet, not cancelled already."""
        return br.leg is not None and br.last_received < 200 and not br.canceled and not br.has_reply

    def t_drop(self, ctx: MessageContext, rcode: int) -> int:
        """kampy.api.TmAPI.t_drop: the transaction's status becomes `rcode` (nothing is sent) and it
        is released (t_release_transaction)."""
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("no transaction")
            return -1
        cell.uas_status = int(rcode)
        self._release_now(cell)
        return 0

    def _release_now(self, cell: Cell) -> None:
        """put_on_wait: the cell goes, with its branches, when the wait timer runs out."""
        wait = cell.timers.wt_timer if cell.timers.wt_timer is not None else self.timers.t4
        self.core.call_at(self._now() + wait, lambda: self._kill(cell, reply=False))  # type: ignore[attr-defined]

    def flush_xflags(self, ctx: MessageContext) -> int:
        """kampy.api.TmAPI.flush_xflags: the message's extended flags go to the transaction."""
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("failed to flush flags - no transaction found")
            return -1
        cell.state.xflags = ctx.xflags
        return 1

    def branch_at_hand(self, ctx: MessageContext, picked: bool) -> tuple[int, str | None] | None:
        """kampy.api.TmAPI.branch_at_hand: (branch flags, ruid) of the picked branch (`picked`:
        failure_route's) or of the branch being processed; None when there is none."""
        cell = self.cell_of(ctx)
        if cell is None:
            return None
        index = ctx.local.get(PICKED if picked else BRANCH)
        if index is None or not 0 <= index < len(cell.branches):
            return None
        br = cell.branches[index]
        return br.bflags, br.ruid
