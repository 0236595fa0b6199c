"""The auth module: digest challenges and checks as Kamailio's auth module makes them.

`pre_auth` finds the credentials for a realm, marks them authorized and checks their nonce;
the caller (auth_db, pv_*_authenticate here) gets the user's HA1 and asks `check_response` and
`post_auth`. Challenges carry a new nonce (nonce.py): self-contained, signed with the secret every
worker shares, so any worker checks what another issued.
"""
from __future__ import annotations

from typing import Any

from kampy.api import (
    HDR_AUTHORIZATION,
    HDR_PROXYAUTH,
    L_DBG,
    L_ERR,
    QOP_AUTHINT,
    AuthCode,
    AuthResult,
    CoreAPI,
    Credentials,
    DigestCredentials,
    DigestSyntaxError,
    MessageContext,
    Module,
    PVAccessor,
    Request,
    SIPProtocolError,
    SlAPI,
    avp_add,
    log_at,
    module_logger,
    parse_digest_credentials,
    parse_uri,
)

from . import nonce as nonces
from .hashing import Digest
from .setup import challenge_avp, nonce_settings

log = module_logger("auth")

UNCHALLENGEABLE = ("ACK", "CANCEL", "PRACK")  # pre_auth: always authenticated
_CODES = {  # pre_auth's result -> what the authenticate functions return
    AuthResult.NONCE_REUSED: AuthCode.NONCE_REUSED, AuthResult.STALE_NONCE: AuthCode.STALE_NONCE,
    AuthResult.NO_CREDENTIALS: AuthCode.NO_CREDENTIALS, AuthResult.AUTHENTICATED: AuthCode.OK,
}
_CREDS = "auth.credentials"     # ctx.local: parsed credentials by (header, index)
_AUTHORIZED = "auth.authorized"  # ctx.local: the credentials pre_auth marked, by header type


def method_of(ctx: MessageContext) -> str:
    return ctx.msg.method if isinstance(ctx.msg, Request) else ""


