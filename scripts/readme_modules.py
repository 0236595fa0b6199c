"""The README's list of modules, from the modules' own declarations: `python scripts/readme_modules.py`
rewrites the block between the markers in README.md; tests/test_readme_modules.py checks it is current.

A module is "with nothing left out" when its `EXPORTS.not_implemented` is empty; otherwise the count
of what it leaves out is given (each named, with its reason, in the module's README). "Not there yet"
names the modules the open issues ask for that have no package yet."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- modules: written by scripts/readme_modules.py -->"
END = "<!-- end of modules -->"
# what the open issues (15-19) ask for, besides what exists
WANTED = ("tls", "dispatcher", "dialog", "uac", "path", "outbound", "topoh", "sdpops", "dmq", "dmq_usrloc")


def block() -> str:
    sys.path.insert(0, str(ROOT))
    from kampy.loader import builtin_names, load_builtin

    names = builtin_names()
    gaps = {name: len(load_builtin(name).not_implemented) for name in names}
    complete = [n for n in names if not gaps[n]]
    partial = [f"{n} ({gaps[n]})" for n in names if gaps[n]]
    missing = [n for n in WANTED if n not in names]
    lines = [f"{len(names)} of Kamailio 5.6's modules are there."]
    lines += _item("With nothing left out: ", complete)
    lines += _item("With parts left out (how many, each named with its reason in the module's README): ",
                   partial)
    lines += _item("Not there yet: ", missing) if missing else []
    return "\n".join([BEGIN, *lines, END])


def _item(lead: str, names: list[str]) -> list[str]:
    text = lead + (", ".join(names) if names else "none") + "."
    return textwrap.wrap(text, 104, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)


def current() -> str:
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main() -> None:
    text = README.read_text()
    README.write_text(text.replace(current(), block()))


if __name__ == "__main__":
    main()
