"""The uri_db module."""
from __future__ import annotations

from typing import Any

from kampy.api import (L_DBG, L_ERR, URI, CoreAPI, Database, DBError, MessageContext, Module,
                       check_table_version, db_connect, log_at, module_logger, parse_uri)

log = module_logger("uri_db")

URI_TABLE_VERSION = 1
SUBSCRIBER_TABLE_VERSION = 7


class UriDbModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        p = params
        self.table: str = p["db_table"]
        self.user_column: str = p["user_column"]
        self.domain_column: str = p["domain_column"]
        self.uriuser_column: str = p["uriuser_column"]
        self.use_uri_table = bool(p["use_uri_table"])
        self.use_domain = bool(p["use_domain"])
        self.db: Database | None = None
        url: str = p["db_url"] or ""
        if not url:
            if self.use_uri_table:
                raise ValueError("configuration error - no database URL, but use_uri_table is set!")
            return
        self.db = db_connect(url)
        try:
            check_table_version(self.db, self.table,
                                URI_TABLE_VERSION if self.use_uri_table else SUBSCRIBER_TABLE_VERSION)
        except DBError as exc:
            self.db.close()
            raise ValueError(f"uri_db: {exc}") from None

    def destroy(self) -> None:
        if self.db is not None:
            self.db.close()

    # ------------------------------------------------------------ the checks

    def _check_username(self, ctx: MessageContext, uri: URI, username: str | None = None,
                        realm: str | None = None) -> int:
        if not uri.user:
            log_at(log, L_ERR, "Username not found in URI")
            return -4
        if username is None or realm is None:
            creds = ctx.authorized()
            if creds is None:
                log_at(log, L_ERR, "No authorized credentials found (error in scripts)")
                log_at(log, L_ERR, "Call {www,proxy}_authorize before calling check_* functions!")
                return -2
            username, realm = creds.user, creds.realm
        if self.use_uri_table:
            assert self.db is not None
            try:
                rows = self.db.query(self.table, [self.user_column], {
                    self.user_column: username, self.domain_column: realm, self.uriuser_column: uri.user},
                    limit=1)
            except DBError as exc:
                log_at(log, L_ERR, "Error while querying database: %s", exc)
                return -8
            if not rows:
                log_at(log, L_DBG, "From/To user '%s' is spoofed", uri.user)
                return -9
            log_at(log, L_DBG, "From/To user '%s' and auth user match", uri.user)
            return 1
        if uri.user.lower() == username.lower():
            log_at(log, L_DBG, "Digest username and URI username match")
            return 1
        log_at(log, L_DBG, "Digest username and URI username do NOT match")
        return -10

    def check_to(self, ctx: MessageContext) -> int:
        to = ctx.msg.to
        if to is None:
            log_at(log, L_ERR, "Error while parsing To header field")
            return -1
        return self._check_username(ctx, to.uri)

    def check_from(self, ctx: MessageContext) -> int:
        from_ = ctx.msg.from_
        if from_ is None:
            log_at(log, L_ERR, "Error while parsing From header field")
            return -1
        return self._check_username(ctx, from_.uri)

    def check_uri(self, ctx: MessageContext, uri: str, username: str | None = None,
                  realm: str | None = None) -> int:
        if not uri:
            log_at(log, L_ERR, "invalid uri parameter")
            return -1
        try:
            parsed = parse_uri(uri)
        except ValueError:
            log_at(log, L_ERR, "Error while parsing URI: %s", uri)
            return -1
        if not username or not realm:
            return self._check_username(ctx, parsed)
        return self._check_username(ctx, parsed, username, realm)

    def fix_exist(self) -> None:
        if self.db is None:
            raise ValueError("configuration error - does_uri_exist() called with no database URL!")

    def does_uri_exist(self, ctx: MessageContext) -> int:
        assert self.db is not None  # fix_exist() refused a config without a database
        try:
            ruri = parse_uri(ctx.ruri)
        except ValueError:
            log_at(log, L_ERR, "Error while parsing URI")
            return -1
        user_column = self.uriuser_column if self.use_uri_table else self.user_column
        where = {user_column: ruri.user or ""}
        if self.use_domain:
            where[self.domain_column] = ruri.host or ""
        try:
            rows = self.db.query(self.table, [user_column], where, limit=1)
        except DBError as exc:
            log_at(log, L_ERR, "Error while querying database: %s", exc)
            return -4
        if not rows:
            log_at(log, L_DBG, "User in request uri does not exist")
            return -5
        log_at(log, L_DBG, "User in request uri does exist")
        return 1