class AuthModule(Module):
    """The auth module; the members of `AuthAPI` are what it offers auth_db and others."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.sl: SlAPI = core.api("sl")
        self.nonce_expire = int(params["nonce_expire"])
        self.max_drift = int(params["nonce_auth_max_drift"])
        self.realm_prefix = str(params["realm_prefix"] or "")
        self.checks = (int(params["auth_checks_register"]), int(params["auth_checks_no_dlg"]),
                       int(params["auth_checks_in_dlg"]))
        self.stateless = bool(int(params["force_stateless_reply"]))
        self.use_domain = bool(int(params["use_domain"]))
        self.add_authinfo_hdr = bool(int(params["add_authinfo_hdr"]))
        # kept as Kamailio 5.6 keeps it, in a variable no code reads (README, "Differences")
        self.protect_contacts = int(params["protect_contacts"])
        self.challenge_avp = challenge_avp(str(params["challenge_attr"]))
        self.headers = {HDR_PROXYAUTH: str(params["proxy_challenge_header"]),
                        HDR_AUTHORIZATION: str(params["www_challenge_header"])}
        self.algorithm_param = str(params["algorithm"] or "")
        self.digest = Digest(self.algorithm_param)
        self._qop = str(params["qop"])
        self.settings = nonce_settings(core, params)
        ids = self.settings.ids
        self.nonce_checks = nonces.NonceChecks(
            self.settings.secrets, self.settings.up_since, self.max_drift, self.settings.nc_enabled,
            self.settings.otn_enabled, ids.nc_check if ids else _unused, ids.otn_check if ids else _unused)

    # ------------------------------------------------------------ AuthAPI: settings

    @property
    def qop(self) -> str:
        return self._qop

    @property
    def algorithm(self) -> str:
        return self.digest.name

    def strip_realm(self, realm: str) -> str:
        prefix = self.realm_prefix
        if prefix and len(prefix) <= len(realm) and realm.startswith(prefix):
            return realm[len(prefix):]
        return realm

    # ------------------------------------------------------------ nonces and challenges

    def auth_checks(self, ctx: MessageContext | None) -> int:
        return nonces.auth_checks(ctx, *self.checks)

    def new_nonce(self, ctx: MessageContext | None, cfg: int) -> str:
        """calc_new_nonce(): valid from now for nonce_expire seconds."""
        now = int(self.core.clock.time())
        nid = pf = 0
        ids = self.settings.ids
        if ids is not None:
            nid, pf = ids.new()
            pf |= (nonces.NF_VALID_NC_ID if self.settings.nc_enabled else 0) | \
                (nonces.NF_VALID_OT_ID if self.settings.otn_enabled else 0)
        return nonces.calc_nonce(cfg if ctx is not None else 0, now, now + self.nonce_expire, nid, pf,
                                 self.settings.secrets, lambda: nonces.extra_parts(ctx, cfg) if ctx else b"")

    def challenge_hf(self, ctx: MessageContext | None, stale: bool, realm: str, nonce: str | None,
                     algorithm: str | None, qop: str | None, hftype: str) -> str:
        """get_challenge_hf(): the WWW-/Proxy-Authenticate header line, CRLF included."""
        realm = self.strip_realm(realm)
        if nonce is None:
            nonce = self.new_nonce(ctx, self.auth_checks(ctx))
        hf = f'{self.headers[hftype]}: Digest realm="{realm}", nonce="{nonce}"'
        if qop:
            hf += f', qop="{qop}"'
        if stale:
            hf += ", stale=true"
        if algorithm:
            hf += f", algorithm={algorithm}"
        return hf + "\r\n"

    def build_challenge(self, ctx: MessageContext, stale: bool, realm: str, nonce: str | None,
                        algorithm: str | None, hftype: str) -> int:
        hf = self.challenge_hf(ctx, stale, realm, nonce, algorithm, self._qop.strip() or None, hftype)
        avp_add(ctx, self.challenge_avp, hf)
        return 0

    def send_reply(self, ctx: MessageContext, code: int, reason: str, hf: str | None = None) -> int:
        """auth_send_reply(): the header as a reply lump, then sl's reply (stateful when tm has a
        transaction, unless force_stateless_reply)."""
        if hf:
            ctx.reply_lumps.append(hf)
        if self.stateless:
            return self.sl.reply(ctx, code, reason)
        return self.sl.send_reply(ctx, code, reason)

    def _challenge_qop(self, flags: int) -> str | None:
        return "auth-int" if flags & 2 else "auth" if flags & 1 else None

    def challenge_helper(self, ctx: MessageContext | None, realm: str, flags: int, hftype: str,
                         want_header: bool = False) -> tuple[int, str]:
        """auth_challenge_helper(): send the 401/407 (or only build its header): (code, header)."""
        try:
            hf = self.challenge_hf(ctx, bool(flags & 16), realm, None, self.algorithm_param or None,
                                   self._challenge_qop(flags), hftype)
        except Exception:  # noqa: BLE001  (the shared nonce state failed: Kamailio's error path)
            log.exception("Error while creating challenge")
            if ctx is not None and not flags & 4 and self.send_reply(ctx, 500, "Internal Server Error") < 0:
                return -4, ""
            return -2, ""
        if want_header:
            return 1, hf
        assert ctx is not None
        if hftype == HDR_AUTHORIZATION:
            sent = self.send_reply(ctx, 401, "Unauthorized", hf)
        else:
            sent = self.send_reply(ctx, 407, "Proxy Authentication Required", hf)
        return (1 if sent >= 0 else -3), hf

    def auth_challenge_hftype(self, ctx: MessageContext, realm: str, flags: int, hftype: str) -> int:
        return self.challenge_helper(ctx, realm, flags, hftype)[0]

    def _challenge_error(self, ctx: MessageContext, flags: int, what: str) -> int:
        log_at(log, L_ERR, "%s", what)
        if not flags & 4 and self.send_reply(ctx, 500, "Internal Server Error") < 0:
            return -4
        return -1

    # ------------------------------------------------------------ credentials

    def credentials(self, ctx: MessageContext, hftype: str) -> list[DigestCredentials | None | Exception]:
        """Each `hftype` header's credentials, parsed once per message (None: another scheme)."""
        cache = ctx.local.setdefault(_CREDS, {})
        found = cache.get(hftype)
        if found is None:
            found = []
            for index, value in enumerate(ctx.msg.headers_named(hftype)):
                try:
                    found.append(parse_digest_credentials(value, hftype, index))
                except DigestSyntaxError as exc:
                    found.append(exc)
            cache[hftype] = found
        return found

    def find_credentials(self, ctx: MessageContext, realm: str,
                         hftype: str) -> tuple[int, DigestCredentials | None]:
        """find_credentials(): (0, cred) for the first with this realm, (1, None) none, (-1, None)
        a header that cannot be parsed (before one that matches)."""
        wanted = realm.lower()
        for cred in self.credentials(ctx, hftype):
            if isinstance(cred, Exception):
                log_at(log, L_ERR, "error while parsing credentials: %s", cred)
                return -1, None
            if cred is not None and cred.realm is not None and cred.realm.lower() == wanted:
                return 0, cred
        return 1, None

    def authorized(self, ctx: MessageContext, hftype: str) -> DigestCredentials | None:
        return ctx.local.get(_AUTHORIZED, {}).get(hftype)

    def mark_authorized(self, ctx: MessageContext, hftype: str, cred: DigestCredentials) -> None:
        """mark_authorized_cred(): the credentials consume_credentials() takes off, and those group,
        uri_db and acc read back (`ctx.authorized_credentials`), whether or not they then check out,
        as in Kamailio."""
        ctx.local.setdefault(_AUTHORIZED, {})[hftype] = cred
        header = "Authorization" if hftype == HDR_AUTHORIZATION else "Proxy-Authorization"
        ctx.authorized_credentials[:] = [c for c in ctx.authorized_credentials if c.header != header]
        ctx.authorized_credentials.append(Credentials(header, cred.username or "", cred.realm or ""))

    # ------------------------------------------------------------ AuthAPI: checks

    def pre_auth(self, ctx: MessageContext, realm: str, hftype: str, check_hdr: Any = None,
                 ) -> tuple[AuthResult, DigestCredentials | None, str]:
        if method_of(ctx) in UNCHALLENGEABLE:
            return AuthResult.AUTHENTICATED, None, realm
        realm = self.strip_realm(realm)
        ret, cred = self.find_credentials(ctx, realm, hftype)
        if ret < 0:
            log_at(log, L_ERR, "Error while looking for credentials")
            return AuthResult.ERROR, None, realm
        if cred is None:
            log_at(log, L_DBG, "Credentials with realm '%s' not found", realm)
            return AuthResult.NO_CREDENTIALS, None, realm
        self.mark_authorized(ctx, hftype, cred)
        if check_hdr is not None:
            stop = check_hdr(ctx, cred)
            return (stop if stop is not None else AuthResult.DO_AUTHENTICATION), cred, realm
        return self.check_hdr(ctx, cred), cred, realm

    def check_hdr(self, ctx: MessageContext, cred: DigestCredentials) -> AuthResult:
        """auth_check_hdr_md5(): the credentials are complete and their nonce good."""
        missing = cred.missing()
        if missing:
            log_at(log, L_ERR, "Credentials are not filled properly (no %s)", ", ".join(missing))
            return AuthResult.BAD_CREDENTIALS
        cfg = self.auth_checks(ctx)
        ret = nonces.check_nonce(cred.nonce, cred.nc, cfg, int(self.core.clock.time()), self.nonce_checks,
                                 lambda: nonces.extra_parts(ctx, cfg))
        if ret in (nonces.NONCE_EXTRA_CHECKS, nonces.NONCE_STALE):
            cred.stale = True
            return AuthResult.STALE_NONCE
        if ret == nonces.NONCE_REUSED:
            return AuthResult.NONCE_REUSED
        if ret != nonces.NONCE_OK:
            log_at(log, L_DBG, "Invalid nonce value received (ret %d)", ret)
            return AuthResult.NOT_AUTHENTICATED
        return AuthResult.DO_AUTHENTICATION

    def post_auth(self, ctx: MessageContext, cred: DigestCredentials, ha1: str | None) -> AuthResult:
        if cred.stale:
            if method_of(ctx) in ("ACK", "CANCEL"):
                return AuthResult.AUTHENTICATED
            return AuthResult.NOT_AUTHENTICATED
        if self.add_authinfo_hdr:
            if ha1 is None:
                log_at(log, L_ERR, "add_authinfo_hdr is configured but the auth_* module you are "
                       "using does not provide the ha1 value to post_auth")
            else:
                self._add_authinfo(ctx, cred, ha1)
        return AuthResult.AUTHENTICATED

    def _add_authinfo(self, ctx: MessageContext, cred: DigestCredentials, ha1: str) -> None:
        rspauth = self.digest.response(ha1, cred.nonce or "", cred.nc, cred.cnonce, cred.qop,
                                       cred.qop_type == QOP_AUTHINT, None, cred.uri or "", None)
        nextnonce = cred.nonce or ""
        if self.settings.otn_enabled:
            nextnonce = self.new_nonce(ctx, self.auth_checks(ctx))
        ctx.reply_lumps.append(f'Authentication-Info: nextnonce="{nextnonce}", qop={cred.qop or ""}, '
                               f'rspauth="{rspauth}", cnonce="{cred.cnonce or ""}", nc={cred.nc or ""}\r\n')

    def calc_ha1(self, username: str, realm: str, password: str) -> str:
        return self.digest.ha1(username, realm, password)

    def calc_response(self, ha1: str, nonce: str, nc: str | None, cnonce: str | None,
                      qop: str | None, auth_int: bool, method: str | None, uri: str,
                      hentity: str | None) -> str:
        return self.digest.response(ha1, nonce, nc, cnonce, qop, auth_int, method, uri, hentity)

    def check_response(self, cred: DigestCredentials, method: str, ha1: str, body: bytes = b"") -> AuthResult:
        """auth_check_response(); `body` gives H(entity-body) for qop=auth-int."""
        if cred.response is None or len(cred.response) != self.digest.hex_len:
            log_at(log, L_DBG, "Receive response len != %d", self.digest.hex_len)
            return AuthResult.BAD_CREDENTIALS
        auth_int = cred.qop_type == QOP_AUTHINT
        ours = self.digest.response(ha1, cred.nonce or "", cred.nc, cred.cnonce, cred.qop, auth_int, method,
                                    cred.uri or "", self.digest.hexdigest(body) if auth_int else None)
        if ours == cred.response:
            return AuthResult.AUTHENTICATED
        log_at(log, L_DBG, "Authorization failed")
        return AuthResult.NOT_AUTHENTICATED

    def pv_authenticate(self, ctx: MessageContext, realm: str, passwd: str, flags: int, hftype: str,
                        method: str) -> int:
        """pv_authenticate(): the password (flags & 1: its HA1) from the config."""
        rauth, cred, realm = self.pre_auth(ctx, realm, hftype)
        if rauth is AuthResult.DO_AUTHENTICATION:
            assert cred is not None
            ha1 = passwd if flags & 1 else self.calc_ha1(cred.username or "", realm, passwd)
            checked = self.check_response(cred, method, ha1, ctx.msg.body)
            if checked is AuthResult.AUTHENTICATED:
                done = self.post_auth(ctx, cred, ha1) is AuthResult.AUTHENTICATED
                ret = AuthCode.OK if done else AuthCode.ERROR
            elif checked is AuthResult.NOT_AUTHENTICATED:
                ret = AuthCode.INVALID_PASSWORD
            else:
                ret = AuthCode.ERROR
        else:
            ret = _CODES.get(rauth, AuthCode.ERROR)
        if ret < 0 and flags & 14:
            qop = "auth-int" if flags & 8 else "auth" if flags & 4 else None
            hf = self.challenge_hf(ctx, False, realm, None, self.algorithm_param or None, qop, hftype)
            avp_add(ctx, self.challenge_avp, hf)
        return int(ret)

    def consume_credentials(self, ctx: MessageContext) -> int:
        if method_of(ctx) in UNCHALLENGEABLE:
            return -1
        cred = self.authorized(ctx, HDR_AUTHORIZATION) or self.authorized(ctx, HDR_PROXYAUTH)
        if cred is None:
            log_at(log, L_ERR, "No authorized credentials found (error in scripts)")
            return -1
        ctx.msg.remove_header(cred.header, cred.index)
        return 1

    # ------------------------------------------------------------ config functions

    def w_consume_credentials(self, ctx: MessageContext) -> int:
        return self.consume_credentials(ctx)

    def has_credentials(self, ctx: MessageContext, realm: str) -> int:
        for hftype in (HDR_PROXYAUTH, HDR_AUTHORIZATION):
            if self.find_credentials(ctx, realm, hftype)[0] == 0:
                return 1
        return -1

    def www_challenge(self, ctx: MessageContext, realm: str | None, flags: int | None) -> int:
        if realm is None or not realm or flags is None:
            return self._bad_challenge_args(ctx, realm)
        return self.auth_challenge_hftype(ctx, realm, flags, HDR_AUTHORIZATION)

    def proxy_challenge(self, ctx: MessageContext, realm: str | None, flags: int | None) -> int:
        if realm is None or not realm or flags is None:
            return self._bad_challenge_args(ctx, realm)
        return self.auth_challenge_hftype(ctx, realm, flags, HDR_PROXYAUTH)

    def auth_challenge(self, ctx: MessageContext, realm: str | None, flags: int | None) -> int:
        method = method_of(ctx)
        if method in ("ACK", "CANCEL"):
            return 1
        if realm is None or not realm or flags is None:
            return self._bad_challenge_args(ctx, realm)
        hftype = HDR_AUTHORIZATION if method == "REGISTER" else HDR_PROXYAUTH
        return self.auth_challenge_hftype(ctx, realm, flags, hftype)

    def _bad_challenge_args(self, ctx: MessageContext, realm: str | None) -> int:
        """A realm or flags the function cannot get, or an empty realm: the 500 goes out whatever the
        flags say (Kamailio has not read them yet, or could not)."""
        what = ("failed to get realm value" if realm is None else
                "invalid realm value - empty content" if not realm else "invalid flags value")
        return self._challenge_error(ctx, 0, what)

    def _pv_auth(self, ctx: MessageContext, realm: str | None, passwd: str | None, flags: int | None,
                 hftype: str, method: str | None = None) -> int:
        """The checks of Kamailio's w_pv_*_authenticate, in their order (None: a value the function
        could not get; `method` None when the function has no such argument)."""
        problem = (
            "failed to get realm value" if realm is None else
            "invalid realm value - empty content" if not realm else
            "failed to get passwd value" if passwd is None else
            "invalid password value - empty content" if not passwd else
            "invalid flags value" if flags is None else
            "invalid method value - empty content" if method is not None and not method else "")
        if problem:
            log_at(log, L_ERR, "%s", problem)
            return AuthCode.ERROR
        assert realm is not None and passwd is not None and flags is not None
        return self.pv_authenticate(ctx, realm, passwd, flags, hftype, method or method_of(ctx))

    def pv_www_authenticate(self, ctx: MessageContext, realm: str | None, passwd: str | None,
                            flags: int | None, method: str | None = None) -> int:
        return self._pv_auth(ctx, realm, passwd, flags, HDR_AUTHORIZATION, method)

    def pv_proxy_authenticate(self, ctx: MessageContext, realm: str | None, passwd: str | None,
                              flags: int | None) -> int:
        return self._pv_auth(ctx, realm, passwd, flags, HDR_PROXYAUTH)

    def pv_auth_check(self, ctx: MessageContext, realm: str | None, passwd: str | None, flags: int | None,
                      checks: int | None) -> int:
        method = method_of(ctx)
        if method in ("ACK", "CANCEL"):
            return AuthCode.OK
        if checks is None and realm and passwd and flags is not None:
            log_at(log, L_ERR, "invalid checks value")
            return AuthCode.ERROR
        hftype = HDR_AUTHORIZATION if method == "REGISTER" else HDR_PROXYAUTH
        ret = self._pv_auth(ctx, realm, passwd, flags, hftype)
        if ret != AuthCode.OK or not checks & 1:
            return ret
        return self.check_identity(ctx)

    def check_identity(self, ctx: MessageContext) -> int:
        """pv_auth_check()'s user checks: the auth user is the To user (REGISTER, PUBLISH; From
        and To users equal) or the From user; PUBLISH's R-URI user is the From user."""
        first = self.credentials(ctx, HDR_PROXYAUTH) or self.credentials(ctx, HDR_AUTHORIZATION)
        if not first:
            return AuthCode.OK if method_of(ctx) == "PRACK" else AuthCode.ERROR
        head = first[0]
        user = (head.user or "") if isinstance(head, DigestCredentials) else ""
        return identity_matches(ctx, user, self.use_domain, skip_forwarded=False)

    def check_user(self, ctx: MessageContext, user: str, use_domain: bool, skip_forwarded: bool) -> int:
        return identity_matches(ctx, user, use_domain, skip_forwarded)

    def auth_get_www_authenticate(self, ctx: MessageContext, realm: str | None, flags: int | None,
                                  dst: PVAccessor) -> int:
        if realm is None or not realm or flags is None:
            log_at(log, L_ERR, "%s", "failed to get realm value" if realm is None else
                   "invalid realm value - empty content" if not realm else "invalid flags value")
            return -1
        ret, hf = self.challenge_helper(None, realm, flags, HDR_AUTHORIZATION, want_header=True)
        if ret < 0:
            return ret
        dst.set(ctx, hf)  # type: ignore[attr-defined]
        return ret


