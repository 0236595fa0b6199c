"""The header value functions of textopsx (a mixin of the module class); the header reference
parsing and line edits are in hfedit.py."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from kampy.api import MessageContext

from .hfedit import (
    MAX_STACK,
    HeaderRef,
    Line,
    LineEditor,
    Span,
    find_value,
    for_delete,
    header_lines,
    parse_header_ref,
    values,
)
from .hfvalue import uri_and_params

log = logging.getLogger("kampy.textopsx")
_SPACE = " \t\r\n"


def _alnum(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "_-")


@dataclass
class ParamHit:
    """Where a parameter is: `upd` (its `=value` part, to replace), `delete` (the whole parameter
    with its separator); when not found, `delete` starts where a new one is added."""
    found: bool
    upd: Span
    delete: Span


def find_param(raw: str, start: int, end: int, param: str) -> ParamHit:
    """find_hf_value_param(): `;name[=value]` parameters in raw[start:end]."""
    i = start
    while True:
        del_start = i
        while i < end and raw[i] in _SPACE:
            i += 1
        if i >= end or raw[i] != ";":
            return ParamHit(False, (del_start, del_start), (del_start, del_start))
        i += 1
        while i < end and raw[i] in _SPACE:
            i += 1
        j = i
        while i < end and raw[i] not in _SPACE and raw[i] not in "=;":
            i += 1
        found = raw[j:i].lower() == param.lower()
        upd_start = i
        while i < end and raw[i] in _SPACE:
            i += 1
        if i < end and raw[i] == "=":
            i = _value_end(raw, i + 1, end, ";")
        if found:
            return ParamHit(True, (upd_start, i), (del_start, i))


def _value_end(raw: str, i: int, end: int, stop: str) -> int:
    while i < end and raw[i] in _SPACE:
        i += 1
    if i < end and raw[i] == '"':
        i += 1
        while i < end:
            if raw[i] == '"':
                return i + 1
            i += 1
        return i
    while i < end and raw[i] not in _SPACE and raw[i] != stop:
        i += 1
    return i


def find_param2(raw: str, start: int, end: int, param: str) -> tuple[ParamHit, str]:
    """find_hf_value2_param(): `name=value` parameters separated by commas (Authorization-like
    bodies); also the separator a new parameter takes (',' after a name=value, ' ' after a word)."""
    i, delim = start, ""
    while i < end:
        del_start = i
        while i < end and raw[i] in _SPACE:
            i += 1
        comma = i < end and raw[i] == ","
        if comma:
            i += 1
        while i < end and raw[i] in _SPACE:
            i += 1
        if i < end and _alnum(raw[i]):
            j = i
            delim = delim or " "
            while i < end and _alnum(raw[i]):
                i += 1
            k = i
            while i < end and raw[i] in _SPACE:
                i += 1
            upd_start = i
            if i < end and raw[i] == "=":
                delim = ","
                i = _value_end(raw, i + 1, end, ",")
                if raw[j:k].lower() == param.lower():
                    hit = ParamHit(True, (upd_start, i), (del_start, i))
                    while i < end and raw[i] in _SPACE:
                        i += 1
                    if not comma and i < end and raw[i] == ",":
                        hit.delete = (del_start, i + 1)
                    return hit, delim
            while i < end and raw[i] in _SPACE:
                i += 1
        else:
            # Kamailio stops advancing on any other character here (and loops); kampy steps over it
            i += 1
    return ParamHit(False, (i, i), (i, i)), delim


def _lump_params(editor: LineEditor, line: Line, ref: HeaderRef, value: str | None, hit: ParamHit,
                 delim: str) -> int:
    """assign_hf_do_lumping()."""
    if hit.found:
        span = hit.upd if value is not None else hit.delete
        if span[1] > span[0]:
            editor.edit(line, span[0], span[1], "")
        if value:
            editor.edit(line, hit.upd[0], hit.upd[0], "=" + value)
        return 1
    if value is None:
        return -1
    editor.edit(line, hit.delete[0], hit.delete[0], delim + ref.param + ("=" + value if value else ""))
    return 1


def _process_params(editor: LineEditor, line: Line, ref: HeaderRef, value: str | None, area: Span) -> int:
    """assign_hf_process_params(): the parameters after the URI of one value."""
    text = line.raw[area[0]:area[1]]
    start, end, res = area[0] + len(text) - len(uri_and_params(text)[2]), area[1], 0
    while True:
        hit = find_param(line.raw, start, end, ref.param)
        r2 = _lump_params(editor, line, ref, value, hit, ";")
        res = res or r2
        if not (value is None and hit.found):
            return res
        start = hit.delete[1]


def _process_params2(editor: LineEditor, line: Line, ref: HeaderRef, value: str | None) -> int:
    start, end, res = line.body_start, line.body_end, 0
    while True:
        hit, delim = find_param2(line.raw, start, end, ref.param)
        r2 = _lump_params(editor, line, ref, value, hit, delim)
        res = res or r2
        if not (value is None and hit.found):
            return res
        start = hit.delete[1]


def _fixed(text: str, *, default_idx: int, oper: str) -> HeaderRef:
    ref = parse_header_ref(text)
    if not ref.indexed or not ref.idx:
        ref = replace(ref, idx=default_idx, indexed=ref.indexed or oper in ("remove", "assign"))
    if ref.idx < -MAX_STACK:
        raise ValueError(f"index cannot be lower than {-MAX_STACK}")
    return ref


class HfValueFunctions:
    """append_hf_value ... hf_value_exists."""

    # ------------------------------------------------------------ fix-ups (at load time)
    @staticmethod
    def fix_append_ref(text: str) -> HeaderRef:
        ref = parse_header_ref(text)
        if ref.every:
            raise ValueError("asterisk not supported")
        if ref.param:
            raise ValueError("param not supported")
        return _fixed(text, default_idx=-1, oper="append")

    @staticmethod
    def fix_insert_ref(text: str) -> HeaderRef:
        ref = parse_header_ref(text)
        if ref.every:
            raise ValueError("asterisk not supported")
        if ref.param:
            raise ValueError("param not supported")
        return _fixed(text, default_idx=1, oper="insert")

    @staticmethod
    def fix_remove_ref(text: str) -> HeaderRef:
        return _fixed(text, default_idx=1, oper="remove")

    @staticmethod
    def fix_assign_ref(text: str) -> HeaderRef:
        ref = parse_header_ref(text)
        if ref.every and not ref.param:
            raise ValueError("asterisk not supported without param")
        return _fixed(text, default_idx=1, oper="assign")

    @staticmethod
    def fix_plain_ref(text: str) -> HeaderRef:
        ref = parse_header_ref(text)
        if ref.indexed or ref.param:
            raise ValueError(f"neither index nor param may be specified in '{text}'")
        return ref

    # ------------------------------------------------------------ functions
    def append_hf_value(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        editor = LineEditor(ctx)
        if not ref.indexed:
            return editor.new_header(ref, val)
        found = find_value(ctx, ref, ref.idx)
        if found is None:
            return editor.new_header(ref, val)
        line, _, lump = found
        editor.insert_value(line, lump[1], val)
        return 1

    def insert_hf_value(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        editor = LineEditor(ctx)
        found = find_value(ctx, ref, ref.idx)
        if found is not None and not ref.indexed:
            return editor.new_header(ref, val, before=found[0])
        if found is None:
            return editor.new_header(ref, val) if ref.idx == 1 else -1
        line, _, lump = found
        editor.insert_value(line, lump[0], val)
        return 1

    def remove_hf_value(self, ctx: MessageContext, ref: HeaderRef) -> int:
        return self._remove_assign(ctx, ref, None)

    def assign_hf_value(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        return self._remove_assign(ctx, ref, val)

    def _remove_assign(self, ctx: MessageContext, ref: HeaderRef, val: str | None) -> int:
        editor = LineEditor(ctx)
        if ref.every:
            done = -1
            for line in header_lines(ctx, ref):
                if not ref.param:
                    editor.delete(line, (line.body_start, line.body_end))
                    done = 1
                    continue
                for area, _ in values(line):
                    if _process_params(editor, line, ref, val, area) > 0:
                        done = 1
            return done
        found = find_value(ctx, ref, ref.idx)
        if found is None:
            return -1
        line, area, lump = found
        if ref.param:
            return _process_params(editor, line, ref, val, area)
        if val is None:
            editor.delete(line, for_delete(line, lump))
            return 1
        editor.edit(line, area[0], area[1], "")
        if val:
            editor.edit(line, area[0], area[0], val)
        return 1

    def remove_hf_value2(self, ctx: MessageContext, ref: HeaderRef) -> int:
        return self._remove_assign2(ctx, ref, None)

    def assign_hf_value2(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        return self._remove_assign2(ctx, ref, val)

    def _remove_assign2(self, ctx: MessageContext, ref: HeaderRef, val: str | None) -> int:
        editor = LineEditor(ctx)
        if ref.every:
            done = -1
            for line in header_lines(ctx, ref):
                if not ref.param:
                    editor.delete(line, (line.body_start, line.body_end))
                    done = 1
                elif _process_params2(editor, line, ref, val) > 0:
                    done = 1
            return done
        found = find_value(ctx, ref, ref.idx, per_value=False)
        if found is None:
            return -1
        line = found[0]
        if ref.param:
            return _process_params2(editor, line, ref, val)
        if val is None:
            editor.delete(line, (line.body_start, line.body_end))
            return 1
        editor.edit(line, line.body_start, line.body_end, "")
        if val:
            editor.edit(line, line.body_start, line.body_start, val)
        return 1

    def include_hf_value(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        if not val:
            return -1
        lines = header_lines(ctx, ref)
        if any(_same(line, area, val) for line in lines for area, _ in values(line)):
            return 1
        editor = LineEditor(ctx)
        if lines:
            editor.insert_value(lines[0], lines[0].body_end, val)
            return 1
        return editor.new_header(ref, val)

    def exclude_hf_value(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        if not val:
            return -1
        editor = LineEditor(ctx)
        for line in header_lines(ctx, ref):
            for area, lump in values(line):
                if _same(line, area, val):
                    editor.delete(line, for_delete(line, lump))
        return 1

    def hf_value_exists(self, ctx: MessageContext, ref: HeaderRef, val: str) -> int:
        if not val:
            return -1
        lines = header_lines(ctx, ref)
        return 1 if any(_same(line, area, val) for line in lines for area, _ in values(line)) else -1


def _same(line: Line, area: Span, val: str) -> bool:
    text = line.raw[area[0]:area[1]]
    return bool(text) and text.lower() == val.lower()
