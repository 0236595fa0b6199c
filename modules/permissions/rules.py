"""Allow/deny rule files (Kamailio's permissions parse_config.c and rule.c), as hosts.allow:

    <From/To regexes> [EXCEPT <regexes>] : <R-URI/Contact regexes> [EXCEPT <regexes>]   # comment

The regexes are POSIX extended, case-insensitive and searched (not anchored); `ALL` matches
everything; a list is comma-separated, each item optionally in double quotes. A line Kamailio
cannot parse is logged and left out; a file that does not exist is an empty set of rules.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kampy.api import L_ERR, L_INFO, compile_posix, log_at

log = logging.getLogger("kampy.permissions")

EXPRESSION_LENGTH = 256
LINE_LENGTH = 500
Expressions = tuple[re.Pattern[str], ...] | None  # None: ALL


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    left: Expressions
    left_except: Expressions
    right: Expressions
    right_except: Expressions

    def matches(self, left: str, right: str) -> bool:
        return ((self.left is None or _search(self.left, left)) and not _search(self.left_except, left)
                and (self.right is None or _search(self.right, right))
                and not _search(self.right_except, right))


def _search(expressions: Expressions, value: str) -> bool:
    return bool(expressions) and any(e.search(value) for e in expressions or ())


def search_rule(rules: list[Rule] | None, left: str, right: str) -> bool:
    return any(rule.matches(left, right) for rule in rules or ())


def _expression(text: str) -> re.Pattern[str]:
    if len(text) >= EXPRESSION_LENGTH:
        raise RuleError(f"expression string is too large ({text})")
    try:
        return compile_posix(text, re.IGNORECASE | re.DOTALL)
    except re.error:
        raise RuleError(f"bad regular expression: {text}") from None


def parse_expression_list(text: str) -> tuple[re.Pattern[str], ...]:
    """a, b, "c, d": the comma-separated regexes (a comma in quotes is part of one)."""
    words: list[re.Pattern[str]] = []
    start, quoted = 0, False
    for i in range(len(text) + 1):
        c = text[i] if i < len(text) else "\0"
        if c == '"':
            quoted = not quoted
        if c == "\0" or (c == "," and not quoted):
            while start < len(text) and text[start] in " \t":
                start += 1
            if start < len(text) and text[start] == '"':
                start += 1
            j = i - 1
            while j > 0 and text[j] in " \t":
                j -= 1
            if j > 0 and text[j] == '"':
                j -= 1
            if start > j:
                raise RuleError("empty expression")
            words.append(_expression(text[start:j + 1]))
            start = i + 1
    return tuple(words)


def parse_expression(text: str) -> tuple[Expressions, Expressions]:
    """`list [EXCEPT list]`: (expressions, exceptions); `ALL` is None."""
    if len(text) >= LINE_LENGTH:
        raise RuleError(f"expression string is too long ({text})")
    main, sep, rest = text.partition(" EXCEPT ")
    exceptions = parse_expression_list(rest) if sep else None
    main = main.strip(" \t\r\n\v\f")
    return (None if main == "ALL" else parse_expression_list(main)), exceptions


def parse_line(line: str) -> Rule | None:
    """parse_config_line(): a rule, or None (blank, comment, or an error logged)."""
    quoted = evaluated = False
    colon = -1
    i = 0
    while i < len(line) and line[i] not in "\n\0" and (line[i] != "#" or quoted):
        c = line[i]
        if c == '"':
            quoted, evaluated = not quoted, True
        elif c == ":":
            if not quoted:
                colon = i
            evaluated = True
        elif c not in " \t":
            evaluated = True
        i += 1
    if not evaluated:
        return None
    if not (0 < colon and colon + 1 < i):
        log_at(log, L_ERR, "failed to parse line: %s", line.rstrip("\n"))
        return None
    try:
        left, left_except = parse_expression(line[:colon])
        right, right_except = parse_expression(line[colon + 1:i])
    except RuleError as exc:
        log_at(log, L_ERR, "failed to parse line: %s (%s)", line.rstrip("\n"), exc)
        return None
    return Rule(left, left_except, right, right_except)


def _fgets(text: str) -> Iterator[str]:
    """The lines as fgets(line, LINE_LENGTH) reads them: a line longer than that in pieces."""
    for line in text.splitlines(keepends=True):
        while len(line) > LINE_LENGTH - 1:
            yield line[:LINE_LENGTH - 1]
            line = line[LINE_LENGTH - 1:]
        yield line


def parse_file(path: str) -> list[Rule] | None:
    """parse_config_file(): the rules in order, None when the file cannot be read or has none."""
    try:
        text = Path(path).read_text(errors="surrogateescape")
    except OSError:
        log_at(log, L_INFO, "file not found: %s", path)
        return None
    rules = [rule for line in _fgets(text) if (rule := parse_line(line)) is not None]
    return rules or None
