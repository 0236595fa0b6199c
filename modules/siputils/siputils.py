"""siputils: checks and small rewrites of URIs, tel numbers and request properties."""
from __future__ import annotations

import logging
import re
from typing import Any

from kampy.api import (
    URI,
    CoreAPI,
    MessageContext,
    Module,
    PVAccessor,
    PVar,
    Request,
    SIPProtocolError,
    SlAPI,
    parse_uri,
)

from . import contacts as co
from .pcv import PCV_NAMES, ChargingVector
from .rpid import Rpid

log = logging.getLogger("kampy.siputils")

_E164 = re.compile(r"\+[0-9]{2,15}")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length", "f": "from",
            "t": "to", "v": "via", "c": "content-type", "k": "supported", "s": "subject", "o": "event",
            "u": "allow-events", "r": "refer-to", "b": "referred-by", "x": "session-expires",
            "y": "identity", "a": "accept-contact", "j": "reject-contact", "d": "request-disposition",
            "n": "identity-info"}
# URI parameters that must match when present in either URI (RFC 3261 19.1.4)
_STRICT_PARAMS = ("user", "ttl", "method", "maddr", "transport")
_DEFAULT_PORTS = {"sip": 5060, "sips": 5061}
_OPTIONS_HEADERS = (("Accept", "options_accept"), ("Accept-Encoding", "options_accept_encoding"),
                    ("Accept-Language", "options_accept_language"), ("Supported", "options_support"))


def _uri(text: str) -> URI | None:
    try:
        return parse_uri(text.strip())
    except SIPProtocolError:
        return None


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def uris_equal(a: URI, b: URI) -> bool:
    """SIP URI comparison of RFC 3261 19.1.4."""
    if a.scheme.lower() != b.scheme.lower() or a.user != b.user or a.password != b.password:
        return False
    if (a.host or "").lower() != (b.host or "").lower() or a.port != b.port:
        return False
    for name in _STRICT_PARAMS:
        in_a, in_b = name in a.params, name in b.params
        if in_a != in_b or _lower(a.params.get(name)) != _lower(b.params.get(name)):
            return False
    for name in a.params:
        if name in b.params and _lower(a.params[name]) != _lower(b.params[name]):
            return False
    return sorted((a.headers or "").split("&")) == sorted((b.headers or "").split("&"))


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


class SiputilsModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.sl: SlAPI = core.api("sl")
        self.rpid = Rpid(params, core)
        self.separator = (params["contact_flds_separator"] or "*")[0]
        self.pcv = ChargingVector(core.clock.time)

    def fix_ring_timeout(self, value: Any) -> int:
        """The cfg framework's fix-up of `siputils.ring_timeout` (Kamailio's: a positive number)."""
        if int(value) <= 0:
            raise ValueError("ring_timeout must be positive")
        return int(value)

    # ------------------------------------------------------------ message kind

    def is_request(self, ctx: MessageContext) -> int:
        return 1 if isinstance(ctx.msg, Request) else -1

    def is_reply(self, ctx: MessageContext) -> int:
        return -1 if isinstance(ctx.msg, Request) else 1

    def has_totag(self, ctx: MessageContext) -> int:
        try:
            to = ctx.msg.to
        except SIPProtocolError:
            return -1
        return 1 if to is not None and to.tag else -1

    def is_first_hop(self, ctx: MessageContext, mode: int = 0) -> int:
        msg = ctx.msg
        if isinstance(msg, Request):
            return 1 if len(msg.vias) == 1 else -1
        routes = msg.record_routes
        if not routes:
            return -1
        top = routes[0].uri
        host = (top.host or "").strip("[]")
        is_ip = bool(re.fullmatch(r"[0-9.]+|[0-9A-Fa-f:]+", host))
        if not self.core.is_myself(host, top.port):
            return -1
        if mode == 0 and (not is_ip or self.core.is_myself(ctx.src.ip)):
            return -1
        return 1

    def is_supported(self, ctx: MessageContext, option: str) -> int:
        wanted = option.strip().lower()
        return 1 if any(v.strip().lower() == wanted for v in ctx.msg.headers_named("Supported")) else -1

    def hdr_date_check(self, ctx: MessageContext, tdiff: int) -> int:
        try:
            date = ctx.msg.date
        except SIPProtocolError:
            return -1
        if date is None:
            return -1
        return -1 if self.core.clock.time() > date.timestamp() + tdiff else 1

    def options_reply(self, ctx: MessageContext) -> int:
        """200 OK with Allow/Accept/... to an OPTIONS for the server itself (no user in the R-URI)."""
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method != "OPTIONS":
            log.error("options_reply: not an OPTIONS request")
            return -1
        uri = _uri(ctx.ruri)
        if uri is None or uri.user:
            log.error("options_reply: the R-URI is not for the server")
            return -1
        lumps = "".join(f"{name}: {self.params[param] or ''}\r\n" for name, param in _OPTIONS_HEADERS)
        ctx.reply_lumps.append(lumps)
        return 1 if self.sl.reply(ctx, 200, "OK") > 0 else -1

    # ------------------------------------------------------------ R-URI parameters
    def _ruri(self, ctx: MessageContext) -> URI | None:
        return _uri(ctx.ruri) if isinstance(ctx.msg, Request) else None

    def uri_param(self, ctx: MessageContext, param: str, value: str | None = None) -> int:
        uri = self._ruri(ctx)
        if uri is None:
            return -1
        for name in uri.params:
            if name == param:  # Kamailio compares parameter names case-sensitively here
                got = uri.params[name]
                if value is None:
                    return 1 if not got else -1
                return 1 if got == value else -1
        return -1

    def uri_param_any(self, ctx: MessageContext, param: str) -> int:
        uri = self._ruri(ctx)
        return 1 if uri is not None and any(n == param for n in uri.params) else -1

    def add_uri_param(self, ctx: MessageContext, param: str) -> int:
        if not param:
            return 1
        uri = self._ruri(ctx)
        if uri is None:
            return -1
        ruri = ctx.ruri
        head, qmark, headers = ruri.partition("?")
        return self._set_ruri(ctx, f"{head};{param}{qmark}{headers}")

    def uri_param_rm(self, ctx: MessageContext, param: str) -> int:
        uri = self._ruri(ctx)
        if uri is None or param.lower() not in (n.lower() for n in uri.params):
            return -1
        head, qmark, headers = ctx.ruri.partition("?")
        base, *params = head.split(";")
        kept = [p for p in params if p.partition("=")[0].strip().lower() != param.lower()]
        return self._set_ruri(ctx, ";".join([base, *kept]) + qmark + headers)

    def get_uri_param(self, ctx: MessageContext, name: str, var: PVAccessor) -> int:
        uri = self._ruri(ctx)
        if uri is None or name not in uri.params:
            return -1
        var.set(ctx, uri.params[name] or "")  # type: ignore[attr-defined]
        return 1

    def _set_ruri(self, ctx: MessageContext, uri: str) -> int:
        try:
            ctx.msg.set_ruri(uri)  # type: ignore[union-attr]
        except ValueError as exc:
            log.error("invalid R-URI: %s", exc)
            return -1
        ctx.new_ruri = uri
        return 1

    # ------------------------------------------------------------ URIs in variables
    def is_uri(self, ctx: MessageContext, value: str) -> int:
        return 1 if _uri(value) is not None else -1

    def is_e164(self, ctx: MessageContext, pv: PVAccessor) -> int:
        value = pv.get(ctx)
        return 1 if isinstance(value, str) and _E164.fullmatch(value) else -1

    def is_uri_user_e164(self, ctx: MessageContext, pv: PVAccessor) -> int:
        uri = _uri(_str(pv.get(ctx)))
        return 1 if uri is not None and uri.user and _E164.fullmatch(uri.user) else -1

    def tel2sip(self, ctx: MessageContext, uri: str | None, hostpart: str | None, result: PVAccessor) -> int:
        if uri is None or hostpart is None:
            log.error("failed to get %s value", "uri" if uri is None else "hostpart")
            return -1
        if len(uri) < 4 or uri[:4].lower() != "tel:":
            return 2
        number, semi, params = uri.partition(";")
        number = "".join(c for c in number if c not in "-.()").lower()
        result.set(ctx, f"sip:{number[4:]}{semi}{params.lower()}@{hostpart};user=phone")  # type: ignore[attr-defined]
        return 1

    def set_uri_user(self, ctx: MessageContext, pv: PVAccessor, user: str) -> int:
        uri = _uri(_str(pv.get(ctx)))
        if uri is None or not uri.is_sip:
            return -1
        uri.user = user or None
        if not user:
            uri.password = None
        pv.set(ctx, str(uri))  # type: ignore[attr-defined]
        return 1

    def set_uri_host(self, ctx: MessageContext, pv: PVAccessor, host: str) -> int:
        uri = _uri(_str(pv.get(ctx)))
        if uri is None or not uri.is_sip or not host:
            return -1
        uri.host = host
        pv.set(ctx, str(uri))  # type: ignore[attr-defined]
        return 1

    def cmp_uri(self, ctx: MessageContext, s1: str, s2: str) -> int:
        a, b = _uri(s1), _uri(s2)
        if a is None or b is None:
            return -2
        return 1 if uris_equal(a, b) else -1

    def cmp_aor(self, ctx: MessageContext, s1: str, s2: str) -> int:
        a, b = _uri(s1), _uri(s2)
        if a is None or b is None:
            return -2
        if a.user != b.user or (a.host or "").lower() != (b.host or "").lower():
            return -1
        port_a = a.port or _DEFAULT_PORTS.get(a.scheme.lower())
        port_b = b.port or _DEFAULT_PORTS.get(b.scheme.lower())
        return 1 if port_a == port_b else -1

    def cmp_hdr_name(self, ctx: MessageContext, s1: str, s2: str) -> int:
        def canon(name: str) -> str:
            low = name.strip().lower()
            return _COMPACT.get(low, low)
        return 1 if canon(s1) == canon(s2) else -1

    def is_gruu(self, ctx: MessageContext, uri: str | None = None) -> int:
        parsed = _uri(uri) if uri is not None else self._ruri(ctx)
        if parsed is None or "gr" not in parsed.params:
            return -1
        return 1 if parsed.params["gr"] else 2

    # ------------------------------------------------------------ strings
    def is_tel_number(self, ctx: MessageContext, value: str) -> int:
        if not value:
            return -2
        digits = value
        if value[0] == "+":
            if len(value) < 2 or value[1] not in "123456789":
                return -2
            digits = value[2:]
        return 1 if all(c in "0123456789" for c in digits) else -2

    def is_numeric(self, ctx: MessageContext, value: str) -> int:
        return 1 if value and all(c in "0123456789" for c in value) else -2

    def is_alphanum(self, ctx: MessageContext, value: str) -> int:
        if not value:
            return -2
        return 1 if all(c in _ALNUM for c in value) else -3

    def is_alphanumex(self, ctx: MessageContext, value: str, extra: str) -> int:
        if not value:
            return -2
        return 1 if all(c in _ALNUM or c in extra for c in value) else -3

    # ------------------------------------------------------------ Remote-Party-ID (rpid.py)
    def append_rpid_hf(self, ctx: MessageContext, prefix: str | None = None,
                       suffix: str | None = None) -> int:
        return self.rpid.append(ctx, prefix, suffix)

    def is_rpid_user_e164(self, ctx: MessageContext) -> int:
        return self.rpid.is_user_e164(ctx)

    # ------------------------------------------------------------ credentials
    def is_user(self, ctx: MessageContext, user: str) -> int:
        creds = ctx.authorized()
        if creds is None:
            log.error("no authorized credentials found (error in scripts)")
            log.error("Call {www,proxy}_authorize before calling is_user function !")
            return -1
        return 1 if creds.user and creds.user == user else -1

    # ------------------------------------------------------------ Contact encoding (contacts.py)
    def _no_contact(self, ctx: MessageContext) -> bool:
        if ctx.msg.get_all_raw("contact"):
            return False
        log.error("no Contact header present")
        return True

    def encode_contact(self, ctx: MessageContext, prefix: str, public_ip: str) -> int:
        if self._no_contact(ctx):
            return -1
        return co.rewrite_contacts(
            ctx, lambda uri, _: co.encode_uri(uri, prefix, public_ip, self.separator), all_headers=False)

    def decode_contact(self, ctx: MessageContext) -> int:
        if not isinstance(ctx.msg, Request):
            return -1
        new = co.decode_uri(ctx.ruri, self.separator)
        if isinstance(new, int):
            log.error("failed decoding contact [%s] - return code %d", ctx.ruri, new)
            return new
        return self._set_ruri(ctx, new)

    def decode_contact_header(self, ctx: MessageContext) -> int:
        if self._no_contact(ctx):
            return -1
        return co.rewrite_contacts(ctx, lambda uri, _: co.decode_uri(uri, self.separator), all_headers=False)

    def contact_param_encode(self, ctx: MessageContext, nparam: str, saddr: str) -> int:
        def encode(uri: str, bracketed: bool) -> str | int:
            if len(uri) <= 4:
                return 0
            new = f"{saddr};{nparam}={co.b64url_encode(uri)}"
            return new if bracketed else f"<{new}>"
        return co.rewrite_contacts(ctx, encode, all_headers=False)

    def contact_param_decode(self, ctx: MessageContext, nparam: str) -> int:
        return co.rewrite_contacts(
            ctx, lambda uri, _: 0 if len(uri) < 4 else co.param_decode(uri, nparam), all_headers=True)

    def contact_param_decode_ruri(self, ctx: MessageContext, nparam: str) -> int:
        return co.decode_ruri(ctx, nparam)

    def contact_param_rm(self, ctx: MessageContext, nparam: str) -> int:
        return co.rewrite_contacts(
            ctx, lambda uri, _: 0 if len(uri) < 4 else co.param_remove(uri, nparam), all_headers=True)

    # ------------------------------------------------------------ P-Charging-Vector (pcv.py)
    def sip_p_charging_vector(self, ctx: MessageContext, flags: str) -> int:
        return self.pcv.handle(ctx, flags)

    def pv_pcv(self, spec: PVar) -> _PcvReader:
        name = PCV_NAMES.get(spec.arg or "")
        if name is None:
            raise ValueError(f"unknown pcv name {spec.arg}")
        return _PcvReader(lambda ctx: self.pcv.get(ctx, name))


class _PcvReader:
    def __init__(self, get: Any) -> None:
        self.get = get
