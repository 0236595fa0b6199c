"""registrar's xavp_rcd and xavp_rcd_mask: the record's details in an XAVP after save(), lookup()
and registered()."""
from __future__ import annotations

from tests.reg_helpers import FakeClock, config, header, register, request, send, server

PROBE = r'''
request_route {
    if (is_method("REGISTER")) { save("location"); SHOW; exit; }
    ROUTE
    SHOW;
    sl_send_reply("200", "Looked");
}
'''
SHOW = ('append_to_reply("X-Ruid: $xavp(rcd=>ruid)\\r\\nX-Contact: $xavp(rcd=>contact)\\r\\n'
        'X-Expires: $xavp(rcd=>expires)\\r\\nX-Received: $xavp(rcd=>received)\\r\\n'
        'X-Path: $xavp(rcd=>path)\\r\\nX-Count: $cnt($xavp(rcd=>contact))\\r\\n")')


def probe(route: str, mask: int = 0, extra: str = "") -> str:
    registrar = f'"xavp_rcd", "rcd";"xavp_rcd_mask", {mask}' + (f";{extra}" if extra else "")
    return config(route=PROBE.replace("ROUTE", route).replace("SHOW", SHOW), registrar=registrar)


def test_lookup_puts_ruid_contact_and_seconds_left_in_the_xavp() -> None:
    clock = FakeClock()
    srv = server(probe('lookup("location");'), clock=clock)
    send(srv, register(contact="<sip:alice@10.0.0.1:5070>", expires=600))
    clock.advance(100)
    reply = send(srv, request())
    assert header(reply, "X-Contact") == ["sip:alice@10.0.0.1:5070"]
    assert header(reply, "X-Expires") == ["500"]
    assert header(reply, "X-Ruid")[0] not in ("", "<null>")


def test_the_mask_leaves_out_ruid_contact_and_expires() -> None:
    srv = server(probe('lookup("location");', mask=7))
    send(srv, register())
    reply = send(srv, request())
    assert [header(reply, h)[0] for h in ("X-Ruid", "X-Contact", "X-Expires")] == ["<null>"] * 3


def test_received_and_path_are_added_when_the_record_has_them() -> None:
    srv = server(probe('lookup("location");', extra='"use_path", 1'))
    send(srv, register(extra="Path: <sip:edge.example.test;lr>\r\nSupported: path\r\n"))
    reply = send(srv, request())
    assert header(reply, "X-Path") == ["<sip:edge.example.test;lr>"]
    assert header(reply, "X-Received") == ["<null>"]


def test_the_mask_leaves_out_path() -> None:
    srv = server(probe('lookup("location");', mask=16, extra='"use_path", 1'))
    send(srv, register(extra="Path: <sip:edge.example.test;lr>\r\nSupported: path\r\n"))
    assert header(send(srv, request()), "X-Path") == ["<null>"]


def test_save_adds_each_contact_of_its_reply_to_one_item() -> None:
    route = ('request_route { save("location", "0x02"); SHOW; sl_send_reply("200", "OK"); }'
             .replace("SHOW", SHOW))
    srv = server(config(route=route, registrar='"xavp_rcd", "rcd"'))
    reply = send(srv, register(contact="<sip:alice@10.0.0.1>, <sip:alice@10.0.0.2>"))
    assert header(reply, "X-Count") == ["2"]


def test_registered_fills_the_xavp_unless_match_action_has_flag_2() -> None:
    srv = server(probe('registered("location");'))
    send(srv, register())
    assert header(send(srv, request()), "X-Contact") == ["sip:alice@10.0.0.1:5070"]
    srv = server(probe('registered("location", "$ru", "0", "2");'))
    send(srv, register())
    assert header(send(srv, request()), "X-Contact") == ["<null>"]


def test_without_xavp_rcd_nothing_is_added() -> None:
    srv = server(config(route=PROBE.replace("ROUTE", 'lookup("location");').replace("SHOW", SHOW)))
    send(srv, register())
    assert header(send(srv, request()), "X-Contact") == ["<null>"]
