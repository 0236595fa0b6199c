"""rr: record_route() and its variants, loose_route() and its return codes, route params, direction,
with Kamailio 5.6's wire layout (checked against a real Kamailio: tests/e2e/test_rr_e2e.py)."""
from __future__ import annotations

import pytest

from kampy.testing import Harness

HEAD = """
listen=udp:127.0.0.1:5060
listen=udp:127.0.0.2:5070
loadmodule "sl"
loadmodule "tm"
loadmodule "pv"
loadmodule "textops"
loadmodule "rr"
"""

PROXY = """
request_route {
    if (loose_route()) { t_relay(); exit; }
    if (is_present_hf("X-Out2")) { force_send_socket(udp:127.0.0.2:5070); }
    if (is_present_hf("X-Before")) { add_rr_param(";p1=a"); }
    if (is_present_hf("X-Args")) { record_route(";x=$fU"); } else { record_route(); }
    if (is_present_hf("X-After")) { add_rr_param(";p2=b"); }
    t_relay();
}
"""


def request(method: str, ruri: str, *, to_tag: str = "", route: str = "", extra: str = "",
            from_tag: str = "al1", branch: str = "z9hG4bK-1") -> str:
    to = "<sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else "")
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}",
             "Max-Forwards: 70",
             f"From: <sip:alice@example.test>;tag={from_tag}",
             f"To: {to}",
             "Call-ID: rr-call-1",
             f"CSeq: 1 {method}"]
    if route:
        lines.append(f"Route: {route}")
    lines += [x for x in extra.split("\n") if x]
    return "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"


def load(kampy_cfg, routes: str = PROXY, params: str = "") -> Harness:
    return kampy_cfg(HEAD + params + routes)


def forwarded(result) -> bytes:
    sent = result.forwarded
    assert sent, result.describe()
    return sent[0].data


def rr_lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if line.startswith(b"Record-Route:")]


# ---------------------------------------------------------------- record_route

def test_record_route_goes_first_with_lr_and_ftag(kampy_cfg) -> None:
    sip = load(kampy_cfg)
    result = sip.send(request("INVITE", "sip:bob@198.51.100.20:5080"))
    data = forwarded(result)
    lines = data.split(b"\r\n")
    assert lines[1] == b"Record-Route: <sip:127.0.0.1;lr;ftag=al1>"  # port 5060 left out, as Kamailio
    assert lines[2].startswith(b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=")
    assert result.codes("record_route") == [1]


def test_record_route_params_then_add_rr_param_order(kampy_cfg) -> None:
    sip = load(kampy_cfg)
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080",
                                      extra="X-Before: 1\nX-Args: 1\nX-After: 1")))
    assert rr_lines(data) == [b"Record-Route: <sip:127.0.0.1;lr;ftag=al1;x=alice;p1=a;p2=b>"]


def test_double_rr_when_sent_from_another_socket(kampy_cfg) -> None:
    sip = load(kampy_cfg)
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080",
                                      extra="X-Out2: 1\nX-After: 1")))
    assert rr_lines(data) == [b"Record-Route: <sip:127.0.0.2:5070;r2=on;lr;ftag=al1;p2=b>",
                              b"Record-Route: <sip:127.0.0.1;r2=on;lr;ftag=al1;p2=b>"]
    assert data.split(b"\r\n")[3].startswith(b"Via: SIP/2.0/UDP 127.0.0.2:5070;")


def test_double_rr_disabled_or_forced(kampy_cfg) -> None:
    off = load(kampy_cfg, params='modparam("rr", "enable_double_rr", 0)\n')
    data = forwarded(off.send(request("INVITE", "sip:bob@198.51.100.20:5080", extra="X-Out2: 1")))
    assert rr_lines(data) == [b"Record-Route: <sip:127.0.0.1;lr;ftag=al1>"]
    always = load(kampy_cfg, params='modparam("rr", "enable_double_rr", 2)\n')
    data = forwarded(always.send(request("INVITE", "sip:bob@198.51.100.20:5080")))
    assert rr_lines(data) == [b"Record-Route: <sip:127.0.0.1;r2=on;lr;ftag=al1>"] * 2


def test_full_lr_and_no_fromtag(kampy_cfg) -> None:
    sip = load(kampy_cfg, params='modparam("rr", "enable_full_lr", 1)\nmodparam("rr", "append_fromtag", 0)\n')
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080")))
    assert rr_lines(data) == [b"Record-Route: <sip:127.0.0.1;lr=on>"]


