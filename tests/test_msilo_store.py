"""m_store: spec §3, one behaviour per test, through a config and the server, on SQLite (and the
behaviours that touch the database's types on MariaDB too)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.api import MessageContext, Request
from kampy.db import connect, create_tables
from tests.support.msilo import ALICE, Silo, make_silo, message, register, wire_packet

NOTICE = {
    "from_address": "sip:registrar@example.test",
    "contact_hdr": "Contact: <sip:registrar@127.0.0.1:35060>;msilo=yes\r\n",
    "content_type_hdr": "Content-Type: text/plain\r\n",
    "offline_message": "*** User $rU is offline!",
    "outbound_proxy": "sip:127.0.0.1:5060",
}


def silo(tmp_path: Path, params: dict | None = None, url: str | None = None, **routes: str) -> Silo:
    return make_silo(tmp_path, url or f"sqlite://{tmp_path}/silo.db", params, **routes)


def test_store_replies_202_and_keeps_the_row_as_the_spec_lists_it(tmp_path: Path, silo_url: str) -> None:
    s = silo(tmp_path, NOTICE, silo_url)
    assert s.send(wire_packet("store_notification.txt", 1)) == 202
    (row,) = s.rows("username, domain, src_addr, dst_addr, ctype, body, snd_time, inc_time, exp_time, "
                    "extra_hdrs")
    assert row[:7] == ("bob", "example.test", "sip:alice@example.test", "sip:bob@example.test", "text/plain",
                       b"Hello Bob #1\r\n", 0)
    assert row[7] == int(s.clock.now) and row[8] == row[7] + 259200
    assert row[9] == "X-Bars-Seq: 0\r\n"
    assert s.stat("stored_messages") == 1


def test_store_sends_the_offline_notice_as_the_wire_trace_shows(tmp_path: Path) -> None:
    s = silo(tmp_path, NOTICE)
    s.send(wire_packet("store_notification.txt", 1))
    (notice,) = s.sent
    trace = wire_packet("store_notification.txt", 3)
    head, _, body = trace.partition(b"\r\n\r\n")
    assert notice.method == "MESSAGE"
    assert trace.startswith(f"MESSAGE {notice.ruri} SIP/2.0\r\n".encode())
    assert f"To: <{notice.to_uri}>\r\n".encode() in head
    assert f"From: <{notice.from_uri}>;tag=".encode() in head
    assert head.endswith(b"\r\n" + notice.headers.encode().rstrip(b"\r\n"))  # msilo's block ends tm's
    assert notice.body == body
    assert notice.next_hop == "sip:127.0.0.1:5060"
    assert notice.callback is None or callable(notice.callback)


def test_notice_goes_to_the_from_uri_without_use_contact(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "use_contact": 0})
    s.send(message())
    assert s.sent[0].ruri == "sip:alice@example.test"


@pytest.mark.parametrize("contact", [None, "<sips:alice@127.0.0.1:5061>", "<tel:+123456>", "*"])
def test_notice_falls_back_to_the_from_uri_when_the_contact_is_not_plain_sip(tmp_path: Path,
                                                                            contact: str | None) -> None:
    s = silo(tmp_path, NOTICE)
    s.send(message(contact=contact))
    assert s.sent[0].ruri == "sip:alice@example.test"


def test_notice_keeps_the_contact_uri_parameters(tmp_path: Path) -> None:
    s = silo(tmp_path, NOTICE)
    s.send(message(contact="<sip:alice@127.0.0.1:5090;transport=udp>;expires=60"))
    assert s.sent[0].ruri == "sip:alice@127.0.0.1:5090;transport=udp"


def test_no_notice_without_from_address_or_offline_message(tmp_path: Path) -> None:
    s = silo(tmp_path, {"offline_message": "x", "content_type_hdr": "Content-Type: text/plain\r\n"})
    assert s.send(message()) == 202
    assert s.sent == []


def test_no_notice_when_the_skip_flag_is_set(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "skip_notification_flag": 18}, pre_store="setflag(18);")
    assert s.send(message()) == 202
    assert s.sent == []


def test_notice_still_sent_when_a_different_flag_is_set(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "skip_notification_flag": 18}, pre_store="setflag(17);")
    s.send(message())
    assert len(s.sent) == 1


def test_empty_expanded_from_address_skips_the_notice_but_stores(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "from_address": "$avp(empty)"}, pre_store='$avp(empty) = "";')
    assert s.send(message()) == 202
    assert s.sent == [] and len(s.rows()) == 1


def test_notice_without_contact_hdr_has_only_the_content_type(tmp_path: Path) -> None:
    params = dict(NOTICE)
    del params["contact_hdr"]
    s = silo(tmp_path, params)
    s.send(message())
    assert s.sent[0].headers == "Content-Type: text/plain\r\n"


def test_constant_notice_headers_of_1024_bytes_or_more_skip_every_notice_but_store(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "contact_hdr": "X-Big: " + "a" * 989 + "\r\n"})  # 7 + 989 + 2 + 26 = 1024
    assert s.send(message()) == 202
    assert s.send(message(call_id="2-8718@127.0.0.1")) == 202
    assert s.sent == [] and len(s.rows()) == 2


def test_constant_notice_headers_just_below_1024_bytes_are_sent(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "contact_hdr": "X-Big: " + "a" * 988 + "\r\n"})
    assert s.send(message()) == 202
    assert len(s.sent) == 1 and s.sent[0].headers.endswith("Content-Type: text/plain\r\n")


def test_notice_from_address_with_a_variable_follows_each_message(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "from_address": "sip:$rU-bot@example.test"})
    s.send(message())
    s.send(message(ruri="sip:carol@example.test", call_id="2-8718@127.0.0.1"))
    assert [n.from_uri for n in s.sent] == ["sip:bob-bot@example.test", "sip:carol-bot@example.test"]


def test_owner_argument_chooses_the_inbox(tmp_path: Path) -> None:
    s = silo(tmp_path, store_args='"sip:carol@other.test"')
    assert s.send(message()) == 202
    assert s.rows("username, domain, dst_addr") == [("carol", "other.test", "sip:bob@example.test")]


def test_owner_is_the_rewritten_r_uri(tmp_path: Path) -> None:
    s = silo(tmp_path, pre_store='$ru = "sip:dave@example.test";')
    s.send(message())
    assert s.rows("username") == [("dave",)]


@pytest.mark.parametrize("owner", ['"<sip:carol@other.test>"', '"Carol sip:carol@x"', '"sip:other.test"',
                                   '"not a uri"'])
def test_owner_that_is_not_a_bare_uri_with_a_user_is_refused(tmp_path: Path, owner: str) -> None:
    s = silo(tmp_path, store_args=owner)
    assert s.send(message()) == 503
    assert s.rows() == []


def test_r_uri_without_user_is_refused(tmp_path: Path) -> None:
    s = silo(tmp_path)
    assert s.send(message(ruri="sip:example.test")) == 503


@pytest.mark.parametrize("store_args", ["", '"$ru"'])
def test_owner_from_the_received_r_uri_drops_its_parameters(tmp_path: Path, store_args: str) -> None:
    s = silo(tmp_path, store_args=store_args)
    assert s.send(message(ruri="sip:Bob@Example.test:5060;transport=udp")) == 202
    assert s.rows("username, domain") == [("Bob", "Example.test")]


def test_content_length_header_is_required(tmp_path: Path) -> None:
    s = silo(tmp_path)
    assert s.send(message(content_length=None)) == 503
    assert s.rows() == []


def test_empty_body_is_refused(tmp_path: Path) -> None:
    s = silo(tmp_path, NOTICE)
    assert s.send(message(b"")) == 503
    assert s.sent == [] and s.stat("stored_messages") == 0


def test_missing_content_type_is_refused(tmp_path: Path) -> None:
    s = silo(tmp_path)
    assert s.send(message(ctype=None)) == 503


@pytest.mark.parametrize("ctype", ["*/*", "text/*", "text/plain, text/html", "garbage"])
def test_unusable_content_type_is_refused(tmp_path: Path, ctype: str) -> None:
    s = silo(tmp_path)
    assert s.send(message(ctype=ctype)) == 503


@pytest.mark.parametrize(("ctype", "stored"), [
    ("text/plain", "text/plain"),
    ("TEXT/Plain; charset=utf-8", "text/plain"),
    ("message/cpim", "text/plain"),
    ("text/html ; charset=utf-8", "text/html"),
    ("Application/Vnd.Test+xml;a=b", "Application/Vnd.Test+xml"),
])
def test_content_type_is_stored_as_kamailio_does(tmp_path: Path, ctype: str, stored: str) -> None:
    s = silo(tmp_path)
    assert s.send(message(ctype=ctype)) == 202
    assert s.rows("ctype") == [(stored,)]


@pytest.mark.parametrize(("expires", "lifetime"), [("60", 60), ("999999", 259200), ("0", 259200),
                                                   ("12abc", 12), ("-5", 259200)])
def test_expires_header_shortens_the_lifetime(tmp_path: Path, expires: str, lifetime: int) -> None:
    s = silo(tmp_path)
    s.send(message(extra=[f"Expires: {expires}"]))
    ((inc, exp),) = s.rows("inc_time, exp_time")
    assert exp - inc == lifetime


def test_expire_time_param_sets_the_default_lifetime(tmp_path: Path) -> None:
    s = silo(tmp_path, {"expire_time": 3600})
    s.send(message())
    ((inc, exp),) = s.rows("inc_time, exp_time")
    assert exp - inc == 3600


def test_max_messages_refuses_the_next_message_without_a_notice(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "max_messages": 2})
    assert [s.send(message(f"m{i}")) for i in range(3)] == [202, 202, 503]
    assert len(s.rows()) == 2 and len(s.sent) == 2 and s.stat("stored_messages") == 2


def test_max_messages_counts_per_owner(tmp_path: Path) -> None:
    s = silo(tmp_path, {"max_messages": 1})
    assert s.send(message("a")) == 202
    assert s.send(message("b", ruri="sip:carol@example.test")) == 202


def test_extra_headers_keep_unknown_and_identity_headers_raw_in_order(tmp_path: Path) -> None:
    extra = ["X-Custom: one", "Subject: dropped", "P-Asserted-Identity: <sip:alice@example.test>",
             "User-Agent: dropped", "x-lower:  two  ", "Privacy: id", "Date: Thu, 26 Nov 2026 11:39:58 GMT",
             "P-Preferred-Identity: <sip:a@b>", "Call-Info: <http://x>;purpose=icon", "Alert-Info: <http://y>"]
    s = silo(tmp_path)
    s.send(message(extra=extra))
    assert s.rows("extra_hdrs") == [(
        "X-Custom: one\r\nP-Asserted-Identity: <sip:alice@example.test>\r\nx-lower:  two  \r\nPrivacy: id\r\n"
        "P-Preferred-Identity: <sip:a@b>\r\nAlert-Info: <http://y>\r\n",)]


def test_extra_headers_of_1024_bytes_or_more_refuse_the_message(tmp_path: Path) -> None:
    s = silo(tmp_path)
    assert s.send(message(extra=["X-Big: " + "a" * 1015])) == 503  # 7 + 1015 + CRLF = 1024
    assert s.send(message(extra=["X-Big: " + "a" * 1014])) == 202


def test_extra_headers_avp_replaces_the_copied_headers(tmp_path: Path) -> None:
    s = silo(tmp_path, {"extra_hdrs_avp": "$avp(xh)"}, pre_store='$avp(xh) = "X-From-Avp: 1\\r\\n";')
    s.send(message())
    assert s.rows("extra_hdrs") == [("X-From-Avp: 1\r\n",)]


def test_extra_headers_avp_too_long_refuses_the_message(tmp_path: Path) -> None:
    long = "X: " + "b" * 1100
    s = silo(tmp_path, {"extra_hdrs_avp": "$avp(xh)"}, pre_store=f'$avp(xh) = "{long}";')
    assert s.send(message()) == 503


def test_reminder_time_comes_from_the_snd_time_avp(tmp_path: Path) -> None:
    s = silo(tmp_path, {"snd_time_avp": "$avp(i:123)"}, pre_store='$avp(i:123) = "20270101120000";')
    assert s.send(message()) == 202
    import time
    assert s.rows("snd_time") == [(int(time.mktime((2027, 1, 1, 12, 0, 0, 0, 0, 0))),)]


@pytest.mark.parametrize("value", ['"19990101000000"', '"20271301000000"', '"2027010112000000"', '"2027a1"',
                                   '"20270132000000"', '"20270101240000"', "20270101120000"])
def test_bad_or_integer_snd_time_stores_an_ordinary_message(tmp_path: Path, value: str) -> None:
    s = silo(tmp_path, {"snd_time_avp": "$avp(st)"}, pre_store=f"$avp(st) = {value};")
    assert s.send(message()) == 202
    assert s.rows("snd_time") == [(0,)]


def test_a_reminder_store_also_sends_a_notice(tmp_path: Path) -> None:
    s = silo(tmp_path, {**NOTICE, "snd_time_avp": "$avp(st)"}, pre_store='$avp(st) = "20270101120000";')
    s.send(message())
    assert len(s.sent) == 1


def test_to_uri_parameters_are_kept_in_dst_addr(tmp_path: Path) -> None:
    s = silo(tmp_path)
    s.send(message(to='"Bob" <sip:bob@example.test;xp=1>'))
    assert s.rows("dst_addr, src_addr") == [("sip:bob@example.test;xp=1", "sip:alice@example.test")]


def test_body_bytes_are_stored_verbatim(tmp_path: Path, silo_url: str) -> None:
    body = "ünïcode \x00 NUL '; DROP TABLE silo; -- \r\n".encode() + bytes(range(256))
    s = silo(tmp_path, url=silo_url)
    assert s.send(message(body, ctype="application/octet-stream")) == 202
    assert s.rows("body") == [(body,)]


def test_sql_text_in_headers_is_stored_verbatim(tmp_path: Path, silo_url: str) -> None:
    s = silo(tmp_path, url=silo_url)
    evil = "X-Evil: '); DELETE FROM silo; --"
    assert s.send(message(extra=[evil], frm="<sip:o'brien@example.test>;tag=1")) == 202
    assert s.rows("src_addr, extra_hdrs") == [("sip:o'brien@example.test", evil + "\r\n")]


def big_message(size: int) -> Request:
    """A MESSAGE with a body of `size` bytes, as a TCP connection may bring it (up to 65,535 bytes)."""
    headers = [("Via", "SIP/2.0/TCP 127.0.0.1:35065;branch=z9hG4bK-1"),
               ("From", "<sip:a@example.test>;tag=1"), ("To", "<sip:bob@example.test>"),
               ("Call-ID", f"big-{size}"), ("CSeq", "1 MESSAGE"), ("Content-Type", "text/plain"),
               ("Content-Length", str(size))]
    return Request("MESSAGE", "sip:bob@example.test", headers, b"x" * size)


def test_a_body_too_large_to_deliver_over_udp_is_refused_at_store_time(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # issue 19, defect 4: a 65,000-byte MESSAGE came in over TCP, was stored, and its dump failed
    # over UDP ("Message too long") at every REGISTER until it expired
    s = silo(tmp_path)
    assert s.module.m_store(MessageContext(big_message(65000), ALICE, s.server.core)) == -1
    assert s.rows() == []
    assert "too large to deliver" in caplog.text


MAX_DELIVERABLE_BODY = 61411  # the largest UDP payload, 65,507 bytes, less 4,096 for the headers


def test_the_largest_deliverable_body_is_stored_and_one_byte_more_is_not(tmp_path: Path) -> None:
    s = silo(tmp_path)
    largest = MAX_DELIVERABLE_BODY
    for size, expected in ((largest + 1, -1), (largest, 1)):
        assert s.module.m_store(MessageContext(big_message(size), ALICE, s.server.core)) == expected
    assert s.rows("length(body)") == [(largest,)]


def test_the_largest_deliverable_dump_fits_a_udp_datagram_after_a_proxy_hop() -> None:
    # the dump's headers: tm's (~300 bytes and the URIs), Date, msilo's block (below 1,024 bytes),
    # two 255-byte URIs twice, then a proxy's Via and Record-Route
    worst_headers = 300 + 4 * 255 + 37 + 1023 + 2 * 150
    assert MAX_DELIVERABLE_BODY + worst_headers <= 65507


@pytest.mark.parametrize("bad", [{"frm": "<sip:alice@example.test"}, {"to": "bob@@"}])
def test_unparsable_from_or_to_refuses_the_message(tmp_path: Path, bad: dict) -> None:
    s = silo(tmp_path)
    out = s.server.handle(message(**bad), ALICE)
    assert s.rows() == []
    assert not any(o.data.startswith(b"SIP/2.0 202") for o in out)


def test_m_store_from_failure_route_is_accepted_by_the_config(tmp_path: Path) -> None:
    from kampy.config.pipeline import load_text
    from tests.support.msilo import cfg_text
    text = cfg_text(tmp_path, f"sqlite://{tmp_path}/silo.db") + '\nfailure_route[1] { m_store("$ou"); }\n'
    load_text(text, "t.cfg")


# --- bytes that are not UTF-8 (issue 19, defect 3). Kamailio binds every string as its bytes:
# SQLite keeps them as TEXT (202), MariaDB's utf8mb4 columns refuse them (error 1366, so 503).

NOT_UTF8_FROM = "<sip:al\udcffice@example.test>;tag=1"  # the byte 0xFF, as the SIP parser keeps it


def test_a_from_uri_that_is_not_utf8_is_stored_as_its_bytes_on_sqlite(tmp_path: Path) -> None:
    s = silo(tmp_path)
    assert s.send(message(frm=NOT_UTF8_FROM)) == 202
    stored = b"sip:al\xffice@example.test".hex().upper()
    assert s.rows("hex(src_addr), typeof(src_addr)") == [(stored, "text")]


def test_a_from_uri_that_is_not_utf8_makes_m_store_false_on_mariadb(tmp_path: Path, mysql_url: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with connect(mysql_url) as db:
        create_tables(db, ["silo"])
    s = silo(tmp_path, url=mysql_url)
    assert s.send(message(frm=NOT_UTF8_FROM)) == 503
    assert s.rows() == []
    assert "cannot store the message" in caplog.text


def test_an_owner_that_is_not_utf8_gets_its_messages_on_sqlite(tmp_path: Path) -> None:
    s = silo(tmp_path)
    assert s.send(message(ruri="sip:b\udcffob@example.test", to="<sip:b\udcffob@example.test>")) == 202
    assert s.send(register(to="<sip:b\udcffob@example.test>")) == 200
    assert [m.ruri for m in s.sent] == ["sip:b\udcffob@example.test"]


def test_a_row_kamailio_stored_with_bytes_that_are_not_utf8_is_dumped_byte_for_byte(tmp_path: Path) -> None:
    s = silo(tmp_path)
    s.module.db.execute(
        "INSERT INTO silo (src_addr, dst_addr, username, domain, inc_time, exp_time, ctype, body) "
        "VALUES (CAST(? AS TEXT), 'sip:bob@example.test', 'bob', 'example.test', 1, 2000000000, "
        "'text/plain', ?)", (b"sip:al\xffice@example.test", b"hi"))
    assert s.send(register()) == 200
    assert [m.from_uri.encode("utf-8", "surrogateescape") for m in s.sent] == [b"sip:al\xffice@example.test"]
