"""Record-Route and loose routing with Kamailio 5.6's behaviour (rr/record.c, rr/loose.c, rr_mod.c).

The Record-Route is a header added first in the request (before the new Via), whose text depends on
the socket each copy is sent from (`SendSocketValue`): `<sip:IP[:PORT][;transport=..];lr;ftag=..>`
for the socket the request came in on, and with `enable_double_rr` a second one, both with `;r2=on`,
for the sending socket when it differs (as Kamailio's COND_IF_DIFF_REALMS lumps).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from kampy.api import (
    as_bytes,
    CoreAPI,
    PVAccessor,
    MessageContext,
    Module,
    ObAPI,
    PVar,
    Request,
    RouteType,
    SendSocketValue,
    SIPProtocolError,
    Socket,
    grep_socket,
    parse_uri,
    socket_address,
)

log = logging.getLogger("kampy.rr")

RR_DRIVEN, RR_ERROR, RR_NOT_DRIVEN, RR_PRELOADED = 1, -1, -1, -3
RR_OB_DRIVEN, RR_FLOW_TOKEN_BROKEN = 2, -2
DOWNSTREAM, UPSTREAM = 1, 2

_ADDED = "rr.added"            # ctx.local: record_route done in this (non-branch) route
_PARAMS = "rr.params"          # ctx.local: add_rr_param() text kept for a later record_route()
_ROUTED = "rr.routed_params"   # ctx.local: the params of our Route URI, as loose_route saw them
_ROUTE_ADDR = "rr.route_addr"  # ctx.local: FL_ROUTE_ADDR (next hop taken from a Route header)
_DIRECTION = "rr.direction"    # ctx.local: is_direction()'s answer for this message


# ---------------------------------------------------------------- Route header parsing

@dataclass
class _Elem:
    line: int      # index of the Route header line
    start: int     # offset of the name-addr in the line
    end: int       # offset just after it (params included)
    uri: str       # the URI text


@dataclass
class _Line:
    raw: str
    body: int  # offset of the first value character
    elems: list[_Elem] = field(default_factory=list)


def _split_line(index: int, raw: str) -> _Line:
    colon = raw.find(":")
    i = colon + 1
    while i < len(raw) and raw[i] in " \t\r\n":
        i += 1
    line = _Line(raw, i)
    start, quoted, angle, j = i, False, False, i
    while j <= len(raw):
        c = raw[j] if j < len(raw) else ","
        if quoted:
            if c == "\\":
                j += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            angle = True
        elif c == ">":
            angle = False
        elif c == "," and not angle:
            end = j
            while end > start and raw[end - 1] in " \t\r\n":
                end -= 1
            if end > start:
                text = raw[start:end]
                lt, gt = text.find("<"), text.find(">")
                uri = text[lt + 1:gt] if lt >= 0 and gt > lt else text.split(";", 1)[0]
                line.elems.append(_Elem(index, start, end, uri.strip()))
            j += 1
            while j < len(raw) and raw[j] in " \t\r\n":
                j += 1
            start = j
            continue
        j += 1
    return line


def _route_lines(msg: Request) -> list[_Line]:
    raws = [r.decode("utf-8", "surrogateescape") for r in msg.get_all_raw("route")]
    return [_split_line(i, raw) for i, raw in enumerate(raws)]


def _uri_params(uri: str) -> str:
    """The URI parameters (after the host part, before `?`), without the leading `;`."""
    rest = uri.split("?", 1)[0]
    at = rest.rfind("@")
    rest = rest[at + 1:] if at >= 0 else rest.partition(":")[2]
    return rest.partition(";")[2]


def _param_names(params: str) -> list[str]:
    return [p.partition("=")[0].strip().lower() for p in params.split(";") if p.strip()]


def _is_strict(params: str) -> bool:
    return "lr" not in _param_names(params)


def _is_2rr(params: str) -> bool:
    return "r2" in _param_names(params)


def _maddr_uri(uri: str) -> str:
    """Kamailio's get_maddr_uri: `sip:<maddr>[:port]` when the URI has a maddr parameter."""
    try:
        puri = parse_uri(uri)
    except SIPProtocolError:
        return uri
    maddr = puri.params.get("maddr") if puri.is_sip else None
    if not maddr:
        return uri
    return f"sip:{maddr}" + (f":{puri.port}" if puri.port else "")


