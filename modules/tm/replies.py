"""Replies tm builds itself (t_reply, local 408/487/500) and replies it relays upstream."""
from __future__ import annotations

from collections.abc import Sequence

from kampy.api import Request, Response, Source, as_bytes, build_reply


def build_local_reply(request: Request, src: Source, code: int, reason: str, *, tag: str | None,
                      server: str, lumps: Sequence[str] = (), body: bytes = b"",
                      force_rport: bool = False, warning: bytes = b"") -> bytes:
    """A reply to the transaction's request, in Kamailio's layout (the core's `build_reply`)."""
    return build_reply(request, src.ip, src.port, code, reason, to_tag=tag, force_rport=force_rport,
                       lumps=[as_bytes(text) for text in lumps], server=server, body=body,
                       warning=warning)


def without_top_via(reply: Response) -> bytes:
    """The reply as relayed upstream: our Via (the first value of the first Via line) removed."""
    name, _, rest = reply.get_all_raw("via")[0].partition(b":")
    others = _after_first_value(rest).strip()
    return reply.bytes_with_line("via", 0, name + b": " + others if others else b"")


def _after_first_value(value: bytes) -> bytes:
    quoted = False
    for i, ch in enumerate(value):
        if ch == 0x22:
            quoted = not quoted
        elif ch == 0x2C and not quoted:
            return value[i + 1:]
    return b""
