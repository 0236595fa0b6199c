"""The tm module: stateful SIP (Kamailio's tm), on top of the sans-IO machines of kampy.api.

A transaction (`Cell`) has a UAS machine for the request received and one UAC machine per branch.
Machines say what to do as actions (send, start/cancel a timer, deliver a reply, time out); `_run`
carries them out: sends go through `core.send`, timers through `core.call_at`.

Several workers: the worker that creates a transaction owns it (its timers and machines live there).
The server keys of live transactions are claimed in the shared claims table (key -> rank) and
the Via branch of every request tm sends names the owner's rank, so `pre_script` (requests) and
`on_response` (replies) hand a message that belongs to another worker over to it.
"""
from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from typing import Any

from kampy.api import (
    CancelTimer,
    ClientTransaction,
    CoreAPI,
    Deliver,
    Handoff,
    MessageContext,
    Module,
    Request,
    Response,
    RouteType,
    ScriptDrop,
    ScriptExit,
    Send,
    ServerTransaction,
    SIPProtocolError,
    Socket,
    StartTimer,
    Terminated,
    Timeout,
    TimerConfig,
    TransactionError,
    TransactionTable,
    TransportFailed,
    build_cancel,
    build_forwarded,
    destination,
    forward_request,
    reply_destination,
    server_key,
    to_tag_of,
)

from . import tags
from .cell import PENDING, Cell, Dest, Leg, ScriptState, UacBranch, pick_branch
from .replies import build_local_reply, error_text, without_top_via
from .uac import build_local_request

log = logging.getLogger("kampy.tm")

CELL, BRANCH, PICKED = "tm_cell", "tm_branch", "tm_picked"  # ctx.local keys
_PENDING_ROUTES = "tm_routes"  # t_on_*() called before the transaction exists
_PENDING_FR = "tm_fr"
_PENDING_RETR = "tm_retr"
_PENDING_FLAGS = "tm_flags"
_HANDED = "tm_handed"  # the request went to the worker that owns its transaction
_RURI_SEEN = "tm_ruri_seen"  # failure_route: the R-URI it started with (a changed one is forked)

E_SCRIPT, E_BAD_ADDRESS, E_SEND, E_CFG = -10, -478, -477, -6
CANCELING, CANCEL_DONE = "canceling", "ok -- no more pending branches"

# Kamailio's tm counters (t_stats.h); tmx publishes them under its statistic names
_COUNTERS = ("transactions", "client_transactions", "waiting", "deleted", "completed_2xx",
             "completed_3xx", "completed_4xx", "completed_5xx", "completed_6xx", "rpl_received",
             "rpl_generated", "rpl_sent")


# How long a claim outlives a worker that died holding it; a live transaction releases it when freed.
_CLAIM_TTL = 3600.0


def _key_text(key: tuple[str, ...]) -> str:
    return "\x1f".join(key)


