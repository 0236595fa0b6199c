"""path in-process: the Path header each function writes (where, and with what for the socket each
copy is sent from), the parameters that shape it, and use_received's routing by our Route URI's
received parameter (through rr's callback). tests/e2e/test_path_e2e.py compares with Kamailio."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.errors import ConfigError

HEAD = """
debug=2
children=1
auto_aliases=no
{listen}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "rr.so"
loadmodule "path.so"
{params}
request_route {{
{body}
}}
"""
RELAY = '$du = "sip:198.51.100.7:5080"; t_relay(); exit;'
PHONE = "192.0.2.7:5099"


def load(kampy_cfg: Any, body: str, params: str = "", listen: str = "listen=udp:127.0.0.1:5060") -> Any:
    return kampy_cfg(HEAD.format(listen=listen, params=params, body=body))


def register(sip: Any, *, transport: str | None = None, headers: dict[str, str] | None = None) -> Any:
    return sip.send_request("REGISTER", "sip:alice@example.test", src=PHONE, transport=transport,
                            contact=f"<sip:alice@{PHONE}>", headers=headers or {})


def forwarded_lines(result: Any) -> list[str]:
    (sent,) = [s for s in result.forwarded if s.is_request]
    return sent.data.decode().split("\r\n")


def paths(result: Any) -> list[str]:
    return [line for line in forwarded_lines(result) if line.startswith("Path:")]


def test_add_path_writes_the_sending_socket_without_the_default_port(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); {RELAY}")
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr>"]


def test_add_path_writes_a_port_other_than_5060(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); {RELAY}", listen="listen=udp:127.0.0.1:5090")
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1:5090;lr>"]


def test_add_path_goes_after_the_last_header_when_there_is_no_path(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); {RELAY}")
    lines = forwarded_lines(register(sip))
    assert lines[lines.index("") - 1] == "Path: <sip:127.0.0.1;lr>"


def test_add_path_goes_before_the_first_path_header(kampy_cfg) -> None:
    sip = load(kampy_cfg, f'add_path("edge"); {RELAY}')
    result = register(sip, headers={"Path": "<sip:p1.example.test;lr>", "X-After": "1"})
    lines = forwarded_lines(result)
    first = lines.index("Path: <sip:edge@127.0.0.1;lr>")
    assert lines[first + 1] == "Path: <sip:p1.example.test;lr>"


def test_add_path_user_takes_pseudo_variables(kampy_cfg) -> None:
    sip = load(kampy_cfg, f'add_path("$fU"); {RELAY}')
    assert paths(register(sip)) == ["Path: <sip:alice@127.0.0.1;lr>"]


def test_add_path_parameters_follow_lr(kampy_cfg) -> None:
    sip = load(kampy_cfg, f'add_path("edge", "x=$fU;y"); {RELAY}')
    assert paths(register(sip)) == ["Path: <sip:edge@127.0.0.1;lr;x=alice;y>"]


def test_add_path_with_an_empty_user_has_no_user_part(kampy_cfg) -> None:
    sip = load(kampy_cfg, f'add_path(""); {RELAY}')
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr>"]


def test_add_path_returns_1(kampy_cfg) -> None:
    body = f'$var(r) = add_path(); if ($var(r) == 1) {{ {RELAY} }} sl_send_reply("500", "no");'
    sip = load(kampy_cfg, body)
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr>"]


def test_add_path_received_writes_the_source_as_a_sip_uri(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path_received(); {RELAY}")
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr;received=sip:192.0.2.7:5099>"]


def test_add_path_received_escapes_the_transport_of_tcp(kampy_cfg) -> None:
    sip = load(kampy_cfg, f'add_path_received("edge", "x=1"); {RELAY}',
               listen="listen=udp:127.0.0.1:5060\nlisten=tcp:127.0.0.1:5060")
    assert paths(register(sip, transport="tcp")) == [
        "Path: <sip:edge@127.0.0.1;lr;received=sip:192.0.2.7:5099%3Btransport%3Dtcp;x=1>"]


def test_a_tcp_socket_adds_its_transport(kampy_cfg) -> None:
    sip = load(kampy_cfg, 'add_path(); $du = "sip:198.51.100.7:5080;transport=tcp"; t_relay();',
               listen="listen=udp:127.0.0.1:5060\nlisten=tcp:127.0.0.1:5060")
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;transport=tcp;lr>"]


def test_received_format_1_writes_ip_port_and_protocol_number(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path_received(); {RELAY}", params='modparam("path", "received_format", 1)')
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr;received=192.0.2.7~5099~1>"]


def test_received_name_names_the_parameter(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path_received(); {RELAY}", params='modparam("path", "received_name", "rcv")')
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr;rcv=sip:192.0.2.7:5099>"]


def test_enable_r2_writes_the_outgoing_then_the_incoming_socket(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); force_send_socket(udp:127.0.0.2:5070); {RELAY}",
               params='modparam("path", "enable_r2", 1)',
               listen="listen=udp:127.0.0.1:5060\nlisten=udp:127.0.0.2:5070")
    assert paths(register(sip)) == ["Path: <sip:127.0.0.2:5070;lr;r2=on>", "Path: <sip:127.0.0.1;lr;r2=on>"]


def test_without_enable_r2_the_path_names_the_outgoing_socket(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); force_send_socket(udp:127.0.0.2:5070); {RELAY}",
               listen="listen=udp:127.0.0.1:5060\nlisten=udp:127.0.0.2:5070")
    assert paths(register(sip)) == ["Path: <sip:127.0.0.2:5070;lr>"]


def test_sockname_mode_adds_the_socket_name(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); {RELAY}", params='modparam("path", "sockname_mode", 1)',
               listen='listen=udp:127.0.0.1:5060 name "edge0"')
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;sn=edge0;lr>"]


def test_sockname_mode_writes_nothing_for_a_socket_without_name(kampy_cfg) -> None:
    sip = load(kampy_cfg, f"add_path(); {RELAY}", params='modparam("path", "sockname_mode", 1)')
    assert paths(register(sip)) == ["Path: <sip:127.0.0.1;lr>"]


def test_add_path_is_refused_outside_request_route(kampy_cfg) -> None:
    with pytest.raises(ConfigError, match="add_path"):
        kampy_cfg(HEAD.format(listen="", params="", body="t_on_failure(\"F\"); t_relay();")
                  + 'failure_route[F] { add_path(); }\n')


# ---------------------------------------------------------------- use_received

ROUTED = 'if (loose_route()) { t_relay(); exit; } $var(x) = 1; t_relay(); exit;'


def invite_by_route(sip: Any, route: str) -> Any:
    return sip.send_request("INVITE", "sip:alice@203.0.113.50:5060", src="198.51.100.7:5080",
                            headers={"Route": route})


def test_use_received_sets_the_destination_from_our_route(kampy_cfg) -> None:
    sip = load(kampy_cfg, ROUTED, params='modparam("path", "use_received", 1)')
    result = invite_by_route(sip, "<sip:127.0.0.1;lr;received=sip:192.0.2.7:5099%3Btransport%3Dtcp>")
    assert result.du == "sip:192.0.2.7:5099;transport=tcp"


def test_use_received_reads_received_format_1(kampy_cfg) -> None:
    sip = load(kampy_cfg, ROUTED, params='modparam("path", "use_received", 1)\n'
                                        'modparam("path", "received_format", 1)')
    assert invite_by_route(sip, "<sip:127.0.0.1;lr;received=192.0.2.7~5099~2>").du == \
        "sip:192.0.2.7:5099;transport=tcp"
    assert invite_by_route(sip, "<sip:127.0.0.1;lr;received=192.0.2.7~5099~1>").du == "sip:192.0.2.7:5099"


def test_use_received_reads_the_received_name(kampy_cfg) -> None:
    sip = load(kampy_cfg, ROUTED, params='modparam("path", "use_received", 1)\n'
                                        'modparam("path", "received_name", "rcv")')
    assert invite_by_route(sip, "<sip:127.0.0.1;lr;rcv=sip:192.0.2.7:5099>").du == "sip:192.0.2.7:5099"


def test_use_received_leaves_a_route_of_another_proxy_alone(kampy_cfg) -> None:
    sip = load(kampy_cfg, ROUTED, params='modparam("path", "use_received", 1)')
    result = invite_by_route(sip, "<sip:198.51.100.99;lr;received=sip:192.0.2.7:5099>")
    assert result.du == "sip:198.51.100.99;lr;received=sip:192.0.2.7:5099"


def test_without_use_received_the_received_parameter_is_not_followed(kampy_cfg) -> None:
    sip = load(kampy_cfg, ROUTED)
    result = invite_by_route(sip, "<sip:127.0.0.1;lr;received=sip:192.0.2.7:5099>")
    assert result.du in (None, "")


def test_use_received_needs_rr(kampy_cfg) -> None:
    cfg = HEAD.replace('loadmodule "rr.so"\n', "").format(
        listen="listen=udp:127.0.0.1:5060", params='modparam("path", "use_received", 1)', body=RELAY)
    with pytest.raises(Exception, match="rr-API"):
        kampy_cfg(cfg)
