"""uac_req_send(), $uac_req(...) and event_route[uac:reply] (Kamailio's uac_send.c).

$uac_req is Kamailio's per-process buffer: set in one route, sent by uac_req_send() in the same
process. A request with `auser`/`apasswd` answered 401/407 is sent again once, authenticated."""
from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from typing import Any

from kampy.api import (
    L_DBG,
    L_ERR,
    TMCB_LOCAL_COMPLETED,
    CoreAPI,
    MessageContext,
    Response,
    RouteType,
    Source,
    TmcbParams,
    TmTransaction,
    UacDialog,
    grep_socket,
    log_at,
    module_logger,
)

from . import digest

log = module_logger("uac")

UAC_SEND_FL_HA1 = 1
REPLY_ROUTE = "uac:reply"
# name -> (field, max length; 0 for an integer field)
FIELDS: dict[str, tuple[str, int]] = {
    "ruri": ("ruri", 1024), "turi": ("turi", 1024), "furi": ("furi", 1024), "hdrs": ("hdrs", 2048),
    "body": ("body", 32768), "ouri": ("ouri", 1024), "method": ("method", 32), "auser": ("auser", 128),
    "apasswd": ("apasswd", 64), "callid": ("callid", 128), "sock": ("sock", 1024),
    "evparam": ("evparam", 128), "evroute": ("evroute", 0), "evcode": ("evcode", 0),
    "evtype": ("evtype", 0), "flags": ("flags", 0),
}
_RESET_ON_ALL = ("flags", "ruri", "furi", "turi", "ouri", "hdrs", "body", "method", "callid", "evroute",
                 "evtype", "evcode", "evparam")


@dataclass
class SendInfo:
    """Kamailio's uac_send_info_t."""

    flags: int = 0
    method: str = ""
    ruri: str = ""
    turi: str = ""
    furi: str = ""
    callid: str = ""
    hdrs: str = ""
    body: str = ""
    ouri: str = ""
    sock: str = ""
    auser: str = ""
    apasswd: str = ""
    evparam: str = ""
    evroute: int = 0
    evcode: int = 0
    evtype: int = 0


class _Accessor:
    def __init__(self, get: Any, set_: Any) -> None:
        self.get = get
        self.set = set_


