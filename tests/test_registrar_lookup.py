"""registrar's lookup(), registered(), unregister(), lookup_branches and $ulc."""
from __future__ import annotations

from kampy.runtime.shared import SharedStore
from tests.reg_helpers import FakeClock, config, header, register, request, send, server

PROBE = r'''
request_route {
    if (is_method("REGISTER")) { save("location"); exit; }
    ROUTE
}
'''


def probe(body: str, **kw: str) -> str:
    return config(route=PROBE.replace("ROUTE", body), **kw)


SHOW = '''lookup("location"); $var(r) = $rc;
    append_to_reply("X-R: $var(r)\\r\\nX-RU: $ru\\r\\nX-DU: $du\\r\\nX-Branches: $(branch(count))\\r\\n");
    sl_send_reply("200", "Looked");'''


def test_lookup_rewrites_the_ruri_to_the_best_q_contact() -> None:
    srv = server(probe(SHOW))
    send(srv, register(contact="<sip:alice@10.0.0.1>;q=0.2"))
    send(srv, register(contact="<sip:alice@10.0.0.2>;q=0.9", callid="c2"))
    reply = send(srv, request())
    assert header(reply, "X-R") == ["1"] and header(reply, "X-RU") == ["sip:alice@10.0.0.2"]


def test_lookup_appends_the_other_contacts_as_branches() -> None:
    srv = server(probe(SHOW))
    send(srv, register(contact="<sip:alice@10.0.0.1>, <sip:alice@10.0.0.2>"))
    assert header(send(srv, request()), "X-Branches") == ["1"]


def test_lookup_without_append_branches_adds_none() -> None:
    srv = server(probe(SHOW, registrar='"append_branches", 0'))
    send(srv, register(contact="<sip:alice@10.0.0.1>, <sip:alice@10.0.0.2>"))
    assert header(send(srv, request()), "X-Branches") == ["0"]


def test_lookup_of_an_unknown_user_returns_minus_1() -> None:
    srv = server(probe(SHOW))
    assert header(send(srv, request()), "X-R") == ["-1"]


def test_lookup_of_a_request_uri_without_host_returns_minus_3_as_kamailio(caplog) -> None:
    # RFC 4475 3.1.2.13 (unkscm): Kamailio 5.6 logs "failed to parse AoR" and lookup() returns -3
    srv = server(probe(SHOW))
    reply = send(srv, request("OPTIONS", "nobodyKnowsThisScheme:totallyopaquecontent"))
    assert reply.startswith(b"SIP/2.0 200 Looked") and header(reply, "X-R") == ["-3"]
    assert "failed to parse AoR [nobodyKnowsThisScheme:totallyopaquecontent]" in caplog.text


def test_lookup_of_a_tel_uri_uses_the_number_as_the_aor() -> None:
    srv = server(probe(SHOW))
    assert header(send(srv, request("INVITE", "tel:+15551234")), "X-R") == ["-1"]


def test_lookup_returns_minus_2_when_methods_forbid_the_request() -> None:
    srv = server(probe(SHOW, registrar='"method_filtering", 1'))
    send(srv, register(contact='<sip:alice@10.0.0.1>;methods="MESSAGE"'))
    assert header(send(srv, request("INVITE")), "X-R") == ["-2"]
    assert header(send(srv, request("MESSAGE")), "X-R") == ["1"]


def test_lookup_sets_the_destination_from_received() -> None:
    route = ('if (is_method("REGISTER")) { $avp(rcv) = "sip:192.0.2.7:5099"; save("location"); exit; }\n'
             + SHOW)
    srv = server(config(registrar='"received_avp", "$avp(rcv)"', route="request_route {" + route + "}"))
    send(srv, register())
    assert header(send(srv, request()), "X-DU") == ["sip:192.0.2.7:5099"]


def test_lookup_sets_the_destination_from_the_first_path_uri() -> None:
    srv = server(probe(SHOW, registrar='"use_path", 1'))
    send(srv, register(extra="Path: <sip:edge1.test;lr>, <sip:edge2.test;lr>\nSupported: path"))
    assert header(send(srv, request()), "X-DU") == ["sip:edge1.test;lr"]


