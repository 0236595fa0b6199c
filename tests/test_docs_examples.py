"""Every Python example of docs/testing-your-cfg.md and docs/writing-modules.md runs, and passes,
as a reader would run it.

testing-your-cfg.md: the examples are written as one user's test file next to Debian's stock
kamailio.cfg (the first example makes the `sip` fixture the others use): the blocks that define
tests are put in that file in order; a block that is a fragment (`sip.send(...)`, `sip =
kampy_cfg(...)`, a script) becomes a test of its own with the `sip` and `kampy_cfg` fixtures, run
where `kamailio.cfg` is.

writing-modules.md: each block is a file, marked before it (`<!-- file: samples/modules/kampy-hello/
kampy_hello/hello.py -->` for the sample module's, `<!-- example: counter.py -->` for the others);
they are written out as the page shows them, into one folder that is the module's distribution
and the `loadpath` of its tests, and the tests among them run.
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
MODULES_DOC = REPO / "docs" / "writing-modules.md"
SAMPLE = "samples/modules/kampy-hello/"
PLACED = re.compile(r"^<!-- (file|example): (\S+) -->\n```\w*\n(.*?)^```", re.S | re.M)
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


def test_the_examples_of_writing_modules_run_and_pass(pytester: pytest.Pytester) -> None:
    text = MODULES_DOC.read_text()
    placed = PLACED.findall(text)
    python = [body for _, path, body in placed if path.endswith(".py")]
    assert len(python) == len(python_blocks(MODULES_DOC)), \
        "each Python block of writing-modules.md says which file it is (<!-- file: --> or <!-- example: -->)"
    tests = 0
    for kind, path, body in placed:
        target = pytester.path / (path.removeprefix(SAMPLE) if kind == "file" else path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
        if target.name.startswith("test_") and target.suffix == ".py":
            tests += len(re.findall(r"^def test_", body, re.M))
    assert tests, "writing-modules.md shows no tests"

    outcome = pytester.runpytest("-p", "no:cacheprovider", str(pytester.path))

    outcome.assert_outcomes(passed=tests)
