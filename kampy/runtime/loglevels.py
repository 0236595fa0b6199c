"""Kamailio's log levels and the core `debug=` on Python logging, shared by the CLI, `log()`, xlog
and modules.

A Kamailio message shows when its level <= `debug` (src/core/dprint.h): debug=0 shows L_WARN and
more severe, 1 adds L_NOTICE, 2 L_INFO, 3 L_DBG. Each level has a Python level (L_NOTICE gets one
of its own between INFO and WARNING), so `debug` becomes a threshold on the `kampy` loggers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

L_ALERT, L_BUG, L_CRIT2, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG = -5, -4, -3, -2, -1, 0, 1, 2, 3
NOTICE = 25  # a Python level between INFO and WARNING, for L_NOTICE
logging.addLevelName(NOTICE, "NOTICE")

LEVEL_NAMES = {"L_ALERT": L_ALERT, "L_BUG": L_BUG, "L_CRIT2": L_CRIT2, "L_CRIT": L_CRIT, "L_ERR": L_ERR,
               "L_WARN": L_WARN, "L_NOTICE": L_NOTICE, "L_INFO": L_INFO, "L_DBG": L_DBG}

_PY_LEVELS = {
    L_ALERT: logging.CRITICAL, L_BUG: logging.CRITICAL, L_CRIT2: logging.CRITICAL, L_CRIT: logging.CRITICAL,
    L_ERR: logging.ERROR, L_WARN: logging.WARNING, L_NOTICE: NOTICE, L_INFO: logging.INFO,
    L_DBG: logging.DEBUG,
}

#: the loggers `debug=` governs: every kampy logger, the script's (`kampy.script`) included
KAMPY_LOGGER = "kampy"


def python_level(level: int) -> int:
    """The Python logging level of a Kamailio level (L_ERR -> ERROR; L_DBG and above -> DEBUG)."""
    if level >= L_DBG:
        return logging.DEBUG
    return _PY_LEVELS.get(level, logging.CRITICAL)


def debug_threshold(debug: int) -> int:
    """The Python logging level below which nothing shows for a core `debug=` value."""
    return python_level(max(min(debug, L_DBG), L_ALERT))


def apply_debug(debug: int) -> None:
    """Make the kampy loggers show what Kamailio shows with `debug=<debug>`."""
    logging.getLogger(KAMPY_LOGGER).setLevel(debug_threshold(debug))


# ------------------------------------------------------------------ per-module levels and facilities

# the core's own loggers (`kampy.<name>`): what Kamailio logs as module "core"
CORE_LOGGERS = frozenset({"net", "listen", "core", "config", "server", "shared", "rpc", "stats", "engine",
                          "db", "cli", "daemon", "runtime", "sip", "supervisor"})
_module_levels: dict[str, int] = {}
_module_facilities: dict[str, int] = {}


def _loggers_of(module: str) -> list[logging.Logger]:
    if module == "core":
        return [logging.getLogger(f"{KAMPY_LOGGER}.{name}") for name in sorted(CORE_LOGGERS)]
    return [logging.getLogger(f"{KAMPY_LOGGER}.{module}")]


def set_module_level(module: str, level: int | None) -> None:
    """Kamailio's per-module log level (the debugger's mod_level): what module `module` logs shows
    when its level <= `level`, whatever `debug=` says ("core": the core's loggers). None: back to
    `debug=`."""
    for logger in _loggers_of(module):
        logger.setLevel(logging.NOTSET if level is None else debug_threshold(level))
    if level is None:
        _module_levels.pop(module, None)
    else:
        _module_levels[module] = level


def module_levels() -> dict[str, int]:
    return dict(_module_levels)


def set_module_facility(module: str, facility: int | None) -> None:
    """Kamailio's per-module syslog facility (the debugger's mod_facility): what module `module`
    logs goes to syslog with `facility` (a `SysLogHandler` facility number); None: the core's."""
    if facility is None:
        _module_facilities.pop(module, None)
    else:
        _module_facilities[module] = facility


