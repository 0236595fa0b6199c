"""How long the routing of a message took, logged as Kamailio's receive_msg() does with the core's
`latency_cfg_log` (the level; only when the log shows that level) and `latency_limit_cfg` (in
microseconds: log only at or above it; 0 logs every message)."""
from __future__ import annotations

import logging
import time

from kampy.runtime.cfgframework import CfgFramework
from kampy.runtime.loglevels import python_level

log = logging.getLogger("kampy.runtime")


def started(cfg: CfgFramework) -> float | None:
    """The start of a message's routing, None when its time is not going to be logged."""
    level = python_level(int(cfg.get("core", "latency_cfg_log")))  # type: ignore[arg-type]
    return time.perf_counter() if log.isEnabledFor(level) else None


def done(cfg: CfgFramework, start: float | None, what: str) -> None:
    """`what` ("request-route", "reply-route") ran from `start` until now: log it if it is time to."""
    if start is None:
        return
    diff = int((time.perf_counter() - start) * 1_000_000)
    limit = int(cfg.get("core", "latency_limit_cfg"))  # type: ignore[arg-type]
    if limit == 0 or limit <= diff:
        log.log(python_level(int(cfg.get("core", "latency_cfg_log"))),  # type: ignore[arg-type]
                "%s executed in: %d usec", what, diff)
