"""registrar's replies to a REGISTER: the Contact list, Path, GRUU and Outbound headers and the
P-Registrar-Error (Kamailio's reply.c), sent now or kept for reg_send_reply()."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import MessageContext

from . import outbound
from .outbound import option_tags
from .rcd import add_record_details
from .contacts import build_contact_header
from .common import PATH_MODE_OFF, PATH_MODE_STRICT, PREPARED_REPLY, R, REASONS, SaveState

log = logging.getLogger("kampy.registrar")


class Reply:
    """Building and sending save()'s reply: a part of RegistrarModule."""

    def _contact_hdr(self, st: SaveState, contacts: list[Any]) -> str:
        # GRUUs go only to bindings with an instance: Supported is read when there is one
        gruu = (self.gruu_enabled == 1 and any(c.instance for c in contacts)
                and "gruu" in (option_tags(st.msg, "supported") or ()))
        now = self.now()
        for c in contacts:
            if c.valid(now):
                add_record_details(st.ctx, self.xavp_rcd, self.xavp_rcd_mask, c, now)
        return build_contact_header(contacts, now, self.received_param, st.host, gruu=gruu)

    # -------------------------------------------------- replies

    def _reply_parts(self, st: SaveState) -> tuple[int, str, list[str]]:
        """Kamailio's reg_reply_helper: the code, reason and header lumps of save()'s reply."""
        lumps: list[str] = []
        if st.contact_hdr:
            lumps.append(st.contact_hdr)
        err = st.err
        if err is R.FINE:
            if self.use_path and st.path and self.path_mode != PATH_MODE_OFF:
                if "path" in (option_tags(st.msg, "supported") or ()):
                    lumps.append(f"Path: {st.path}\r\n")
                elif self.path_mode == PATH_MODE_STRICT:
                    err = R.PATH_UNSUP
                    lumps += ["Unsupported: path\r\n", f"Path: {st.path}\r\n"]
            lumps += outbound.reply_headers(st.msg, self.outbound_mode, self.flow_timer)
        elif err is R.OB_UNSUP:
            lumps += ["Require: outbound\r\n", "Supported: outbound\r\n"]
        elif err is R.OB_REQD:
            lumps.append("Unsupported: outbound\r\n")
        elif err is R.LOW_EXP:
            lumps.append(f"Min-Expires: {self.min_expires}\r\n")
        code = err.value[0]
        if code != 200:
            lumps.append(f"P-Registrar-Error: {err.value[1]}\r\n")
            if 500 <= code < 600 and self.retry_after:
                lumps.append(f"Retry-After: {self.retry_after}\r\n")
        return code, REASONS[code], lumps

    def _prepare_reply(self, st: SaveState) -> None:
        st.ctx.local[PREPARED_REPLY] = st

    def _send_reply(self, st: SaveState) -> int:
        code, reason, lumps = self._reply_parts(st)
        ctx = st.ctx
        ctx.reply_lumps.extend(lumps)
        if self.sl.send_reply(ctx, code, reason) < 0:
            log.error("failed to send %d %s", code, reason)
            return -1
        return 1

    def reg_send_reply(self, ctx: MessageContext) -> int:
        st = ctx.local.pop(PREPARED_REPLY, None)
        if st is None:
            return -1
        return self._send_reply(st)
