#!/usr/bin/env python3
"""Write kampy/config/kamailio_modules.json: what each Kamailio 5.6 module declares to the core.

    python3 scripts/gen_kamailio_modules.py KAMAILIO_SOURCE [--out kampy/config/kamailio_modules.json]

Run by hand at authoring time on a checkout of Kamailio's source at tag 5.6.3; the output is
committed (the source is not). For each module under src/modules/ it reads the export tables
every module hands the core -- the same tables its documentation describes: `param_export_t`
(name, integer or string), `cmd_export_t` (name, argument count, route types), `pv_export_t`
(class name, writable, takes a name) and `tr_export_t` (transformation class). `kampy check
--allow-missing` and the testing plugin's stand-ins read it (kampy.config.kamailio_modules).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROUTE_BITS = {
    "REQUEST_ROUTE": 1 << 0, "FAILURE_ROUTE": 1 << 1, "TM_ONREPLY_ROUTE": 1 << 2, "BRANCH_ROUTE": 1 << 3,
    "ONSEND_ROUTE": 1 << 4, "ERROR_ROUTE": 1 << 5, "LOCAL_ROUTE": 1 << 6, "CORE_ONREPLY_ROUTE": 1 << 7,
    "BRANCH_FAILURE_ROUTE": 1 << 8, "ONEVENT_ROUTE": 1 << 9,
    "ONREPLY_ROUTE": (1 << 2) | (1 << 7), "EVENT_ROUTE": (1 << 0) | (1 << 9), "ANY_ROUTE": 0xFFFFFFFF,
}
VAR_PARAM_NO = -128

_TABLE = r"(?:static\s+)?{kind}\s+\w+\s*\[\s*\]\s*=\s*\{{(.*?)\}}\s*;"
_STRING = r'"((?:[^"\\]|\\.)*)"'


def table_bodies(text: str, kind: str) -> list[str]:
    return re.findall(_TABLE.format(kind=kind), text, re.S)


def entries(body: str) -> list[str]:
    """The top-level `{...}` entries of a table body (comments dropped)."""
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    body = re.sub(r"//[^\n]*", "", body)
    found, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "{":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                found.append(body[start:i])
    return found


def fields(entry: str) -> list[str]:
    """An entry's fields split at top-level commas."""
    out, depth, current = [], 0, []
    for ch in entry:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out


def route_flags(text: str) -> int:
    flags = 0
    for word in re.findall(r"[A-Z_]+", text):
        flags |= ROUTE_BITS.get(word, 0)
    return flags or ROUTE_BITS["ANY_ROUTE"]


def param_types(text: str) -> list[str]:
    words = set(re.findall(r"[A-Z_]+", text))
    types = []
    if words & {"PARAM_INT", "INT_PARAM", "PARAM_VAR"}:
        types.append("int")
    if words & {"PARAM_STRING", "PARAM_STR", "STR_PARAM", "PARAM_VAR"}:
        types.append("str")
    return types or ["int", "str"]


def module_declaration(folder: Path) -> dict:
    text = "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.c")))
    params: dict[str, list[str]] = {}
    functions: dict[str, dict] = {}
    pvars: dict[str, dict] = {}
    transforms: list[str] = []
    for body in table_bodies(text, "param_export_t"):
        for entry in entries(body):
            f = fields(entry)
            m = re.fullmatch(_STRING, f[0]) if f else None
            if m and len(f) >= 2:
                params.setdefault(m.group(1), param_types(f[1]))
    for body in table_bodies(text, "cmd_export_t"):
        for entry in entries(body):
            f = fields(entry)
            m = re.fullmatch(_STRING, f[0]) if f else None
            if not m or len(f) < 6:
                continue
            count = f[2].strip()
            if count == "VAR_PARAM_NO":
                number = VAR_PARAM_NO
            else:
                number = int(count) if re.fullmatch(r"-?\d+", count) else 0
            fn = functions.setdefault(m.group(1), {"args": [], "routes": 0})
            if number not in fn["args"]:
                fn["args"].append(number)
            fn["routes"] |= route_flags(f[5])
    for body in table_bodies(text, "pv_export_t"):
        for entry in entries(body):
            m = re.match(r'\s*\{\s*' + _STRING, entry)
            if not m:
                continue
            f = fields(entry[entry.index("}") + 1:].lstrip(", "))
            setter = f[2] if len(f) > 2 else "0"
            parse_name = f[3] if len(f) > 3 else "0"
            pvars[m.group(1)] = {"writable": setter not in ("0", "NULL", ""),
                                 "name": parse_name not in ("0", "NULL", "")}
    for body in table_bodies(text, "tr_export_t"):
        for entry in entries(body):
            m = re.match(r'\s*\{\s*' + _STRING, entry)
            if m and m.group(1) not in transforms:
                transforms.append(m.group(1))
    for fn in functions.values():
        fn["args"].sort()
    return {"params": params, "functions": functions, "pvars": pvars, "transforms": transforms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a checkout of Kamailio's source (tag 5.6.3)")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "kampy/config/kamailio_modules.json")
    args = parser.parse_args(argv)
    root = args.source / "src" / "modules"
    if not root.is_dir():
        print(f"{root}: not a Kamailio source tree", file=sys.stderr)
        return 2
    modules = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.c"))):
        modules[folder.name] = module_declaration(folder)
    data = {"kamailio": "5.6.3",
            "origin": "the export tables (param_export_t, cmd_export_t, pv_export_t, tr_export_t) of "
                      "Kamailio 5.6.3's src/modules/*/*.c, by scripts/gen_kamailio_modules.py",
            "modules": modules}
    args.out.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    print(f"{args.out}: {len(modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
