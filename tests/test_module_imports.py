"""The rule of the module API: a module under `modules/` imports only `kampy.api` from kampy, and
reaches the core only through the members `CoreAPI` declares.

Every `import` and `from ... import` statement of every .py file is checked, wherever it is (top
level, inside a function, under `if TYPE_CHECKING:`). Relative imports within the module's own
package are fine; reaching another module's package (`modules.sl`, or `..sl` from inside `modules`)
is not: modules talk through the APIs they declare (`core.api(name)`). Nor may a module look
attributes up on the core by name (`getattr(core, ...)`) or walk the loaded modules
(`core.modules`).
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
    return [".".join(["kampy", *rel, *(node.module or "").split(".")]).rstrip(".")]


def forbidden(name: str) -> bool:
    top = name.split(".")[0]
    if top == "kampy":
        return name not in ALLOWED
    return top == "modules"  # the checkout's name of kampy.modules


def core_reaches(package: Path) -> list[str]:
    """`getattr(<...core>, ...)`, `hasattr(<...core>, ...)` and `<...core>.modules` anywhere."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if reaches_around_the_core(node):
                found.append(f"{path.relative_to(MODULES.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


def reaches_around_the_core(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
        return node.func.id in ("getattr", "hasattr", "setattr") and names_the_core(node.args[0])
    return (isinstance(node, ast.Attribute) and node.attr in ("modules", "offers")
            and names_the_core(node.value))


def names_the_core(node: ast.AST) -> bool:
    """`core`, `self.core`, `ctx.core`, `self._core` ..."""
    if isinstance(node, ast.Name):
        return node.id.strip("_") == "core"
    return isinstance(node, ast.Attribute) and node.attr.strip("_") == "core"


@pytest.mark.parametrize("package", module_packages(), ids=lambda p: p.name)
def test_module_imports_only_the_public_api(package: Path) -> None:
    assert violations(package) == []


@pytest.mark.parametrize("package", module_packages(), ids=lambda p: p.name)
def test_module_reaches_the_core_only_through_its_declared_members(package: Path) -> None:
    assert core_reaches(package) == []


@pytest.mark.parametrize(("text", "bad"), [
    ('getattr(self.core, "pv", None)', True),
    ('hasattr(ctx.core, "tracer")', True),
    ('self.core.modules.get("sl")', True),
    ('core.modules["tm"]', True),
    ('self._core.offers', True),
    ('self.core.api("sl")', False),
    ('getattr(self, "handler")', False),
    ('ctx.core.clock.time()', False),
    ('self.modules', False),
])
def test_the_core_rule_catches_what_it_should(text: str, bad: bool) -> None:
    assert any(reaches_around_the_core(n) for n in ast.walk(ast.parse(text))) == bad


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
        "from kampy.modules.sl import sl": True,
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
    assert names == ["kampy.modules.sl"] and forbidden(names[0])
