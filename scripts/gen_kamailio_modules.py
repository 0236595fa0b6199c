#!/usr/bin/env python3
"""Write kampy/config/kamailio_modules.json from the Kamailio 5.6 module manifests.

    python3 scripts/gen_kamailio_modules.py [--manifests tests/data/kamailio-modules] [--out ...]

The manifests (tests/data/kamailio-modules/<module>.json, made from Kamailio 5.6.3's source by
scripts/kamailio_manifest.py) say everything each module offers a config. kampy's own package needs
a small part of it at run time -- parameter types, function argument counts and route types,
pseudo-variable and transformation classes -- for `kampy check --allow-missing` and the testing
plugin's stand-ins (kampy.config.kamailio_modules); this script writes that part, and
tests/test_kamailio_modules_data.py checks the committed file is what it writes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "tests" / "data" / "kamailio-modules"
OUT = REPO / "kampy" / "config" / "kamailio_modules.json"
VAR_PARAM_NO = -128
TYPES = {"INT": "int", "STR": "str"}


def module_entry(manifest: dict) -> dict:
    functions: dict[str, dict] = {}
    for function in manifest["functions"]:
        entry = functions.setdefault(function["name"], {"args": [], "routes": 0})
        for variant in function["variants"]:
            count = VAR_PARAM_NO if variant["args"] == "var" else int(variant["args"])
            if count not in entry["args"]:
                entry["args"].append(count)
            entry["routes"] |= int(variant["flags"])
        entry["args"].sort()
    return {
        "params": {p["name"]: sorted({TYPES[t] for t in p["types"] if t in TYPES}) or ["int", "str"]
                   for p in manifest["params"]},
        "functions": functions,
        "pvars": {pv["name"]: {"name": bool(pv["takes_name"]), "writable": bool(pv["writable"])}
                  for pv in manifest["pvars"]},
        "transforms": {tr["name"]: sorted(tr.get("names") or []) for tr in manifest["transforms"]},
    }


def generate(manifests: Path) -> dict:
    modules = {}
    for path in sorted(manifests.glob("*.json")):
        manifest = json.loads(path.read_text())
        if path.stem == "core" or "module" not in manifest:
            continue
        modules[manifest["module"]] = module_entry(manifest)
    return {"kamailio": "5.6.3",
            "origin": "tests/data/kamailio-modules/*.json (Kamailio 5.6.3's export tables), by "
                      "scripts/gen_kamailio_modules.py",
            "modules": modules}


def render(data: dict) -> str:
    return json.dumps(data, indent=0, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifests", type=Path, default=MANIFESTS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = generate(args.manifests)
    args.out.write_text(render(data))
    print(f"{args.out}: {len(data['modules'])} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
