"""Failing fast while the database server is known to be down, and TLS only when asked for.

An outage must not turn into overload: without a circuit, every call while the server is away
reconnects (a TCP connect, and with TLS a new context and the CA bundle loaded: ~20 ms of CPU each)
and holds its worker for it. Once a connection error is seen, the circuit opens: calls fail at once
with a connection error (the script answers 503 in well under a millisecond) and one background
thread probes the server, backing off from PROBE_FIRST to PROBE_MAX seconds between attempts. The
first probe that connects closes the circuit, so service is back within PROBE_MAX of the server.
"""
from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("kampy.db.mysql")

PROBE_FIRST = 0.05
PROBE_MAX = 0.5

# db_mysql's opt_ssl_mode: Kamailio's values (libmysqlclient's enum mysql_ssl_mode)
SSL_DEFAULT, SSL_DISABLED, SSL_PREFERRED, SSL_REQUIRED, SSL_VERIFY_CA, SSL_VERIFY_IDENTITY = range(6)


def tls_arguments(mode: int) -> dict[str, Any]:
    """PyMySQL's connection arguments for opt_ssl_mode, with one SSL context for every connection.

    0 (kampy's default) and 1: no TLS. PyMySQL would otherwise build a context and load the CA
    bundle for each connection it makes (its PREFERRED mode), the cost an outage multiplies.
    2 and 3: TLS without certificate checks (2 connects without it when the server has none);
    4: the server certificate is checked against the system CAs; 5: its host name too."""
    if mode in (SSL_DEFAULT, SSL_DISABLED):
        return {"ssl_disabled": True}
    context = ssl.create_default_context()
    if mode in (SSL_PREFERRED, SSL_REQUIRED, SSL_VERIFY_CA):
        context.check_hostname = False
    if mode in (SSL_PREFERRED, SSL_REQUIRED):
        context.verify_mode = ssl.CERT_NONE
    return {"ssl": context}


class Circuit:
    """Open while the server is known to be unreachable; `probe()` raising means still down."""

    def __init__(self, probe: Callable[[], None], where: str) -> None:
        self._probe = probe
        self._where = where
        self._lock = threading.Lock()
        self._open_since: float | None = None
        self._prober: threading.Thread | None = None
        self._stopped = False
        self.failed_fast = 0  # calls refused while open (for logs and tests)

    @property
    def is_open(self) -> bool:
        return self._open_since is not None

    def refuse(self) -> bool:
        """True (and counted) when a call must fail at once."""
        if self._open_since is None:
            return False
        self.failed_fast += 1
        return True

    def open(self, reason: str) -> None:
        with self._lock:
            if self._open_since is not None:
                return
            self._open_since = time.monotonic()
            log.error("database %s is unreachable (%s): failing calls at once until it answers again",
                      self._where, reason)
            self._prober = threading.Thread(target=self._probe_until_back, name="db-mysql-probe",
                                            daemon=True)
            self._prober.start()

    def stop(self) -> None:
        """The database is closed: a running probe ends at its next attempt."""
        self._stopped = True

    def _probe_until_back(self) -> None:
        delay = PROBE_FIRST
        while True:
            time.sleep(delay)
            if self._stopped:
                return
            try:
                self._probe()
            except Exception as exc:  # still down (or refusing us): try again later
                log.debug("database %s still unreachable: %s", self._where, exc)
                delay = min(delay * 2, PROBE_MAX)
                continue
            self._close()
            return

    def _close(self) -> None:
        with self._lock:
            since, self._open_since = self._open_since, None
            refused, self.failed_fast = self.failed_fast, 0
        down = time.monotonic() - since if since is not None else 0.0
        log.warning("database %s answers again after %.1f s; %d calls failed at once meanwhile",
                    self._where, down, refused)
