"""Log a recurring problem once per source and window, so a flood of bad datagrams cannot flood
the log: the first one from a source is logged at the given level, the rest of the window at
DEBUG, and the next logged line says how many were held back."""
from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable


class OncePerSource:
    def __init__(self, logger: logging.Logger, level: int = logging.WARNING, window: float = 60.0,
                 max_sources: int = 1024) -> None:
        self.logger = logger
        self.level = level
        self.window = window
        self.max_sources = max_sources
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()  # source -> (logged at, held)

    def log(self, source: Hashable, now: float, message: str, *args: object) -> None:
        logged_at, held = self._seen.get(source, (None, 0))
        if logged_at is not None and now - logged_at < self.window:
            self._seen[source] = (logged_at, held + 1)
            self.logger.debug(message, *args)
            return
        suffix = f" ({held} more from this source in {self.window:.0f} s were not logged)" if held else ""
        self.logger.log(self.level, message + suffix, *args)
        self._seen[source] = (now, 0)
        self._seen.move_to_end(source)
        while len(self._seen) > self.max_sources:  # the oldest source is forgotten first
            self._seen.popitem(last=False)
