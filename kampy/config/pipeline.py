"""The whole front-end in one call: cfg text -> preprocessor -> Lark parse -> AST -> compile."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kampy.config.ast import Config
from kampy.config.compile import CompiledConfig, compile_config
from kampy.config.parse import parse
from kampy.config.preprocess import Preprocessed, preprocess_file, preprocess_text


def parse_preprocessed(pp: Preprocessed, filename: str) -> Config:
    return parse(pp.text, filename, pp.origin)


def load_file(path: str | Path, defines: Mapping[str, str | None] | None = None, *,
              resolve: bool = True) -> CompiledConfig:
    """Read, preprocess, parse and resolve a config file. Raises ConfigError."""
    pp = preprocess_file(path, defines)
    return _with_warnings(pp, compile_config(parse_preprocessed(pp, str(path)), resolve=resolve))


def load_text(text: str, filename: str = "<string>", defines: Mapping[str, str | None] | None = None,
              *, resolve: bool = True) -> CompiledConfig:
    pp = preprocess_text(text, filename, defines)
    return _with_warnings(pp, compile_config(parse_preprocessed(pp, filename), resolve=resolve))


def _with_warnings(pp: Preprocessed, compiled: CompiledConfig) -> CompiledConfig:
    """The preprocessor's warnings come first, in file order, as they were found."""
    compiled.warnings[:0] = pp.warnings
    compiled.ppdefines = pp.ppdefines
    return compiled