def test_sips_ruri_gives_sips_record_route(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes='request_route { record_route(); forward("198.51.100.20", 5080); }')
    data = forwarded(sip.send(request("INVITE", "sips:bob@198.51.100.20:5080")))
    assert rr_lines(data) == [b"Record-Route: <sips:127.0.0.1;lr;ftag=al1>"]


def test_second_record_route_fails_and_remove_record_route(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes="""
request_route {
    record_route();
    record_route();
    if (is_present_hf("X-Remove")) { remove_record_route(); }
    t_relay();
}""")
    result = sip.send(request("INVITE", "sip:bob@198.51.100.20:5080"))
    assert result.codes("record_route") == [1, -1]
    assert len(rr_lines(forwarded(result))) == 1
    result = sip.send(request("INVITE", "sip:bob@198.51.100.20:5080", extra="X-Remove: 1",
                              branch="z9hG4bK-2"))
    assert result.codes("remove_record_route") == [1]
    assert rr_lines(forwarded(result)) == []


def test_record_route_preset(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes="""
request_route {
    if (is_present_hf("X-Two")) { record_route_preset("1.2.3.4:5070;foo", "5.6.7.8"); }
    else { record_route_preset("1.2.3.4:5070;foo"); }
    t_relay();
}""")
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080", extra="X-Two: 1")))
    assert rr_lines(data) == [b"Record-Route: <sip:1.2.3.4:5070;foo;ftag=al1;lr>",
                              b"Record-Route: <sip:5.6.7.8;ftag=al1;lr>"]
    no_double = load(kampy_cfg, params='modparam("rr", "enable_double_rr", 0)\n', routes="""
request_route {
    if (!record_route_preset("1.2.3.4", "5.6.7.8")) { sl_send_reply("500", "no"); exit; }
    t_relay();
}""")
    no_double.send(request("INVITE", "sip:bob@198.51.100.20:5080")).assert_reply(500)


def test_relayed_reply_keeps_record_route(kampy_cfg) -> None:
    sip = load(kampy_cfg)
    result = sip.send(request("INVITE", "sip:bob@198.51.100.20:5080"))
    inv = result.forwarded[0]
    reply = sip.send_response(inv, 200, "OK", headers={
        "Record-Route": "<sip:127.0.0.1;lr;ftag=al1>", "Contact": "<sip:bob@198.51.100.20:5080>"},
        src="198.51.100.20:5080")
    relayed = [s for s in reply.responses if s.port == 5060 and s.host == "192.0.2.10"]
    assert relayed and rr_lines(relayed[0].data) == [b"Record-Route: <sip:127.0.0.1;lr;ftag=al1>"]


# ---------------------------------------------------------------- loose_route

LR = """
request_route {
    $var(rc) = 0;
    if (is_present_hf("X-Mode1")) { loose_route_mode("1"); } else { loose_route(); }
    $var(rc) = $rc;
    append_hf("X-RC: $var(rc)\\r\\n");
    append_hf("X-Next: $var(n)\\r\\n");
    if ($du != $null) { append_hf("X-DU: $du\\r\\n"); }
    forward("198.51.100.99", 5099);
}
"""


def lr(kampy_cfg, msg: str, params: str = "") -> tuple[int, object, object]:
    sip = load(kampy_cfg, routes=LR, params=params)
    result = sip.send(msg)
    codes = result.codes("loose_route") or result.codes("loose_route_mode")
    return codes[0], result, parse(forwarded(result))


def parse(data: bytes):
    from kampy.api import parse_message
    return parse_message(data)