class TmModule(Module):
    """Transactions: t_newtran/t_reply/t_relay and the routes they run, and the UAC API."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.timers = TimerConfig.from_kamailio(
            fr_timer=int(params["fr_timer"]), fr_inv_timer=int(params["fr_inv_timer"]),
            retr_timer1=int(params["retr_timer1"]), retr_timer2=int(params["retr_timer2"]),
            wt_timer=int(params["wt_timer"]),
            restart_fr_on_each_reply=bool(params["restart_fr_on_each_reply"]))
        self.auto_inv_100 = bool(params["auto_inv_100"])
        self.auto_inv_100_reason = str(params["auto_inv_100_reason"])
        self.unmatched_cancel = int(params["unmatched_cancel"])
        self.remap_503_500 = bool(params["remap_503_500"])
        self.relay_100 = bool(params["relay_100"])
        self.disable_6xx = bool(params["disable_6xx_block"])
        self.failure_reply_mode = int(params["failure_reply_mode"])
        self.faked_reply_prio = int(params["faked_reply_prio"])
        self.cancel_b_method = int(params["cancel_b_method"])
        self.noisy_ctimer = bool(params["noisy_ctimer"])
        self.table = TransactionTable()
        self._legs: dict[ClientTransaction | ServerTransaction, Leg] = {}
        self._labels = itertools.count(1)
        self._callids = tags.CallIds(core)
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.stats_listener: Callable[[dict[str, int]], None] | None = None  # watch_counters (tmx)

    # ================================================================ shared index

    @property
    def _shared_index(self) -> bool:
        return self.core.workers > 1

    def _owner(self, key: tuple[str, ...]) -> int | None:
        return self.core.shared.claims.owner(_key_text(key))

    def _claim(self, key: tuple[str, ...]) -> int | None:
        """None when this worker owns the key now, else the owner's rank."""
        return self.core.shared.claims.claim(_key_text(key), self.core.rank, _CLAIM_TTL)

    # ================================================================ module hooks

    def pre_script(self, ctx: MessageContext) -> bool:
        """A retransmission, ACK or CANCEL of a transaction another worker owns goes to that worker."""
        if not self._shared_index or ctx.handed_off:
            return True
        msg = ctx.msg
        if not isinstance(msg, Request):
            return True
        method = msg.method.upper()
        key = server_key(msg, "INVITE" if method in ("ACK", "CANCEL") else None)
        if key is None:
            return True
        owner = self._owner(key)
        if owner is None or owner == self.core.rank:
            return True
        self.core.send(Handoff(owner, msg.raw, ctx.src))
        return False

    def on_response(self, ctx: MessageContext) -> bool:
        """A reply to one of tm's branches: hand it to the owning worker, or process it here.
        False when consumed; True lets the core relay it statelessly (no transaction, as Kamailio)."""
        msg = ctx.msg
        assert isinstance(msg, Response)
        via = msg.via
        owner = tags.branch_owner(via.branch if via is not None else None)
        if owner is None:
            return True
        if owner != self.core.rank and not ctx.handed_off:
            self.core.send(Handoff(owner, msg.to_bytes(), ctx.src))
            return False
        tx = self.table.match_response(msg)
        if tx is None:
            return True
        leg = self._legs.get(tx)
        if leg is None:
            return True
        self._count("rpl_received")
        self._guarded(leg, lambda: self._run(leg, tx.on_response(msg, self._now()), ctx), "a reply")
        return False

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
        log.warning("script writer didn't release transaction")
        wait = cell.timers.wt_timer if cell.timers.wt_timer is not None else self.timers.t4
        self.core.call_at(self._now() + wait, lambda: self._release(cell))
        return False

    def _release(self, cell: Cell) -> None:
        """t_release_transaction's put_on_wait ran out: a transaction still without a final reply or
        a branch is freed (one that got them meanwhile ends by its own timers)."""
        if not cell.freed and cell.uas_status < 200 and not cell.branches:
            self._kill(cell, reply=False)

    # ================================================================ machines and timers

    def _now(self) -> float:
        return self.core.clock.monotonic()

    def _run(self, leg: Leg, actions: list[Any], reply_ctx: MessageContext | None = None) -> None:
        """Carry out a machine's actions in their order: its sends and timers (the ACK of a negative
        reply goes out before the reply is relayed), then what tm is told, then the end."""
        for action in actions:
            if isinstance(action, Send):
                self.core.send(leg.dest.packet(action.data))
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

    def _add_leg(self, leg: Leg, actions: list[Any]) -> None:
        self.table.add(leg.tx)
        self._legs[leg.tx] = leg
        self._run(leg, actions)

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
        if not cell.waiting:
            cell.waiting = True
            self._count("waiting")
        self._count("deleted")
        if cell.shared_key is not None:
            self.core.shared.claims.release(cell.shared_key, self.core.rank)

    def _count(self, name: str, by: int = 1) -> None:
        self.counters[name] += by
        if self.stats_listener is not None:
            self.stats_listener(self.counters)

    # ================================================================ server transactions

    def cell_of(self, ctx: MessageContext) -> Cell | None:
        return ctx.local.get(CELL)

    def has_transaction(self, ctx: MessageContext) -> bool:
        """sl's send_reply() asks: reply statefully?"""
        return self.cell_of(ctx) is not None

    def _find(self, msg: Request) -> Cell | None:
        tx = self.table.match_request(msg)
        leg = self._legs.get(tx) if tx is not None else None
        return leg.cell if leg is not None else None

    def _find_invite(self, cancel: Request) -> Cell | None:
        tx = self.table.match_cancel(cancel)
        leg = self._legs.get(tx) if tx is not None else None
        return leg.cell if leg is not None and leg.role == "uas" else None

    def _lookup(self, ctx: MessageContext) -> tuple[str, Cell | None]:
        """t_lookup_request: ("retr", cell) for a retransmission or hop-by-hop ACK, ("e2e_ack", cell)
        for an ACK to a 2xx, ("none", None) otherwise."""
        msg = ctx.msg
        assert isinstance(msg, Request)
        cell = self._find(msg)
        if cell is not None:
            return "retr", cell
        if msg.method.upper() == "ACK":
            invite = self._find_invite(msg)
            if invite is not None and 200 <= invite.uas_status < 300:
                return "e2e_ack", invite
        return "none", None

    def _absorb(self, ctx: MessageContext, cell: Cell) -> None:
        """A retransmission gets the last reply again; an ACK for a negative reply stops its
        retransmissions."""
        assert cell.uas is not None
        self._run(cell.uas, cell.uas.tx.on_request(ctx.msg, self._now()))  # type: ignore[union-attr]

    def _newtran(self, ctx: MessageContext) -> int:
        """t_newtran: 1 new transaction, 0 retransmission absorbed or handed to its owner (the script
        stops), E_SCRIPT when it exists already, negative on error."""
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        if self.cell_of(ctx) is not None:
            return E_SCRIPT
        kind, cell = self._lookup(ctx)
        if kind == "retr" and cell is not None:
            self._absorb(ctx, cell)
            return 0
        if msg.method.upper() == "ACK":
            return 1
        key = server_key(msg)
        if key is None:
            return -9  # E_BAD_TUPEL
        shared_key = None
        if self._shared_index and not ctx.handed_off:
            owner = self._claim(key)
            if owner is not None:
                self.core.send(Handoff(owner, msg.raw, ctx.src))
                ctx.local[_HANDED] = True
                return 0
            shared_key = _key_text(key)
        self._create_uas(ctx, msg, shared_key)
        return 1

    def _create_uas(self, ctx: MessageContext, msg: Request, shared_key: str | None) -> Cell:
        timers = self._pending_timers(ctx)
        cell = Cell(next(self._labels), msg, msg.method.upper(), timers, src=ctx.src,
                    shared_key=shared_key, auto_inv_100=self.auto_inv_100, disable_6xx=self.disable_6xx)
        self._apply_pending(ctx, cell)
        src = ctx.src
        if src.proto == "udp":
            host, port = reply_destination(msg, src.ip, src.port)
            dest = Dest("udp", host, port, src.local)
        else:
            dest = Dest(src.proto, src.ip, src.port, src.local, src.conn_id)
        tx, actions = ServerTransaction.new(msg, reliable=src.proto != "udp", now=self._now(),
                                            timers=timers, auto_trying=False)
        cell.uas = Leg(tx, dest, cell, "uas")
        if msg.method.upper() == "CANCEL":
            invite = self._find_invite(msg)
            cell.canceled = invite is not None and invite.canceled
        self._add_leg(cell.uas, actions)
        ctx.local[CELL] = cell
        self._count("transactions")
        return cell

    def _pending_timers(self, ctx: MessageContext) -> TimerConfig:
        timers = self.timers
        fr = ctx.local.get(_PENDING_FR)
        if fr is not None:
            timers = timers.with_fr(*fr)
        retr = ctx.local.get(_PENDING_RETR)
        if retr is not None:
            timers = _with_retr(timers, *retr)
        return timers

    @staticmethod
    def _apply_pending(ctx: MessageContext, cell: Cell) -> None:
        for attr, name in ctx.local.get(_PENDING_ROUTES, {}).items():
            setattr(cell, attr, name)
        for attr, value in ctx.local.get(_PENDING_FLAGS, {}).items():
            setattr(cell, attr, value)

    # ---------------------------------------------------------------- replying

    def _reply(self, ctx: MessageContext, cell: Cell, code: int, reason: str) -> int:
        """t_reply on `cell` with the lumps of `ctx`: 1 when sent, -1 when it cannot be."""
        if cell.uas is None or not 100 <= code <= 699:
            return -1
        if cell.uas_status >= 200 and not (cell.is_invite and 200 <= code < 300 <= cell.uas_status):
            log.error("t_reply: cannot send a %d reply: a final reply was sent already", code)
            return -1
        data, to_tag = self._local_reply(cell, code, reason, ctx)
        if not self._send_uas(cell, data, code, to_tag):
            return -1
        self._count("rpl_generated")
        if code >= 200 and cell.is_invite:
            for br in cell.branches:  # cancel_uacs(F_CANCEL_B_KILL): a local final ends the branches
                if br.last_received < 200:
                    self._cancel_branch(cell, br, kill=True)
        return 1

    def _local_reply(self, cell: Cell, code: int, reason: str,
                     ctx: MessageContext | None = None) -> tuple[bytes, str | None]:
        """The reply tm builds itself, and the To-tag it carries."""
        assert cell.src is not None
        tag = tags.to_tag(self.core, cell.request)
        if ctx is None:
            data = build_local_reply(cell.request, cell.src, code, reason, tag=tag,
                                     server=self.core.server_header)
        else:
            data = build_local_reply(cell.request, cell.src, code, reason, tag=tag,
                                     server=self.core.server_header, lumps=ctx.reply_lumps,
                                     body=ctx.reply_body, force_rport=ctx.force_rport)
        request_tag = to_tag_of(cell.request)
        if request_tag:
            return data, request_tag
        return data, tag if code >= 180 and cell.request.has_header("to") else None

    def _send_uas(self, cell: Cell, data: bytes, code: int, to_tag: str | None) -> bool:
        assert cell.uas is not None
        try:
            actions = cell.uas.tx.send_prepared(data, code, to_tag, self._now())  # type: ignore[union-attr]
        except (TransactionError, SIPProtocolError) as exc:
            log.error("cannot send reply %d: %s", code, exc)
            return False
        if code >= 200 and cell.uas_status < 200:
            self._count(f"completed_{code // 100}xx") if code < 700 else None
            if not cell.waiting:
                cell.waiting = True
                self._count("waiting")
        if code > cell.uas_status or cell.uas_status < 200:
            cell.uas_status = code
        self._count("rpl_sent")
        self._run(cell.uas, actions)
        return True

    # ================================================================ relaying

    def _relay(self, ctx: MessageContext, proxy: tuple[str, str, int] | None) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        if ctx.route_type & RouteType.FAILURE:
            cell = self.cell_of(ctx)
            if cell is None:
                return -1
            return self._forward(ctx, cell, proxy)
        method = msg.method.upper()
        if method == "CANCEL":
            return self._relay_cancel(ctx, proxy)
        new = self._newtran(ctx)
        if new == 0:
            return 0 if ctx.local.get(_HANDED) else 1
        if new < 0 and new != E_SCRIPT:
            return new
        if method == "ACK":
            return self._forward_stateless(ctx, proxy)
        cell = self.cell_of(ctx)
        assert cell is not None
        if cell.is_invite and cell.auto_inv_100 and cell.uas_status < 100:
            self._reply(ctx, cell, 100, self.auto_inv_100_reason)
        ret = self._forward(ctx, cell, proxy)
        if ret <= 0 and not cell.disable_internal_reply and cell.uas_status < 200:
            code, text = _error_reply(ret)
            self._reply(ctx, cell, code, text)
        return ret

    def _forward_stateless(self, ctx: MessageContext, proxy: tuple[str, str, int] | None) -> int:
        if proxy is None:
            return forward_request(ctx, None, None, None)
        return forward_request(ctx, *proxy)

    def _forward(self, ctx: MessageContext, cell: Cell, proxy: tuple[str, str, int] | None) -> int:
        """t_forward_nonack: a branch for the R-URI (unless failure_route left it unchanged) and one
        for each of ctx.branches; run branch_route for each; send them."""
        if cell.canceled:
            return -487  # E_CANCELED
        state = ScriptState(ctx.new_ruri, ctx.dst_uri, ctx.flags, ctx.avps, ctx.xavps, ctx.force_socket,
                            ctx.xavis)
        if not ctx.route_type & RouteType.FAILURE:
            cell.state = state
        targets: list[tuple[str, str | None, Socket | None, int]] = []
        if not (ctx.route_type & RouteType.FAILURE) or ctx.ruri != ctx.local.get(_RURI_SEEN):
            targets.append((ctx.ruri, ctx.dst_uri, ctx.force_socket, ctx.bflags))
        targets += [(b.uri, b.dst_uri, b.socket or ctx.force_socket, b.flags) for b in ctx.branches]
        ctx.branches.clear()
        if ctx.route_type & RouteType.FAILURE:
            ctx.local[_RURI_SEEN] = ctx.ruri
        if not targets:
            log.error("t_relay: no branches for forwarding")
            return E_CFG
        first = len(cell.branches)
        sent, lowest = 0, -1
        for uri, dst_uri, sock, bflags in targets:
            ret = self._add_branch(ctx, cell, uri, dst_uri, sock, bflags, proxy)
            if ret > 0:
                sent += 1
            else:
                lowest = min(lowest, ret)
        if len(cell.branches) > first:
            cell.branches[first].first_of_step = True
        return 1 if sent else lowest

    def _add_branch(self, ctx: MessageContext, cell: Cell, uri: str, dst_uri: str | None,
                    sock: Socket | None, bflags: int, proxy: tuple[str, str, int] | None) -> int:
        msg = ctx.msg
        assert isinstance(msg, Request)
        index = len(cell.branches)
        bctx = MessageContext(msg, ctx.src, self.core, route_type=RouteType.BRANCH, flags=ctx.flags,
                              bflags=bflags, avps=ctx.avps, xavps=ctx.xavps, xavis=ctx.xavis, new_ruri=uri,
                              dst_uri=dst_uri, force_socket=sock)
        bctx.local.update({CELL: cell, BRANCH: index})
        before = len(msg.changes)
        try:
            if cell.on_branch is not None and not self._run_route("branch", cell.on_branch, bctx):
                return E_CFG  # dropped in branch_route
            return self._send_branch(bctx, cell, index, proxy)
        finally:
            for change in msg.changes[before:]:
                msg.cancel(change)

    def _send_branch(self, bctx: MessageContext, cell: Cell, index: int,
                     proxy: tuple[str, str, int] | None) -> int:
        target = bctx.dst_uri or bctx.ruri
        dest = proxy or destination(target)
        if dest is None:
            log.error("t_relay: cannot send to '%s' (not a SIP URI with a host)", target)
            return E_BAD_ADDRESS
        proto, host, port = dest
        sock = self._socket(bctx, proto, host)
        if sock is None:
            log.error("t_relay: no %s socket to send to %s:%d", proto, host, port)
            return E_SEND
        msg = bctx.msg
        assert isinstance(msg, Request)
        seed = f"{cell.label}.{_key_text(cell.uas.tx.key) if cell.uas else cell.request.call_id}"
        branch = tags.branch_id(self.core.rank, msg.call_id or "", str(msg.cseq.num) if msg.cseq else "",
                                seed, index)
        data = build_forwarded(bctx, sock, branch)
        br = UacBranch(index, bctx.ruri, data, (branch, msg.method.upper()), bflags=bctx.bflags)
        cell.branches.append(br)
        self._start_uac(cell, br, Dest(proto, host, port, sock))
        return 1

    def _socket(self, ctx: MessageContext, proto: str, host: str) -> Socket | None:
        forced = ctx.force_socket
        if forced is not None and forced.proto == proto:
            return forced
        want_v6 = ":" in host
        local = ctx.src.local if ctx.src is not None else None
        if local is not None and local.proto == proto and (":" in local.host) == want_v6:
            return local
        return next((s for s in self.core.sockets if s.proto == proto and (":" in s.host) == want_v6), None)

    def _start_uac(self, cell: Cell, br: UacBranch, dest: Dest) -> None:
        tx, actions = ClientTransaction.new(br.data, reliable=dest.proto != "udp", now=self._now(),
                                            timers=cell.timers, key=br.key)
        br.leg = Leg(tx, dest, cell, "uac", br.index)
        self._add_leg(br.leg, actions)

    # ---------------------------------------------------------------- CANCEL

    def _relay_cancel(self, ctx: MessageContext, proxy: tuple[str, str, int] | None) -> int:
        msg = ctx.msg
        assert isinstance(msg, Request)
        invite = self._find_invite(msg)
        if invite is None:
            if self.unmatched_cancel == 2:
                return 1  # UM_CANCEL_DROP
            return self._forward_stateless(ctx, proxy)
        new = self._newtran(ctx)
        if new == 0:
            return 1
        if new < 0 and new != E_SCRIPT:
            return new
        cell = self.cell_of(ctx)
        assert cell is not None
        self._e2e_cancel(ctx, cell, invite)
        return 1

    def _e2e_cancel(self, ctx: MessageContext, cancel: Cell, invite: Cell) -> None:
        invite.canceled = True
        pending = [br for br in invite.branches if br.last_received < 200 and not br.canceled]
        if not pending:
            if invite.uas_status < 200:
                self._reply(MessageContext(invite.request, invite.src, self.core), invite, 487,
                            "Request canceled")  # type: ignore[arg-type]
            self._reply(ctx, cancel, 200, CANCEL_DONE)
            return
        self._reply(ctx, cancel, 200, CANCELING)
        for br in pending:
            self._cancel_branch(invite, br)

    def _cancel_branch(self, cell: Cell, br: UacBranch, kill: bool = False) -> None:
        """cancel_branch: send a CANCEL on a branch that had a provisional reply; without one, per
        cancel_b_method wait for it (1), give the branch a local 487 (0), or CANCEL anyway (2)."""
        if br.canceled or br.leg is None:
            return
        br.canceled = True
        if br.last_received < 100 and self.cancel_b_method != 2:
            if kill or self.cancel_b_method == 0:
                self._stop(br.leg)
                self._fake_reply(cell, br, 487)
            return  # a provisional will trigger the CANCEL; else the branch times out
        self._send_cancel(cell, br)

    def _send_cancel(self, cell: Cell, br: UacBranch) -> None:
        assert br.leg is not None
        cancel = build_cancel(br.request)
        tx, actions = ClientTransaction.new(cancel, reliable=br.leg.dest.proto != "udp", now=self._now(),
                                            timers=cell.timers)
        br.cancel_leg = Leg(tx, br.leg.dest, cell, "cancel", br.index)
        self._add_leg(br.cancel_leg, actions)

    def _stop(self, leg: Leg) -> None:
        self._run(leg, leg.tx.terminate())

    # ================================================================ replies from branches

    def _branch_reply(self, leg: Leg, reply: Response, ctx: MessageContext | None) -> None:
        cell = leg.cell
        br = cell.branches[leg.branch]
        if cell.on_reply is not None and not cell.is_local:
            rctx = ctx or MessageContext(reply, cell.src, self.core)  # type: ignore[arg-type]
            rctx.route_type = RouteType.TM_ONREPLY
            rctx.local.update({CELL: cell, BRANCH: br.index})
            if not self._run_route("onreply", cell.on_reply, rctx) and reply.status < 200:
                return  # `drop` in onreply_route discards a provisional reply
        if br.canceled and br.cancel_leg is None and 100 <= reply.status < 200:
            self._send_cancel(cell, br)  # the CANCEL waited for this provisional
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
        if self._silent_drop(cell, br):
            self._stop(br.leg) if br.leg is not None else None
            if cell.uas is not None:
                self._stop(cell.uas)
            return
        if cell.is_invite and br.last_received >= 100 and not br.canceled:
            br.canceled = True
            self._send_cancel(cell, br)
        self._fake_reply(cell, br, 408)

    def _silent_drop(self, cell: Cell, br: UacBranch) -> bool:
        """noisy_ctimer=0: an INVITE nobody answered is dropped without a 408 (timer.c)."""
        return (not self.noisy_ctimer and not cell.is_local and cell.is_invite and len(cell.branches) == 1
                and cell.on_failure is None and br.last_received == 0)

    def _fake_reply(self, cell: Cell, br: UacBranch, code: int) -> None:
        if cell.is_local:
            br.faked = True
            self._local_final(cell, br, None, code)
            return
        self._process(cell, br, code, None)

    def _local_final(self, cell: Cell, br: UacBranch, reply: Response | None, code: int = 0) -> None:
        status = reply.status if reply is not None else code
        if status < 200:
            br.last_received = max(br.last_received, status)
            return
        br.last_received, br.reply = status, reply
        if cell.called_back:
            return
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
        if br.leg is not None and not br.leg.tx.terminated and reply is None:
            self._stop(br.leg)

    def _process(self, cell: Cell, br: UacBranch, code: int, reply: Response | None) -> None:
        """relay_reply: decide (t_should_relay_response), then relay or reply locally."""
        relay = self._should_relay(cell, br, code, reply)
        if relay >= 0:
            self._relay_reply(cell, relay, br, code, reply)
        pending, cell.cancel_after = cell.cancel_after, []
        for other in pending:  # after relaying, as Kamailio's out-of-lock cancel I/O
            self._cancel_branch(cell, other)

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
            return br.index
        return -1 if code == 100 and not self.relay_100 else br.index

    def _negative(self, cell: Cell, br: UacBranch, code: int, reply: Response | None) -> int:
        br.last_received = code
        br.reply, br.faked = reply, reply is None
        picked, picked_code = pick_branch(cell, br.index, code, self.faked_reply_prio)
        if picked == PENDING:
            if 600 <= code < 700 and not (cell.six_xx or cell.disable_6xx):
                cell.six_xx = True
                cell.cancel_after = [o for o in cell.branches if o.last_received < 200]
            return -1
        cell.six_xx = False
        count = len(cell.branches)
        dropped = False
        cell.picked_branch = picked
        if cell.on_failure is not None:
            self._run_failure(cell, picked, picked_code)
            mode = self.failure_reply_mode
            if (mode == 3 and count < len(cell.branches)) or mode not in (0, 3):
                for old in cell.branches[:count]:
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

    def _branches_failed(self, cell: Cell) -> int:
        self._reply(MessageContext(cell.request, cell.src, self.core), cell, 500,  # type: ignore[arg-type]
                    "Failed to get a reply from new branches")
        return -1

    def _relay_reply(self, cell: Cell, index: int, incoming: UacBranch, code: int,
                     reply: Response | None) -> None:
        br = cell.branches[index]
        if br is not incoming:
            code, reply = br.last_received, br.reply
        if reply is None or (code == 503 and self.remap_503_500):
            status = 500 if reply is not None else code
            data, to_tag = self._local_reply(cell, status, error_text(code))
            self._count("rpl_generated")
        else:
            status, data = code, without_top_via(reply)
            to_tag = to_tag_of(reply)
        if status >= 200 and cell.uas_status < 200:
            cell.relayed_branch = index
        self._send_uas(cell, data, status, to_tag)

    # ================================================================ routes

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

    def _run_failure(self, cell: Cell, picked: int, code: int) -> None:
        name, cell.on_failure = cell.on_failure, None  # no recursion unless set again
        assert name is not None and cell.src is not None
        state = cell.state
        fctx = MessageContext(cell.request, cell.src, self.core, route_type=RouteType.FAILURE,
                              flags=state.flags, bflags=cell.branches[picked].bflags if picked >= 0 else 0,
                              avps=state.avps, xavps=state.xavps, xavis=state.xavis, new_ruri=state.new_ruri,
                              dst_uri=state.dst_uri, force_socket=state.force_socket)
        fctx.local.update({CELL: cell, PICKED: picked, BRANCH: picked})
        fctx.local[_RURI_SEEN] = fctx.ruri
        before = len(cell.request.changes)
        try:
            self._run_route("failure", name, fctx)
        finally:
            for change in cell.request.changes[before:]:
                cell.request.cancel(change)

    # ================================================================ the UAC API

    def t_request(self, method: str, ruri: str, to_uri: str, from_uri: str, *, headers: str | bytes = "",
                  body: bytes = b"", next_hop: str | None = None,
                  callback: Callable[[int, Response | None], None] | None = None) -> int:
        """kampy.api.TmAPI: a new request in a new client transaction; `callback(status, reply)`
        runs once with the final reply, or (408, None) on timeout. 1 when sent, negative on error."""
        return self.request(method, ruri, from_uri, to_uri, headers, body, next_hop, callback)

    def request(self, method: str, ruri: str, from_uri: str, to_uri: str, headers: str | bytes = "",
                body: bytes = b"", next_hop: str | None = None,
                callback: Callable[[int, Response | None], None] | None = None) -> int:
        """The same as `t_request`, in the argument order of Kamailio's uac_req (From before To)."""
        dest = destination(next_hop or ruri)
        if dest is None:
            log.error("tm: cannot send a local %s to '%s'", method, next_hop or ruri)
            return E_BAD_ADDRESS
        proto, host, port = dest
        sock = next((s for s in self.core.sockets if s.proto == proto and (":" in s.host) == (":" in host)),
                    None)
        if sock is None:
            log.error("tm: no %s socket to send a local %s to %s:%d", proto, method, host, port)
            return E_SEND
        call_id = self._callids.next()
        label = next(self._labels)
        branch = tags.branch_id(self.core.rank, call_id, "10", f"{label}.{call_id}", 0)
        data = build_local_request(method.upper(), ruri, from_uri, to_uri, sock=sock, branch=branch,
                                   call_id=call_id, from_tag=tags.from_tag(self.core, call_id, ruri),
                                   user_agent=self.core.server_header, headers=headers, body=body)
        cell = Cell(label, None, method.upper(), self.timers, callback=callback)
        br = UacBranch(0, ruri, data, (branch, method.upper()))
        cell.branches.append(br)
        self._count("transactions")
        self._count("client_transactions")
        self._start_uac(cell, br, Dest(proto, host, port, sock))
        return 1

    # ================================================================ RPC

    def watch_counters(self, listener: Callable[[dict[str, int]], None]) -> None:
        """TmAPI: `listener(counters)` now and on each change of the transaction counters."""
        self.stats_listener = listener
        listener(self.counters)

    def rpc_stats(self) -> dict[str, int]:
        c = self.counters
        return {"current": c["transactions"] - c["deleted"], "waiting": c["waiting"] - c["deleted"],
                "total": c["transactions"], "total_local": c["client_transactions"],
                "rpl_received": c["rpl_received"], "rpl_generated": c["rpl_generated"],
                "rpl_sent": c["rpl_sent"], "6xx": c["completed_6xx"], "5xx": c["completed_5xx"],
                "4xx": c["completed_4xx"], "3xx": c["completed_3xx"], "2xx": c["completed_2xx"],
                "created": c["transactions"], "freed": c["deleted"], "delayed_free": 0}

    # ================================================================ what tmx reads

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

    def find_by_callid(self, call_id: str, cseq: str) -> Cell | None:
        for leg in list(self._legs.values()):
            req = leg.cell.request
            if leg.role == "uas" and req.call_id == call_id and req.cseq is not None \
                    and str(req.cseq.num) == cseq:
                return leg.cell
        return None

    def reply_cell(self, cell: Cell, code: int, reason: str) -> int:
        """t_reply on a transaction found by other means than the message at hand (tmx)."""
        return self._reply(MessageContext(cell.request, cell.src, self.core), cell, code,  # type: ignore[arg-type]
                           reason)

    def is_known(self, ctx: MessageContext) -> bool:
        """Whether the request's transaction exists, here or in another worker (t_precheck_trans)."""
        msg = ctx.msg
        if not isinstance(msg, Request):
            return False
        if self._lookup(ctx)[0] != "none":
            return True
        key = server_key(msg)
        return key is not None and self._shared_index and self._owner(key) is not None

    def flush_flags(self, ctx: MessageContext) -> None:
        """Store the message flags in the transaction of `ctx` (tmx t_flush_flags)."""
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.state.flags = ctx.flags

    def cancel_cell(self, cell: Cell) -> None:
        """Cancel every pending branch of a transaction (tmx t_cancel_callid)."""
        cell.canceled = True
        for br in cell.branches:
            if br.last_received < 200:
                self._cancel_branch(cell, br)

    # ================================================================ cfg functions

    def t_newtran(self, ctx: MessageContext) -> int:
        ret = self._newtran(ctx)
        if ret == E_SCRIPT:
            log.info("t_newtran: transaction already in process")
        return ret

    def t_check_trans(self, ctx: MessageContext) -> int:
        if ctx.route_type & (RouteType.FAILURE | RouteType.BRANCH | RouteType.TM_ONREPLY):
            return 1
        msg = ctx.msg
        if isinstance(msg, Response):
            via = msg.via
            return 1 if tags.branch_owner(via.branch if via else None) is not None \
                and self.table.match_response(msg) is not None else -1
        if msg.method.upper() == "CANCEL":
            return self.t_lookup_cancel(ctx)
        kind, cell = self._lookup(ctx)
        if kind == "e2e_ack":
            return 1
        if kind == "retr" and cell is not None:
            self._absorb(ctx, cell)
            return 0
        return -1

    def t_lookup_request(self, ctx: MessageContext) -> int:
        kind, _ = self._lookup(ctx)
        return 1 if kind != "none" else -1

    def t_lookup_cancel(self, ctx: MessageContext, strict: int = 0) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method.upper() != "CANCEL":
            return -1
        return 1 if self._find_invite(msg) is not None else -1

    def t_reply(self, ctx: MessageContext, code: int, reason: str) -> int:
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("t_reply: cannot send a t_reply to a message for which no T-state has been "
                      "established")
            return -1
        return self._reply(ctx, cell, int(code), reason)

    def t_send_reply(self, ctx: MessageContext, code: int, reason: str) -> int:
        if self.cell_of(ctx) is None:
            ret = self._newtran(ctx)
            if ret <= 0:
                return ret
        return self.t_reply(ctx, code, reason)

    def t_retransmit_reply(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        if cell is None or cell.uas is None or cell.uas.tx.last_response is None:  # type: ignore[union-attr]
            return -1
        self.core.send(cell.uas.dest.packet(cell.uas.tx.last_response))  # type: ignore[union-attr, arg-type]
        return 1

    def t_relay(self, ctx: MessageContext, host: str | None = None, port: str | None = None) -> int:
        proxy = None
        if host is not None:
            proxy = _proxy(host, port, None)
            if proxy is None:
                return E_BAD_ADDRESS
        return self._relay(ctx, proxy)

    def t_relay_to_udp(self, ctx: MessageContext, host: str | None = None, port: str | None = None) -> int:
        return self._relay_proto(ctx, "udp", host, port)

    def t_relay_to_tcp(self, ctx: MessageContext, host: str | None = None, port: str | None = None) -> int:
        return self._relay_proto(ctx, "tcp", host, port)

    def _relay_proto(self, ctx: MessageContext, proto: str, host: str | None, port: str | None) -> int:
        if host is not None:
            proxy = _proxy(host, port, proto)
        else:
            dest = destination(ctx.dst_uri or ctx.ruri)
            proxy = None if dest is None else (proto, dest[1], dest[2])
        if proxy is None:
            return E_BAD_ADDRESS
        return self._relay(ctx, proxy)

    def t_relay_cancel(self, ctx: MessageContext) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method.upper() != "CANCEL":
            return 1
        if self._find_invite(msg) is None:
            return 1
        ret = self._relay_cancel(ctx, None)
        return 0 if ret > 0 else ret

    def _on(self, ctx: MessageContext, attr: str, name: str) -> int:
        cell = self.cell_of(ctx)
        if cell is not None and ctx.route_type & (RouteType.REQUEST | RouteType.FAILURE
                                                  | RouteType.TM_ONREPLY):
            setattr(cell, attr, name or None)
        else:
            ctx.local.setdefault(_PENDING_ROUTES, {})[attr] = name or None
        return 1

    def t_on_failure(self, ctx: MessageContext, name: str) -> int:
        return self._on(ctx, "on_failure", name)

    def t_on_reply(self, ctx: MessageContext, name: str) -> int:
        return self._on(ctx, "on_reply", name)

    def t_on_branch(self, ctx: MessageContext, name: str) -> int:
        return self._on(ctx, "on_branch", name)

    def t_check_status(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        code = self.reply_code(ctx)
        if code < 0:
            return -1
        return 1 if regex.search(str(code)) else -1

    def t_set_fr(self, ctx: MessageContext, fr_inv: int, fr: int = 0) -> int:
        inv = self.timers.fr_inv_timer if not fr_inv else fr_inv / 1000
        non_inv = self.timers.fr_timer if not fr else fr / 1000
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.timers = cell.timers.with_fr(inv, non_inv)
        else:
            ctx.local[_PENDING_FR] = (inv, non_inv)
        return 1

    def t_reset_fr(self, ctx: MessageContext) -> int:
        ctx.local.pop(_PENDING_FR, None)
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.timers = cell.timers.with_fr(self.timers.fr_inv_timer, self.timers.fr_timer)
        return 1

    def t_set_retr(self, ctx: MessageContext, t1: int, t2: int) -> int:
        cell = self.cell_of(ctx)
        t1s = self.timers.t1 if not t1 else t1 / 1000
        t2s = self.timers.t2 if not t2 else t2 / 1000
        if cell is not None:
            cell.timers = _with_retr(cell.timers, t1s, t2s)
        else:
            ctx.local[_PENDING_RETR] = (t1s, t2s)
        return 1

    def t_reset_retr(self, ctx: MessageContext) -> int:
        ctx.local.pop(_PENDING_RETR, None)
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.timers = _with_retr(cell.timers, self.timers.t1, self.timers.t2)
        return 1

    def _flag(self, ctx: MessageContext, attr: str, value: bool) -> int:
        cell = self.cell_of(ctx)
        if cell is not None:
            setattr(cell, attr, value)
        else:
            ctx.local.setdefault(_PENDING_FLAGS, {})[attr] = value
        return 1

    def t_set_auto_inv_100(self, ctx: MessageContext, mode: int) -> int:
        return self._flag(ctx, "auto_inv_100", bool(mode))

    def t_set_disable_6xx(self, ctx: MessageContext, mode: int) -> int:
        return self._flag(ctx, "disable_6xx", bool(mode))

    def t_set_disable_internal_reply(self, ctx: MessageContext, mode: int) -> int:
        return self._flag(ctx, "disable_internal_reply", bool(mode))

    def _picked(self, ctx: MessageContext) -> UacBranch | None:
        cell = self.cell_of(ctx)
        picked = ctx.local.get(PICKED)
        if cell is None or picked is None or not 0 <= picked < len(cell.branches):
            return None
        return cell.branches[picked]

    def t_branch_timeout(self, ctx: MessageContext) -> int:
        br = self._picked(ctx)
        return 1 if br is not None and br.timed_out else -1

    def t_branch_replied(self, ctx: MessageContext) -> int:
        br = self._picked(ctx)
        return 1 if br is not None and br.leg is not None and br.leg.tx.last_response is not None \
            else -1  # type: ignore[union-attr]

    def t_any_timeout(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        return 1 if cell is not None and any(b.timed_out for b in cell.branches) else -1

    def t_any_replied(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        return 1 if cell is not None and any(
            b.leg is not None and b.leg.tx.last_response is not None for b in cell.branches) else -1  # type: ignore[union-attr]

    def t_is_canceled(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        return 1 if cell is not None and cell.canceled else -1

    def t_grep_status(self, ctx: MessageContext, code: int) -> int:
        cell = self.cell_of(ctx)
        return 1 if cell is not None and any(b.last_received == code for b in cell.branches) else -1

    def t_get_status_code(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        return cell.uas_status if cell is not None and cell.uas_status else -1

    def t_is_set(self, ctx: MessageContext, target: str) -> int:
        attr = {"branch_route": "on_branch", "failure_route": "on_failure",
                "onreply_route": "on_reply"}.get(target)
        if attr is None:
            log.error("t_is_set: unknown target '%s'", target)
            return -1
        cell = self.cell_of(ctx)
        value = getattr(cell, attr) if cell is not None else ctx.local.get(_PENDING_ROUTES, {}).get(attr)
        return 1 if value else -1

    def t_uac_send(self, ctx: MessageContext, method: str, ruri: str, nexthop: str, socket: str,
                   headers: str, body: str) -> int:
        to_uri = from_uri = ruri
        extra = []
        for line in headers.replace("\r\n", "\n").split("\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() in ("from", "f"):
                from_uri = value.strip()
            elif name.strip().lower() in ("to", "t"):
                to_uri = value.strip()
            elif line.strip():
                extra.append(line.strip() + "\r\n")
        return self.request(method, ruri, from_uri, to_uri, "".join(extra), body.encode(), nexthop or None)


def _with_retr(timers: TimerConfig, t1: float, t2: float) -> TimerConfig:
    import dataclasses
    return dataclasses.replace(timers, t1=t1, t2=t2)


def _proxy(host: str, port: str | None, proto: str | None) -> tuple[str, str, int] | None:
    """t_relay("udp:host:port") / t_relay("host", "port"): (proto, host, port)."""
    text = host.strip()
    if proto is None and ":" in text and text.split(":", 1)[0].lower() in ("udp", "tcp", "tls", "sctp"):
        proto, text = text.split(":", 1)
    if port is None and text.count(":") == 1:
        text, port = text.split(":")
    proto = (proto or "udp").lower()
    try:
        number = int(port) if port else 5060
    except ValueError:
        log.error("t_relay: bad port '%s'", port)
        return None
    return proto, text.strip("[]"), number


def _error_reply(error: int) -> tuple[int, str]:
    """kill_transaction(): the local reply for a relay error (err2reason_phrase, "TM")."""
    texts = {E_SEND: ("Unfortunately error on sending to next hop occurred", 477),
             E_BAD_ADDRESS: ("Unresolvable destination", 478),
             -487: ("Transaction canceled", 487)}
    text, code = texts.get(error, ("I'm terribly sorry, server error occurred", 500))
    return code, f"{text} ({-error}/TM)"
