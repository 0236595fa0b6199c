"""Double-quoted literals as Kamailio's lexer reads them, and `#!subst`/`#!substdef[s]` rules
(`/regex/replacement/flags`, Kamailio's subst_parser)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from kampy.config.pp_lex import ESCAPES, STRING_ESCAPE


def decode_string(raw: str) -> str:
    """A double-quoted literal's content the way Kamailio's lexer reads it (unknown escapes stay)."""

    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "x":
            return chr(int(esc[1:], 16))
        if esc[0].isdigit():
            return chr(int(esc, 8) & 0xFF)
        return ESCAPES[esc]

    return STRING_ESCAPE.sub(one, raw)


def encode_string(value: str) -> str:
    value = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value.replace("\n", "\\n").replace("\r", "\\r") + '"'


def expand_env_pvs(text: str) -> str:
    """`$env(NAME)` in a substitution is the one pseudo-variable that means something before any
    message exists; other pseudo-variables are kept as written."""
    return re.sub(r"\$env\(([^()]*)\)", lambda m: os.environ.get(m.group(1), ""), text)


# ---------------------------------------------------------------- #!subst rules

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "word": r"\w",
    "punct": "".join("\\" + c for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e",
}  # fmt: skip
_REPL_PV = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*(?:\([^()]*\))?|\([^()]*\))?")


@dataclass
class Subst:
    regex: re.Pattern[str]
    parts: list[str | int]  # literal text or a group number
    replace_all: bool

    def apply(self, value: str) -> str:
        def group(m: re.Match[str], n: int) -> str:
            # a reference past the regex's groups is empty, as POSIX regexec() leaves it unset
            return (m.group(n) or "") if n <= self.regex.groups else ""

        def build(m: re.Match[str]) -> str:
            return "".join(p if isinstance(p, str) else group(m, p) for p in self.parts)

        # Kamailio's subst_run() gives up on an empty match ("Matched string is empty, invalid
        # regexp?") and the string stays as it was
        matches = self.regex.finditer(value) if self.replace_all else [self.regex.search(value)]
        if any(m is not None and m.start() == m.end() for m in matches):
            return value
        return self.regex.sub(build, value, count=0 if self.replace_all else 1)


def _posix_to_python(regex: str) -> str:
    """POSIX extended regex (what Kamailio's regcomp takes) to Python: bracket classes and \\< \\>."""
    regex = re.sub(r"\[:([a-z]+):\]", lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), regex)
    return regex.replace(r"\<", r"\b").replace(r"\>", r"\b")


def _find_separator(expr: str, start: int, sep: str) -> int:
    """Index of the next `sep` not preceded by a backslash (Kamailio's own rule), or -1."""
    i = expr.find(sep, start)
    while i > 0 and expr[i - 1] == "\\":
        i = expr.find(sep, i + 1)
    return i


def _parse_replacement(expr: str, start: int, sep: str) -> tuple[list[str | int], int]:
    """Kamailio's parse_repl: the replacement from `start` up to the unescaped separator."""
    parts: list[str | int] = []
    literal: list[str] = []
    i = start
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr):
            nxt = expr[i + 1]
            if nxt.isdigit():
                parts.append("".join(literal))
                literal = []
                parts.append(int(nxt))
            else:
                literal.append({"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
        elif c == "$":
            m = _REPL_PV.match(expr, i)
            assert m is not None  # the pattern matches a lone `$`
            literal.append(expand_env_pvs(m.group(0)))
            i = m.end()
        elif c == sep:
            parts.append("".join(literal))
            return [p for p in parts if p != ""], i
        else:
            literal.append(c)
            i += 1
    raise ValueError(f"no closing '{sep}' after the replacement")


def parse_subst(expr: str) -> tuple[Subst, str, str]:
    """`/regex/replacement/flags` (any separator) -> (rule, regex text, replacement text as written)."""
    if len(expr) < 3:
        raise ValueError("the expression is too short")
    sep = expr[0]
    if sep == "\\":
        raise ValueError("a backslash cannot be the separator")
    re_end = _find_separator(expr, 1, sep)
    if re_end < 0:
        raise ValueError(f"no closing '{sep}' after the regular expression")
    parts, repl_end = _parse_replacement(expr, re_end + 1, sep)
    flags, replace_all = re.MULTILINE, False
    for flag in expr[repl_end + 1 :]:
        if flag == "i":
            flags |= re.IGNORECASE
        elif flag == "s":
            flags = (flags & ~re.MULTILINE) | re.DOTALL
        elif flag == "g":
            replace_all = True
        else:
            raise ValueError(f"unknown flag '{flag}' (Kamailio knows i, s and g)")
    try:
        regex = re.compile(_posix_to_python(expr[1:re_end]), flags)
    except re.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
    raw_end = _find_separator(expr, re_end + 1, sep)
    return Subst(regex, parts, replace_all), expr[1:re_end], expr[re_end + 1 : raw_end]

