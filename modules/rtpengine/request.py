"""The ng request for a command on the message at hand (the first half of rtpp_function_call): the
Call-ID and tags of the message (or of the flags), the SDP for offer and answer, the flags, the
via-branch, the address the message came from, in Kamailio's order of the dictionary's keys."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from kampy.api import Message, MessageContext, Request, hash2_raw, reverse_hex, sdp_span

from .flags import TRANSPORTS, NgFlags, parse_flags

log = logging.getLogger("kampy.rtpengine")

OFFER, ANSWER, DELETE = "offer", "answer", "delete"
QUERY, PING, PLAY_MEDIA = "query", "ping", "play media"
START_RECORDING, STOP_RECORDING = "start recording", "stop recording"
BLOCK_DTMF, UNBLOCK_DTMF = "block DTMF", "unblock DTMF"
BLOCK_MEDIA, UNBLOCK_MEDIA = "block media", "unblock media"
SILENCE_MEDIA, UNSILENCE_MEDIA = "silence media", "unsilence media"
START_FORWARDING, STOP_FORWARDING = "start forwarding", "stop forwarding"
STOP_MEDIA, PLAY_DTMF = "stop media", "play DTMF"
# commands that carry a From tag only when asked (directional, from-tag=)
DIRECTIONAL = {BLOCK_DTMF, BLOCK_MEDIA, UNBLOCK_DTMF, UNBLOCK_MEDIA, START_FORWARDING, STOP_FORWARDING,
               SILENCE_MEDIA, UNSILENCE_MEDIA}


class RequestError(ValueError):
    """The request cannot be built (Kamailio logs it and the function returns -1)."""


@dataclass
class Body:
    """The SDP sent: where it is in the message body (None: not in the body, read_sdp_pv)."""

    text: bytes
    span: tuple[int, int] | None
    fragment: bool = False


@dataclass
class NgRequest:
    op: str
    pairs: list[tuple[str, Any]]
    callid: str
    viabranch: str
    body: Body | None


def extract_body(msg: Any) -> Body:
    """rtpengine's extract_body: the whole current body for application/sdp (or no Content-Type),
    the SDP part of a multipart/mixed one, or a trickle-ICE fragment; RequestError otherwise."""
    body = msg.current_body
    if not body:
        raise RequestError("can't extract body from the message")
    ctype = (msg.header("content-type") or "").strip()
    low = ctype.lower()
    if low.startswith("application/trickle-ice-sdpfrag"):
        return Body(body, (0, len(body)), fragment=True)
    if low.startswith("multipart/mixed"):
        span = sdp_span(body, ctype)
        if span is None:
            raise RequestError("can't extract body from the message")
        start, end = span
        return Body(body[start:end], (start, end))
    if ctype and sdp_span(body, ctype) is None:
        log.error("invalid type for a message")
        raise RequestError("can't extract body from the message")
    return Body(body, (0, len(body)))


def tags(msg: Any) -> tuple[str, str, str]:
    """(Call-ID, From tag, To tag) of the message; RequestError without Call-ID or From tag."""
    callid = msg.call_id or ""
    if not callid:
        raise RequestError("can't get Call-Id field")
    from_tag = msg.from_.tag if msg.from_ is not None else None
    if not from_tag:
        raise RequestError("can't get From tag")
    to_tag = (msg.to.tag if msg.to is not None else None) or ""
    return callid, from_tag, to_tag


def build(ctx: MessageContext, op: str, flags: str | None, sdp_override: bytes | None,
          read_sdp: bytes | None, viabranch_of: Any) -> NgRequest:
    """The request for `op` (offer/answer may turn into answer with force-answer). `sdp_override`
    is the SDP of the first set of a daisy chain, `read_sdp` the value of read_sdp_pv;
    `viabranch_of(ctx, how)` finds the via-branch (`how` as parse_flags gives it)."""
    msg = ctx.msg
    callid, from_tag, to_tag = tags(msg)
    sdp_op = op in (OFFER, ANSWER)
    pairs: list[tuple[str, Any]] = [("supports", ["load limit"])]
    body = None
    if sdp_op:
        if read_sdp is not None:
            body = Body(read_sdp, None)
        else:
            body = extract_body(msg)
        pairs.append(("sdp", sdp_override if sdp_override is not None else body.text))
    ng = NgFlags(sdp_op=sdp_op, to=op != DELETE, call_id=callid, from_tag=from_tag, to_tag=to_tag)
    parse_flags(flags, ng, op == OFFER)
    if ng.force_answer:
        op = ANSWER
    if body is not None and body.fragment:
        ng.flags.append("fragment")
    pairs += ng.items
    for name, values in (("direction", ng.direction), ("flags", ng.flags), ("replace", ng.replace)):
        if values:
            pairs.append((name, list(values)))
    if ng.codec:
        pairs.append(("codec", {k: list(v) for k, v in ng.codec}))
    if ng.transport & 0x100 and (ng.transport & 0x7) in TRANSPORTS:
        pairs.append(("transport-protocol", TRANSPORTS[ng.transport & 0x7]))
    for name, values in (("rtcp-mux", ng.rtcp_mux), ("SDES", ng.sdes), ("T.38", ng.t38)):
        if values:
            pairs.append((name, list(values)))
    pairs.append(("call-id", ng.call_id))
    viabranch = ""
    if ng.via:
        is_reply = not isinstance(msg, Request)
        auto = {3: 2 if is_reply else 1, -3: 1 if is_reply else -2, -4: 1 if is_reply else -1}
        how = auto.get(ng.via, ng.via)
        viabranch = viabranch_of(ctx, how) or ""
        if not viabranch:
            raise RequestError("can't get Via branch/extra ID")
        pairs.append(("via-branch", viabranch))
    family = "IP6" if ":" in ctx.src.ip else "IP4"
    pairs.append(("received-from", [family, ctx.src.ip]))
    pairs += _tag_pairs(msg, op, ng)
    pairs.append(("command", op))
    return NgRequest(op, pairs, ng.call_id or callid, viabranch, body)


def _tag_pairs(msg: Any, op: str, ng: NgFlags) -> list[tuple[str, Any]]:
    is_request = isinstance(msg, Request)
    if op in DIRECTIONAL:
        return [("from-tag", ng.from_tag)] if ng.directional else []
    if (is_request and op != ANSWER) or (not is_request and op in (DELETE, ANSWER)) or ng.directional:
        out: list[tuple[str, Any]] = [("from-tag", ng.from_tag)]
        if ng.to and ng.to_tag:
            out.append(("to-tag", ng.to_tag))
        return out
    if not ng.to_tag:
        raise RequestError("No to-tag present")
    return [("from-tag", ng.to_tag), ("to-tag", ng.from_tag)]


def next_via_branch(msg: Message, index: int) -> str:
    """via-branch=next: the branch Kamailio's branch_builder makes for branch `index` of the
    message's transaction from its hash index and characteristic value (char_msg_val: the MD5 of
    the From tag, the To tag but for INVITE/ACK/CANCEL, Call-ID, Request-URI, CSeq number and the
    top Via's host, port and branch, each trimmed, empty ones left out)."""
    call_id = msg.call_id or ""
    cseq = str(msg.cseq.num) if msg.cseq is not None else ""
    via = msg.via
    method = msg.method.upper() if isinstance(msg, Request) else (msg.cseq.method if msg.cseq else "")
    parts = [msg.from_.tag if msg.from_ is not None else "",
             "" if method in ("INVITE", "ACK", "CANCEL") else (msg.to.tag if msg.to is not None else ""),
             call_id, msg.uri if isinstance(msg, Request) else "", cseq,
             via.host if via is not None else "", str(via.port) if via is not None and via.port else "",
             via.branch if via is not None else ""]
    md5 = hashlib.md5()
    for part in parts:
        text = (part or "").strip()
        if text:
            md5.update(text.encode("utf-8", "surrogateescape"))
    hash_index = hash2_raw(call_id, cseq) & 0xFFFF
    return f"z9hG4bK{reverse_hex(hash_index)}.{md5.hexdigest()}.{reverse_hex(index)}"
