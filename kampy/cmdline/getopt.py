"""Kamailio's command line read as its getopt_long() reads it (GNU: options and other words in any
order, `--` ends the options, long options by a unique prefix, `--name=value` or `--name value`),
with Kamailio's words for what it cannot read.

`tokens(argv)` gives every option in order, an unreadable one as a `Token` whose `error` is the
message Kamailio prints ("Unknown option '-z'. Use -h for help.").
"""
from __future__ import annotations

from dataclasses import dataclass

# main.c: options=":f:cm:M:dVIhEeb:l:L:n:vKrRDTN:W:w:t:u:g:P:G:SQ:O:a:A:x:X:Y:"
SHORT_OPTIONS = "f:cm:M:dVIhEeb:l:L:n:vKrRDTN:W:w:t:u:g:P:G:SQ:O:a:A:x:X:Y:"
KARGOPTVAL = 1024

# name -> (what getopt_long returns: a letter or KARGOPTVAL + n, takes a value)
LONG_OPTIONS: dict[str, tuple[str | int, bool]] = {
    "help": ("h", False), "version": ("v", False),
    "alias": (KARGOPTVAL, True), "subst": (KARGOPTVAL + 1, True), "substdef": (KARGOPTVAL + 2, True),
    "substdefs": (KARGOPTVAL + 3, True), "server-id": (KARGOPTVAL + 4, True),
    "loadmodule": (KARGOPTVAL + 5, True), "modparam": (KARGOPTVAL + 6, True),
    "log-engine": (KARGOPTVAL + 7, True), "debug": (KARGOPTVAL + 8, True),
    "cfg-print": (KARGOPTVAL + 9, False), "atexit": (KARGOPTVAL + 10, True),
}
LONG_NAMES = {code: name for name, (code, _) in LONG_OPTIONS.items() if isinstance(code, int)}


def _takes_value(letter: str) -> bool | None:
    """None for a letter that is no option."""
    at = SHORT_OPTIONS.find(letter)
    if at < 0 or letter == ":":
        return None
    return SHORT_OPTIONS[at + 1:at + 2] == ":"


@dataclass(frozen=True)
class Token:
    """One option: `key` is its letter or long name; `error` Kamailio's message when unreadable."""

    key: str
    value: str | None = None
    error: str | None = None


def _unknown(code: str | int) -> str:
    if isinstance(code, str) and code.isprintable() and len(code) == 1:
        return f"Unknown option '-{code}'. Use -h for help."
    return f"Unknown option code '0x{code if isinstance(code, int) else 0:x}' (0). Use -h for help."


def _missing(code: str | int) -> str:
    if isinstance(code, str):
        return f"Option '-{code}' requires an argument. Use -h for help."
    return f"Option code '0x{code:x}' (0) requires an argument. Use -h for help."


def _long(arg: str, rest: list[str]) -> Token:
    name, eq, value = arg[2:].partition("=")
    matches = [n for n in LONG_OPTIONS if n == name] or [n for n in LONG_OPTIONS if n.startswith(name)]
    if len(matches) != 1 or not name:
        return Token(name, error=_unknown(0))
    full = matches[0]
    code, takes = LONG_OPTIONS[full]
    if not takes:
        return Token(full, error=_unknown(code)) if eq else Token(full)
    if eq:
        return Token(full, value)
    if rest:
        return Token(full, rest.pop(0))
    return Token(full, error=_missing(code))


def tokens(argv: list[str]) -> list[Token]:
    out: list[Token] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg.startswith("--"):
            out.append(_long(arg, rest))
        elif arg.startswith("-") and arg != "-":
            out += _short_cluster(arg[1:], rest)
        # other words are not options: getopt_long moves them to the end, Kamailio ignores them
    return out


def _short_cluster(letters: str, rest: list[str]) -> list[Token]:
    out = []
    for i, letter in enumerate(letters):
        takes = _takes_value(letter)
        if takes is None:
            out.append(Token(letter, error=_unknown(letter)))
            continue
        if not takes:
            out.append(Token(letter))
            continue
        value = letters[i + 1:]
        if value:
            out.append(Token(letter, value))
        elif rest:
            out.append(Token(letter, rest.pop(0)))
        else:
            out.append(Token(letter, error=_missing(letter)))
        break
    return out
