"""tm's settings for replies and CANCELs that the script sets per transaction (tm.c's
t_set_no_e2e_cancel_reason, t_save_lumps, t_use_uac_headers), and the pieces of a reply tm adds
(the Contact of a redirect, t_reply.c's print_dset; the aggregated challenges of several 401/407,
reply_aggregate_auth)."""
from __future__ import annotations

from kampy.api import FL_USE_UAC_FROM, FL_USE_UAC_TO, MessageContext, Response, RouteType

from .base import TmBase, log
from .cell import Cell
from .t_hooks import TOTAGS
from .t_reply import ON_REPLY

# print_dset's options (dset.h): the branch flags as a Contact parameter, the path as a Route header
DS_FLAGS, DS_PATH = 1, 2
# escape_param: what a URI header value keeps unescaped
_PARAM_SAFE = frozenset("-_.!~*'()[]/:&+$")
AUTH_HEADERS = ("www-authenticate", "proxy-authenticate")


class ReplyOptions(TmBase):
    """t_set_no_e2e_cancel_reason, t_save_lumps, t_use_uac_headers; redirects and challenges."""

    def t_set_disable_failover(self, ctx: MessageContext, on_off: int) -> int:
        return self._flag(ctx, "disable_failover", bool(on_off))  # type: ignore[attr-defined]

    def t_set_no_e2e_cancel_reason(self, ctx: MessageContext, on_off: int) -> int:
        return self._flag(ctx, "no_e2e_cancel_reason", bool(on_off))  # type: ignore[attr-defined]

    def t_disable_e2e_cancel_reason(self, ctx: MessageContext, on_off: int) -> int:
        return self.t_set_no_e2e_cancel_reason(ctx, on_off)

    def t_use_uac_headers(self, ctx: MessageContext) -> int:
        """FL_USE_UAC_FROM and FL_USE_UAC_TO on the request and on its transaction."""
        ctx.msg_flags |= FL_USE_UAC_FROM | FL_USE_UAC_TO
        cell = self.cell_of(ctx)  # type: ignore[attr-defined]
        if cell is not None:
            cell.uac_flags |= FL_USE_UAC_FROM | FL_USE_UAC_TO
        return 1

    def t_save_lumps(self, ctx: MessageContext) -> int:
        """The changes made to the request so far are the ones failure_route's branches start from."""
        if ctx.route_type != RouteType.REQUEST:
            return 1  # the lumps have been saved already (ki_t_save_lumps)
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("transaction has not been created yet")
            return -1
        cell.saved_changes = len(cell.request.changes)
        return 1

    def _drop_unsaved(self, cell: Cell) -> None:
        """failure_route starts from the request as saved: the changes made after t_save_lumps(), or
        after the first t_relay(), are lost (Kamailio clones them into the transaction's copy only up
        to then)."""
        if cell.saved_changes is None:
            return
        for change in cell.request.changes[cell.saved_changes:]:
            cell.request.cancel(change)
        cell.saved_changes = None

    def t_is_retr_async_reply(self, ctx: MessageContext) -> int:
        """In onreply_route: true while the transaction is suspended (t_suspend() ran for it, a
        reply of it is kept): the reply at hand may be a retransmission of the suspended one."""
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("could not determine transaction")
            return -1
        susp = self.suspensions.get(cell.label)  # type: ignore[attr-defined]
        return 1 if susp is not None and susp.cell is cell and susp.suspended else -1

    def _pushed_after_completion(self, cell: Cell, data: bytes, code: int, to_tag: str | None, branch: int,
                                 reply: Response) -> None:
        """An INVITE's 2xx after the final reply went out (one suspended meanwhile, another fork's)
        is sent on (t_reply.c, RPS_PUSHED_AFTER_COMPLETION). With reply_relay_mode 1 it does not become
        the transaction's reply: its retransmitted reply, status, relayed branch and To-tags stay,
        and TMCB_RESPONSE_OUT/TMCB_RESPONSE_SENT do not run. With 0 it replaces the reply (also after
        a non-2xx final one, which the transaction machine would refuse as a new response)."""
        assert cell.uas is not None
        replace = not self.params["reply_relay_mode"]
        totag_retr = False
        if replace:
            tx = cell.uas.tx
            tx.last_response, tx.status, tx.to_tag = data, code, to_tag  # type: ignore[union-attr]
            cell.uas_status, cell.relayed_reply_branch = code, branch
            if cell.tmcb_types & TOTAGS:
                totag_retr = self._update_totags(cell, reply)  # type: ignore[attr-defined]
        self._count("rpl_sent")  # type: ignore[attr-defined]
        if cell.tmcb_types & ON_REPLY:
            self._reply_callbacks(cell, data, code, branch, reply, totag_retr, before=True)  # type: ignore[attr-defined]
        self.core.send(cell.uas.dest.packet(data))
        if replace and cell.tmcb_types & ON_REPLY:
            self._reply_callbacks(cell, data, code, branch, reply, totag_retr, before=False)  # type: ignore[attr-defined]

    @property
    def on_sl_reply(self) -> str:
        return str(self.params["on_sl_reply"] or "")

    # ------------------------------------------------------------ what a local reply adds

    def _redirect_contact(self, ctx: MessageContext) -> str | None:
        """print_dset: the Contact of a 3xx t_reply(): the new R-URI and every branch, with the
        rich_redirect extras (branch flags, path)."""
        options = int(self.params["rich_redirect"])
        contacts = []
        if ctx.new_ruri is not None:
            contacts.append(_contact(ctx.new_ruri, ctx.ruri_q, ctx.path_vec, ctx.bflags, options))
        contacts += [_contact(b.uri, b.q, b.path, b.flags, options) for b in ctx.branches]
        if not contacts:
            log.warning("no r-uri or branches")
            return None
        return "Contact: " + ", ".join(contacts) + "\r\n"

    def _aggregated_challenges(self, cell: Cell, code: int) -> list[str] | None:
        """reply_aggregate_auth: when the final reply is a 401 or 407 and more than one branch received
        one, the challenges (WWW-/Proxy-Authenticate) of all of them, for a reply tm builds."""
        if code not in (401, 407) or not self.cfg.get("tm", "aggregate_challenges"):
            return None
        replies = [br.reply for br in cell.branches
                   if br.reply is not None and br.last_received in (401, 407)]
        if len(replies) < 2:
            return None
        lines = []
        for reply in replies:
            for _name, raw in reply.header_lines_named(frozenset(AUTH_HEADERS)):
                lines.append(raw.decode("utf-8", "replace") + "\r\n")
        return lines


def _contact(uri: str, q: int, path: str | None, flags: int, options: int) -> str:
    text = "<" + uri
    if options & DS_PATH and path:
        text += "?Route=" + _escape_param(path)
    text += ">"
    if q >= 0:
        text += ";q=" + _q_text(q)
    if options & DS_FLAGS:
        text += f";flags={flags}"
    return text


def _q_text(q: int) -> str:
    """q2str: thousandths as Kamailio prints them (1, 0.5, 0.05)."""
    if q >= 1000:
        return "1"
    return ("0." + f"{q:03d}").rstrip("0").rstrip(".") if q else "0"


def _escape_param(value: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in _PARAM_SAFE) else f"%{ord(ch):02x}"
                   for ch in value)
