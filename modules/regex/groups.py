"""The groups file of the regex module, read as Kamailio's load_pcres() reads it."""
from __future__ import annotations

import re

LINE_MAX = 1024 - 4  # FILE_MAX_LINE less the room load_pcres() keeps


class GroupsError(ValueError):
    pass


def read_groups(text: str, max_groups: int, group_max_size: int) -> list[str]:
    """One alternation per group: `((^a)|(^b))`; an empty group is the unmatchable `^$`.

    Lines starting with whitespace or `#` are skipped; a line starting with `[` opens the next
    group, whatever its number says."""
    groups: list[list[str]] = []
    sizes: list[int] = []
    for raw in _lines(text):
        if raw[:1].isspace() or raw.startswith("#"):
            continue
        if not groups and not raw.startswith("["):
            raise GroupsError("first group must be initialized with [0] before any regular expression")
        if raw.startswith("["):
            if len(groups) >= max_groups:
                raise GroupsError("max patterns exceeded")
            groups.append([])
            sizes.append(1)
            continue
        line = raw.rstrip("\n")
        sizes[-1] += len(raw) + 2
        if sizes[-1] >= group_max_size - 4:
            raise GroupsError("pattern max file exceeded")
        groups[-1].append(f"({line})")
    if not groups:
        raise GroupsError("no expressions in the file")
    return ["(" + "|".join(items) + ")" if items else "^$" for items in groups]


def _lines(text: str) -> list[str]:
    """The file's lines as fgets() with Kamailio's buffer gives them (a longer line is split)."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > LINE_MAX - 1:
            out.append(line[:LINE_MAX - 1])
            line = line[LINE_MAX - 1:]
        out.append(line)
    return out


def compile_groups(patterns: list[str], flags: int) -> list[re.Pattern[str]]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, flags))
        except re.error as exc:
            raise GroupsError(f"pcre_tmp compilation of '{pattern}' failed at offset "
                              f"{exc.pos or 0}: {exc.msg}") from None
    return compiled
