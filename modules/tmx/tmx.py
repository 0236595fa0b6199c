"""tmx: the $T_* pseudo-variables over tm's state, a few tmx functions, the tmx: statistics."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, PVar, Request, Response, RouteType, TmAPI, parse_pv

from .tvars import TVars, t_name

log = logging.getLogger("kampy.tmx")

# 5.6's tmx names, each computed from tm's counters (tmx_mod.c)
_FORMULAS: dict[str, Callable[[dict[str, int]], int]] = {
    "UAS_transactions": lambda c: c["transactions"],
    "UAC_transactions": lambda c: c["client_transactions"],
    "2xx_transactions": lambda c: c["completed_2xx"],
    "3xx_transactions": lambda c: c["completed_3xx"],
    "4xx_transactions": lambda c: c["completed_4xx"],
    "5xx_transactions": lambda c: c["completed_5xx"],
    "6xx_transactions": lambda c: c["completed_6xx"],
    "inuse_transactions": lambda c: c["transactions"] - c["deleted"],
    "active_transactions": lambda c: c["transactions"] - c["waiting"],
    "rpl_received": lambda c: c["rpl_received"],
    "rpl_absorbed": lambda c: c["rpl_received"] - (c["rpl_sent"] - c["rpl_generated"]),
    "rpl_generated": lambda c: c["rpl_generated"],
    "rpl_relayed": lambda c: c["rpl_sent"] - c["rpl_generated"],
    "rpl_sent": lambda c: c["rpl_sent"],
}
STAT_NAMES = tuple(_FORMULAS)
_CANCEL_MODES = {"all": 0, "others": 1, "this": 2}


class _Reader:
    def __init__(self, get: Callable[[MessageContext], Any]) -> None:
        self.get = get


class TmxModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmAPI = core.api("tm")
        self.precheck = bool(params["precheck_trans"])
        self.tvars = TVars(self.tm)
        for name, formula in _FORMULAS.items():
            core.stats.register_gauge(f"tmx:{name}", self._reader(formula))

    def _reader(self, formula: Callable[[dict[str, int]], int]) -> Callable[[], int]:
        """Kamailio's tmx statistics are functions of tm's counters summed over the processes."""
        return lambda: formula(self.tm.total_counters())

    # ------------------------------------------------------------ pseudo-variables

    def pv_T_branch_idx(self, spec: PVar) -> _Reader:
        return _Reader(self.tm.branch_index)

    def pv_T_reply_code(self, spec: PVar) -> _Reader:
        return _Reader(self.tm.reply_code)

    def pv_T_reply_reason(self, spec: PVar) -> _Reader:
        return _Reader(self.tm.reply_reason)

    def pv_T_reply_last(self, spec: PVar) -> _Reader:
        return _Reader(self.tm.reply_last)

    def _inner(self, spec: PVar, message: Callable[[MessageContext], Request | Response | None]) -> _Reader:
        if not spec.arg:
            raise ValueError(f"${spec.cls} needs a pseudo-variable, as in ${spec.cls}($ru)")
        inner = self.core.pv_accessor(parse_pv(spec.arg, spec.pos))

        def get(ctx: MessageContext) -> Any:
            msg = message(ctx)
            if msg is None:
                return None
            other = MessageContext(msg, ctx.src, self.core, route_type=ctx.route_type)
            other.local.update(ctx.local)
            return inner.get(other)
        return _Reader(get)

    def pv_T_req(self, spec: PVar) -> _Reader:
        return self._inner(spec, self.tm.transaction_request)

    def pv_T_rpl(self, spec: PVar) -> _Reader:
        return self._inner(spec, self.tm.winning_reply)

    def pv_T_inv(self, spec: PVar) -> _Reader:
        return self._inner(spec, self.tm.invite_of)

    # $T(name), $T_branch(name), $T_reply_ruid (tvars.py)
    def pv_T(self, spec: PVar) -> _Reader:
        return _Reader(self.tvars.t_reader(t_name(spec)))

    def pv_T_branch(self, spec: PVar) -> _Reader:
        return _Reader(self.tvars.branch_reader(t_name(spec)))

    def pv_T_reply_ruid(self, spec: PVar) -> _Reader:
        return _Reader(self.tvars.reply_ruid)

    # ------------------------------------------------------------ functions

    def t_precheck_trans(self, ctx: MessageContext) -> int:
        if not self.precheck:
            log.error("pretran hash table not initialized yet")
            return -2
        return 1 if self.tm.is_known(ctx) else -1

    def t_cancel_callid(self, ctx: MessageContext, callid: str, cseq: str, fl: int, rcode: int = 0) -> int:
        cell = self.tm.find_by_callid(callid, cseq.strip())
        if cell is None:
            log.debug("t_cancel_callid: no transaction for %s/%s", callid, cseq)
            return -1
        self.tm.cancel_cell(cell)
        return 1

    def t_reply_callid(self, ctx: MessageContext, callid: str, cseq: str, code: int, reason: str) -> int:
        cell = self.tm.find_by_callid(callid, cseq.strip())
        if cell is None:
            return -1
        return self.tm.reply_cell(cell, int(code), reason)

    def t_flush_flags(self, ctx: MessageContext) -> int:
        self.tm.flush_flags(ctx)
        return 1

    def t_flush_xflags(self, ctx: MessageContext) -> int:
        return self.tm.flush_xflags(ctx)

    def t_reuse_branch(self, ctx: MessageContext) -> int:
        return self.tm.reuse_branch(ctx)

    def fix_cancel_mode(self, value: str) -> int:
        mode = _CANCEL_MODES.get(value.lower())
        if mode is None:
            raise ValueError(f'invalid param "{value}"')
        return mode

    def t_cancel_branches(self, ctx: MessageContext, mode: int) -> int:
        return self.tm.cancel_branches(ctx, mode)

    def t_drop(self, ctx: MessageContext, rcode: int | None = None) -> int:
        if self.tm.t_gett(ctx) is None:
            log.error("no transaction")
            return -1
        return self.tm.t_drop(ctx, 500 if rcode is None else int(rcode))

    def t_suspend(self, ctx: MessageContext) -> int:
        if ctx.faked:
            log.error("suspending a faked request is not allowed")
            return -1
        if self.tm.t_gett(ctx) is None:
            if self.tm.t_newtran(ctx) < 0:
                log.error("cannot create the transaction")
                return -1
            if self.tm.t_gett(ctx) is None:
                log.error("cannot lookup the transaction")
                return -1
        if self.tm.t_suspend(ctx) < 0:
            log.error("failed to suppend the processing")
            return -1
        t = self.tm.t_gett(ctx)
        log.debug("transaction suspended [%s:%s]", t.hash_index if t else "", t.label if t else "")
        return 1

    def t_continue(self, ctx: MessageContext, tindex: int, tlabel: int, rtname: str) -> int:
        if not self.core.has_route("route", rtname):
            log.error("unable to find route block [%s]", rtname)
            return -1
        if self.tm.t_continue(int(tindex), int(tlabel), rtname) < 0:
            log.warning("resuming the processing of transaction [%d:%d] failed", int(tindex), int(tlabel))
            return -1
        return 1

    @staticmethod
    def _is(ctx: MessageContext, rtype: RouteType) -> int:
        return 1 if ctx.route_type & rtype else -1

    def t_is_failure_route(self, ctx: MessageContext) -> int:
        return self._is(ctx, RouteType.FAILURE)

    def t_is_branch_route(self, ctx: MessageContext) -> int:
        return self._is(ctx, RouteType.BRANCH)

    def t_is_reply_route(self, ctx: MessageContext) -> int:
        return self._is(ctx, RouteType.TM_ONREPLY)

    def t_is_request_route(self, ctx: MessageContext) -> int:
        return self._is(ctx, RouteType.REQUEST)


