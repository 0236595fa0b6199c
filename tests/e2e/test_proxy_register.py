"""proxy.cfg's registrar, against Kamailio 5.6 and kampy (1 and 4 workers)."""
from __future__ import annotations

from tests.e2e.proxy import UA, unique


def test_register_is_answered_200_listing_the_contact(proxy):
    ua = UA(unique("carol"), proxy.addr)
    reply = ua.register(expires=60)
    ua.close()
    assert reply.status == 200
    contacts = " ".join(reply.all("contact"))
    assert ua.contact in contacts
    assert "expires=" in contacts


def test_message_to_an_unregistered_user_gets_404(proxy):
    ua = UA(unique("dave"), proxy.addr)
    d = ua.message(f"sip:{unique('nobody')}@example.test")
    reply = ua.final_reply(d)
    ua.close()
    assert reply.status == 404


def test_a_binding_saved_through_one_worker_is_found_by_every_worker(proxy):
    # twenty MESSAGEs to one callee, spread over the workers: each finds the binding
    caller, callee = UA(unique("erin"), proxy.addr), UA(unique("frank"), proxy.addr)
    assert callee.register().status == 200
    statuses = []
    for _ in range(20):
        d = caller.message(callee)
        callee.respond(callee.wait_request("MESSAGE"), 200, "OK")
        statuses.append(caller.final_reply(d).status)
    caller.close()
    callee.close()
    assert statuses == [200] * 20