def module_facility(module: str) -> int | None:
    return _module_facilities.get(module)


# ------------------------------------------------------------------ colours (-e, log_color, xlog's $C)

_TERM = {"x": 39, "s": 30, "r": 31, "g": 32, "y": 33, "b": 34, "p": 35, "c": 36, "w": 37}
# dprint_init_colors(): (foreground, background) letters of each level
_LEVEL_COLORS = {L_ALERT: "Rx", L_BUG: "Px", L_CRIT2: "yx", L_CRIT: "bx", L_ERR: "rx", L_WARN: "px",
                 L_NOTICE: "gx", L_INFO: "cx", L_DBG: "xx"}
# the Kamailio level whose colour a record of a Python level shows when it does not carry its own
_BY_PYTHON = {logging.CRITICAL: L_CRIT, logging.ERROR: L_ERR, logging.WARNING: L_WARN, NOTICE: L_NOTICE,
              logging.INFO: L_INFO, logging.DEBUG: L_DBG}
_stderr = False


def term_color(fg: str, bg: str) -> str:
    """dprint_term_color(): the terminal escape for colour letters (x default, s black, r red, g
    green, y yellow, b blue, p purple, c cyan, w white; an uppercase foreground is bold, `_` leaves
    the weight as it is)."""
    weight = ""
    if fg != "_":
        weight = "0;" if fg.islower() else "1;"
        fg = fg.lower()
    return f"\033[{weight}{_TERM.get(fg, 39)};{_TERM.get(bg, 39) + 10}m"


def set_level_color(level: int, fg: str, bg: str) -> None:
    """dprint_color_update(): the colours of Kamailio level `level` in a coloured log (a letter "0"
    keeps that part); xlog's `log_colors`."""
    old = _LEVEL_COLORS.get(level)
    if old is None:
        return
    _LEVEL_COLORS[level] = (fg if fg and fg != "0" else old[0]) + (bg if bg and bg != "0" else old[1])


def level_color(level: int | None, python: int = logging.DEBUG) -> str:
    """The escape that starts a log line of Kamailio level `level` (None: of Python level `python`)."""
    if level is None:
        level = _BY_PYTHON.get(python, L_DBG)
    fg, bg = _LEVEL_COLORS.get(max(min(level, L_DBG), L_ALERT), "xx")
    return term_color(fg, bg)


def set_log_stderr(on: bool) -> None:
    """Whether this process logs to stderr (-E, log_stderror), as the command line set it up."""
    global _stderr
    _stderr = on


def log_stderr() -> bool:
    """Kamailio's log_stderr: the log goes to stderr (not syslog). xlog's $C is empty otherwise."""
    return _stderr


# ------------------------------------------------------------------ log_prefix

_prefix = ""


def log_prefix() -> str:
    """The core `log_prefix` formatted for the SIP message being processed ("" between messages):
    Kamailio puts it after the level word of every line logged meanwhile."""
    return _prefix


def set_log_prefix(text: str) -> None:
    global _prefix
    _prefix = text


# the Call-ID of the message at hand, for log engines that show it (`--log-engine=json:c`)
_callid = ""
_want_callid = False


def want_callid(on: bool) -> None:
    global _want_callid
    _want_callid = on


def wants_callid() -> bool:
    return _want_callid


def log_callid() -> str:
    return _callid


def set_log_callid(text: str) -> None:
    global _callid
    _callid = text


# How the process's log handlers are replaced by a module's writer (Kamailio's km_log_func_set):
# the command line, which sets the handlers up, registers it (kampy.cmdline.logsetup).
_diverter: Callable[[Callable[[str], None]], bool] | None = None


def set_log_diverter(diverter: Callable[[Callable[[str], None]], bool]) -> None:
    global _diverter
    _diverter = diverter


def divert_logs(write: Callable[[str], None]) -> bool:
    """Send the process's log lines to `write` instead of syslog; False when logging was not set
    up by the command line or goes to stderr (left as it is)."""
    return _diverter(write) if _diverter is not None else False
