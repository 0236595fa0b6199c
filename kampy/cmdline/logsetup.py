"""Where kampy's log goes when started as `kamailio` is: stderr (`-E`, `log_stderror=yes`) in
Kamailio's layout, optionally in its terminal colours (`-e`, `log_color`), or syslog (`log_name`,
`log_facility`), each line carrying the `log_prefix` of the SIP message at hand.

    stderr:  " 1(4242) ERROR: <tm> [modules/tm/tm.py:120]: t_relay(): no destination"
    syslog:  "<facility|level>kampy[4242]: ERROR: <tm> [modules/tm/tm.py:120]: t_relay(): no destination"

`<module>` is the module a logger belongs to (`kampy.tm` -> `<tm>`, the core's loggers `<core>`);
the config's own lines (log(), xlog()) carry their prefix only, as in Kamailio (`ERROR: <script>:
text`); the number before the pid is the process rank (0 for the main process).
"""
from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from kampy.runtime import loglevels
from kampy.runtime.loglevels import CORE_LOGGERS, NOTICE, apply_debug, debug_threshold
from kampy.services import SYSLOG_FACILITY

SYSLOG_SOCKET = "/dev/log"
_LEVEL_WORDS = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", NOTICE: "NOTICE", logging.WARNING: "WARNING",
                logging.ERROR: "ERROR", logging.CRITICAL: "CRITICAL"}
COLOR_RESET = "\033[0;39;49m"
_FACILITIES = logging.handlers.SysLogHandler.facility_names

SCRIPT_LOGGER = "kampy.script"
_rank = 0
_installed: logging.Handler | None = None


def set_rank(rank: int) -> None:
    """The process number shown before the pid (the main process is 0, a worker its rank)."""
    global _rank
    _rank = rank


def module_of(logger: str) -> str:
    parts = logger.split(".")
    if len(parts) < 2 or parts[0] != "kampy":
        return "core"
    return "core" if parts[1] in CORE_LOGGERS else parts[1]


class KamailioFormatter(logging.Formatter):
    """`LEVEL: <prefix><module> [file:line]: func(): message`; `process` adds Kamailio's
    `rank(pid) ` before it (stderr; syslog has its own pid)."""

    def __init__(self, process: bool, color: bool = False) -> None:
        super().__init__()
        self.process = process
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        # `kamailio_level`: a level name of the caller's (Kamailio's LOG_FL, the debugger's
        # log_level_name)
        level = getattr(record, "kamailio_level", None) or _LEVEL_WORDS.get(record.levelno, record.levelname)
        if record.name == SCRIPT_LOGGER or hasattr(record, "kamailio_prefix"):
            # the config's log(), error(), xlog(), and LOG_FL lines: their own prefix only
            own = getattr(record, "kamailio_prefix", "")
            text = f"{level}: {loglevels.log_prefix()}{own}{record.getMessage()}"
        else:
            where = _source(record.pathname)
            text = (f"{level}: {loglevels.log_prefix()}<{module_of(record.name)}> [{where}:{record.lineno}]: "
                    f"{record.funcName}(): {record.getMessage()}")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if self.process:
            text = f"{_rank:2d}({record.process}) {text}"
        if self.color:  # the level's colours (kampy.runtime.loglevels, xlog's log_colors); xlog's
            # lines carry their Kamailio level number (`kamailio_levelno`)
            text = loglevels.level_color(getattr(record, "kamailio_levelno", None), record.levelno) + text \
                + COLOR_RESET
        return text


class JsonFormatter(logging.Formatter):
    """`--log-engine=json[:flags]` (ksr_slog_json()): a JSON object per line. Flags: `a` field names
    prefixed `kampy.`, `A` but not the message's, `c` the Call-ID, `j` a message or prefix that is
    a JSON object kept as one, `M` the message's trailing newline stripped, `N` no newline after
    the object, `p` no logprefix field without a prefix, `U` the CEE layout (`@cee: ` on syslog)."""

    def __init__(self, flags: str, stderr: bool, appname: str) -> None:
        super().__init__()
        self.flags = flags
        self.stderr = stderr
        self.appname = appname

    def _field(self, name: str) -> str:
        return f"kampy.{name}" if "a" in self.flags else name

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if "M" in self.flags:
            message = message.removesuffix("\n")
        level = _LEVEL_WORDS.get(record.levelno, record.levelname)
        where = {"name": _source(record.pathname), "line": record.lineno}
        if "U" in self.flags:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            text = json.dumps({"time": f"{stamp}.{int(record.created % 1 * 1e9):09d}Z",
                               "proc": {"id": str(record.process)}, "pri": level,
                               "subsys": module_of(record.name), "file": where,
                               "native": {"function": record.funcName}, "msg": self._value(message),
                               "pname": "kampy", "appname": self.appname, "hostname": socket.getfqdn()},
                              separators=(",", ":"))
            return text if self.stderr else "@cee: " + text
        out: dict[str, object] = {}
        if self.stderr:
            out.update({self._field("idx"): _rank, self._field("pid"): record.process})
        out.update({self._field("level"): level, self._field("module"): module_of(record.name),
                    self._field("file"): where["name"], self._field("line"): record.lineno,
                    self._field("function"): record.funcName})
        if "c" in self.flags:
            out[self._field("callid")] = loglevels.log_callid()
        prefix = loglevels.log_prefix()
        if "p" not in self.flags or (prefix and not prefix.startswith(",")):
            out[self._field("logprefix")] = self._value(prefix)
        app = "kampy." if "a" in self.flags and "A" not in self.flags else ""
        out[f"{app}message"] = self._value(message)
        return json.dumps(out, ensure_ascii=False).replace("{", "{ ", 1)[:-1] + " }"

    def _value(self, text: str) -> object:
        if "j" in self.flags:
            if len(text) > 1 and text[0] == "{" and text[-1] == "}":
                try:
                    return json.loads(text)
                except ValueError:
                    pass
            return {"text": text}
        return text


