"""MySQL/MariaDB database driver."""

from __future__ import annotations

from typing import Any

from kampy.api import CoreAPI, Exports, Module, Param, Unimplemented, register_db_driver

from .driver import MySQLDriver

DRIVER = MySQLDriver()


class DbMysqlModule(Module):
    """Hands the module's parameters to the driver: every connection opened in this process
    afterwards (by the modules loaded after db_mysql, as in Kamailio's stock config) uses them."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        DRIVER.defaults = dict(params)

    def destroy(self) -> None:
        DRIVER.defaults = {}


# What Kamailio 5.6's db_mysql module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("param", "retries", "Kamailio 5.6 reads it only in its second DB API (srdb2, "
                  "my_cmd.c), which no kampy module uses; kampy's queries retry after a lost "
                  "connection as srdb1's do", default=1, types=(int,)),
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
        Param("server_timezone", (int,), 0,
              doc="1: date-time values are sent as FROM_UNIXTIME(seconds), in the server's time zone"),
        Param("insert_delayed", (int,), 0,
              doc="1: the modules' inserts are INSERT DELAYED (MyISAM, MEMORY, ARCHIVE tables only)"),
        Param("auto_reconnect", (int,), 1,
              doc="0: a lost connection is not reconnected; every later query of the process fails"),
        Param("unsigned_type", (int,), 0,
              doc="1: unsigned integer columns read as UINT/UBIGINT; 0: as INT/BIGINT (a value above "
                  "2^31-1 wraps to negative, one above 2^63-1 fails the query)"),
    ),
    not_implemented=NOT_IMPLEMENTED,
    factory=DbMysqlModule,
)

register_db_driver("mysql", DRIVER)
