"""Small pieces presence's parts share (utils_func.h, subscribe.h, presence.h)."""

from __future__ import annotations

import base64
import logging.handlers

from kampy.api import (
    ACTIVE_STATUS,
    PENDING_STATUS,
    TERMINATED_STATUS,
    URI,
    WAITING_STATUS,
    Subscription,
    as_bytes,
    parse_uri,
)

# subs_db_mode
NO_DB, WRITE_THROUGH, WRITE_BACK, DB_ONLY = 0, 1, 2, 3
# publ_cache
PS_PCACHE_NONE, PS_PCACHE_HYBRID, PS_PCACHE_RECORD = 0, 1, 2
# active_watchers.updated / updated_winfo
NO_UPDATE_TYPE, UPDATED_TYPE = -1, 1
PRES_SUBSCRIBE_RECV = 1
FULL_STATE_FLAG, PARTIAL_STATE_FLAG = 1 << 0, 1 << 1
BAD_EVENT_CODE, INTERVAL_TOO_BRIEF = 489, 423
MAX_UA_SIZE = 255
OFFLINE_ETAG = "*#-OFFLINE-#*"
# base of the priority of a presence document when xavp_cfg is set (20150101T000000)
PRES_PRIORITY_TBASE = 1420070400

STATUS_NAMES = {
    ACTIVE_STATUS: "active",
    PENDING_STATUS: "pending",
    TERMINATED_STATUS: "terminated",
    WAITING_STATUS: "waiting",
}


def get_status_str(status: int) -> str | None:
    return STATUS_NAMES.get(status)


def uandd_to_uri(user: str, domain: str) -> str:
    """`sip:user@domain`, `sip:domain` without a user."""
    return f"sip:{user}@{domain}" if user else f"sip:{domain}"


def uri_user_host(uri: str | URI) -> tuple[str, str] | None:
    """The user and host of a SIP URI (parse_uri), None when it does not parse."""
    if isinstance(uri, URI):
        parsed = uri
    else:
        try:
            parsed = parse_uri(uri.strip())
        except Exception:  # noqa: BLE001 - any URI the parser refuses
            return None
    if parsed.host is None:
        return None
    return parsed.user or "", parsed.host


def base64_uri(uri: str) -> str:
    """to64frombits: the id of a waiting watcher in watcher-info documents."""
    return base64.b64encode(as_bytes(uri)).decode()


def copy_subs(subs: Subscription) -> Subscription:
    """mem_copy_subs: a copy to change without touching the original."""
    from dataclasses import replace

    return replace(subs)


def facility_code(name: str) -> int:
    """str2facility(): the syslog facility `LOG_LOCAL0` ... names (ValueError for another)."""
    upper = name.strip().upper()
    code = (
        logging.handlers.SysLogHandler.facility_names.get(upper[4:].lower())
        if upper.startswith("LOG_")
        else None
    )
    if code is None:
        raise ValueError("invalid log facility configured")
    return code
