"""The group module: is_user_in() queries the `grp` table on each call; get_user_group() matches
the expressions of the `re_grp` table, loaded when the process starts (as Kamailio loads them
in mod_init, before forking)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kampy.api import (L_DBG, L_ERR, REGEX_FLAGS, CoreAPI, DBError, MessageContext, Module, PVAccessor,
                       check_table_version, compile_posix, db_connect, log_at, module_logger, parse_pv,
                       parse_uri)

log = module_logger("group")

TABLE_VERSION = 2
RE_TABLE_VERSION = 1
SOURCES = {"request-uri": "ruri", "to": "to", "from": "from", "credentials": "credentials"}


@dataclass(frozen=True)
class Source:
    """Where the user comes from: a header, the credentials, or an AVP holding a URI."""

    kind: str
    avp: PVAccessor | None = None


class GroupModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        p = params
        self.table: str = p["table"]
        self.user_column: str = p["user_column"]
        self.domain_column: str = p["domain_column"]
        self.group_column: str = p["group_column"]
        self.use_domain = bool(p["use_domain"])
        self.multiple_gid = bool(p["multiple_gid"])
        self.db = db_connect(p["db_url"])
        self.expressions: list[tuple[re.Pattern[str], int]] = []
        try:
            check_table_version(self.db, self.table, TABLE_VERSION)
            if p["re_table"]:
                check_table_version(self.db, p["re_table"], RE_TABLE_VERSION)
                self.expressions = self._load(p["re_table"], p["re_exp_column"], p["re_gid_column"])
        except DBError as exc:
            self.db.close()
            raise ValueError(f"group: {exc}") from None

    def destroy(self) -> None:
        self.db.close()

    def _load(self, table: str, exp_column: str, gid_column: str) -> list[tuple[re.Pattern[str], int]]:
        loaded = []
        for expression, gid in self.db.query(table, [exp_column, gid_column]):
            if not isinstance(expression, str):
                raise DBError(f"empty or non-string value for <{exp_column}>(re) column")
            if not isinstance(gid, int):
                raise DBError(f"empty or non-integer value for <{gid_column}>(gid) column")
            try:
                loaded.append((compile_posix(expression, REGEX_FLAGS), gid))
            except re.error:
                raise DBError(f"bad re {expression}") from None
        log_at(log, L_DBG, "%d rules were loaded", len(loaded))
        loaded.reverse()  # Kamailio adds each row at the head of its list
        return loaded

    # ------------------------------------------------------------ arguments

    def fix_source(self, value: str) -> Source:
        kind = SOURCES.get(value.lower())
        if kind is not None:
            return Source(kind)
        try:
            spec = parse_pv(value)
        except Exception:
            spec = None
        if spec is None or spec.cls != "avp":
            raise ValueError("unsupported User Field identifier")
        return Source("avp", self.core.pv_accessor(value))

    def fix_avp(self, value: str) -> PVAccessor:
        try:
            spec = parse_pv(value)
        except Exception:
            spec = None
        if spec is None or spec.cls != "avp":
            raise ValueError(f"bad AVP spec <{value}>")
        return self.core.pv_accessor(value)

    def _user_domain(self, ctx: MessageContext, source: Source) -> tuple[str, str] | None:
        """(user, domain) of the source, None (an error logged) when there is none."""
        if source.kind == "credentials":
            creds = ctx.authorized()
            if creds is None:
                log_at(log, L_ERR, "no authorized credentials found (error in script)")
                return None
            return creds.user, creds.realm
        text: str | None
        if source.kind == "ruri":
            text = ctx.ruri
        elif source.kind in ("to", "from"):
            header = ctx.msg.to if source.kind == "to" else ctx.msg.from_
            if header is None:
                log_at(log, L_ERR, "failed to get %s URI", "To" if source.kind == "to" else "From")
                return None
            return header.uri.user or "", header.uri.host or ""
        else:
            assert source.avp is not None
            value = source.avp.get(ctx)
            text = None if value is None else str(value)
            if not text:
                log_at(log, L_ERR, "no AVP found (error in scripts)")
                return None
        try:
            uri = parse_uri(text)
        except ValueError:
            log_at(log, L_ERR, "failed to parse URI <%s>", text)
            return None
        return uri.user or "", uri.host or ""

    # ------------------------------------------------------------ functions

    def is_user_in(self, ctx: MessageContext, source: Source, group: str) -> int:
        found = self._user_domain(ctx, source)
        if found is None:
            log_at(log, L_ERR, "failed to get username@domain")
            return -1
        user, domain = found
        if not user:
            log_at(log, L_DBG, "no username part")
            return -1
        if not group:
            log_at(log, L_DBG, "no group")
            return -1
        where = {self.user_column: user, self.group_column: group}
        if self.use_domain:
            where[self.domain_column] = domain
        try:
            rows = self.db.query(self.table, [self.group_column], where)
        except DBError as exc:
            log_at(log, L_ERR, "failed to query database: %s", exc)
            return -5
        if not rows:
            log_at(log, L_DBG, "user is not in group '%s'", group)
            return -6
        log_at(log, L_DBG, "user is in group '%s'", group)
        return 1

    def get_user_group(self, ctx: MessageContext, source: Source, avp: PVAccessor) -> int:
        found = self._user_domain(ctx, source)
        if found is None:
            log_at(log, L_ERR, "failed to get username@domain")
            return -1
        user, domain = found
        if not user:
            log_at(log, L_DBG, "no username part")
            return -1
        uri = f"sip:{user}@{domain}"
        log_at(log, L_DBG, "getting groups for <%s>", uri)
        matched = 0
        for expression, gid in self.expressions:
            if expression.search(uri):
                log_at(log, L_DBG, "user matched to group %d!", gid)
                avp.set(ctx, gid)  # type: ignore[attr-defined]
                matched += 1
                if not self.multiple_gid:
                    break
        return matched or -1
