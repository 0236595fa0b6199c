"""Forwarding (Kamailio's t_fwd.c): t_relay's branches (branch_route, the socket, the client
transaction of each) and the end-to-end CANCEL of an INVITE."""
from __future__ import annotations

import re

from kampy.api import (
    TMCB_E2ECANCEL_IN,
    TMCB_LOCAL_F,
    TMCB_NONE_F,
    TMCB_REQUEST_FWDED,
    TMCB_REQUEST_OUT,
    TMCB_REQUEST_SENT,
    TYPE_REQUEST,
    ClientTransaction,
    MessageContext,
    Request,
    RouteType,
    SipDest,
    Socket,
    forward_request,
    sip_destination,
)

from .base import (
    BRANCH,
    CELL,
    E_BAD_ADDRESS,
    E_CFG,
    E_SCRIPT,
    error_reply,
    HANDED,
    RURI_SEEN,
    log,
)
from .cell import ON_HOLD, Cell, Dest, Leg, ScriptState, UacBranch
from .t_dns import DnsBranches


CANCELING, CANCEL_DONE = "canceling", "ok -- no more pending branches"


class Forward(DnsBranches):
    """t_relay, t_forward_nonack, e2e_cancel."""

    def _relay(self, ctx: MessageContext, proxy: tuple[str, str, int] | None, replicate: bool = False) -> int:
        """t_relay_to(): `replicate` (t_replicate) keeps the replies here: none goes upstream."""
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        if ctx.route_type & (RouteType.FAILURE | RouteType.BRANCH_FAILURE):
            cell = self.cell_of(ctx)
            if cell is None:
                return -1
            return self._forward(ctx, cell, proxy)
        method = msg.method.upper()
        if method == "CANCEL":
            return self._relay_cancel(ctx, proxy)
        new = self._newtran(ctx)
        if new == 0:
            return 0 if ctx.local.get(HANDED) else 1
        if new < 0 and new != E_SCRIPT:
            return new
        if method == "ACK":
            return self._forward_stateless(ctx, proxy)
        cell = self.cell_of(ctx)
        assert cell is not None
        if replicate:
            cell.replicate = True
        if cell.is_invite and cell.auto_inv_100 and cell.uas_status < 100:
            self._reply(ctx, cell, 100, self.auto_inv_100_reason)
        ret = self._forward(ctx, cell, proxy)
        if ret <= 0 and replicate:
            self._put_on_wait(cell)  # released silently: no reply upstream about a replica
        elif ret <= 0 and not cell.disable_internal_reply and cell.uas_status < 200:
            code, text = error_reply(ret)
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
        state = ScriptState.of(ctx)
        if not ctx.route_type & (RouteType.FAILURE | RouteType.BRANCH_FAILURE):
            cell.state = state
            if not cell.branches and cell.saved_changes is None:  # save_msg_lumps, first forwarding
                cell.saved_changes = len(cell.request.changes)
        targets: list[tuple[str, str | None, Socket | None, int, str | None, str | None, str | None]] = []
        # the R-URI is forked unless a forwarding consumed it already and it was not set since
        # (Kamailio's ruri_get_forking_state): a second t_replicate() sends the appended branches only
        if RURI_SEEN not in ctx.local or ctx.ruri != ctx.local[RURI_SEEN] or ctx.ruri_new:
            targets.append((ctx.ruri, ctx.dst_uri, ctx.force_socket, ctx.bflags, ctx.path_vec, ctx.ruid,
                            ctx.instance))
        ctx.ruri_new = False
        targets += [(b.uri, b.dst_uri, b.socket or ctx.force_socket, b.flags, b.path, b.ruid, b.instance)
                    for b in ctx.branches]
        ctx.branches.clear()
        ctx.local[RURI_SEEN] = ctx.ruri
        if not targets:
            log.error("t_relay: no branches for forwarding")
            return E_CFG
        first = len(cell.branches)
        sent, lowest = 0, -1
        # this forwarding's branch_route; t_on_branch() in it (or later) names the next one's
        on_branch, cell.on_branch = cell.on_branch, None
        for uri, dst_uri, sock, bflags, path, ruid, instance in targets:
            ret = self._add_branch(ctx, cell, uri, dst_uri, sock, bflags, proxy, path, ruid, instance,
                                   on_branch)
            if ret > 0:
                sent += 1
            else:
                lowest = min(lowest, ret)
        if len(cell.branches) > first:
            cell.branches[first].first_of_step = True
        return 1 if sent else lowest

    def _add_branch(self, ctx: MessageContext, cell: Cell, uri: str, dst_uri: str | None,
                    sock: Socket | None, bflags: int, proxy: tuple[str, str, int] | None,
                    path: str | None = None, ruid: str | None = None, instance: str | None = None,
                    on_branch: str | None = None) -> int:
        msg = ctx.msg
        assert isinstance(msg, Request)
        index = len(cell.branches)
        bctx = MessageContext(msg, ctx.src, self.core, route_type=RouteType.BRANCH, flags=ctx.flags,
                              bflags=bflags, avps=ctx.avps, avp_flags=ctx.avp_flags, xavps=ctx.xavps,
                              xavis=ctx.xavis, new_ruri=uri,
                              dst_uri=dst_uri, force_socket=sock, path_vec=path, ruid=ruid, instance=instance)
        bctx.local.update({CELL: cell, BRANCH: index})
        before = len(msg.changes)
        try:
            if on_branch is not None and not self._run_route("branch", on_branch, bctx):
                return E_CFG  # dropped in branch_route
            if cell.tmcb_types & TMCB_REQUEST_FWDED:
                self._tmcb(cell, TMCB_REQUEST_FWDED, msg, branch=index, ctx=bctx)
            return self._send_branch(bctx, cell, index, proxy)
        finally:
            for change in msg.changes[before:]:
                msg.cancel(change)

    def _send_branch(self, bctx: MessageContext, cell: Cell, index: int,
                     proxy: tuple[str, str, int] | None) -> int:
        target = bctx.dst_uri or bctx.ruri
        dest = SipDest(proxy[1], proxy[2], proxy[0]) if proxy else sip_destination(target)
        if dest is None:
            log.error("t_relay: cannot send to '%s' (not a SIP URI with a host)", target)
            return E_BAD_ADDRESS
        if not resolvable_name(dest.host):
            log.error("t_relay: failed to resolve '%s'", dest.host)
            return E_BAD_ADDRESS
        branch = self._branch_id(cell, index)
        targets = self.core.sip_targets(dest)
        if targets is None:
            return self._branch_later(bctx, cell, index, dest, branch, proxy is not None)
        return self._branch_to(bctx, cell, index, dest, targets, branch, proxy is not None)

    def _start_uac(self, cell: Cell, br: UacBranch, dest: Dest) -> None:
        tx, actions = ClientTransaction.new(br.data, reliable=dest.proto != "udp", now=self._now(),
                                            timers=cell.timers, key=br.key)
        if cell.is_invite:
            tx.ack_builder = self._ack_builder(cell, br)  # type: ignore[attr-defined]
        br.leg = Leg(tx, dest, cell, "uac", br.index)
        self._add_leg(br.leg, actions, fresh=br.data)
        if cell.tmcb_types & (TMCB_REQUEST_SENT | TMCB_REQUEST_OUT) and dest.proto != ON_HOLD:
            self._request_out(cell, br, dest)

    def _request_out(self, cell: Cell, br: UacBranch, dest: Dest) -> None:
        """The first send of a branch's request: TMCB_REQUEST_SENT, then, for a relayed one,
        TMCB_REQUEST_OUT (a local request has only the first, as Kamailio's t_uac)."""
        req, flags = (None, TMCB_LOCAL_F) if cell.is_local else (cell.request, TMCB_NONE_F)
        for kind in (TMCB_REQUEST_SENT, TMCB_REQUEST_OUT):
            if cell.tmcb_types & kind and not (cell.is_local and kind == TMCB_REQUEST_OUT):
                self._tmcb(cell, kind, req, code=TYPE_REQUEST, branch=br.index, flags=flags, send_buf=br.data,
                           dst=(dest.proto, dest.host, dest.port))

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
        if invite.tmcb_types & TMCB_E2ECANCEL_IN:
            self._tmcb(invite, TMCB_E2ECANCEL_IN, ctx.msg, ctx=ctx)  # type: ignore[arg-type]
        invite.canceled = True
        # a blind branch (t_suspend) sent nothing: there is nothing to cancel on it
        pending = [br for br in invite.branches if br.last_received < 200 and not br.canceled
                   and br.leg is not None]
        if not pending:
            if invite.uas_status < 200:
                self._reply(MessageContext(invite.request, invite.src, self.core), invite, 487,
                            "Request canceled")  # type: ignore[arg-type]
            self._reply(ctx, cancel, 200, CANCEL_DONE)
            return
        self._reply(ctx, cancel, 200, CANCELING)
        reasons = self._e2e_reasons(invite, ctx.msg)  # type: ignore[arg-type]
        for br in pending:
            self._cancel_branch(invite, br, reasons=reasons)


def proxy_of(host: str, port: str | None, proto: str | None) -> tuple[str, str, int] | None:
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


def resolvable_name(host: str) -> bool:
    """False for a name no resolver takes (an empty label as in `a..b`, or one over 63 octets), and
    for the numeric shorthands of an IPv4 address that the system resolver (inet_aton) takes but
    Kamailio does not (`127.01`, `127.1`, `2130706433`, `0x7f.1`): Kamailio reads an address only as
    four decimal numbers and looks anything else up in the DNS, which has no such name. Its uri2dst2
    fails and the branch is not sent (478); kampy sent `sip:u@127.01` to itself, a loop of
    Max-Forwards hops."""
    if ":" in host:  # an IPv6 reference
        return True
    labels = (host[:-1] if host.endswith(".") else host).split(".")
    if not all(0 < len(label) <= 63 for label in labels):
        return False
    if all(_INET_ATON_PART.fullmatch(label) for label in labels):
        return len(labels) == 4 and all(label.isdigit() and int(label) <= 255 for label in labels)
    return True


# what inet_aton reads as one part of an IPv4 address (decimal, octal with a leading 0, hex)
_INET_ATON_PART = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
