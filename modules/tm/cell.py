"""A transaction as tm keeps it (Kamailio's `struct cell`): the server side (the UAS transaction
machine) and its branches (one client transaction machine each), plus what the script set."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kampy.api import (
    ClientTransaction,
    MessageContext,
    Outgoing,
    Request,
    Response,
    ServerTransaction,
    SipDest,
    SipTarget,
    Socket,
    Source,
    TimerConfig,
    TmCallback,
    hash2_raw,
    parse_message,
)

PENDING = -2  # t_pick_branch: branches still open
ON_HOLD = "none"  # Dest.proto of a branch whose send failed, kept for failure_route (failure_exec_mode)


@dataclass(frozen=True)
class Dest:
    """Where a transaction machine's bytes go."""

    proto: str
    host: str
    port: int
    local: Socket | None = None
    conn_id: int | None = None

    def packet(self, data: bytes) -> Outgoing:
        return Outgoing(self.proto, self.host, self.port, data, self.local, self.conn_id)


@dataclass(eq=False)
class Leg:
    """One transaction machine of a cell with its timers: the UAS, a branch, or a branch's CANCEL."""

    tx: ClientTransaction | ServerTransaction
    dest: Dest
    cell: Cell
    role: str  # "uas" | "uac" | "cancel"
    branch: int = -1
    handles: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class BranchDns:
    """The targets a branch's destination resolved to and the one it went to, `index` (DNS failover
    goes on with the next); `forced`: the socket forced for it (kept on failover)."""

    dest: SipDest
    targets: list[SipTarget]
    index: int
    forced: Socket | None
    sock: Socket  # the socket it went out from


@dataclass(eq=False)
class UacBranch:
    """An outgoing branch (Kamailio's `struct ua_client`)."""

    index: int
    uri: str
    data: bytes              # the request as sent
    key: tuple[str, str]     # its (Via branch, method): the client transaction needs no parse
    parsed: Request | None = None
    leg: Leg | None = None
    last_received: int = 0
    reply: Response | None = None
    faked: bool = False        # the final reply is a local one (408 on timeout, 487 on CANCEL)
    canceled: bool = False     # F_RB_CANCELED
    cancel_leg: Leg | None = None
    timed_out: bool = False    # F_RB_TIMEOUT
    bflags: int = 0
    first_of_step: bool = False  # TM_UAC_FLAG_FB: the first branch of a t_relay() call
    ruid: str | None = None    # the location record's id ($T_branch(ruid), $T_reply_ruid)
    path: str | None = None    # the Path vector it was sent with (t_reuse_branch)
    instance: str | None = None  # +sip.instance of its contact (t_next_contact_flow, t_reuse_branch)
    on_branch_failure: str | None = None  # the transaction's event_route[tm:branch-failure] when sent
    on_reply: str | None = None    # the transaction's onreply_route when sent (uac[].on_reply)
    on_failure: str | None = None  # its failure_route when sent: the picked branch's runs (uac[].on_failure)
    blind: bool = False        # TM_UAC_FLAG_BLIND: sends nothing, waits for tm.reply (t_write_req)
    dns: BranchDns | None = None  # where its destination resolved to (Kamailio's uac[].dns_h)

    @property
    def has_reply(self) -> bool:
        return self.reply is not None or self.faked

    @property
    def request(self) -> Request:
        """The request as sent, parsed on first use (the client transaction's copy once it has one)."""
        if self.parsed is None:
            if self.leg is not None:
                self.parsed = self.leg.tx.request
            else:
                msg = parse_message(self.data)
                assert isinstance(msg, Request)
                self.parsed = msg
        return self.parsed


@dataclass
class ScriptState:
    """What the request route had set when it relayed: failure_route starts from it."""

    new_ruri: str | None = None
    dst_uri: str | None = None
    flags: int = 0
    avps: dict[str, list[Any]] = field(default_factory=dict)
    xavps: dict[str, list[Any]] = field(default_factory=dict)
    force_socket: Socket | None = None
    xavis: dict[str, list[Any]] = field(default_factory=dict)
    xflags: int = 0  # the extended flags (setxflag()), kept by t_flush_xflags
    avp_flags: dict[str, dict[int, int]] = field(default_factory=dict)  # setavpflag()'s, with the AVPs

    @classmethod
    def of(cls, ctx: MessageContext) -> ScriptState:
        return cls(ctx.new_ruri, ctx.dst_uri, ctx.flags, ctx.avps, ctx.xavps, ctx.force_socket, ctx.xavis,
                   ctx.xflags, ctx.avp_flags)


