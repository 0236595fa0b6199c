"""speeddial: per-user short numbers from a database table (Kamailio's speeddial module).

sd_lookup() looks up the R-URI's user as the owner's `sd_username` (the owner: the From URI, or
the URI given) and replaces the R-URI with the row's `new_uri` (`sip:` added when missing).
use_domain 1 matches the owner's domain too, 2 also the R-URI's host as `sd_domain`.
"""
from __future__ import annotations

from typing import Any

from kampy.api import (
    L_DBG,
    L_ERR,
    CoreAPI,
    Database,
    DBError,
    MessageContext,
    Module,
    Request,
    SIPProtocolError,
    db_connect,
    log_at,
    module_logger,
    parse_uri,
)

log = module_logger("speeddial")


class SpeeddialModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.url = str(params["db_url"])
        self.user_column = str(params["user_column"])
        self.domain_column = str(params["domain_column"])
        self.sd_user_column = str(params["sd_user_column"])
        self.sd_domain_column = str(params["sd_domain_column"])
        self.new_uri_column = str(params["new_uri_column"])
        self.use_domain = int(params["use_domain"])
        self.domain_prefix = str(params["domain_prefix"] or "")
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

    def _strip(self, host: str) -> str:
        prefix = self.domain_prefix
        if prefix and len(prefix) < len(host) and host[:len(prefix)].lower() == prefix.lower():
            return host[len(prefix):]
        return host

    def sd_lookup(self, ctx: MessageContext, table: str, owner: str | None = None) -> int:
        if not table:
            log_at(log, L_ERR, "invalid table parameter")
            return -1
        if not isinstance(ctx.msg, Request):
            return -1
        try:
            if owner:
                owner_uri = parse_uri(owner)
            else:
                frm = ctx.msg.from_
                if frm is None:
                    raise SIPProtocolError("no From header")
                owner_uri = frm.uri
        except SIPProtocolError:
            log_at(log, L_ERR, "bad owner SIP address!" if owner else "failed to parse FROM header")
            return -1
        try:
            ruri = parse_uri(ctx.ruri)
        except SIPProtocolError:
            log_at(log, L_ERR, "failed to parsing Request-URI")
            return -1
        where = {self.user_column: owner_uri.user or ""}
        if self.use_domain >= 1:
            where[self.domain_column] = self._strip(owner_uri.host or "")
        where[self.sd_user_column] = ruri.user or ""
        if self.use_domain >= 2:
            where[self.sd_domain_column] = self._strip(ruri.host or "")
        try:
            rows = self.db.query(table, [self.new_uri_column], where)
        except DBError as exc:
            log_at(log, L_ERR, "failed to query database: %s", exc)
            return -1
        if not rows or rows[0][0] is None:
            log_at(log, L_DBG, "no sip address found for R-URI")
            return -1
        new_uri = str(rows[0][0])
        if not new_uri.startswith("sip:"):
            new_uri = "sip:" + new_uri
        ctx.new_ruri = new_uri
        return 1
