"""What tm's API tells other modules about the transaction of the message at hand (Kamailio's
tm_load.c binds, tmx's $T_* readers)."""
from __future__ import annotations

from kampy.api import MessageContext, Request, Response, RouteType, TmTransaction, error_text

from . import tags
from .base import BRANCH, CELL, PICKED, TmBase
from .cell import cell_of_view, view_of


class Binds(TmBase):
    """The transaction of the message at hand, for tmx and the others."""

    def t_gett(self, ctx: MessageContext) -> TmTransaction | None:
        """kampy.api.TmAPI.t_gett: the transaction of the message of `ctx`."""
        cell = self.cell_of(ctx)
        return view_of(cell) if cell is not None else None

    def t_context(self, t: TmTransaction, branch: int = -1) -> MessageContext:
        """kampy.api.TmAPI.t_context: the transaction's request with the script's state it keeps."""
        cell = cell_of_view(t)
        if cell is None or cell.src is None:
            raise ValueError(f"t_context: not a transaction of tm: {t!r}")
        state = cell.state
        ruri = cell.branches[branch].uri if 0 <= branch < len(cell.branches) else state.new_ruri
        ctx = MessageContext(cell.request, cell.src, self.core, route_type=RouteType.TM_ONREPLY,  # type: ignore[arg-type]
                             flags=state.flags, avps=state.avps, avp_flags=state.avp_flags, xavps=state.xavps,
                             xavis=state.xavis,
                             new_ruri=ruri, dst_uri=state.dst_uri, force_socket=state.force_socket)
        ctx.local[CELL] = cell
        return ctx

    def t_get_reply_totag(self, msg: Request) -> str:
        """kampy.api.TmAPI.t_get_reply_totag."""
        return tags.to_tag(self.core, msg)

    def reply_code(self, ctx: MessageContext) -> int:
        """$T_reply_code: the reply in onreply_route, the winning one in failure_route, else the
        status sent upstream (-1 without a transaction)."""
        if isinstance(ctx.msg, Response):
            return ctx.msg.status
        cell = self.cell_of(ctx)
        if cell is None:
            return -1
        picked = ctx.local.get(PICKED)
        if picked is not None and picked >= 0:
            return cell.branches[picked].last_received
        return cell.uas_status

    def reply_reason(self, ctx: MessageContext) -> str | None:
        if isinstance(ctx.msg, Response):
            return ctx.msg.reason
        reply = self.winning_reply(ctx)
        if reply is not None:
            return reply.reason
        code = self.reply_code(ctx)
        return error_text(code) if code > 0 else None

    def winning_reply(self, ctx: MessageContext) -> Response | None:
        cell = self.cell_of(ctx)
        picked = ctx.local.get(PICKED)
        if cell is None or picked is None or picked < 0:
            return None
        return cell.branches[picked].reply

    def branch_index(self, ctx: MessageContext) -> int:
        return int(ctx.local.get(BRANCH, 0))

    def reply_last(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        index = ctx.local.get(BRANCH)
        if cell is None or index is None or not 0 <= index < len(cell.branches):
            return 0
        return cell.branches[index].last_received

    def transaction_request(self, ctx: MessageContext) -> Request | None:
        cell = self.cell_of(ctx)
        return cell.request if cell is not None else None

    def invite_of(self, ctx: MessageContext) -> Request | None:
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method.upper() != "CANCEL":
            return None
        invite = self._find_invite(msg)
        return invite.request if invite is not None else None

    def flush_flags(self, ctx: MessageContext) -> None:
        """Store the message flags in the transaction of `ctx` (tmx t_flush_flags)."""
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.state.flags = ctx.flags
