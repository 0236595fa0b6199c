"""track_cseq_updates: the CSeq shift of an INVITE that uac_auth() re-sent with credentials, carried
on to the later requests of the dialog going downstream, and undone in their replies (Kamailio's
dlg_cseq.c).

uac_auth() calls `cseq_update` (Kamailio's cfgenv cb_cseq_update): the request gets a
`P-K-CSeq-Auth` header with its new CSeq and the dialog the shift in `$dlg_var(cseq_diff)`. A
request within the dialog gets a `P-K-CSeq-Refresh` header (`cseq_refresh`). On the wire
(SREV_NET_DATA_OUT) the header goes, the CSeq takes its value and the top Via's branch gets
`.cs<old CSeq>`; a reply coming back with that branch (SREV_NET_DATA_IN) has its CSeq put back and
the cookie turned into a `;z=` parameter, so tm and dialog see the CSeq the caller used.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from kampy.api import (
    DLG_DIR_DOWNSTREAM,
    MessageContext,
    Outgoing,
    Request,
    SIPProtocolError,
    Source,
    parse_message,
)

from .store import CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

CSEQ_DIFF_VAR = "cseq_diff"
HDR_AUTH = "P-K-CSeq-Auth"
HDR_REFRESH = "P-K-CSeq-Refresh"
IFLAG_CSEQ_DIFF = 1 << 4

_LINE = re.compile(rb"([^\r\n]*)\r?\n")
_BRANCH = re.compile(rb";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)
_CSEQ_NUM = re.compile(rb"CSeq\s*:\s*(\d+)", re.IGNORECASE)


class RawHeaders:
    """Byte spans of what the CSeq rewrite touches in a raw message: the top Via's branch value,
    the CSeq number, and a header by name (with its line end)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        end = data.find(b"\r\n\r\n")
        self.head_end = len(data) if end < 0 else end + 2
        self.lines: list[tuple[int, int]] = []  # (start, end including the line end)
        first = True
        for m in _LINE.finditer(data, 0, self.head_end):
            if first:
                first = False
                continue
            if m.group(1):
                self.lines.append((m.start(), m.end()))

    def _named(self, *names: bytes) -> list[tuple[int, int]]:
        found = []
        for start, end in self.lines:
            name, colon, _ = self.data[start:end].partition(b":")
            if colon and name.strip().lower() in names:
                found.append((start, end))
        return found

    def branch(self) -> tuple[int, int] | None:
        vias = self._named(b"via", b"v")
        if not vias:
            return None
        start, end = vias[0]
        line = self.data[start:end]
        top = line.split(b",", 1)[0]
        m = _BRANCH.search(top)
        return (start + m.start(1), start + m.end(1)) if m else None

    def cseq_number(self) -> tuple[int, int] | None:
        for start, end in self._named(b"cseq"):
            m = _CSEQ_NUM.match(self.data, start, end)
            if m:
                return m.start(1), m.end(1)
        return None

    def header(self, name: str) -> tuple[int, int, str] | None:
        for start, end in self._named(name.lower().encode()):
            value = self.data[start:end].partition(b":")[2].strip().decode("latin-1")
            return start, end, value
        return None


