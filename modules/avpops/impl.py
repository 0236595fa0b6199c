"""The avpops module: the database functions (avp_db_load(), avp_db_store(), avp_db_delete(),
avp_db_query()) here, the functions on the message's AVPs in ops.py."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from kampy.api import (L_DBG, L_ERR, CoreAPI, DBError, MessageContext, Module, PvAPI, PVSyntaxError,
                       db_connect, log_at, module_logger, parse_pv_at, parse_uri)

from . import names
from .db import NAME_INT, VAL_INT, AvpTable, Columns
from .names import AvpName
from .ops import MemoryOps, str2int
from .params import (DOMAIN, URI, URI_CLASSES, USERNAME, UUID, DbParam, ParamError, Scheme, Source,
                     parse_scheme)

log = module_logger("avpops")

QUERY_MAX = 1023   # AVP_PRINTBUF_SIZE - 1
ATTR_MAX = 63      # AVPOPS_ATTR_LEN - 1
SOURCE_FLAGS = {"domain": DOMAIN, "username": USERNAME, "uri": URI, "uuid": UUID}


def check_scheme(value: Any) -> None:
    for text in value if isinstance(value, list | tuple) else [value]:
        parse_scheme(str(text))


@dataclass(frozen=True)
class Owner:
    """Whose AVPs: a uuid, or a username and (maybe) a domain."""

    uuid: str | None = None
    username: str | None = None
    domain: str | None = None


class AvpopsModule(MemoryOps, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        pv: PvAPI | None = core.api("pv")
        self.avp_alias = pv.avp_alias if pv is not None else None
        p = params
        self.use_domain = bool(p["use_domain"])
        self.schemes: dict[str, Scheme] = {}
        for text in _values(p["db_scheme"]):
            scheme = parse_scheme(text)
            if scheme.name.lower() in self.schemes:
                raise ValueError(f"duplicated scheme name <{scheme.name}>")
            self.schemes[scheme.name.lower()] = scheme
        self.table: AvpTable | None = None
        if p["db_url"]:
            if not p["avp_table"]:
                raise ValueError('"AVP_DB" present but "AVP_TABLE" found empty')
            try:
                db = db_connect(p["db_url"])
            except DBError as exc:
                raise ValueError(f"cannot initialize database connection: {exc}") from None
            self.table = AvpTable(db, p["avp_table"], Columns(
                p["uuid_column"], p["attribute_column"], p["value_column"], p["type_column"],
                p["username_column"], p["domain_column"]))

    def destroy(self) -> None:
        if self.table is not None:
            self.table.db.close()

    def _need_db(self, what: str = "avp_db_xxx functions") -> AvpTable:
        if self.table is None:
            raise ParamError(f"you have to configure a db_url for using {what}")
        return self.table

    # ------------------------------------------------------------ arguments of avp_db_*

    def fix_source(self, text: str) -> Source:
        self._need_db()
        value, slash, flag = text.partition("/")
        kind = None
        if slash:
            kind = SOURCE_FLAGS.get(flag.lower())
            if kind is None:
                raise ParamError(f"unknown flag <{flag}>")
        if not value.startswith("$"):
            return Source(kind or UUID, constant=value)
        spec = self._spec(value)
        default = URI if spec.cls in URI_CLASSES else UUID
        return Source(kind or default, pv=self.core.pv_accessor(spec))

    def _db_param(self, text: str, allow_scheme: bool) -> DbParam:
        self._need_db()
        name, slash, where = text.partition("/")
        param = DbParam()
        if not name.startswith("$"):
            if not name:
                raise ParamError("bad param - expected : $avp(name), *, s or i value")
            kinds = {"s": "str", "i": "int", "*": None, "a": None}
            if name[0].lower() not in kinds:
                raise ParamError("bad param - expected : *, s or i AVP flag")
            flags = str2int(name[1:]) if name[1:] else 0
            if flags is None:
                raise ParamError("error - bad avp flags")
            param.name_type = kinds[name[0].lower()]
            param.script_flags = flags
        else:
            try:
                spec, _ = parse_pv_at(name, 0)
            except PVSyntaxError:
                spec = None
            if spec is None or spec.cls != "avp":
                raise ParamError("bad param - expected : $avp(name) or int/str value")
            param.avp = names.avp_name(spec, self.core.formatter, self.avp_alias)
            if param.avp.fixed is not None:
                param.name_type = "int" if names.is_int_name(param.avp.fixed) else "str"
        if slash:
            if where.startswith("$"):
                if not allow_scheme:
                    raise ParamError("function doesn't support DB schemes")
                if param.avp is None:
                    raise ParamError("inconsistent usage of DB scheme without complete specification of "
                                     "AVP name")
                where = where[1:]
                if not where:
                    raise ParamError("empty scheme/table name")
                param.scheme = self.schemes.get(where.lower())
                if param.scheme is None:
                    raise ParamError(f"scheme <{where}> not found")
            elif not where:
                raise ParamError("empty scheme/table name")
            else:
                param.table = where
        return param

    def fix_load(self, text: str) -> DbParam:
        return self._db_param(text, allow_scheme=True)

    def fix_store(self, text: str) -> DbParam:
        return self._db_param(text, allow_scheme=False)

    def fix_query(self, text: str) -> str:
        self._need_db("avp_db_query function")
        return text

    def fix_query_dest(self, text: str) -> list[AvpName]:
        self._need_db("avp_db_query function")
        found: list[AvpName] = []
        i = 0
        while i < len(text):
            if text[i] in " \t,;\n":
                i += 1
                continue
            try:
                spec, end = parse_pv_at(text, i)
            except PVSyntaxError:
                raise ParamError(f"bad format in P2 [{text}]") from None
            if spec.cls != "avp":
                raise ParamError(f"bad format in P2 [{text}]")
            found.append(names.avp_name(spec, self.core.formatter, self.avp_alias))
            i = end
        if not found:
            raise ParamError(f"bad format in P2 [{text}]")
        return found

    # ------------------------------------------------------------ running them

    def _owner(self, ctx: MessageContext, source: Source) -> Owner | None:
        if source.pv is not None:
            value = source.pv.get(ctx)
            if value is None or value == "":
                log_at(log, L_ERR, "no value for first param")
                return None
            text = str(value)
        else:
            text = source.constant or ""
        if source.kind == UUID:
            return Owner(uuid=text)
        try:
            uri = parse_uri(text)
        except ValueError:
            log_at(log, L_ERR, "failed to parse uri")
            return None
        if not uri.user or not uri.host:
            log_at(log, L_ERR, "incomplete uri <%s>", text)
            return None
        user = uri.user if source.kind in (URI, USERNAME) else None
        host = uri.host if source.kind in (URI, DOMAIN) else None
        return Owner(username=user, domain=host if (self.use_domain or source.kind == DOMAIN) else None)

    def _attribute(self, ctx: MessageContext, param: DbParam) -> tuple[bool, str | None, str | None]:
        """(ok, the attribute to select, the key of the AVP to load into) of the name argument."""
        if param.avp is None:
            return True, None, None
        key = param.avp.key(ctx)
        attr = names.attribute_of(key)
        if len(attr) > ATTR_MAX:
            log_at(log, L_ERR, "name too long [%d/%s...]", len(attr), attr[:16])
            return False, None, None
        return True, attr, key

    def avp_db_load(self, ctx: MessageContext, source: Source, param: DbParam) -> int:
        table = self._need_db()
        owner = self._owner(ctx, source)
        ok, attr, key = self._attribute(ctx, param)
        if owner is None or not ok:
            return -1
        try:
            rows = table.load(owner.uuid, owner.username, owner.domain, attr, param.table, param.scheme)
        except DBError as exc:
            log_at(log, L_ERR, "db_load failed: %s", exc)
            return -1
        loaded = sum(1 for row in rows if self._row_to_avp(ctx, row, param, key))
        log_at(log, L_DBG, "loaded avps = %d", loaded)
        return 1 if loaded else -1

    def _row_to_avp(self, ctx: MessageContext, row: tuple[Any, ...], param: DbParam, key: str | None) -> bool:
        """dbrow2avp(): one row as an AVP (False when it is skipped)."""
        if param.scheme is not None:
            value = row[0]
            if value is None or not isinstance(value, int | str):
                log_at(log, L_ERR, "empty or wrong type for 'value' using scheme")
                return False
            value_str = not param.scheme.value_int
        else:
            value, attribute, kind = row
            if value is None or attribute is None or kind is None:
                log_at(log, L_ERR, "dbrow contains NULL fields")
                return False
            if not isinstance(value, str) or not isinstance(attribute, str) or not isinstance(kind, int):
                log_at(log, L_ERR, "wrong field types in dbrow")
                return False
            int_name = bool(kind & NAME_INT)
            if (param.name_type == "int" and not int_name) or (param.name_type == "str" and int_name):
                return False
            value_str = not kind & VAL_INT
            if key is None:
                if int_name and str2int(attribute) is None:
                    log_at(log, L_ERR, "name is not ID as flags say <%s>", attribute)
                    return False
                key = names.key_of(attribute, int_name)
        assert key is not None
        if value_str:
            value = str(value)
        elif not isinstance(value, int):
            number = str2int(value)
            if number is None:
                log_at(log, L_ERR, "value is not int as flags say <%s>", value)
                return False
            value = number
        if names.script_flag_bits(param.script_flags) & names.AVP_TRACK_TO:
            return True  # Kamailio adds it to the To track's list, which nothing here reads
        names.add(ctx, key, value, in_db=True, script_flags=param.script_flags)
        return True

    def avp_db_store(self, ctx: MessageContext, source: Source, param: DbParam) -> int:
        table = self._need_db()
        owner = self._owner(ctx, source)
        ok, attr, key = self._attribute(ctx, param)
        if owner is None or not ok:
            return -1
        c = table.columns
        base = {c.uuid: owner.uuid or "", c.username: owner.username or "", c.domain: owner.domain or ""}
        newest_first = reversed(ctx.avps)
        keys = [key] if key is not None else [k for k in newest_first if _type_matches(k, param.name_type)]
        stored = 0
        for avp in keys:
            marked = names.in_db(ctx, avp)
            for i, value in enumerate(list(names.values(ctx, avp))):
                if i in marked:
                    continue
                kind = (NAME_INT if names.is_int_name(avp) else 0) | (0 if isinstance(value, str)
                                                                      else VAL_INT)
                row = {**base, c.attribute: names.attribute_of(avp), c.value: str(value), c.type: kind}
                try:
                    table.store(row, param.table)
                except DBError as exc:
                    log_at(log, L_ERR, "insert failed: %s", exc)
                    continue
                names.mark_in_db(ctx, avp, value)
                stored += 1
        log_at(log, L_DBG, " %d avps were stored", stored)
        return 1 if stored else -1

    def avp_db_delete(self, ctx: MessageContext, source: Source, param: DbParam) -> int:
        table = self._need_db()
        owner = self._owner(ctx, source)
        ok, attr, _key = self._attribute(ctx, param)
        if owner is None or not ok:
            return -1
        try:
            table.delete(owner.uuid, owner.username, owner.domain, attr, param.table)
        except DBError as exc:
            log_at(log, L_ERR, "db_delete failed: %s", exc)
            return -1
        return 1

    def avp_db_query(self, ctx: MessageContext, query: str, dest: list[AvpName] | None = None) -> int:
        table = self._need_db("avp_db_query function")
        if not query or len(query) > QUERY_MAX:
            log_at(log, L_ERR, "cannot print the query")
            return -1
        log_at(log, L_DBG, "query [%s]", query)
        try:
            result = table.raw(query)
        except DBError as exc:
            log_at(log, L_ERR, "cannot do the query: %s", exc)
            return -1
        if not result.rows or not result.columns:
            log_at(log, L_DBG, "no result after query")
            return -2
        for row in reversed(result.rows):
            for j, (value, kind) in enumerate(zip(row, result.types, strict=False)):
                if dest is not None and j >= len(dest):
                    break
                converted = _query_value(value, kind)
                if converted is None:
                    continue
                key = dest[j].key(ctx) if dest is not None else f"i:{j + 1}"
                names.add(ctx, key, converted)
        return 1


def _query_value(value: Any, kind: str) -> int | str | None:
    """db_query_avp(): a string (not empty) or an integer; NULL and other types give no AVP."""
    if value is None:
        return None
    if kind in ("STRING", "STR", "BLOB"):
        text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
        return text or None
    if kind in ("INT", "BIGINT", "DATETIME", "BITMAP"):
        if isinstance(value, int):
            return value
        try:
            if isinstance(value, dt.datetime):
                return int(time.mktime(value.timetuple()))
            return int(str(value))
        except ValueError:
            return None
    return None


def _type_matches(key: str, name_type: str | None) -> bool:
    if name_type is None:
        return True
    return names.is_int_name(key) == (name_type == "int")


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
