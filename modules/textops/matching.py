"""textops' remove_hf_match, is_privacy and regex_substring (modules/textops/textops.c)."""
from __future__ import annotations

import logging
import re
from typing import Any

from kampy.api import MessageContext

from .edits import canonical

log = logging.getLogger("kampy.textops")

# parse_priv_value(): the Privacy header's values (RFC 3323, RFC 3325, RFC 4244) and their bits
PRIVACY_VALUES = {"user": 1, "header": 2, "session": 4, "none": 8, "critical": 16, "id": 32,
                  "history": 64}


def _privacy_value(text: str) -> tuple[int, int]:
    """(bit, length) of the privacy value `text` starts with (any case), (0, 0) when none."""
    low = text.lower()
    for name, bit in PRIVACY_VALUES.items():
        if low.startswith(name):
            return bit, len(name)
    return 0, 0


def parse_privacy(body: str) -> int | None:
    """parse_privacy(): the bits of a Privacy header's `;`-separated values; None when malformed."""
    text, values = body.lstrip(" \t\r\n"), 0
    if not text:
        log.error("no values")
        return None
    while text:
        bit, size = _privacy_value(text)
        if not size:
            log.error("invalid privacy value")
            return None
        values |= bit
        text = text[size:].lstrip(" \t\r\n")
        if not text:
            break
        if text[0] != ";":
            log.error("semicolon expected")
            return None
        text = text[1:].lstrip(" \t\r\n")
        if not text:
            log.error("no privacy value after comma")
            return None
    if values & PRIVACY_VALUES["none"] and values != PRIVACY_VALUES["none"]:
        log.error("no other privacy values allowed with 'none'")
        return None
    return values


class Matching:
    """remove_hf_match, is_privacy, regex_substring (a mixin of the module class)."""

    @staticmethod
    def fix_privacy(value: str) -> int:
        """fixup_privacy: one privacy value, checked and turned into its bit at load time."""
        if not value:
            raise ValueError("empty privacy value")
        bit, size = _privacy_value(value)
        if not size or size != len(value):
            raise ValueError("invalid privacy value")
        return bit

    def is_privacy(self, ctx: MessageContext, privacy_type: int) -> int:
        lines = [value for name, value in ctx.msg.headers() if canonical(name) == "privacy"]
        if not lines:
            return -1
        values = parse_privacy(lines[0])
        if values is None:
            return -1
        return 1 if values & privacy_type else -1

    def remove_hf_match(self, ctx: MessageContext, hname: str, op: str, expr: str) -> int:
        test = _matcher(op.lower() if len(op) == 2 else "", expr)
        if test is None:
            return -1
        wanted, seen, ret = canonical(hname), {}, -2
        for name, value in ctx.msg.headers():
            key = canonical(name)
            index = seen.get(key, 0)
            seen[key] = index + 1
            if key == wanted and test(value):
                ctx.msg.remove_header(key, index)
                ret = 1
        return ret

    def regex_substring(self, ctx: MessageContext, itext: str, regex: str, index: int, mcount: int,
                        dpv: Any) -> int:
        if index > mcount - 1:
            log.error("matched_index cannot be bigger than match_count")
            return -1
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            log.error("regular expression coudnt be compiled, Error code: (%s)", exc)
            return -1
        m = pattern.search(itext)
        if m is None:
            return -2
        if index > pattern.groups or m.start(index) < 0:
            log.warning("invalid offset for regular expression result")
            return -1
        found = m.group(index)
        if not found:
            log.warning("Matched string is empty")
            return -1
        dpv.set(ctx, found)
        return 1


def _matcher(op: str, expr: str) -> Any:
    if op == "eq":
        return lambda body: body == expr
    if op == "ne":
        return lambda body: body != expr
    if op == "in":
        return lambda body: expr in body
    if op == "re":
        try:
            pattern = re.compile(expr, re.IGNORECASE | re.MULTILINE)
        except re.error:
            log.error("failed to compile regex: [%s]", expr)
            return None
        return lambda body: pattern.search(body) is not None
    log.error("unknown operator [%s]", op)
    return None