def test_no_route_header_returns_minus_one(kampy_cfg) -> None:
    code, result, msg = lr(kampy_cfg, request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1"))
    assert code == -1


def test_our_route_removed_next_loose_hop_in_du(kampy_cfg) -> None:
    code, result, msg = lr(kampy_cfg, request(
        "BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
        route="<sip:127.0.0.1;lr;ftag=al1>, <sip:10.0.0.9:5099;lr>"))
    assert code == 1
    assert msg.header("X-DU") == "sip:10.0.0.9:5099;lr"
    assert msg.headers_named("Route") == ["<sip:10.0.0.9:5099;lr>"]
    assert msg.uri == "sip:bob@198.51.100.20:5080"


def test_our_route_on_its_own_line_removed(kampy_cfg) -> None:
    code, result, msg = lr(kampy_cfg, request(
        "BYE", "sip:bob@198.51.100.20:5080", to_tag="b1", route="<sip:127.0.0.1;lr>",
        extra="Route: <sip:10.0.0.9;lr>, <sip:10.0.0.8;lr>"))
    assert code == 1 and msg.header("X-DU") == "sip:10.0.0.9;lr"
    assert msg.get_all_raw("Route") == [b"Route: <sip:10.0.0.9;lr>, <sip:10.0.0.8;lr>"]


def test_top_route_not_ours_is_next_hop(kampy_cfg) -> None:
    code, result, msg = lr(kampy_cfg, request(
        "BYE", "sip:bob@198.51.100.20:5080", to_tag="b1", route="<sip:10.0.0.9;lr>"))
    assert code == 1 and msg.header("X-DU") == "sip:10.0.0.9;lr"
    assert msg.headers_named("Route") == ["<sip:10.0.0.9;lr>"]


def test_preloaded_route_only_us_returns_minus_three(kampy_cfg) -> None:
    code, result, msg = lr(kampy_cfg, request(
        "INVITE", "sip:bob@198.51.100.20:5080", route="<sip:127.0.0.1;lr>"))
    assert code == -3
    assert msg.headers_named("Route") == []
    sip = load(kampy_cfg, routes="""
request_route {
    if (loose_route_preloaded()) { sl_send_reply("200", "preloaded"); exit; }
    sl_send_reply("404", "no");
}""")
    sip.send(request("INVITE", "sip:bob@198.51.100.20:5080", route="<sip:127.0.0.1;lr>")).assert_reply(200)
    bye = request("BYE", "sip:bob@198.51.100.20:5080", to_tag="x", route="<sip:127.0.0.1;lr>")
    sip.send(bye).assert_reply(404)


def test_strict_next_hop_rewrites_ruri(kampy_cfg) -> None:
    code, result, msg = lr(kampy_cfg, request(
        "BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
        route="<sip:127.0.0.1;lr>, <sip:10.0.0.9;maddr=10.0.0.7>"))
    assert code == 1
    assert msg.uri == "sip:10.0.0.7"
    assert msg.headers_named("Route") == ["<sip:bob@198.51.100.20:5080>"]  # the old R-URI, last


def test_after_strict_router_ruri_is_ours(kampy_cfg) -> None:
    # the previous hop was a strict router: R-URI is our Record-Route, the remote target is last
    code, result, msg = lr(kampy_cfg, request(
        "BYE", "sip:127.0.0.1;lr;ftag=al1", to_tag="b1",
        route="<sip:10.0.0.9;lr>, <sip:bob@198.51.100.20:5080>"))
    assert code == 1
    assert msg.header("X-DU") == "sip:10.0.0.9;lr"
    assert msg.uri == "sip:bob@198.51.100.20:5080"
    assert msg.headers_named("Route") == ["<sip:10.0.0.9;lr>"]
    code, result, msg = lr(kampy_cfg, request(  # mode 1: no strict-router handling
        "BYE", "sip:127.0.0.1;lr;ftag=al1", to_tag="b1", extra="X-Mode1: 1",
        route="<sip:10.0.0.9;lr>, <sip:bob@198.51.100.20:5080>"))
    assert code == 1 and msg.header("X-DU") == "sip:10.0.0.9;lr" and msg.uri == "sip:127.0.0.1;lr;ftag=al1"


def test_double_route_both_ours_removed_and_socket_forced(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes="""
request_route {
    if (loose_route()) {
        if (rr_next_hop_route()) { append_hf("X-NH: 1\\r\\n"); }
        t_relay();
        exit;
    }
    sl_send_reply("500", "no");
}""")
    result = sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                              route="<sip:127.0.0.1;r2=on;lr;ftag=al1>,<sip:127.0.0.2:5070;r2=on;lr;ftag=al1>",
                              extra="Route: <sip:10.0.0.9;lr>"))
    data = forwarded(result)
    msg = parse(data)
    assert msg.headers_named("Route") == ["<sip:10.0.0.9;lr>"]
    assert msg.header("X-NH") == "1"
    sent = result.forwarded[0]
    assert (sent.host, sent.port) == ("10.0.0.9", 5060)
    assert msg.vias[0].host == "127.0.0.2" and msg.vias[0].port == 5070


def test_double_route_without_port_forces_the_socket_on_any_port(kampy_cfg) -> None:
    """rr_do_force_send_socket: no socket on 127.0.0.2:5060, so 127.0.0.2 on any port."""
    sip = load(kampy_cfg)
    result = sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                              route="<sip:127.0.0.1;r2=on;lr;ftag=al1>,<sip:127.0.0.2;r2=on;lr;ftag=al1>"))
    assert parse(forwarded(result)).vias[0].port == 5070


