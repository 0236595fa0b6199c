"""The layers of kampy (docs/architecture.md) hold: each imports only what lies below it, and no
import cycle runs through kampy/.

Every `import` of every file counts, at the top or inside a function, except those under
`if TYPE_CHECKING:` (annotations only: nothing is imported when the code runs). `from pkg import
name` counts as importing the submodule `pkg.name` when there is one, else the package."""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KAMPY = ROOT / "kampy"

# (a package, the kampy packages it must never import)
FORBIDDEN = [
    ("kampy.sip", ("kampy.config", "kampy.runtime", "kampy.net", "kampy.testing", "kampy.cmdline",
                   "kampy.db", "kampy.api", "kampy.apis", "kampy.module", "kampy.rpc")),
    # (the compiler checks cfg variables and selects against kampy.runtime's cfg framework and select
    # table: the one way up from kampy.config, which docs/architecture.md names)
    ("kampy.config", ("kampy.net", "kampy.testing", "kampy.cmdline")),
    ("kampy.runtime", ("kampy.net", "kampy.testing", "kampy.cmdline")),
    ("kampy.db", ("kampy.runtime", "kampy.net", "kampy.testing", "kampy.cmdline")),
    ("kampy.net", ("kampy.testing", "kampy.cmdline")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in KAMPY.rglob("*.py")}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                skipped.update(id(n) for n in ast.walk(statement))
    return skipped


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = name.split(".") if MODULES[name].name == "__init__.py" else name.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    yield from subs
    if len(subs) < len(node.names):
        yield base


def imports_of(name: str) -> set[str]:
    """The kampy modules `name` imports when it runs."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    skipped = _type_checking_nodes(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for target in _targets(name, node):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(("package", "forbidden"), FORBIDDEN, ids=[p for p, _ in FORBIDDEN])
def test_a_layer_imports_nothing_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    found = sorted(f"{name} imports {target}" for name, targets in GRAPH.items() if _inside(name, package)
                   for target in targets if any(_inside(target, f) for f in forbidden))
    assert found == []


def test_no_module_imports_a_private_name_of_another() -> None:
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kampy"):
                found += [f"{name}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (each an import cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_in_kampy() -> None:
    assert strongly_connected(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_folder_of_code_is_a_package() -> None:
    # setup.cfg's `packages = find:` ships only folders with an __init__.py: without one, an installed
    # (not editable) kampy lacks the folder's code (kampy/cmdline did: `kampy` failed to start)
    folders = {p.parent for p in KAMPY.rglob("*.py")} | {p.parent for p in (ROOT / "modules").rglob("*.py")}
    assert sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file()) == []


def test_nothing_imports_the_checkouts_modules_or_grammar_by_their_folder_names() -> None:
    """modules/ and grammar/ are kampy.modules and kampy.grammar (installed, no other name exists);
    importing them as `modules` from a checkout would load every module a second time."""
    pattern = re.compile(r"^\s*(?:from|import)\s+(?:modules|grammar)\b", re.M)
    folders = ("kampy", "modules", "tests", "samples", "bench", "scripts")
    found = [str(path.relative_to(ROOT)) for folder in folders
             if (ROOT / folder).is_dir() for path in (ROOT / folder).rglob("*.py")
             if ".venv" not in path.parts and pattern.search(path.read_text(errors="replace"))]
    assert found == []
