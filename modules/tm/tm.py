"""The tm module: stateful SIP (Kamailio's tm), on top of the sans-IO machines of kampy.api.

A transaction (`Cell`) has a UAS machine for the request received and one UAC machine per branch.
Machines say what to do as actions (send, start/cancel a timer, deliver a reply, time out); `_run`
carries them out: sends go through `core.send`, timers through `core.call_at`.

As Kamailio's tm, the module is in parts, one file each: t_lookup.py (finding transactions),
t_fwd.py (relaying), t_cancel.py, t_reply.py (replies), uac.py (local requests), timer.py (the
machines at work), t_hooks.py (callbacks), t_stats.py, tm_load.py (what other modules read); this
file holds the config functions (Kamailio's tm.c) and puts the parts together."""
from __future__ import annotations

import re

from kampy.api import MessageContext, Request, Response, RouteType, destination

from . import tags
from .base import (
    E_BAD_ADDRESS,
    E_SCRIPT,
    PENDING_FLAGS,
    PENDING_FR,
    PENDING_RETR,
    PENDING_ROUTES,
    PICKED,
    RELEASED,
    log,
)
from .cell import UacBranch
from .t_branch_failure import BranchFailure
from .t_cancel import Cancel
from .t_fwd import proxy_of
from .t_hooks import Hooks
from .t_lookup import Lookup
from .t_relay_to import RelayTo
from .t_reply import Replies
from .t_select import Selects
from .t_serial import Serial
from .t_stats import Stats
from .t_suspend import Suspend
from .timer import Timers
from .tm_load import Binds
from .tmx_ops import TmxOps
from .rpc_tm import RpcTm
from .rpc_uac import RpcUac
from .t_fifo import TFifo
from .local_routes import LocalRoutes
from .reply_opts import ReplyOptions
from .blst import Blocklisting
from .uac_fr import UacFailure
from .local_ack import LocalAck


class TmModule(Suspend, Lookup, RelayTo, Cancel, Replies, RpcUac, RpcTm, TFifo, Timers, Hooks, Stats, Binds,
               Selects, TmxOps, Serial, BranchFailure, LocalRoutes, ReplyOptions, Blocklisting,
               UacFailure, LocalAck):
    """Transactions: t_newtran/t_reply/t_relay and the routes they run, and the API tm offers."""

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
                and self._match_reply(msg) is not None else -1
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


    def _code_reason(self, code: int | None, reason: str | None) -> tuple[int, str]:
        if code is None:
            code = int(self.cfg.get("tm", "default_code"))  # type: ignore[arg-type]
        if reason is None:
            reason = str(self.cfg.get("tm", "default_reason") or "")
        return code, reason

    def t_reply(self, ctx: MessageContext, code: int | None, reason: str | None) -> int:
        if isinstance(ctx.msg, Request) and ctx.msg.method.upper() == "ACK":
            return -1  # "ACKs are not replied"
        code, reason = self._code_reason(code, reason)
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("t_reply: cannot send a t_reply to a message for which no T-state has been "
                      "established")
            return -1
        return self._reply(ctx, cell, int(code), reason)

    def t_release(self, ctx: MessageContext) -> int:
        """t_release(): the transaction is put on wait; one without a final reply or a branch is
        then freed without replying (t_release_transaction)."""
        if ctx.route_type != RouteType.REQUEST:
            log.info("invalid usage - not in request route")
            return -1
        cell = self.cell_of(ctx)
        if cell is None or cell.freed or cell.uas is None or ctx.local.get(RELEASED):
            return 1
        ctx.local[RELEASED] = True
        if cell.uas_status < 200 and not cell.branches:
            self._put_on_wait(cell)
        return 1

    def t_send_reply(self, ctx: MessageContext, code: int | None, reason: str | None) -> int:
        if isinstance(ctx.msg, Request) and ctx.msg.method.upper() == "ACK":
            return -1
        code, reason = self._code_reason(code, reason)
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
            proxy = proxy_of(host, port, None)
            if proxy is None:
                return E_BAD_ADDRESS
        return self._relay(ctx, proxy)

    def t_relay_to_udp(self, ctx: MessageContext, host: str | None = None, port: str | None = None) -> int:
        return self._relay_proto(ctx, "udp", host, port)

    def t_relay_to_tcp(self, ctx: MessageContext, host: str | None = None, port: str | None = None) -> int:
        return self._relay_proto(ctx, "tcp", host, port)

    def _relay_proto(self, ctx: MessageContext, proto: str, host: str | None, port: str | None) -> int:
        if host is not None:
            proxy = proxy_of(host, port, proto)
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
        name = "" if name == "0" else name  # fixup_on_*: "0" is no route
        cell = self.cell_of(ctx)
        if cell is not None:  # wherever T is known, branch_route included: set on the transaction
            setattr(cell, attr, name or None)
        else:
            ctx.local.setdefault(PENDING_ROUTES, {})[attr] = name or None
        return 1

    def t_drop_replies(self, ctx: MessageContext, mode: str | None = None) -> int:
        """t_drop_replies([mode]): which replies received so far the failure_route drops: all
        ('a', the default), the last serial step's ('l'), none ('n')."""
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.drop_replies = {"n": 0, "l": 2}.get((mode or "a")[:1], 1)
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
            ctx.local[PENDING_FR] = (inv, non_inv)
        return 1

    def t_reset_fr(self, ctx: MessageContext) -> int:
        ctx.local.pop(PENDING_FR, None)
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.timers = cell.timers.with_fr(self.timers.fr_inv_timer, self.timers.fr_timer)
        return 1

    def t_set_retr(self, ctx: MessageContext, t1: int, t2: int) -> int:
        cell = self.cell_of(ctx)
        t1s = self.timers.t1 if not t1 else t1 / 1000
        t2s = self.timers.t2 if not t2 else t2 / 1000
        if cell is not None:
            cell.timers = cell.timers.with_retr(t1s, t2s)
        else:
            ctx.local[PENDING_RETR] = (t1s, t2s)
        return 1

    def t_reset_retr(self, ctx: MessageContext) -> int:
        ctx.local.pop(PENDING_RETR, None)
        cell = self.cell_of(ctx)
        if cell is not None:
            cell.timers = cell.timers.with_retr(self.timers.t1, self.timers.t2)
        return 1

    def _flag(self, ctx: MessageContext, attr: str, value: bool) -> int:
        cell = self.cell_of(ctx)
        if cell is not None:
            setattr(cell, attr, value)
        else:
            ctx.local.setdefault(PENDING_FLAGS, {})[attr] = value
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
        value = getattr(cell, attr) if cell is not None else ctx.local.get(PENDING_ROUTES, {}).get(attr)
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
