"""The acc module: accounting of transactions to syslog and to a database (Kamailio's acc_mod.c,
acc_logic.c, acc.c). tm tells acc about each new transaction (TMCB_REQUEST_IN); when the request
carries one of the accounting flags acc follows the transaction (TMCB_RESPONSE_OUT, ON_FAILURE,
E2EACK_IN) and writes a record when it completes, when a call is missed, when a 2xx is ACKed."""
from __future__ import annotations

import logging.handlers
from typing import Any

from kampy.api import (
    TMCB_DESTROY,
    TMCB_E2EACK_IN,
    TMCB_ON_FAILURE,
    TMCB_REQUEST_IN,
    TMCB_RESPONSE_OUT,
    CoreAPI,
    Database,
    DBError,
    MessageContext,
    Module,
    Request,
    Response,
    RrAPI,
    TmAPI,
    TmcbParams,
    TmTransaction,
    error_text,
    log_at,
    module_logger,
)

from . import records
from .cdr import Cdrs
from .records import Comment, Env, Extra

log = module_logger("acc")
MAX_FLAG = 31
UPSTREAM = "acc.upstream"  # ctx.local: detect_direction found the request going upstream


def check_flag(name: str) -> Any:
    """A validator for a flag parameter (flag_in_range): -1 is off."""
    def check(value: int) -> None:
        if value != -1 and not 0 <= value <= MAX_FLAG:
            raise ValueError(f"{name} set to invalid value")
    return check


def check_cdr_enable(value: int) -> None:
    """cdr_enable: Kamailio's range check, then init_cdr_generation, which needs the dialog module."""
    if value not in (0, 1):
        raise ValueError("cdr_enable is out of range")


def check_failed_filter(text: str) -> None:
    parse_failed_filter(text)


def parse_failed_filter(text: str) -> frozenset[int]:
    """failed_filter: comma-separated 3-digit codes >= 300, at most 15."""
    if not text:
        return frozenset()
    codes: list[int] = []
    for part in text.split(","):
        if len(codes) >= 15:
            raise ValueError("too many elements in failed_filter")
        if len(part) != 3 or not part.isdigit():
            raise ValueError("respose code in failed_filter must have 3 digits")
        if int(part) < 300:
            raise ValueError(f"invalid respose code {part} in failed_filter")
        codes.append(int(part))
    return frozenset(codes)


def facility_code(text: str) -> int:
    """str2facility: LOG_DAEMON, LOG_LOCAL0 ... (ValueError otherwise)."""
    name = text.strip().upper()
    names = logging.handlers.SysLogHandler.facility_names
    code = names.get(name[4:].lower()) if name.startswith("LOG_") else None
    if code is None:
        raise ValueError("invalid log facility configured")
    return code


def check_facility(text: str) -> None:
    facility_code(text)


def check_extras(text: str) -> None:
    if text:
        records.parse_extras(text, 1 << 30)


def check_legs(text: str) -> None:
    if text:
        records.parse_legs(text)


class AccModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmAPI = core.api("tm")
        p = params
        self.early_media = bool(p["early_media"])
        self.report_ack = bool(p["report_ack"])
        self.report_cancels = bool(p["report_cancels"])
        self.reason_from_hf = bool(p["reason_from_hf"])
        self.extra_nullable = p["acc_extra_nullable"] == 1
        self.failed_flag: int = p["failed_transaction_flag"]
        self.failed_filter = parse_failed_filter(p["failed_filter"])
        self.prepare_flag: int = p["acc_prepare_flag"]
        self.prepare_always = bool(p["acc_prepare_always"])
        self.log_flag: int = p["log_flag"]
        self.log_missed_flag: int = p["log_missed_flag"]
        self.log_level: int = p["log_level"]
        self.facility = facility_code(p["log_facility"])
        self.time_mode: int = p["time_mode"]
        self.time_attr: str = p["time_attr"]
        self.time_exten: str = p["time_exten"]
        self.time_format: str = p["time_format"]
        limit: int = p["acc_extra_size"]
        self.legs = self._extras(records.parse_legs(p["multi_leg_info"]) if p["multi_leg_info"] else [])
        self.log_extra = self._extras(records.parse_extras(p["log_extra"], limit) if p["log_extra"] else [])
        self.rr: RrAPI | None = None
        if p["detect_direction"]:
            self.rr = core.api("rr")
            if self.rr is None:
                raise ValueError("can't load RR API")
            if not self.rr.append_fromtag:
                raise ValueError("'append_fromtag' RR param is not enabled! - required by 'detect_direction'")
        self.db: Database | None = None
        self.insert_delayed = False
        self.db_flag, self.db_missed_flag = -1, -1
        self.db_extra: list[Extra] = []
        if p["db_url"]:
            self._init_db(p, limit)
        self.upstream: set[int] = set()  # the transactions (id of tm's view) going upstream
        self.cdrs: Cdrs | None = None
        if p["cdr_enable"]:
            self.cdrs = Cdrs(self, p, core.api("dialog"), facility_code(p["cdr_facility"]))
        if self.tm.register_tmcb(None, None, TMCB_REQUEST_IN, self.on_request_in) <= 0:
            raise ValueError("cannot register TMCB_REQUEST_IN callback")

    def _init_db(self, p: dict[str, Any], limit: int) -> None:
        from kampy.api import db_connect

        self.db_extra = self._extras(records.parse_extras(p["db_extra"], limit) if p["db_extra"] else [])
        try:
            self.db = db_connect(p["db_url"])
        except DBError as exc:
            raise ValueError(f"could not open database connection: {exc}") from None
        self.db_flag, self.db_missed_flag = p["db_flag"], p["db_missed_flag"]
        self.insert_delayed = p["db_insert_mode"] == 1 and self.db.dialect.name == "mysql"
        self.table_acc = self.core.formatter(p["db_table_acc"])
        self.table_mc = self.core.formatter(p["db_table_missed_calls"])
        core_cols = [p[k] for k in ("acc_method_column", "acc_from_tag_column", "acc_to_tag_column",
                                    "acc_callid_column", "acc_sip_code_column", "acc_sip_reason_column",
                                    "acc_time_column")]
        time_cols = {1: [self.time_attr, self.time_exten], 2: [self.time_attr], 3: [self.time_attr],
                     4: [self.time_attr]}.get(self.time_mode, [])
        self.db_columns = core_cols + time_cols

    def bind_extras(self, extras: list[Extra]) -> list[Extra]:
        return self._extras(extras)

    def insert(self, table: str, row: dict[str, Any]) -> None:
        self._insert(table, row)

    def _extras(self, extras: list[Extra]) -> list[Extra]:
        for extra in extras:
            try:
                extra.get = self.core.pv_accessor(extra.spec).get
            except LookupError:
                extra.get = self._late_accessor(extra)
        return extras

    def _late_accessor(self, extra: Extra) -> Any:
        """A PV whose module is loaded after acc: bound on first use."""
        def get(ctx: MessageContext) -> Any:
            extra.get = self.core.pv_accessor(extra.spec).get
            return extra.get(ctx)
        return get

    def destroy(self) -> None:
        if self.db is not None:
            self.db.close()

    # ------------------------------------------------------------ flags

    @staticmethod
    def _on(ctx: MessageContext, flag: int) -> bool:
        return flag != -1 and bool(ctx.flags & (1 << flag))

    def _acc_on(self, ctx: MessageContext) -> bool:
        return self._on(ctx, self.log_flag) or self._on(ctx, self.db_flag)

    def _mc_on(self, ctx: MessageContext) -> bool:
        return self._on(ctx, self.log_missed_flag) or self._on(ctx, self.db_missed_flag)

    def _prepare_on(self, ctx: MessageContext) -> bool:
        return self.prepare_always or self._on(ctx, self.prepare_flag)

    # ------------------------------------------------------------ transaction callbacks

    def on_request_in(self, t: TmTransaction, kind: int, params: TmcbParams) -> None:
        """acc_onreq: follow the transaction when the request asks for accounting."""
        ctx, req = params.ctx, params.req
        if ctx is None or req is None:
            return
        if req.method.upper() == "CANCEL" and not self.report_cancels:
            return
        acc_on, mc_on, prepare = self._acc_on(ctx), self._mc_on(ctx), self._prepare_on(ctx)
        if not (acc_on or mc_on or prepare):
            return
        types = TMCB_RESPONSE_OUT
        if self.report_ack and acc_on:
            types |= TMCB_E2EACK_IN
        if req.method.upper() == "INVITE" and (mc_on or prepare):
            types |= TMCB_ON_FAILURE
        if self.rr is not None and self.rr.is_direction(ctx, "upstream") == 1:
            ctx.local[UPSTREAM] = True
            self.upstream.add(id(t))
            types |= TMCB_DESTROY
        if self.tm.register_tmcb(None, t, types, self.on_transaction) <= 0:
            log.error("cannot register additional callbacks")

    def on_transaction(self, t: TmTransaction, kind: int, params: TmcbParams) -> None:
        """tmcb_func."""
        if kind & TMCB_RESPONSE_OUT:
            self.on_reply(t, params)
        elif kind & TMCB_E2EACK_IN:
            self.on_ack(t, params)
        elif kind & TMCB_ON_FAILURE:
            if params.ctx is not None:
                self.on_missed(t, params.ctx, params.rpl, params.code)
        elif kind & TMCB_DESTROY:
            self.upstream.discard(id(t))

    def _branch(self, t: TmTransaction, code: int) -> int:
        """The winning branch, whose URI is the R-URI of the record."""
        if t.relayed_branch >= 0:
            return t.relayed_branch
        return t.picked_branch if code >= 300 else -1

    def _env(self, t: TmTransaction, rpl: Response | None, code: int) -> Env:
        """env_set_to, env_set_code_status: a reply tm made itself (None) has Kamailio's text."""
        env = Env(code=code, upstream=id(t) in self.upstream, now=self.core.clock.time())
        to = rpl.to if rpl is not None and rpl.to is not None else t.request.to
        env.to_tag = to.tag if to is not None else None
        if rpl is None:
            env.code_s, env.reason = str(code), error_text(code)
        else:
            env.code_s, env.reason = str(rpl.status), rpl.reason
            if self.reason_from_hf:
                reason = rpl.header("Reason")
                if reason is not None:
                    env.reason = reason
        return env

    def on_reply(self, t: TmTransaction, params: TmcbParams) -> None:
        """acc_onreply: a reply went upstream."""
        code, rpl = params.code, params.rpl
        ctx = self.tm.t_context(t, self._branch(t, code))
        missed_tag = None
        if t.method == "INVITE" and code >= 300 and self._mc_on(ctx):
            missed_tag = self.on_missed(t, ctx, rpl, code)
        if not self._should_acc_reply(ctx, rpl, code):
            return
        env = self._env(t, rpl, code)
        env.local_to_tag = missed_tag  # Kamailio's acc_env keeps the To-tag on_missed() set
        if self._on(ctx, self.log_flag):
            env.text = records.ACC_ANSWERED
            self.log_record(ctx, ctx.msg, env)  # type: ignore[arg-type]
        if self._on(ctx, self.db_flag):
            self.db_record(ctx, ctx.msg, env, self.table_acc(ctx))  # type: ignore[arg-type]

    def _should_acc_reply(self, ctx: MessageContext, rpl: Response | None, code: int) -> bool:
        if code >= 300:
            return self._on(ctx, self.failed_flag) and code not in self.failed_filter
        if not self._acc_on(ctx):
            return False
        if code < 200:
            return self.early_media and rpl is not None and bool(rpl.content_length)
        return True

    def on_missed(self, t: TmTransaction, ctx: MessageContext, rpl: Response | None, code: int) -> str | None:
        """on_missed: a call failed; the missed-call flags are reset so it is reported once. Returns
        tm's To-tag when tm made the reply itself."""
        br = self._branch(t, code)
        saved = ctx.new_ruri
        if br >= 0:
            ctx.new_ruri = t.branches[br].uri  # the record's R-URI: the winning branch's
        try:
            return self._missed(t, ctx, rpl, code)
        finally:
            ctx.new_ruri = saved

    def _missed(self, t: TmTransaction, ctx: MessageContext, rpl: Response | None, code: int) -> str | None:
        env = self._env(t, rpl, code)
        if rpl is None:
            env.local_to_tag = self.tm.t_get_reply_totag(t.request)
        msg: Request = t.request
        reset = 0
        if self._on(ctx, self.log_missed_flag):
            env.text = records.ACC_MISSED
            self.log_record(ctx, msg, env)
            reset |= 1 << self.log_missed_flag
        if self._on(ctx, self.db_missed_flag):
            self.db_record(ctx, msg, env, self.table_mc(ctx))
            reset |= 1 << self.db_missed_flag
        ctx.flags &= ~reset
        return env.local_to_tag

    def on_ack(self, t: TmTransaction, params: TmcbParams) -> None:
        """acc_onack: the end-to-end ACK of an accounted 2xx (report_ack)."""
        ack = params.req
        if ack is None:
            return
        tctx = self.tm.t_context(t)
        actx = params.ctx if params.ctx is not None else tctx
        env = Env(code=t.status, code_s=str(t.status), reason=error_text(t.status),
                  upstream=id(t) in self.upstream, now=self.core.clock.time())
        to = ack.to if ack.to is not None else t.request.to
        env.to_tag = to.tag if to is not None else None
        if self._on(tctx, self.log_flag):
            env.text = records.ACC_ACKED
            self.log_record(actx, ack, env)
        if self._on(tctx, self.db_flag):
            self.db_record(actx, ack, env, self.table_acc(actx))

    # ------------------------------------------------------------ config functions

    def fix_comment(self, text: str) -> Comment:
        if not text:
            raise ValueError("first parameter is empty")
        return records.parse_comment(text)

    @staticmethod
    def fix_table(table: str | None) -> str | None:
        if table == "":  # acc_fixup's check, for either parameter
            raise ValueError("first parameter is empty")
        return table

    def _script_env(self, ctx: MessageContext, comment: Comment) -> Env | None:
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.cseq is None or msg.from_ is None or msg.call_id is None:
            log.error("failed to preparse request")
            return None
        to = msg.to
        return Env(code=comment.code, code_s=comment.code_s, reason=comment.reason,
                   to_tag=to.tag if to is not None else None, upstream=bool(ctx.local.get(UPSTREAM)),
                   now=self.core.clock.time())

    def acc_log_request(self, ctx: MessageContext, comment: Comment) -> int:
        env = self._script_env(ctx, comment)
        if env is None:
            return -1
        env.text = records.ACC_REQUEST
        return self.log_record(ctx, ctx.msg, env)  # type: ignore[arg-type]

    def acc_db_request(self, ctx: MessageContext, comment: Comment, table: str | None) -> int:
        if self.db is None:
            log.error("db support not configured")
            return -1
        env = self._script_env(ctx, comment)
        if env is None:
            return -1
        if table is None:
            log.error("cannot get acc db table name")
            log.error("cannot set table name")
            return -1
        if len(table) >= 64:
            log.error("acc db table name too big [%s] max 64", table)
            return -1
        return self.db_record(ctx, ctx.msg, env, table)  # type: ignore[arg-type]

    def acc_request(self, ctx: MessageContext, comment: str, table: str) -> int:
        if not comment:
            log.error("invalid parameters")
            log.error("failed execution")
            return -1
        if "$" in comment:
            log.error("cfg variable detected - not supported")
            log.error("failed execution")
            return -1
        env = self._script_env(ctx, records.parse_comment(comment))
        if env is None:
            return -1
        env.text = records.ACC_REQUEST
        ret = self.log_record(ctx, ctx.msg, env)  # type: ignore[arg-type]
        if self.db is not None:
            ret = self.db_record(ctx, ctx.msg, env, table)  # type: ignore[arg-type]
            if ret < 0:
                log.error("acc db request failed")
        return ret

    # ------------------------------------------------------------ writing records

    def log_record(self, ctx: MessageContext, msg: Request, env: Env) -> int:
        """acc_log_request: one line, `<text>timestamp=...;method=...;...` at log_level."""
        values = records.core_values(msg, env) + records.extra_values(self.log_extra, ctx)
        names = list(records.LOG_NAMES) + [e.name for e in self.log_extra]
        line = records.attrs_text(names, values)
        if self.legs:
            leg_names = [leg.name for leg in self.legs]
            line += "".join(records.attrs_text(leg_names, row) for row in records.leg_rows(self.legs, ctx))
        head = records.log_time_text(self.time_mode, env.now, self.time_format, self.time_attr,
                                     self.time_exten)
        log_at(log, self.log_level, "%s%s%s", env.text, head, line, facility=self.facility)
        return 1

    def db_record(self, ctx: MessageContext, msg: Request, env: Env, table: str) -> int:
        """acc_db_request: a row in `table`, one per leg with multi_leg_info."""
        assert self.db is not None
        values: list[Any] = list(records.core_values(msg, env))
        values = ["" if v is None else v for v in values]  # the core columns are strings, never NULL
        values += [records.db_time(env.now), *records.time_parts(self.time_mode, env.now, self.time_format)]
        extras = records.extra_values(self.db_extra, ctx)
        if not self.extra_nullable:
            extras = ["" if v is None else v for v in extras]
        columns = self.db_columns + [e.name for e in self.db_extra]
        rows = ([values + extras + self._nullable(leg) for leg in records.leg_rows(self.legs, ctx)]
                if self.legs else [values + extras])
        leg_columns = [leg.name for leg in self.legs]
        try:
            for row in rows:
                self._insert(table, dict(zip(columns + leg_columns, row, strict=True)))
        except DBError as exc:
            log.error("failed to insert%s into database: %s", " delayed" if self.insert_delayed else "", exc)
            return -1
        return 1

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        """db_insert_mode 1 on MySQL is INSERT DELAYED, as Kamailio's db_mysql does it (MariaDB
        refuses it for InnoDB tables); other drivers have no delayed insert: a plain INSERT."""
        assert self.db is not None
        if not self.insert_delayed:
            self.db.insert(table, row)
            return
        d = self.db.dialect
        columns = ", ".join(d.ident(c) for c in row)
        marks = ", ".join([d.placeholder] * len(row))
        statement = f"INSERT DELAYED INTO {d.ident(table)} ({columns}) VALUES ({marks})"
        self.db.execute(statement, tuple(row.values()))

    def _nullable(self, row: list[str | None]) -> list[str | None]:
        return row if self.extra_nullable else ["" if v is None else v for v in row]

