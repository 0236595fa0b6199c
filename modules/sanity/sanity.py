"""sanity: Kamailio's sanity checks of a request, replying with its codes and reason texts."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from kampy.api import (
    CoreAPI,
    MessageContext,
    Module,
    Request,
    SIPProtocolError,
    SlAPI,
    parse_name_addr,
    parse_uri,
)

log = logging.getLogger("kampy.sanity")

RURI_SIP_VERSION, RURI_SCHEME, REQUIRED_HEADERS, VIA_SIP_VERSION = 1, 2, 4, 8
VIA_PROTOCOL, CSEQ_METHOD, CSEQ_VALUE, CL = 16, 32, 64, 128
EXPIRES_VALUE, PROXY_REQUIRE, PARSE_URIS, CHECK_DIGEST = 256, 512, 1024, 2048
CHECK_DUPTAGS, CHECK_AUTHORIZATION, VIA1_HEADER, MAX_CHECKS = 4096, 8192, 16384, 32768
URI_RURI, URI_FROM, URI_TO, URI_CONTACT, URI_MAX_CHECKS = 1, 2, 4, 8, 16

PASSED, FAILED = 1, 0
_INFO = "sanity.reply"   # ctx.local: (code, reason) kept for sanity_reply() when noreply is set
_URI_SCHEMES = ("sip", "sips", "tel", "tels", "urn")
_AUTH_PARAM = re.compile(r'([\w-]+)\s*=\s*("[^"]*"|[^,\s]*)')
_TAG = re.compile(r";\s*tag\s*=", re.I)


class Failed(Exception):
    """A check failed; `code`/`reason` is the reply to send (None: no reply)."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _uint(text: str) -> bool:
    """Kamailio's str2valid_uint as it behaves: digits only, at most 10 of them."""
    return text.isdigit() and len(text) <= 10


