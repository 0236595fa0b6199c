"""Finding the transaction of a message (Kamailio's t_lookup.c): a request's (t_newtran creates it
when there is none), a reply's, a CANCEL's INVITE; with several workers, the worker that owns it.

The worker that creates a transaction owns it (its timers and machines live there). The server keys
of live transactions are claimed in the shared claims table (key -> rank) and the Via branch of every
request tm sends names the owner's rank, so `pre_script` (requests) and `on_response` (replies) hand a
message that belongs to another worker over to it."""
from __future__ import annotations

from kampy.api import (
    FL_USE_UAC_FROM,
    FL_USE_UAC_TO,
    TMCB_ACK_NEG_IN,
    TMCB_E2EACK_IN,
    TMCB_E2EACK_RETR_IN,
    TMCB_LOCAL_RESPONSE_IN,
    TMCB_REQ_RETR_IN,
    TMCB_REQUEST_IN,
    TMCB_RESPONSE_IN,
    Handoff,
    MessageContext,
    Request,
    Response,
    ServerTransaction,
    TimerConfig,
    TmTransaction,
    reply_destination,
    server_key,
    to_tag_of,
)

from . import tags
from .base import (
    CELL,
    CLAIM_TTL,
    E_SCRIPT,
    HANDED,
    PENDING_FLAGS,
    PENDING_FR,
    PENDING_RETR,
    PENDING_ROUTES,
    e2e_key,
    key_text,
)
from .cell import Cell, Dest, Leg, ScriptState, view_of
from .t_hooks import E2EACK
from .t_lifetime import Lifetime
from .t_match import Matcher

# the transaction flags of T_SET_FLAG_GEN_FUNC (tm.c): set before the transaction, they reach an INVITE's
INVITE_ONLY_FLAGS = frozenset({"auto_inv_100", "disable_6xx", "disable_internal_reply", "disable_failover",
                               "no_e2e_cancel_reason"})


