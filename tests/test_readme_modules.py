"""The README's list of modules is the modules' own declarations (scripts/readme_modules.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "readme_modules.py"


def load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("readme_modules", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_lists_every_module_with_the_count_of_what_it_leaves_out() -> None:
    script = load_script()
    assert script.current() == script.block(), "run: python scripts/readme_modules.py"