def test_lookup_ignores_an_expired_contact() -> None:
    clock = FakeClock()
    srv = server(probe(SHOW), clock)
    send(srv, register(expires=60))
    clock.advance(61)
    assert header(send(srv, request()), "X-R") == ["-1"]


def test_registered_is_true_only_for_a_registered_aor() -> None:
    srv = server(probe('''if (registered("location")) { sl_send_reply("200", "Yes"); exit; }
    sl_send_reply("404", "No");'''))
    assert send(srv, request()).startswith(b"SIP/2.0 404 No")
    send(srv, register())
    assert send(srv, request()).startswith(b"SIP/2.0 200 Yes")


def test_unregister_removes_every_contact_of_the_aor() -> None:
    srv = server(probe('''unregister("location", "sip:alice@example.test"); $var(r) = $rc;
    append_to_reply("X-R: $var(r)\\r\\n"); sl_send_reply("200", "Gone");'''))
    send(srv, register(contact="<sip:alice@10.0.0.1>, <sip:alice@10.0.0.2>"))
    assert header(send(srv, request()), "X-R") == ["1"]
    assert srv.core.modules["usrloc"].contacts("alice") == []


def test_unregister_by_ruid_removes_that_contact_or_returns_minus_3() -> None:
    srv = server(probe('''unregister("location", "sip:alice@example.test", "$hdr(X-Ruid)"); $var(r) = $rc;
    append_to_reply("X-R: $var(r)\\r\\n"); sl_send_reply("200", "Gone");'''))
    send(srv, register(contact="<sip:alice@10.0.0.1>, <sip:alice@10.0.0.2>"))
    ruid = srv.core.modules["usrloc"].contacts("alice")[0].ruid
    assert header(send(srv, request(extra=f"X-Ruid: {ruid}")), "X-R") == ["1"]
    assert header(send(srv, request(extra="X-Ruid: nope")), "X-R") == ["-3"]
    assert len(srv.core.modules["usrloc"].contacts("alice")) == 1


def test_reg_fetch_contacts_fills_ulc() -> None:
    srv = server(probe('''reg_fetch_contacts("location", "$ru", "callee");
    append_to_reply("X-N: $ulc(callee=>count)\\r\\nX-A: $ulc(callee=>addr)\\r\\n");
    append_to_reply("X-Q: $(ulc(callee=>q)[1])\\r\\n");
    sl_send_reply("200", "Fetched");'''))
    send(srv, register(contact="<sip:alice@10.0.0.1>;q=0.9, <sip:alice@10.0.0.2>;q=0.1"))
    reply = send(srv, request())
    assert (header(reply, "X-N"), header(reply, "X-A"), header(reply, "X-Q")) == (
        ["2"], ["sip:alice@10.0.0.1"], ["100"])


def test_lookup_branches_looks_up_the_ruri_and_each_branch() -> None:
    srv = server('loadmodule "corex"\n' + probe('''append_branch("sip:bob@example.test");
    lookup_branches("location"); $var(r) = $rc;
    append_to_reply("X-R: $var(r)\\r\\nX-RU: $ru\\r\\nX-B: $(branch(uri)[0])\\r\\n");
    sl_send_reply("200", "B");'''))
    send(srv, register())
    send(srv, register(user="bob", contact="<sip:bob@10.0.0.5>", callid="b1"))
    reply = send(srv, request())
    assert header(reply, "X-RU") == ["sip:alice@10.0.0.1:5070"]
    assert header(reply, "X-B") == ["sip:bob@10.0.0.5"]


def test_a_binding_saved_by_one_worker_is_found_by_another() -> None:
    store = SharedStore.create()
    try:
        cfg = probe(SHOW)
        first = server(cfg, shared=store.reopen(), rank=1, workers=2)
        second = server(cfg, shared=store.reopen(), rank=2, workers=2)
        send(first, register())
        reply = send(second, request())
        assert header(reply, "X-RU") == ["sip:alice@10.0.0.1:5070"]
        assert second.core.stats.get("usrloc:registered_users") == 1
    finally:
        store.remove()