class DialogCseq:
    """Mixed into DialogModule."""

    # ------------------------------------------------------------ in the script
    def cseq_update(self: DialogModule, ctx: MessageContext) -> int:
        """dlg_cseq_update, uac_auth()'s callback: the re-sent request gets its new CSeq in a
        P-K-CSeq-Auth header and the dialog one more in $dlg_var(cseq_diff)."""
        if not self.track_cseq_updates:
            return 0
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.cseq is None:
            return -1
        dlg = self.dialog_of(ctx)
        if dlg is None:
            log.debug("no dialog for this request")
            return 0
        ftag = msg.from_.tag if msg.from_ is not None else None
        if dlg.tag[CALLER] != (ftag or "") or dlg.callid != (msg.header("Call-ID") or "").strip():
            log.debug("request not going downstream")
            return 0
        diff = 0
        if dlg.iflags & IFLAG_CSEQ_DIFF:
            known = _uint(dlg.vars.get(CSEQ_DIFF_VAR))
            if known is None:
                log.debug("dialog marked with cseq diff but no variable set yet")
                return 0
            diff = known
        diff += 1
        if self.set_dlg_var(dlg.info(), CSEQ_DIFF_VAR, str(diff)) != 0:
            log.error("failed to set the dlg cseq diff var")
            return 0
        msg.add_header(HDR_AUTH, str(msg.cseq.num + diff))
        return 0

    def cseq_refresh(self: DialogModule, msg: Request, dlg: Dialog, direction: int) -> None:
        """dlg_cseq_refresh, for a request within a dialog whose CSeq was shifted."""
        if direction != DLG_DIR_DOWNSTREAM or not dlg.iflags & IFLAG_CSEQ_DIFF or msg.cseq is None:
            return
        diff = _uint(dlg.vars.get(CSEQ_DIFF_VAR))
        if not diff:
            return
        msg.add_header(HDR_REFRESH, str(msg.cseq.num + diff))

    # ------------------------------------------------------------ on the wire
    def cseq_sent(self: DialogModule, out: Outgoing) -> Outgoing:
        """dlg_cseq_msg_sent: a request going downstream in a shifted dialog takes the CSeq of its
        P-K-CSeq-Auth (else P-K-CSeq-Refresh) header; its old one goes into the Via branch."""
        try:
            msg = parse_message(out.data, limits=False)
        except SIPProtocolError:
            return out
        if not isinstance(msg, Request) or msg.to is None or msg.from_ is None:
            return out
        if not msg.to.tag and msg.method not in ("INVITE", "ACK", "CANCEL"):
            return out
        raw = RawHeaders(out.data)
        branch, number = raw.branch(), raw.cseq_number()
        if branch is None or number is None or branch[0] == branch[1]:
            return out
        callid = (msg.header("Call-ID") or "").strip()
        found = self.store.find(callid, msg.from_.tag or "", msg.to.tag or None)
        if found is None or found[1] != DLG_DIR_DOWNSTREAM:
            return out
        hdr = raw.header(HDR_AUTH)
        if hdr is None or not hdr[2]:
            hdr = raw.header(HDR_REFRESH)
        if hdr is None or not hdr[2]:
            return out
        dlg = found[0]
        self.store.update(dlg.h_entry, dlg.h_id, _mark_shifted)
        data = out.data
        old = data[number[0]:number[1]]
        edits = [(branch[1], branch[1], b".cs" + old), (number[0], number[1], hdr[2].encode())]
        if hdr[0] > number[0]:
            edits.append((hdr[0], hdr[1], b""))
        for start, end, text in sorted(edits, reverse=True):
            data = data[:start] + text + data[end:]
        return Outgoing(out.proto, out.host, out.port, data, out.local, out.conn_id, out.send_flags)

    @staticmethod
    def cseq_received(data: bytes, src: Source) -> bytes:
        """dlg_cseq_msg_received: a reply whose top Via branch ends in `.cs<CSeq>` gets that CSeq
        back; the cookie becomes a `;z=` parameter."""
        if data[:8] != b"SIP/2.0 ":
            return data
        raw = RawHeaders(data)
        branch, number = raw.branch(), raw.cseq_number()
        if branch is None or number is None:
            return data
        value = data[branch[0]:branch[1]]
        dot = value.rfind(b".")
        if dot <= 0 or not value[dot + 1:].startswith(b"cs") or len(value) - dot < 3:
            return data
        saved = value[dot + 3:]
        width = number[1] - number[0]
        if len(saved) > width:
            log.debug("cseq in message (%d) shorter than in via (%d)", width, len(saved))
            return data
        cookie = branch[0] + dot
        data = data[:cookie] + b";z=" + data[cookie + 3:]
        return data[:number[0]] + saved.rjust(width) + data[number[1]:]


def _mark_shifted(d: Dialog) -> None:
    d.iflags |= IFLAG_CSEQ_DIFF


def _uint(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None
