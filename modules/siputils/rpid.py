"""siputils' Remote-Party-ID functions (Kamailio's rpid.c): append_rpid_hf() writes the value of the
`rpid_avp` AVP between `rpid_prefix` and `rpid_suffix` (or the call's own) into a Remote-Party-ID
header at the end of the headers; is_rpid_user_e164() tells whether that value's URI has an E.164
user (`+` and 2 to 15 digits)."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import CoreAPI, MessageContext, PVAccessor, SIPProtocolError, parse_name_addr, parse_uri

log = logging.getLogger("kampy.siputils")

RPID_HF_NAME = "Remote-Party-ID"


class Rpid:
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        self.prefix = str(params["rpid_prefix"] or "")
        self.suffix = str(params["rpid_suffix"] or "")
        self.core = core
        self.spec = str(params["rpid_avp"] or "").strip()
        if self.spec and not self.spec.startswith("$avp("):
            raise ValueError(f"malformed or non AVP {self.spec} AVP definition")
        self._avp: PVAccessor | None = None  # built on first use: the routes' engine resolves it

    def _value(self, ctx: MessageContext) -> str | None:
        """The AVP's string value; None (logged as Kamailio logs it) when there is none."""
        if not self.spec:
            log.error("rpid avp not defined")
            return None
        if self._avp is None:
            self._avp = self.core.pv_accessor(self.spec)
        value = self._avp.get(ctx)
        if not isinstance(value, str) or not value:
            log.debug("empty or non-string rpid, nothing to append")
            return None
        return value

    def append(self, ctx: MessageContext, prefix: str | None = None, suffix: str | None = None) -> int:
        rpid = self._value(ctx)
        if rpid is None:
            return -1
        before = self.prefix if prefix is None else prefix
        after = self.suffix if suffix is None else suffix
        try:
            ctx.msg.add_header(RPID_HF_NAME, f"{before}{rpid}{after}")
        except ValueError as exc:
            log.error("can't insert lump: %s", exc)
            return -1
        return 1

    def is_user_e164(self, ctx: MessageContext) -> int:
        rpid = self._value(ctx)
        if rpid is None:
            return -1
        try:
            uri = parse_name_addr(rpid).uri if _unquoted_lt(rpid) else parse_uri(rpid)
            user = uri.user or ""
        except (SIPProtocolError, ValueError):
            log.error("failed to parse RPID URI")
            return -1
        digits = user[1:]
        return 1 if 2 < len(user) < 17 and user[0] == "+" and digits.isascii() and digits.isdigit() else -1


def _unquoted_lt(text: str) -> bool:
    """A `<` outside double quotes (find_not_quoted()): the value is a name-addr."""
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            return True
    return False
