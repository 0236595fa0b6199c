"""The sample config printed in the msilo module's docs (tests/data/msilo-docs.txt, Example 1.33)."""
from __future__ import annotations

from pathlib import Path

SEED_DOC = Path(__file__).resolve().parents[1] / "data" / "msilo-docs.txt"
MARKER = "1.33.\u00a0Kamailio config script - sample msilo usage"  # the docs use no-break spaces


def seed_sample_config() -> str:
    """The config text between the `...` lines that follow Example 1.33's title."""
    text = SEED_DOC.read_text(encoding="utf-8")
    after = text.split(MARKER, 1)[1].split("...\n")
    return after[1]
