"""What every part of tm shares: its settings (Kamailio's tm config), its tables of transactions
and machines (h_table.c), and the keys under which a message's context holds tm's state."""
from __future__ import annotations

import itertools
import logging
from typing import Any

from kampy.api import (
    HIDDEN_STAT,
    ClientTransaction,
    CoreAPI,
    MessageContext,
    Module,
    Request,
    ServerTransaction,
    TimerConfig,
    TmCallback,
    TransactionTable,
)

from . import config, tags
from .cell import Cell, Leg

log = logging.getLogger("kampy.tm")

CELL, BRANCH, PICKED = "tm_cell", "tm_branch", "tm_picked"  # ctx.local keys
PENDING_ROUTES = "tm_routes"  # t_on_*() called before the transaction exists
PENDING_FR = "tm_fr"
PENDING_RETR = "tm_retr"
PENDING_FLAGS = "tm_flags"
HANDED = "tm_handed"  # the request went to the worker that owns its transaction
RURI_SEEN = "tm_ruri_seen"  # failure_route: the R-URI it started with (a changed one is forked)
RELEASED = "tm_released"  # t_release() ran for the transaction of this request

E_SCRIPT, E_BAD_ADDRESS, E_SEND, E_CFG = -10, -478, -477, -6

# How long a claim outlives a worker that died holding it; a live transaction releases it when freed.
CLAIM_TTL = 3600.0

# Kamailio's tm counters (t_stats.h), one cell per process summed when read, as Kamailio's; tmx
# publishes them under its statistic names
COUNTERS = ("transactions", "client_transactions", "waiting", "deleted", "completed_2xx",
            "completed_3xx", "completed_4xx", "completed_5xx", "completed_6xx", "rpl_received",
            "rpl_generated", "rpl_sent")


def fits_udp(data: bytes, host: str) -> bool:
    """Whether one datagram carries `data`: sendto() fails with EMSGSIZE beyond 65,507 bytes (IPv4)
    or 65,527 (IPv6), and Kamailio's branch then fails on the spot (477)."""
    return len(data) <= (65527 if ":" in host else 65507)


def key_text(key: tuple[str, ...]) -> str:
    """A transaction's server key as the shared claims table keys it."""
    return "\x1f".join(key)


def e2e_key(msg: Request) -> str | None:
    """What an end-to-end ACK shares with its INVITE (Call-ID, CSeq number, From-tag: Kamailio's
    partial dialog matching), as the shared claims table keys it; None without them."""
    cseq, from_ = msg.cseq, msg.from_
    if cseq is None or from_ is None or msg.call_id is None:
        return None
    return key_text(("e2e", msg.call_id, str(cseq.num), from_.tag or ""))


class TmBase(Module):
    """The state of tm in one process; each part of tm (a subclass) works on it."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        # the parameters of the cfg group `tm` are read from the cfg framework (config.py), so a
        # change (`kamcmd cfg.set_now_int tm fr_inv_timer 60000`) applies to the next transaction
        self.cfg = core.cfg
        self._timers_key: tuple[Any, ...] = ()
        self._timers = TimerConfig()
        self.remap_503_500 = bool(params["remap_503_500"])
        self.failure_reply_mode = int(params["failure_reply_mode"])
        self.faked_reply_prio = int(params["faked_reply_prio"])
        self.table = TransactionTable()
        self._legs: dict[ClientTransaction | ServerTransaction, Leg] = {}
        # labels unique across the workers (tm.reply's "hash:label" names one transaction): worker r
        # of n numbers r, r + n, r + 2n ... (1, 2, 3 ... with one worker)
        self._labels = itertools.count(max(core.rank, 1), max(core.workers, 1))
        self._callids = tags.CallIds(core)
        self.counter_keys = {name: f"{HIDDEN_STAT}tm:{name}" for name in COUNTERS}
        self.reqin_tmcbs: list[TmCallback] = []  # TMCB_REQUEST_IN, newest first
        self.local_reqin_tmcbs: list[TmCallback] = []  # TMCB_LOCAL_REQUEST_IN
        self.e2e: dict[str, Cell] = {}  # INVITEs with E2EACK callbacks, by e2e_key (Call-ID, CSeq, From-tag)

    # ------------------------------------------------------------ the cfg group `tm`

    @property
    def timers(self) -> TimerConfig:
        """The timers new transactions get, from the cfg group (fr/wt timers kept in ticks)."""
        get = self.cfg.get
        key = (get("tm", "fr_timer"), get("tm", "fr_inv_timer"), get("tm", "wt_timer"),
               get("tm", "retr_timer1"), get("tm", "retr_timer2"), get("tm", "restart_fr_on_each_reply"))
        if key != self._timers_key:
            fr, fr_inv, wt, t1, t2, restart = key
            self._timers = TimerConfig.from_kamailio(
                fr_timer=config.ticks_to_ms(fr), fr_inv_timer=config.ticks_to_ms(fr_inv),
                retr_timer1=int(t1), retr_timer2=int(t2), wt_timer=config.ticks_to_ms(wt),
                restart_fr_on_each_reply=bool(restart))
            self._timers_key = key
        return self._timers

    @property
    def auto_inv_100(self) -> bool:
        return bool(self.cfg.get("tm", "auto_inv_100"))

    @property
    def auto_inv_100_reason(self) -> str:
        return str(self.cfg.get("tm", "auto_inv_100_reason") or "")

    @property
    def unmatched_cancel(self) -> int:
        return int(self.cfg.get("tm", "unmatched_cancel"))  # type: ignore[arg-type]

    @property
    def relay_100(self) -> bool:
        return bool(self.cfg.get("tm", "relay_100"))

    @property
    def disable_6xx(self) -> bool:
        return bool(self.cfg.get("tm", "disable_6xx_block"))

    @property
    def cancel_b_method(self) -> int:
        return config.cancel_b_method(self.cfg.get("tm", "cancel_b_method"))

    @property
    def noisy_ctimer(self) -> bool:
        return bool(self.cfg.get("tm", "noisy_ctimer"))

    # the cfg framework's fix-ups (Kamailio's timer_fixup, timer_fixup_ms, cancel_b_flags_fixup)
    def fix_timer(self, value: Any) -> int:
        return config.ms_to_ticks(value)

    def fix_timer_ms(self, value: Any) -> int:
        return int(value)

    def fix_cancel_b_method(self, value: Any) -> int:
        return config.cancel_b_flags(value)

    def fix_reparse_on_dns_failover(self, value: Any) -> int:
        """Kamailio's fix-up only warns when mhomed is on (the failover branch keeps the old Via's socket)."""
        return int(value)

    def cell_of(self, ctx: MessageContext) -> Cell | None:
        return ctx.local.get(CELL)

    def _now(self) -> float:
        return self.core.clock.monotonic()


def error_reply(error: int, signature: str = "TM") -> tuple[int, str]:
    """kill_transaction(): the local reply for a relay error (err2reason_phrase, "TM")."""
    texts = {E_SEND: ("Unfortunately error on sending to next hop occurred", 477),
             E_BAD_ADDRESS: ("Unresolvable destination", 478),
             -487: ("Transaction canceled", 487)}
    text, code = texts.get(error, ("I'm terribly sorry, server error occurred", 500))
    return code, f"{text} ({-error}/{signature})"
