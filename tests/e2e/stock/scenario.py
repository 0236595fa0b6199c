"""`@on(servers...)`: a scenario of the stock-config suite, run against each server named.

    @on("kamailio")                     # today: Kamailio 5.6 only
    def test_register_is_challenged_then_accepted(stock: Stock) -> None:
        ...

    @on("kamailio", "kampy")            # once kampy has the modules the scenario needs
    @on("kamailio", "kampy", config="presence.cfg")  # a config of configs/ instead of the stock one,
                                                     # until kampy has what the stock one loads

The body gets a fresh `Stock` for the server of each run. On Kamailio the body's assertions are the
test. On any other server they are too, and then Kamailio plays the same body (once per session and
scenario: its outcome is kept) and both runs must have written the same rows, field by field except
times and ids (rows.py), and recorded the same observations.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stock import rows
from tests.e2e.stock.world import REFERENCE, SERVERS, Outcome, Play, Stock

Body = Callable[[Stock], None]
CONFIGS = Path(__file__).resolve().parent / "configs"
_reference: dict[str, Outcome] = {}


def differential(play: Play, server: str, body: Body, key: str, config: str | None = None) -> Outcome:
    """Play `body` on `server` (with `config` instead of the stock config when given); unless it is
    the reference, compare with the reference's outcome."""
    outcome = play.play(server, body, config)
    if server == REFERENCE:
        if outcome.clean:
            _reference[key] = outcome
        return outcome
    reference = reference_outcome(play, body, config, _reference.get(key))
    _reference[key] = reference
    assert_same(reference, outcome)
    return outcome


def reference_outcome(play: Play, body: Body, config: str | None, outcome: Outcome | None) -> Outcome:
    """The reference's outcome of `body`: `outcome` when given, played otherwise, and played once
    more when the reference did not stop cleanly (killed at shutdown, its write-back is missing, so
    its rows are no reference)."""
    if outcome is None:
        outcome = play.play(REFERENCE, body, config)
    if not outcome.clean:
        outcome = play.play(REFERENCE, body, config)
    return outcome


def assert_same(reference: Outcome, candidate: Outcome) -> None:
    problems = rows.differences(reference.rows, candidate.rows)
    for key in sorted(set(reference.observations) | set(candidate.observations)):
        ref, got = reference.observations.get(key), candidate.observations.get(key)
        if ref != got:
            problems.append(f"observation {key}: {reference.server} {ref!r}, {candidate.server} {got!r}")
    if problems:
        for run in (reference, candidate):
            problems.append(f"--- {run.server} exited with {run.exit_code}; its log ends:\n{run.log_tail}")
    assert not problems, f"{candidate.server} differs from {reference.server}:\n" + "\n".join(problems)


def side_by_side(play: Play, servers: tuple[str, ...], body: Body, config: str | None) -> None:
    """Play `body` on every server at once (each in its own namespaces and database), then compare
    each with the reference as `differential` does: for a scenario that mostly waits (timers of
    tens of seconds), one wait instead of one per server."""
    outcomes: dict[str, Outcome | BaseException] = {}

    def run(server: str) -> None:
        try:
            outcomes[server] = play.play(server, body, config)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            outcomes[server] = exc

    threads = [threading.Thread(target=run, args=(server,), name=f"scenario-{server}") for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for server in servers:  # the reference's failure first: then the scenario itself is wrong
        outcome = outcomes[server]
        if isinstance(outcome, BaseException):
            raise AssertionError(f"{server}: {type(outcome).__name__}: {outcome}") from outcome
    first = outcomes[REFERENCE]
    assert isinstance(first, Outcome)
    reference = reference_outcome(play, body, config, first)
    for server in servers:
        candidate = outcomes[server]
        if server != REFERENCE and isinstance(candidate, Outcome):
            assert_same(reference, candidate)


def on(*servers: str, config: str | None = None, at_once: bool = False) -> Callable[[Body], Any]:
    """The scenario runs against `servers` on the stock config, or on `config`, a file of configs/
    that both servers run unchanged in its place (for a scenario whose stock defines need modules
    kampy does not have yet). `at_once`: one test that plays every server at the same time
    (`side_by_side`), for a scenario that waits on long timers."""
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or not servers:
        raise ValueError(f"servers must be among {SERVERS}, got {servers}")
    text = (CONFIGS / config).read_text() if config is not None else None

    def wrap(body: Body) -> Any:
        key = f"{body.__module__}.{body.__qualname__}"

        def test(server: str, stock_play: Play) -> None:
            differential(stock_play, server, body, key, text)

        def test_at_once(stock_play: Play) -> None:
            side_by_side(stock_play, servers, body, text)

        chosen: Any = test_at_once if at_once else test
        chosen.__name__, chosen.__qualname__, chosen.__doc__ = body.__name__, body.__qualname__, body.__doc__
        chosen.__module__ = body.__module__
        chosen.scenario = body
        return chosen if at_once else pytest.mark.parametrize("server", servers)(chosen)

    return wrap
