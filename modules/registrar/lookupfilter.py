"""lookup_filter_mode: which contacts lookup() may use (Kamailio 5.6's reg_lookup_filter_*):
1 only those whose branch flags share one with $xavp(<xavp_cfg>=>rlf_bflags), 2 only those whose
TCP/TLS/WS connection is still open (UDP contacts pass)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import CoreAPI, MessageContext

FILTER_BFLAG, FILTER_TCPCON = 1, 2


def lookup_filter(ctx: MessageContext, mode: int, xavp_cfg: str | None,
                  core: CoreAPI) -> Callable[[Any], bool] | None:
    """The test a contact must pass for this lookup(), or None when no filter is active."""
    if not mode:
        return None
    bflags = 0
    if mode & FILTER_BFLAG and xavp_cfg:
        items = ctx.xavps.get(xavp_cfg)
        values = items[0].get("rlf_bflags") if items else None
        if values and isinstance(values[0], int):  # xavp_get_child_with_ival: an integer value only
            bflags = values[0] & 0xFFFFFFFF
    tcpcon = bool(mode & FILTER_TCPCON)
    if not bflags and not tcpcon:
        return None

    def match(c: Any) -> bool:
        if bflags and not bflags & c.cflags:
            return False
        return not (tcpcon and c.connection_id > 0 and not core.tcp_connection_ok(c.connection_id))
    return match
