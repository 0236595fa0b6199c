#!/usr/bin/env python3
"""Write kampy/db/kamailio_schema.json from Kamailio's XML database schema.

    python3 scripts/gen_db_schema.py /path/to/kamailio-source [--out kampy/db/kamailio_schema.json]

Reads, in a Kamailio source tree (a checkout of the tag kampy follows):
  * utils/kamctl/kamdbctl.base: the groups `kamdbctl create` runs (STANDARD_MODULES,
    PRESENCE_MODULES, EXTRA_MODULES, DBUID_MODULES);
  * src/lib/srdb1/schema/kamailio-<group>.xml: the tables of each group, in order;
  * src/lib/srdb1/schema/<table>.xml and entities.xml: each table's version, columns and indexes.

Kamailio turns the same XML into SQL with the XSL stylesheets of doc/stylesheets/dbschema_k;
kampy.db.schema renders the JSON the same way. The JSON keeps what those stylesheets read for
MySQL, SQLite and PostgreSQL: names, types as written in the XML ("unsigned int", "string", ...),
sizes, defaults as written (null for a NULL default), NULL allowed, auto-increment, primary key,
indexes. Run once per Kamailio release; the tests never need the source tree.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

SETS = (("standard", "STANDARD_MODULES"), ("presence", "PRESENCE_MODULES"), ("extra", "EXTRA_MODULES"),
        ("dbuid", "DBUID_MODULES"))
XINCLUDE = "{http://www.w3.org/2001/XInclude}include"


def kamdbctl_sets(base: Path) -> dict[str, list[str]]:
    text = base.read_text()
    sets = {}
    for name, var in SETS:
        m = re.search(rf"{var}=\$\{{\w+:-'([^']*)'\}}", text)
        if m is None:
            raise SystemExit(f"{base}: no {var}")
        sets[name] = m.group(1).split()
    return sets


def entities(schema: Path) -> dict[str, str]:
    return dict(re.findall(r'<!ENTITY\s+(\w+)\s+"([^"]*)">', (schema / "entities.xml").read_text()))


def parse(path: Path, ents: dict[str, str]) -> ET.Element:
    """The document with its DOCTYPE dropped and the entities of entities.xml expanded."""
    text = re.sub(r"<!DOCTYPE.*?\]>", "", path.read_text(), count=1, flags=re.S)
    text = re.sub(r"&(\w+);", lambda m: ents.get(m.group(1), m.group(0)), text)
    return ET.fromstring(text)


def plain(element: ET.Element, tag: str) -> ET.Element | None:
    """The child `tag` without a db="..." attribute (those override for one database only)."""
    return next((c for c in element.findall(tag) if "db" not in c.attrib), None)


def text_of(element: ET.Element, tag: str) -> str | None:
    child = plain(element, tag)
    return None if child is None else " ".join((child.text or "").split())


def column(el: ET.Element) -> dict[str, Any]:
    col: dict[str, Any] = {"name": text_of(el, "name"), "type": text_of(el, "type")}
    size = text_of(el, "size")
    if size:
        col["size"] = size
    default = plain(el, "default")
    if default is not None:
        col["default"] = None if default.find("null") is not None else (default.text or "")
    for flag in ("null", "autoincrement", "primary"):
        if plain(el, flag) is not None:
            col[flag] = True
    for child in el:
        if child.attrib.get("db") in ("mysql", "sqlite", "postgres"):
            raise SystemExit(f"column {col['name']}: a {child.tag} for {child.attrib['db']} only "
                             "is not supported")
    return col


def table(el: ET.Element, column_names: dict[str, str]) -> dict[str, Any]:
    engine = [t for t in el.findall("type") if t.attrib.get("db") == "mysql"]
    if any((t.text or "").strip() for t in engine):
        raise SystemExit(f"table {text_of(el, 'name')}: a MySQL engine is not supported")
    indexes = []
    for ix in el.findall("index"):
        index: dict[str, Any] = {"name": text_of(ix, "name") or "",
                                 "columns": [column_names[c.attrib["linkend"]] for c in ix.findall("colref")]}
        for flag in ("unique", "primary"):
            if ix.find(flag) is not None:
                index[flag] = True
        indexes.append(index)
    return {"version": int(text_of(el, "version") or 0),
            "columns": [column(c) for c in el.findall("column")], "indexes": indexes}


def group_tables(schema: Path, group: str, ents: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    db = parse(schema / f"kamailio-{group}.xml", ents)
    elements = [parse(schema / inc.attrib["href"], ents) for inc in db.iter(XINCLUDE)]
    # Kamailio's stylesheets find a colref's column by id in the whole group document, the
    # first one in document order: the same here
    column_names: dict[str, str] = {}
    for el in elements:
        for c in el.findall("column"):
            for key in (c.attrib.get("id"), c.attrib.get("{http://www.w3.org/XML/1998/namespace}id")):
                if key:
                    column_names.setdefault(key, text_of(c, "name") or "")
    return [(text_of(el, "name") or "", table(el, column_names)) for el in elements]


def dump(data: dict[str, Any]) -> str:
    """JSON with one column or index per line, so that a new release shows as a readable diff."""
    def one(value: Any) -> str:
        return json.dumps(value, separators=(", ", ": "))

    lines = ["{"]
    for key in ("origin", "kamailio"):
        lines.append(f'  "{key}": {one(data[key])},')
    for key in ("sets", "groups"):
        lines.append(f'  "{key}": {{')
        lines += [f'    "{name}": {one(members)},' for name, members in data[key].items()]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("  },")
    lines.append('  "tables": {')
    names = list(data["tables"])
    for i, name in enumerate(names):
        t = data["tables"][name]
        lines.append(f'    "{name}": {{"version": {t["version"]}, "columns": [')
        lines += [f"      {one(c)}," for c in t["columns"]]
        lines[-1] = lines[-1].rstrip(",")
        lines.append('    ], "indexes": [')
        lines += [f"      {one(ix)}," for ix in t["indexes"]]
        if t["indexes"]:
            lines[-1] = lines[-1].rstrip(",")
        lines.append("    ]}" + ("," if i < len(names) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a Kamailio source tree")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "kampy/db/kamailio_schema.json")
    args = parser.parse_args()
    schema = args.source / "src/lib/srdb1/schema"
    ents = entities(schema)
    sets = kamdbctl_sets(args.source / "utils/kamctl/kamdbctl.base")
    makefile = (args.source / "src/Makefile.defs").read_text()
    v = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)", makefile, re.M))
    release = f"{v['VERSION']}.{v['PATCHLEVEL']}.{v['SUBLEVEL']}"
    groups: dict[str, list[str]] = {}
    tables: dict[str, Any] = {}
    for group in (g for members in sets.values() for g in members):
        found = group_tables(schema, group, ents)
        groups[group] = [name for name, _ in found]
        for name, t in found:
            if name in tables:
                raise SystemExit(f"table {name} is in two groups")
            tables[name] = t
    data = {"origin": f"generated by scripts/gen_db_schema.py from Kamailio {release}'s "
                      "src/lib/srdb1/schema/*.xml and utils/kamctl/kamdbctl.base; do not edit",
            "kamailio": release, "sets": sets, "groups": groups, "tables": tables}
    args.out.write_text(dump(data))
    json.loads(args.out.read_text())  # the hand-made layout is still JSON
    print(f"{args.out}: {len(tables)} tables in {len(groups)} groups", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
