"""failure_route for requests tm sends itself (Kamailio's enable_uac_fr): with it on, a local
transaction whose failure route was set (`t_on_failure()` in event_route[tm:local-request]) or that has
TMCB_ON_FAILURE callbacks runs them when its branches failed, with the request sent as the message;
a branch the route adds (`t_relay()` to another destination) goes on with the transaction."""
from __future__ import annotations

from kampy.api import TMCB_ON_FAILURE, Response, Source

from .base import TmBase
from .cell import PENDING, Cell, UacBranch, pick_branch


class UacFailure(TmBase):
    """enable_uac_fr."""

    def _uac_failure(self, cell: Cell, br: UacBranch,
                     status: int) -> tuple[UacBranch, int, Response | None] | None:
        """A negative final reply on a branch of a local transaction: None while it goes on (another
        branch is pending, or failure_route added one), else the branch, code and reply it completes
        with (the best of its branches, t_pick_branch)."""
        picked, code = pick_branch(cell, br.index, status, self.faked_reply_prio)
        if picked == PENDING:
            return None
        if self._uac_fr_due(cell):
            count = len(cell.branches)
            self._run_failure(cell, picked if picked >= 0 else br.index, code or status)  # type: ignore[attr-defined]
            if any(b.last_received < 200 for b in cell.branches[count:]):
                return None
        if picked < 0:
            return br, status, br.reply
        best = cell.branches[picked]
        return best, best.last_received, best.reply

    def _uac_fr_due(self, cell: Cell) -> bool:
        if not self.cfg.get("tm", "enable_uac_fr"):
            return False
        if cell.on_failure is None and not cell.tmcb_types & TMCB_ON_FAILURE:
            return False
        if cell.src is None:  # the request sent stands for the one received (uas.request)
            leg = cell.branches[0].leg
            sock = leg.dest.local if leg is not None else None
            if sock is None:
                return False
            cell.src = Source(sock.proto, sock.host, sock.port, sock)
        return True
