"""restore_dlg: the original and the new From/To kept in dialog variables instead of the
Record-Route parameter (Kamailio's replace.c with the dialog API), put into the dialog's later
requests by dialog's callbacks."""
from __future__ import annotations

from typing import Any

from kampy.api import (
    DLG_DIR_DOWNSTREAM,
    DLG_DIR_NONE,
    DLGCB_CONFIRMED,
    DLGCB_REQ_WITHIN,
    DLGCB_TERMINATED,
    L_DBG,
    L_ERR,
    L_INFO,
    DialogAPI,
    DialogInfo,
    DlgCbParams,
    MessageContext,
    log_at,
    module_logger,
)

from .replace import Address, current_value, parse_address, with_display, with_uri, write_value

log = module_logger("uac")

# (original URI, new URI, original display, new display)
FROM_VARS = ("_uac_fu", "_uac_funew", "_uac_fdp", "_uac_fdpnew")
TO_VARS = ("_uac_to", "_uac_tonew", "_uac_tdp", "_uac_tdpnew")


class DlgRestore:
    def __init__(self, module: Any, dialog: DialogAPI) -> None:
        self.module = module
        self.dialog = dialog
        if dialog.register_dlgcb(DLGCB_REQ_WITHIN | DLGCB_CONFIRMED | DLGCB_TERMINATED, self.callback) != 0:
            raise ValueError("can't register create dialog callbacks")

    def store(self, ctx: MessageContext, is_from: bool, addr: Address, display: str | None,
              uri: str) -> bool:
        """Keep the URIs and display names in the dialog of the request; False when it has none
        (the Record-Route parameter is used then)."""
        dlg = self.dialog.get_dlg(ctx)
        if dlg is None:
            return False
        names = FROM_VARS if is_from else TO_VARS
        if self.dialog.get_dlg_var(dlg, names[0]) is not None:
            log_at(log, L_INFO, "Already called uac_replace for this dialog")
            self.dialog.set_dlg_var(dlg, names[1], None)
        else:
            self.dialog.set_dlg_var(dlg, names[0], addr.uri_text)
        self.dialog.set_dlg_var(dlg, names[1], uri)
        self.dialog.set_dlg_var(dlg, names[2], addr.display_text)
        self.dialog.set_dlg_var(dlg, names[3], display or "")
        return True

    def callback(self, dlg: DialogInfo, kind: int, params: DlgCbParams) -> None:
        """replace_callback: downstream the new URI (and display) into the header the flag is for,
        upstream the original into the other one; the replies get the request's back."""
        ctx = params.ctx
        if ctx is None or params.req is None or params.direction == DLG_DIR_NONE:
            return
        for is_from, names in ((True, FROM_VARS), (False, TO_VARS)):
            if self.dialog.get_dlg_var(dlg, names[0]) is None:
                continue  # not a dialog whose header uac replaced
            self._replace(ctx, dlg, is_from, names, params.direction == DLG_DIR_DOWNSTREAM)

    def _replace(self, ctx: MessageContext, dlg: DialogInfo, is_from: bool, names: tuple[str, ...],
                 downstream: bool) -> None:
        marks = self.module.marks(ctx)
        if marks.from_ if is_from else marks.to:
            return
        in_to = downstream if not is_from else not downstream
        new_uri = self.dialog.get_dlg_var(dlg, names[1 if downstream else 0])
        new_display = self.dialog.get_dlg_var(dlg, names[3 if downstream else 2])
        if new_uri is None or new_display is None:
            log_at(log, L_DBG, "<%s> param not found", names[1 if downstream else 0])
            return
        hname = "To" if in_to else "From"
        current = current_value(ctx.msg, hname)
        addr = parse_address(current) if current is not None else None
        if addr is None:
            log_at(log, L_ERR, "failed to find/parse %s hdr", hname.upper())
            return
        value = with_uri(with_display(addr, new_display), new_uri)
        if value is None:
            return
        write_value(ctx.msg, hname, value)
        if not self.module.watch_replies(ctx, marks):
            return
        marks.mark(ctx, is_from)
