"""dlg_refer(), dlg_bridge() and dlg.bridge_dlg (Kamailio's dlg_transfer.c): a REFER within a dialog
followed by a BYE once it is answered; a bridge is a new INVITE from `bridge_controller` (a held SDP
offer) whose answer gets the ACK, then such a REFER to the `to` URI."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kampy.api import MessageContext, Response, RpcFault, TmcbParams, TmTransaction, UacDialog

from .store import CALLEE, CALLER

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

HOLD_SDP = (
    b"v=0\r\no=kamailio-bridge 0 0 IN IP4 0.0.0.0\r\ns=kamailio\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";")[0].strip()


class DialogTransfer:
    """Mixed into DialogModule."""

    def refer_then_bye(self: DialogModule, uac: UacDialog, to: str) -> int:
        """dlg_refer_callee: REFER (Referred-By the controller, Refer-To `to`, Contact the bridge's
        contact); the BYE goes when the REFER is answered, whatever the answer."""
        headers = (
            f"Referred-By: {self.bridge_controller}\r\nRefer-To: {to}\r\nContact: <{self.bridge_contact}>\r\n"
        )

        def on_refer(t: TmTransaction, kind: int, params: TmcbParams) -> None:
            log.debug("REFER completed with status %d", params.code)
            if self.tm.t_request_within("BYE", uac) < 0:
                log.error("failed to send the BYE after the REFER")

        if self.tm.t_request_within("REFER", uac, headers=headers, callback=on_refer) < 0:
            log.error("failed to send the REFER request")
            return -1
        return 0

    def dlg_refer(self: DialogModule, ctx: MessageContext, side: str, to: str) -> int:
        """dlg_transfer: the REFER goes to the other side than `side` (Kamailio's leg swap)."""
        dlg = self.dialog_of(ctx, lookup=False)
        if dlg is None:
            return -1
        if side == "all":
            log.error('invalid param "all"')
            return -1
        if not to:
            log.error("invalid To parameter")
            return -1
        leg = CALLEE if side == "caller" else CALLER
        return 1 if self.refer_then_bye(self.uac_dialog(dlg, leg), to) == 0 else -1

    def bridge(self: DialogModule, from_uri: str, to: str, op: str | None, body: bytes | None = None) -> int:
        """dlg_bridge: INVITE `from_uri` on behalf of bridge_controller, then REFER it to `to`."""
        headers = f"Contact: <{self.bridge_contact}>\r\nContent-Type: application/sdp\r\n"
        log.debug("bridge <%s> to <%s>", from_uri, to)

        def on_final(status: int, reply: Response | None) -> None:
            if status >= 300 or reply is None:
                return
            uac = self._bridge_dialog(reply)
            if uac is None:
                return
            self.refer_then_bye(uac, to)

        ret = self.tm.t_request(
            "INVITE",
            from_uri,
            from_uri,
            self.bridge_controller,
            headers=headers,
            body=HOLD_SDP if body is None else body,
            next_hop=op or None,
            callback=on_final,
        )
        return 0 if ret > 0 else -1

    def _bridge_dialog(self: DialogModule, reply: Response) -> UacDialog | None:
        callid = (reply.header("Call-ID") or "").strip()
        if not callid or reply.from_ is None or not reply.from_.tag or reply.to is None:
            log.error("invalid request -> callid or from TAG empty")
            return None
        cseq = (reply.header("CSeq") or "0").split()[0]
        routes = [v.strip() for h in reply.headers_named("Record-Route") for v in h.split(",") if v.strip()]
        return UacDialog(
            call_id=callid,
            local_tag=reply.from_.tag,
            local_uri=str(reply.from_.uri),
            remote_uri=str(reply.to.uri),
            remote_tag=reply.to.tag or "",
            local_seq=int(cseq) if cseq.isdigit() else 1,
            remote_target=_uri_of(reply.header("Contact") or "") or str(reply.to.uri),
            route_set=list(reversed(routes)),
        )

    def dlg_bridge(self: DialogModule, ctx: MessageContext, from_uri: str, to: str, op: str) -> int:
        if not from_uri:
            log.error("invalid From parameter")
            return -1
        if not to:
            log.error("invalid To parameter")
            return -1
        return 1 if self.bridge(from_uri, to, op or None) == 0 else -1

    def rpc_bridge_dlg(
        self: DialogModule, from_uri: str, to: str, op: str | None = None, bd: str | None = None
    ) -> None:
        """dlg.bridge_dlg from to [op [body]]: "." for no outbound proxy or the default body, "_"
        for an empty body."""
        if not from_uri or not to:
            raise RpcFault(500, "Invalid parameters")
        body = None if bd in (None, ".") else b"" if bd == "_" else bd.encode()
        self.bridge(from_uri, to, None if op in (None, ".") else op, body)
