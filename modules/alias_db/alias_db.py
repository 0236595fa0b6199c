"""alias_db: aliases of users in a database table (Kamailio's alias_db module).

alias_db_lookup() replaces the R-URI with `sip:user@domain` of the alias row matching its user
(and, with the domain flag, its host minus domain_prefix); with append_branches each further row
becomes a branch. The `r` flag looks the other way, from a user to its aliases. alias_db_find()
does the same for any URI into a variable.
"""
from __future__ import annotations

from typing import Any

from kampy.api import (
    L_DBG,
    L_ERR,
    URI,
    Branch,
    CoreAPI,
    Database,
    DBError,
    MessageContext,
    Module,
    PVAccessor,
    PVSyntaxError,
    Request,
    SIPProtocolError,
    db_connect,
    log_at,
    module_logger,
    parse_pv,
    parse_uri,
)

log = module_logger("alias_db")

REVERSE_FLAG, DOMAIN_FLAG = 1, 2
MIN_Q = 0  # the q of the branches appended (Kamailio's MIN_Q)


class AliasDbModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.url = str(params["db_url"])
        self.user_column = str(params["user_column"])
        self.domain_column = str(params["domain_column"])
        self.alias_user_column = str(params["alias_user_column"])
        self.alias_domain_column = str(params["alias_domain_column"])
        self.use_domain = bool(int(params["use_domain"]))
        self.domain_prefix = str(params["domain_prefix"] or "")
        self.append_branches = bool(int(params["append_branches"]))
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

    @property
    def default_flags(self) -> int:
        return DOMAIN_FLAG if self.use_domain else 0

    def fix_flags(self, text: str) -> int:
        """The flags argument: d (no domain), u (domain), r (reverse), over use_domain."""
        flags = self.default_flags
        for c in text:
            if c in "dD":
                flags &= ~DOMAIN_FLAG
            elif c in "rR":
                flags |= REVERSE_FLAG
            elif c in "uU":
                flags |= DOMAIN_FLAG
            else:
                raise ValueError(f"unsupported flag '{c}'")
        return flags

    def fix_output(self, spec: str) -> PVAccessor:
        """alias_db_find()'s output: an AVP or a script variable ($avp, $var)."""
        try:
            pv = parse_pv(spec)
        except PVSyntaxError as exc:
            raise ValueError(f"bad pseudo-variable {spec}: {exc}") from None
        if pv.cls not in ("avp", "var"):
            raise ValueError(f"PV type {pv.cls} (param 3) cannot be written")
        return self.core.pv_accessor(pv)

    # ------------------------------------------------------------ lookups

    def query(self, table: str, uri: URI, flags: int) -> list[str] | None:
        """alias_db_query(): the `sip:user@domain` URIs found, None when none (or on error)."""
        if flags & REVERSE_FLAG:
            keys = (self.user_column, self.domain_column)
            cols = (self.alias_user_column, self.alias_domain_column)
        else:
            keys = (self.alias_user_column, self.alias_domain_column)
            cols = (self.user_column, self.domain_column)
        where = {keys[0]: uri.user or ""}
        if flags & DOMAIN_FLAG:
            host = uri.host or ""
            prefix = self.domain_prefix
            if prefix and len(prefix) < len(host) and host[:len(prefix)].lower() == prefix.lower():
                host = host[len(prefix):]
            where[keys[1]] = host
        try:
            rows = self.db.query(table, list(cols), where)
        except DBError as exc:
            log_at(log, L_ERR, "failed to query database: %s", exc)
            return None
        if not rows or rows[0][0] is None:
            log_at(log, L_DBG, "no alias found for R-URI")
            return None
        return [f"sip:{user or ''}@{domain or ''}" for user, domain in rows]

    def lookup(self, ctx: MessageContext, table: str, flags: int) -> int:
        if not isinstance(ctx.msg, Request):
            return -1
        try:
            uri = parse_uri(ctx.ruri)
        except SIPProtocolError:
            return -1
        found = self.query(table, uri, flags)
        if found is None:
            return -1
        ctx.new_ruri = found[0]
        if self.append_branches:
            ctx.branches.extend(Branch(alias, q=MIN_Q) for alias in found[1:])
        return 1

    def find(self, ctx: MessageContext, table: str, source: PVAccessor, dest: PVAccessor,
             flags: int) -> int:
        value = source.get(ctx)
        if not isinstance(value, str):
            log_at(log, L_ERR, "PV vals is not string")
            return -1
        try:
            uri = parse_uri(value)
        except SIPProtocolError:
            log_at(log, L_ERR, "failed to parse uri %s", value)
            return -1
        found = self.query(table, uri, flags)
        if found is None:
            return -1
        setter: Any = dest
        for alias in found if self.append_branches else found[:1]:
            setter.set(ctx, alias)
        return 1

    # ------------------------------------------------------------ config functions

    def alias_db_lookup(self, ctx: MessageContext, table: str, flags: int | None = None) -> int:
        return self.lookup(ctx, table, self.default_flags if flags is None else flags)

    def alias_db_find(self, ctx: MessageContext, table: str, source: PVAccessor, dest: PVAccessor,
                      flags: int | None = None) -> int:
        return self.find(ctx, table, source, dest, self.default_flags if flags is None else flags)
