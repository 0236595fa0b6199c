"""A branch's destination and DNS failover (Kamailio's uri2dst2 with the dns_srv_handle of a
uac, add_uac_dns_fallback in t_fwd.c, and where t_reply.c / timer.c call it).

A branch goes to the first target its destination resolves to (RFC 3263: NAPTR, SRV, A/AAAA, see
kampy/runtime/sipdns.py). When the targets are not in the DNS cache, the branch is built for each
protocol and address family the answer may pick and waits (without a timer) for the lookups, which
run on the worker's event loop.

With the core's use_dns_failover=1 a branch whose request could not be sent, that got a 503, or whose
timer fired without any reply gets a new branch to the next target (the next address of the same SRV
record, then the next SRV record), unless t_set_disable_failover(1) or t_relay_to's flag 0x04 said
no. reparse_on_dns_failover=1 (the default) sends the failed branch's bytes again with a new Via
branch; 0 builds the request anew from the transaction's (branch_route does not run again). The new
branch keeps a forced socket; dns_reuse_rcv_socket=1 sends it from the socket the request came in on.
"""
from __future__ import annotations

from kampy.api import (
    MessageContext,
    RouteType,
    SipDest,
    SipTarget,
    Socket,
    build_forwarded,
    build_sent,
    choose_socket,
    send_variants,
)

from . import tags
from .base import E_BAD_ADDRESS, E_SEND, TmBase, error_reply, fits_udp, key_text, log
from .cell import ON_HOLD, BranchDns, Cell, Dest, Leg, UacBranch

Variants = dict[tuple[str, bool], tuple[bytes, Socket]]


