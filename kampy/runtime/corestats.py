"""The `core:` statistics Kamailio's kex counts for every message (src/modules/kex/core_stats.c):
received requests by method, received replies by class, code and CSeq method, forwarded, dropped
and erroneous messages. The server calls these; each is a few dict lookups and mmap writes."""
from __future__ import annotations

from kampy.sip.message import Request, Response
from kampy.stats import Stats

_METHODS = ("INVITE", "CANCEL", "ACK", "BYE", "INFO", "REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE",
            "OPTIONS", "PRACK", "UPDATE", "REFER", "PUBLISH")
_REQUEST_KEYS = {m: f"core:rcv_requests_{m.lower()}" for m in _METHODS}
_REPLY_METHODS = {"INVITE": "invite", "CANCEL": "cancel", "BYE": "bye", "REGISTER": "reg",
                  "MESSAGE": "message", "PRACK": "prack", "UPDATE": "update", "REFER": "refer"}
_CODE_KEYS = {code: f"core:rcv_replies_{code}" for code in (401, 404, 407, 480, 486)}


def count_request(stats: Stats, msg: Request) -> None:
    stats.inc("core:rcv_requests")
    key = _REQUEST_KEYS.get(msg.method)
    stats.inc(key if key is not None else "core:unsupported_methods")


def count_reply(stats: Stats, msg: Response) -> None:
    stats.inc("core:rcv_replies")
    status = msg.status
    klass = status // 100
    if not 1 <= klass <= 6:
        return
    stats.inc(f"core:rcv_replies_{klass}xx")
    if 180 <= status <= 189:
        stats.inc("core:rcv_replies_18x")
    code_key = _CODE_KEYS.get(status)
    if code_key is not None:
        stats.inc(code_key)
    try:
        cseq = msg.cseq
    except Exception:
        return
    method = _REPLY_METHODS.get(cseq.method) if cseq is not None else None
    if method is not None:
        stats.inc(f"core:rcv_replies_{klass}xx_{method}")


def count_malformed(stats: Stats, data: bytes, message: str) -> None:
    """A message that does not parse: `bad_msg_hdr`, and `err_requests` or `err_replies`
    (`bad_URIs_rcvd` when the URI was the problem)."""
    stats.inc("core:bad_msg_hdr")
    stats.inc("core:err_replies" if data.startswith(b"SIP/") else "core:err_requests")
    if "URI" in message:
        stats.inc("core:bad_URIs_rcvd")


def count_forwarded(stats: Stats, sent: list[object]) -> None:
    """Requests the request route sent on (replies to it are not counted)."""
    for out in sent:
        data = getattr(out, "data", None)
        if data is not None and not data.startswith(b"SIP/2.0 "):
            stats.inc("core:fwd_requests")
