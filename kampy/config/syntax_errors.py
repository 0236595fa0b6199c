"""Syntax errors of the config in Kamailio words: what was expected where, with the context of the
statement, and a note on a string that runs over lines (a missing quote shows only far below it)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from collections.abc import Iterable

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from kampy.config.lark_parser import lark_parser
from kampy.config.positions import Positions
from kampy.errors import Diagnostic


def long_strings_before(parser: Lark, text: str, end: int | None, positions: Positions) -> list[Diagnostic]:
    """A note on the first string before a syntax error that spans lines: strings may, so a
    missing quote shows only where the quotes stop pairing up, often far below it."""
    try:
        for token in parser.lex(text[:end] if end is not None else text):
            if token.type == "DQSTRING" and "\n" in token and token.end_line is not None:
                lines = token.end_line - token.line + 1
                return [Diagnostic(positions.of(token), f"this string runs over {lines} lines: is its "
                                                        "closing quote missing?", "note")]
    except UnexpectedInput:
        pass
    return []


# What the regexp terminals are called in an error message (keywords are shown quoted).
_TERMINAL_WORDS = {
    "ID": "a name", "NUMBER": "a number", "DQSTRING": "a string", "SQSTRING": "a string",
    "PVAR": "a pseudo-variable", "SELECT": "a select (@...)", "HOST": "a host name",
    "IPV4": "an IPv4 address", "IPV6": "an IPv6 address", "NET": "a network address",
    "CFG_VAR_NAME": "a config variable (group.name)", "EVENT_NAME": "an event name (module:event)",
    "MSG_LEN": "'msg:len'", "URI_HOST": "'uri:host'", "URI_PORT": "'uri:port'", "CAST": "'(int)'",
    "$END": "the end of the file",
}
_CLOSERS = {")", "}", ";", ",", ":", "]"}
# words that only start top-level items
_TOP_WORDS = {"route", "request_route", "failure_route", "onreply_route", "reply_route", "branch_route",
              "onsend_route", "event_route", "loadmodule", "loadmodulex", "loadpath", "mpath"}


@dataclass(frozen=True)
class _Terminals:
    """Terminal names grouped for error messages, taken from the grammar itself."""

    literal: dict[str, str]  # terminal name -> its text, for keywords and punctuation
    by_rule: dict[str, frozenset[str]]  # rule name -> the terminals its alternatives start with

    def group(self, *rules: str) -> frozenset[str]:
        return frozenset().union(*(self.by_rule.get(r, frozenset()) for r in rules))

    def named(self, *texts: str) -> frozenset[str]:
        return frozenset(n for n, t in self.literal.items() if t in texts)


@functools.lru_cache(maxsize=1)
def _terminals() -> _Terminals:
    parser = lark_parser()
    literal = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
    by_rule: dict[str, set[str]] = {}
    for rule in parser.rules:
        if rule.expansion and rule.expansion[0].is_term:
            by_rule.setdefault(rule.origin.name, set()).add(rule.expansion[0].name)
    return _Terminals(literal, {k: frozenset(v) for k, v in by_rule.items()})


def _readable_expected(expected: Iterable[str]) -> str:
    """Turn a set of terminal names into words: 'a statement or '}'', 'an expression'..."""
    t = _terminals()
    names = set(expected)
    words: list[str] = []
    top = t.group("route_kind") | {"CORE_PARAM"} | t.named(
        "loadmodule", "loadmodulex", "modparam", "modparamx", "loadpath", "mpath", "listen", "alias",
        "event_route", "flags", "bool", "avpflags", "cfgengine")
    if t.named("loadmodule") <= names:
        words.append("a core parameter, loadmodule, modparam or a route block")
        names -= top | {"ID", "CFG_VAR_NAME", "$END"} | t.named(";")
    statement = t.group("noparen_action") | t.named(
        "if", "switch", "while", "return", "exit", "drop", "break", "route", ";") | {"ID", "PVAR"}
    if t.named("if") <= names:
        words.append("a statement")
        names -= statement
    if {"NUMBER", "PVAR"} <= names:
        words.append("a value or an expression")
        names = {n for n in names if t.literal.get(n) in _CLOSERS}
    operators = t.group("eq_op", "rel_op", "add_op", "mul_op") | t.named(
        "||", "or", "&&", "and", "|", "&", "^", "<<", ">>")
    if len(names & operators) > 3:
        words.append("an operator")
        names -= operators
    known = [n for n in names if n in t.literal or n in _TERMINAL_WORDS]
    for name in sorted(known, key=lambda n: (n not in t.literal, t.literal.get(n, n))):
        words.append(f"'{t.literal[name]}'" if name in t.literal else _TERMINAL_WORDS[name])
    words = list(dict.fromkeys(words))
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _expected(exc: UnexpectedInput) -> set[str]:
    """Terminals the parser could take at the error (also when the lexer raised it)."""
    state = getattr(exc, "state", None)
    if state is not None and hasattr(state, "parse_conf"):
        return set(state.parse_conf.parse_table.states[state.position].keys())
    return set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    text = str(token)
    if token.type in ("DQSTRING", "SQSTRING"):
        return f"string {text if len(text) < 30 else text[:27] + '...'}"
    if token.type == "NUMBER":
        return f"number {text}"
    if token.type in ("ID", "HOST") and text not in _TOP_WORDS:
        return f"name '{text}'"
    return f"'{text}'"


@dataclass
class _Context:
    """What a step-by-step re-parse learnt up to the error: open braces and the last token."""

    open_braces: list[Token]
    last: Token | None
    before_last: Token | None
    accepts: set[str]  # terminals the parser could really take at the error


def _context_at_error(parser: Lark, text: str) -> _Context:
    """Re-parse step by step up to the error (only on the error path) to learn the context."""
    interactive = parser.parse_interactive(text)
    braces: list[Token] = []
    last: Token | None = None
    before_last: Token | None = None
    pending: Token | None = None  # yielded by the lexer, fed to the parser on the next step

    def accept(token: Token) -> None:
        nonlocal last, before_last
        if token.type == "LBRACE":
            braces.append(token)
        elif token.type == "RBRACE" and braces:
            braces.pop()
        before_last, last = last, token

    try:
        for token in interactive.iter_parse():
            if pending is not None:
                accept(pending)
            pending = token
        if pending is not None:  # the text ran out: the error is at its end
            accept(pending)
    except UnexpectedToken as exc:
        if pending is not None and (exc.token.type == "$END" or exc.token.start_pos != pending.start_pos):
            accept(pending)  # the parser took it; the lexer then met a token it cannot take
    except UnexpectedInput:
        if pending is not None:
            accept(pending)
    try:
        accepts = set(interactive.accepts())
    except UnexpectedInput:
        accepts = set()
    return _Context(braces, last, before_last, accepts)


def describe_error(parser: Lark, text: str, exc: UnexpectedInput, positions: Positions) -> list[Diagnostic]:
    context = _context_at_error(parser, text)
    if isinstance(exc, UnexpectedCharacters):
        return [_lexer_error(text, exc, context, positions)]
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _eof_error(exc, context, positions)
    assert isinstance(exc, UnexpectedToken)
    start = exc.token.start_pos
    if start is not None and text.startswith("/*", start):
        return [Diagnostic(positions.of(exc.token), "unterminated comment — the closing '*/' is missing")]
    last = context.last
    if exc.token.type == "LPAR" and last is not None and last.type == "PVAR" and last.end_pos == start:
        return [Diagnostic(positions.of(last), f"malformed pseudo-variable '{last}(' — its parentheses "
                                               "are not balanced on this line")]
    return _token_error(exc, context, positions)


def _eof_error(exc: UnexpectedInput, context: _Context, positions: Positions) -> list[Diagnostic]:
    if context.open_braces:
        brace = positions.of(context.open_braces[-1])
        message = f"unclosed '{{' opened at line {brace.line} — the file ends before its '}}'"
        return [Diagnostic(brace, message)]
    last = context.last
    where = positions.at(_end_line(last), _end_col(last)) if last is not None else positions.at(1, 1)
    expected = context.accepts or _expected(exc)
    return [Diagnostic(where, f"unexpected end of file — expected {_readable_expected(expected)}")]


def _token_error(exc: UnexpectedToken, context: _Context, positions: Positions) -> list[Diagnostic]:
    token, expected, last = exc.token, context.accepts or _expected(exc), context.last
    pos = positions.of(token)
    top_level = _terminals().group("route_kind") | {"CORE_PARAM"} | _terminals().named(
        "loadmodule", "loadmodulex", "modparam", "modparamx", "event_route")
    # `failure_route[X] {` or `loadmodule "x"` where a statement was expected: the route block
    # before it is not closed (inside a block those words are read as names or `route(`)
    if last is not None and str(last) in _TOP_WORDS and token.type in ("LSQB", "LBRACE", "DQSTRING"):
        token, pos = last, positions.of(last)
    if context.open_braces and (token.type in top_level or str(token) in _TOP_WORDS):
        brace = positions.of(context.open_braces[-1])
        return [
            Diagnostic(brace, f"unclosed '{{' opened at line {brace.line} — "
                              f"{_describe_token(token)} at line {pos.line} is still inside it"),
            Diagnostic(pos, f"unexpected {_describe_token(token)} — expected a statement or '}}'"),
        ]
    if token.type == "RBRACE" and not context.open_braces:
        return [Diagnostic(pos, "unexpected '}' — there is no open '{' for it to close")]
    # a statement that runs into the next line: the ';' is missing at the end of the previous one
    if ("SEMICOLON" in expected and "IF" not in expected and last is not None and context.open_braces
            and last.type not in ("LBRACE", "RBRACE", "SEMICOLON") and token.line != _end_line(last)):
        end = positions.at(_end_line(last), _end_col(last))
        return [Diagnostic(end, f"missing ';' after {_describe_token(last)} "
                                f"(before {_describe_token(token)} at line {pos.line})")]
    if expected == {"LPAR"} and last is not None and last.type == "ID":
        before = context.before_last
        if before is None or before.type in ("SEMICOLON", "LBRACE", "RBRACE", "COLON", "ELSE"):
            return [Diagnostic(pos, f"'{last}' needs parentheses: write {last}();")]
        return [Diagnostic(positions.of(last), f"'{last}' is not a value: write \"{last}\" for a string, "
                                               f"{last}() for a function call, or #!define {last}")]
    return [Diagnostic(pos, f"unexpected {_describe_token(token)} — expected {_readable_expected(expected)}")]


def _end_line(token: Token) -> int:
    return token.end_line if token.end_line is not None else token.line


def _end_col(token: Token) -> int:
    return token.end_column if token.end_column is not None else token.column


def _lexer_error(text: str, exc: UnexpectedCharacters, context: _Context,
                 positions: Positions) -> Diagnostic:
    pos = positions.at(exc.line, exc.column)
    rest = text[exc.pos_in_stream:exc.pos_in_stream + 2]
    if rest.startswith('"'):
        return Diagnostic(pos, "unterminated string — the closing '\"' is missing")
    if rest.startswith("'"):
        return Diagnostic(pos, "unterminated string — the closing \"'\" is missing")
    if rest == "/*":
        return Diagnostic(pos, "unterminated comment — the closing '*/' is missing")
    if rest.startswith("$"):
        return Diagnostic(pos, "malformed pseudo-variable — expected $name, $name(...) or $(...) "
                               "with balanced parentheses on one line")
    expected = context.accepts or _expected(exc)
    return Diagnostic(pos, f"unexpected character '{rest[:1]}' — expected {_readable_expected(expected)}")