# ---------------------------------------------------------------- params, direction, pvs

CHECKS = """
request_route {
    loose_route();
    if (check_route_param("ftag=al1")) { append_hf("X-Param: yes\\r\\n"); }
    if (check_route_param("^;lr")) { append_hf("X-Lead: yes\\r\\n"); }
    if (is_direction("downstream")) { append_hf("X-Dir: down\\r\\n"); }
    if (is_direction("upstream")) { append_hf("X-Dir: up\\r\\n"); }
    append_hf("X-Rdir: $rdir(name) $rdir(id)\\r\\n");
    append_hf("X-Tags: $fti $tti\\r\\n");
    forward("198.51.100.99", 5099);
}
"""


def test_check_route_param_and_direction_downstream(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes=CHECKS)
    msg = parse(forwarded(sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                                           route="<sip:127.0.0.1;lr;ftag=al1>"))))
    assert msg.header("X-Param") == "yes" and msg.header("X-Lead") == "yes"
    assert msg.headers_named("X-Dir") == ["down"]
    assert msg.header("X-Rdir") == "downstream 1"
    assert msg.header("X-Tags") == "al1 b1"


def test_direction_upstream_and_record_route_takes_to_tag(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes=CHECKS)
    # bob calls back in the dialog alice started: From is bob (tag b1), ftag is alice's
    msg = parse(forwarded(sip.send(request("BYE", "sip:alice@192.0.2.10", from_tag="b1", to_tag="al1",
                                           route="<sip:127.0.0.1;lr;ftag=al1>"))))
    assert msg.headers_named("X-Dir") == ["up"]
    assert msg.header("X-Rdir") == "upstream 2"
    assert msg.header("X-Tags") == "al1 b1"  # as for the initial request
    assert msg.header("X-Param") == "yes"
    sip2 = load(kampy_cfg, routes='request_route { record_route(); forward("198.51.100.99", 5099); }')
    data = forwarded(sip2.send(request("INVITE", "sip:alice@192.0.2.10", from_tag="b1", to_tag="al1",
                                       route="<sip:127.0.0.1;lr;ftag=al1>")))
    assert rr_lines(data) == [b"Record-Route: <sip:127.0.0.1;lr;ftag=al1>"]


def test_check_route_param_without_our_route(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes=CHECKS)
    msg = parse(forwarded(sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                                           route="<sip:10.0.0.9;lr;ftag=al1>"))))
    assert msg.header("X-Param") is None
    assert msg.headers_named("X-Dir") == ["down"]


RU_CFG = 'request_route { append_hf("X-RU: $route_uri\\r\\n"); forward("198.51.100.99", 5099); }'


def test_route_uri_pv(kampy_cfg) -> None:
    sip = load(kampy_cfg,
               routes=RU_CFG)
    msg = parse(forwarded(sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                                           route='"x" <sip:10.0.0.9;lr>;p=1, <sip:10.0.0.8>'))))
    assert msg.header("X-RU") == "sip:10.0.0.9;lr"


# ---------------------------------------------------------------- add_username, custom_user_avp

def test_add_username_puts_the_ruri_user_in_the_record_route(kampy_cfg) -> None:
    sip = load(kampy_cfg, params='modparam("rr", "add_username", 1)\n')
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080")))
    assert rr_lines(data) == [b"Record-Route: <sip:bob@127.0.0.1;lr;ftag=al1>"]


def test_add_username_puts_the_user_in_both_double_record_routes(kampy_cfg) -> None:
    sip = load(kampy_cfg, params='modparam("rr", "add_username", 1)\n')
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080", extra="X-Out2: 1")))
    assert rr_lines(data) == [b"Record-Route: <sip:bob@127.0.0.2:5070;r2=on;lr;ftag=al1>",
                              b"Record-Route: <sip:bob@127.0.0.1;r2=on;lr;ftag=al1>"]


def test_add_username_takes_the_scripts_ruri_user_when_the_received_one_has_none(kampy_cfg) -> None:
    sip = load(kampy_cfg, params='modparam("rr", "add_username", 1)\n', routes="""
request_route { $ru = "sip:carol@198.51.100.20:5080"; record_route(); t_relay(); }""")
    data = forwarded(sip.send(request("INVITE", "sip:198.51.100.20:5080")))
    assert rr_lines(data) == [b"Record-Route: <sip:carol@127.0.0.1;lr;ftag=al1>"]


