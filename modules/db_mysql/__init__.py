"""MySQL/MariaDB database driver."""

from __future__ import annotations

from kampy.api import Exports, Param, Unimplemented, register_db_driver
from .driver import MySQLDriver


# What Kamailio 5.6's db_mysql module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("param", "retries", "not implemented yet", default=1, types=(int,)),
    Unimplemented("param", "server_timezone", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "auto_reconnect", "not implemented yet", default=1, types=(int,)),
    Unimplemented("param", "insert_delayed", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "unsigned_type", "not implemented yet", default=0, types=(int,)),
)


EXPORTS = Exports(
    name="db_mysql",
    doc="MySQL/MariaDB database driver.",
    params=(
        Param("ping_interval", (int,), 300),
        Param("connect_timeout", (int,), 2),
        Param("send_timeout", (int,), 0),
        Param("receive_timeout", (int,), 0),
        Param("timeout_interval", (int,), 2),
        Param("update_affected_found", (int,), 0),
        Param("opt_ssl_mode", (int,), 0),
    ),
    not_implemented=NOT_IMPLEMENTED,
    factory=None,
)

register_db_driver("mysql", MySQLDriver())
