"""acc to syslog, in-process: which transactions are accounted, when, and the lines Kamailio's acc
writes for them (tests/e2e/test_acc_kamailio.py compares the same lines with Kamailio's)."""
from __future__ import annotations

import logging.handlers

import pytest

from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.runtime.loglevels import python_level
from tests.acckit import FLAGS, acc_lines, acc_server, call, capture, record
from tests.tmkit import ALICE, BOB, reply_to, request

ANSWERED, MISSED = "ACC: transaction answered: ", "ACC: call missed: "


def _said(caplog: pytest.LogCaptureFixture) -> set[str]:
    """What acc and the script's xlog() logged."""
    return {r.getMessage().removeprefix("<script>: ") for r in caplog.records}


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    capture(caplog)


def test_an_answered_call_is_logged_with_kamailios_attributes(caplog) -> None:
    with acc_server() as srv:
        call(srv, 200, "OK")
    assert acc_lines(caplog) == [record(ANSWERED)]


def test_a_request_without_accounting_flags_is_not_followed(caplog) -> None:
    with acc_server(routes="request_route { t_relay(); }") as srv:
        call(srv, 200, "OK")
        call(srv, 486, "Busy Here", branch="z9hG4bK-a2", cseq=2)
    assert acc_lines(caplog) == []


def test_provisional_replies_are_not_accounted_without_early_media(caplog) -> None:
    with acc_server() as srv:
        invite = srv.handle(request("INVITE"), ALICE)[1]
        srv.handle(_with_body(reply_to(invite, 183, "Session Progress")), BOB)
    assert acc_lines(caplog) == []


def test_early_media_accounts_a_provisional_reply_with_a_body(caplog) -> None:
    with acc_server(FLAGS + 'modparam("acc", "early_media", 1)\n') as srv:
        invite = srv.handle(request("INVITE"), ALICE)[1]
        srv.handle(reply_to(invite, 180, "Ringing"), BOB)  # no body: not early media
        srv.handle(_with_body(reply_to(invite, 183, "Session Progress")), BOB)
    assert acc_lines(caplog) == [record(ANSWERED, code="183", reason="Session Progress")]


def _with_body(reply: bytes) -> bytes:
    body = b"v=0\r\n"
    typed = b"Content-Type: application/sdp\r\nContent-Length: 5\r\n"
    return reply.replace(b"Content-Length: 0\r\n", typed) + body


def test_a_busy_call_is_missed_once_and_accounted_as_failed(caplog) -> None:
    with acc_server() as srv:
        call(srv, 486, "Busy Here")
    assert acc_lines(caplog) == [record(MISSED, code="486", reason="Busy Here"),
                                 record(ANSWERED, code="486", reason="Busy Here")]


def test_failed_transactions_need_the_failed_transaction_flag(caplog) -> None:
    routes = 'request_route { setflag(1); t_relay(); }'
    with acc_server(routes=routes) as srv:
        call(srv, 486, "Busy Here")
    assert acc_lines(caplog) == []


def test_failed_filter_leaves_out_the_codes_it_lists(caplog) -> None:
    with acc_server(FLAGS + 'modparam("acc", "failed_filter", "404,486")\n') as srv:
        call(srv, 486, "Busy Here")
        call(srv, 480, "Temporarily Unavailable", branch="z9hG4bK-a2", cseq=2)
    assert acc_lines(caplog) == [
        record(MISSED, code="486", reason="Busy Here"),
        record(MISSED, code="480", reason="Temporarily Unavailable"),
        record(ANSWERED, code="480", reason="Temporarily Unavailable")]


def test_the_missed_call_flag_is_reset_before_failure_route(caplog) -> None:
    routes = '''request_route { setflag(2); t_on_failure("F"); t_relay(); }
failure_route[F] {
    if (isflagset(2)) { xlog("L_ERR", "still set\\n"); } else { xlog("L_ERR", "reset\\n"); }
}'''
    with acc_server(header='loadmodule "xlog"\n', routes=routes) as srv:
        call(srv, 486, "Busy Here")
    assert acc_lines(caplog) == [record(MISSED, code="486", reason="Busy Here")]
    assert _said(caplog) >= {"reset"}


