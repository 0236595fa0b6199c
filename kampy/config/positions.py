"""Where a node of the parse tree was in the user's files: the preprocessor's line map applied to
Lark's line and column."""
from __future__ import annotations

from collections.abc import Callable

from lark import Token, Tree

from kampy.config import ast

LineMap = Callable[[int], tuple[str, int]]


def identity_map(filename: str, line: int) -> tuple[str, int]:
    return filename, line


class Positions:
    def __init__(self, line_map: LineMap):
        self._line_map = line_map

    def at(self, line: int | None, col: int | None) -> ast.Pos:
        if line is None:
            return ast.NOWHERE
        file, orig = self._line_map(line)
        return ast.Pos(file, orig, col or 1)

    def of(self, item: Token | Tree | object) -> ast.Pos:
        if isinstance(item, Token):
            return self.at(item.line, item.column)
        meta = getattr(item, "meta", None)
        if meta is not None and not meta.empty:
            return self.at(meta.line, meta.column)
        return ast.NOWHERE