class _Edits:
    """Deletions in the received Route lines, applied together (whole lines or ranges)."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.whole: set[int] = set()
        self.ranges: dict[int, list[tuple[int, int]]] = {}

    def remove_line(self, index: int) -> None:
        self.whole.add(index)

    def remove(self, index: int, start: int, end: int) -> None:
        self.ranges.setdefault(index, []).append((start, end))

    def remove_through(self, elem: _Elem) -> None:
        """Remove `elem` and what comes before it in its line: the line, if it is the last."""
        line = self.lines[elem.line]
        idx = line.elems.index(elem)
        if idx + 1 < len(line.elems):
            self.remove(elem.line, line.body, line.elems[idx + 1].start)
        else:
            self.remove_line(elem.line)

    def apply(self, msg: Request) -> None:
        for index in sorted(self.whole):
            msg.remove_header("route", index)
        for index, ranges in self.ranges.items():
            if index in self.whole:
                continue
            raw = self.lines[index].raw
            out, pos = [], 0
            for start, end in sorted(ranges):
                out.append(raw[pos:max(pos, start)])
                pos = max(pos, end)
            out.append(raw[pos:])
            try:
                msg.replace_lines("route", index, as_bytes("".join(out)))
            except ValueError as exc:  # a line break inside the received Route header
                raise SIPProtocolError(f"bad Route header: {exc}") from None


# ---------------------------------------------------------------- Record-Route values

class _RecordRoute:
    """What one record_route()/record_route_preset() call adds; `params` grows with add_rr_param()."""

    def __init__(self, module: RrModule, sips: bool, tag: str | None, params: str,
                 preset: str | None = None, branch: bool = False, user: str = "",
                 advertised: str | None = None) -> None:
        self.module, self.sips, self.tag, self.params = module, sips, tag, params
        self.preset, self.branch, self.advertised = preset, branch, advertised
        self.user = f"{user}@" if user else ""  # add_username

    def line(self, sock: Socket, r2: bool) -> str:
        lr = ";lr=on" if self.module.enable_full_lr else ";lr"
        tag = f";ftag={self.tag}" if self.tag else ""
        scheme = "sips" if self.sips else "sip"
        if self.preset is not None:
            return f"Record-Route: <{scheme}:{self.user}{self.preset}{tag}{self.params}{lr}>"
        r2on = ";r2=on" if r2 else ""
        address = socket_address(sock, self.module.sockname_mode)
        return f"Record-Route: <{scheme}:{self.user}{address}{r2on}{lr}{tag}{self.params}>"

    def advertised_line(self, proto: str | None, r2: bool) -> str:
        """record_route_advertised_address(): the given address, `;transport=` of a protocol, then
        `;r2=on`, the tag before `;lr` (build_advertised_rr)."""
        lr = ";lr=on" if self.module.enable_full_lr else ";lr"
        tag = f";ftag={self.tag}" if self.tag else ""
        scheme = "sips" if self.sips else "sip"
        transport = f";transport={proto}" if proto else ""
        r2on = ";r2=on" if r2 else ""
        return f"Record-Route: <{scheme}:{self.user}{self.advertised}{transport}{r2on}{tag}{lr}{self.params}>"

    def _advertised_lines(self, ctx: MessageContext, sock: Socket) -> list[str]:
        """Kamailio's conditional lumps: the transport when the protocols differ, `;r2=on` when
        the sockets do, a second (outbound) Record-Route only when the protocols differ; all of it
        with enable_double_rr 2."""
        rcv = ctx.src.local
        double = self.module.enable_double_rr
        diff_proto = double == 2 or rcv.proto != sock.proto or ctx.src.proto != sock.proto
        r2 = bool(double) and (double == 2 or rcv != sock or ctx.src.proto != sock.proto)
        lines = [self.advertised_line(sock.proto, r2)] if double and diff_proto else []
        lines.append(self.advertised_line(rcv.proto if diff_proto else None, r2))
        return lines

    def render(self, ctx: MessageContext, sock: Socket) -> bytes:
        if self.preset is not None:
            return as_bytes(self.line(sock, False))
        if self.advertised is not None:
            return as_bytes("\r\n".join(self._advertised_lines(ctx, sock)))
        rcv = ctx.src.local
        double = self.module.enable_double_rr
        if double == 2 or (double and rcv != sock):
            lines = [self.line(sock, True), self.line(rcv, True)]
        else:
            lines = [self.line(rcv, False)]
        return as_bytes("\r\n".join(lines))

    def value(self, ctx: MessageContext) -> SendSocketValue:
        if self.advertised is not None:
            first = self.advertised_line(None, False)
        else:
            first = self.line(ctx.src.local, False)
        text = first.partition(": ")[2]
        return SendSocketValue(text, self.render)


# ---------------------------------------------------------------- the module

class RrModule(Module):

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.append_fromtag = int(params["append_fromtag"])
        self.enable_double_rr = int(params["enable_double_rr"])
        self.enable_full_lr = int(params["enable_full_lr"])
        self.ignore_sips = int(params["ignore_sips"])
        self.add_username = int(params["add_username"]) != 0
        self.socket_mismatch_warning = int(params["enable_socket_mismatch_warning"]) != 0
        self.force_send_socket = int(params["force_send_socket"]) != 0
        self.sockname_mode = int(params["sockname_mode"]) != 0
        self.custom_user: PVAccessor | None = None
        if params["custom_user_avp"]:
            spec = str(params["custom_user_avp"]).strip()
            if not spec.startswith("$avp("):
                raise ValueError(f"custom_user_avp has to be an AVP, not {spec}")
            self.custom_user = core.pv_accessor(spec)
        self.ob: ObAPI | None = core.api("outbound")
        if self.add_username and self.ob is not None:
            raise ValueError('cannot use "add_username" with outbound')
        self.callbacks: list[Callable[[MessageContext, str], None]] = []

    def register_rrcb(self, callback: Callable[[MessageContext, str], None]) -> int:
        self.callbacks.append(callback)
        return 0

    def _run_callbacks(self, ctx: MessageContext, params: str) -> None:
        """run_rr_callbacks: only when the Route URI of ours had parameters."""
        if params:
            for callback in self.callbacks:
                callback(ctx, params)

    # -- helpers --
    def _is_myself(self, uri: str) -> bool:
        try:
            puri = parse_uri(uri)
        except SIPProtocolError:
            return False
        if not puri.is_sip or not puri.host or "gr" in puri.params:
            return False
        return self.core.is_myself(puri.host, puri.port or 5060)

    def _force_socket_to(self, ctx: MessageContext, uri: str, *, default_port: bool,
                         second: bool = True) -> None:
        """Send from the local socket a Route URI of ours names (grep_sock_info()): after a loose
        route (rr_do_force_send_socket) a URI without port names the protocol's default port first,
        then any port; after a strict route (after_strict) any port. `second`: the URI is our
        second Record-Route (a miss is worth enable_socket_mismatch_warning's warning)."""
        try:
            puri = parse_uri(uri)
        except SIPProtocolError:
            return
        if default_port and self.sockname_mode and self._force_named_socket(ctx, uri):
            return
        proto = puri.transport
        ports = [puri.port or (5061 if proto == "tls" else 5060)] if default_port else []
        for port in [*ports, puri.port]:
            sock = grep_socket(self.core.sockets, puri.host or "", port, proto)
            if sock is not None:
                ctx.force_socket = sock
                return
        if not (self.socket_mismatch_warning and second):
            log.debug("no socket found to match second RR (%s)", uri)
        elif not default_port:  # after_strict's words
            log.warning("no socket found for match second RR")
        else:
            log.warning("no socket found to match second RR (%s)", uri)
            if not self._is_myself(uri):
                log.warning("second RR uri is not myself (%s)", uri)

    def _force_named_socket(self, ctx: MessageContext, uri: str) -> bool:
        """sockname_mode: send from the socket the `sn` parameter of our Route URI names."""
        for part in _uri_params(uri).split(";"):
            name, _, value = part.partition("=")
            if name.strip().lower() == "sn" and value.strip():
                sock = next((s for s in self.core.sockets if s.name == value.strip()), None)
                if sock is not None:
                    ctx.force_socket = sock
                    return True
                log.debug("failed to find socket with name: %s", value.strip())
        log.debug("use of sockname parameter enabled, but failed to find it")
        return False

    def _username(self, ctx: MessageContext) -> str:
        """add_username: the custom_user_avp's value when it is a non-empty string, else the user
        of the R-URI as received (the R-URI as the script set it when that has none)."""
        if self.custom_user is not None:
            value = self.custom_user.get(ctx)
            if isinstance(value, str) and value:
                return value
        for uri in (ctx.msg.uri, ctx.ruri):
            try:
                user = parse_uri(uri).user or ""
            except SIPProtocolError:
                log.error("failed to parse R-URI")
                return ""
            if user:
                return user
        return ""

    @staticmethod
    def _rr_changes(msg: Request | Any) -> list[Any]:
        """The Record-Route headers rr added to the message and not yet taken back."""
        return [ch for ch in msg.changes if isinstance(getattr(ch, "value", None), SendSocketValue)
                and isinstance(getattr(ch.value.render, "__self__", None), _RecordRoute)]

    def _tag(self, ctx: MessageContext) -> str | None:
        if not self.append_fromtag:
            return None
        msg = ctx.msg
        na = msg.to if self._direction(ctx) == UPSTREAM else msg.from_
        return na.tag if na is not None else None

    def _sips(self, ctx: MessageContext) -> bool:
        return not self.ignore_sips and ctx.ruri.lower().startswith("sips:")

    def _double_attempt(self, ctx: MessageContext) -> bool:
        if ctx.local.get(_ADDED):
            return True
        return any(not ch.value.render.__self__.branch for ch in self._rr_changes(ctx.msg))

    def _may_record(self, ctx: MessageContext) -> bool:
        """A request not record-routed yet (by this route, or in its branch)."""
        if not isinstance(ctx.msg, Request):
            return False
        if self._double_attempt(ctx):
            log.error("Double attempt to record-route")
            return False
        return True

    def _add(self, ctx: MessageContext, rr: _RecordRoute) -> None:
        ctx.msg.add_header("Record-Route", rr.value(ctx), first=True)

    # -- record_route --
    def record_route(self, ctx: MessageContext, sparams: str | None = None) -> int:
        if not self._may_record(ctx):
            return -1
        params = (sparams or "") + ctx.local.pop(_PARAMS, "")
        branch = bool(ctx.route_type & RouteType.BRANCH)
        user = self._rr_user(ctx)
        if user is None:
            return -1
        self._add(ctx, _RecordRoute(self, self._sips(ctx), self._tag(ctx), params, branch=branch, user=user))
        if not branch:
            ctx.local[_ADDED] = True
        return 1

    def record_route_preset(self, ctx: MessageContext, string: str, string2: str | None = None) -> int:
        if not self._may_record(ctx):
            return -1
        msg = ctx.msg
        if string2 is not None and not self.enable_double_rr:
            log.error("Attempt to double record-route while 'enable_double_rr' param is disabled")
            return -1
        user = self._rr_user(ctx)
        if user is None:
            return -1
        # the preset always takes the From tag (record_route_preset)
        tag = msg.from_.tag if self.append_fromtag and msg.from_ is not None else None
        params = ctx.local.pop(_PARAMS, "")
        for data in (string, string2):
            if data is not None:
                self._add(ctx, _RecordRoute(self, self._sips(ctx), tag, params, preset=data, user=user))
        ctx.local[_ADDED] = True
        return 1

    def _rr_user(self, ctx: MessageContext) -> str | None:
        """The user part of our Record-Route: add_username's, else with outbound the flow token of
        the connection the request came in on (or, for an "incoming" request, the one of the Route
        it came by); None after an error."""
        if self.add_username:
            return self._username(ctx)
        use_ob = self.ob.use_outbound(ctx) if self.ob is not None else 0
        if use_ob == 1:
            return self.ob.encode_flow_token(ctx)  # type: ignore[union-attr]
        if use_ob == 2:
            routes = ctx.msg.routes if isinstance(ctx.msg, Request) else []
            if not routes:
                log.error("no Route: headers found")
                log.error("copying outbound flow-token")
                return None
            return routes[0].uri.user or ""
        return ""

    def record_route_advertised_address(self, ctx: MessageContext, address: str) -> int:
        if not self._may_record(ctx):
            return -1
        user = self._rr_user(ctx)
        if user is None:
            return -1
        params = ctx.local.pop(_PARAMS, "")
        branch = bool(ctx.route_type & RouteType.BRANCH)
        self._add(ctx, _RecordRoute(self, self._sips(ctx), self._tag(ctx), params, branch=branch, user=user,
                                    advertised=address))
        if not branch:
            ctx.local[_ADDED] = True
        return 1

    def add_rr_param(self, ctx: MessageContext, param: str) -> int:
        changes = self._rr_changes(ctx.msg)
        if not changes:
            ctx.local[_PARAMS] = ctx.local.get(_PARAMS, "") + param
            return 1
        for ch in (changes if self.enable_double_rr else changes[:1]):
            ch.value.render.__self__.params += param
        return 1

    def remove_record_route(self, ctx: MessageContext) -> int:
        for ch in self._rr_changes(ctx.msg):
            ctx.msg.cancel(ch)
        ctx.local.pop(_ADDED, None)
        return 1

    # -- loose routing --
    def loose_route(self, ctx: MessageContext) -> int:
        return self._loose_route(ctx, 0)

    def loose_route_mode(self, ctx: MessageContext, vmode: int) -> int:
        return self._loose_route(ctx, vmode)

    def loose_route_preloaded(self, ctx: MessageContext) -> int:
        return 1 if self._loose_route(ctx, 0) == RR_PRELOADED else -1

    def _loose_route(self, ctx: MessageContext, mode: int) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        lines = [line for line in _route_lines(msg)]
        if not lines or not any(line.elems for line in lines):
            log.debug("There is no Route HF")
            return -1
        to = msg.to
        if to is None:
            log.error("To header field not found")
            return -1
        if not to.tag:
            return self._after_loose(ctx, msg, lines, True)
        if mode == 0 and self._is_myself(ctx.ruri):
            return self._after_strict(ctx, msg, lines)
        return self._after_loose(ctx, msg, lines, False)

    @staticmethod
    def _elems(lines: list[_Line]) -> list[_Elem]:
        return [e for line in lines for e in line.elems]

    def _after_loose(self, ctx: MessageContext, msg: Request, lines: list[_Line], preloaded: bool) -> int:
        elems = self._elems(lines)
        edits = _Edits(lines)
        top = elems[0]
        routed = _uri_params(top.uri)
        pos = 0
        use_ob = 0
        if self._is_myself(top.uri):
            ctx.local[_ROUTED] = routed
            use_ob = self._process_outbound(ctx, top.uri)
            if use_ob < 0:
                log.info("failed to process outbound flow-token")
                return RR_FLOW_TOKEN_BROKEN
            double = self.enable_double_rr and _is_2rr(routed)
            if self.force_send_socket and not double and not use_ob:  # send from the socket our Route names
                self._force_socket_to(ctx, top.uri, default_port=True, second=False)
            for step in range(2 if double else 1):
                cur = elems[pos]
                if pos + 1 >= len(elems) or elems[pos + 1].line != cur.line:
                    edits.remove_line(cur.line)  # no next URI in this line: the whole line goes now
                pos += 1
                if pos >= len(elems):
                    edits.apply(msg)
                    status = RR_PRELOADED if preloaded else RR_DRIVEN
                    return self._loose_done(ctx, status, use_ob, routed)
                if step == 0 and double and not use_ob:
                    self._force_socket_to(ctx, elems[pos].uri, default_port=True)  # our second Record-Route
            ctx.local[_ROUTE_ADDR] = True
        else:
            ctx.local[_ROUTED] = routed = ""
        nxt = elems[pos]
        line = lines[nxt.line]
        first_in_line = line.elems[0] is nxt
        if _is_strict(_uri_params(nxt.uri)):
            # the next hop is a strict router: the R-URI goes last in the route set, the next URI
            # becomes the R-URI and its Route entry goes
            msg.add_header("Route", f"<{msg.uri}>")
            ctx.new_ruri = _maddr_uri(nxt.uri)
            edits.remove_through(nxt)
        else:
            if not use_ob:
                ctx.dst_uri = _maddr_uri(nxt.uri)
            if not first_in_line:
                edits.remove(nxt.line, line.body, nxt.start)
        edits.apply(msg)
        return self._loose_done(ctx, RR_DRIVEN, use_ob, routed)

    def _loose_done(self, ctx: MessageContext, status: int, use_ob: int, routed: str) -> int:
        self._run_callbacks(ctx, routed)
        return RR_OB_DRIVEN if use_ob == 1 else status

    def _process_outbound(self, ctx: MessageContext, uri: str) -> int:
        """A flow token in the user part of our Route URI: for an "incoming" request (another peer
        than the flow's), send from the flow's local socket to the flow's peer (1); 0 when there is
        no flow token or the request comes from the flow's peer; -1 for a tampered one."""
        if self.ob is None:
            return 0
        try:
            user = parse_uri(uri).user or ""
        except SIPProtocolError:
            return 0
        code, flow = self.ob.decode_flow_token(ctx, user)
        if code == -2 or flow is None:
            if code == -1:
                log.info("failed to decode flow token")
                return -1
            log.debug("no flow token found - outbound not in use")
            return 0
        if flow.src_ip == ctx.src.ip.strip("[]") and flow.src_port == ctx.src.port:
            log.debug("Not using flow-token for routing")
            return 0
        sock = grep_socket(self.core.sockets, flow.dst_ip, flow.dst_port, flow.proto, advertised_port=False)
        if sock is None:
            log.info("cannot find socket from flow-token")
            return -1
        ctx.force_socket = sock
        host = f"[{flow.src_ip}]" if ":" in flow.src_ip else flow.src_ip
        ctx.dst_uri = f"sip:{host}:{flow.src_port};transport={flow.proto}"
        return 1

    def _after_strict(self, ctx: MessageContext, msg: Request, lines: list[_Line]) -> int:
        elems = self._elems(lines)
        edits = _Edits(lines)
        ctx.local[_ROUTED] = _uri_params(ctx.ruri)
        pos = 0
        top = elems[0]
        if self.enable_double_rr and _is_2rr(_uri_params(top.uri)) and self._is_myself(top.uri):
            self._force_socket_to(ctx, top.uri, default_port=False)
            if len(elems) < 2 or elems[1].line != top.line:
                edits.remove_line(top.line)
            if len(elems) < 2:
                edits.apply(msg)
                return RR_NOT_DRIVEN
            pos = 1
        rt = elems[pos]
        line = lines[rt.line]
        idx = line.elems.index(rt)
        if _is_strict(_uri_params(rt.uri)):
            ctx.new_ruri = _maddr_uri(rt.uri)
            edits.remove_through(rt)
        else:
            ctx.dst_uri = _maddr_uri(rt.uri)
            if idx > 0:
                edits.remove(rt.line, line.body, rt.start)
            last_line = lines[max(i for i, ln in enumerate(lines) if ln.elems)]
            last = last_line.elems[-1]
            ctx.new_ruri = _maddr_uri(last.uri)
            if len(last_line.elems) > 1:
                edits.remove(last.line, last_line.elems[-2].end, last.end)
            else:
                edits.remove_line(last.line)
        edits.apply(msg)
        self._run_callbacks(ctx, ctx.local[_ROUTED])
        return RR_DRIVEN

    # -- route params and direction --
    def _routed_params(self, ctx: MessageContext) -> str | None:
        if _ROUTED in ctx.local:
            return ctx.local[_ROUTED] or None
        msg = ctx.msg
        if not isinstance(msg, Request):
            return None
        elems = self._elems(_route_lines(msg))
        if elems and self._is_myself(elems[0].uri):
            return _uri_params(elems[0].uri) or None
        return None

    def get_route_param(self, ctx: MessageContext, name: str) -> str | None:
        for part in (self._routed_params(ctx) or "").split(";"):
            key, eq, value = part.partition("=")
            if key.strip() == name:
                return value.strip() if eq else ""
        return None

    def check_route_param(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        params = self._routed_params(ctx)
        if not params:
            return -1
        return 1 if regex.search(";" + params) else -1

    def _direction(self, ctx: MessageContext) -> int:
        cached = ctx.local.get(_DIRECTION)
        if cached:
            return int(cached)
        direction = DOWNSTREAM
        params = self._routed_params(ctx) or ""
        ftag = None
        for part in params.split(";"):
            name, eq, value = part.partition("=")
            if name.strip() == "ftag":
                ftag = value.strip().strip('"') if eq else ""
                break
        from_ = ctx.msg.from_ if isinstance(ctx.msg, Request) else None
        if ftag and from_ is not None and from_.tag and from_.tag != ftag:
            direction = UPSTREAM
        ctx.local[_DIRECTION] = direction
        return direction

    def is_direction(self, ctx: MessageContext, dir: str) -> int:
        want = {"downstream": DOWNSTREAM, "upstream": UPSTREAM}.get(dir.strip().lower())
        if want is None:
            log.error("unknown direction '%s'", dir)
            return -1
        return 1 if self._direction(ctx) == want else -1

    def rr_next_hop_route(self, ctx: MessageContext) -> int:
        return 1 if ctx.local.get(_ROUTE_ADDR) else -1

    # -- pseudo-variables --
    def pv_route_uri(self, spec: PVar) -> _Reader:
        def get(ctx: MessageContext) -> str | None:
            msg = ctx.msg
            if not isinstance(msg, Request):
                return None
            elems = self._elems(_route_lines(msg))
            return elems[0].uri if elems else None
        return _Reader(get)

    def _initial_tag(self, ctx: MessageContext, from_side: bool) -> str | None:
        msg = ctx.msg
        upstream = self._direction(ctx) == UPSTREAM
        na = msg.from_ if from_side != upstream else msg.to
        return na.tag if na is not None and na.tag else None

    def pv_fti(self, spec: PVar) -> _Reader:
        return _Reader(lambda ctx: self._initial_tag(ctx, True))

    def pv_tti(self, spec: PVar) -> _Reader:
        return _Reader(lambda ctx: self._initial_tag(ctx, False))

    def pv_rdir(self, spec: PVar) -> _Reader:
        name = (spec.arg or "").strip()
        if name not in ("id", "name"):
            raise ValueError(f"unknown PV rdir key: {name}")
        if name == "name":
            return _Reader(lambda ctx: "upstream" if self._direction(ctx) == UPSTREAM else "downstream")
        return _Reader(lambda ctx: self._direction(ctx))


class _Reader:
    def __init__(self, get: Any) -> None:
        self.get = get