class Lookup(Lifetime, Matcher):
    """t_lookup_request, t_reply_matching, t_lookupOriginalT, t_newtran."""

    @property
    def _shared_index(self) -> bool:
        return self.core.workers > 1

    def _owner(self, key: tuple[str, ...]) -> int | None:
        return self.core.shared.claims.owner(key_text(key))

    def _claim(self, key: tuple[str, ...]) -> int | None:
        """None when this worker owns the key now, else the owner's rank."""
        return self.core.shared.claims.claim(key_text(key), self.core.rank, CLAIM_TTL)

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
        if owner is None and method == "ACK":  # an end-to-end ACK an INVITE's E2EACK callbacks await
            e2e = e2e_key(msg)
            owner = self.core.shared.claims.owner(e2e) if e2e is not None else None
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
            return self._sl_reply(ctx)  # type: ignore[attr-defined]
        if owner != self.core.rank and not ctx.handed_off:
            self.core.send(Handoff(owner, msg.to_bytes(), ctx.src))
            return False
        tx = self._match_reply(msg)
        leg = self._legs.get(tx) if tx is not None else None
        if leg is None:
            return self._sl_reply(ctx)  # type: ignore[attr-defined]
        self._count("rpl_received")
        if msg.status == 503:
            self._blst_503(ctx)  # type: ignore[attr-defined]
        cell = leg.cell
        if cell.tmcb_types & (TMCB_RESPONSE_IN | TMCB_LOCAL_RESPONSE_IN):
            kind = TMCB_LOCAL_RESPONSE_IN if cell.is_local else TMCB_RESPONSE_IN
            if cell.tmcb_types & kind:
                self._tmcb(cell, kind, None if cell.is_local else cell.request, msg, msg.status,
                           leg.branch, ctx=ctx)
        by_key = not self.callid_cseq_matching
        self._guarded(leg, lambda: self._run(leg, tx.on_response(msg, self._now(), by_key=by_key), ctx),
                      "a reply")
        return False

    def has_transaction(self, ctx: MessageContext) -> bool:
        """sl's send_reply() asks: reply statefully?"""
        return self.cell_of(ctx) is not None

    def _find(self, msg: Request) -> Cell | None:
        tx = self.table.match_request(msg, self.matching)
        leg = self._legs.get(tx) if tx is not None else None
        return leg.cell if leg is not None else None

    def _find_invite(self, cancel: Request) -> Cell | None:
        tx = self.table.match_cancel(cancel, self.matching)
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
            if invite is None and self.e2e:
                key = e2e_key(msg)
                invite = self.e2e.get(key) if key is not None else None
                if invite is not None and (invite.fwded_totags is None
                                           or to_tag_of(msg) not in invite.fwded_totags):
                    invite = None  # an ACK of another fork, or of no 2xx relayed here
            if invite is not None and 200 <= invite.uas_status < 300:
                return "e2e_ack", invite
        return "none", None

    def _absorb(self, ctx: MessageContext, cell: Cell) -> None:
        """A retransmission gets the last reply again; an ACK for a negative reply stops its
        retransmissions."""
        assert cell.uas is not None
        if cell.tmcb_types & (TMCB_ACK_NEG_IN | TMCB_REQ_RETR_IN):
            msg = ctx.msg
            kind = TMCB_ACK_NEG_IN if msg.method.upper() == "ACK" else TMCB_REQ_RETR_IN  # type: ignore[union-attr]
            if cell.tmcb_types & kind:
                self._tmcb(cell, kind, msg, ctx=ctx)  # type: ignore[arg-type]
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
            if kind == "e2e_ack" and cell is not None and cell.tmcb_types & E2EACK:
                self._e2e_ack(ctx, cell)
            return 1
        key = server_key(msg)
        if key is None:
            return -9  # E_BAD_TUPEL
        shared_key = None
        if self._shared_index and not ctx.handed_off:
            owner = self._claim(key)
            if owner is not None:
                self.core.send(Handoff(owner, msg.raw, ctx.src))
                ctx.local[HANDED] = True
                return 0
            shared_key = key_text(key)
        self._create_uas(ctx, msg, shared_key)
        return 1

    def _create_uas(self, ctx: MessageContext, msg: Request, shared_key: str | None) -> Cell:
        timers = self._new_timers(ctx, msg.method.upper(), msg.call_id or "",
                                  str(msg.cseq.num) if msg.cseq is not None else "")
        cell = Cell(next(self._labels), msg, msg.method.upper(), timers, src=ctx.src,
                    shared_key=shared_key, auto_inv_100=self.auto_inv_100, disable_6xx=self.disable_6xx,
                    no_e2e_cancel_reason=not self.cfg.get("tm", "e2e_cancel_reason"),
                    uac_flags=ctx.msg_flags & (FL_USE_UAC_FROM | FL_USE_UAC_TO))
        self._apply_pending(ctx, cell)
        cell.state = ScriptState.of(ctx)  # what the request had when the transaction began (its clone)
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
        self._adopt_early(ctx, cell)
        if self.reqin_tmcbs:
            self._reqin(cell, self.reqin_tmcbs, TMCB_REQUEST_IN, msg, ctx)
        return cell

    def _e2e_ack(self, ctx: MessageContext, invite: Cell) -> None:
        """TMCB_E2EACK_IN for the first ACK of a relayed 2xx's To-tag, TMCB_E2EACK_RETR_IN after."""
        tag = to_tag_of(ctx.msg)  # type: ignore[arg-type]
        totags = invite.fwded_totags
        first = totags is None or tag is None or not totags.get(tag, False)
        if totags is not None and tag in totags:
            totags[tag] = True
        kind = TMCB_E2EACK_IN if first else TMCB_E2EACK_RETR_IN
        if invite.tmcb_types & kind:
            self._tmcb(invite, kind, ctx.msg, ctx=ctx)  # type: ignore[arg-type]

    def _pending_timers_of(self, ctx: MessageContext, timers: TimerConfig) -> TimerConfig:
        """The timers t_set_fr() and t_set_retr() gave the request before its transaction existed."""
        fr = ctx.local.get(PENDING_FR)
        if fr is not None:
            timers = timers.with_fr(*fr)
        retr = ctx.local.get(PENDING_RETR)
        if retr is not None:
            timers = timers.with_retr(*retr)
        return timers

    @staticmethod
    def _apply_pending(ctx: MessageContext, cell: Cell) -> None:
        for attr, name in ctx.local.get(PENDING_ROUTES, {}).items():
            setattr(cell, attr, name)
        for attr, value in ctx.local.get(PENDING_FLAGS, {}).items():
            # init_new_t gives the cell flags the script set before the transaction to an INVITE only
            if cell.is_invite or attr not in INVITE_ONLY_FLAGS:
                setattr(cell, attr, value)

    def is_known(self, ctx: MessageContext) -> bool:
        """Whether the request's transaction exists, here or in another worker (t_precheck_trans)."""
        msg = ctx.msg
        if not isinstance(msg, Request):
            return False
        if self._lookup(ctx)[0] != "none":
            return True
        key = server_key(msg)
        return key is not None and self._shared_index and self._owner(key) is not None

    def find_by_callid(self, call_id: str, cseq: str) -> TmTransaction | None:
        """t_lookup_callid: the INVITE transaction with this Call-ID and CSeq number."""
        for leg in list(self._legs.values()):
            req = leg.cell.request
            if leg.role == "uas" and req.call_id == call_id and req.cseq is not None \
                    and str(req.cseq.num) == cseq:
                return view_of(leg.cell)
        return None