def test_custom_user_avp_replaces_the_ruri_user(kampy_cfg) -> None:
    params = 'modparam("rr", "add_username", 1)\nmodparam("rr", "custom_user_avp", "$avp(rru)")\n'
    sip = load(kampy_cfg, params=params, routes="""
request_route { if (is_present_hf("X-Custom")) { $avp(rru) = "token42"; } record_route(); t_relay(); }""")
    custom = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080", extra="X-Custom: 1")))
    assert rr_lines(custom) == [b"Record-Route: <sip:token42@127.0.0.1;lr;ftag=al1>"]
    plain = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080", branch="z9hG4bK-2")))
    assert rr_lines(plain) == [b"Record-Route: <sip:bob@127.0.0.1;lr;ftag=al1>"]


def test_custom_user_avp_must_name_an_avp(kampy_cfg) -> None:
    with pytest.raises(Exception, match="custom_user_avp has to be an AVP"):
        load(kampy_cfg, params='modparam("rr", "custom_user_avp", "$var(x)")\n')


def test_record_route_preset_gets_the_username_too(kampy_cfg) -> None:
    # as Kamailio 5.6.3 writes it on the wire (record_route_preset() takes add_username's user)
    sip = load(kampy_cfg, params='modparam("rr", "add_username", 1)\n', routes="""
request_route { record_route_preset("203.0.113.5:5090"); t_relay(); }""")
    data = forwarded(sip.send(request("INVITE", "sip:bob@198.51.100.20:5080")))
    assert rr_lines(data) == [b"Record-Route: <sip:bob@203.0.113.5:5090;ftag=al1;lr>"]


# ---------------------------------------------------------------- force_send_socket, socket mismatch

LOOSE = """
request_route {
    if (loose_route()) { t_relay(); exit; }
    sl_send_reply("500", "no");
}"""


def test_force_send_socket_sends_from_the_socket_a_single_route_names(kampy_cfg) -> None:
    sip = load(kampy_cfg, params='modparam("rr", "force_send_socket", 1)\n', routes=LOOSE)
    result = sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                              route="<sip:127.0.0.2:5070;lr;ftag=al1>"))
    via = parse(forwarded(result)).vias[0]
    assert (via.host, via.port) == ("127.0.0.2", 5070)


def test_without_force_send_socket_a_single_route_leaves_the_socket_to_the_core(kampy_cfg) -> None:
    sip = load(kampy_cfg, routes=LOOSE)
    result = sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                              route="<sip:127.0.0.2:5070;lr;ftag=al1>"))
    via = parse(forwarded(result)).vias[0]
    assert (via.host, via.port) == ("127.0.0.1", 5060)


def test_a_second_route_matching_no_socket_is_warned_about(kampy_cfg, caplog) -> None:
    sip = load(kampy_cfg, routes=LOOSE)
    sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                     route="<sip:127.0.0.1;r2=on;lr;ftag=al1>,<sip:127.0.0.9:5999;r2=on;lr;ftag=al1>"))
    assert "no socket found to match second RR (sip:127.0.0.9:5999;r2=on;lr;ftag=al1)" in caplog.text
    assert "second RR uri is not myself (sip:127.0.0.9:5999;r2=on;lr;ftag=al1)" in caplog.text


def test_enable_socket_mismatch_warning_0_keeps_it_quiet(kampy_cfg, caplog) -> None:
    sip = load(kampy_cfg, params='modparam("rr", "enable_socket_mismatch_warning", 0)\n', routes=LOOSE)
    sip.send(request("BYE", "sip:bob@198.51.100.20:5080", to_tag="b1",
                     route="<sip:127.0.0.1;r2=on;lr;ftag=al1>,<sip:127.0.0.9:5999;r2=on;lr;ftag=al1>"))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert not any("no socket found" in text for text in warnings)


def test_a_route_header_with_a_bare_cr_inside_is_answered_400_not_an_internal_error(kampy_cfg) -> None:
    # the parser answers it (a CR inside a header line), before loose_route() could see it
    msg = request("BYE", "sip:bob@198.51.100.20", to_tag="b1",
                  route="<sip:127.0.0.1;lr;ftag=al1>, <sip:10.99.0.1;lr>\r4x")
    result = load(kampy_cfg).send(msg)
    assert [r.status for r in result.responses] == [400], result.describe()
    assert not result.forwarded
