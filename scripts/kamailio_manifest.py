#!/usr/bin/env python3
"""Extract what each Kamailio module offers to a config from Kamailio's source tree, as JSON data.

    scripts/kamailio_manifest.py SRC [--out DIR] [--module NAME]... [--check-so DIR]

SRC is a Kamailio source tree (its git tag is recorded). For each module under src/modules/<name>
it writes DIR/<name>.json (default: tests/data/kamailio-modules), and core.json for the core; the
README.md of DIR says what each field means. Items come from the C export tables of the module that
Kamailio loads (`struct module_exports exports`): `param_export_t`, `cmd_export_t`, `pv_export_t`,
`rpc_export_t`, `stat_export_t`, `tr_export_t` (those registered in code too), and from the module's
doc/*.xml for what the tables cannot say (statistics registered in code, event route names).
`--check-so DIR` compares the function, parameter, RPC and PV tables with the module binaries of
a Kamailio build instead of writing anything (see kamailio_manifest_elf.py).
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from kamailio_csource import (SourceFiles, Table, base_macros, evaluate, expand, first_string, identifiers,
                              integer_constants, is_null, read_folder, strip_comments)
from kamailio_manifest_docs import DocFacts, read_docs

log = logging.getLogger("kamailio_manifest")
REPO = Path(__file__).resolve().parent.parent

ROUTE_BITS = {
    "REQUEST_ROUTE": 1 << 0, "FAILURE_ROUTE": 1 << 1, "TM_ONREPLY_ROUTE": 1 << 2, "BRANCH_ROUTE": 1 << 3,
    "ONSEND_ROUTE": 1 << 4, "ERROR_ROUTE": 1 << 5, "LOCAL_ROUTE": 1 << 6, "CORE_ONREPLY_ROUTE": 1 << 7,
    "BRANCH_FAILURE_ROUTE": 1 << 8, "ONEVENT_ROUTE": 1 << 9,
}
ANY_ROUTE = 0xFFFFFFFF
VAR_PARAM_NO = -128
PARAM_STRING, PARAM_INT, PARAM_STR, PARAM_USE_FUNC = 1, 2, 4, 1 << 31
STAT_NO_RESET = 1
# cmd exports that are API hooks for other modules (find_export("bind_xxx")), not config functions:
# bind_*/*_bind*, and load_* without arguments (load_gws(id) and avp_db_load(...) are config functions)
BIND_HOOK = re.compile(r"bind_\w+|\w+_bind(_\w+)?")
LOAD_HOOK = re.compile(r"load_\w+")
EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_.-]*(:[a-z0-9_.<>-]*)?:?")
DOC_TYPE_WORDS = {"int": ["INT"], "integer": ["INT"], "str": ["STR"], "string": ["STR"]}
NOT_EVENT = ("sip:", "sips:", "tel:", "http:", "https:", "mysql:", "postgres:", "redis:", "file:", "urn:")


# ------------------------------------------------------------------ the export tables read


def route_names(flags: int) -> list[str]:
    if flags == ANY_ROUTE:
        return ["ANY_ROUTE"]
    return [name for name, bit in ROUTE_BITS.items() if flags & bit]


def api_hook(name: str, count: int) -> bool:
    return bool(BIND_HOOK.fullmatch(name) or (count == 0 and LOAD_HOOK.fullmatch(name)))


def read_functions(table: Table | None, consts: dict[str, int], module: str) -> tuple[list[dict], list[str]]:
    """Config functions with one variant per exported argument count, and the names a config cannot
    call (route flags 0, API hooks)."""
    functions: dict[str, dict] = {}
    not_callable: list[str] = []
    for entry in table.entries if table else []:
        name = first_string(entry[0]) if entry else None
        if not name or len(entry) < 6:
            continue
        count, flags = evaluate(entry[2], consts), evaluate(entry[5], consts)
        if count is None or flags is None:
            raise ValueError(f"{module}: function {name}: cannot read its argument count or flags")
        if flags == 0 or api_hook(name, count):
            not_callable.append(name)
            continue
        flags &= ANY_ROUTE
        variant = {"args": "var" if count == VAR_PARAM_NO else count, "flags": flags,
                   "routes": route_names(flags)}
        functions.setdefault(name, {"name": name, "variants": []})["variants"].append(variant)
    return list(functions.values()), sorted(set(not_callable))


def read_params(table: Table | None, consts: dict[str, int], module: str) -> list[dict]:
    params: dict[str, dict] = {}
    for entry in table.entries if table else []:
        name = first_string(entry[0]) if entry else None
        if not name:
            continue
        ptype = evaluate(entry[1], consts)
        if ptype is None:
            raise ValueError(f"{module}: param {name}: cannot read its type")
        types = {"STR"} if ptype & (PARAM_STR | PARAM_STRING) else set()
        types |= {"INT"} if ptype & PARAM_INT else set()
        p = params.setdefault(name, {"name": name, "types": [], "use_func": False})
        p["types"] = sorted(set(p["types"]) | types)
        p["use_func"] = p["use_func"] or bool(ptype & PARAM_USE_FUNC)
    return list(params.values())


def read_pvars(tables: list[Table]) -> list[dict]:
    pvars: dict[str, dict] = {}
    for table in tables:
        for entry in table.entries:
            name = first_string(entry[0]) if entry else None
            if not name or name in pvars:
                continue
            setf, parse_name, parse_index = (entry + [[], [], [], [], [], []])[3:6]
            pvars[name] = {"name": name, "writable": not is_null(setf), "takes_name": not is_null(parse_name),
                           "takes_index": not is_null(parse_index)}
    return sorted(pvars.values(), key=lambda p: p["name"])


def read_names(tables: list[Table]) -> list[str]:
    names: list[str] = []
    for table in tables:
        for entry in table.entries:
            name = first_string(entry[0]) if entry else None
            if name and name not in names:
                names.append(name)
    return names


def read_stats(source: SourceFiles, tables: list[Table], consts: dict[str, int], docs: DocFacts,
               module: str) -> list[dict]:
    """Statistics with their group (`register_module_stats("core", core_stats)`; the module's name
    by default) and those the docs list that the module registers in code; a statistic registered
    per domain (`build_stat_name(domain, "users")`) is named `<domain>-users`."""
    groups = stat_groups(source, module)
    stats: dict[tuple[str, str], dict] = {}
    for table in tables:
        group = groups.get(table.name, module)
        for entry in table.entries:
            name = first_string(entry[0]) if entry else None
            if name and (group, name) not in stats:
                flags = (evaluate(entry[1], consts) if len(entry) > 1 else 0) or 0
                stats[(group, name)] = {"name": name, "group": group, "no_reset": bool(flags & STAT_NO_RESET),
                                        "source": "stat_export_t"}
    text = "\n".join(source.texts.values())
    for name in docs.stats:
        registered_as = re.search(r'(register_stat2?|build_stat_name)\s*\([^;]*?"' + re.escape(name) + '"',
                                  text)
        if any(s["name"] == name for s in stats.values()) or not registered_as:
            continue  # listed already, or a name the docs give that the code never registers
        if registered_as.group(1) == "build_stat_name":
            name = f"<domain>-{name}"
        stats.setdefault((module, name), {"name": name, "group": module, "no_reset": False, "source": "docs"})
    return list(stats.values())


def stat_groups(source: SourceFiles, module: str) -> dict[str, str]:
    """Table name -> the group it is registered in."""
    groups = {}
    for text in source.texts.values():
        for m in re.finditer(r'register_module_stats\s*\(\s*(?:"([^"]*)"|[\w.>-]+)\s*,\s*&?(\w+)\s*\)', text):
            groups[m.group(2)] = m.group(1) or module
    return groups


def read_transforms(source: SourceFiles, tables: list[Table]) -> list[dict]:
    """Transformation classes with the names their parse function compares against."""
    classes = []
    for table in tables:
        for entry in table.entries:
            name = first_string(entry[0]) if entry else None
            if name:
                parser = identifiers(entry[1:])
                body = source.function_body(parser[0] if parser else "")
                names = re.findall(r"str(?:n)?(?:case)?cmp\s*\(\s*\w+(?:\.|->)s\s*,\s*\"([^\"]+)\"", body)
                classes.append({"name": name, "names": sorted(set(names))})
    return classes


# ------------------------------------------------------------------ event routes


def event_route_literals(source: SourceFiles) -> tuple[set[str], set[str]]:
    """(names looked up in event_rt directly, every literal of the source shaped like an event name)."""
    direct: set[str] = set()
    shaped: set[str] = set()
    for tokens in source.tokens.values():
        toks = expand(tokens, source.macros)
        for i, tok in enumerate(toks):
            if tok.kind != "str":
                continue
            value = tok.string
            if EVENT_NAME.fullmatch(value) and not value.startswith(NOT_EVENT):
                shaped.add(value)
                before = [t.text for t in toks[max(0, i - 5):i]]
                if "event_rt" in before and ("route_lookup" in before or "route_get" in before):
                    direct.add(value)
    return direct, shaped


def read_event_routes(source: SourceFiles, docs: DocFacts) -> list[dict]:
    """Event routes the module runs: a literal looked up in event_rt, or a literal of the source that
    is a name the docs give (or its prefix, for names the module completes, as htable:expired:<table>)."""
    direct, shaped = event_route_literals(source)
    found: dict[str, dict] = {name: {"name": name, "source": "route_lookup"} for name in sorted(direct)}
    for literal in sorted(shaped):
        if literal in docs.event_routes:
            source = "route_lookup+docs" if literal in direct else "literal+docs"
            found[literal] = {"name": literal, "source": source}
            continue
        stem = literal if literal.endswith(":") else literal + ":"
        completed = [d for d in docs.event_routes if d.startswith(stem) and d != stem]
        if completed:
            # a name the module completes at run time: the docs' placeholder (<table>) or <name>
            placeholder = [d for d in completed if "<" in d]
            name = placeholder[0] if placeholder else stem + "<name>"
            found.pop(literal, None)
            found[name] = {"name": name, "source": "literal+docs"}
    return sorted(found.values(), key=lambda e: e["name"])


# ------------------------------------------------------------------ one module


def module_exports(source: SourceFiles) -> tuple[str, list[Any]] | None:
    """(file, fields) of the `struct module_exports` Kamailio loads: `exports` (tm and sl name it
    tm_exports/sl_exports when built in), not the km_/kam_ compatibility ones."""
    found = source.struct_initializers("module_exports")
    chosen = ([f for f in found if f[0] == "exports"] or
              [f for f in found if not f[0].startswith(("km_", "kam_"))])
    return (chosen[0][1], chosen[0][2]) if chosen else None


def manifest_of(module_dir: Path, base: dict[str, str]) -> dict[str, Any] | None:
    source = read_folder(module_dir, base)
    found = module_exports(source)
    if found is None:
        return None
    exports_file, fields = found
    name = first_string(fields[0]) or module_dir.name
    consts = integer_constants(source.macros)
    consts.update(ROUTE_BITS)
    consts.update({"ANY_ROUTE": ANY_ROUTE, "VAR_PARAM_NO": VAR_PARAM_NO})
    docs = read_docs(module_dir)

    def exported(index: int, kind: str) -> Table | None:
        ident = identifiers(fields[index]) if index < len(fields) else []
        return source.table_named(kind, ident[-1], exports_file) if ident else None

    def registered(kind: str, index: int | None = None) -> list[Table]:
        """The table named in the exports (if any) and every other table of the kind that is used."""
        tables = [t for t in [exported(index, kind) if index is not None else None] if t is not None]
        return tables + [t for t in source.tables_of(kind) if t not in tables and source.referenced(t)]

    functions, not_callable = read_functions(exported(2, "cmd_export_t"), consts, name)
    manifest: dict[str, Any] = {
        "module": name,
        "params": read_params(exported(3, "param_export_t"), consts, name),
        "functions": functions,
        "pvars": read_pvars(registered("pv_export_t", 5)),
        "transforms": read_transforms(source, registered("tr_export_t")),
        "stats": read_stats(source, registered("stat_export_t"), consts, docs, name),
        "rpc": read_names(registered("rpc_export_t", 4)),
        "event_routes": read_event_routes(source, docs),
        "not_callable": not_callable,
    }
    manifest["docs"] = doc_differences(manifest, docs)
    return manifest


def doc_differences(manifest: dict[str, Any], docs: DocFacts) -> dict[str, Any]:
    """Where the docs and the C tables disagree, for a reader (never a requirement)."""
    params = {p["name"] for p in manifest["params"]}
    types = {p["name"]: p["types"] for p in manifest["params"]}
    functions = {f["name"] for f in manifest["functions"]}
    diff: dict[str, Any] = {
        "params_only_in_docs": sorted(set(docs.params) - params),
        "params_not_in_docs": sorted(params - set(docs.params)),
        "param_types_in_docs_differ": {
            n: docs.params[n] for n in sorted(docs.params)
            if n in params and DOC_TYPE_WORDS.get(docs.params[n], types[n]) != types[n]},
        "functions_only_in_docs": sorted(set(docs.functions) - functions - set(manifest["not_callable"])),
        "functions_not_in_docs": sorted(functions - set(docs.functions)),
        "rpc_only_in_docs": sorted(set(docs.rpc) - set(manifest["rpc"])),
        "rpc_not_in_docs": sorted(set(manifest["rpc"]) - set(docs.rpc)),
        "pvars_in_docs": docs.pvars,
        "transforms_in_docs": docs.transforms,
        "event_routes_only_in_docs": sorted(set(docs.event_routes) - {"..."}
                                            - {e["name"] for e in manifest["event_routes"]}),
    }
    return {k: v for k, v in diff.items() if v}


# ------------------------------------------------------------------ the core


def lex_keywords(lex: str, start: str, stop: str) -> list[str]:
    """The words of cfg.lex's definitions between two comments (`FORWARD_TCP forward_tcp`, `A "x"|"y"`)."""
    begin = lex.index(start)
    names: list[str] = []
    for line in lex[begin:lex.index(stop, begin)].splitlines():
        m = re.match(r"([A-Z][A-Z0-9_]*)\s+(.+)$", line.strip())
        for alt in m.group(2).split("|") if m else []:
            word = alt.strip().strip('"')
            if re.fullmatch(r"[A-Za-z_][\w:]*", word) and word not in names:
                names.append(word)
    return names


