"""Replies (Kamailio's t_reply.c): tm's own (t_reply), the replies of the branches (onreply_route,
the choice of t_should_relay_response and t_pick_branch, failure_route) and relaying the winner."""
from __future__ import annotations

from collections.abc import Sequence

from kampy.api import (
    TMCB_LOCAL_COMPLETED,
    TMCB_LOCAL_F,
    TMCB_LOCAL_RESPONSE_OUT,
    TMCB_NONE_F,
    TMCB_ON_FAILURE,
    TMCB_REQUEST_PENDING,
    TMCB_RESPONSE_FWDED,
    TMCB_RESPONSE_OUT,
    TMCB_RESPONSE_READY,
    TMCB_RESPONSE_SENT,
    MessageContext,
    Response,
    RouteType,
    ScriptDrop,
    ScriptExit,
    SIPProtocolError,
    TmTransaction,
    TransactionError,
    error_text,
    to_tag_of,
    warning_line,
)

from . import tags
from .base import BRANCH, CELL, CLAIM_TTL, PICKED, RURI_SEEN, TmBase, e2e_key, log
from .cell import PENDING, Cell, Leg, UacBranch, cell_of_view, pick_branch
from .replies import build_local_reply, without_top_via
from .t_hooks import E2EACK, TOTAGS
from .t_suspend_keys import REPLY_SUSPENDED

# The callbacks a reply sent upstream runs
ON_REPLY = TMCB_RESPONSE_READY | TMCB_REQUEST_PENDING | TMCB_RESPONSE_OUT | TMCB_RESPONSE_SENT


