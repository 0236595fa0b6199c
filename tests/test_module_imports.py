"""The rule of the module API: a module under `modules/` imports only `kampy.api` from kampy.

Every `import` and `from ... import` statement of every .py file is checked, wherever it is (top
level, inside a function, under `if TYPE_CHECKING:`). Relative imports within the module's own
package are fine; reaching another module's package (`modules.sl`, or `..sl` from inside `modules`)
is not: modules talk through `core.api(name)`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODULES = Path(__file__).resolve().parent.parent / "modules"
ALLOWED = {"kampy.api"}

def module_packages() -> list[Path]:
    return sorted(p for p in MODULES.iterdir() if (p / "__init__.py").is_file())


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for target in imported(node, path, package):
                if forbidden(target):
                    found.append(f"{path.relative_to(MODULES.parent)}:{node.lineno}: imports {target}")
    return found


def imported(node: ast.AST, path: Path, package: Path) -> list[str]:
    """The absolute names an import statement reaches (`None` entries for relative ones inside
    the package are left out)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level == 0:
        return [node.module or ""]
    base = path.parent
    for _ in range(node.level - 1):
        base = base.parent
    if base == package or package in base.parents:
        return []
    rel = base.relative_to(MODULES.parent).parts
    return [".".join([*rel, *(node.module or "").split(".")]).rstrip(".")]


def forbidden(name: str) -> bool:
    top = name.split(".")[0]
    if top == "kampy":
        return name not in ALLOWED
    return top == "modules"


@pytest.mark.parametrize("package", module_packages(), ids=lambda p: p.name)
def test_module_imports_only_the_public_api(package: Path) -> None:
    assert violations(package) == []


def test_the_rule_catches_what_it_should(tmp_path: Path) -> None:
    pkg = MODULES / "__rule_probe__"
    assert not pkg.exists()
    fake = tmp_path / "probe"
    fake.mkdir()
    samples = {
        "from kampy.runtime.core import Core": True,
        "import kampy.runtime.engine": True,
        "import kampy": True,
        "from kampy import api": True,
        "from modules.sl import sl": True,
        "from kampy.api import Module": False,
        "import kampy.api": False,
        "from . import impl": False,
        "import logging": False,
    }
    for text, bad in samples.items():
        node = ast.parse(text).body[0]
        names = imported(node, MODULES / "probe" / "__init__.py", MODULES / "probe")
        assert any(forbidden(n) for n in names) == bad, text


def test_relative_import_out_of_the_package_is_caught() -> None:
    node = ast.parse("from ..sl import sl").body[0]
    names = imported(node, MODULES / "probe" / "__init__.py", MODULES / "probe")
    assert names == ["modules.sl"] and forbidden(names[0])
