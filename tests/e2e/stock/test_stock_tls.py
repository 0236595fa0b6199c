"""WITH_TLS: TLS on port 5061 with Debian's /etc/kamailio/tls.cfg, its certificate and key made by the
test (a CA of the test signed them; the user agents check the server against that CA)."""
from __future__ import annotations

from tests.e2e.stock.scenario import on
from tests.e2e.stock.steps import answered, hang_up, registered
from tests.e2e.stock.world import Stock


@on("kamailio", "kampy")
def test_registration_and_a_call_over_tls(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob", defines=("WITH_TLS",), transport="tls")
    assert alice.transport.sock.getpeercert()["subjectAltName"] == (  # type: ignore[attr-defined]
        ("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    call = answered(alice, bob)
    bye = hang_up(call, bob)
    assert bye.all("via")[0].startswith("SIP/2.0/TLS 127.0.0.1:5061")
    stock.stop()
    contacts = sorted((r["username"], r["contact"], r["socket"]) for r in stock.rows()["location"])
    assert contacts == [("alice", alice.contact, "tls:127.0.0.1:5061"),
                        ("bob", bob.contact, "tls:127.0.0.1:5061")]
    stock.observe("caller saw", [r.first for r in call.replies])
