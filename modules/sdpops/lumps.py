"""The body changes of sdpops, kept as Kamailio keeps them: deletions (with text put after them) at
offsets of the body as received, applied together when the message is written.

Every sdpops function reads the SDP as received (Kamailio parses the message buffer once and keeps
it), so two functions may delete the same bytes: the deleted zones are merged, as Kamailio's
lumps_len()/process_lumps() merge overlapping LUMP_DELs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kampy.api import MessageContext, log_at, L_WARN, module_logger

log = module_logger("sdpops")
_KEY = "sdpops.lumps"


@dataclass
class BodyLumps:
    msg: Any
    base: bytes                                   # the body the offsets are in
    lumps: list[tuple[int, int, str]] = field(default_factory=list)
    change: Any = None                            # the message's pending SetBody
    written: bytes = b""


def body_lumps(ctx: MessageContext) -> BodyLumps:
    """This message's lumps. When another module set a new body since sdpops last wrote it, the
    offsets start again from that body."""
    state: BodyLumps | None = ctx.local.get(_KEY)
    msg = ctx.msg
    if state is None or state.msg is not msg:
        state = BodyLumps(msg, msg.current_body)
        ctx.local[_KEY] = state
    elif state.change is not None and msg.current_body != state.written:
        log_at(log, L_WARN, "the body was changed by another module: sdpops edits it from here on")
        state = BodyLumps(msg, msg.current_body)
        ctx.local[_KEY] = state
    return state


def delete(ctx: MessageContext, start: int, end: int, insert: str = "") -> None:
    """del_lump(start, end - start), with `insert` after it (insert_new_lump_after)."""
    state = body_lumps(ctx)
    state.lumps.append((start, end, insert))
    text = state.base.decode("latin-1")
    body = apply(text, state.lumps).encode("latin-1")
    if state.change is not None:
        state.msg.cancel(state.change)
    state.change = state.msg.set_body(body)
    state.written = body


def apply(text: str, lumps: list[tuple[int, int, str]]) -> str:
    """`text` with the deletions made in offset order, overlapping zones merged."""
    out: list[str] = []
    pos = 0
    for start, end, insert in sorted(lumps, key=lambda lump: lump[0]):
        start = max(start, pos)
        end = max(end, start)
        out += [text[pos:start], insert]
        pos = end
    out.append(text[pos:])
    return "".join(out)