def test_a_reply_tm_makes_itself_has_kamailios_reason_and_the_missed_call_tms_to_tag(caplog) -> None:
    routes = '''request_route {
    setflag(1); setflag(2); setflag(3); t_newtran(); t_reply("404", "Nobody Here");
}'''
    with acc_server(routes=routes) as srv:
        out = srv.handle(request("INVITE"), ALICE)
    reply = out[-1].data.decode()
    assert reply.startswith("SIP/2.0 404 Nobody Here")
    tag = reply.split("\r\nTo: ", 1)[1].split(";tag=", 1)[1].split("\r\n", 1)[0]
    assert acc_lines(caplog) == [record(MISSED, to_tag=tag, code="404", reason="Not Found"),
                                 record(ANSWERED, to_tag=tag, code="404", reason="Not Found")]


def test_report_ack_accounts_the_ack_of_an_accounted_2xx(caplog) -> None:
    with acc_server(FLAGS + 'modparam("acc", "report_ack", 1)\n') as srv:
        call(srv, 200, "OK")
        srv.handle(request("ACK", "sip:bob@198.51.100.20:5080", branch="z9hG4bK-ack1", to_tag="bt1"), ALICE)
    assert acc_lines(caplog) == [record(ANSWERED), record("ACC: request acknowledged: ", method="ACK")]


def test_acks_are_not_accounted_without_report_ack(caplog) -> None:
    with acc_server() as srv:
        call(srv, 200, "OK")
        srv.handle(request("ACK", "sip:bob@198.51.100.20:5080", branch="z9hG4bK-ack1", to_tag="bt1"), ALICE)
    assert acc_lines(caplog) == [record(ANSWERED)]


def test_cancels_are_accounted_only_with_report_cancels(caplog) -> None:
    for report, expected in ((0, []), (1, [record(ANSWERED, method="CANCEL", to_tag="")])):
        caplog.clear()
        with acc_server(FLAGS + f'modparam("acc", "report_cancels", {report})\n') as srv:
            invite = srv.handle(request("INVITE"), ALICE)[1]
            srv.handle(reply_to(invite, 180, "Ringing"), BOB)
            srv.handle(request("CANCEL"), ALICE)
        assert acc_lines(caplog) == expected


def test_reason_from_hf_takes_the_reason_header_of_the_reply(caplog) -> None:
    with acc_server(FLAGS + 'modparam("acc", "reason_from_hf", 1)\n') as srv:
        invite = srv.handle(request("INVITE"), ALICE)[1]
        srv.handle(reply_to(invite, 486, "Busy Here", extra='Reason: SIP;cause=486;text="busy"\r\n'), BOB)
    assert acc_lines(caplog)[-1] == record(ANSWERED, code="486", reason='SIP;cause=486;text="busy"')


def test_acc_prepare_flag_lets_failure_route_ask_for_accounting(caplog) -> None:
    routes = '''request_route { setflag(7); t_on_failure("F"); t_relay(); }
failure_route[F] { setflag(1); setflag(3); }'''
    for params, expected in (("", []), ('modparam("acc", "acc_prepare_flag", 7)\n',
                                        [record(ANSWERED, code="486", reason="Busy Here")])):
        caplog.clear()
        with acc_server(FLAGS + params, routes) as srv:
            call(srv, 486, "Busy Here")
        assert acc_lines(caplog) == expected


def test_acc_prepare_always_follows_every_transaction(caplog) -> None:
    routes = '''request_route { t_on_failure("F"); t_relay(); }
failure_route[F] { setflag(1); setflag(3); }'''
    with acc_server(FLAGS + 'modparam("acc", "acc_prepare_always", 1)\n', routes) as srv:
        call(srv, 486, "Busy Here")
    assert acc_lines(caplog) == [record(ANSWERED, code="486", reason="Busy Here")]


def test_log_extra_adds_named_values_read_from_the_transaction(caplog) -> None:
    params = FLAGS + 'modparam("acc", "log_extra", "src=$fU; dst = $rU;ua=$hdr(User-Agent);x=$avp(x)")\n'
    routes = 'request_route { setflag(1); $avp(x) = "kept"; t_relay(); }'
    with acc_server(params, routes) as srv:
        call(srv, 200, "OK", extra="User-Agent: phone\r\n")
    assert acc_lines(caplog) == [record(ANSWERED) + ";src=alice;dst=bob;ua=phone;x=kept"]


