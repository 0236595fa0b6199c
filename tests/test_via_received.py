"""`received`/`rport` as Kamailio records them: not in the request the script sees, added by the
reply builder (sl, shared helper for tm) and by forwarding (in place in the previous top Via)."""
from __future__ import annotations

import pytest

from kampy.api import reply_via_line
from kampy.sip.via import split_first_via
from kampy.runtime.context import Source
from kampy.sip.message import parse_message
from tests.support.runtime import SOCKET, SOURCE, make_server, recorded, request

KAMAILIO_SOURCE = Source("udp", "127.0.0.1", 35065, SOCKET)


def via_lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if line.lower().startswith((b"via:", b"v:"))]


def kamailio_request() -> bytes:
    return request(via_host="127.0.0.1", via_params=";rport").replace(
        b"127.0.0.1:5080;branch=z9hG4bK-abc", b"127.0.0.1:35065;branch=z9hG4bK-8718-1-0")


def test_script_sees_top_via_as_received(tmp_path):
    server = make_server(tmp_path, 'request_route { rec("$hdr(Via)"); }', modules=("fake", "pv"))
    server.handle(request(via_host="10.1.1.1", via_params=";rport"), SOURCE)
    assert recorded(server) == ["SIP/2.0/UDP 10.1.1.1:5080;branch=z9hG4bK-abc;rport"]


def test_sl_reply_via_is_kamailio_layout_received_once(tmp_path):
    server = make_server(tmp_path, 'request_route { sl_send_reply("200", "OK"); }', modules=("sl",))
    out = server.handle(kamailio_request(), KAMAILIO_SOURCE)
    assert via_lines(out[0].data) == [
        b"Via: SIP/2.0/UDP 127.0.0.1:35065;branch=z9hG4bK-8718-1-0;rport=35065;received=127.0.0.1"]


def test_reply_via_line_helper_fills_rport_in_place_and_appends_received():
    msg = parse_message(request(via_host="10.1.1.1", via_params=";rport;x=1"))
    assert reply_via_line(msg, "192.0.2.7", 5080) == (
        b"Via: SIP/2.0/UDP 10.1.1.1:5080;branch=z9hG4bK-abc;rport=5080;x=1;received=192.0.2.7")


def test_reply_via_line_helper_fills_rport_written_in_another_case_with_spaces():
    msg = parse_message(request(via_host="10.1.1.1", via_params="; RPort = 1;rport"))
    assert reply_via_line(msg, "192.0.2.7", 5080) == (
        b"Via: SIP/2.0/UDP 10.1.1.1:5080;branch=z9hG4bK-abc;rport=5080;rport;received=192.0.2.7")


def test_reply_via_line_helper_leaves_matching_via_alone():
    msg = parse_message(request())
    assert reply_via_line(msg, "192.0.2.7", 5080) == msg.get_all_raw("via")[0]


@pytest.mark.parametrize(("value", "parts"), [
    (b" SIP/2.0/UDP h;branch=b1 ", (b" SIP/2.0/UDP h;branch=b1", b"", b"")),
    (b" SIP/2.0/UDP h;branch=b1 , SIP/2.0/UDP g", (b" SIP/2.0/UDP h;branch=b1", b",", b" SIP/2.0/UDP g")),
    (b' SIP/2.0/UDP h;x="a,b";branch=b1,SIP/2.0/UDP g',
     (b' SIP/2.0/UDP h;x="a,b";branch=b1', b",", b"SIP/2.0/UDP g")),
    (b' SIP/2.0/UDP h;x="a,b"', (b' SIP/2.0/UDP h;x="a,b"', b"", b"")),
])
def test_split_first_via_cuts_at_the_first_comma_outside_quotes(value, parts):
    assert split_first_via(value) == parts


def test_forwarded_request_gets_received_after_sent_by(tmp_path):
    server = make_server(tmp_path, 'request_route { forward("198.51.100.4"); }')
    out = server.handle(request("MESSAGE", via_host="10.1.1.1"), SOURCE)
    assert via_lines(out[0].data)[1] == (
        b"Via: SIP/2.0/UDP 10.1.1.1:5080;received=192.0.2.7;branch=z9hG4bK-abc")


def test_forwarded_request_fills_rport_where_it_stands(tmp_path):
    server = make_server(tmp_path, 'request_route { forward("198.51.100.4"); }')
    out = server.handle(request("MESSAGE", via_host="10.1.1.1", via_params=";rport"), SOURCE)
    assert via_lines(out[0].data)[1] == (
        b"Via: SIP/2.0/UDP 10.1.1.1:5080;received=192.0.2.7;branch=z9hG4bK-abc;rport=5080")


def test_second_forward_does_not_repeat_received(tmp_path):
    server = make_server(tmp_path, 'request_route { forward("198.51.100.4"); forward("198.51.100.5"); }')
    out = server.handle(request("MESSAGE", via_host="10.1.1.1"), SOURCE)
    assert via_lines(out[0].data)[1:] == via_lines(out[1].data)[1:]
    assert via_lines(out[1].data)[1].count(b"received=") == 1


def test_force_rport_adds_rport_to_reply(tmp_path):
    server = make_server(tmp_path, 'request_route { force_rport(); sl_send_reply("200", "OK"); }',
                         modules=("sl",))
    out = server.handle(request(), SOURCE)
    assert via_lines(out[0].data) == [b"Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK-abc;rport=5080"]


def test_force_rport_adds_rport_to_forwarded_request(tmp_path):
    server = make_server(tmp_path, 'request_route { force_rport(); forward("198.51.100.4"); }')
    out = server.handle(request("MESSAGE"), SOURCE)
    assert via_lines(out[0].data)[1] == b"Via: SIP/2.0/UDP 192.0.2.7:5080;rport=5080;branch=z9hG4bK-abc"


def test_force_rport_leaves_script_view_untouched(tmp_path):
    server = make_server(tmp_path, 'request_route { force_rport(); rec("$hdr(Via)"); }',
                         modules=("fake", "pv"))
    server.handle(request(), SOURCE)
    assert recorded(server) == ["SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK-abc"]