class SanityModule(Module):

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.sl: SlAPI = core.api("sl")
        self.default_checks = int(params["default_checks"])
        self.uri_checks = int(params["uri_checks"])
        self.autodrop = int(params["autodrop"])
        self.noreply = int(params["noreply"])
        tokens = str(params["proxy_require"] or "").split(",")
        self.proxy_require = [t.strip() for t in tokens if t.strip()]

    # ------------------------------------------------------------ cfg functions
    def sanity_check(self, ctx: MessageContext, msg_checks: int | None = None,
                     uri_checks: int | None = None) -> int:
        checks = self.default_checks if msg_checks is None else msg_checks
        uchecks = self.uri_checks if uri_checks is None else uri_checks
        if not 1 <= checks < MAX_CHECKS:
            log.error("input parameter (%d) outside of valid range <1-%d)", checks, MAX_CHECKS)
            return -1
        if not 1 <= uchecks < URI_MAX_CHECKS:
            log.error("second input parameter (%d) outside of valid range <1-%d", uchecks, URI_MAX_CHECKS)
            return -1
        ret = self.run_checks(ctx, checks, uchecks)
        if self.autodrop:
            return ret
        return -1 if ret == FAILED else ret

    def check_defaults(self, ctx: MessageContext) -> int:
        """SanityAPI: the default checks (Kamailio's sanity_api_t check_defaults)."""
        return self.run_checks(ctx, self.default_checks, self.uri_checks)

    def sanity_reply(self, ctx: MessageContext) -> int:
        if not self._may_reply(ctx) or not self.noreply:
            return 1
        code, reason = ctx.local.get(_INFO) or (500, "Server Sanity Failure")
        return 1 if self.sl.reply(ctx, code, reason) > 0 else -1

    # ------------------------------------------------------------ checks
    def run_checks(self, ctx: MessageContext, checks: int, uri_checks: int) -> int:
        """1 when every selected check passes, 0 when one fails (after replying as configured)."""
        ctx.local.pop(_INFO, None)
        msg = ctx.msg
        try:
            for bit, check in self._checks():
                if checks & bit:
                    check(msg, uri_checks)
        except Failed as fail:
            log.debug("sanity check failed: %s", fail.reason or "no reply")
            if fail.code is None:
                ctx.noreply = True
            else:
                if isinstance(fail, _ProxyRequireFailed) and self._may_reply(ctx):
                    ctx.reply_lumps.append(f"Unsupported: {fail.token}\r\n")
                self._reply(ctx, fail.code, fail.reason)
            return FAILED
        return PASSED

    def _checks(self) -> list[tuple[int, Callable[[Any, int], None]]]:
        return [(RURI_SIP_VERSION, self._ruri_version), (RURI_SCHEME, self._ruri_scheme),
                (REQUIRED_HEADERS, self._required_headers), (VIA1_HEADER, self._via1),
                (CSEQ_METHOD, self._cseq_method), (CSEQ_VALUE, self._cseq_value), (CL, self._cl),
                (EXPIRES_VALUE, self._expires), (PROXY_REQUIRE, self._proxy_require),
                (PARSE_URIS, self._parse_uris), (CHECK_DIGEST, self._digest),
                (CHECK_AUTHORIZATION, self._digest), (CHECK_DUPTAGS, self._duptags)]

    def _may_reply(self, ctx: MessageContext) -> bool:
        msg = ctx.msg
        return isinstance(msg, Request) and msg.method != "ACK" and not ctx.noreply

    def _reply(self, ctx: MessageContext, code: int, reason: str) -> None:
        if not self._may_reply(ctx):
            return
        if self.noreply:
            ctx.local[_INFO] = (code, reason)
            return
        if self.sl.reply(ctx, code, reason) < 0:
            log.warning("failed to send %d via sl reply", code)

    def _ruri_version(self, msg: Any, _: int) -> None:
        if isinstance(msg, Request) and msg.start_line.rpartition(" ")[2] != "SIP/2.0":
            raise Failed(505, "Version Not Supported (R-URI)")

    def _ruri_scheme(self, msg: Any, _: int) -> None:
        if not isinstance(msg, Request):
            return
        try:
            uri = msg.ruri
        except SIPProtocolError:
            raise Failed(400, "Bad Request URI") from None
        if uri.scheme.lower() not in _URI_SCHEMES:
            raise Failed(400, "Bad Request URI")

    def _required_headers(self, msg: Any, _: int) -> None:
        if not all(msg.has_header(h) for h in ("From", "To", "Call-ID", "CSeq")):
            raise Failed()
        if any(len(msg.get_all_raw(h)) > 1 for h in ("From", "To", "Call-ID", "CSeq")):
            raise Failed()

    def _via1(self, msg: Any, _: int) -> None:
        try:
            if msg.via is None:
                raise Failed()
        except SIPProtocolError:
            raise Failed() from None

    def _cseq_parts(self, msg: Any) -> tuple[str, str]:
        raw = msg.get_all_raw("CSeq")
        if not raw:
            raise Failed()
        parts = raw[0].partition(b":")[2].decode("utf-8", "surrogateescape").split()
        if len(parts) > 2:
            raise Failed()
        return (parts + ["", ""])[0], (parts + ["", ""])[1]

    def _cseq_method(self, msg: Any, _: int) -> None:
        number, method = self._cseq_parts(msg)
        if not method:
            raise Failed(400, "Missing method in CSeq header")
        if isinstance(msg, Request) and method != msg.method:
            raise Failed(400, "CSeq method does not match request method")

    def _cseq_value(self, msg: Any, _: int) -> None:
        number, _method = self._cseq_parts(msg)
        if not number:
            raise Failed(400, "Missing number in CSeq header")
        if not _uint(number):
            raise Failed(400, "CSeq number is illegal")

    def _cl(self, msg: Any, _: int) -> None:
        raw = msg.get_all_raw("Content-Length")
        if not raw:
            return
        value = raw[0].partition(b":")[2].strip()
        if not value.isdigit():
            raise Failed(400, "Content-Length Failure")
        if int(value) != len(msg.body):
            raise Failed(400, "Content-Length mis-match")

    def _expires(self, msg: Any, _: int) -> None:
        raw = msg.get_all_raw("Expires")
        if not raw:
            return
        value = raw[0].partition(b":")[2].strip().decode("utf-8", "surrogateescape")
        if not value:
            raise Failed(400, "Bad Expires Header")
        if not _uint(value):
            raise Failed(400, "Expires value is illegal")

    def _proxy_require(self, msg: Any, _: int) -> None:
        for token in msg.headers_named("Proxy-Require"):
            if token not in self.proxy_require:
                raise _ProxyRequireFailed(token)

    def _parse_uris(self, msg: Any, uri_checks: int) -> None:
        if uri_checks & URI_RURI and isinstance(msg, Request):
            self._try(lambda: msg.ruri, "Bad Request URI")
        if uri_checks & URI_FROM:
            self._require_uri(msg, "From", "Invalid From Header")
        if uri_checks & URI_TO:
            self._require_uri(msg, "To", "Ivalid To Header")  # sic, Kamailio's text
        if uri_checks & URI_CONTACT and isinstance(msg, Request) and msg.method in ("INVITE", "REGISTER",
                                                                                   "SUBSCRIBE", "NOTIFY"):
            self._try(lambda: msg.contacts, "Bad Contact Header")
            for value in msg.headers_named("Contact"):
                if value != "*":
                    self._try(lambda v=value: parse_uri(str(parse_name_addr(v).uri)), "Bad Contact URI")

    def _require_uri(self, msg: Any, name: str, reason: str) -> None:
        value = msg.header(name)
        if value is None:
            raise Failed(400, reason)
        self._try(lambda: parse_name_addr(value), reason)

    @staticmethod
    def _try(fn: Callable[[], Any], reason: str) -> None:
        try:
            fn()
        except SIPProtocolError:
            raise Failed(400, reason) from None

    def _digest(self, msg: Any, _: int) -> None:
        for name in ("Authorization", "Proxy-Authorization"):
            for value in _raw_values(msg, name):
                scheme, _, rest = value.strip().partition(" ")
                if scheme.lower() != "digest":
                    continue
                params = {k.lower(): v.strip('"') for k, v in _AUTH_PARAM.findall(rest)}
                if not params:
                    raise Failed(400, "Bad Auth Header")
                for key, reason in (("username", "Auth Empty User"), ("nonce", "Auth Empty Nonce"),
                                    ("response", "Auth Empty Response")):
                    if not params.get(key):
                        raise Failed(400, reason)

    def _duptags(self, msg: Any, _: int) -> None:
        for name, reason in (("From", "Many From Tag Params"), ("To", "Many To Tag Params")):
            value = msg.header(name) or ""
            params = value.rpartition(">")[2] if "<" in value else value
            if len(_TAG.findall(params)) > 1:
                raise Failed(400, reason)


class _ProxyRequireFailed(Failed):
    def __init__(self, token: str) -> None:
        super().__init__(420, "Bad Proxy Require Extension")
        self.token = token


def _raw_values(msg: Any, name: str) -> list[str]:
    return [raw.partition(b":")[2].decode("utf-8", "surrogateescape").strip()
            for raw in msg.get_all_raw(name)]
