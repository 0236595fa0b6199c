"""registrar's lookup_filter_mode (Kamailio 5.6's lookup.c reg_lookup_filter_*): 1 keeps the contacts
with a branch flag of $xavp(<xavp_cfg>=>rlf_bflags), 2 those whose TCP connection is open."""
from __future__ import annotations

from kampy.api import Socket, Source
from kampy.runtime.tcp_registry import TcpRegistry
from tests.reg_helpers import UA, FakeClock, register, request, send, server

ROUTE = r'''
request_route {
    if (is_method("REGISTER")) {
        if ($hdr(X-Bflag) != $null) { setbflag($(hdr(X-Bflag){s.int})); }
        save("location");
        exit;
    }
    $xavp(reg=>rlf_bflags) = 8;
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    sl_send_reply("302", "$ru");
}
'''
TCP_SOCKET = Socket("tcp", "127.0.0.1", 5060)


def cfg(registrar: str) -> str:
    modules = ("sl", "textops", "pv", "xlog", "kex", "usrloc", "registrar")
    head = "".join(f'loadmodule "{m}"\n' for m in modules)
    params = "".join(f'modparam("registrar", {p})\n' for p in filter(None, registrar.split(";")))
    return head + 'modparam("registrar", "xavp_cfg", "reg")\n' + params + ROUTE


def looked_up(registrar: str) -> str:
    srv = server(cfg(registrar))
    send(srv, register(contact="<sip:alice@10.0.0.1>", callid="a"))
    send(srv, register(contact="<sip:alice@10.0.0.3>", callid="b", extra="X-Bflag: 3"))
    return send(srv, request()).split(b"\r\n", 1)[0].decode()


def test_lookup_filter_mode_1_uses_only_contacts_with_a_branch_flag_of_rlf_bflags() -> None:
    assert looked_up('"lookup_filter_mode", 1') == "SIP/2.0 302 sip:alice@10.0.0.3"


def test_without_lookup_filter_mode_every_contact_is_used() -> None:
    assert looked_up("") == "SIP/2.0 302 sip:alice@10.0.0.1"  # the older of two of the same q


def tcp_lookup(registrar: str, open_connection: bool) -> str:
    srv = server(cfg(registrar))
    tcp_ua = Source("tcp", "127.0.0.1", 5070, TCP_SOCKET, conn_id=77)
    srv.handle(register(contact="<sip:alice@10.0.0.1;transport=tcp>", callid="a"), tcp_ua)
    if open_connection:
        TcpRegistry(srv.core.shared).opened(77, "tcp", ("127.0.0.1", 5070), ("127.0.0.1", 5060), 120)
    return send(srv, request(), UA).split(b"\r\n", 1)[0].decode()


def test_lookup_filter_mode_2_leaves_out_contacts_whose_connection_is_gone() -> None:
    assert tcp_lookup('"lookup_filter_mode", 2', open_connection=False) == "SIP/2.0 404 Not Found"


def test_lookup_filter_mode_2_uses_contacts_whose_connection_is_open() -> None:
    assert tcp_lookup('"lookup_filter_mode", 2', open_connection=True).startswith("SIP/2.0 302")


def test_without_lookup_filter_mode_2_a_gone_connection_does_not_matter() -> None:
    assert tcp_lookup("", open_connection=False).startswith("SIP/2.0 302")


def lost_tcp_lookup(usrloc: str, open_connection: bool) -> str:
    srv = server(cfg("").replace('loadmodule "registrar"\n', 'loadmodule "registrar"\n' + usrloc))
    tcp_ua = Source("tcp", "127.0.0.1", 5070, TCP_SOCKET, conn_id=77)
    srv.handle(register(contact="<sip:alice@10.0.0.1;transport=tcp>", callid="a"), tcp_ua)
    if open_connection:
        TcpRegistry(srv.core.shared).opened(77, "tcp", ("127.0.0.1", 5070), ("127.0.0.1", 5060), 120)
    return send(srv, request(), UA).split(b"\r\n", 1)[0].decode()


def test_usrloc_handle_lost_tcp_expires_a_contact_whose_connection_is_gone() -> None:
    assert lost_tcp_lookup('modparam("usrloc", "handle_lost_tcp", 1)\n', False) == "SIP/2.0 404 Not Found"


def test_usrloc_handle_lost_tcp_keeps_a_contact_whose_connection_is_open() -> None:
    assert lost_tcp_lookup('modparam("usrloc", "handle_lost_tcp", 1)\n', True).startswith("SIP/2.0 302")


def test_usrloc_handle_lost_tcp_timer_deletes_a_contact_whose_connection_is_gone() -> None:
    clock = FakeClock()
    srv = server(cfg("").replace('loadmodule "registrar"\n', 'loadmodule "registrar"\n'
                                 'modparam("usrloc", "handle_lost_tcp", 1)\n'), clock)
    srv.handle(register(contact="<sip:alice@10.0.0.1;transport=tcp>", callid="a"),
               Source("tcp", "127.0.0.1", 5070, TCP_SOCKET, conn_id=77))
    clock.advance(60)
    srv.run_timers()
    assert srv.core.modules["usrloc"].contacts("alice") == []
