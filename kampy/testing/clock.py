"""A clock that only moves when a test says so."""
from __future__ import annotations

# 2024-01-01T00:00:00Z: a fixed wall-clock start makes dates in stored rows and headers repeatable.
DEFAULT_START = 1704067200.0


class FakeClock:
    """`time()` (wall clock, seconds since the epoch) and `monotonic()` advance together, only
    through `set()`/`advance()`: the harness's `advance(seconds)` moves it while firing timers."""

    def __init__(self, start: float = DEFAULT_START, monotonic_start: float = 1000.0) -> None:
        self._wall0 = start
        self._mono0 = monotonic_start
        self._elapsed = 0.0

    def time(self) -> float:
        return self._wall0 + self._elapsed

    def monotonic(self) -> float:
        return self._mono0 + self._elapsed

    @property
    def elapsed(self) -> float:
        """Seconds advanced since the clock was made."""
        return self._elapsed

    def set_monotonic(self, when: float) -> None:
        """Move to monotonic time `when` (never backwards)."""
        self._elapsed = max(self._elapsed, when - self._mono0)

    def advance(self, seconds: float) -> None:
        """Move the clock alone; timers do not fire (use the harness's `advance` for that)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._elapsed += seconds

    def __repr__(self) -> str:
        return f"FakeClock(time={self.time():.3f}, elapsed={self._elapsed:.3f}s)"
