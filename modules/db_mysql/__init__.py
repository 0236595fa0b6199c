"""MySQL/MariaDB database driver."""

from __future__ import annotations

from kampy.api import Exports, Param, register_db_driver
from .driver import MySQLDriver

EXPORTS = Exports(
    name="db_mysql",
    doc="MySQL/MariaDB database driver.",
    params=(
        Param("ping_interval", (int,), 300),
        Param("connect_timeout", (int,), 2),
        Param("send_timeout", (int,), 0),
        Param("receive_timeout", (int,), 0),
        Param("retries", (int,), 1, implemented=False),
        Param("server_timezone", (int,), 0, implemented=False),
        Param("timeout_interval", (int,), 2),
        Param("auto_reconnect", (int,), 1, implemented=False),
        Param("insert_delayed", (int,), 0, implemented=False),
        Param("update_affected_found", (int,), 0),
        Param("unsigned_type", (int,), 0, implemented=False),
        Param("opt_ssl_mode", (int,), 0, implemented=False),
    ),
    factory=None,
)

register_db_driver("mysql", MySQLDriver())
