"""kampy run's syslog handler: every line goes to the core's log_facility, except a line logged with
log_at(..., facility=...) (acc's log_facility, Kamailio's LM_GEN2), which goes to its own."""
from __future__ import annotations

import logging
import logging.handlers
import socket
from pathlib import Path

from kampy.api import L_NOTICE, log_at
from kampy.cli import FacilitySysLogHandler

LOCAL3, LOCAL5 = logging.handlers.SysLogHandler.LOG_LOCAL3, logging.handlers.SysLogHandler.LOG_LOCAL5


def _priorities(tmp_path: Path, log: callable) -> list[bytes]:
    path = str(tmp_path / "log.sock")
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(path)
    sink.settimeout(2)
    handler = FacilitySysLogHandler(path, facility=LOCAL3)
    logger = logging.getLogger("kampy.test-syslog-facility")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        log(logger)
        return [sink.recv(4096).split(b">", 1)[0] for _ in range(2)]
    finally:
        logger.removeHandler(handler)
        handler.close()
        sink.close()


def test_a_line_with_a_facility_goes_to_it_and_the_others_to_the_cores(tmp_path: Path) -> None:
    def log(logger: logging.Logger) -> None:
        log_at(logger, L_NOTICE, "ACC: transaction answered: ...", facility=LOCAL5)
        log_at(logger, L_NOTICE, "anything else")

    notice = logging.handlers.SysLogHandler.LOG_NOTICE
    assert _priorities(tmp_path, log) == [b"<%d" % (LOCAL5 << 3 | notice), b"<%d" % (LOCAL3 << 3 | notice)]
