"""Every core parameter kampy accepts is either read by its code or declared ignored, with a reason, in
kampy/config/core_ignored.py; never both.

"Read" is derived from the source: a parameter is read where the code of kampy/ or modules/ takes it
from the core parameters (`params["x"]`, `params.get("x")`, `core.core_params.get("x")`,
`_str(params, "x")`, `for name in ("x", "y")` / `name in ("x", ...)` in a file that reads them; a
module's own `params` are not the core's), or
where it starts a variable of the cfg framework's `core`/`tcp` group that the code reads
(`cfg.get("core", "var")`, `fw.read("core", None, "var")`). The declarations themselves and the RPC
commands that only show the configured values do not count.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from kampy.config.core import CORE_PARAMS
from kampy.config.core_ignored import IGNORED, markdown
from kampy.config.core_params import PARAM_KINDS
from kampy.runtime import cfgcore

ROOT = Path(__file__).resolve().parent.parent
DECLARATIONS = {"kampy/config/core.py", "kampy/config/core_params.py", "kampy/config/core_ignored.py",
                "kampy/config/pp_lex.py", "kampy/runtime/cfgcore.py"}
SHOW_ONLY = {("kampy/rpc_core.py", "tcp_options"), ("kampy/rpc_core.py", "core_udp4_raw_info"),
             ("kampy/rpc_dns.py", "dns_mem_info")}


def _is_params(node: ast.AST, core: bool) -> bool:
    """The core parameters: `core_params`, `x.core_params`, and in the core (not in a module, whose own
    parameters are its `params`) `params`."""
    text = ast.unparse(node)
    return text == "core_params" or text.endswith(".core_params") or (core and text == "params")


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _pattern(node: ast.AST) -> re.Pattern[str] | None:
    """A cfg variable's name: a constant, or an f-string (`f"dst_blocklist_{proto}_imask"`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.compile(re.escape(node.value) + r"\Z")
    if isinstance(node, ast.JoinedStr):
        parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values]
        return re.compile("".join(parts) + r"\Z")
    return None


def _reads_in(tree: ast.Module, rel: str, reads_params: bool,
              ) -> tuple[set[str], list[tuple[str, re.Pattern]]]:
    shown = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and (rel, f.name) in SHOW_ONLY
             for n in ast.walk(f)}
    core = rel.startswith("kampy/")
    names: set[str] = set()
    cfg_vars: list[tuple[str, re.Pattern]] = []
    for node in ast.walk(tree):
        if id(node) in shown:
            continue
        if isinstance(node, ast.Subscript) and _is_params(node.value, core):
            names.update(_strings(node.slice))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "get" and _is_params(func.value, core) \
                    and node.args:
                names.update(_strings(node.args[0]))
            elif any(_is_params(a, core) for a in node.args):
                names.update(s for a in node.args for s in _strings(a))
            if isinstance(func, ast.Attribute) and func.attr in ("get", "read") and len(node.args) >= 2 \
                    and _strings(node.args[0]) in (["core"], ["tcp"]):
                pattern = _pattern(node.args[-1])
                if pattern is not None:
                    cfg_vars.append((_strings(node.args[0])[0], pattern))
        elif reads_params and isinstance(node, ast.For):
            names.update(_strings(node.iter))
        elif reads_params and isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In):
            names.update(_strings(node.comparators[0]))
    return names, cfg_vars


def read_core_params() -> dict[str, set[str]]:
    """Each core parameter kampy's code reads -> where."""
    found: dict[str, set[str]] = {}
    cfg_reads: list[tuple[str, re.Pattern, str]] = []
    for path in sorted([*(ROOT / "kampy").rglob("*.py"), *(ROOT / "modules").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel in DECLARATIONS:
            continue
        text = path.read_text()
        names, cfg_vars = _reads_in(ast.parse(text), rel, "core_params" in text)
        for name in names & CORE_PARAMS:
            found.setdefault(name, set()).add(rel)
        cfg_reads += [(group, pattern, rel) for group, pattern in cfg_vars]
    for table, group in ((cfgcore._CORE, "core"), (cfgcore._TCP, "tcp")):
        for var, *_, params, _doc in table:
            where = {rel for g, pattern, rel in cfg_reads if g == group and pattern.match(var)}
            if var in cfgcore.ACTED_ON[group]:
                where.add("kampy/runtime/cfgcore.py (acted on)")
            for name in params if where else ():
                found.setdefault(name, set()).update(where)
    return found


READ = read_core_params()


def test_every_core_parameter_is_read_or_declared_ignored():
    neither = sorted((CORE_PARAMS | set(PARAM_KINDS)) - set(READ) - set(IGNORED))
    assert neither == [], f"read by nothing and not in kampy/config/core_ignored.py: {neither}"


def test_no_core_parameter_declared_ignored_is_read():
    both = {name: sorted(READ[name]) for name in sorted(set(IGNORED) & set(READ))}
    assert both == {}, f"declared ignored in kampy/config/core_ignored.py but read: {both}"


def test_every_declared_ignored_name_is_a_core_parameter():
    assert sorted(set(IGNORED) - CORE_PARAMS) == []


def test_the_audit_finds_a_read_of_a_parameter():
    assert READ["tcp_connection_lifetime"] == {"kampy/runtime/params.py"}
    assert "modules/tm/blst.py" in READ["use_dst_blocklist"]  # cfg.get("core", "use_dst_blocklist")
    assert "modules/tm/blst.py" in READ["dst_blocklist_udp_imask"]  # an f-string's variable


def test_the_audit_does_not_count_a_module_parameter_of_the_same_name():
    # usrloc's own `version_table` parameter is read as self.params["version_table"]
    assert "version_table" not in READ


def test_each_ignored_default_is_the_start_value_of_its_cfg_variable():
    starts = {name: default for table in (cfgcore._CORE, cfgcore._TCP)
              for _var, _lo, _hi, _flags, default, names, _doc in table for name in names}
    wrong = {n: (e.default, starts[n]) for n, e in IGNORED.items()
             if n in starts and e.default is not None and e.default != starts[n]}
    assert wrong == {}


def test_docs_core_parameters_md_lists_the_declaration_as_generated():
    text = (ROOT / "docs" / "core-parameters.md").read_text()
    generated = text.split("<!-- generated: python -m kampy.config.core_ignored -->\n")[1]
    assert generated.split("<!-- end generated -->")[0] == markdown()
