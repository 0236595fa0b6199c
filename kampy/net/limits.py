"""The process limits Kamailio's core parameters set before it starts serving."""
from __future__ import annotations

import logging
import resource

log = logging.getLogger("kampy.net")


def increase_open_fds(target: int) -> bool:
    """Kamailio's increase_open_fds() (`open_files_limit`): raise the soft limit of open files to
    `target`, and the hard one too when `target` is past it; never lower them. False (logged) when
    the system refuses, after raising the soft limit to the hard one if that helps at all."""
    soft, hard = orig = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or target <= soft:
        return True
    if hard == resource.RLIM_INFINITY or target <= hard:
        wanted = (target, hard)
    else:
        log.info("trying to increase the open file limit past the hard limit (%d -> %d)", hard, target)
        wanted = (target, target)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, wanted)
        return True
    except (OSError, ValueError) as exc:
        log.critical("cannot increase the open file limit to %d/%d: %s", *wanted, exc)
    if orig[1] > orig[0]:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (orig[1], orig[1]))
            log.critical(" maximum number of file descriptors increased to %d", orig[1])
        except (OSError, ValueError):
            pass
    return False


def set_core_dump(enable: bool, size: int) -> bool:
    """Kamailio's set_core_dump() (`disable_core_dump`): no core files when disabled; else a core
    file limit of at least `size` bytes (unlimited if the system allows). False (logged) when
    the wanted limit could not be set."""
    if not enable:
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            return True
        except (OSError, ValueError) as exc:
            log.critical("failed to disable core dumps: %s", exc)
            return False
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if soft == resource.RLIM_INFINITY or soft >= size:
        return True
    infinity = resource.RLIM_INFINITY
    at_least = (size, size) if hard != infinity and hard < size else (hard, hard)
    for wanted in ((infinity, infinity), at_least):
        try:
            resource.setrlimit(resource.RLIMIT_CORE, wanted)
            return True
        except (OSError, ValueError):
            continue
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
        log.critical("core limits increased only to %d", hard)
    except (OSError, ValueError) as exc:
        log.critical("could increase core limits at all: %s", exc)
    return False
