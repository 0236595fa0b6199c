"""Module READMEs carry the reference generated from EXPORTS, and a hand-written part.

When this fails for a module whose EXPORTS changed, run `kampy doc NAME --write`: it rewrites only
the text between `<!-- generated:begin -->` and `<!-- generated:end -->` in modules/NAME/README.md.
"""
from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kampy import docgen, loader
from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Need,
    Offer,
    Param,
    RouteType,
    RpcMethod,
    SlAPI,
    Stat,
    Timer,
)
from kampy.cli import main

REPO = Path(__file__).resolve().parent.parent
MODULES = REPO / "modules"
HELLO_DIST = REPO / "samples" / "modules" / "kampy-hello"
TUTORIAL = REPO / "docs" / "writing-modules.md"
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)\n```\n", re.S)


@pytest.mark.parametrize("name", loader.builtin_names())
def test_readme_has_the_current_generated_reference(name: str) -> None:
    path = MODULES / name / "README.md"
    assert path.is_file(), f"{path} is missing: run `kampy doc {name} --write`"
    text = path.read_text()
    exports = importlib.import_module(f"kampy.modules.{name}").EXPORTS
    assert docgen.generated_part(text) == docgen.generated_block(exports), \
        f"{path}: the reference is out of date: run `kampy doc {name} --write`"


@pytest.mark.parametrize("name", loader.builtin_names())
def test_readme_has_a_hand_written_part(name: str) -> None:
    hand = docgen.hand_written_part((MODULES / name / "README.md").read_text())
    assert hand.startswith(f"# {name}\n")
    assert "## Overview" in hand and "## Differences from Kamailio" in hand


def test_sample_module_readme_is_current() -> None:
    found = loader.find_module("hello", [str(HELLO_DIST)])
    text = (HELLO_DIST / "README.md").read_text()
    assert docgen.generated_part(text) == docgen.generated_block(found.exports)


EXAMPLE = Exports(
    name="ex",
    params=(Param("mode", (int,), 1, doc="how"), Param("url", (str,), None),
            Param("x", (str,), "a", multi=True)),
    functions=(
        Function("f", args=(Arg("a", ArgKind.INT), Arg("b", ArgKind.FMT, doc="text")), min_args=1,
                 routes=RouteType.REQUEST | RouteType.FAILURE, doc="Does f.", returns="1 or -1"),
        Function("g", handler="f", varargs=True, args=(Arg("r", ArgKind.ROUTE, route_kind="failure"),)),
    ),
    stats=(Stat("hits", doc="hit count"), Stat("total", group="core", no_reset=True)),
    rpc=(RpcMethod("ex.dump", "rpc_dump", doc="dumps"),),
    timers=(Timer("clean", "clean", interval_param="period", interval=30),),
    needs=(Need("sl", doc="replies"), Need("tm", optional=True)),
    offers=(Offer("ex", SlAPI, doc="what ex offers"),),
)


def test_reference_shape() -> None:
    text = docgen.render_reference(EXAMPLE)
    for expected in (
        "### Dependencies", "- `sl`: replies", "- `tm` (optional)",
        "### APIs offered to other modules", "- `ex` (`SlAPI`): what ex offers",
        "#### `mode` (integer)", "Default value: `1`.", 'modparam("ex", "mode", 1)',
        "Default value: not set.", "Default value: `\"a\"`. May be set several times.",
        "#### `f(a[, b])`", "- `a`: integer, or a pseudo-variable giving one",
        "- `b`: string, may hold pseudo-variables, optional. text", "Return codes: 1 or -1",
        "This function can be used from REQUEST_ROUTE, FAILURE_ROUTE.",
        "#### `g(r, ...)`", "- `r`: route name (failure)", "Same implementation as `f()`.",
        "This function can be used from ANY_ROUTE.",
        "- `ex:hits`: hit count", "- `core:total` (not reset by stats.reset_statistics)",
        "- `ex.dump`: dumps", "- `clean`: every `period` seconds (30 when unset)",
    ):
        assert expected in text, expected
    assert "### Pseudo-variables" not in text  # empty sections are left out


def test_update_keeps_the_hand_written_part() -> None:
    text = "# ex\n\nMine.\n\n" + docgen.BEGIN + "\nold\n" + docgen.END + "\n\n## Examples\n\nAlso mine.\n"
    updated = docgen.update_readme(text, EXAMPLE)
    assert updated.startswith("# ex\n\nMine.\n\n" + docgen.BEGIN)
    assert updated.endswith(docgen.END + "\n## Examples\n\nAlso mine.\n")
    assert docgen.generated_part(updated) == docgen.generated_block(EXAMPLE)
    assert docgen.update_readme(updated, EXAMPLE) == updated
    assert docgen.generated_part(docgen.update_readme("# ex\n", EXAMPLE)) == docgen.generated_block(EXAMPLE)


def test_kampy_doc_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "__init__.py").write_text(
        "from kampy.api import Exports, Function\nEXPORTS = Exports(name='ex', functions=(Function('f'),))\n")
    assert main(["doc", "ex", "-L", str(tmp_path)]) == 0
    assert "#### `f()`" in capsys.readouterr().out
    assert main(["doc", "ex", "-L", str(tmp_path), "--write"]) == 0
    readme = (tmp_path / "ex" / "README.md").read_text()
    assert readme.startswith("# ex\n") and docgen.BEGIN in readme
    assert main(["doc", "ex", "-L", str(tmp_path), "--write"]) == 0
    assert capsys.readouterr().out.endswith("up to date\n")
    assert main(["doc", "nosuch"]) == 1
    assert "module 'nosuch' not found" in capsys.readouterr().err


def test_tutorial_shows_the_sample_module_files_as_they_are() -> None:
    blocks = FILE_BLOCK.findall(TUTORIAL.read_text())
    shown_files = {path.removeprefix("samples/modules/kampy-hello/") for path, _ in blocks}
    assert shown_files >= {"kampy_hello/__init__.py", "kampy_hello/hello.py", "tests/hello.cfg",
                           "tests/test_hello.py", "pyproject.toml"}
    for path, shown in blocks:
        assert shown == (REPO / path).read_text().rstrip("\n"), f"docs/writing-modules.md shows an old {path}"


def test_the_sample_module_tests_pass_with_the_pytest_plugin() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(HELLO_DIST / "tests")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
