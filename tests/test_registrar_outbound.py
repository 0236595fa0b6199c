"""registrar's outbound_mode, regid_mode and flow_timer (RFC 5626 in save(), Kamailio 5.6's save.c
and reply.c): what save() refuses, the option tags of its 200 OK and whether reg-id is stored."""
from __future__ import annotations

import pytest

from kampy.errors import ConfigError
from tests.reg_helpers import config, header, register, send, server

INSTANCE = ('<sip:alice@10.0.0.1:5070>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
            ";reg-id=1")
PROXY_VIA = "Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bK-edge"


def reply(registrar: str = "", contact: str = "<sip:alice@10.0.0.1:5070>", extra: str = "") -> bytes:
    srv = server(config(registrar=registrar))
    return send(srv, register(contact=contact, extra=extra))


def status(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


def test_outbound_mode_0_refuses_a_register_requiring_outbound() -> None:
    out = reply(extra="Require: outbound")
    assert status(out) == "SIP/2.0 420 Bad Extension"
    assert header(out, "Unsupported") == ["outbound"]
    assert header(out, "P-Registrar-Error") == ["No support for Outbound on server"]


def test_outbound_mode_0_adds_no_outbound_option_tag() -> None:
    out = reply(extra="Supported: outbound")
    assert status(out) == "SIP/2.0 200 OK"
    assert header(out, "Require") == [] and header(out, "Supported") == []


def test_outbound_mode_2_refuses_a_register_whose_supported_lacks_outbound() -> None:
    out = reply('"outbound_mode", 2', extra="Supported: path")
    assert status(out) == "SIP/2.0 421 Extension Required"
    assert (header(out, "Require"), header(out, "Supported")) == (["outbound"], ["outbound"])
    assert header(out, "P-Registrar-Error") == ["No support for Outbound indicated"]


def test_outbound_mode_2_accepts_a_register_without_a_supported_header_as_kamailio() -> None:
    # Kamailio 5.6 checks the option tag only when the request has a Supported header
    assert status(reply('"outbound_mode", 2')) == "SIP/2.0 200 OK"


def test_outbound_mode_2_requires_outbound_in_the_200_ok_with_the_flow_timer() -> None:
    out = reply('"outbound_mode", 2;"flow_timer", 25', extra="Supported: outbound")
    assert status(out) == "SIP/2.0 200 OK"
    assert (header(out, "Require"), header(out, "Supported"), header(out, "Flow-Timer")) == (
        ["outbound"], ["outbound"], ["25"])


def test_outbound_mode_1_says_supported_to_a_client_without_outbound() -> None:
    out = reply('"outbound_mode", 1;"flow_timer", 25')
    assert (header(out, "Supported"), header(out, "Require"), header(out, "Flow-Timer")) == (
        ["outbound"], [], [])


def test_outbound_mode_1_requires_outbound_when_the_client_supports_it() -> None:
    out = reply('"outbound_mode", 1;"flow_timer", 25', extra="Supported: outbound")
    assert (header(out, "Supported"), header(out, "Require"), header(out, "Flow-Timer")) == (
        ["outbound"], ["outbound"], ["25"])


def stored_reg_id(registrar: str, extra: str) -> int:
    srv = server(config(registrar=registrar))
    out = send(srv, register(contact=INSTANCE, extra=extra))
    assert status(out) == "SIP/2.0 200 OK", out
    (c,) = srv.core.modules["usrloc"].contacts("alice")
    return c.reg_id


def test_a_reg_id_behind_an_edge_proxy_without_ob_is_ignored_with_regid_mode_0() -> None:
    assert stored_reg_id('"outbound_mode", 1', PROXY_VIA + "\nPath: <sip:192.0.2.5;lr>") == 0


def test_a_reg_id_behind_an_edge_proxy_with_ob_is_stored() -> None:
    assert stored_reg_id('"outbound_mode", 1', PROXY_VIA + "\nPath: <sip:192.0.2.5;lr;ob>") == 1


def test_regid_mode_1_stores_the_reg_id_without_outbound_on_the_edge() -> None:
    assert stored_reg_id('"outbound_mode", 1;"regid_mode", 1', PROXY_VIA) == 1


def test_an_outbound_client_behind_an_edge_proxy_without_ob_gets_439() -> None:
    srv = server(config(registrar='"outbound_mode", 1'))
    out = send(srv, register(contact=INSTANCE, extra=PROXY_VIA + "\nSupported: outbound"))
    assert status(out) == "SIP/2.0 439 First Hop Lacks Outbound Support"
    assert header(out, "P-Registrar-Error") == ["No support for Outbound on edge proxy"]


@pytest.mark.parametrize("params", ['"outbound_mode", 3', '"regid_mode", 2', '"flow_timer", 25',
                                    '"outbound_mode", 1;"flow_timer", 1000'])
def test_bad_outbound_parameters_stop_the_start(params: str) -> None:
    refused = "outbound_mode modparam|regid_mode modparam|bad value for flow_timer"
    with pytest.raises(ConfigError, match=refused):
        server(config(registrar=params))
