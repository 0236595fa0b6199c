"""xavp_rcd: the details of a location record in an XAVP (Kamailio's xavp_rcd_helper())."""
from __future__ import annotations

from typing import Any

from kampy.api import MessageContext

# xavp_rcd_mask bits: the inner XAVPs left out
RCD_RUID, RCD_CONTACT, RCD_EXPIRES, RCD_RECEIVED, RCD_PATH = 1, 2, 4, 8, 16


def add_record_details(ctx: MessageContext, name: str | None, mask: int, contact: Any, now: int) -> None:
    """Add ruid, received, contact, expires and path of `contact` (as the mask allows) to the first
    item of $xavp(name), made when there is none; each new value goes on top, as xavp_add_value()
    puts it."""
    if not name:
        return
    fields: list[tuple[str, Any]] = []
    if not mask & RCD_RUID:
        fields.append(("ruid", contact.ruid or ""))
    if not mask & RCD_RECEIVED and contact.received:
        fields.append(("received", contact.received))
    if not mask & RCD_CONTACT:
        fields.append(("contact", contact.contact))
    if not mask & RCD_EXPIRES:
        fields.append(("expires", int(contact.expires) - now))
    if not mask & RCD_PATH and contact.path:
        fields.append(("path", contact.path))
    items = ctx.xavps.get(name)
    if items and isinstance(items[0], dict):
        item = items[0]
    else:
        item = {}
        ctx.xavps.setdefault(name, []).insert(0, item)
    for field, value in fields:
        item.setdefault(field, []).insert(0, value)