class Replies(TmBase):
    """Local replies, branch replies, relaying upstream, failure_route."""

    def _reply(self, ctx: MessageContext, cell: Cell, code: int, reason: str) -> int:
        """t_reply on `cell` with the lumps of `ctx`: 1 when sent, -1 when it cannot be."""
        if cell.uas is None:
            return -1
        code &= 0xFFFFFFFF  # any code goes, as Kamailio's unsigned one (-1 is a final reply)
        if cell.uas_status >= 200 and not (cell.is_invite and 200 <= code < 300 <= cell.uas_status):
            log.error("t_reply: cannot send a %d reply: a final reply was sent already", code)
            return -1
        data, to_tag = self._local_reply(cell, code, reason, ctx)
        if not self._send_uas(cell, data, code, to_tag):
            return -1
        self._count("rpl_generated")
        self._local_response(cell, data)  # type: ignore[attr-defined]
        if code >= 200 and cell.is_invite:
            reasons = self._local_reasons(code)
            for br in cell.branches:  # cancel_uacs(F_CANCEL_B_KILL): a local final ends the branches
                if br.last_received < 200:
                    self._cancel_branch(cell, br, kill=True, reasons=reasons)
        return 1

    def _local_reply(self, cell: Cell, code: int, reason: str, ctx: MessageContext | None = None,
                     lumps: Sequence[str] = ()) -> tuple[bytes, str | None]:
        """The reply tm builds itself, and the To-tag it carries."""
        assert cell.src is not None
        tag = tags.to_tag(self.core, cell.request)
        warning = b""
        if self.core.sip_warning:
            warning = warning_line(cell.request, cell.src, ctx.ruri if ctx is not None else cell.request.uri)
        if ctx is None:
            data = build_local_reply(cell.request, cell.src, code, reason, tag=tag,
                                     server=self.core.server_header, lumps=lumps, warning=warning)
        else:
            lumps = list(ctx.reply_lumps)
            if 300 <= code < 400:  # a redirect lists the destination set
                contact = self._redirect_contact(ctx)  # type: ignore[attr-defined]
                lumps += [contact] if contact else []
            data = build_local_reply(cell.request, cell.src, code, reason, tag=tag,
                                     server=self.core.server_header, lumps=lumps,
                                     body=ctx.reply_body, force_rport=ctx.force_rport, warning=warning)
        request_tag = to_tag_of(cell.request)
        has_to = cell.request.has_header("to")
        to_tag = request_tag or (tag if code >= 180 and has_to else None)
        if has_to:
            cell.local_to_tag = to_tag or ""  # update_local_tags: the To-tag of tm's last own reply
        return data, to_tag

    def _send_uas(self, cell: Cell, data: bytes, code: int, to_tag: str | None, *, branch: int = -1,
                  rpl: Response | None = None, totag_retr: bool = False) -> bool:
        """Send a reply upstream: tm's own, or the one of `branch` chosen among the branches'
        (`rpl`, None when tm made it for the branch: a 408, a 487)."""
        assert cell.uas is not None
        try:
            actions = cell.uas.tx.send_prepared(data, code, to_tag, self._now())  # type: ignore[union-attr]
        except (TransactionError, SIPProtocolError) as exc:
            log.error("cannot send reply %d: %s", code, exc)
            return False
        if cell.tmcb_types & ON_REPLY:
            self._reply_callbacks(cell, data, code, branch, rpl, totag_retr, before=True)
        if code >= 200 and cell.uas_status < 200:
            self._count(f"completed_{code // 100}xx") if code < 700 else None
            if not cell.waiting:
                cell.waiting = True
                self._count("waiting")
        if code > cell.uas_status or cell.uas_status < 200:
            cell.uas_status = code
        cell.relayed_reply_branch = branch if branch >= 0 else -2
        self._count("rpl_sent")
        self._run(cell.uas, actions, fresh=data)
        if cell.tmcb_types & ON_REPLY:
            self._reply_callbacks(cell, data, code, branch, rpl, totag_retr, before=False)
        return True

    def _reply_callbacks(self, cell: Cell, data: bytes, code: int, branch: int, rpl: Response | None,
                         totag_retr: bool, before: bool) -> None:
        """Before a reply goes upstream TMCB_RESPONSE_READY (a final one of tm's own, any relayed
        one) and TMCB_REQUEST_PENDING (tm's 100); after it TMCB_RESPONSE_OUT (likewise) and
        TMCB_RESPONSE_SENT. A 2xx relayed again with a To-tag relayed before is no news (`totag_retr`)."""
        assert cell.uas is not None
        dest = cell.uas.dest
        dst = (dest.proto, dest.host, dest.port)
        flags = TMCB_LOCAL_F if rpl is None else TMCB_NONE_F
        relayed = branch >= 0
        news = (relayed or code >= 200) and not totag_retr
        if before:
            kinds = ((TMCB_RESPONSE_READY, news), (TMCB_REQUEST_PENDING, code == 100 and not relayed))
        else:
            kinds = ((TMCB_RESPONSE_OUT, news), (TMCB_RESPONSE_SENT, True))
        for kind, due in kinds:
            if due and cell.tmcb_types & kind:
                self._tmcb(cell, kind, cell.request, rpl, code, branch, flags, data, dst)

    def reply_cell(self, t: TmTransaction, code: int, reason: str) -> int:
        """t_reply on a transaction found by other means than the message at hand (tmx)."""
        cell = cell_of_view(t)
        if cell is None:
            log.error("reply_cell: not a transaction of tm: %r", t)
            return -1
        return self._reply(MessageContext(cell.request, cell.src, self.core), cell, code,  # type: ignore[arg-type]
                           reason)

    def _branch_reply(self, leg: Leg, reply: Response, ctx: MessageContext | None) -> None:
        cell = leg.cell
        br = cell.branches[leg.branch]
        if cell.is_local and cell.is_invite and 200 <= reply.status < 300:
            self._ack_local_2xx(cell, br, reply, ctx)  # type: ignore[attr-defined]
        if br.on_reply is not None and not cell.is_local:
            rctx = ctx or MessageContext(reply, cell.src, self.core)  # type: ignore[arg-type]
            rctx.route_type = RouteType.TM_ONREPLY
            rctx.local.update({CELL: cell, BRANCH: br.index})
            # as Kamailio's reply_received: the transaction's flags and AVPs and the branch's flags;
            # while onreply_route runs, the branch's last status is the reply's when higher
            # (`@tm.uac.last_status`, t_reply there), and then restored
            state = cell.state
            rctx.flags, rctx.avps, rctx.xavps, rctx.bflags = state.flags, state.avps, state.xavps, br.bflags
            rctx.xflags, rctx.avp_flags = state.xflags, state.avp_flags
            last, br.last_received = br.last_received, max(br.last_received, reply.status)
            try:
                kept = self._run_route("onreply", br.on_reply, rctx)
            finally:
                br.last_received = last
            state.flags, state.xflags, br.bflags = rctx.flags, rctx.xflags, rctx.bflags
            if not kept and reply.status < 200:
                return  # `drop` in onreply_route discards a provisional reply
            if rctx.local.get(REPLY_SUSPENDED):
                return  # t_suspend() there: t_continue() relays it (t_suspend.py)
        self._after_onreply(cell, br, reply)

    def _after_onreply(self, cell: Cell, br: UacBranch, reply: Response) -> None:
        if br.canceled and br.cancel_leg is None and 100 <= reply.status < 200:
            self._send_cancel(cell, br, self._delayed_reasons(cell))  # it waited for this provisional
        if reply.status == 503:
            self._dns_failover(cell, br)  # type: ignore[attr-defined]
        if cell.is_local:
            self._local_final(cell, br, reply)
        else:
            self._process(cell, br, reply.status, reply)

    def _branch_timeout(self, leg: Leg) -> None:
        cell = leg.cell
        br = cell.branches[leg.branch]
        if br.last_received >= 200:
            return
        br.timed_out = True
        if br.last_received == 0 and br.leg is not None:
            self._blst_timeout(cell, br.leg.dest)  # type: ignore[attr-defined]
        if self._silent_drop(cell, br):
            self._stop(br.leg) if br.leg is not None else None
            if cell.uas is not None:
                self._stop(cell.uas)
            return
        eol = cell.timers.end_of_life
        if br.last_received == 0 and (eol is None or eol > self._now()):  # timer.c: while the cell lives
            self._dns_failover(cell, br)  # type: ignore[attr-defined]
        if cell.is_invite and br.last_received >= 100 and not br.canceled:
            br.canceled = True
            self._send_cancel(cell, br)
        self._fake_reply(cell, br, 408)

    def _silent_drop(self, cell: Cell, br: UacBranch) -> bool:
        """noisy_ctimer=0: an INVITE nobody answered is dropped without a 408 (timer.c)."""
        return (not self.noisy_ctimer and not cell.is_local and cell.is_invite and len(cell.branches) == 1
                and cell.on_failure is None and br.last_received == 0 and not cell.noisy_ctimer)

    def _fake_reply(self, cell: Cell, br: UacBranch, code: int) -> None:
        if cell.is_local:
            br.faked = True
            self._local_final(cell, br, None, code)
            return
        self._process(cell, br, code, None)

    def _local_final(self, cell: Cell, br: UacBranch, reply: Response | None, code: int = 0) -> None:
        status = reply.status if reply is not None else code
        if status < 200:
            if cell.tmcb_types & TMCB_LOCAL_RESPONSE_OUT and self._passes_provisional(cell, br, status):
                self._tmcb(cell, TMCB_LOCAL_RESPONSE_OUT, None, reply, status, br.index)
            br.last_received = max(br.last_received, status)
            return
        br.last_received, br.reply = status, reply
        if cell.called_back:
            return
        current = br
        if status >= 300 and len(cell.branches) + self._uac_fr_due(cell) > 1:  # type: ignore[attr-defined]
            outcome = self._uac_failure(cell, br, status)  # type: ignore[attr-defined]
            if outcome is None:  # another branch goes on
                self._stop_faked(current, reply)
                return
            br, status, reply = outcome
        cell.called_back = True
        cell.uas_status = status
        if not cell.waiting:
            cell.waiting = True
            self._count("waiting")
        self._count(f"completed_{status // 100}xx") if 200 <= status < 700 else None
        if cell.callback is not None:
            try:
                cell.callback(status, reply)
            except Exception:
                log.exception("tm: the reply callback of a local %s failed", cell.method)
        if cell.tmcb_types & TMCB_LOCAL_COMPLETED:
            self._tmcb(cell, TMCB_LOCAL_COMPLETED, None, reply, status, br.index)
        self._stop_faked(current, current.reply)

    def _stop_faked(self, br: UacBranch, reply: Response | None) -> None:
        """A branch that ended without a reply (timeout, tm's own 487) is stopped."""
        if br.leg is not None and not br.leg.tx.terminated and reply is None:
            self._stop(br.leg)

    def _passes_provisional(self, cell: Cell, br: UacBranch, status: int) -> bool:
        """pass_provisional_replies: a local request's provisional reply tm would relay (not a 100
        unless relay_100) goes to the TMCB_LOCAL_RESPONSE_OUT callbacks."""
        return (bool(self.cfg.get("tm", "pass_provisional_replies")) and br.last_received < 200
                and cell.uas_status < 200 and (status != 100 or self.relay_100))

    def _process(self, cell: Cell, br: UacBranch, code: int, reply: Response | None) -> None:
        """relay_reply: decide (t_should_relay_response), then relay or reply locally."""
        relay = self._should_relay(cell, br, code, reply)
        if relay >= 0:
            if code < 300 and relay == br.index and cell.tmcb_types & TMCB_RESPONSE_FWDED:
                self._tmcb(cell, TMCB_RESPONSE_FWDED, cell.request, reply, code, br.index)
            self._relay_reply(cell, relay, br, code, reply)
        pending, cell.cancel_after = cell.cancel_after, []
        reasons = self._local_reasons(cell.cancel_cause) if pending else None
        for other in pending:  # after relaying, as Kamailio's out-of-lock cancel I/O
            self._cancel_branch(cell, other, reasons=reasons)

    def _should_relay(self, cell: Cell, br: UacBranch, code: int, reply: Response | None) -> int:
        inv_through = cell.is_invite and 200 <= code < 300
        if cell.uas_status >= 200:
            if inv_through:
                br.last_received = code
                return br.index  # another 2xx after the final reply: relayed too
            return -1
        if br.last_received >= 200 and not (inv_through and br.last_received < 300):
            return -1
        if code >= 300:
            return self._negative(cell, br, code, reply)
        br.last_received = code
        if code >= 200:
            br.reply = reply
            cell.cancel_after = [o for o in cell.branches if o is not br and o.last_received < 200]
            cell.cancel_cause = code
            return br.index
        return -1 if code == 100 and not self.relay_100 else br.index

    def _negative(self, cell: Cell, br: UacBranch, code: int, reply: Response | None) -> int:
        br.last_received = code
        br.reply, br.faked = reply, reply is None
        self._branch_failed(cell, br, code, reply)  # type: ignore[attr-defined]
        picked, picked_code = pick_branch(cell, br.index, code, self.faked_reply_prio)
        if picked == PENDING:
            if 600 <= code < 700 and not (cell.six_xx or cell.disable_6xx):
                cell.six_xx = True
                cell.cancel_after = [o for o in cell.branches if o.last_received < 200]
                cell.cancel_cause = code
            return -1
        cell.six_xx = False
        count = len(cell.branches)
        dropped = False
        cell.picked_branch = picked
        if cell.branches[picked].on_failure is not None or cell.tmcb_types & TMCB_ON_FAILURE:
            cell.drop_replies = self.failure_reply_mode
            if not self._run_failure(cell, picked, picked_code):
                return -1  # RPS_TGONE
            mode = cell.drop_replies
            if (mode == 3 and count < len(cell.branches)) or mode not in (0, 3):
                for old in cell.branches[self._first_dropped(cell, count, mode):count]:
                    old.reply, old.faked = None, False
                picked, dropped = -1, True
        if cell.uas_status >= 200:
            return -1  # failure_route replied
        if count < len(cell.branches):
            new, _ = pick_branch(cell, -1 if dropped else br.index, code, self.faked_reply_prio)
            if new == PENDING:
                return -1
            if new >= 0:
                return new
            if dropped:
                return self._branches_failed(cell)
        elif dropped:
            return self._branches_failed(cell)
        return picked

    @staticmethod
    def _first_dropped(cell: Cell, count: int, mode: int) -> int:
        """The first branch whose reply is dropped: mode 2 drops the last serial step only (from
        its first branch, TM_UAC_FLAG_FB), the others every branch."""
        if mode != 2:
            return 0
        return next((i for i in range(count - 1, -1, -1) if cell.branches[i].first_of_step), 0)

    def _branches_failed(self, cell: Cell) -> int:
        self._reply(MessageContext(cell.request, cell.src, self.core), cell, 500,  # type: ignore[arg-type]
                    "Failed to get a reply from new branches")
        return -1

    def _relay_reply(self, cell: Cell, index: int, incoming: UacBranch, code: int,
                     reply: Response | None) -> None:
        br = cell.branches[index]
        if br is not incoming:
            code, reply = br.last_received, br.reply
        if cell.replicate:
            self._local_winner(cell, index, code, reply)
            return
        challenges = self._aggregated_challenges(cell, code) if reply is not None else None  # type: ignore[attr-defined]
        if reply is None or (code == 503 and self.remap_503_500) or challenges:
            status = 500 if reply is not None and not challenges else code
            data, to_tag = self._local_reply(cell, status, error_text(code), lumps=challenges or ())
            self._count("rpl_generated")
        else:
            status, data = code, without_top_via(reply)
            to_tag = to_tag_of(reply)
        if status >= 200 and cell.uas_status < 200:
            cell.relayed_branch = index
        elif cell.uas_status >= 200 and reply is not None and (self.params["reply_relay_mode"]
                                                               or cell.uas_status >= 300):
            # RPS_PUSHED_AFTER_COMPLETION: a 2xx after the final reply went out
            self._pushed_after_completion(cell, data, status, to_tag, index, reply)  # type: ignore[attr-defined]
            return
        totag_retr = False
        if cell.is_invite and reply is not None and 200 <= status < 300 and cell.tmcb_types & TOTAGS:
            totag_retr = self._update_totags(cell, reply)
        self._send_uas(cell, data, status, to_tag, branch=index, rpl=reply, totag_retr=totag_retr)

    def _local_winner(self, cell: Cell, index: int, code: int, reply: Response | None) -> None:
        """local_reply for a replicated request (T_IS_LOCAL_FLAG): the winning reply is not sent
        upstream; a final one completes the transaction, which is freed after the wait time."""
        if code < 200:
            return
        cell.relayed_branch = index
        cell.uas_status = code
        self._count(f"completed_{code // 100}xx") if code < 700 else None
        self._count("rpl_sent")
        if reply is None:
            self._count("rpl_generated")
        if cell.tmcb_types & TMCB_LOCAL_COMPLETED:
            self._tmcb(cell, TMCB_LOCAL_COMPLETED, None, reply, code, index)
        if not cell.waiting:
            cell.waiting = True
            self._count("waiting")
        wait = cell.timers.wt_timer if cell.timers.wt_timer is not None else self.timers.t4
        self.core.call_at(self._now() + wait,
                          lambda: self._kill(cell, reply=False) if not cell.freed else None)

    def _update_totags(self, cell: Cell, ok: Response) -> bool:
        """update_totag_set: keep the To-tag of a relayed 2xx (an end-to-end ACK is matched on it);
        True when it was relayed before (a retransmission)."""
        tag = to_tag_of(ok)
        if not tag:
            return False
        if cell.fwded_totags is None:
            cell.fwded_totags = {}
        if tag in cell.fwded_totags:
            return True
        cell.fwded_totags[tag] = False
        if cell.tmcb_types & E2EACK and cell.e2e_key is None:
            cell.e2e_key = e2e_key(cell.request)
            if cell.e2e_key is not None:
                self.e2e[cell.e2e_key] = cell
                if self.core.workers > 1:
                    self.core.shared.claims.claim(cell.e2e_key, self.core.rank, CLAIM_TTL)
        return False

    def _run_route(self, kind: str, name: str, ctx: MessageContext) -> bool:
        """Run a route for tm; False when it ended with `drop`."""
        try:
            self.core.run_route(kind, name, ctx)
        except ScriptExit:
            pass
        except ScriptDrop:
            return False
        except Exception:
            log.exception("tm: %s_route[%s] failed", kind, name)
        return True

    def _run_failure(self, cell: Cell, picked: int, code: int) -> bool:
        """The failure handlers: TMCB_ON_FAILURE callbacks, then the failure_route (run_failure_handlers).
        False when the transaction is gone after them."""
        # the picked branch's failure_route (a local transaction's is T's: enable_uac_fr); T's is reset,
        # so that the branches failure_route adds run none unless it sets one again
        name = cell.on_failure if cell.is_local or picked < 0 else cell.branches[picked].on_failure
        cell.on_failure = None
        assert cell.src is not None
        self._drop_unsaved(cell)  # type: ignore[attr-defined]
        state = cell.state
        fctx = MessageContext(cell.request, cell.src, self.core, route_type=RouteType.FAILURE,
                              flags=state.flags, bflags=cell.branches[picked].bflags if picked >= 0 else 0,
                              xflags=state.xflags,
                              avps=state.avps, avp_flags=state.avp_flags, xavps=state.xavps,
                              xavis=state.xavis,
                              new_ruri=state.new_ruri, dst_uri=state.dst_uri, force_socket=state.force_socket)
        fctx.local.update({CELL: cell, PICKED: picked, BRANCH: picked})
        fctx.local[RURI_SEEN] = fctx.ruri
        before = len(cell.request.changes)
        try:
            if cell.tmcb_types & TMCB_ON_FAILURE:
                reply = cell.branches[picked].reply if picked >= 0 else None
                start = self._now()
                self._tmcb(cell, TMCB_ON_FAILURE, fctx.msg, reply, code, picked, ctx=fctx)  # type: ignore[arg-type]
                if self._gone_after(cell, start, "failure callbacks"):
                    return False
            if name is not None:
                start = self._now()
                self._run_route("failure", name, fctx)
                if self._gone_after(cell, start, "failure route"):
                    return False
        finally:
            state.flags = fctx.flags  # what the failure handlers changed stays (t->uas.request->flags)
            for change in cell.request.changes[before:]:
                cell.request.cancel(change)
        return True

    def _gone_after(self, cell: Cell, start: float, what: str) -> bool:
        """exec_time_check: failure handlers that ran that long are followed by a check that the
        transaction still exists; True when it is gone."""
        limit = int(self.params["exec_time_check"])
        took = int((self._now() - start) * 1_000_000)
        if limit <= 0 or took < limit * 1000:
            return False
        log.warning("%s execution took too long: %d us", what, took)
        if cell.freed:
            log.warning("transaction %s missing - found %s", cell.label, None)
            return True
        return False
