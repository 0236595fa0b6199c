"""The Lark parser of grammar/kamailio.lark (LALR, contextual lexer), built once per process and
cached on disk between processes (a new grammar replaces the older caches)."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
from importlib import resources
from pathlib import Path

from lark import Lark

log = logging.getLogger("kampy.config.parse")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kampy"


@functools.lru_cache(maxsize=1)
def lark_parser() -> Lark:
    text = resources.files("kampy.grammar").joinpath("kamailio.lark").read_text(encoding="utf-8")
    options = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)
    cache: str | bool = False
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    try:
        directory = _cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        if os.access(directory, os.W_OK):
            path = directory / f"kamailio-grammar-{digest}.lark-cache"
            if not path.exists():  # a new grammar: forget the parsers built from older ones
                for old in directory.glob("kamailio-grammar-*.lark-cache"):
                    old.unlink(missing_ok=True)
            cache = str(path)
    except OSError as exc:  # no home, read-only file system...: build the parser every time
        log.debug("no parser cache: %s", exc)
    return Lark(text, cache=cache, **options)
