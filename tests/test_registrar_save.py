"""registrar's save(): Kamailio 5.6's replies, codes and bindings, through a config in-process."""
from __future__ import annotations

from kampy.modules.registrar.contacts import ContactInfo
from tests.reg_helpers import NOW, FakeClock, config, header, register, send, server
from kampy.version import SERVER_HEADER

SERVER = SERVER_HEADER.encode()


def test_save_replies_200_with_the_binding_and_its_expiry_in_kamailios_layout() -> None:
    srv = server(config())
    reply = send(srv, register())
    assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    assert (b"CSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.1:5070>;expires=3600\r\n"
            b"Server: " + SERVER + b"\r\nContent-Length: 0\r\n\r\n") in reply
    assert b"Date:" not in reply  # Kamailio's registrar adds none (append_time() does)


def test_save_lists_every_binding_on_one_contact_line_best_q_first() -> None:
    srv = server(config())
    send(srv, register())
    reply = send(srv, register(contact="<sip:alice@10.0.0.2:5070>;q=0.5", callid="other"))
    assert header(reply, "Contact") == [
        "<sip:alice@10.0.0.2:5070>;q=0.5;expires=3600, <sip:alice@10.0.0.1:5070>;expires=3600"]


def test_save_takes_the_contact_expires_param_before_the_expires_header() -> None:
    srv = server(config())
    reply = send(srv, register(contact="<sip:alice@10.0.0.1>;expires=120", expires=600))
    assert header(reply, "Contact") == ["<sip:alice@10.0.0.1>;expires=120"]


def test_save_uses_default_expires_without_any_expiry() -> None:
    srv = server(config(registrar='"default_expires", 1800'))
    assert header(send(srv, register(expires=None)), "Contact") == ["<sip:alice@10.0.0.1:5070>;expires=1800"]


def test_save_raises_a_too_brief_expiry_to_min_expires_by_default() -> None:
    srv = server(config())
    assert header(send(srv, register(expires=10)), "Contact") == ["<sip:alice@10.0.0.1:5070>;expires=60"]


def test_save_answers_423_with_min_expires_in_min_expires_mode() -> None:
    srv = server(config(registrar='"min_expires", 120;"min_expires_mode", 1'))
    reply = send(srv, register(expires=30))
    assert reply.startswith(b"SIP/2.0 423 Interval Too Brief\r\n")
    assert b"\r\nMin-Expires: 120\r\nP-Registrar-Error: Interval too brief\r\nServer:" in reply


def test_save_caps_the_expiry_at_max_expires() -> None:
    srv = server(config(registrar='"max_expires", 900'))
    assert header(send(srv, register(expires=7200)), "Contact") == ["<sip:alice@10.0.0.1:5070>;expires=900"]


def test_save_with_expires_zero_removes_the_binding() -> None:
    srv = server(config())
    send(srv, register())
    reply = send(srv, register(expires=0, cseq=2))
    assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    assert header(reply, "Contact") == []
    assert srv.core.modules["usrloc"].contacts("alice") == []


def test_save_star_with_expires_zero_removes_every_binding() -> None:
    srv = server(config())
    send(srv, register())
    send(srv, register(contact="<sip:alice@10.0.0.2>", callid="c2"))
    reply = send(srv, register(contact="*", expires=0, callid="c3"))
    assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    assert srv.core.modules["usrloc"].contacts("alice") == []


def test_save_star_with_a_non_zero_expires_is_400() -> None:
    srv = server(config())
    reply = send(srv, register(contact="*", expires=60))
    assert reply.startswith(b"SIP/2.0 400 Bad Request\r\n")
    assert b"P-Registrar-Error: * used in contact and expires is not zero\r\n" in reply


def test_save_star_mixed_with_another_contact_is_400() -> None:
    srv = server(config())
    reply = send(srv, register(contact="*", expires=0, extra="Contact: <sip:alice@10.0.0.1>"))
    assert reply.startswith(b"SIP/2.0 400 Bad Request\r\n")
    assert b"P-Registrar-Error: * used in contact and more than 1 contact\r\n" in reply


def test_save_without_contact_lists_the_current_bindings() -> None:
    srv = server(config())
    send(srv, register())
    clock = srv.core.clock
    clock.advance(100)  # type: ignore[attr-defined]
    reply = send(srv, register(contact=None, expires=None, callid="query", cseq=1))
    assert header(reply, "Contact") == ["<sip:alice@10.0.0.1:5070>;expires=3500"]


