"""acc: accounting of SIP transactions to syslog and to a database (Kamailio's acc module)."""
from __future__ import annotations

from kampy.api import (Arg, ArgKind, DialogAPI, Exports, Function, Need, Param, RouteType, RrAPI, TmAPI,
                       Unimplemented)

from .acc import (
    AccModule,
    check_cdr_enable,
    check_extras,
    check_facility,
    check_failed_filter,
    check_flag,
    check_legs,
)

# What Kamailio 5.6's acc has that kampy's does not (tests/test_module_completeness.py checks the
# list against Kamailio's own tables).
NOT_IMPLEMENTED = (
    Unimplemented("param", "clone_msg", "Kamailio's memory handling of the request (copied into shared "
                  "memory or not): kampy keeps no such copy, so there is nothing to choose", default=1,
                  types=(int,)),
)


def _flag(name: str, doc: str) -> Param:
    return Param(name, (int,), -1, doc=doc + " (-1: none)", validate=check_flag(name))


COMMENT = Arg("comment", ArgKind.FMT, fixup="fix_comment",
              doc='"<code> <reason>" or a reason alone; may hold pseudo-variables')
# acc_fixup: fixup_var_pve_str_12 (a pseudo-variable at the start alone; one giving none is -1)
DB_TABLE = Arg("table", ArgKind.FMT, var_fixup="pve", fixup="fix_table",
               doc="the table; may hold pseudo-variables")

