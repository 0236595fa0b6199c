"""usrloc db_mode 1 with two workers sharing one store: a database write that hangs holds up only
the bindings it writes, never the other workers' shared-store writes (issue 5: database calls never
stall the rest of the server). The hang is a database call held on a threading.Event."""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kampy.api import DBError
from kampy.db import connect, create_tables
from kampy.db.errors import Reason
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from kampy.modules.usrloc.ucontact import RuidGenerator
from tests.reg_helpers import NOW, FakeClock, config, register, send, server

WAIT = 10.0  # seconds a step may take before the test calls it stuck


def ul_cfg(db_url: str) -> str:
    return config(usrloc=f'"timer_interval", 10;"db_mode", 1;"db_url", "{db_url}"')


def rows(db_url: str) -> list[tuple[Any, ...]]:
    db = connect(db_url)
    try:
        return db.query("location", ["username", "contact", "expires"], order_by="id")
    finally:
        db.close()


class Gate:
    """Stands in for a database call: records that it was entered, waits to be opened, then runs
    the real call."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.opened.wait(3 * WAIT), "gate never opened"
        return self.real(*args, **kwargs)


class Background:
    """A call in its own thread; `done(timeout)` tells whether it returned, `value()` what."""

    started: list[Background] = []  # joined before the servers close (a test that failed midway)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()
        Background.started.append(self)

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.result = fn()
        except BaseException as exc:  # noqa: BLE001 - reported by value()
            self.error = exc

    def done(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def value(self) -> Any:
        assert self.done(WAIT), "call never returned"
        if self.error is not None:
            raise self.error
        return self.result


gates: list[Gate] = []


@pytest.fixture
def workers(tmp_path) -> Iterator[tuple[Server, Server, SharedStore, str]]:  # type: ignore[no-untyped-def]
    url = f"sqlite://{tmp_path}/location.db"
    db = connect(url)
    create_tables(db)
    db.close()
    store = SharedStore.create()
    clock = FakeClock()
    one = server(ul_cfg(url), clock, shared=store.reopen(), rank=1, workers=2)
    two = server(ul_cfg(url), clock, shared=store.reopen(), rank=2, workers=2)
    # Workers are processes with their own pids, so their ruids differ; these two share one pid.
    two.core.modules["usrloc"]._ruids = RuidGenerator("uloc2", NOW)
    gates.clear()
    try:
        yield one, two, store, url
    finally:
        for gate in gates:
            gate.opened.set()
        while Background.started:
            Background.started.pop().done(4 * WAIT)
        one.shutdown()
        two.shutdown()
        store.remove()


def hang_inserts(srv: Server, monkeypatch: pytest.MonkeyPatch) -> Gate:
    db = srv.core.modules["usrloc"].domains["location"].table.db
    gate = Gate(db.insert)
    gates.append(gate)
    monkeypatch.setattr(db, "insert", gate)
    return gate


def test_a_hung_write_through_leaves_other_workers_shared_store_writes_alone(workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    one, two, _, url = workers
    gate = hang_inserts(one, monkeypatch)
    alice = Background(lambda: send(one, register()))
    try:
        assert gate.entered.wait(WAIT)  # worker 1's INSERT into location is hanging

        def shared_write() -> None:
            shared = two.core.modules["usrloc"].domain("location").shared
            with shared.lock():
                assert shared.once("probe")

        probe = Background(shared_write)
        assert probe.done(WAIT), "worker 2's shared-store write waited for worker 1's database write"
        probe.value()
        # The binding is in shared memory already; the database has not got it yet.
        ul = two.core.modules["usrloc"]
        assert [c.contact for c in ul.contacts("alice")] == ["sip:alice@10.0.0.1:5070"]
        assert rows(url) == []
    finally:
        gate.opened.set()
    assert alice.value().startswith(b"SIP/2.0 200 OK")  # the 200 comes once the row is written
    assert [r[1] for r in rows(url)] == ["sip:alice@10.0.0.1:5070"]


def test_a_hung_write_through_leaves_saves_of_other_aors_alone(workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    one, two, _, url = workers
    gate = hang_inserts(one, monkeypatch)
    alice = Background(lambda: send(one, register()))
    try:
        assert gate.entered.wait(WAIT)
        bob = Background(lambda: send(two, register(user="bob", contact="<sip:bob@10.0.0.2>", callid="b")))
        assert bob.done(WAIT), "worker 2's REGISTER for bob waited for worker 1's database write for alice"
        assert bob.value().startswith(b"SIP/2.0 200 OK")
        assert [r[0] for r in rows(url)] == ["bob"]
    finally:
        gate.opened.set()
    assert alice.value().startswith(b"SIP/2.0 200 OK")
    assert sorted(r[0] for r in rows(url)) == ["alice", "bob"]


def test_writes_of_one_aor_reach_the_database_in_the_order_they_were_made(workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    one, two, _, url = workers
    gate = hang_inserts(one, monkeypatch)
    first = Background(lambda: send(one, register()))
    try:
        assert gate.entered.wait(WAIT)
        # The refresh waits for the first write (Kamailio's slot lock), it does not overtake it.
        refresh = Background(lambda: send(two, register(expires=120, cseq=2)))
        assert not refresh.done(0.2)
    finally:
        gate.opened.set()
    assert first.value().startswith(b"SIP/2.0 200 OK")
    assert refresh.value().startswith(b"SIP/2.0 200 OK")
    assert rows(url) == [("alice", "sip:alice@10.0.0.1:5070", dt.datetime.fromtimestamp(NOW + 120))]


def test_a_failed_write_through_keeps_the_binding_in_memory_and_answers_500(workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    one, _, _, url = workers
    assert send(one, register()).startswith(b"SIP/2.0 200 OK")
    db = one.core.modules["usrloc"].domains["location"].table.db

    def down(*args: Any, **kwargs: Any) -> Any:
        raise DBError("server has gone away", Reason.CONNECTION)

    monkeypatch.setattr(db, "update", down)
    reply = send(one, register(expires=120, cseq=2))
    # Kamailio: update_ucontact() updates memory, then its failed query makes save() answer 500.
    assert reply.startswith(b"SIP/2.0 500 ")
    [contact] = one.core.modules["usrloc"].contacts("alice")
    assert contact.expires == NOW + 120 and contact.cseq == 2
    assert len(rows(url)) == 1
