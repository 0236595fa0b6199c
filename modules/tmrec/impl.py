"""The tmrec module's functions."""
from __future__ import annotations

import time
from typing import Any

from kampy.api import L_ERR, CoreAPI, MessageContext, Module, log_at, module_logger

from .period import in_period
from .recurrence import RecurrenceError, is_leap_year, tmrec_match

log = module_logger("tmrec")


class TmrecModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        separator: str = params["separator"] or "|"
        self.separator = separator[0]

    def _now(self) -> int:
        return int(self.core.clock.time())

    def tmrec_match(self, ctx: MessageContext, timerec: str, timestamp: int = 0) -> int:
        try:
            return 1 if tmrec_match(timerec, timestamp or self._now(), self.separator) else -1
        except RecurrenceError as exc:
            log_at(log, L_ERR, "%s", exc)
            return -1

    def is_leap_year(self, ctx: MessageContext, year: int | None = None) -> int:
        if year is None:
            year = time.localtime(self._now()).tm_year
        return 1 if is_leap_year(year) else -1

    def time_period_match(self, ctx: MessageContext, period: str, timestamp: int | None = None) -> int:
        t = self._now() if timestamp is None else timestamp
        return 1 if in_period(t, period) else -1
