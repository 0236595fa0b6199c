"""The environment Kamailio's exec module gives a command (exec_hf.c): each header field as
SIP_HF_<NAME> (the values of a header that occurs several times joined by commas), and SIP_SRCIP,
SIP_RURI, SIP_USER, SIP_ORUI, SIP_OUSER, SIP_TID, SIP_DID."""
from __future__ import annotations

import hashlib

from kampy.api import MessageContext, Request, parse_uri

# compact forms, as Kamailio's parser knows them, and the full names they stand for
COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
           "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
           "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events", "x": "session-expires",
           "y": "identity", "n": "identity-info"}
# header fields whose variable has a fixed name whatever they were written as
FIXED = {"via": "VIA", "content-type": "CONTENT_TYPE", "from": "FROM", "call-id": "CALLID",
         "supported": "SUPPORTED", "content-length": "CONTENT_LENGTH", "contact": "CONTACT", "to": "TO",
         "event": "EVENT"}
SYMBOLS = set("-_.!~*'()" "[]/?:+$" "%")


def canonical(name: str) -> str:
    """canonize_headername(): upper case; other characters become `_`."""
    out = []
    for c in name:
        if "a" <= c <= "z":
            out.append(c.upper())
        elif "A" <= c <= "Z" or "0" <= c <= "9":
            out.append(c)
        else:
            out.append("_")
    return "".join(out)


def _kind(name: str) -> str:
    low = name.lower()
    return COMPACT.get(low, low)


def _value(value: str, bash_safety: bool) -> str:
    if bash_safety and value.startswith("() {"):
        return value[2:]
    return value


def header_vars(ctx: MessageContext, bash_safety: bool) -> dict[str, str]:
    """SIP_HF_<NAME> for each header field, in the order of first occurrence."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for name, value in ctx.msg.headers():
        kind = _kind(name)
        if kind not in grouped:
            grouped[kind] = (FIXED.get(kind) or canonical(name), [])
        grouped[kind][1].append(_value(value, bash_safety))
    return {f"SIP_HF_{var}": ",".join(values) for var, values in grouped.values()}


def transaction_id(ctx: MessageContext) -> str:
    """char_msg_val(): the MD5 (hex) of the From tag, the To tag (not for INVITE, ACK and
    CANCEL), the Call-ID, the R-URI as received, the CSeq number and the top Via's host, port
    and branch, each trimmed."""
    msg = ctx.msg
    from_, to, via, cseq = msg.from_, msg.to, msg.via, msg.cseq
    method = msg.method if isinstance(msg, Request) else ""
    parts = [(from_.tag if from_ else "") or "",
             "" if method in ("INVITE", "ACK", "CANCEL") else ((to.tag if to else "") or ""),
             msg.call_id or "", _original_uri(ctx), str(cseq.num) if cseq else "",
             via.host if via else "", str(via.port) if via and via.port else "",
             (via.branch if via else None) or ""]
    digest = hashlib.md5()
    for part in parts:
        digest.update(part.strip().encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _original_uri(ctx: MessageContext) -> str:
    return ctx.msg.uri if isinstance(ctx.msg, Request) else ""


def fixed_vars(ctx: MessageContext) -> dict[str, str]:
    ruri = ctx.ruri
    original = _original_uri(ctx)
    found = {"SIP_SRCIP": ctx.src.ip, "SIP_RURI": ruri}
    for var, uri in (("SIP_USER", ruri), ("SIP_OUSER", original)):
        try:
            found[var] = parse_uri(uri).user or ""
        except ValueError:
            pass
    found["SIP_ORUI"] = original  # Kamailio's name for it (its docs say SIP_ORURI)
    found["SIP_TID"] = transaction_id(ctx)
    to = ctx.msg.to
    found["SIP_DID"] = (to.tag if to else "") or ""
    return found


def sip_environment(ctx: MessageContext, bash_safety: bool) -> dict[str, str]:
    return {**header_vars(ctx, bash_safety), **fixed_vars(ctx)}