@dataclass(eq=False)
class Cell:
    label: int
    parsed: Request | None  # the request; a local request (None) is parsed on first read: `request`
    method: str
    timers: TimerConfig
    src: Source | None = None
    uas: Leg | None = None
    shared_key: str | None = None
    branches: list[UacBranch] = field(default_factory=list)
    cancel_after: list[UacBranch] = field(default_factory=list)
    on_failure: str | None = None
    on_reply: str | None = None
    on_branch: str | None = None
    on_branch_failure: str | None = None  # t_on_branch_failure(): the name after tm:branch-failure:
    uas_status: int = 0
    relayed_branch: int = -1
    relayed_reply_branch: int = -1  # the branch of the last reply sent upstream, -2 for tm's own
    local_to_tag: str | None = None  # the To-tag of tm's last own reply, "" without (uas.local_totag)
    picked_branch: int = -1
    canceled: bool = False
    six_xx: bool = False
    disable_6xx: bool = False
    auto_inv_100: bool = True
    disable_internal_reply: bool = False
    disable_failover: bool = False  # t_set_disable_failover, t_relay_to flag 0x04
    noisy_ctimer: bool = False  # T_NOISY_CTIMER_FLAG: a timeout is always replied (blind UAC, fr_inv AVP)
    no_e2e_cancel_reason: bool = False  # T_NO_E2E_CANCEL_REASON (t_set_no_e2e_cancel_reason)
    cancel_reasons: list[str] | None = None  # the Reason lines of the CANCEL received (uas.cancel_reas)
    cancel_cause: int = 0  # the final reply the CANCELs of `cancel_after` are sent for
    # FL_USE_UAC_FROM/FL_USE_UAC_TO of the request (t_use_uac_headers(), uac_replace_*(),
    # msg_iflag_set()): its CANCELs are built from the INVITE sent, with its To for the latter
    uac_flags: int = 0
    saved_changes: int | None = None  # t_save_lumps(): how many changes of the request failure_route keeps
    drop_replies: int = 3  # while a failure_route runs: failure_reply_mode, or t_drop_replies()'s
    replicate: bool = False  # t_replicate (Kamailio's T_IS_LOCAL_FLAG): the replies stay here
    waiting: bool = False
    freed: bool = False
    state: ScriptState = field(default_factory=ScriptState)
    callback: Callable[[int, Response | None], None] | None = None  # local (UAC) transactions
    called_back: bool = False
    no_auto_ack: bool = False  # T_NO_AUTO_ACK: the requester ACKs the 2xx of this local INVITE itself
    local_ack: tuple[bytes, Dest] | None = None  # uac[0].local_ack: the ACK of its 2xx, as sent first
    local_ack_resolving: bool = False  # the ACK's next hop is being looked up (DNS)
    tmcb_types: int = 0  # the TMCB_* bits some callback of `tmcbs` is registered for
    tmcbs: list[tuple[int, TmCallback]] | None = None  # newest first, as Kamailio's tmcb_hl
    fwded_totags: dict[str, bool] | None = None  # To-tags of relayed 2xx -> ACKed (E2EACK callbacks)
    e2e_key: str | None = None  # how an end-to-end ACK finds it (E2EACK callbacks)
    view: TransactionView | None = field(default=None, repr=False)  # what other modules get

    @property
    def is_invite(self) -> bool:
        return self.method == "INVITE"

    @property
    def request(self) -> Request:
        if self.parsed is None:
            self.parsed = self.branches[0].request
        return self.parsed

    @property
    def is_local(self) -> bool:
        return self.uas is None

    def legs(self) -> list[Leg]:
        legs = [self.uas] if self.uas is not None else []
        for br in self.branches:
            legs += [leg for leg in (br.leg, br.cancel_leg) if leg is not None]
        return legs


