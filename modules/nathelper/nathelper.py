"""nathelper: NAT traversal helpers (Kamailio's nathelper module) and NAT keepalives."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import (
    FL_FORCE_ACTIVE,
    CoreAPI,
    MessageContext,
    Module,
    PVar,
    Request,
    Response,
    RpcFault,
    SdpError,
    UsrlocAPI,
    avp_add,
    avp_param_name,
    check_via_address,
    grep_socket,
    message_sdp,
    replace_spans,
    sdp_span,
)

from . import contact as cu
from .pinger import PingConfig, Pinger, parse_hostport
from .sdpfix import SdpFixError, fix_sdp

log = logging.getLogger("kampy.nathelper")

NAT_UAC_TEST_C_1918, NAT_UAC_TEST_RCVD, NAT_UAC_TEST_V_1918 = 0x01, 0x02, 0x04
NAT_UAC_TEST_S_1918, NAT_UAC_TEST_RPORT, NAT_UAC_TEST_O_1918 = 0x08, 0x10, 0x20
NAT_UAC_TEST_WS, NAT_UAC_TEST_C_PORT = 0x40, 0x80
NAT_UAC_TEST_SDP_CLINE, NAT_UAC_TEST_DEST = 0x100, 0x200
SIP_PORT = 5060
_STATE_KEY = b"natping_state"


def _bit(flag: int) -> int:
    return 0 if flag < 0 else 1 << flag


class NathelperModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.alias = str(params["alias_name"] or "alias")
        self.extra_nets = int(params["nat_addr_mode"]) == 1
        self.nortpproxy = str(params["nortpproxy_str"] or "").rstrip("\r\n")
        self.preserve = int(params["append_sdp_oldmediaip"]) != 0
        received = params["received_avp"]
        self.received_avp = avp_param_name(received, f"malformed or non AVP {received} AVP definition")
        self.force_socket = self._force_socket(params["force_socket"])
        self._pv_cache: dict[str, Any] = {}
        self.pinger: Pinger | None = None
        self.interval = int(params["natping_interval"])
        self.keepalive_timeout = int(params["keepalive_timeout"])
        self.sipping_from = str(params["sipping_from"] or "")
        self.sipping_method = str(params["sipping_method"] or "")
        self.ul: UsrlocAPI | None = core.api("usrloc")
        self._state = core.shared.table("nathelper", 1 << 6) if self.interval > 0 else None
        if self.interval > 0:
            self._start_pinging(params)

    # ------------------------------------------------------------------ set-up

    def _force_socket(self, value: Any) -> Any:
        if not value:
            return None
        text = str(value)
        proto = None
        if text.split(":", 1)[0].lower() in ("udp", "tcp", "tls", "sctp"):
            proto, text = text.split(":", 1)
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        sock = grep_socket(self.core.sockets, host or text, int(port) if port.isdigit() else None, proto)
        if sock is None:
            log.error("non-local force_socket <%s>", value)
        return sock

    def _start_pinging(self, params: dict[str, Any]) -> None:
        if self.ul is None:
            raise ValueError("can't find usrloc module")
        nated_only = int(params["ping_nated_only"]) != 0
        if nated_only and self.ul.nat_flag == 0:
            raise ValueError("bad config - ping_nated_only enabled, but no nat bflag set in usrloc module")
        processes = int(params["natping_processes"])
        if processes < 0:
            raise ValueError("bad config - natping_processes must be >= 0")
        self.ul.set_max_partition(processes * self.interval)
        sipping_flag = _bit(int(params["sipping_bflag"]))
        if sipping_flag:
            if not self.sipping_from:
                raise ValueError("SIP ping enabled, but SIP ping FROM is empty!")
            if not self.sipping_method or any(c in self.sipping_method for c in " \t\r\n"):
                raise ValueError(f"invalid SIP ping method [{self.sipping_method}]!")
            if self.keepalive_timeout > 0:
                self.ul.set_keepalive_timeout(self.keepalive_timeout)
        raw_source = None
        if params["natping_socket"]:
            raw_source = parse_hostport(str(params["natping_socket"]))
            if raw_source is None:
                raise ValueError(f"invalid natping_socket parameter <{params['natping_socket']}>")
        cfg = PingConfig(self.interval, processes, nated_only, sipping_flag,
                         _bit(int(params["natping_disable_bflag"])), self.sipping_from, self.sipping_method,
                         int(params["filter_server_id"]) != 0, int(params["udpping_from_path"]),
                         raw_source)
        with self._state_table.transaction():
            if self._state_table.get(_STATE_KEY) is None:
                self._state_table.put(_STATE_KEY, b"1")
        self.pinger = Pinger(self.core, self.ul, cfg, self.ul.nat_flag, self.force_socket, self.pinging)

    @property
    def _state_table(self) -> Any:
        assert self._state is not None
        return self._state

    def pinging(self) -> bool:
        found = self._state_table.get(_STATE_KEY)
        return found is None or found[0] != b"0"

    def destroy(self) -> None:
        if self.pinger is not None:
            self.pinger.close()

    # ------------------------------------------------------------------ keepalives

    def nh_timer(self) -> None:
        """Every second: the pinging processes this worker stands for (process i in worker
        i % workers + 1) each ping their partition of the contacts."""
        if self.pinger is None:
            return
        workers = max(self.core.workers, 1)
        for index in range(self.pinger.cfg.processes):
            if index % workers + 1 == self.core.rank:
                self.pinger.tick(index)

    def on_response(self, ctx: MessageContext) -> bool:
        """nh_sip_reply_received: a reply to a keepalive (its CSeq method, one Via, our From URI)
        refreshes the contact named by its From tag; the reply goes on to the core either way."""
        if self.keepalive_timeout <= 0 or self.ul is None:
            return True
        msg = ctx.msg
        if not isinstance(msg, Response) or msg.cseq is None or msg.cseq.method != self.sipping_method:
            return True
        if len(msg.vias) != 1 or msg.from_ is None:
            return True
        if str(msg.from_.uri) != self.sipping_from and _from_uri_text(msg) != self.sipping_from:
            return True
        tag = msg.from_.tag or ""
        ruid, _, rest = tag.rpartition("-")
        ruid, _, aorhash = ruid.rpartition("-")
        value = _reverse_hex_value(aorhash)
        if ruid and value is not None:
            self.ul.refresh_keepalive(value, ruid)
        return True

    def rpc_enable_ping(self, value: int) -> None:
        if self._state is None:
            raise RpcFault(500, "NATping disabled")
        self._state.put(_STATE_KEY, b"1" if int(value) else b"0")

    # ------------------------------------------------------------------ nat_uac_test, is_rfc1918

    def nat_uac_test(self, ctx: MessageContext, tests: int) -> int:
        msg, src = ctx.msg, ctx.src
        via = msg.via
        if tests & NAT_UAC_TEST_RPORT and via is not None and src.port != (via.port or SIP_PORT):
            return 1
        if tests & NAT_UAC_TEST_RCVD and via is not None and not check_via_address(via.host, src.ip):
            return 1
        if tests & NAT_UAC_TEST_C_1918 and self._contact_1918(msg) > 0:
            return 1
        if tests & NAT_UAC_TEST_S_1918 and self._sdp_1918(msg) > 0:
            return 1
        if tests & NAT_UAC_TEST_V_1918 and via is not None and cu.is_1918(via.host, self.extra_nets) == 1:
            return 1
        if tests & NAT_UAC_TEST_O_1918 and cu.is_1918(src.ip, self.extra_nets) == 1:
            return 1
        if tests & NAT_UAC_TEST_WS and src.proto.lower() in ("ws", "wss"):
            return 1
        if tests & NAT_UAC_TEST_C_PORT and self._contact_rport(ctx) > 0:
            return 1
        if tests & NAT_UAC_TEST_SDP_CLINE and self._sdp_cline(ctx) > 0:
            return 1
        if tests & NAT_UAC_TEST_DEST and self._test_destination(ctx) > 0:
            return 1
        return -1

    def _contact(self, msg: Request | Response) -> cu.ContactSpan | None:
        line = msg.get_all_raw("contact")
        if not line:
            return None
        return cu.first_contact(line[0].decode("utf-8", "surrogateescape"))

    def _contact_1918(self, msg: Request | Response) -> int:
        c = self._contact(msg)
        if c is None:
            return -1
        return 1 if cu.is_1918(c.uri.host, self.extra_nets) == 1 else 0

    def _contact_rport(self, ctx: MessageContext) -> int:
        c = self._contact(ctx.msg)
        if c is None:
            return -1
        return 1 if ctx.src.port != (c.uri.port or SIP_PORT) else 0

    @staticmethod
    def _sdp(msg: Request | Response) -> Any:
        """parse_sdp(): the SDP, or None without a body; SdpError when it does not parse."""
        code, sdp = message_sdp(msg.body, msg.header("content-type"))
        if code < 0:
            raise SdpError("Unable to parse sdp body")
        return sdp

    def _sdp_1918(self, msg: Request | Response) -> int:
        try:
            sdp = self._sdp(msg)
        except SdpError as exc:
            log.error("%s", exc)
            return -1
        for session in sdp.sessions if sdp is not None else ():
            for stream in session.streams:
                addr = stream.address or session.address
                if addr is None or addr.family != "IP4" or addr.is_null:
                    break
                if cu.is_1918(addr.text, self.extra_nets) == 1:
                    return 1
        return 0

    def _sdp_cline(self, ctx: MessageContext) -> int:
        """test_sdp_cline: how many sessions' c= addresses differ from the source address."""
        try:
            sdp = self._sdp(ctx.msg)
        except SdpError as exc:
            log.error("%s", exc)
            return -1
        counted = matched = 0
        for session in sdp.sessions if sdp is not None else ():
            if session.address is None:
                break
            if cu.same_ip(session.address.text, ctx.src.ip):
                matched += 1
            counted += 1
        return counted - matched

    def _test_destination(self, ctx: MessageContext) -> int:
        return cu.destination_differs(ctx)

    def is_rfc1918(self, ctx: MessageContext, address: str) -> int:
        if not address:
            log.error("invalid address parameter")
            return -2
        return 1 if cu.is_1918(address, self.extra_nets) == 1 else -1

    # ------------------------------------------------------------------ the Contact

    def _contact_line(self, ctx: MessageContext) -> tuple[str, cu.ContactSpan] | None:
        raw = ctx.msg.get_all_raw("contact")
        if not raw:
            return None
        line = raw[0].decode("utf-8", "surrogateescape")
        c = cu.first_contact(line)
        return (line, c) if c is not None else None

    def _changed(self, ctx: MessageContext) -> bool:
        """Whether the Contact was rewritten already (Kamailio: its URI no longer in the buffer)."""
        pending = ctx.msg.pending_header_line("contact", 0)
        return pending != ctx.msg.get_all_raw("contact")[0]

    def _write_contact(self, ctx: MessageContext, line: str) -> None:
        ctx.msg.replace_lines("contact", 0, line.encode("utf-8", "surrogateescape"))

    def fix_nated_contact(self, ctx: MessageContext) -> int:
        found = self._contact_line(ctx)
        if found is None:
            return -1
        line, c = found
        if self._changed(ctx):
            log.error("you can't call fix_nated_contact twice, check your config!")
            return -1
        host_start, host_end = cu.hostport_span(c.uri_text)
        rest = c.uri_text[host_end:]
        maddr = cu.param_span(rest, "maddr")
        if maddr is not None:
            head = rest[:maddr[0]].rstrip(" \t;")
            rest = head + rest[maddr[1]:]
        uri = f"{c.uri_text[:host_start]}{cu.src_host(ctx)}:{ctx.src.port}{rest}"
        self._write_contact(ctx, line[:c.uri_start] + uri + line[c.uri_end:])
        return 1

    def set_contact_alias(self, ctx: MessageContext, trim: int = 0) -> int:
        found = self._contact_line(ctx)
        if found is None:
            return -1
        line, c = found
        if self._changed(ctx):
            log.error("you can't update contact twice, check your config!")
            return -1
        uri = c.uri_text
        if trim > 0:
            trimmed = cu.trim_alias(uri, self.alias)
            if trimmed is not None:
                uri = trimmed
        uri = f"{uri};{self.alias}={cu.alias_value(ctx)}"
        if not c.bracketed:
            uri = f"<{uri}>"
        self._write_contact(ctx, line[:c.uri_start] + uri + line[c.uri_end:])
        return 1

    def add_contact_alias(self, ctx: MessageContext, ip: str | None = None, port: str | None = None,
                          proto: str | None = None) -> int:
        if not ctx.msg.has_header("contact"):
            return 2
        found = self._contact_line(ctx)
        if found is None:
            log.error("failed to get contact uri")
            return -1
        line, c = found
        if ip is None:
            value = self._own_alias(ctx, c)
            if value is None:
                return 2
        else:
            value = cu.given_alias(ip, port or "", proto or "")
            if value is None:
                return -1
        if self._changed(ctx):
            log.error("you can't call add_contact_alias twice, check your config!")
            return -1
        _, host_end = cu.hostport_span(c.uri_text)
        at = c.uri_start + host_end
        param = f";{self.alias}={value}"
        value_start = line.find(":") + 1
        if "<" not in line[value_start:]:
            body = value_start + (len(line[value_start:]) - len(line[value_start:].lstrip(" \t")))
            new = line[:body] + "<" + line[body:at] + param + ">" + line[at:]
        else:
            new = line[:at] + param + line[at:]
        self._write_contact(ctx, new)
        return 1

    def _own_alias(self, ctx: MessageContext, c: cu.ContactSpan) -> str | None:
        """The alias of add_contact_alias(): None when the Contact already has the source address,
        port and transport."""
        if cu.same_ip(c.uri.host.strip("[]"), ctx.src.ip):
            port = c.uri.port
            proto = cu.PROTO_NUMBERS.get((c.uri.transport or "").lower(), 0)
            if (ctx.src.port == port or (port is None and ctx.src.port == SIP_PORT)) \
                    and proto == cu.proto_number(ctx):
                return None
        if cu.proto_number(ctx) == 0:
            log.error("invalid transport protocol")
            return None
        return cu.alias_value(ctx)

    def handle_ruri_alias(self, ctx: MessageContext, mode: int = 0) -> int:
        return cu.handle_ruri_alias(ctx, self.alias, mode)

    def set_alias_to_pv(self, ctx: MessageContext, pvname: str) -> int:
        raw = ctx.msg.get_all_raw("contact")
        if not raw:
            return -1
        value = raw[0].decode("utf-8", "surrogateescape").partition(":")[2].strip()
        if not value or value == "*" or len(cu.split_contacts(value)) != 1:
            log.error("Couldn't parse Contact Header")
            return -1
        uri = cu.alias_to_uri(value, self.alias)
        if uri is None:
            return -1
        accessor = self._pv(pvname)
        if accessor is None or not hasattr(accessor, "set"):
            log.error("Destination pseudo-variable is not writable: [%s]", pvname)
            return -1
        accessor.set(ctx, uri)
        return 1

    def _pv(self, name: str) -> Any:
        if name not in self._pv_cache:
            try:
                self._pv_cache[name] = self.core.pv_accessor(name)
            except (ValueError, LookupError):
                log.error("Failed to malloc destination pseudo-variable")
                self._pv_cache[name] = None
        return self._pv_cache[name]

    # ------------------------------------------------------------------ received

    def fixup_fix_nated_register(self) -> None:
        """A config calling fix_nated_register() without received_avp is refused at start-up."""
        if self.received_avp is None:
            raise ValueError("you must set 'received_avp' parameter. Must be same value as parameter "
                             "'received_avp' of registrar module")

    def fix_nated_register(self, ctx: MessageContext) -> int:
        avp_add(ctx, self.received_avp, cu.src_uri(ctx))
        return 1

    def add_rcv_param(self, ctx: MessageContext, upos: int = 0) -> int:
        if upos and ctx.src.proto.lower() != "udp":
            log.error("adding received parameter to Contact URI works only for UDP")
            return -1
        uri = cu.src_uri(ctx)
        lines = ctx.msg.get_all_raw("contact")
        for index, raw in enumerate(lines):
            line = raw.decode("utf-8", "surrogateescape")
            edits = cu.received_edits(line, uri, bool(upos))
            if edits is None:
                return -1
            ctx.msg.replace_lines("contact", index,
                                  replace_spans(line, edits).encode("utf-8", "surrogateescape"))
        return 1

    # ------------------------------------------------------------------ SDP

    def fix_nated_sdp(self, ctx: MessageContext, level: int, ip: str = "") -> int:
        msg = ctx.msg
        body = msg.current_body
        span = sdp_span(body, msg.header("content-type"))
        if span is None:
            log.error("cannot extract body from msg!")
            return -1
        text = body.decode("latin-1")
        if level & 0x05:
            msg.msg_flags |= FL_FORCE_ACTIVE
        try:
            edits = fix_sdp(text, span[0], span[1], level, ip or ctx.src.ip, self.nortpproxy, self.preserve)
        except SdpFixError as exc:
            log.error("%s", exc)
            return -1
        if edits.items:
            msg.set_body(replace_spans(text, edits.items).encode("latin-1"))
        return 1 if edits.replaced > 0 else 2

    # ------------------------------------------------------------------ pseudo-variables

    def pv_rr_count(self, spec: PVar) -> Any:
        return _Reader(lambda ctx: len(ctx.msg.record_routes))

    def pv_rr_top_count(self, spec: PVar) -> Any:
        def top(ctx: MessageContext) -> int:
            lines = ctx.msg.headers_named("record-route")
            if not lines:
                return 0
            routes = ctx.msg.record_routes
            if not routes:
                return 0
            return 2 if "r2" in routes[0].uri.params else 1
        return _Reader(top)


class _Reader:
    def __init__(self, fn: Any) -> None:
        self.get = fn


def _from_uri_text(msg: Response) -> str:
    value = msg.header("from") or ""
    if "<" in value:
        return value[value.index("<") + 1:value.index(">")] if ">" in value else value
    return value.split(";", 1)[0].strip()


def _reverse_hex_value(text: str) -> int | None:
    """reverse_hex2int: hex digits least significant first."""
    if not text or len(text) > 8:
        return None
    try:
        return int(text[::-1], 16)
    except ValueError:
        return None


__all__ = ["NathelperModule"]