def core_manifest(src: Path, base: dict[str, str]) -> dict[str, Any]:
    lex = (src / "core" / "cfg.lex").read_text(errors="replace")
    files = [src / "core" / name for name in ("core_cmd.c", "pv_core.c", "pvapi.c")]
    core = read_folder(src / "core", base, files)
    return {
        "module": "core",
        "actions": lex_keywords(lex, "/* action keywords */", "/*ACTION LVALUES*/"),
        "conditions": lex_keywords(lex, "/* condition keywords */", "/* operators */"),
        "params": lex_keywords(lex, "/* config vars. */", "/* values */"),
        "rpc": read_names(core.tables_of("rpc_export_t")),
        "pvars": read_pvars(core.tables_of("pv_export_t")),
        "event_routes": core_event_routes(src / "core"),
    }


def core_event_routes(core_dir: Path) -> list[str]:
    """The `core:...` event routes the core runs (literals of its C files)."""
    names: set[str] = set()
    for path in core_dir.glob("*.c"):
        names.update(re.findall(r'"(core:[a-z][a-z-]*)"', strip_comments(path.read_text(errors="replace"))))
    return sorted(names)


# ------------------------------------------------------------------ checking against module binaries


def compare_with_binary(manifest: dict[str, Any], so: dict[str, Any]) -> list[str]:
    """What differs between the manifest and a module binary's export tables."""
    problems = []

    def differ(what: str, mine: set, theirs: set) -> None:
        for item in sorted(mine ^ theirs, key=str):
            problems.append(f"{what} {item} only in {'source' if item in mine else 'binary'}")

    differ("function", {(f["name"], VAR_PARAM_NO if v["args"] == "var" else v["args"], v["flags"])
                        for f in manifest["functions"] for v in f["variants"]},
           {(n, c, fl & ANY_ROUTE) for n, c, fl in so["cmds"] if fl != 0 and not api_hook(n, c)})
    theirs_p = {(n, t) for n, ptype in so["params"] for t, bits in (("STR", PARAM_STR | PARAM_STRING),
                                                                   ("INT", PARAM_INT)) if ptype & bits}
    differ("param", {(p["name"], t) for p in manifest["params"] for t in p["types"]}, theirs_p)
    # the binary shows only the rpc and pv tables named in `exports`; others are registered in code
    mine_rpc, mine_pv = set(manifest["rpc"]), {p["name"] for p in manifest["pvars"]}
    problems += [f"rpc {n} only in binary" for n in sorted(set(so["rpc"]) - mine_rpc)]
    problems += [f"pv {n} only in binary" for n in sorted(set(so["pvars"]) - mine_pv)]
    return problems


