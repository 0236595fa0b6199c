"""Module reference docs rendered from a module's declaration (`EXPORTS`), in Kamailio's module-doc shape.

A module's README.md has a hand-written part (overview, differences from Kamailio, examples) and a
generated reference between the markers `<!-- generated:begin -->` and `<!-- generated:end -->`:
dependencies, parameters (type, default), functions (arguments, return codes, allowed routes),
statistics, RPC methods, timers, pseudo-variables, transformations, event routes, and what the module
does not implement (its `not_implemented` entries, with their reasons). `kampy doc NAME` prints it;
`kampy doc NAME --write` puts it into the module's README.md, touching only the text between the
markers (a README without markers gets them appended; a missing README is created with a skeleton
of the hand-written part). A test keeps every built-in module's README up to date with its EXPORTS.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kampy.module import ArgKind, Exports, Function, Param, RouteType, Unimplemented

log = logging.getLogger(__name__)

BEGIN = "<!-- generated:begin -->"
END = "<!-- generated:end -->"
NOTE = "<!-- Generated from the module's EXPORTS by `kampy doc {name} --write`: edit EXPORTS, not this. -->"

ARG_KIND_WORDS = {
    ArgKind.STR: "string",
    ArgKind.FMT: "string, may hold pseudo-variables",
    ArgKind.INT: "integer, or a pseudo-variable giving one",
    ArgKind.PVAR: "pseudo-variable (written to)",
    ArgKind.REGEX: "regular expression",
    ArgKind.ROUTE: "route name",
    ArgKind.EXPR: "expression",
}

ROUTE_WORDS = {
    RouteType.REQUEST: "REQUEST_ROUTE", RouteType.FAILURE: "FAILURE_ROUTE",
    RouteType.TM_ONREPLY: "ONREPLY_ROUTE", RouteType.BRANCH: "BRANCH_ROUTE",
    RouteType.ONSEND: "ONSEND_ROUTE", RouteType.ERROR: "ERROR_ROUTE", RouteType.LOCAL: "LOCAL_ROUTE",
    RouteType.CORE_ONREPLY: "REPLY_ROUTE", RouteType.BRANCH_FAILURE: "BRANCH_FAILURE_ROUTE",
    RouteType.ONEVENT: "EVENT_ROUTE",
}


# ------------------------------------------------------------------ rendering


def routes_words(flags: RouteType) -> str:
    if flags == RouteType.ANY:
        return "ANY_ROUTE"
    return ", ".join(word for bit, word in ROUTE_WORDS.items() if flags & bit) or "no route"


def default_words(param: Param) -> str:
    if param.default is None:
        return "not set"
    if isinstance(param.default, str):
        return f'`"{param.default}"`'
    return f"`{param.default}`"


def signature(func: Function) -> str:
    names = [a.name for a in func.args]
    required, optional = names[:func.required], names[func.required:]
    text = ", ".join(required)
    if optional:
        text += ("[, " if required else "[") + ", ".join(optional) + "]"
    if func.varargs:
        text += ", ..."
    return f"{func.name}({text})"


def _section(title: str, lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines = lines[:-1]
    return [f"### {title}", "", *lines, ""] if lines else []


def _param_lines(exports: Exports) -> list[str]:
    lines: list[str] = []
    for p in exports.params:
        lines.append(f"#### `{p.name}` ({p.type_names()})")
        lines.append("")
        if not p.implemented:
            lines += ["**Not implemented in kampy**: accepted so that Kamailio configs load, but ignored; "
                      "a value other than the default is reported as a warning by `kampy check` and "
                      "`kampy run`.", ""]
        if p.doc:
            lines += [p.doc, ""]
        multi = " May be set several times." if p.multi else ""
        lines.append(f"Default value: {default_words(p)}.{multi}")
        lines += ["", f'    modparam("{exports.name}", "{p.name}", {_example_value(p)})', ""]
    return lines


def _example_value(p: Param) -> str:
    value: Any = p.default
    if value is None:
        return '"..."' if str in p.types else "0"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _function_lines(exports: Exports) -> list[str]:
    lines: list[str] = []
    for f in exports.functions:
        lines += [f"#### `{signature(f)}`", ""]
        if f.doc:
            lines += [f.doc, ""]
        if f.handler and f.handler != f.name and exports.functions_named(f.handler):
            lines += [f"Same implementation as `{f.handler}()`.", ""]
        for i, a in enumerate(f.args):
            kind = ARG_KIND_WORDS[a.kind] + (f" ({a.route_kind})" if a.route_kind else "")
            optional = ", optional" if i >= f.required else ""
            lines.append(f"- `{a.name}`: {kind}{optional}" + (f". {a.doc}" if a.doc else ""))
        if f.args:
            lines.append("")
        lines.append(f"Return codes: {f.returns}" if f.returns else
                     "Return codes: positive on success, negative on failure.")
        lines += ["", f"This function can be used from {routes_words(f.routes)}.", ""]
    return lines


def _stat_lines(exports: Exports) -> list[str]:
    return [f"- `{s.group or exports.name}:{s.name}`" + (f": {s.doc}" if s.doc else "")
            + (" (not reset by stats.reset_statistics)" if s.no_reset else "") for s in exports.stats]


def _rpc_lines(exports: Exports) -> list[str]:
    return [f"- `{r.name}`" + (f": {r.doc}" if r.doc else "") for r in exports.rpc]


def _timer_lines(exports: Exports) -> list[str]:
    lines = []
    for t in exports.timers:
        when = (f"every `{t.interval_param}` seconds" if t.interval_param else
                f"every {t.interval:g} seconds" if t.interval else "when enabled")
        if t.interval_param and t.interval:
            when += f" ({t.interval:g} when unset)"
        lines.append(f"- `{t.name}`: {when}" + (f". {t.doc}" if t.doc else ""))
    return lines


def _pv_lines(exports: Exports) -> list[str]:
    arg_words = {"none": "", "required": "(name)", "optional": "[(name)]"}
    return [f"- `${pv.name}{arg_words.get(pv.arg, '')}`" + (" (writable)" if pv.writable else "")
            + (f": {pv.doc}" if pv.doc else "") for pv in exports.pvars]


def _transform_lines(exports: Exports) -> list[str]:
    return [f"- `{{{t.name}.*}}`: " + ", ".join(f"`{n}`" for n in t.names) for t in exports.transforms]


def _event_route_lines(exports: Exports) -> list[str]:
    return [f"- `event_route[{e.name}]`" + (f": {e.doc}" if e.doc else "") for e in exports.event_routes]


NOT_IMPLEMENTED_HEAD = (
    "What Kamailio's module has and kampy's does not. `kampy check` warns where a config uses one of "
    "these (a parameter set to another value than Kamailio's default, a function call, a "
    "pseudo-variable, a transformation, an event route); `kampy run` ignores such a parameter and "
    "refuses a config that uses any of the rest.")


def _cfg_lines(exports: Exports) -> list[str]:
    group = exports.cfg
    if group is None:
        return []
    lines = [f"Group `{group.name}` of the cfg framework: read with `$sel(cfg_get.{group.name}.<name>)`, "
             f"changed at run time with `kamcmd cfg.set_now_int {group.name} <name> <value>` (cfg_rpc).", ""]
    for var in group.vars:
        kind = {"int": "integer", "string": "string", "str": "string"}[var.input or var.type]
        notes = [kind]
        if var.min or var.max:
            notes.append(f"{var.min}..{var.max}")
        if var.param_name:
            notes.append(f"starts as parameter `{var.param_name}`")
        if var.inert:
            notes.append("kept and shown as in Kamailio, changes nothing in kampy")
        if var.fixup:
            notes.append("not readable (converted when set)")
        if var.readonly:
            notes.append("read-only")
        doc = f": {var.doc}" if var.doc else ""
        lines.append(f"- `{group.name}.{var.name}` ({', '.join(notes)}){doc}")
    return lines


def _select_lines(exports: Exports) -> list[str]:
    return [f"- `@{s.name}...`, `$sel({s.name}...)`" + (f": {s.doc}" if s.doc else "")
            for s in exports.selects]


def _not_implemented_lines(exports: Exports) -> list[str]:
    if not exports.not_implemented:
        return []
    return [NOT_IMPLEMENTED_HEAD, ""] + [f"- {_gap_words(g)}: {g.reason}" for g in exports.not_implemented]


def _gap_words(gap: Unimplemented) -> str:
    counted = f" with {gap.args} argument{'s' if gap.args != 1 else ''}" if gap.args is not None else ""
    return {"function": f"`{gap.name}()`{counted}", "param": f"parameter `{gap.name}`",
            "pvar": f"`${gap.name}`", "transform": f"`{{{gap.name}}}`", "stat": f"statistic `{gap.name}`",
            "rpc": f"RPC method `{gap.name}`", "event_route": f"`event_route[{gap.name}]`"}[gap.kind]
def _need_lines(exports: Exports) -> list[str]:
    needs = [f"- `{n.name}`" + (" (optional)" if n.optional else "") + (f": {n.doc}" if n.doc else "")
             for n in exports.needs] or ["- none"]
    return ["APIs of other modules it uses (a required one must be offered by a loaded module):", "",
            *needs]


def _offer_lines(exports: Exports) -> list[str]:
    return [f"- `{o.name}` (`{o.protocol.__name__}`)" + (f": {o.doc}" if o.doc else "")
            for o in exports.offers]


def render_reference(exports: Exports) -> str:
    """The generated part of a module's README (without the markers)."""
    lines = [f"## Reference of `{exports.name}`", ""]
    if exports.factory is None:
        lines += ["Status in kampy: declared only. `kampy check` validates calls to its functions and its "
                  "parameters; kampy does not run them yet.", ""]
    lines += _section("Dependencies", _need_lines(exports))
    lines += _section("APIs offered to other modules", _offer_lines(exports))
    lines += _section("Parameters", _param_lines(exports) or ["None."])
    lines += _section("Functions", _function_lines(exports) or ["None."])
    lines += _section("Statistics", _stat_lines(exports))
    lines += _section("RPC methods", _rpc_lines(exports))
    lines += _section("Timers", _timer_lines(exports))
    lines += _section("Pseudo-variables", _pv_lines(exports))
    lines += _section("Transformations", _transform_lines(exports))
    lines += _section("Event routes", _event_route_lines(exports))
    lines += _section("Configuration variables", _cfg_lines(exports))
    lines += _section("Selects", _select_lines(exports))
    lines += _section("Not implemented in kampy", _not_implemented_lines(exports))
    return "\n".join(lines).rstrip() + "\n"


