"""The CANCEL and the ACK of a negative reply tm builds for a branch (Kamailio's t_msgbuilder.c): from
the INVITE sent (reparse_invite=1, build_local_reparse: its lines in their order, but only the first
Via, From, To, Call-ID, CSeq, Route, Max-Forwards, Content-Length and the headers named with the
ac_extra_hdrs prefix), or from the INVITE received (reparse_invite=0, build_local: with the server's
User-Agent, for a local transaction too)."""
from __future__ import annotations

from kampy.api import FL_USE_UAC_TO, Request, Response

from .cell import Cell, UacBranch

MAX_FORWARDS = "70"  # MAXFWD_HEADER
# build_local_reparse copies these lines of the INVITE sent (the first Via only), and drops the rest
# but the ac_extra_hdrs ones
REPARSE_COPIED = frozenset({"via", "from", "to", "call-id", "cseq", "route", "max-forwards",
                            "content-length"})


def from_sent(method: str, invite: Request, to: str | None, prefix: str) -> Request:
    """build_local_reparse: the INVITE sent, line by line, as a `method` request; `to` replaces its To
    (None: kept)."""
    headers: list[tuple[str, str]] = []
    first_via = True
    for lname, raw in invite.header_lines():
        line = raw.decode("utf-8", "surrogateescape")
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if lname not in REPARSE_COPIED:
            if prefix and line[:len(prefix)].lower() == prefix.lower():
                headers.append((name, value))
            continue
        if lname == "via":
            if not first_via:
                continue
            first_via = False
        elif lname == "cseq":
            value = f"{value.split()[0] if value else ''} {method}"
        elif lname == "to" and to is not None:
            value = to
        elif lname == "content-length":
            value = "0"
        headers.append((name, value))
    return Request(method, invite.uri, headers)


def from_received(method: str, cell: Cell, br: UacBranch, to: str, user_agent: str | None) -> Request:
    """build_local: the branch's R-URI and Via; From, Call-ID and Route of the request received (of the
    local request for a local transaction, without its Route); the given To; Max-Forwards 70; the
    User-Agent of the server signature."""
    received = cell.request
    sent = br.request
    cseq = received.cseq
    headers = [("Via", sent.header("via") or ""), ("From", received.header("from") or ""),
               ("Call-ID", received.call_id or ""), ("To", to),
               ("CSeq", f"{cseq.num if cseq is not None else 1} {method}"), ("Max-Forwards", MAX_FORWARDS)]
    if not cell.is_local:
        headers += [("Route", route) for route in received.headers_named("route")]
    if user_agent:
        headers.append(("User-Agent", user_agent))
    return Request(method, br.uri, headers)


def cancel_of(cell: Cell, br: UacBranch, *, reparse: bool, prefix: str, user_agent: str | None) -> Request:
    """The CANCEL of a branch: the To of the INVITE received (or of the local one) unless the request
    had FL_USE_UAC_TO; either FL_USE_UAC_* flag also makes it reparse the INVITE sent."""
    received_to = cell.request.header("to") or ""
    if not reparse and not cell.uac_flags:
        return from_received("CANCEL", cell, br, received_to, user_agent)
    keep_sent = cell.is_local or cell.uac_flags & FL_USE_UAC_TO
    return from_sent("CANCEL", br.request, None if keep_sent else received_to, prefix)


def negative_ack(cell: Cell, br: UacBranch, invite: Request, reply: Response, *, reparse: bool, prefix: str,
                 user_agent: str | None) -> Request:
    """The ACK of a non-2xx final reply on a branch: the reply's To."""
    to = reply.header("to") or ""
    if not reparse:
        return from_received("ACK", cell, br, to, user_agent)
    return from_sent("ACK", invite, to, prefix)