# t_reply.c: lower is better; 6xx beat everything but 2xx, 401/407/415/420/484 beat other 4xx.
_CLASS_PRIO = (32000, 11000, 0, 3000, 4000, 5000, 1000)


def prio(code: int, faked: bool = False, faked_prio: int = 0) -> int:
    cls = code // 100
    if cls < 7:
        xx = code % 100
        if cls == 4:
            xx = xx if xx in (1, 7, 15, 20, 84) else 100 + xx
        value = _CLASS_PRIO[cls] + xx
    else:
        value = 10000 + code
    return value + faked_prio if faked else value


def pick_branch(cell: Cell, inc_branch: int, inc_code: int, faked_prio: int = 0) -> tuple[int, int]:
    """t_pick_branch: (branch, code) of the best final reply, or (PENDING, 0) while a branch is open.
    `inc_branch` is the branch whose reply `inc_code` is being processed (-1: none)."""
    best, best_code, best_faked = -1, 0, False
    for br in cell.branches:
        if br.index == inc_branch:
            faked = br.faked and br.reply is None
            if prio(inc_code, faked, faked_prio) < prio(best_code, best_faked, faked_prio):
                best, best_code, best_faked = br.index, inc_code, faked
            continue
        if br.last_received < 200:
            return PENDING, 0
        if br.has_reply and prio(br.last_received, br.faked, faked_prio) < prio(best_code, best_faked,
                                                                             faked_prio):
            best, best_code, best_faked = br.index, br.last_received, br.faked
    return best, best_code


class TransactionView:
    """A transaction as other modules see it (kampy.api.TmTransaction): read-only, nothing of tm's
    machinery reachable. One per transaction (`view_of`); `cell_of_view` gives tm the transaction."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    def __repr__(self) -> str:
        c = self._cell
        return f"<tm transaction {c.method} {c.label}, status {c.uas_status}>"

    @property
    def hash_index(self) -> int:
        req = self._cell.request
        return hash2_raw(req.call_id or "", str(req.cseq.num) if req.cseq else "") & 0xFFFF

    @property
    def label(self) -> int:
        return self._cell.label

    @property
    def method(self) -> str:
        return self._cell.method

    @property
    def request(self) -> Request:
        return self._cell.request

    @property
    def is_local(self) -> bool:
        return self._cell.is_local

    @property
    def status(self) -> int:
        return self._cell.uas_status

    @property
    def flags(self) -> int:
        return self._cell.state.flags

    @property
    def branches(self) -> tuple[BranchView, ...]:
        return tuple(BranchView(br) for br in self._cell.branches)

    @property
    def relayed_branch(self) -> int:
        return self._cell.relayed_branch

    @property
    def picked_branch(self) -> int:
        return self._cell.picked_branch

    @property
    def final_reply(self) -> Response | None:
        cell = self._cell
        return cell.branches[cell.relayed_branch].reply if cell.relayed_branch >= 0 else None

    @property
    def canceled(self) -> bool:
        return self._cell.canceled


class BranchView:
    """A branch as other modules see it (kampy.api.TmBranch)."""

    __slots__ = ("_br",)

    def __init__(self, br: UacBranch) -> None:
        self._br = br

    def __repr__(self) -> str:
        return f"<tm branch {self._br.index} {self._br.uri}, status {self._br.last_received}>"

    @property
    def index(self) -> int:
        return self._br.index

    @property
    def uri(self) -> str:
        return self._br.uri

    @property
    def request(self) -> Request:
        return self._br.request

    @property
    def status(self) -> int:
        return self._br.last_received

    @property
    def reply(self) -> Response | None:
        return self._br.reply

    @property
    def destination(self) -> tuple[str, str, int] | None:
        leg = self._br.leg
        return None if leg is None else (leg.dest.proto, leg.dest.host, leg.dest.port)

    @property
    def socket(self) -> Socket | None:
        leg = self._br.leg
        return None if leg is None else leg.dest.local


def view_of(cell: Cell) -> TransactionView:
    if cell.view is None:
        cell.view = TransactionView(cell)
    return cell.view


def cell_of_view(t: object) -> Cell | None:
    """The transaction behind a view tm handed out; None for anything else."""
    return t._cell if isinstance(t, TransactionView) else None