def check_binaries(dirs: list[Path], base: dict[str, str], so_dir: Path) -> int:
    from kamailio_manifest_elf import read_exports  # noqa: PLC0415 - only for --check-so

    compared = differing = items = 0
    for module_dir in dirs:
        so_path = so_dir / f"{module_dir.name}.so"
        manifest = manifest_of(module_dir, base)
        if manifest is None or not so_path.is_file():
            continue
        so = read_exports(so_path)
        problems = compare_with_binary(manifest, so) if so else ["binary not readable"]
        items += len(so["cmds"]) + len(so["params"]) + len(so["rpc"]) + len(so["pvars"]) if so else 0
        for problem in problems:
            print(f"{module_dir.name}: {problem}")
        compared += 1
        differing += bool(problems)
    print(f"{compared} module binaries compared ({items} table entries), {differing} differ")
    return 1 if differing else 0


# ------------------------------------------------------------------ main


def source_tag(src: Path) -> str:
    try:
        done = subprocess.run(["git", "-C", str(src), "describe", "--tags"], capture_output=True, text=True,
                              check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """One key per line, one list item per line (short diffs when Kamailio changes)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"  {json.dumps(item)}" for item in value)
            lines.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="Kamailio source tree (the folder holding src/)")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "kamailio-modules")
    parser.add_argument("--module", action="append", default=[], help="only this module (repeatable)")
    parser.add_argument("--check-so", type=Path, metavar="DIR",
                        help="compare with the module binaries in DIR instead of writing the manifests")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    src = args.src / "src"
    base = base_macros(src)
    dirs = sorted(p for p in (src / "modules").iterdir() if p.is_dir())
    if args.module:
        dirs = [d for d in dirs if d.name in args.module]
    if args.check_so:
        return check_binaries(dirs, base, args.check_so)
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for module_dir in dirs:
        manifest = manifest_of(module_dir, base)
        if manifest is None:
            log.debug("%s: no module_exports (a library, not a module)", module_dir.name)
            continue
        write_json(args.out / f"{module_dir.name}.json", manifest)
        written += 1
    if not args.module:
        write_json(args.out / "core.json", core_manifest(src, base))
        write_readme(args.out, source_tag(args.src), written)
    log.info("%d module manifests written to %s", written, args.out)
    return 0


README = """# Kamailio module manifests

One JSON file per module of Kamailio {tag} ({count} modules), and `core.json` for the core: every
parameter, function (each argument count Kamailio accepts, with its route-type flags),
pseudo-variable class, transformation class, statistic, RPC method and event route a module offers
to a config.

- Origin: Kamailio's source at tag {tag} (https://github.com/kamailio/kamailio): the export tables
  of `src/modules/<name>/*.c` and `src/modules/<name>/doc/*.xml`; `src/core/cfg.lex`,
  `src/core/core_cmd.c`, `src/core/pv_core.c` and `src/core/pvapi.c` for the core.
- Made by `scripts/kamailio_manifest.py <kamailio source tree>` on {date}. Checked with
  `scripts/kamailio_manifest.py <tree> --check-so /usr/lib/x86_64-linux-gnu/kamailio/modules`, which
  compares the function, parameter, RPC and PV tables with the `exports` of Debian's module binaries.
- Used by `tests/test_module_completeness.py`: each kampy module must declare every item of its
  manifest in its `EXPORTS`, or list it in `EXPORTS.not_implemented` with a reason.

Fields:

- `params[]`: `types` are the value types `modparam` takes (INT, STR); `use_func` marks a
  PARAM_USE_FUNC parameter (Kamailio calls a function for each value, so most may be set often).
- `functions[].variants[]`: `args` is an argument count Kamailio accepts ("var": VAR_PARAM_NO, any
  count the fixup accepts), `flags` Kamailio's route-type bits (src/core/route.h) and `routes` their
  names. `not_callable` lists the cmd exports a config cannot call (route flags 0, or API hooks
  such as `bind_htable` that other modules look up).
- `pvars[]`: the class names (`$sht(...)` is `sht`), `writable` when it has a set function,
  `takes_name` when it parses a name in parentheses.
- `transforms[]`: the class (`{{s.len}}` is class `s`) and the names its parse function knows.
- `stats[]`: `group` is the group it is registered in (the module's name, or e.g. `shmem` for kex's
  memory statistics); `source` is `stat_export_t`, or `docs` for a statistic the documentation lists
  that the module registers in code: usrloc's per-domain ones are named `<domain>-users`, ...
- `event_routes[]`: `source` is `route_lookup` (a literal looked up in `event_rt`; `+docs` when the
  docs name it too), or `literal+docs` (a literal of the C source that is the documented name or
  its prefix, completed at run time, as `htable:expired:<table>`, `tm:branch-failure:<name>`).
- `docs`: where the documentation and the C tables disagree, for a reader; never a requirement.
"""


def write_readme(out: Path, tag: str, count: int) -> None:
    today = datetime.date.today().isoformat()
    (out / "README.md").write_text(README.format(tag=tag, date=today, count=count))


if __name__ == "__main__":
    sys.exit(main())