def generated_block(exports: Exports) -> str:
    return f"{BEGIN}\n{NOTE.format(name=exports.name)}\n\n{render_reference(exports)}{END}\n"


# ------------------------------------------------------------------ READMEs


def skeleton(exports: Exports, overview: str = "") -> str:
    """A new README: the hand-written part to fill in, then the generated reference."""
    text = overview.strip() or exports.doc or f"The `{exports.name}` module."
    return (f"# {exports.name}\n\n## Overview\n\n{text}\n\n"
            "## Differences from Kamailio\n\n"
            f"kampy's `{exports.name}` declares the parameters, functions, statistics and RPC methods of\n"
            "Kamailio 5.6's module of the same name, listed below with kampy's defaults. What it does not\n"
            "implement yet, or does differently, is noted here by the module's maintainers.\n\n"
            + generated_block(exports))


def update_readme(text: str, exports: Exports) -> str:
    """`text` with its generated block replaced (or appended when it has no markers)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return text.rstrip("\n") + "\n\n" + generated_block(exports)
    return text[:start] + generated_block(exports) + text[end + len(END):].lstrip("\n")


def generated_part(text: str) -> str | None:
    """The generated block of a README as it is, or None without markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start:end + len(END)] + "\n"


def hand_written_part(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return text
    return text[:start] + text[end + len(END):]


def write_readme(path: Path, exports: Exports, overview: str = "") -> bool:
    """Create or update README.md at `path`; returns whether the file changed."""
    old = path.read_text() if path.is_file() else None
    new = skeleton(exports, overview) if old is None else update_readme(old, exports)
    if new == old:
        return False
    path.write_text(new)
    log.info("%s: %s", path, "written" if old is None else "reference updated")
    return True


# ------------------------------------------------------------------ `kampy doc`


def add_parser(sub: Any) -> None:
    """`kampy doc NAME [-L DIR]... [--write [--readme PATH]]`."""
    doc = sub.add_parser("doc", help="print a module's reference from its EXPORTS, or update its README.md")
    doc.add_argument("module", help="module name, as in loadmodule (tm, tm.so, /path/to/hello)")
    doc.add_argument("-L", dest="load_paths", action="append", default=[], metavar="DIR",
                     help="also look for modules in DIR (as loadpath/mpath)")
    doc.add_argument("--write", action="store_true",
                     help="write the reference into the module's README.md (between the markers)")
    doc.add_argument("--readme", metavar="PATH",
                     help="the README.md to write (default: the one in the module's package folder)")
    doc.set_defaults(func=cmd_doc)


def cmd_doc(args: Any) -> int:
    import sys

    from kampy import loader

    try:
        found = loader.find_module(args.module, args.load_paths)
    except loader.ModuleNotFound as exc:
        print(f"kampy doc: {exc}", file=sys.stderr)
        return 1
    if not args.write:
        sys.stdout.write(render_reference(found.exports))
        return 0
    if args.readme is None and found.folder is None:
        print(f"kampy doc: {found.origin} is not a package folder; say where with --readme", file=sys.stderr)
        return 1
    path = Path(args.readme) if args.readme else found.folder / "README.md"
    changed = write_readme(path, found.exports)
    print(f"{path}: {'updated' if changed else 'up to date'}")
    return 0