def test_save_with_several_contacts_stores_each() -> None:
    srv = server(config())
    reply = send(srv, register(contact="<sip:a@10.0.0.1>, <sip:a@10.0.0.2>;expires=300"))
    assert header(reply, "Contact") == ["<sip:a@10.0.0.1>;expires=3600, <sip:a@10.0.0.2>;expires=300"]


def test_save_rejects_an_older_cseq_of_the_same_call_id_with_400() -> None:
    srv = server(config())
    send(srv, register(cseq=5))
    reply = send(srv, register(cseq=4))
    assert reply.startswith(b"SIP/2.0 400 Bad Request\r\n")
    assert (b"Contact: <sip:alice@10.0.0.1:5070>;expires=3600\r\n"
            b"P-Registrar-Error: Invalid CSeq number\r\n") in reply


def test_save_skips_a_retransmission_with_the_same_cseq_within_cseq_delay() -> None:
    clock = FakeClock()
    srv = server(config(), clock)
    send(srv, register(expires=3600))
    clock.advance(5)
    reply = send(srv, register(expires=60))
    assert header(reply, "Contact") == ["<sip:alice@10.0.0.1:5070>;expires=3595"]


def test_save_refreshes_with_a_newer_cseq() -> None:
    clock = FakeClock()
    srv = server(config(), clock)
    send(srv, register(expires=3600))
    clock.advance(5)
    reply = send(srv, register(expires=600, cseq=2))
    assert header(reply, "Contact") == ["<sip:alice@10.0.0.1:5070>;expires=600"]


def test_save_over_max_contacts_is_503_and_returns_minus_2() -> None:
    srv = server(config(registrar='"max_contacts", 1'))
    send(srv, register())
    reply = send(srv, register(contact="<sip:alice@10.0.0.9>", callid="c2"))
    assert reply.startswith(b"SIP/2.0 503 Service Unavailable\r\n")
    assert b"P-Registrar-Error: Too many registered contacts\r\n" in reply
    assert srv.core.stats.get("registrar:rejected_regs") == 1


def test_save_adds_retry_after_to_a_5xx_when_configured() -> None:
    srv = server(config(registrar='"max_contacts", 1;"retry_after", 30'))
    reply = send(srv, register(contact="<sip:a@1.1.1.1>, <sip:a@2.2.2.2>"))
    assert b"P-Registrar-Error: Too many registered contacts\r\nRetry-After: 30\r\n" in reply


def test_save_rejects_an_invalid_q_with_400() -> None:
    srv = server(config())
    reply = send(srv, register(contact="<sip:alice@10.0.0.1>;q=1.5"))
    assert b"P-Registrar-Error: Invalid q param in contact\r\n" in reply


def test_save_records_received_from_the_received_avp() -> None:
    route = '''request_route {
    $avp(rcv) = "sip:192.0.2.7:5099";
    save("location");
}'''
    srv = server(config(registrar='"received_avp", "$avp(rcv)"', route=route))
    reply = send(srv, register())
    assert header(reply, "Contact") == [
        '<sip:alice@10.0.0.1:5070>;expires=3600;received="sip:192.0.2.7:5099"']
    assert srv.core.modules["usrloc"].contacts("alice")[0].received == "sip:192.0.2.7:5099"


def test_save_stores_kamailios_contact_fields() -> None:
    srv = server(config())
    send(srv, register(contact="<sip:alice@10.0.0.1>;methods=\"INVITE,MESSAGE\"",
                       extra="User-Agent: phone/1.0"))
    c = srv.core.modules["usrloc"].contacts("alice")[0]
    assert (c.callid, c.cseq, c.user_agent, c.socket, c.methods, c.connection_id) == (
        "reg-1@10.0.0.1", 1, "phone/1.0", "udp:127.0.0.1:5060", 1 | 256, -1)
    assert c.expires == NOW + 3600 and c.last_modified == NOW
    assert c.ruid.startswith("uloc-") and c.ruid.endswith("-1")


def test_save_with_path_stores_it_and_returns_it_when_supported() -> None:
    srv = server(config(registrar='"use_path", 1'))
    reply = send(srv, register(extra="Path: <sip:edge.example.test;lr>\nSupported: path"))
    assert b"\r\nPath: <sip:edge.example.test;lr>\r\n" in reply
    assert srv.core.modules["usrloc"].contacts("alice")[0].path == "<sip:edge.example.test;lr>"


def test_save_with_path_not_supported_is_420_in_strict_mode() -> None:
    srv = server(config(registrar='"use_path", 1'))
    reply = send(srv, register(extra="Path: <sip:edge.example.test;lr>"))
    assert reply.startswith(b"SIP/2.0 420 Bad Extension\r\n")
    assert b"Unsupported: path\r\nPath: <sip:edge.example.test;lr>\r\n" in reply


