"""Every Python example of docs/testing-your-cfg.md runs, and passes, as a reader would run it.

The examples are written as one user's test file next to Debian's stock kamailio.cfg (the first
example makes the `sip` fixture the others use): the blocks that define tests are put in that file
in order; a block that is a fragment (`sip.send(...)`, `sip = kampy_cfg(...)`, a script) becomes a
test of its own with the `sip` and `kampy_cfg` fixtures, run where `kamailio.cfg` is.
"""
from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
TESTING_DOC = REPO / "docs" / "testing-your-cfg.md"
STOCK = REPO / "tests" / "data" / "kamailio-stock.cfg"


def python_blocks(doc: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", doc.read_text(), re.S | re.M)


def as_test_file(blocks: list[str]) -> tuple[str, int]:
    """The user's test file made of the examples, and how many tests it holds."""
    parts, count = [], 0
    for number, block in enumerate(blocks, 1):
        tests = len(re.findall(r"^def test_", block, re.M))
        if tests:
            parts.append(block)
            count += tests
        else:
            parts.append(f"def test_example_{number}(sip, kampy_cfg):\n" + textwrap.indent(block, "    "))
            count += 1
    return "\n\n".join(parts), count


def test_the_examples_of_testing_your_cfg_run_and_pass(pytester: pytest.Pytester) -> None:
    blocks = python_blocks(TESTING_DOC)
    assert len(blocks) >= 8, "the document's examples were not found"
    source, count = as_test_file(blocks)
    shutil.copyfile(STOCK, pytester.path / "kamailio.cfg")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_kamailio_cfg.py").write_text(source)

    outcome = pytester.runpytest("-p", "no:cacheprovider", "tests")

    outcome.assert_outcomes(passed=count)


def test_every_block_becomes_a_test() -> None:
    blocks = ["def test_a(sip):\n    pass\n", "sip.send('x')\n"]
    source, count = as_test_file(blocks)
    assert count == 2 and "def test_example_2(sip, kampy_cfg):\n    sip.send('x')" in source
