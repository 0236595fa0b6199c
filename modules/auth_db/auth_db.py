"""auth_db: digest authentication against the `subscriber` table (Kamailio's authorize.c).

The user's HA1 is read from `password_column` (`password_column_2`, ha1b, when the username has
a domain and calculate_ha1 is off), or computed from the plain password it holds with
calculate_ha1; the columns of `load_credentials` come with it and go to AVPs (pseudo-variables).
"""
from __future__ import annotations

from typing import Any

from kampy.api import (
    HDR_AUTHORIZATION,
    HDR_PROXYAUTH,
    L_DBG,
    L_ERR,
    AuthAPI,
    AuthCode,
    AuthResult,
    CoreAPI,
    Database,
    DBError,
    DigestCredentials,
    MessageContext,
    Module,
    PVAccessor,
    Request,
    SIPProtocolError,
    check_table_version,
    db_connect,
    log_at,
    module_logger,
    parse_uri,
)

log = module_logger("auth_db")

SUBSCRIBER_VERSION = 7
SUBS_USE_DOMAIN, SUBS_SKIP_CREDENTIALS = 1, 2  # is_subscriber() flags
_PRE_AUTH_CODES = {
    AuthResult.NONCE_REUSED: AuthCode.NONCE_REUSED, AuthResult.STALE_NONCE: AuthCode.STALE_NONCE,
    AuthResult.NO_CREDENTIALS: AuthCode.NO_CREDENTIALS, AuthResult.AUTHENTICATED: AuthCode.OK,
}


def parse_credentials_list(text: str | None) -> list[tuple[str, str]]:
    """load_credentials: `column` or `pv=column` items separated by ';', as (pv spec, column), in
    Kamailio's order (each item goes in front of those before it)."""
    items: list[tuple[str, str]] = []
    for part in (text or "").split(";"):
        if not part.strip():
            if part and not part.strip():
                raise ValueError(f"parse failed in \"{text}\"")
            continue
        pv, eq, column = part.rpartition("=")
        column, pv = column.strip(), pv.strip()
        if not column or (eq and not pv):
            raise ValueError(f"parse failed in \"{text}\"")
        items.insert(0, (pv if eq else f"$avp({column})", column))
    return items


class Credential:
    """One load_credentials item: the column and the pseudo-variable it goes to."""

    def __init__(self, spec: str, column: str) -> None:
        self.spec = spec
        self.column = column
        self.pv: PVAccessor | None = None

    def bind(self, core: CoreAPI) -> PVAccessor:
        if self.pv is None:
            pv = core.pv_accessor(self.spec)
            if not callable(getattr(pv, "set", None)):
                raise ValueError(f"PV is not writeable: {self.spec}")
            self.pv = pv
        return self.pv


class AuthDbModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.auth: AuthAPI = core.api("auth")
        self.url = str(params["db_url"])
        self.user_column = str(params["user_column"])
        self.domain_column = str(params["domain_column"])
        self.pass_column = str(params["password_column"])
        self.pass_column_2 = str(params["password_column_2"])
        self.calc_ha1 = bool(int(params["calculate_ha1"]))
        self.use_domain = bool(int(params["use_domain"]))
        self.version_table = bool(int(params["version_table"]))
        self.force_generate_avps = bool(int(params["force_generate_avps"]))
        listed = parse_credentials_list(params["load_credentials"])
        self.credentials = [Credential(pv, col) for pv, col in listed]
        for cred in self.credentials:
            try:
                cred.bind(core)
            except LookupError:
                pass  # a PV class of a module built later: bound at first use
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = db_connect(self.url, create_missing=True)
        return self._db

    def destroy(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @staticmethod
    def fix_method(method: str | None) -> str | None:
        """www_authenticate()'s method: Kamailio's auth_fixup refuses an empty one at start (and
        www_authenticate2 one a pseudo-variable gives, as an error)."""
        if method == "":
            raise ValueError("empty parameter 3 not allowed")
        return method

    def fix_table(self, table: str) -> str:
        """www_authorize()'s table: refused at start unless its version is Kamailio's (version_table)."""
        if not table:
            raise ValueError("empty parameter 2 not allowed")
        if self.version_table:
            try:
                check_table_version(self.db, table, SUBSCRIBER_VERSION)
            except DBError as exc:
                raise ValueError(str(exc)) from None
        return table

    # ------------------------------------------------------------ the subscriber table

    def _query(self, table: str, columns: list[str], where: dict[str, str]) -> list[tuple[Any, ...]] | None:
        try:
            return self.db.query(table, columns, where)
        except DBError as exc:
            log_at(log, L_ERR, "failed to query database: %s", exc)
            return None

    def get_ha1(self, cred: DigestCredentials, realm: str, table: str) -> tuple[int, str, tuple[Any, ...]]:
        """(0, ha1, row) found, (1, "", ()) no such user, (-1, "", ()) database error."""
        column = self.pass_column_2 if cred.domain and not self.calc_ha1 else self.pass_column
        where = {self.user_column: cred.user or ""}
        if self.use_domain:
            where[self.domain_column] = cred.domain or realm
        rows = self._query(table, [column, *(c.column for c in self.credentials)], where)
        if rows is None:
            return -1, "", ()
        if not rows:
            log_at(log, L_DBG, "no result for user '%s@%s'", cred.user, realm if self.use_domain else "")
            return 1, "", ()
        secret = "" if rows[0][0] is None else str(rows[0][0])
        ha1 = self.auth.calc_ha1(cred.username or "", realm, secret) if self.calc_ha1 else secret
        return 0, ha1, rows[0]

    def generate_avps(self, ctx: MessageContext, values: tuple[Any, ...]) -> int:
        """db_val2pv_spec() for each load_credentials column (None deletes, as $null does)."""
        for cred, value in zip(self.credentials, values, strict=False):
            try:
                pv: Any = cred.bind(self.core)
                pv.set(ctx, value if value is None or isinstance(value, int) else str(value))
            except (LookupError, ValueError) as exc:
                log_at(log, L_ERR, "Failed to convert value for column %s: %s", cred.column, exc)
                return -1
        return 0

    # ------------------------------------------------------------ authentication

    def digest_authenticate(self, ctx: MessageContext, realm: str, table: str, hftype: str,
                            method: str) -> int:
        return self.authenticate(ctx, realm, table, hftype, method)[0]

    def authenticate(self, ctx: MessageContext, realm: str, table: str, hftype: str,
                     method: str) -> tuple[int, DigestCredentials | None]:
        """digest_authenticate_hdr(): an AuthCode and the credentials checked."""
        rauth, cred, realm = self.auth.pre_auth(ctx, realm, hftype)
        if rauth is not AuthResult.DO_AUTHENTICATION:
            return _PRE_AUTH_CODES.get(rauth, AuthCode.ERROR), None
        assert cred is not None
        found, ha1, row = self.get_ha1(cred, realm, table)
        if found < 0:
            return AuthCode.ERROR, cred
        if found > 0:
            return AuthCode.USER_UNKNOWN, cred
        if self.force_generate_avps:
            self.generate_avps(ctx, row[1:])
        checked = self.auth.check_response(cred, method, ha1, ctx.msg.body)
        if checked is AuthResult.AUTHENTICATED:
            if self.auth.post_auth(ctx, cred, ha1) is not AuthResult.AUTHENTICATED:
                return AuthCode.ERROR, cred
            if not self.force_generate_avps:
                self.generate_avps(ctx, row[1:])
            return AuthCode.OK, cred
        wrong = checked is AuthResult.NOT_AUTHENTICATED
        return (AuthCode.INVALID_PASSWORD if wrong else AuthCode.ERROR), cred

    def _method(self, ctx: MessageContext) -> str:
        return ctx.msg.method if isinstance(ctx.msg, Request) else ""

    def _authenticate(self, ctx: MessageContext, realm: str | None, table: str, hftype: str,
                      method: str | None) -> int:
        if realm is None:
            log_at(log, L_ERR, "failed to get realm value")
            return AuthCode.ERROR
        if not realm:
            log_at(log, L_ERR, "invalid realm parameter - empty value")
            return AuthCode.ERROR
        if method is None:
            log_at(log, L_ERR, "failed to get method value")
            return AuthCode.ERROR
        return self.authenticate(ctx, realm, table, hftype, method or self._method(ctx))[0]

    def www_authenticate(self, ctx: MessageContext, realm: str | None, table: str,
                         method: str | None = "") -> int:
        """`method` "" when not given: the request's (an empty one given is refused by fix_method)."""
        return self._authenticate(ctx, realm, table, HDR_AUTHORIZATION, method)

    def proxy_authenticate(self, ctx: MessageContext, realm: str | None, table: str) -> int:
        return self._authenticate(ctx, realm, table, HDR_PROXYAUTH, "")

    def auth_check(self, ctx: MessageContext, realm: str | None, table: str | None, flags: int) -> int:
        method = self._method(ctx)
        if method in ("ACK", "CANCEL"):
            return AuthCode.OK
        if realm is None or table is None:
            log_at(log, L_ERR, "failed to get realm value")  # (Kamailio's text for either)
            return AuthCode.ERROR
        if not realm:
            log_at(log, L_ERR, "invalid realm parameter - empty value")
            return AuthCode.ERROR
        if not table:
            log_at(log, L_ERR, "invalid table parameter - empty value")
            return AuthCode.ERROR
        hftype = HDR_AUTHORIZATION if method == "REGISTER" else HDR_PROXYAUTH
        ret, cred = self.authenticate(ctx, realm, table, hftype, method)
        if ret == AuthCode.OK and cred is not None and flags & 1:
            return self.auth.check_user(ctx, cred.user or "", self.use_domain, bool(flags & 2))
        return ret

    def is_subscriber(self, ctx: MessageContext, uri: str | None, table: str | None, flags: int) -> int:
        if uri is None or table is None:
            log_at(log, L_ERR, "failed to get %s value", "uri" if uri is None else "table")
            return -1
        if not uri:
            log_at(log, L_ERR, "invalid uri parameter - empty value")
            return -1
        try:
            parsed = parse_uri(uri)
        except SIPProtocolError:
            log_at(log, L_ERR, "invalid uri parameter format")
            return -1
        if not table:
            log_at(log, L_ERR, "invalid table parameter - empty value")
            return -1
        return self.fetch_credentials(ctx, parsed.user or "",
                                      parsed.host if flags & SUBS_USE_DOMAIN else None, table, flags)

    def fetch_credentials(self, ctx: MessageContext, user: str, domain: str | None, table: str,
                          flags: int) -> int:
        """1 the subscriber exists (its load_credentials loaded unless flags & 2); -2 it does not;
        -1 database error; -3 a value could not be stored."""
        skip = bool(flags & SUBS_SKIP_CREDENTIALS)
        columns = [self.user_column] if skip else [c.column for c in self.credentials]
        if not columns:
            # Kamailio 5.6 asks the database for no column at all, which it refuses
            log_at(log, L_ERR, "failed to query database: no column to load (load_credentials is empty)")
            return -1
        where = {self.user_column: user}
        if domain:
            where[self.domain_column] = domain
        rows = self._query(table, columns, where)
        if rows is None:
            return -1
        if not rows:
            log_at(log, L_DBG, "no result for user '%s' in [%s]", user, table)
            return -2
        if not skip and self.generate_avps(ctx, rows[0]) < 0:
            return -3
        return 1
