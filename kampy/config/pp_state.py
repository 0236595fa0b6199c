"""What the preprocessor's scan and its directives share: reading a config file, a define's entry,
an open #!if* block and the file being scanned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kampy.config.ast import Pos
from kampy.errors import ConfigError


def normalize_source(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


def read_source(path: Path, pos: Pos | None, shown: str) -> str:
    try:
        return normalize_source(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        message = f"cannot read config file {shown}: {exc.strerror or exc}"
        if pos is None:
            raise ConfigError.at(Pos(shown, 0, 0), message) from exc
        raise ConfigError.at(pos, message) from exc


@dataclass
class Define:
    value: str | None
    pos: Pos | None  # None: from the command line or the core
    dtype: int = 0   # Kamailio's define type: 0 #!define, 1 #!trydef, 2 #!redefine (core.ppdefines_full)

    def where(self) -> str:
        return f"at {self.pos.file}:{self.pos.line}" if self.pos else "on the command line"


@dataclass
class Cond:
    active: bool
    pos: Pos
    directive: str


@dataclass
class Ctx:
    """One file being scanned.  Expanding a define splices its value in front of the rest of
    `text`; the first `virtual_end` characters are then not from the file."""

    name: str
    text: str
    base_dir: Path | None
    pos: int = 0
    line: int = 1
    virtual_end: int = 0
    nesting: int = 0

    def at(self, index: int) -> Pos:
        start = self.text.rfind("\n", 0, index) + 1
        return Pos(self.name, self.line, index - start + 1)