def _source(path: str) -> str:
    """A source file relative to kampy's tree (`modules/tm/tm.py`, `kampy/net/worker.py`)."""
    p = Path(path)
    parts = p.parts
    for anchor in ("modules", "kampy"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return p.name


class FacilitySyslogHandler(logging.handlers.SysLogHandler):
    """A syslog handler that sends a record to the facility of its own (Kamailio's LOG_FC/LOG_FN,
    LM_GEN2): the record's `kamailio_facility` (LOG_FL; xlog's `log_facility` and `xlog(facility,
    level, format)`) or `syslog_facility` (`log_at(..., facility=...)`: acc's log_facility), else
    its module's (the debugger's mod_facility), else the handler's; L_NOTICE with syslog's notice
    priority (Kamailio's LOG_NOTICE), not warning."""

    priority_map = {**logging.handlers.SysLogHandler.priority_map, "NOTICE": "notice"}

    def emit(self, record: logging.LogRecord) -> None:
        facility = getattr(record, "kamailio_facility", None)
        if facility is None:
            facility = record.__dict__.get(SYSLOG_FACILITY)
        if facility is None:
            facility = loglevels.module_facility(module_of(record.name))
        if facility is None:
            super().emit(record)
            return
        default, self.facility = self.facility, facility  # handle() holds the handler's lock
        try:
            super().emit(record)
        finally:
            self.facility = default


class SyslogHandler(FacilitySyslogHandler):
    """syslog(3) as glibc sends it for Kamailio: `<PRI>Mmm dd hh:mm:ss ident[pid]: text` (no NUL),
    L_NOTICE as LOG_NOTICE, and nothing said when there is no syslog daemon (as syslog() says
    nothing)."""

    append_nul = False

    def __init__(self, ident: str, facility: int, address: str = SYSLOG_SOCKET) -> None:
        super().__init__(address, facility=facility)
        self.name_ = ident

    def emit(self, record: logging.LogRecord) -> None:
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime(record.created))
        self.ident = f"{stamp} {self.name_}[{os.getpid()}]: "  # after fork: the worker's pid
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)


def facility(core_params: dict[str, Any]) -> int:
    """`log_facility=LOG_LOCAL0` (default LOG_DAEMON)."""
    name = str(core_params.get("log_facility") or "LOG_DAEMON").lower().removeprefix("log_")
    return _FACILITIES.get(name, logging.handlers.SysLogHandler.LOG_DAEMON)


def ident(core_params: dict[str, Any]) -> str:
    """openlog()'s ident: `log_name`, else the program name as started (Kamailio's argv[0])."""
    name = core_params.get("log_name")
    if name:
        return str(name)
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "kampy"
    return "kampy" if argv0.endswith("__main__.py") or argv0 == "-m" else argv0


def configure(core_params: dict[str, Any], *, stderr: bool, color: bool, debug: int,
              engine: str | None = None) -> None:
    """Send every log record where Kamailio would send it, for `debug` (Kamailio's level);
    `engine`: `--log-engine` (`json[:flags]`)."""
    handler: logging.Handler
    loglevels.set_log_stderr(stderr)
    if stderr:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(KamailioFormatter(process=True, color=color))
    else:
        handler = SyslogHandler(ident(core_params), facility(core_params))
        handler.setFormatter(KamailioFormatter(process=False))
    kind, _, flags = (engine or "").partition(":")
    if kind.lower() == "json":
        handler.setFormatter(JsonFormatter(flags, stderr, str(core_params.get("log_name") or "kampy")))
        loglevels.want_callid("c" in flags)
        if "N" in flags and isinstance(handler, logging.StreamHandler):
            handler.terminator = ""
    global _installed
    root = logging.getLogger()
    if _installed is not None:  # the handler set before (only ours: a test's capture stays)
        root.removeHandler(_installed)
        _installed.close()
    root.addHandler(handler)
    _installed = handler
    root.setLevel(debug_threshold(debug))
    apply_debug(debug)
    logging.getLogger("kampy.listen").setLevel(logging.INFO)


class WriterHandler(logging.Handler):
    """Log lines to a module's writer (log_custom's UDP target): `(pid) ` and Kamailio's layout."""

    def __init__(self, write: Any) -> None:
        super().__init__()
        self.write = write
        self.setFormatter(KamailioFormatter(process=False))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(f"({record.process}) {self.format(record)}\n")
        except Exception:  # a log line that cannot be sent must not break what logged it
            self.handleError(record)


def divert(write: Any) -> bool:
    """Replace the syslog handler by `write` (Kamailio's km_log_func_set). Logging to stderr, or
    not set up by the command line (`kampy run`, tests), stays as it is."""
    global _installed
    root = logging.getLogger()
    if not isinstance(_installed, (SyslogHandler, WriterHandler)):
        return False
    root.removeHandler(_installed)
    _installed.close()
    _installed = WriterHandler(write)
    root.addHandler(_installed)
    return True


loglevels.set_log_diverter(divert)


def close() -> None:
    """closelog(): before daemonizing closes every descriptor, let go of the syslog connection."""
    global _installed
    if _installed is not None:
        logging.getLogger().removeHandler(_installed)
        _installed.close()
        _installed = None