def test_save_flag_0x02_sends_no_reply() -> None:
    srv = server(config(save_args=', "0x02"'))
    assert srv.handle(register(), __import__("tests.reg_helpers").reg_helpers.UA) == []
    assert len(srv.core.modules["usrloc"].contacts("alice")) == 1


def test_save_flag_0x04_replaces_every_other_binding() -> None:
    srv = server(config(save_args=', "0x04"'))
    send(srv, register(contact="<sip:alice@10.0.0.1>"))
    send(srv, register(contact="<sip:alice@10.0.0.2>", callid="c2"))
    assert [c.contact for c in srv.core.modules["usrloc"].contacts("alice")] == ["sip:alice@10.0.0.2"]


def test_save_return_codes_follow_kamailio() -> None:
    route = '''request_route { save("location", "0x02"); $var(r) = $rc; append_to_reply("X-R: $var(r)\\r\\n");
    sl_send_reply("200", "R"); }'''
    srv = server(config(route=route))
    codes = [header(send(srv, register(**kw)), "X-R")[0] for kw in (
        {}, {"cseq": 2}, {"cseq": 3, "expires": 0}, {"contact": None, "cseq": 4},
        {"contact": "*", "expires": 0, "cseq": 5})]
    assert codes == ["1", "2", "3", "4", "3"]


def test_save_counts_accepted_registrations() -> None:
    srv = server(config())
    send(srv, register())
    assert srv.core.stats.get("registrar:accepted_regs") == 1
    assert srv.core.stats.get("registrar:default_expire") == 3600


def test_save_with_an_explicit_uri_saves_under_that_aor() -> None:
    srv = server(config(save_args=', "0", "sip:bob@example.test"'))
    send(srv, register())
    assert len(srv.core.modules["usrloc"].contacts("bob")) == 1


def test_save_takes_the_aor_from_the_to_uri_unescaped_and_lower_cased() -> None:
    srv = server(config())
    send(srv, register(user="Al%69CE"))
    assert len(srv.core.modules["usrloc"].contacts("alice")) == 1


def test_contact_info_values_are_usrlocs_fields_with_contact_and_last_modified() -> None:
    info = ContactInfo("sip:a@h", 60, -1, 5, None, "c1", 1, "ua", None, 0, 0, "udp:h:5060", -1, 0, 0, None, 0)
    assert info.values(100) == dict(
        contact="sip:a@h", expires=60, q=-1, methods=5, received=None, callid="c1", cseq=1, user_agent="ua",
        path=None, cflags=0, flags=0, socket="udp:h:5060", connection_id=-1, keepalive=0, server_id=0,
        instance=None, reg_id=0, xavp=None, last_modified=100)


def test_save_rewriting_the_only_binding_replies_with_it_as_rewritten() -> None:
    srv = server(config())
    send(srv, register())
    reply = send(srv, register(contact="<sip:alice@10.0.0.1:5070>;q=0.2", expires=600, callid="other"))
    assert header(reply, "Contact") == ["<sip:alice@10.0.0.1:5070>;q=0.2;expires=600"]


INSTANCE = "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"


def test_save_keeps_the_instance_without_its_quotes_and_answers_as_kamailio() -> None:
    srv = server(config())
    contact = f'<sip:alice@10.0.0.1:5070>;+sip.instance="{INSTANCE}";reg-id=1'
    reply = send(srv, register(contact=contact, extra="Supported: outbound, gruu"))
    [stored] = srv.core.modules["usrloc"].contacts("alice")
    assert stored.instance == INSTANCE
    [line] = header(reply, "Contact")
    # as Kamailio 5.6 answers the same REGISTER (the temp-gruu holds this binding's ruid)
    assert line.startswith('<sip:alice@10.0.0.1:5070>;expires=3600;'
                           'pub-gruu="sip:alice@example.test;gr=urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF";'
                           f'temp-gruu="sip:{stored.ruid}-')
    assert line.endswith(f'@example.test;gr";+sip.instance="{INSTANCE}";reg-id=1')


def test_save_keeps_a_quoted_received_param_without_its_quotes() -> None:
    srv = server(config())
    reply = send(srv, register(contact='<sip:alice@10.0.0.1:5070>;received="sip:10.1.1.1:5070"'))
    assert header(reply, "Contact") == ['<sip:alice@10.0.0.1:5070>;expires=3600;received="sip:10.1.1.1:5070"']
    assert srv.core.modules["usrloc"].contacts("alice")[0].received == "sip:10.1.1.1:5070"
