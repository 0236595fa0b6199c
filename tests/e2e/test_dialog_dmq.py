"""dialog's DMQ replication on the wire (enable_dmq): one bus of a Kamailio 5.6 node and two kampy
nodes running tests/e2e/configs/dialog_dmq.cfg. A call through any node is listed by `dlg.list` at
every node with its ids, the profiles' sizes agree, and its BYE removes it everywhere; a node joining
the bus gets the calls up at the others."""
from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.beside import Server, start
from tests.e2e.dialog_call import Callee, Caller
from tests.e2e.dmq_nodes import eventually
from tests.e2e.kampy_process import stop_process

CFG = (Path(__file__).parent / "configs" / "dialog_dmq.cfg").read_text()


def node(name: str, directory: Path, peer: Server | None = None) -> Server:
    """`name` ("kamailio" or "kampy") running the config in `directory`, joining `peer`'s bus."""
    directory.mkdir()
    return start(name, directory, CFG, ("-A", f'PEER_NODE="sip:127.0.0.1:{peer.port}"') if peer else ())


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Server], Callee, Caller]]:
    """Kamailio, with a call up through it (`early`), then two kampy nodes joining it (started
    together)."""
    tmp = tmp_path_factory.mktemp("dialog-dmq")
    callee = Callee()
    servers: list[Server] = []
    try:
        servers.append(node("kamailio", tmp / "kamailio"))
        early = Caller(servers[0].port, callee, "early")
        assert early.invite() == 200
        with ThreadPoolExecutor(2) as pool:
            starting = [pool.submit(node, "kampy", tmp / name, servers[0]) for name in ("first", "second")]
        servers += [f.result() for f in starting if f.exception() is None]  # (all stopped at the end)
        for failed in [f.exception() for f in starting if f.exception() is not None]:
            raise failed
        yield servers, callee, early
    finally:
        for server in reversed(servers):
            stop_process(server.proc)
        callee.stop()


def dialogs(server: Server) -> dict[str, tuple[str, str, str]]:
    """`kamcmd dlg.list`: Call-ID -> (h_entry, h_id, state) of each dialog."""
    found = {}
    for block in server.kamcmd("dlg.list").split("\n}"):
        fields = dict(re.findall(r"^\t(\S+): (.*)$", block, re.M))
        if "call-id" in fields:
            found[fields["call-id"]] = (fields["h_entry"], fields["h_id"], fields["state"])
    return found


VARYING = re.compile(r"^(\t(?:ref|timeout|duration|dflags): ).*$", re.M)


def listing(server: Server, callid: str) -> list[str]:
    """The lines `kamcmd dlg.list` prints of the call, sorted, but its reference count, the times
    that depend on when the node received it and its flags. (A node that answers a sync meanwhile,
    as the last one joins, clears the dialog's DLG_FLAG_CHANGED_PROF, and the node the answer
    reaches links the profiles again in the other order, as Kamailio does.)"""
    for block in server.kamcmd("dlg.list").split("\n}"):
        if f"\tcall-id: {callid}\n" in block:
            return sorted(VARYING.sub(r"\1*", block.strip()).splitlines())
    return []


def size(server: Server, *profile: str) -> str:
    return server.kamcmd("dlg.profile_get_size", *profile).strip()


def listed_everywhere(servers: list[Server], callid: str) -> list[tuple[str, str, str] | None]:
    return [dialogs(s).get(callid) for s in servers]


def sizes(servers: list[Server], *profile: str) -> list[str]:
    return [size(s, *profile) for s in servers]


def confirmed(owner: Server, call: Caller) -> tuple[str, str, str]:
    """The call's (h_entry, h_id, state) at `owner` once its ACK confirmed it there."""
    state = lambda: (dialogs(owner).get(call.callid) or ("", "", ""))[2]  # noqa: E731
    assert eventually(state, "4") == "4"
    return dialogs(owner)[call.callid]


def call_through(owner: Server, servers: list[Server], callee: Callee, user: str) -> None:
    """A call through `owner`: up, it is listed by every node with the owner's ids (confirmed), the
    same by the two other nodes, and counted in the profiles; after its BYE it is gone from every
    node."""
    call = Caller(owner.port, callee, user)
    try:
        assert call.invite() == 200
        up = confirmed(owner, call)
        assert eventually(lambda: listed_everywhere(servers, call.callid), [up] * 3) == [up] * 3
        replicas = [listing(s, call.callid) for s in servers if s is not owner]
        assert replicas[0] == replicas[1] and "\t\t\tcaller: alice" in replicas[0]
        one = size(owner, "callee", user)
        assert "1" in one and eventually(lambda: sizes(servers, "callee", user), [one] * 3) == [one] * 3
        assert call.bye() == 200
        assert eventually(lambda: listed_everywhere(servers, call.callid), [None] * 3) == [None] * 3
        none = size(owner, "callee", user)
        assert "0" in none and sizes(servers, "callee", user) == [none] * 3
    finally:
        call.close()


def test_a_call_through_kamailio_is_listed_at_the_kampy_nodes_until_its_bye(bus) -> None:
    servers, callee, _ = bus
    call_through(servers[0], servers, callee, "bob")


def test_a_call_through_kampy_is_listed_at_kamailio_and_the_other_kampy_node_until_its_bye(bus) -> None:
    servers, callee, _ = bus
    call_through(servers[1], servers, callee, "carol")


def test_a_call_through_the_second_kampy_node_is_listed_everywhere_until_its_bye(bus) -> None:
    servers, callee, _ = bus
    call_through(servers[2], servers, callee, "dave")


def test_nodes_joining_the_bus_get_the_calls_up_and_the_bye_removes_them(bus) -> None:
    servers, _, early = bus
    up = confirmed(servers[0], early)
    assert eventually(lambda: listed_everywhere(servers, early.callid), [up] * 3) == [up] * 3
    calls = size(servers[0], "calls")
    assert eventually(lambda: sizes(servers, "calls"), [calls] * 3) == [calls] * 3
    assert early.bye() == 200
    assert eventually(lambda: listed_everywhere(servers, early.callid), [None] * 3) == [None] * 3