def test_multi_leg_info_logs_one_group_per_leg(caplog) -> None:
    params = FLAGS + 'modparam("acc", "multi_leg_info", "leg_src=$avp(src);leg_dst=$avp(dst)")\n'
    routes = '''request_route { setflag(1); $avp(src) = "a"; $avp(dst) = "b"; $avp(src) = "c";
    t_relay(); }'''
    with acc_server(params, routes) as srv:
        call(srv, 200, "OK")
    assert acc_lines(caplog) == [record(ANSWERED) + ";leg_src=c;leg_dst=b;leg_src=a;leg_dst="]


@pytest.mark.parametrize(("mode", "attrs"), [
    (1, "timestamp=1800000000;time_exten=250000"),
    (2, "timestamp=1800000000;time_attr=1800000000.250"),
    (4, "timestamp=1800000000;time_attr=2027-01-15 08:00:00"),
])
def test_time_mode_adds_kamailios_time_attribute(caplog, mode: int, attrs: str) -> None:
    with acc_server(FLAGS + f'modparam("acc", "time_mode", {mode})\n') as srv:
        srv.core.clock.now = 1_800_000_000.25
        call(srv, 200, "OK")
    assert acc_lines(caplog) == [record(ANSWERED).replace("timestamp=1800000000", attrs)]


def test_time_mode_3_formats_the_local_time_with_time_format(caplog) -> None:
    params = FLAGS + 'modparam("acc", "time_mode", 3)\nmodparam("acc", "time_format", "%Y")\n'
    with acc_server(params) as srv:
        call(srv, 200, "OK")
    assert acc_lines(caplog) == [record(ANSWERED).replace("timestamp=1800000000",
                                                          "timestamp=1800000000;time_attr=2027")]


def test_log_level_and_log_facility_go_with_each_line(caplog) -> None:
    params = FLAGS + 'modparam("acc", "log_level", 2)\nmodparam("acc", "log_facility", "LOG_LOCAL3")\n'
    with acc_server(params) as srv:
        call(srv, 200, "OK")
    (rec,) = [r for r in caplog.records if r.name == "kampy.acc"]
    assert rec.levelno == python_level(2)
    assert rec.syslog_facility == logging.handlers.SysLogHandler.LOG_LOCAL3


# ------------------------------------------------------------------ from the script

SCRIPT = '''request_route {
    acc_log_request("$var(c)");
    sl_send_reply("200", "OK");
}'''


@pytest.mark.parametrize(("comment", "code", "reason"), [
    ("200 Accepted here", "200", "Accepted here"), ("just words", "", "just words"), ("404", "404", "")])
def test_acc_log_request_parses_code_and_reason_from_the_comment(caplog, comment, code, reason) -> None:
    routes = SCRIPT.replace('"$var(c)"', f'"{comment}"')
    with acc_server(routes=routes) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert acc_lines(caplog) == [record("ACC: request accounted: ", method="MESSAGE", to_tag="", code=code,
                                        reason=reason)]


def test_acc_log_request_formats_a_comment_with_pseudo_variables(caplog) -> None:
    routes = SCRIPT.replace('"$var(c)"', '"480 gone $fU"')
    with acc_server(routes=routes) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert acc_lines(caplog)[0].endswith(";code=480;reason=gone alice")


def test_acc_request_logs_without_a_database(caplog) -> None:
    routes = SCRIPT.replace('acc_log_request("$var(c)")', 'acc_request("202 Later", "acc")')
    with acc_server(routes=routes) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert acc_lines(caplog) == [record("ACC: request accounted: ", method="MESSAGE", to_tag="", code="202",
                                        reason="Later")]


def test_acc_request_refuses_a_comment_holding_a_dollar(caplog) -> None:
    call_it = '$var(c) = "$x"; if (!acc_request("$var(c)", "acc")) { xlog("L_ERR", "refused\\n"); }'
    routes = SCRIPT.replace('acc_log_request("$var(c)")', call_it)
    with acc_server(header='loadmodule "xlog"\n', routes=routes) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert acc_lines(caplog) == []
    assert _said(caplog) >= {"cfg variable detected - not supported", "refused"}


