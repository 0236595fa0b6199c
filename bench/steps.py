"""What the throughput benches share: one step of a climb through rising rates, and when a rate is
*held* (sipp exited 0, every call succeeded, none failed, and at least 90% of the asked rate was
achieved)."""
from __future__ import annotations

from dataclasses import dataclass

from tests.e2e.sipp_proxy import Run


@dataclass(frozen=True)
class Step:
    rate: int      # calls per second asked of sipp
    calls: int     # calls asked
    run: Run       # what sipp did

    @property
    def ok(self) -> int:
        return self.run.succeeded

    @property
    def failed(self) -> int:
        return self.run.failed

    @property
    def achieved(self) -> float:
        return self.run.rate

    @property
    def held(self) -> bool:
        r = self.run
        return r.exit_code == 0 and r.failed == 0 and r.succeeded == self.calls and r.rate >= 0.9 * self.rate


def best(steps: list[Step]) -> int:
    """The highest rate held."""
    return max((s.rate for s in steps if s.held), default=0)


def best_achieved(steps: list[Step]) -> float:
    """The rate sipp achieved at the highest rate held."""
    return max((s.achieved for s in steps if s.held), default=0.0)