class UacSender:
    def __init__(self, module: Any, core: CoreAPI, params: dict[str, Any]) -> None:
        self.module = module
        self.core = core
        self.req = SendInfo()
        self.default_socket = params["default_socket"] or ""
        self.event_callback = params["event_callback"] or ""
        if self.default_socket and self._socket(self.default_socket) is None:
            raise ValueError(f"non-local socket <{self.default_socket}>")

    # ------------------------------------------------------------ $uac_req(name)
    def accessor(self, spec: Any) -> _Accessor:
        name = (spec.arg or "").strip()
        if name != "all" and name not in FIELDS:
            raise ValueError(f"unknown uac_req name {name}")

        def get(ctx: MessageContext) -> str | int | None:
            if name == "all":
                return self.req.flags
            field, size = FIELDS[name]
            value = getattr(self.req, field)
            if size == 0:
                return int(value)
            return value or None

        def set_(ctx: MessageContext, value: Any) -> None:
            self._set(name, value)
        return _Accessor(get, set_)

    def _set(self, name: str, value: Any) -> None:
        if name == "all":
            if value is None:
                fresh = SendInfo(auser=self.req.auser, apasswd=self.req.apasswd, sock=self.req.sock)
                for field in _RESET_ON_ALL:
                    setattr(self.req, field, getattr(fresh, field))
            return
        field, size = FIELDS[name]
        if value is None:
            setattr(self.req, field, 0 if size == 0 else "")
            return
        if size == 0:
            if not isinstance(value, int):
                log_at(log, L_ERR, "Invalid value type")
                return
            setattr(self.req, field, value)
            return
        if not isinstance(value, str):
            log_at(log, L_ERR, "Invalid value type")
            return
        if len(value.encode()) >= size:
            log_at(log, L_ERR, "Value size too big")
            return
        setattr(self.req, field, value)

    # ------------------------------------------------------------ uac_req_send()
    def send(self) -> int:
        info = self.req
        if not info.ruri or not info.method:
            return -1
        tp = copy.copy(info) if (info.auser and info.apasswd) or info.evroute > 0 else None
        reply_cb = (lambda code, rpl: self._completed(tp, code, rpl)) if tp is not None else None
        return 1 if self.send_new(info.method, info.ruri, info.turi or info.ruri, info.furi or info.ruri,
                                  info.hdrs, info.body.encode(), info.ouri, info.sock, info.callid,
                                  reply_cb) >= 0 else -1

    def socket_or_default(self, sock: str) -> Any:
        """The local socket `sock` names, else the default_socket's (None: tm chooses)."""
        text = sock or self.default_socket
        return self._socket(text) if text else None

    def send_new(self, method: str, ruri: str, to: str, frm: str, hdrs: str, body: bytes, ouri: str,
                 sock: str, callid: str, reply_cb: Any) -> int:
        """tm's t_request for a request of a new dialog (from `sock`, else default_socket); through
        t_uac when a Call-ID is given (t_request makes its own)."""
        tm = self.module.tm
        sock = sock or self.default_socket
        socket = self._socket(sock) if sock else None
        if sock and socket is None:
            log_at(log, L_ERR, "non-local socket <%s>", sock)
            return -1
        if not callid:
            return int(tm.t_request(method, ruri, to, frm, headers=hdrs, body=body, next_hop=ouri or None,
                                    callback=reply_cb, send_socket=socket))
        dialog = UacDialog(callid, secrets.token_hex(16), frm, to, remote_target=ruri, dst_uri=ouri or None,
                           send_socket=socket)
        cb = (lambda t, kind, p: reply_cb(p.code, p.rpl)) if reply_cb is not None else None
        return int(tm.t_uac(method, dialog, headers=hdrs, body=body, cb_types=TMCB_LOCAL_COMPLETED,
                            callback=cb))

    def _socket(self, text: str) -> Any:
        proto, _, rest = text.partition(":")
        if not rest:
            return None
        host, _, port = rest.rpartition(":")
        if not host:
            host, port = rest, "0"
        try:
            return grep_socket(self.core.sockets, host, int(port or 0), proto.lower())
        except ValueError:
            return None

    def _completed(self, tp: SendInfo | None, code: int, rpl: Response | None) -> None:
        """uac_send_tm_callback (evroute 1 or none) and uac_resend_tm_callback (evroute 2)."""
        if tp is None:
            return
        if tp.evroute == 2:
            if code >= 300:
                self.run_reply_route(rpl, tp, code)
            return
        if tp.evroute != 0 and code > 0:
            self.run_reply_route(rpl, tp, code)
        if code not in (401, 407) or not tp.apasswd or rpl is None:
            return
        self._resend(tp, code, rpl)

    def _resend(self, tp: SendInfo, code: int, rpl: Response) -> None:
        hname = digest.challenge_header(code)
        value = rpl.header(hname) if hname else None
        if value is None:
            log_at(log, L_ERR, "failed to extract authenticate hdr")
            return
        ch, why = digest.parse_challenge(value)
        if ch is None:
            log_at(log, L_ERR, "%s", why)
            return
        crd = digest.Credential(tp.auser, ch.realm, tp.apasswd, bool(tp.flags & UAC_SEND_FL_HA1))
        resp, cnonce = digest.response(tp.method, tp.ruri, crd, ch)
        hdrs = tp.hdrs + digest.authorization(code, tp.ruri, crd, ch, resp, cnonce)
        frm, to, cseq = rpl.from_, rpl.to, rpl.cseq
        if frm is None or to is None or cseq is None or not rpl.call_id:
            log_at(log, L_ERR, "failed to build tm dialog")
            return
        dialog = UacDialog(rpl.call_id, frm.tag or "", str(frm.uri), str(to.uri), local_seq=cseq.num,
                           remote_target=tp.ruri, dst_uri=tp.ouri or None,
                           send_socket=self._socket(tp.sock) if tp.sock else None)
        cb = None
        if tp.evroute != 0:
            def cb(t: TmTransaction, kind: int, p: TmcbParams) -> None:
                if p.code > 0:
                    self.run_reply_route(p.rpl, tp, p.code)
        if self.module.tm.t_request_within(tp.method, dialog, headers=hdrs, body=tp.body.encode(),
                                           cb_types=TMCB_LOCAL_COMPLETED, callback=cb) < 0:
            log_at(log, L_ERR, "failed to send request with authentication")

    def run_reply_route(self, rpl: Response | None, tp: SendInfo, code: int) -> None:
        """uac_req_run_event_route: $uac_req holds the request's fields, `evcode` the reply's
        status, `evtype` 1 for a received reply (the route's message), 2 for none (a timeout)."""
        if self.event_callback:
            log_at(log, L_DBG, "event callback (%s) set, but no cfg engine", self.event_callback)
            return
        if not self.core.has_route("event", REPLY_ROUTE):
            return
        self.req = copy.copy(tp)
        self.req.evcode = code
        if rpl is None:
            self.req.evtype = 2
            self.core.run_event_route(REPLY_ROUTE)
            return
        self.req.evtype = 1
        local = self.core.sockets[0] if self.core.sockets else None
        via = rpl.via
        src = Source("udp", via.host if via is not None else "127.0.0.1", 5060, local)  # type: ignore[arg-type]
        ctx = MessageContext(rpl, src, self.core, route_type=RouteType.REQUEST)
        self.core.run_event_route(REPLY_ROUTE, ctx)
