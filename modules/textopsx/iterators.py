"""textopsx's header and body-line iterators (hf_iterator_*, bl_iterator_*, $hfitname, $hfitbody,
$blitval), after modules/textopsx/textopsx.c.

As in Kamailio, an iterator walks the message as it was received (edits made meanwhile are not
seen) and lives in the worker process: up to 4 header and 4 body-line iterators, names shorter
than 32 characters. Removing, appending and inserting go through the message's change list, so they
show in what is sent (and after msg_apply_changes()).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kampy.api import MessageContext, as_bytes

log = logging.getLogger("kampy.textopsx")

ITERATORS = 4  # HF_ITERATOR_SIZE / BL_ITERATOR_SIZE
NAME_SIZE = 32  # HF_ITERATOR_NAME_SIZE
_BODY_EDITS = "textopsx.bl_edits"  # ctx.local: body edits of the bl iterators, in call order


@dataclass
class HfIterator:
    it: int | None = None  # index of the current header line
    prev: int | None = None
    eoh: bool = False


@dataclass
class BlIterator:
    start: int | None = None  # the current line: [start, end) of the received body
    end: int = 0
    body: bytes = b""
    eob: bool = False


def _slot(table: dict[str, Any], name: str, make: type) -> Any:
    """The iterator called `name`, created when there is room (ki_hf_iterator_start)."""
    if name in table:
        return table[name]
    if len(table) >= ITERATORS:
        log.error("no iterator available - max number is %d", ITERATORS)
        return None
    if len(name) >= NAME_SIZE:
        log.error("iterator name is too big [%s] (max %d)", name, NAME_SIZE)
        return None
    table[name] = make()
    return table[name]


def _line_ref(ctx: MessageContext, pos: int) -> tuple[str, int]:
    """(canonical name, index among the lines of that name) of the pos-th header line."""
    names = ctx.msg.header_names
    return names[pos], names[:pos].count(names[pos])


def _crlf_stripped(text: str) -> str:
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


class Iterators:
    """The iterator functions and PVs of textopsx (a mixin of the module class)."""

    hf_iterators: dict[str, HfIterator]
    bl_iterators: dict[str, BlIterator]

    def _hf(self, name: str) -> HfIterator | None:
        found = self.hf_iterators.get(name)
        if found is None:
            log.error("iterator not available [%s]", name)
        return found

    # ------------------------------------------------------------ header iterators
    def hf_iterator_start(self, ctx: MessageContext, iname: str) -> int:
        it = _slot(self.hf_iterators, iname, HfIterator)
        if it is None:
            return -1
        it.it, it.prev, it.eoh = None, None, False
        if not ctx.msg.header_names:
            log.error("no headers for iterator [%s]", iname)
            return -1
        return 1

    def hf_iterator_next(self, ctx: MessageContext, iname: str) -> int:
        it = self._hf(iname)
        if it is None or it.eoh:
            return -1
        if it.it is None:
            it.it = 0
        else:
            it.prev, it.it = it.it, it.it + 1
        if it.it >= len(ctx.msg.header_names):
            it.it, it.eoh = None, True
            return -1
        return 1

    def hf_iterator_prev(self, ctx: MessageContext, iname: str) -> int:
        it = self._hf(iname)
        if it is None or it.eoh:
            return -1
        if it.prev is None:
            return self.hf_iterator_start(ctx, iname)
        if it.prev != it.it:
            it.it = it.prev
            return 1
        count = len(ctx.msg.header_names)
        # Kamailio walks the list for the line before the current one; at the last line it goes back
        # one and forgets the previous one
        for j in range(count - 1):
            if j + 2 < count and it.it == j + 2:
                it.it, it.prev = j + 1, j
                return 1
            if j + 2 >= count and it.it == j + 1:
                it.it, it.prev = j, None
                return 1
        return self.hf_iterator_start(ctx, iname)

    def hf_iterator_end(self, ctx: MessageContext, iname: str) -> int:
        it = self._hf(iname)
        if it is None:
            return -1
        it.it, it.eoh = None, False
        return 1

    def _hf_current(self, ctx: MessageContext, iname: str) -> int | None:
        it = self._hf(iname)
        if it is None or it.it is None or it.it >= len(ctx.msg.header_names):
            return None
        return it.it

    def hf_iterator_rm(self, ctx: MessageContext, iname: str) -> int:
        pos = self._hf_current(ctx, iname)
        if pos is None:
            return -1
        ctx.msg.remove_header(*_line_ref(ctx, pos))
        return 1

    def hf_iterator_append(self, ctx: MessageContext, iname: str, htext: str) -> int:
        return self._hf_add(ctx, iname, htext, after=True)

    def hf_iterator_insert(self, ctx: MessageContext, iname: str, htext: str) -> int:
        return self._hf_add(ctx, iname, htext, after=False)

    def _hf_add(self, ctx: MessageContext, iname: str, htext: str, *, after: bool) -> int:
        pos = self._hf_current(ctx, iname)
        if pos is None:
            return -1
        if not htext:
            return 1
        name, index = _line_ref(ctx, pos)
        try:
            ctx.msg.insert_lines(name, index, _crlf_stripped(htext), after=after)
        except ValueError as exc:
            log.error("cannot insert lump: %s", exc)
            return -1
        return 1

    def pv_hfitname(self, spec: Any) -> _HfItemValue:
        return _HfItemValue(self, _pv_name(spec, "hfitname"), 0)

    def pv_hfitbody(self, spec: Any) -> _HfItemValue:
        return _HfItemValue(self, _pv_name(spec, "hfitbody"), 1)

    # ------------------------------------------------------------ body line iterators
    def _bl(self, name: str) -> BlIterator | None:
        found = self.bl_iterators.get(name)
        if found is None:
            log.error("iterator not available [%s]", name)
        return found

    def bl_iterator_start(self, ctx: MessageContext, iname: str) -> int:
        it = _slot(self.bl_iterators, iname, BlIterator)
        if it is None:
            return -1
        it.start, it.end, it.eob, it.body = None, 0, False, ctx.msg.body
        return 1

    def bl_iterator_next(self, ctx: MessageContext, iname: str) -> int:
        it = self._bl(iname)
        if it is None or it.eob:
            return -1
        pos = 0 if it.start is None else it.end
        if pos >= len(it.body):
            it.start, it.end, it.eob = None, 0, True
            return -1
        newline = it.body.find(b"\n", pos)
        # an unterminated last line reaches one byte past the message in Kamailio (so it cannot be
        # removed or appended to); its value here is the line itself
        it.start, it.end = pos, len(it.body) + 1 if newline < 0 else newline + 1
        return 1

    def bl_iterator_end(self, ctx: MessageContext, iname: str) -> int:
        it = self._bl(iname)
        if it is None:
            return -1
        it.start, it.end, it.body, it.eob = None, 0, b"", False
        return 1

    def bl_iterator_rm(self, ctx: MessageContext, iname: str) -> int:
        return self._bl_edit(ctx, iname, "rm", "")

    def bl_iterator_append(self, ctx: MessageContext, iname: str, text: str) -> int:
        return self._bl_edit(ctx, iname, "append", text)

    def bl_iterator_insert(self, ctx: MessageContext, iname: str, text: str) -> int:
        return self._bl_edit(ctx, iname, "insert", text)

    def _bl_edit(self, ctx: MessageContext, iname: str, kind: str, text: str) -> int:
        it = self._bl(iname)
        if it is None or it.start is None or it.end <= it.start:
            return -1
        if it.body != ctx.msg.body:
            log.error("the iterator [%s] walks another message's body", iname)
            return -1
        if kind != "insert" and it.end > len(it.body):
            log.error("cannot change the unterminated last line %r", it.body[it.start:])
            return -1
        edits = ctx.local.setdefault(_BODY_EDITS, [])
        if kind == "rm":
            edits.append((it.start, it.end, b""))
        else:
            at = it.end if kind == "append" else it.start
            edits.append((at, at, as_bytes(text)))
        ctx.msg.set_body(_edited_body(ctx.msg.body, edits))
        return 1

    def pv_blitval(self, spec: Any) -> _BlItemValue:
        return _BlItemValue(self, _pv_name(spec, "blitval"))


def _edited_body(body: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """The body with the iterators' edits, made like Kamailio's lumps on the received buffer: at one
    position the added texts come in call order before a removal starting there; a removal that
    overlaps one already made is dropped."""
    order = sorted(range(len(edits)), key=lambda i: (edits[i][0], edits[i][1] > edits[i][0], i))
    out, pos = [], 0
    for i in order:
        start, end, text = edits[i]
        if start < pos:
            continue
        out += [body[pos:start], text]
        pos = end
    out.append(body[pos:])
    return b"".join(out)


def _pv_name(spec: Any, cls: str) -> str:
    name = (spec.arg or "").strip() if spec.arg is not None else ""
    if not name:
        raise ValueError(f"${cls}(name): an iterator name expected")
    return name


class _HfItemValue:
    def __init__(self, owner: Iterators, name: str, part: int) -> None:
        self.owner, self.name, self.part = owner, name, part

    def get(self, ctx: MessageContext) -> str | None:
        pos = self.owner._hf_current(ctx, self.name)
        if pos is None:
            return None
        raw = ctx.msg.header_lines()[pos][1].decode("utf-8", "surrogateescape")
        name, _, body = raw.partition(":")
        # hf->name and hf->body: a folded body keeps its line breaks
        return name.rstrip(" \t") if self.part == 0 else body.strip(" \t\r\n")


class _BlItemValue:
    def __init__(self, owner: Iterators, name: str) -> None:
        self.owner, self.name = owner, name

    def get(self, ctx: MessageContext) -> str | None:
        it = self.owner._bl(self.name)
        if it is None or it.start is None:
            return None
        return it.body[it.start:it.end].decode("utf-8", "surrogateescape")
