"""How long a transaction may live and how long its branches wait (Kamailio's t_lookup.c init_new_t,
t_set_max_lifetime, t_is_expired and the fr timer AVPs of t_funcs.c).

A transaction's life ends `max_inv_lifetime` / `max_noninv_lifetime` after its creation (or what
t_set_max_lifetime() set): no branch waits for a final reply past it, its fr timer fires then, and
the branch ends as on any timeout (a 408, CANCELs, failure_route). The deprecated `fr_timer_avp` /
`fr_inv_timer_avp` give a transaction its fr timers in seconds when t_set_fr() gave none."""
from __future__ import annotations

from typing import Any

from kampy.api import CoreAPI, MessageContext, PVAccessor, TimerConfig, hash2_raw

from . import config
from .base import PENDING_FLAGS, PENDING_FR, TmBase, log
from .cell import Cell

PENDING_LIFETIME = "tm_lifetime"  # t_set_max_lifetime() before the transaction exists: (inv, noninv) s


class LazyAvp:
    """The AVP a parameter names: `$avp(name)`, or SER's bare `name` / `i:708`; its accessor is built
    on first use (pv is built after tm)."""

    def __init__(self, core: CoreAPI, name: str) -> None:
        self._core = core
        self.spec = name if name.startswith("$") else f"$avp({name})"
        self._accessor: PVAccessor | None = None

    def get(self, ctx: MessageContext) -> Any:
        if self._accessor is None:
            self._accessor = self._core.pv_accessor(self.spec)
        return self._accessor.get(ctx)


def avp_accessor(core: CoreAPI, name: str) -> LazyAvp | None:
    return LazyAvp(core, name) if name else None


def avp_seconds(accessor: LazyAvp | None, ctx: MessageContext) -> float | None:
    """avp2timer: the AVP's value in seconds, None when unset, zero or not a number."""
    if accessor is None:
        return None
    value = accessor.get(ctx)
    if value is None:
        return None
    try:
        seconds = int(value) if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        log.error("failed converting string to integer")
        return None
    return float(seconds) if seconds else None


class Lifetime(TmBase):
    """max_*_lifetime, t_set_max_lifetime, t_reset_max_lifetime, t_is_expired, fr_*_timer_avp."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self._fr_avp = avp_accessor(core, str(params["fr_timer_avp"] or ""))
        self._fr_inv_avp = avp_accessor(core, str(params["fr_inv_timer_avp"] or ""))
        self.hash_acc: dict[int, int] = {}  # transactions ever created per hash slot (tm.hash_stats)

    def _lifetime(self, invite: bool) -> float:
        """The default lifetime in seconds, from the cfg group (kept in ticks)."""
        name = "max_inv_lifetime" if invite else "max_noninv_lifetime"
        return config.ticks_to_ms(self.cfg.get("tm", name)) / 1000

    def _new_timers(self, ctx: MessageContext | None, method: str, call_id: str, cseq: str) -> TimerConfig:
        """init_new_t: the timers of a new transaction: the defaults, t_set_fr()'s or the fr timer
        AVPs' values, t_set_retr()'s, and the end of its life. The transaction enters its hash slot."""
        slot = hash2_raw(call_id, cseq) & 0xFFFF
        self.hash_acc[slot] = self.hash_acc.get(slot, 0) + 1
        timers = self.timers
        invite = method == "INVITE"
        if ctx is not None:
            if PENDING_FR not in ctx.local:
                fr = avp_seconds(self._fr_avp, ctx)
                fr_inv = avp_seconds(self._fr_inv_avp, ctx)
                if fr_inv is not None:  # init_new_t: such a transaction's timeout is always replied
                    ctx.local.setdefault(PENDING_FLAGS, {})["noisy_ctimer"] = True
                if fr is not None or fr_inv is not None:
                    timers = timers.with_fr(fr_inv if fr_inv is not None else timers.fr_inv_timer,
                                            fr if fr is not None else timers.fr_timer)
            timers = self._pending_timers_of(ctx, timers)
        lifetime = ctx.local.get(PENDING_LIFETIME) if ctx is not None else None
        seconds = lifetime[0 if invite else 1] if lifetime is not None else 0.0
        return timers.with_end_of_life(self._now() + (seconds or self._lifetime(invite)))

    def _pending_timers_of(self, ctx: MessageContext, timers: TimerConfig) -> TimerConfig:
        return timers  # t_lookup.py adds t_set_fr()'s and t_set_retr()'s

    def _change_end_of_life(self, cell: Cell, seconds: float) -> None:
        """change_end_of_life(t, 1, ...): the life ends `seconds` from now; the pending branches'
        fr timers are brought forward to it."""
        eol = self._now() + seconds
        cell.timers = cell.timers.with_end_of_life(eol)
        for br in cell.branches:
            leg = br.leg
            if leg is not None and leg.tx in self._legs and not leg.tx.terminated:
                self._run(leg, leg.tx.set_end_of_life(eol, self._now()))  # type: ignore[union-attr, attr-defined]

    def t_set_max_lifetime(self, ctx: MessageContext, inv: int, noninv: int) -> int:
        inv_s = config.ticks_to_ms(config.ms_to_ticks(inv)) / 1000 if inv else 0.0
        noninv_s = config.ticks_to_ms(config.ms_to_ticks(noninv)) / 1000 if noninv else 0.0
        cell = self.cell_of(ctx)
        if cell is None:
            ctx.local[PENDING_LIFETIME] = (inv_s, noninv_s)
        else:
            self._change_end_of_life(cell, inv_s if cell.is_invite else noninv_s)
        return 1

    def t_reset_max_lifetime(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        if cell is None:
            ctx.local.pop(PENDING_LIFETIME, None)
        else:
            self._change_end_of_life(cell, self._lifetime(cell.is_invite))
        return 1

    def t_is_expired(self, ctx: MessageContext) -> int:
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("cannot check a message for which no T-state has been established")
            return -1
        eol = cell.timers.end_of_life
        return 1 if eol is not None and eol <= self._now() else -1
