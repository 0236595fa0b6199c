"""lookup() of a contact registered with a Path: the request goes out with the Path as a Route header
(Kamailio's msg_translator.c inserts the path vector before the request's own Route headers, else
right after the new Via), to the first Path URI, on every branch."""
from __future__ import annotations

from typing import Any

CFG = """
listen=udp:127.0.0.1:5060
alias=example.test
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 0)
request_route {
	if ($rm == "REGISTER") { save("location"); exit; }
	lookup("location");
	t_relay();
}
"""
EDGE_PATH = "<sip:edge@198.51.100.5:5090;lr;received=sip:192.0.2.7:5099>"


def setup(kampy_cfg: Any, contacts: list[tuple[str, str | None]]) -> Any:
    sip = kampy_cfg(CFG)
    for i, (contact, path) in enumerate(contacts):
        result = sip.send_request("REGISTER", "sip:example.test", from_="sip:alice@example.test",
                                  to="sip:alice@example.test", contact=f"<{contact}>", call_id=f"reg-{i}",
                                  headers={"Path": path} if path else {}, src="198.51.100.5:5090")
        result.assert_reply(200)
    return sip


def sent_invites(result: Any) -> dict[str, Any]:
    return {s.msg.uri: s for s in result.forwarded if s.is_request}


def lines(sent: Any) -> list[str]:
    return sent.data.decode().split("\r\n")


def test_the_path_goes_out_as_a_route_right_after_the_new_via(kampy_cfg) -> None:
    sip = setup(kampy_cfg, [("sip:alice@10.0.0.7:5099", EDGE_PATH)])
    (sent,) = sent_invites(sip.send_request("INVITE", "sip:alice@example.test")).values()
    assert (sent.host, sent.port) == ("198.51.100.5", 5090)
    out = lines(sent)
    assert out[1].startswith("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=")
    assert out[2] == f"Route: {EDGE_PATH}"


def test_the_path_route_goes_before_the_requests_own_routes(kampy_cfg) -> None:
    sip = setup(kampy_cfg, [("sip:alice@10.0.0.7:5099", EDGE_PATH)])
    later = {"Route": "<sip:later.example.test;lr>"}
    result = sip.send_request("INVITE", "sip:alice@example.test", headers=later)
    (sent,) = sent_invites(result).values()
    routes = [line for line in lines(sent) if line.startswith("Route:")]
    assert routes == [f"Route: {EDGE_PATH}", "Route: <sip:later.example.test;lr>"]


def test_each_branch_gets_its_own_contacts_path(kampy_cfg) -> None:
    sip = setup(kampy_cfg, [("sip:alice@10.0.0.7:5099", EDGE_PATH), ("sip:alice@198.51.100.9:5060", None)])
    sent = sent_invites(sip.send_request("INVITE", "sip:alice@example.test"))
    assert [line for line in lines(sent["sip:alice@10.0.0.7:5099"]) if line.startswith("Route:")] == [
        f"Route: {EDGE_PATH}"]
    assert not [line for line in lines(sent["sip:alice@198.51.100.9:5060"]) if line.startswith("Route:")]
