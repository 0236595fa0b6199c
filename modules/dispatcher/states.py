"""dispatcher's destination states: ds_mark_dst(), state changes and their event routes, the OPTIONS
keepalives with their reply codes and latency, and the periodic DNS re-resolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import MessageContext, Response, Socket, module_logger

from . import dslist
from .dslist import DS_DISABLED_DST, DS_INACTIVE_DST, DS_PROBING_DST, DS_STATES_ALL, DS_TRYING_DST, skip_dst
from .dsdns import Address
from .store import PING_KEY

log = module_logger("dispatcher")

PROBE_NONE, PROBE_ALL, PROBE_INACTIVE, PROBE_ONLYFLAGGED = 0, 1, 2, 3


def parse_flags(text: str) -> int:
    """ds_parse_flags(): a/i/d/t/p letters as state bits, -1 for another letter."""
    flag = 0
    for ch in text:
        c = ch.lower()
        if c == "a":
            flag &= ~DS_STATES_ALL
        elif c == "i":
            flag |= DS_INACTIVE_DST
        elif c == "d":
            flag |= DS_DISABLED_DST
        elif c == "t":
            flag |= DS_TRYING_DST
        elif c == "p":
            flag |= DS_PROBING_DST
        else:
            return -1
    return flag


def parse_reply_codes(text: str) -> list[tuple[str, int]]:
    """ds_parse_reply_codes(): "code=202;class=3" as (kind, value) pairs."""
    codes: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, value = item.partition("=")
        name = name.strip().lower()
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"bad ds_ping_reply_codes item: {item}") from None
        if name == "code" and 100 <= number < 700:
            codes.append(("code", number))
        elif name == "class" and 1 <= number < 7:
            codes.append(("class", number))
        else:
            raise ValueError(f"bad ds_ping_reply_codes item: {item}")
    return codes


def check_reply_codes(value: str) -> None:
    parse_reply_codes(value)


class States:
    """Destination states and keepalives of DispatcherModule."""

    def ds_mark_dst(self, ctx: MessageContext, state: str = "") -> int:
        if not state:
            flag = DS_INACTIVE_DST | (DS_PROBING_DST if self.probing_mode == PROBE_ALL else 0)
        else:
            flag = parse_flags(state)
            if flag < 0:
                log.warning("Failed to parse state flags: %s", state)
                return -1
        if not self.flags & 2:
            log.warning("failover support disabled")
            return -1
        if not self.xavp_dst:
            log.warning("no xavp name to store dst records")
            return -1
        items = ctx.xavps.get(self.xavp_dst) or []
        group = next((v[0] for v in (it.get("grp") for it in items) if v and isinstance(v[0], int)), None)
        uri = next((v[0] for v in (it.get("uri") for it in items) if v and isinstance(v[0], str)), None)
        if group is None or uri is None:
            return -1
        if isinstance(ctx.msg, Response):
            rctx = {"flags": 1, "code": ctx.msg.status, "reason": ctx.msg.reason}
        else:
            rctx = {"flags": 0, "code": 820, "reason": None}
        return 1 if self.update_state(ctx, group, uri, flag, rctx) == 0 else -1

    def update_state(
        self, ctx: MessageContext | None, group: int, uri: str, state: int, rctx: dict[str, Any]
    ) -> int:
        """ds_update_state(): the new state, the trying/inactive counters, dst-down/dst-up."""
        event = None
        with self.store.change() as data:
            node = data["sets"].get(str(group))
            if node is None:
                log.error("destination set [%d] not found", group)
                return -1
            dest = next((d for d in node["dests"] if d["uri"].lower() == uri.lower()), None)
            if dest is None:
                return -1
            old = dest["flags"]
            dest["flags"] &= ~DS_STATES_ALL
            init_state = state
            if state & DS_TRYING_DST and old & DS_INACTIVE_DST:
                state = (state & ~DS_TRYING_DST) | DS_INACTIVE_DST
            dest["flags"] |= DS_DISABLED_DST if state & DS_DISABLED_DST else state
            if state & DS_TRYING_DST:
                dest["message_count"] += 1
                if dest["message_count"] >= self._cfg_int("probing_threshold"):
                    dest["flags"] = (dest["flags"] & ~DS_TRYING_DST) | DS_INACTIVE_DST
                    dest["message_count"] = 0
            elif not init_state & DS_TRYING_DST and old & DS_INACTIVE_DST:
                dest["message_count"] += 1
                if dest["message_count"] < self._cfg_int("inactive_threshold"):
                    dest["flags"] |= DS_INACTIVE_DST
                    if old & DS_PROBING_DST:
                        dest["flags"] |= DS_PROBING_DST
                else:
                    dest["message_count"] = 0
            else:
                dest["message_count"] = 0
            if not skip_dst(old) and skip_dst(dest["flags"]):
                event = "dispatcher:dst-down"
            elif skip_dst(old) and not skip_dst(dest["flags"]):
                event = "dispatcher:dst-up"
            if (dest["attrs"].get("rweight") or 0) > 0 and event:
                node["rwlist"] = dslist.init_relative_weights(node["dests"])
        if event:
            self.run_route(ctx, dest["uri"], event, rctx)
        return 0

    def run_route(self, ctx: MessageContext | None, uri: str, name: str, rctx: dict[str, Any]) -> None:
        """ds_run_route(): the event route with the message, or Kamailio's faked one with the
        destination as its R-URI; $dsv(...) gives the reply that caused it."""
        if not self.core.has_route("event", name):
            return
        self.rctx = rctx
        try:
            if ctx is None:
                faked = self.core.faked_context()
                faked.new_ruri = uri
                self.core.run_event_route(name, faked)
                for out in faked.outbox:
                    self.core.send(out)
            else:
                self.core.run_event_route(name, ctx)
        finally:
            self.rctx = None

    def reinit_state(self, group: int, match: Callable[[dict[str, Any]], bool], state: int) -> bool:
        """ds_reinit_state()/ds_reinit_duid_state()/ds_reinit_state_all(): set without events."""
        with self.store.change() as data:
            node = data["sets"].get(str(group))
            if node is None:
                log.error("destination set [%d] not found", group)
                return False
            found = False
            for dest in node["dests"]:
                if not match(dest):
                    continue
                old = dest["flags"]
                dest["flags"] = (dest["flags"] & ~DS_STATES_ALL) | state
                if (dest["attrs"].get("rweight") or 0) > 0 and skip_dst(old) != skip_dst(dest["flags"]):
                    node["rwlist"] = dslist.init_relative_weights(node["dests"])
                found = True
            return found


    # ------------------------------------------------------------ keepalives

    def ping_timer(self) -> None:
        """ds_check_timer(): probe the destinations the probing mode names, from rank 1 only."""
        if self.core.rank != 1 or not self.store.get_int(PING_KEY, 1):
            return
        data = self.store.read()
        for group in data["order"]:
            for dest in data["sets"][str(group)]["dests"]:
                if dest["flags"] & DS_DISABLED_DST or not self._should_ping(dest["flags"]):
                    continue
                self._ping(group, dest)

    def _should_ping(self, flags: int) -> bool:
        if self.probing_mode == PROBE_ALL:
            return True
        if self.probing_mode != PROBE_INACTIVE and flags & DS_PROBING_DST:
            return True
        return (
            self.probing_mode == PROBE_INACTIVE
            and bool(flags & DS_PROBING_DST)
            and bool(flags & DS_INACTIVE_DST)
        )

    def _ping(self, group: int, dest: dict[str, Any]) -> None:
        assert self.tm is not None
        attrs = dest["attrs"]
        uri = dest["uri"]
        ping_from = attrs.get("ping_from") or self.ping_from
        obproxy = attrs.get("obproxy") or self.outbound_proxy or None
        sock = self._ping_socket(dest)
        started = self.core.clock.monotonic()

        def on_reply(code: int, reply: Response | None) -> None:
            self.ping_reply(group, uri, code, reply, started)

        sent = self.tm.t_request(
            self.ping_method, uri, uri, ping_from, next_hop=obproxy, callback=on_reply, send_socket=sock
        )
        if sent < 0:
            log.error("unable to ping [%s] in group [%d]", uri, group)
            state = DS_TRYING_DST | (DS_PROBING_DST if self.probing_mode != PROBE_NONE else 0)
            if not dest["flags"] & DS_DISABLED_DST:
                self.update_state(
                    None, group, uri, state, {"flags": 0, "code": 500, "reason": "Sending keepalive failed"}
                )

    def _ping_socket(self, dest: dict[str, Any]) -> Socket | None:
        attrs = dest["attrs"]
        if attrs.get("sockname"):
            return self.socket_of(self.socket_by_name(attrs["sockname"]))
        if attrs.get("socket"):
            return self.socket_of(self.socket_by_text(attrs["socket"]))
        return self.socket_of(self.default_socket)

    def state_of(self, group: int, uri: str) -> int:
        node = self.store.read()["sets"].get(str(group))
        for dest in node["dests"] if node else ():
            if dest["uri"].lower() == uri.lower():
                return int(dest["flags"])
        return 0

    def ping_reply(self, group: int, uri: str, code: int, reply: Response | None, started: float) -> None:
        """ds_options_callback()."""
        if self.latency_stats:
            self.update_latency(group, uri, code, started)
        rctx = {
            "code": code,
            "flags": 1 if reply is not None else 0,
            "reason": reply.reason if reply is not None else None,
        }
        if self.probing_mode == PROBE_ONLYFLAGGED and not self.state_of(group, uri) & DS_PROBING_DST:
            return
        if 200 <= code <= 299 or self.reply_code_ok(code):
            state = 0
            if self.probing_mode == PROBE_ALL or (
                self.probing_mode == PROBE_ONLYFLAGGED and self.state_of(group, uri) & DS_PROBING_DST
            ):
                state |= DS_PROBING_DST
        else:
            state = DS_TRYING_DST | (DS_PROBING_DST if self.probing_mode != PROBE_NONE else 0)
        if not self.state_of(group, uri) & DS_DISABLED_DST:
            if self.update_state(None, group, uri, state, rctx) != 0:
                log.error("Setting the state failed (%s, group %d)", uri, group)

    def _cfg_int(self, name: str) -> int:
        """The threshold as the cfg framework has it now (cfg.set_now_int dispatcher ...)."""
        return int(self.core.cfg.get("dispatcher", name) or 0)

    def set_reply_codes(self, value: str | None) -> None:
        """ds_ping_reply_codes_update(): the codes read again when the cfg variable changes."""
        try:
            self.reply_codes = parse_reply_codes(str(value or ""))
        except ValueError as exc:
            log.error("%s", exc)

    def reply_code_ok(self, code: int) -> bool:
        return any(
            (kind == "code" and code == value) or (kind == "class" and code // 100 == value)
            for kind, value in self.reply_codes
        )

    def update_latency(self, group: int, uri: str, code: int, started: float) -> None:
        """ds_update_latency(): the pinged destination's latency statistics, and congestion control."""
        from .latency import update_latency

        latency_ms = int((self.core.clock.monotonic() - started) * 1000)
        with self.store.change() as data:
            node = data["sets"].get(str(group))
            if node is not None and update_latency(node, uri, code, latency_ms, self.alpha):
                node["rwlist"] = dslist.init_relative_weights(node["dests"])

    def dns_timer(self) -> None:
        """ds_dns_timer(): addresses resolved again (ds_dns_mode 4)."""
        if self.core.rank != 1 or not self.dns_mode & dslist.DS_DNS_MODE_TIMER:
            return
        data = self.store.read()
        for node in data["sets"].values():
            for dest in node["dests"]:
                if not dest["noip"] and dest["host"]:
                    self.dns.resolve_later(dest["host"], dest["port"], dest["proto"],
                                           lambda found, setid=node["id"], uri=dest["uri"], host=dest["host"]:
                                           self._resolved(setid, uri, host, found))

    def _resolved(self, setid: int, uri: str, host: str, found: Address | None) -> None:
        """ds_dns_update_set(): a destination's address as the DNS timer found it."""
        if found is None:
            log.error("could not resolve %s", host)  # the old address stays
            return
        with self.store.change() as data:
            node = data["sets"].get(str(setid))
            for dest in node["dests"] if node is not None else ():
                if dest["uri"] == uri:
                    dest["ip"], dest["port"], dest["proto"] = found
                    dest["dnstime"] = self.core.clock.time()
