"""Errors the user caused: values with a position and clear words, printed as `file:line:col: ...`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kampy.config.ast import Pos

_sources: dict[str, list[str]] = {}


def register_source(name: str, text: str) -> None:
    """Remember the text of a config that does not live on disk (a string, stdin) for excerpts."""
    _sources[name] = text.splitlines()


def source_line(file: str, line: int) -> str | None:
    lines = _sources.get(file)
    if lines is None:
        try:
            lines = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        _sources[file] = lines
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None


@dataclass(frozen=True)
class Diagnostic:
    pos: Pos
    message: str
    severity: str = "error"

    def format(self) -> str:
        head = f"{self.pos}: {self.severity}: {self.message}"
        text = source_line(self.pos.file, self.pos.line)
        if text is None:
            return head
        col = max(self.pos.col, 1)
        marker = "".join(c if c == "\t" else " " for c in text[: col - 1]) + "^"
        return f"{head}\n    {text}\n    {marker}"


class ConfigError(Exception):
    """One or more user errors in a config; `diagnostics` holds every one found."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @classmethod
    def at(cls, pos: Pos, message: str) -> ConfigError:
        return cls(Diagnostic(pos, message))
