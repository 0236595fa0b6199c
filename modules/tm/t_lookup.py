"""Finding the transaction of a message (Kamailio's t_lookup.c): a request's (t_newtran creates it
when there is none), a reply's, a CANCEL's INVITE; with several workers, the worker that owns it.

The worker that creates a transaction owns it (its timers and machines live there). The server keys
of live transactions are claimed in the shared claims table (key -> rank) and the Via branch of every
request tm sends names the owner's rank, so `pre_script` (requests) and `on_response` (replies) hand a
message that belongs to another worker over to it."""
from __future__ import annotations


from kampy.api import (
    Handoff,
    MessageContext,
    Request,
    Response,
    ServerTransaction,
    TimerConfig,
    reply_destination,
    server_key,
)

from . import tags
from .base import (
    CELL,
    E_SCRIPT,
    HANDED,
    PENDING_FLAGS,
    PENDING_FR,
    PENDING_RETR,
    PENDING_ROUTES,
    TmBase,
    key_text,
)
from .cell import Cell, Dest, Leg


# How long a claim outlives a worker that died holding it; a live transaction releases it when freed.
CLAIM_TTL = 3600.0


class Lookup(TmBase):
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
                ctx.local[HANDED] = True
                return 0
            shared_key = key_text(key)
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

    def find_by_callid(self, call_id: str, cseq: str) -> Cell | None:
        for leg in list(self._legs.values()):
            req = leg.cell.request
            if leg.role == "uas" and req.call_id == call_id and req.cseq is not None \
                    and str(req.cseq.num) == cseq:
                return leg.cell
        return None
