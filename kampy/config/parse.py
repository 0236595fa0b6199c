"""Parse a preprocessed Kamailio configuration into the AST of `kampy.config.ast`.

The grammar lives in `grammar/kamailio.lark` (LALR, contextual lexer). The Lark parser is built
once per process and cached on disk between processes. Syntax errors become `ConfigError`s that
point at the user's original file and line (through the preprocessor's line map) and say what
was expected in Kamailio words.
"""
from __future__ import annotations

import functools
import logging
import re

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, VisitError

from kampy.config import ast
from kampy.config.lark_parser import lark_parser
from kampy.config.positions import LineMap, Positions, identity_map
from kampy.config.syntax_errors import describe_error, long_strings_before
from kampy.config.to_ast import ToAst
from kampy.errors import ConfigError, Diagnostic, register_source

log = logging.getLogger(__name__)

__all__ = ["LineMap", "parse"]

# ---------------------------------------------------------------------------- the parser


def parse(text: str, filename: str = "<string>", line_map: LineMap | None = None) -> ast.Config:
    """Parse preprocessed config `text`; `line_map(output_line) -> (orig_file, orig_line)`."""
    if line_map is None:
        register_source(filename, text)
        line_map = functools.partial(identity_map, filename)
    positions = Positions(line_map)
    parser = lark_parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        diagnostics = describe_error(parser, text, exc, positions)
        diagnostics += long_strings_before(parser, text, exc.pos_in_stream, positions)
        raise ConfigError(diagnostics) from None
    if not tree.children and not _has_tokens(parser, text):
        raise ConfigError.at(positions.at(1, 1), "the config has no statement (Kamailio refuses an empty "
                                                 "config: 'syntax error')")
    bad_addresses = _bad_addresses(tree, positions)
    if bad_addresses:
        raise ConfigError(bad_addresses)
    try:
        return ToAst(positions).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConfigError):
            raise exc.orig_exc from None
        raise


def _has_tokens(parser: Lark, text: str) -> bool:
    """Whether the text holds anything but comments and blanks: a lone `;` is a statement."""
    try:
        return any(True for _ in parser.lex(text))
    except UnexpectedInput:
        return True


_DOTTED_QUAD = re.compile(r"\d+\.\d+\.\d+\.\d+")


def _bad_addresses(tree: Tree, positions: Positions) -> list[Diagnostic]:
    """cfg.y's `ipv4` and `ipnet` rules: each part of an IPv4 address at most 255, a netmask's
    bits at most the address's length."""
    found = []
    for token in tree.scan_values(lambda v: isinstance(v, Token) and v.type in ("IPV4", "NET")):
        address, _, mask = str(token).partition("/")
        quad = _DOTTED_QUAD.search(address)
        if quad and any(int(part) > 255 for part in quad.group(0).split(".")):
            found.append(Diagnostic(positions.of(token), f"invalid ipv4 address {quad.group(0)}"))
        elif mask.strip().isdigit() and int(mask) > (32 if quad else 128):
            found.append(Diagnostic(positions.of(token), f"invalid bit number in netmask: {token}"))
    return found
