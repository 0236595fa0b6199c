"""samples/cluster/dmq.cfg on the wire: nodes that share their registrations in memory over DMQ
(dmq, dmq_usrloc), two kampy nodes and a mixed bus of Kamailio 5.6 and kampy (issue 19, "usrloc
across nodes"): a user registered at one node is found by `lookup` at the other."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.dmq_nodes import Node, ask, eventually, lookup, register, start_node

FOUND = "200 Found sip:{}@127.0.0.1:9999"
NOT_FOUND = "404 Not Found"


def found(user: str) -> str:
    return FOUND.format(user)


def store(node: Node, key: str, value: str) -> str:
    """$sht(shared=>key) = value at `node` (a PUBLISH in samples/cluster/dmq.cfg)."""
    return ask(node, "PUBLISH", key, body=value)


def read(node: Node, key: str) -> str:
    """$sht(shared=>key) at `node`: "200 Value <value>" or "404 No Value"."""
    return ask(node, "SUBSCRIBE", key)


def joined(first: str, directory: Path) -> Iterator[tuple[Node, Node]]:
    """A `first` ("kampy" or "kamailio") node with `early` registered and stored, then a kampy node
    joining it; both stopped when the user ends: for a fixture's `yield from`."""
    nodes = [start_node(first, directory)]
    try:
        assert register(nodes[0], "early") == "200 OK"
        assert store(nodes[0], "early", "before") == "200 Stored"
        nodes.append(start_node("kampy", directory, notify=nodes[0]))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(scope="module")
def kampy_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """Two kampy nodes: `early` registered at the first before the second joined."""
    yield from joined("kampy", tmp_path_factory.mktemp("dmq-kampy"))


@pytest.fixture(scope="module")
def mixed_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """A Kamailio node, then a kampy node joining it: `early` registered at Kamailio before."""
    yield from joined("kamailio", tmp_path_factory.mktemp("dmq-mixed"))


def test_a_user_registered_at_one_kampy_node_is_found_at_the_other(kampy_pair: tuple[Node, Node]) -> None:
    a, b = kampy_pair
    assert register(a, "alice") == "200 OK"
    assert eventually(lambda: lookup(b, "alice"), found("alice")) == found("alice")


def test_replication_works_from_the_joining_kampy_node_too(kampy_pair: tuple[Node, Node]) -> None:
    a, b = kampy_pair
    assert register(b, "bob") == "200 OK"
    assert eventually(lambda: lookup(a, "bob"), found("bob")) == found("bob")


def test_a_kampy_node_joining_gets_the_registrations_made_before(kampy_pair: tuple[Node, Node]) -> None:
    assert eventually(lambda: lookup(kampy_pair[1], "early"), found("early")) == found("early")


def test_an_unregistration_at_one_kampy_node_removes_the_user_at_the_other(
        kampy_pair: tuple[Node, Node]) -> None:
    a, b = kampy_pair
    assert register(a, "carol") == "200 OK"
    assert eventually(lambda: lookup(b, "carol"), found("carol")) == found("carol")
    assert register(a, "carol", expires=0) == "200 OK"
    assert eventually(lambda: lookup(b, "carol"), NOT_FOUND) == NOT_FOUND


def test_a_user_registered_at_kamailio_is_found_at_kampy(mixed_pair: tuple[Node, Node]) -> None:
    kamailio, kampy = mixed_pair
    assert register(kamailio, "dave") == "200 OK"
    assert eventually(lambda: lookup(kampy, "dave"), found("dave")) == found("dave")


def test_a_user_registered_at_kampy_is_found_at_kamailio(mixed_pair: tuple[Node, Node]) -> None:
    kamailio, kampy = mixed_pair
    assert register(kampy, "erin") == "200 OK"
    assert eventually(lambda: lookup(kamailio, "erin"), found("erin")) == found("erin")


def test_kampy_joining_kamailio_gets_its_registrations(mixed_pair: tuple[Node, Node]) -> None:
    assert eventually(lambda: lookup(mixed_pair[1], "early"), found("early")) == found("early")


def test_an_unregistration_at_kampy_removes_the_user_at_kamailio(mixed_pair: tuple[Node, Node]) -> None:
    kamailio, kampy = mixed_pair
    assert register(kampy, "frank") == "200 OK"
    assert eventually(lambda: lookup(kamailio, "frank"), found("frank")) == found("frank")
    assert register(kampy, "frank", expires=0) == "200 OK"
    assert eventually(lambda: lookup(kamailio, "frank"), NOT_FOUND) == NOT_FOUND


def test_kamailio_joining_kampy_gets_its_registrations(kampy_pair: tuple[Node, Node], tmp_path: Path) -> None:
    kamailio = start_node("kamailio", tmp_path, notify=kampy_pair[0])
    try:
        assert eventually(lambda: lookup(kamailio, "early"), found("early")) == found("early")
    finally:
        kamailio.stop()


def test_an_htable_item_set_at_one_kampy_node_is_read_at_the_other(kampy_pair: tuple[Node, Node]) -> None:
    a, b = kampy_pair
    assert store(a, "k1", "v1") == "200 Stored"
    assert eventually(lambda: read(b, "k1"), "200 Value v1") == "200 Value v1"


def test_a_kampy_node_joining_gets_the_htable_items_set_before(kampy_pair: tuple[Node, Node]) -> None:
    assert eventually(lambda: read(kampy_pair[1], "early"), "200 Value before") == "200 Value before"


def test_an_htable_item_set_at_kamailio_is_read_at_kampy(mixed_pair: tuple[Node, Node]) -> None:
    kamailio, kampy = mixed_pair
    assert store(kamailio, "k2", "v2") == "200 Stored"
    assert eventually(lambda: read(kampy, "k2"), "200 Value v2") == "200 Value v2"


def test_an_htable_item_set_at_kampy_is_read_at_kamailio(mixed_pair: tuple[Node, Node]) -> None:
    kamailio, kampy = mixed_pair
    assert store(kampy, "k3", "v3") == "200 Stored"
    assert eventually(lambda: read(kamailio, "k3"), "200 Value v3") == "200 Value v3"


def test_kampy_joining_kamailio_gets_its_htable_items(mixed_pair: tuple[Node, Node]) -> None:
    assert eventually(lambda: read(mixed_pair[1], "early"), "200 Value before") == "200 Value before"


def test_kamailio_joining_kampy_gets_its_htable_items(kampy_pair: tuple[Node, Node], tmp_path: Path) -> None:
    kamailio = start_node("kamailio", tmp_path, notify=kampy_pair[0])
    try:
        assert eventually(lambda: read(kamailio, "early"), "200 Value before") == "200 Value before"
    finally:
        kamailio.stop()
