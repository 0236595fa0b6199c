"""A binding as Kamailio's usrloc keeps it (ucontact_t), and the small helpers around it."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

Q_UNSPECIFIED = -1
ALL_METHODS = 0xFFFFFFFF
FL_MEM = 1 << 0  # contact kept in memory only, never written to the database

# Kamailio's METHOD_* bits (src/core/parser/msg_parser.h).
METHOD_BITS: dict[str, int] = {
    "INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "REGISTER": 32, "SUBSCRIBE": 64,
    "NOTIFY": 128, "MESSAGE": 256, "OPTIONS": 512, "PRACK": 1024, "UPDATE": 2048, "REFER": 4096,
    "PUBLISH": 8192, "KDMQ": 16384, "GET": 32768, "POST": 65536, "PUT": 131072, "DELETE": 262144,
}
METHOD_OTHER = 524288


def method_bit(method: str) -> int:
    return METHOD_BITS.get(method.upper(), METHOD_OTHER)


def methods_mask(methods: Iterable[str]) -> int:
    mask = 0
    for method in methods:
        mask |= method_bit(method.strip())
    return mask


@dataclass
class UContact:
    """One binding of an AoR. `expires` and `last_modified` are absolute Unix times; `expires` 0
    is a permanent contact. `q` is in thousandths, -1 when the UA gave none."""

    aor: str
    contact: str
    ruid: str
    expires: int = 0
    q: int = Q_UNSPECIFIED
    callid: str = "Default-Call-ID"
    cseq: int = 1
    flags: int = 0
    cflags: int = 0
    user_agent: str = ""
    received: str | None = None
    path: str | None = None
    socket: str | None = None
    methods: int = ALL_METHODS
    instance: str | None = None
    reg_id: int = 0
    last_modified: int = 0
    server_id: int = 0
    connection_id: int = -1
    keepalive: int = 0
    last_keepalive: int = 0  # when it last answered a NAT keepalive (set on insert and update too)
    # the xavp_contact XAVP's fields saved with it ({field: [values]}), given back at lookup
    xavp: dict[str, list[Any]] | None = None

    def valid(self, now: float) -> bool:
        """Kamailio's VALID_CONTACT: not yet expired, or permanent."""
        return self.expires == 0 or self.expires > now

    def copy(self, **changes: object) -> UContact:
        return replace(self, **changes)  # type: ignore[arg-type]


CONTACT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UContact))


def q_str(q: int) -> str:
    """Kamailio's q2str: 1, 0, or 0.5 / 0.25 / 0.125 without trailing zeros."""
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return ("0." + f"{q:03d}").rstrip("0")


def q_float(q: int) -> float:
    """Kamailio's q2double: -1 for an unspecified q."""
    return -1.0 if q == Q_UNSPECIFIED else q / 1000.0


def q_from_float(value: float) -> int:
    return Q_UNSPECIFIED if value == -1 else int(round(value * 1000))


def sorted_contacts(contacts: Iterable[UContact], desc_time_order: bool = False) -> list[UContact]:
    """The order Kamailio keeps a record's contacts in: by q, highest first, a newer contact after
    the older ones of the same q (mem_insert_ucontact); with desc_time_order, newest first."""
    items = list(contacts)
    if desc_time_order:
        return sorted(items, key=lambda c: -c.last_modified)
    return sorted(items, key=lambda c: -c.q)


class RuidGenerator:
    """Kamailio's sruid in SRUID_INC mode: `<prefix>-<time hex>-<pid hex>-<counter>`, the counter
    printed in hex with its lowest digit first."""

    def __init__(self, prefix: str = "uloc", clock_time: float | None = None, server_id: int = 0) -> None:
        import time

        now = int(clock_time if clock_time is not None else time.time())
        head = f"{server_id:x}-" if server_id else ""
        self._base = f"{prefix}-{head}{now:x}-{os.getpid():x}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        value = next(self._counter)
        digits = []
        while value:
            digits.append("0123456789abcdef"[value & 0xF])
            value >>= 4
        return self._base + "".join(digits)