class DnsBranches(TmBase):
    """Sending a branch to its resolved destination; DNS failover."""

    def _branch_id(self, cell: Cell, index: int) -> str:
        msg = cell.request
        seed = f"{cell.label}.{key_text(cell.uas.tx.key) if cell.uas else msg.call_id}"
        return tags.branch_id(self.core.rank, msg.call_id or "", str(msg.cseq.num) if msg.cseq else "", seed,
                              index)

    def _new_branch(self, bctx: MessageContext, cell: Cell, index: int, data: bytes,
                    branch: str) -> UacBranch:
        return UacBranch(index, bctx.ruri, data, (branch, cell.request.method.upper()), bflags=bctx.bflags,
                         ruid=bctx.ruid, path=bctx.path_vec, instance=bctx.instance,
                         on_branch_failure=cell.on_branch_failure, on_reply=cell.on_reply,
                         on_failure=cell.on_failure)

    def _branch_to(self, bctx: MessageContext, cell: Cell, index: int, dest: SipDest,
                   targets: list[SipTarget], branch: str, proxied: bool = False) -> int:
        """uri2dst2: the first target with a socket to send from."""
        if not targets:
            log.error("t_relay: failed to resolve '%s'", dest.host)
            return -478  # E_BAD_ADDRESS
        for i, target in enumerate(targets):
            sock = choose_socket(bctx, target.proto, target.ip)
            if sock is None:
                continue
            data, sock = build_sent(bctx, sock, target.ip, branch)  # (udp_mtu may change the protocol)
            br = self._new_branch(bctx, cell, index, data, branch)
            if not proxied:  # a proxy (t_relay(host, port), t_relay_to) has no dns_srv_handle
                br.dns = BranchDns(dest, targets, i, bctx.force_socket, sock)
            return self._launch(cell, br, Dest(sock.proto, target.ip, target.port, sock))
        log.error("t_relay: no %s socket to send to %s (%s)", targets[0].proto, dest.host, targets[0].ip)
        return E_SEND

    def _branch_later(self, bctx: MessageContext, cell: Cell, index: int, dest: SipDest, branch: str,
                      proxied: bool = False) -> int:
        """The destination needs a DNS lookup: the branch is built for each protocol and family the
        answer may pick, kept, and sent once the lookup is done."""
        variants = send_variants(bctx, dest, build=lambda sock: build_sent(bctx, sock, sock.host, branch))
        if not variants:
            log.error("t_relay: no socket to send to %s", dest.host)
            return E_SEND
        br = self._new_branch(bctx, cell, index, next(iter(variants.values()))[0], branch)
        cell.branches.append(br)
        forced = bctx.force_socket
        self.core.resolve_sip(dest, lambda targets: self._resolved(cell, br, dest, targets, variants, forced,
                                                                   proxied))
        return 1

    def _resolved(self, cell: Cell, br: UacBranch, dest: SipDest, targets: list[SipTarget],
                  variants: Variants, forced: Socket | None, proxied: bool) -> None:
        if cell.freed:
            return
        if cell.canceled or br.canceled:
            br.last_received, br.faked = 487, True  # nothing was sent: nothing to cancel
            return
        try:
            for i, target in enumerate(targets):
                variant = variants.get((target.proto, ":" in target.ip))
                if variant is None:
                    continue
                br.data, br.parsed = variant[0], None
                br.dns = None if proxied else BranchDns(dest, targets, i, forced, variant[1])
                if self._launch(cell, br, Dest(variant[1].proto, target.ip, target.port, variant[1]),
                                appended=True) < 0:
                    self._not_sent(cell, br, E_SEND)
                return
            log.error("t_relay: %s '%s'", "no socket to send to" if targets else "failed to resolve",
                      dest.host)
            self._not_sent(cell, br, E_SEND if targets else E_BAD_ADDRESS)
        except Exception:
            log.exception("tm: internal error sending a branch of a %s transaction", cell.method)
            self._kill(cell)  # type: ignore[attr-defined]

    def _not_sent(self, cell: Cell, br: UacBranch, error: int) -> None:
        """A branch that waited for its DNS answer cannot go out: the transaction's only branch ends
        it with the reply t_relay()'s failure gives (kill_transaction: 478 "Unresolvable destination
        (478/TM)", 477); one among others ends with that code, for the choice of the final reply."""
        code, text = error_reply(error)
        br.last_received = 0
        if len(cell.branches) == 1 and cell.uas_status < 200:
            br.last_received, br.faked = code, True
            if cell.disable_internal_reply or cell.replicate:
                self._kill(cell, reply=False)  # type: ignore[attr-defined]
            else:
                ctx = MessageContext(cell.request, cell.src, self.core)
                self._reply(ctx, cell, code, text)  # type: ignore[attr-defined]
            return
        self._fake_reply(cell, br, code)  # type: ignore[attr-defined]

    def _launch(self, cell: Cell, br: UacBranch, dest: Dest, appended: bool = False) -> int:
        """t_send_branch: start the branch's client transaction (not to a blocklisted destination;
        a request too big for a datagram fails, or waits on hold with failure_exec_mode)."""
        if dest.proto == "udp" and not fits_udp(br.data, dest.host):
            log.warning("t_relay: sending request on branch %d failed: %d bytes do not fit in a UDP datagram "
                        "to %s:%d", br.index, len(br.data), dest.host, dest.port)
            self._blst_send_failed(dest.proto, dest.host, dest.port)  # type: ignore[attr-defined]
            if not self.params["failure_exec_mode"]:
                return E_SEND
            if not appended:
                cell.branches.append(br)
            self._start_uac(cell, br, Dest(ON_HOLD, dest.host, dest.port, dest.local))  # type: ignore[attr-defined]
            return 1
        if not appended:
            cell.branches.append(br)
        if self._blocklisted(cell.request.method, dest.proto, dest.host, dest.port):  # type: ignore[attr-defined]
            br.last_received = 408  # a final code without a reply: never picked (t_send_branch)
            return 1 if self._dns_failover(cell, br) else E_SEND
        self._start_uac(cell, br, dest)  # type: ignore[attr-defined]
        return 1

    # ------------------------------------------------------------ failover
    def _dns_failover(self, cell: Cell, old: UacBranch) -> bool:
        """add_uac_dns_fallback: a new branch to the next target of `old`'s destination."""
        info = old.dns
        if (info is None or old.blind or cell.disable_failover or cell.freed
                or not self.cfg.get("core", "use_dns_failover")):
            return False
        reparse = bool(self.cfg.get("tm", "reparse_on_dns_failover"))
        for i in range(info.index + 1, len(info.targets)):
            target = info.targets[i]
            sock = self._failover_socket(cell, info, target)
            if sock is None or (reparse and (":" in sock.host) != (":" in info.sock.host)):
                continue  # the old bytes' Via names a socket of the other family
            index = len(cell.branches)
            branch = self._branch_id(cell, index)
            if reparse or cell.is_local:  # a local request is not built from a received one
                data = old.data.replace(f";branch={old.key[0]}".encode(), f";branch={branch}".encode(), 1)
            else:
                data = build_forwarded(self._failover_ctx(cell, old, sock), sock, branch)
            new = UacBranch(index, old.uri, data, (branch, old.key[1]), bflags=old.bflags, ruid=old.ruid,
                            path=old.path, instance=old.instance, on_branch_failure=old.on_branch_failure,
                            on_reply=old.on_reply, on_failure=old.on_failure)
            new.dns = BranchDns(info.dest, info.targets, i, info.forced, sock)
            log.info("tm: dns failover of branch %d to %s:%s:%d (branch %d)", old.index, target.proto,
                     target.ip, target.port, index)
            if self._launch(cell, new, Dest(target.proto, target.ip, target.port, sock)) > 0:
                return True
            return False
        return False

    def _failover_socket(self, cell: Cell, info: BranchDns, target: SipTarget) -> Socket | None:
        if info.forced is not None:
            return info.forced if info.forced.proto == target.proto else None
        local = cell.src.local if cell.src is not None else None
        if self.params["dns_reuse_rcv_socket"] and local is not None and local.proto == target.proto:
            return local
        return choose_socket(MessageContext(cell.request, cell.src, self.core), target.proto, target.ip)

    def _failover_ctx(self, cell: Cell, old: UacBranch, sock: Socket) -> MessageContext:
        """add_uac with UAC_DNS_FAILOVER_F: the request with the request route's changes, the
        branch's URI and flags; branch_route does not run."""
        state = cell.state
        return MessageContext(cell.request, cell.src, self.core, route_type=RouteType.BRANCH,
                              flags=state.flags if state else 0, bflags=old.bflags, new_ruri=old.uri,
                              force_socket=sock, path_vec=old.path, ruid=old.ruid, instance=old.instance)

    def _uac_send_failed(self, leg: Leg) -> None:
        """The first send of a branch's request failed (t_send_branch's SEND_BUFFER error): the
        destination is blocklisted; with DNS failover a new branch goes to the next target and this
        one is ended (never picked). Without a new branch it ends as t_relay() fails when its only
        branch cannot be sent (477, see `_not_sent`), or, with failure_exec_mode, waits on hold
        for its timer's 408."""
        cell = leg.cell
        if cell.freed or leg.branch < 0 or leg.branch >= len(cell.branches):
            return
        br = cell.branches[leg.branch]
        if br.last_received:
            return
        self._blst_send_failed(leg.dest.proto, leg.dest.host, leg.dest.port)  # type: ignore[attr-defined]
        if self._dns_failover(cell, br):
            br.last_received = 408
            if br.leg is not None:
                self._stop(br.leg)  # type: ignore[attr-defined]
            return
        if self.params["failure_exec_mode"]:
            return
        if br.leg is not None:
            self._stop(br.leg)  # type: ignore[attr-defined]
        self._not_sent(cell, br, E_SEND)
