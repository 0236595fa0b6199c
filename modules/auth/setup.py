"""What auth's mod_init makes of its parameters: the secrets, the server's start time, the hash, the
challenge AVP and the nonce_count/one_time_nonce state, shared by every worker."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from kampy.api import CoreAPI

from .hashing import ALGORITHMS
from .nonce import Secrets
from .nonce_state import NonceIds, Partitions, array_order, check_partitions, pool_order

log = logging.getLogger("kampy.auth")

RAND_SECRET_LEN = 32
_STATE_TABLE = "CREATE TABLE IF NOT EXISTS auth_state (name TEXT PRIMARY KEY, value BLOB NOT NULL)"


@dataclass(frozen=True)
class NonceSettings:
    secrets: Secrets
    up_since: int
    ids: NonceIds | None
    nc_enabled: bool
    otn_enabled: bool


def shared_value(core: CoreAPI, name: str, make: Any) -> Any:
    """A value made once for the whole server (the first worker to ask makes it)."""
    shared = core.shared
    shared.execute(_STATE_TABLE)
    shared.execute("INSERT OR IGNORE INTO auth_state (name, value) VALUES (?, ?)", (name, make()))
    return shared.query("SELECT value FROM auth_state WHERE name = ?", (name,))[0][0]


def _random_secret() -> bytes:
    """generate_random_secret: 32 printable characters."""
    return bytes(32 + b % 95 for b in os.urandom(RAND_SECRET_LEN))


def param_qop(value: str) -> str:
    """parse_qop of the `qop` parameter: "auth", "auth-int", "" or "other"."""
    text = value.strip(" \t\r\n").lower()
    return text if text in ("", "auth", "auth-int") else "other"


def secrets(core: CoreAPI, params: dict[str, Any]) -> Secrets:
    checks = any(int(params[p]) for p in ("auth_checks_register", "auth_checks_no_dlg", "auth_checks_in_dlg"))
    if params["secret"] is not None:
        if checks and len(str(params["secret"])) // 2 < 16:
            log.warning("consider a longer secret when extra auth checks are enabled (the config "
                        "secret is divided in 2!)")
        return Secrets.from_param(str(params["secret"]), checks)
    return Secrets(bytes(shared_value(core, "secret1", _random_secret)),
                   bytes(shared_value(core, "secret2", _random_secret)))


def check_qop(value: str) -> None:
    if param_qop(value) == "other":
        raise ValueError("Unsupported qop parameter value")


def check_algorithm(value: str) -> None:
    if value and value not in ALGORITHMS:
        raise ValueError('Invalid algorithm provided. Possible values are "", "MD5" or "SHA-256"')


def challenge_avp(value: str) -> str:
    """The AVP `challenge_attr` names ($name, $avp(name), $i:5 ...)."""
    if not value or value[0] != "$":
        raise ValueError("Invalid value of challenge_attr module parameter")
    name = value[1:]
    if name.startswith("avp(") and name.endswith(")"):
        name = name[4:-1]
    if not name:
        raise ValueError("Invalid value of challenge_attr module parameter")
    return name


def nonce_settings(core: CoreAPI, params: dict[str, Any]) -> NonceSettings:
    nc_enabled = bool(int(params["nonce_count"]))
    otn_enabled = bool(int(params["one_time_nonce"]))
    if nc_enabled and param_qop(params["qop"]) not in ("auth", "auth-int"):
        log.warning("nonce-count support enabled, but qop not set")
        nc_enabled = False
    up_since = int(shared_value(core, "up_since", lambda: int(core.clock.time())))
    ids = None
    if nc_enabled or otn_enabled:
        pools = pool_order(int(params["nid_pool_no"]))
        nc = otn = None
        if nc_enabled:
            nc = Partitions(array_order(int(params["nc_array_size"]), int(params["nc_array_order"])), pools)
            check_partitions("nc_array_size", nc, 1)
        if otn_enabled:
            otn = Partitions(array_order(int(params["otn_in_flight_no"]),
                                         int(params["otn_in_flight_order"])), pools)
            check_partitions("otn_in_flight_no", otn, 32)
        table = core.shared.table("auth", capacity=4096, max_capacity=1 << 20)
        ids = NonceIds(table, core.rank, pools, nc, otn)
    return NonceSettings(secrets(core, params), up_since, ids, nc_enabled, otn_enabled)