def test_acc_db_request_without_db_url_fails(caplog) -> None:
    routes = SCRIPT.replace('acc_log_request("$var(c)")', 'if (!acc_db_request("200 OK", "acc")) '
                                                          '{ xlog("L_ERR", "no db\\n"); }')
    with acc_server(header='loadmodule "xlog"\n', routes=routes) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert _said(caplog) >= {"db support not configured", "no db"}


# ------------------------------------------------------------------ refused configurations

@pytest.mark.parametrize(("params", "error"), [
    ('modparam("acc", "cdr_enable", 1)', "can't load dialog API"),
    ('modparam("acc", "cdr_enable", 2)', "cdr_enable is out of range"),
    ('modparam("acc", "log_flag", 32)', "log_flag set to invalid value"),
    ('modparam("acc", "db_missed_flag", -2)', "db_missed_flag set to invalid value"),
    ('modparam("acc", "log_facility", "LOG_NOWHERE")', "invalid log facility configured"),
    ('modparam("acc", "failed_filter", "486,20")', "must have 3 digits"),
    ('modparam("acc", "failed_filter", "200")', "invalid respose code 200 in failed_filter"),
    ('modparam("acc", "log_extra", "a=$fU;b")', "parse failed in <a=$fU;b>"),
    ('modparam("acc", "multi_leg_info", "a=$fU")', "only AVP are accepted as leg info"),
])
def test_a_bad_parameter_is_refused_with_kamailios_words(params: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("$", r"\$").replace("(", r"\(")):
        with acc_server(params + "\n"):
            pass


def test_an_empty_comment_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="first parameter is empty"):
        with acc_server(routes=SCRIPT.replace('"$var(c)"', '""')):
            pass


def test_log_extra_beyond_acc_extra_size_is_refused() -> None:
    with pytest.raises(ConfigError, match="too many extras"):
        params = 'modparam("acc", "acc_extra_size", 1)\nmodparam("acc", "log_extra", "a=$fU;b=$tU")\n'
        with acc_server(params):
            pass


def test_detect_direction_needs_rr_with_append_fromtag() -> None:
    header = 'loadmodule "rr"\nmodparam("rr", "append_fromtag", 0)\n'
    with pytest.raises(ConfigError, match="'append_fromtag' RR param is not enabled"):
        with acc_server('modparam("acc", "detect_direction", 1)\n', header=header):
            pass


def test_detect_direction_swaps_the_tags_of_a_request_going_upstream(caplog) -> None:
    routes = '''request_route {
    if (has_totag()) { loose_route(); setflag(1); t_relay(); exit; }
    record_route(); t_relay();
}'''
    header = 'loadmodule "rr"\nloadmodule "siputils"\n'
    with acc_server(FLAGS + 'modparam("acc", "detect_direction", 1)\n', routes, header) as srv:
        route = "Route: <sip:127.0.0.1;lr;ftag=al1>\r\n"
        bye = ("BYE sip:alice@192.0.2.10:5070 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 198.51.100.20:5080;branch=z9hG4bK-bye\r\nMax-Forwards: 70\r\n"
               "From: <sip:bob@example.test>;tag=bt1\r\nTo: <sip:alice@example.test>;tag=al1\r\n"
               f"Call-ID: call-1@192.0.2.10\r\nCSeq: 5 BYE\r\n{route}Content-Length: 0\r\n\r\n").encode()
        fwd = srv.handle(bye, BOB)[0]
        srv.handle(reply_to(fwd, 200, "OK"), ALICE)
    assert acc_lines(caplog) == [record(ANSWERED, method="BYE", from_tag="al1", to_tag="bt1")]



def test_cdr_parameters_are_accepted_without_a_warning() -> None:
    text = ('loadmodule "sl"\nloadmodule "tm"\nloadmodule "acc"\nmodparam("acc", "cdr_enable", 0)\n'
            'modparam("acc", "cdr_extra", "c1=$dlg_var(x)")\nrequest_route { exit; }\n')
    compiled = load_text(text, "t.cfg")
    assert compiled.warnings == []  # CDRs are made (tests/test_acc_cdr.py)
