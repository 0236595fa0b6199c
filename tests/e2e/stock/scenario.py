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
    reference = _reference.get(key) or play.play(REFERENCE, body, config)
    if not reference.clean:  # killed at shutdown: its write-back is missing, so its rows are no reference
        reference = play.play(REFERENCE, body, config)
    _reference[key] = reference
    assert_same(reference, outcome)
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


def on(*servers: str, config: str | None = None) -> Callable[[Body], Any]:
    """The scenario runs against `servers` on the stock config, or on `config`, a file of configs/
    that both servers run unchanged in its place (for a scenario whose stock defines need modules
    kampy does not have yet)."""
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or not servers:
        raise ValueError(f"servers must be among {SERVERS}, got {servers}")
    text = (CONFIGS / config).read_text() if config is not None else None

    def wrap(body: Body) -> Any:
        key = f"{body.__module__}.{body.__qualname__}"

        def test(server: str, stock_play: Play) -> None:
            differential(stock_play, server, body, key, text)

        test.__name__, test.__qualname__, test.__doc__ = body.__name__, body.__qualname__, body.__doc__
        test.__module__ = body.__module__
        test.scenario = body  # type: ignore[attr-defined]
        return pytest.mark.parametrize("server", servers)(test)

    return wrap
