"""The CANCEL and the ACK of a negative reply tm builds for a branch (Kamailio's t_msgbuilder.c): from
the INVITE sent (reparse_invite=1, build_local_reparse: its route set, plus the headers named with the
ac_extra_hdrs prefix), or from the INVITE received (reparse_invite=0, build_local)."""
from __future__ import annotations

from kampy.api import Request, Response, build_ack, build_cancel

from .cell import Cell, UacBranch

MAX_FORWARDS = "70"  # MAXFWD_HEADER


def extra_headers(invite: Request, prefix: str) -> list[tuple[str, str]]:
    """ac_extra_hdrs: the lines of the INVITE sent whose name starts with `prefix` (any case)."""
    if not prefix:
        return []
    found = []
    for _name, raw in invite.header_lines():
        line = raw.decode("utf-8", "replace")
        if line[:len(prefix)].lower() == prefix.lower():
            name, _, value = line.partition(":")
            found.append((name.strip(), value.strip()))
    return found


def from_received(method: str, cell: Cell, br: UacBranch, to: str, user_agent: str | None) -> Request:
    """build_local: the branch's R-URI and Via; From, Call-ID and Route of the request received; the
    given To; Max-Forwards 70; the User-Agent of the server signature."""
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
    """The CANCEL of a branch: the To of the INVITE received unless t_use_uac_headers() ran."""
    received_to = None if cell.is_local or cell.use_uac_headers else cell.request.header("to")
    if not reparse and received_to is not None:
        return from_received("CANCEL", cell, br, received_to, user_agent)
    cancel = build_cancel(br.request)
    if received_to is not None and received_to != cancel.header("to"):
        cancel.replace_header("to", 0, received_to)
    for name, value in extra_headers(br.request, prefix):
        cancel.add_header(name, value)
    return cancel


def negative_ack(cell: Cell, br: UacBranch, invite: Request, reply: Response, *, reparse: bool, prefix: str,
                 user_agent: str | None) -> Request:
    """The ACK of a non-2xx final reply on a branch (build_ack): the reply's To."""
    if not reparse and not cell.is_local:
        return from_received("ACK", cell, br, reply.header("to") or "", user_agent)
    ack = build_ack(invite, reply)
    for name, value in extra_headers(invite, prefix):
        ack.add_header(name, value)
    return ack