def _unused(*_: int) -> int:
    return 0


# methods whose From user may be anonymous (auth_check flag 2)
FORWARDED_METHODS = ("INVITE", "BYE", "PRACK", "UPDATE", "MESSAGE")


def identity_matches(ctx: MessageContext, user: str, use_domain: bool, skip_forwarded: bool) -> int:
    """The user checks of auth_check()/pv_auth_check() (AUTH_CHECK_ID_F): AuthCode.OK,
    USER_MISMATCH, or ERROR when a URI cannot be parsed."""
    msg = ctx.msg
    method = method_of(ctx)
    with_to = method in ("REGISTER", "PUBLISH")
    try:
        from_uri = msg.from_.uri if msg.from_ is not None else None
        to_uri = (msg.to.uri if msg.to is not None else None) if with_to else None
        ruri = parse_uri(ctx.ruri) if method == "PUBLISH" else None
    except SIPProtocolError:
        return AuthCode.ERROR
    if from_uri is None or (with_to and to_uri is None):
        return AuthCode.ERROR
    uri = to_uri if to_uri is not None else from_uri
    if not (skip_forwarded and method in FORWARDED_METHODS) and user != (uri.user or ""):
        log_at(log, L_DBG, "authentication username mismatch with from/to username")
        return AuthCode.USER_MISMATCH
    if to_uri is None:
        return AuthCode.OK
    for other in (to_uri, ruri):
        if other is None:
            continue
        if (from_uri.user or "") != (other.user or "") or (use_domain and from_uri.host != other.host):
            log_at(log, L_DBG, "from user/domain mismatch with to/r-uri")
            return AuthCode.USER_MISMATCH
    return AuthCode.OK
