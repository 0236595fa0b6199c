"""presence's DMQ replication on the wire (enable_dmq): a Kamailio 5.6 node and a kampy node on one
bus, both running tests/e2e/configs/presence_dmq.cfg (publications in memory). A PUBLISH at either
node is listed by the other's `presence.presentity_list` as the publishing node lists it (entity tag,
ruid, received time, body); a refresh and a withdrawal at one reach the other."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.e2e.beside import Server, start
from tests.e2e.dmq_nodes import ask, eventually
from tests.e2e.kampy_process import stop_process

CFG = (Path(__file__).parent / "configs" / "presence_dmq.cfg").read_text()
FIELDS = ("user", "domain", "event", "etag", "ruid", "received_time", "body")


def pidf(user: str, note: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:{user}@example.test">\n'
            f'  <tuple id="t1"><status><basic>open</basic></status><note>{note}</note></tuple>\n'
            '</presence>\n')


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Kamailio, then kampy joining its bus."""
    tmp = tmp_path_factory.mktemp("presence-dmq")
    kamailio = start("kamailio", tmp, CFG)
    try:
        kampy = start("kampy", tmp, CFG, ("-A", f'PEER_NODE="sip:127.0.0.1:{kamailio.port}"'))
        try:
            both = (kamailio, kampy)
            assert eventually(lambda: [active_nodes(s) for s in both], [2, 2]) == [2, 2]
            yield kamailio, kampy
        finally:
            stop_process(kampy.proc)
    finally:
        stop_process(kamailio.proc)


def active_nodes(server: Server) -> int:
    """How many nodes (itself among them) `dmq.list_nodes` shows active."""
    return server.kamcmd("dmq.list_nodes").count("status: active")


def publish(server: Server, user: str, body: str = "", *, expires: int = 600, etag: str = "") -> str:
    """A PUBLISH of `user`'s presence to `server`: its final reply's status and reason."""
    headers = f"Event: presence\r\nExpires: {expires}\r\n"
    headers += f"SIP-If-Match: {etag}\r\n" if etag else ""
    headers += "Content-Type: application/pidf+xml\r\n" if body else ""
    return ask(SimpleNamespace(addr=("127.0.0.1", server.port)), "PUBLISH", user,  # type: ignore[arg-type]
               headers=headers, body=body)


def listed(server: Server, user: str) -> list[tuple[str, ...]]:
    """`kamcmd presence.presentity_list full`: the publications of `user` (FIELDS of each)."""
    found = []
    for block in server.kamcmd("presence.presentity_list", "full").split("\n}"):
        fields = dict(re.findall(r"^\t(\w+): (.*?)(?=\n\t\w+: |\Z)", block.strip("{\n"), re.M | re.S))
        if fields.get("user") == user:
            found.append(tuple(fields.get(name, "").strip() for name in FIELDS))
    return found


def test_a_publish_at_kamailio_is_listed_by_kampy_as_kamailio_lists_it(bus: tuple[Server, Server]) -> None:
    kamailio, kampy = bus
    assert publish(kamailio, "alice", pidf("alice", "at kamailio")) == "200 OK"
    [publication] = listed(kamailio, "alice")
    assert "at kamailio" in publication[-1]
    assert eventually(lambda: listed(kampy, "alice"), [publication], timeout=5) == [publication]


def test_a_publish_at_kampy_is_listed_by_kamailio_as_kampy_lists_it(bus: tuple[Server, Server]) -> None:
    kamailio, kampy = bus
    assert publish(kampy, "bob", pidf("bob", "at kampy")) == "200 OK"
    [publication] = listed(kampy, "bob")
    assert eventually(lambda: listed(kamailio, "bob"), [publication], timeout=5) == [publication]


def test_a_refresh_and_a_withdrawal_at_kampy_reach_kamailio(bus: tuple[Server, Server]) -> None:
    kamailio, kampy = bus
    assert publish(kampy, "carol", pidf("carol", "first")) == "200 OK"
    [first] = listed(kampy, "carol")
    assert eventually(lambda: len(listed(kamailio, "carol")), 1) == 1
    assert publish(kampy, "carol", pidf("carol", "second"), etag=first[3]) == "200 OK"
    [second] = listed(kampy, "carol")
    assert second[3] != first[3] and "second" in second[-1]

    def tag_and_body(server: Server) -> list[tuple[str, ...]]:
        # (a refreshed record in memory gets a new ruid at each node, as Kamailio's)
        return [(p[3], p[-1]) for p in listed(server, "carol")]

    assert eventually(lambda: tag_and_body(kamailio), tag_and_body(kampy)) == [(second[3], second[-1])]
    assert publish(kampy, "carol", expires=0, etag=second[3]) == "200 OK"
    assert eventually(lambda: listed(kamailio, "carol"), []) == []