EXPORTS = Exports(
    name="acc",
    doc="Accounting: a record per transaction (answered, failed, missed, acknowledged) or per "
        "script call, to syslog and to the acc/missed_calls tables.",
    params=(
        Param("early_media", (int,), 0, doc="account provisional replies with a body too"),
        _flag("failed_transaction_flag", "flag: account transactions that fail (final reply >= 300)"),
        Param("failed_filter", (str,), "", validate=check_failed_filter,
              doc="comma-separated reply codes (>= 300) not accounted as failed transactions"),
        Param("report_ack", (int,), 0, doc="account the end-to-end ACK of an accounted 2xx"),
        Param("report_cancels", (int,), 0, doc="account CANCEL transactions too"),
        Param("multi_leg_info", (str,), "", validate=check_legs,
              doc="`name=$avp(x);...`: one set of leg attributes per value of the AVPs"),
        Param("detect_direction", (int,), 0,
              doc="swap From/To tags for requests going upstream (needs rr with append_fromtag)"),
        _flag("acc_prepare_flag", "flag: follow the transaction even without accounting flags yet"),
        Param("acc_prepare_always", (int,), 0, doc="follow every transaction (flags set later count)"),
        Param("reason_from_hf", (int,), 0, doc="the reason from the reply's Reason header, if any"),
        Param("acc_extra_nullable", (int,), 0, doc="write $null extra values as NULL in the database"),
        _flag("log_flag", "flag: account the transaction to syslog"),
        _flag("log_missed_flag", "flag: log missed calls to syslog"),
        Param("log_level", (int,), 1, doc="the level of acc's log lines (1: L_NOTICE)"),
        Param("log_facility", (str,), "LOG_DAEMON", validate=check_facility,
              doc="the syslog facility of acc's log lines"),
        Param("log_extra", (str,), "", validate=check_extras, doc="`name=$pv;...` added to the log lines"),
        Param("cdr_enable", (int,), 0, validate=check_cdr_enable,
              doc="1: a CDR per dialog (needs the dialog module)"),
        Param("cdr_log_enable", (int,), 1, doc="1: CDRs are logged (at log_level, cdr_facility)"),
        Param("cdr_start_on_confirmed", (int,), 0, doc="1: the CDR starts at the ACK, not at the INVITE"),
        Param("cdr_facility", (str,), "LOG_DAEMON", validate=check_facility,
              doc="the syslog facility of CDRs"),
        Param("cdr_extra", (str,), "", validate=check_extras, doc="`name=$pv;...` added to the CDRs"),
        Param("cdr_extra_nullable", (int,), 0, doc="write $null CDR extra values as NULL in the database"),
        Param("cdr_start_id", (str,), "start_time", doc="the name of the start time (a dialog variable)"),
        Param("cdr_end_id", (str,), "end_time", doc="the name of the end time (a dialog variable)"),
        Param("cdr_duration_id", (str,), "duration", doc="the name of the duration (a dialog variable)"),
        Param("cdr_expired_dlg_enable", (int,), 0,
              doc="1: a CDR for an expired dialog too, its extras from dialog variables"),
        Param("cdrs_table", (str,), "", doc="the table of CDRs (empty: none written to the database)"),
        Param("cdr_on_failed", (int,), 1, doc="1: a CDR for a dialog that fails"),
        Param("cdr_extra_size", (int,), 64, doc="the most extra attributes cdr_extra may have"),
        Param("cdr_skip", (str,), None, doc="a dialog variable that, when set, means no CDR"),
        _flag("db_flag", "flag: account the transaction to the database"),
        _flag("db_missed_flag", "flag: write missed calls to the database"),
        Param("db_extra", (str,), "", validate=check_extras, doc="`column=$pv;...` added to the rows"),
        Param("db_url", (str,), "", doc="the database; empty: no database accounting"),
        Param("db_table_acc", (str,), "acc", doc="the table of transactions (may hold pseudo-variables)"),
        Param("db_table_missed_calls", (str,), "missed_calls",
              doc="the table of missed calls (may hold pseudo-variables)"),
        Param("acc_method_column", (str,), "method"),
        Param("acc_from_tag_column", (str,), "from_tag"),
        Param("acc_to_tag_column", (str,), "to_tag"),
        Param("acc_callid_column", (str,), "callid"),
        Param("acc_sip_code_column", (str,), "sip_code"),
        Param("acc_sip_reason_column", (str,), "sip_reason"),
        Param("acc_time_column", (str,), "time"),
        Param("db_insert_mode", (int,), 0,
              doc="1: INSERT DELAYED on MySQL (a plain INSERT elsewhere), 2: a plain INSERT (kampy has no "
                  "asynchronous DB inserts)"),
        Param("time_mode", (int,), 0,
              doc="extra time attributes: 1 sec+usec, 2 seconds.milliseconds, 3 local time, 4 UTC"),
        Param("time_attr", (str,), "time_attr", doc="the name of the time attribute of time_mode 1-4"),
        Param("time_exten", (str,), "time_exten", doc="the microseconds attribute of time_mode 1"),
        Param("time_format", (str,), "%Y-%m-%d %H:%M:%S", doc="strftime format of time_mode 3 and 4"),
        Param("acc_extra_size", (int,), 64, doc="the most extra attributes log_extra and db_extra may have"),
    ),
    functions=(
        Function("acc_log_request", handler="acc_log_request", args=(COMMENT,), routes=RouteType.ANY,
                 doc="Log `ACC: request accounted: ...` for the request at hand.",
                 returns="1, -1 when the request lacks Call-ID, CSeq or From"),
        Function("acc_db_request", handler="acc_db_request",
                 args=(COMMENT, DB_TABLE),
                 routes=RouteType.ANY, doc="Write a row for the request at hand to `table`.",
                 returns="1, -1 without db_url or when the insert fails"),
        Function("acc_request", handler="acc_request",
                 args=(Arg("comment", ArgKind.FMT), Arg("table", ArgKind.FMT)), routes=RouteType.ANY,
                 doc="Both: log the request and, with db_url, write a row to `table`. The comment's "
                     "value may not hold a `$`.",
                 returns="the result of the last record written, -1 on error"),
    ),
    needs=(Need("tm", TmAPI, doc="the transaction callbacks accounting is made of"),
           Need("rr", RrAPI, optional=True, doc="the direction of in-dialog requests (detect_direction)"),
           Need("dialog", DialogAPI, optional=True, doc="the dialogs CDRs are made of (cdr_enable)")),
    not_implemented=NOT_IMPLEMENTED,
    factory=AccModule,
)
