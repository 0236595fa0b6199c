"""The compiler's checks of route bodies: statements, expressions, function calls and their
arguments, route references, pseudo-variables, transformations and selects.

`RouteChecks` is a part of the Resolver (kampy.config.compile): its methods report through it."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from kampy import loader
from kampy.config import ast, rvtypes
from kampy.config.cfgcheck import select_problem
from kampy.config.core import AVP_FLAG_FUNCTIONS
from kampy.config.pvparse import PVSyntaxError, avp_ident, parse_format, parse_pv, parse_pv_at
from kampy.errors import ConfigError
from kampy.runtime import avpflags, forward
from kampy.runtime.flow import LoadError
from kampy.runtime.values import fparam_int
from kampy.module import ROUTE_KIND_NAMES, ArgKind, Function, PVClass, RouteType, allowed_in

ROUTE_TYPE_WORDS = {
    RouteType.REQUEST: "request_route/route", RouteType.FAILURE: "failure_route",
    RouteType.TM_ONREPLY: "onreply_route", RouteType.BRANCH: "branch_route",
    RouteType.ONSEND: "onsend_route", RouteType.ERROR: "error_route", RouteType.LOCAL: "local_route",
    RouteType.CORE_ONREPLY: "reply_route", RouteType.BRANCH_FAILURE: "event_route[tm:branch-failure]",
    RouteType.ONEVENT: "event_route",
}


def suggest(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)`, or ` (did you mean 'x' or 'y'?)` when two are as close."""
    scored = sorted(((difflib.SequenceMatcher(None, name, c).ratio(), c) for c in set(candidates)),
                    reverse=True)
    close = [c for ratio, c in scored[:2] if ratio >= 0.75 and ratio >= scored[0][0] - 0.01]
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in sorted(close)) + "?)"


def _allowed_words(flags: RouteType) -> str:
    if flags == RouteType.ANY:
        return "any route"
    return ", ".join(w for bit, w in ROUTE_TYPE_WORDS.items() if flags & bit) or "no route"


def plain_value(node: ast.Node) -> Any:
    if isinstance(node, ast.Str | ast.Int):
        return node.value
    if isinstance(node, ast.Ident):
        return node.name
    if isinstance(node, tuple):
        return [plain_value(n) for n in node]
    return node


class RouteChecks:
    """Checks of what the routes do, against the modules the Resolver loaded."""

    # ------------------------------------------------------------ statements

    def block(self, block: ast.Block, rtype: RouteType, where: tuple[str, str | None]) -> None:
        for stmt in block.stmts:
            self.stmt(stmt, rtype, where)

    def stmt(self, s: ast.Node, rtype: RouteType, where: tuple[str, str | None]) -> None:
        if isinstance(s, ast.Block):
            self.block(s, rtype, where)
        elif isinstance(s, ast.If):
            self.expr(s.cond, rtype)
            self.block(s.then, rtype, where)
            if s.orelse is not None:
                self.block(s.orelse, rtype, where)
        elif isinstance(s, ast.Switch):
            self.expr(s.expr, rtype)
            for case in s.cases:
                if case.value is not None:
                    self.expr(case.value, rtype)
                for inner in case.stmts:
                    self.stmt(inner, rtype, where)
        elif isinstance(s, ast.While):
            self.expr(s.cond, rtype)
            self.block(s.body, rtype, where)
        elif isinstance(s, ast.Return) and s.value is not None:
            self.expr(s.value, rtype)
        elif isinstance(s, ast.RouteCall):
            self.route_call(s, rtype)
        elif isinstance(s, ast.Assign):
            self.assign(s, rtype)
        elif isinstance(s, ast.ExprStmt):
            self.expr(s.expr, rtype)
        else:  # a bare expression used as a statement, usually a Call
            self.expr(s, rtype)

    def route_call(self, s: ast.RouteCall, rtype: RouteType) -> None:
        if isinstance(s.name, str):
            if ("route", s.name) not in self.routes:
                names = [n for k, n in self.routes if k == "route" and n]
                self.error(s.pos, f"route({s.name}): there is no route[{s.name}]{suggest(s.name, names)}")
        else:
            self.expr(s.name, rtype)

    def assign(self, s: ast.Assign, rtype: RouteType) -> None:
        pv = self.pvar(s.target)
        if pv is not None and not pv.writable:
            self.error(s.target.pos, f"${s.target.cls} is read-only: it cannot be assigned")
        self.expr(s.value, rtype)

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Node, rtype: RouteType) -> None:
        if isinstance(e, ast.Call):
            self.call(e, rtype)
        elif isinstance(e, ast.PVar):
            self.pvar(e)
        elif isinstance(e, ast.BinOp):
            self.expr(e.left, rtype)
            self.expr(e.right, rtype)
            self.types(e)
        elif isinstance(e, ast.UnOp):
            self.expr(e.operand, rtype)
            self.types(e)
        elif isinstance(e, ast.Select):
            self.select(e.text, e.pos, whole=True)

    def types(self, e: ast.Node) -> None:
        bad = rvtypes.mismatch(e)
        if bad is not None:
            node, found, expected = bad
            self.error(node.pos if node.pos.line else e.pos,
                       f"bad expression: type mismatch: {found} instead of {expected}")

    def select(self, text: str, pos: ast.Pos, whole: bool) -> None:
        if self.selects is None:
            return
        problem = select_problem(self.selects, text, whole)
        if problem is not None:
            self.error(pos, f"bad select {text}: {problem}")

    def call(self, call: ast.Call, rtype: RouteType) -> None:
        candidates = self.functions(call.name)
        by_count = [(m, f) for m, f in candidates if f.accepts_count(len(call.args))]
        if not by_count:
            gap = self.unimplemented(call.pos, "function", call.name, len(call.args))
            if gap is not None:
                self.refused[id(call)] = gap  # kampy run refuses the config with the reason
                return
        if not candidates:
            self.unknown_function(call)
            return
        if not by_count:
            self.error(call.pos, f"{call.name}() {self.counts_words(candidates)}, "
                                 f"{len(call.args)} given")
            return
        allowed = [(m, f) for m, f in by_count if allowed_in(f.routes, rtype)]
        if not allowed:
            flags = RouteType(0)
            for _, f in by_count:
                flags |= f.routes
            self.error(call.pos, f"{call.name}() cannot be used in {_allowed_words(rtype)} "
                                 f"(allowed in: {_allowed_words(flags)})")
            return
        self.functions_used.add(call.name)
        self.calls[id(call)] = allowed[0]
        if allowed[0][0] == "core":
            self.core_call(call)
        _, func = allowed[0]
        for i, arg in enumerate(call.args):
            if i == 0 and call.name in AVP_FLAG_FUNCTIONS:
                continue  # an AVP's name, checked when the action is built
            self.argument(func, i, arg, rtype)

    def core_call(self, call: ast.Call) -> None:
        """What cfg.y's grammar refuses in a core action's arguments (kampy builds them later)."""
        try:
            if call.name in AVP_FLAG_FUNCTIONS:
                avpflags.avp_name(call, self.pv_classes())
                avpflags.flag_bit(call, avpflags.declared_names(self.config))
            elif call.name == "udp_mtu_try_proto":
                forward.mtu_proto_bit(call)
        except LoadError as exc:
            self.error(exc.pos, exc.message)
        except ConfigError:
            pass  # (too many avpflags: the engine reports it at their declaration)

    @staticmethod
    def counts_words(candidates: list[tuple[str, Function]]) -> str:
        counts: set[int] = set()
        varargs = False
        for _, f in candidates:
            counts.update(range(f.required, len(f.args) + 1))
            varargs = varargs or f.varargs
        ordered = sorted(counts)
        if varargs:
            return f"takes at least {ordered[0]} argument{'s' if ordered[0] != 1 else ''}"
        words = " or ".join(str(c) for c in ordered)
        return f"takes {words} argument{'s' if ordered != [1] else ''}"

    def unknown_function(self, call: ast.Call) -> None:
        owner = self.builtin_owner(call.name)
        if owner:
            self.error(call.pos, f"{call.name}() is exported by module '{owner}', which is not loaded "
                                 f"(add: loadmodule \"{owner}.so\")")
            return
        self.error(call.pos, f"unknown function '{call.name}'{suggest(call.name, self.all_function_names())}")

    @staticmethod
    def builtin_owner(name: str) -> str | None:
        for mod_name in loader.builtin_names():
            try:
                if loader.load_builtin(mod_name).functions_named(name):
                    return mod_name
            except ImportError:
                continue
        return None

    def argument(self, func: Function, index: int, arg: ast.Node, rtype: RouteType) -> None:
        kind = func.arg_kind(index)
        if isinstance(arg, ast.Str):
            self.string_argument(func, index, kind, arg)
        else:
            if kind is ArgKind.PVAR and isinstance(arg, ast.PVar):
                pv = self.pvar(arg)
                if pv is not None and not pv.writable:
                    self.error(arg.pos, f"{func.name}() writes its argument {index + 1}, "
                                        f"but ${arg.cls} is read-only")
                return
            self.expr(arg, rtype)
            if kind is ArgKind.ROUTE and isinstance(arg, ast.Int | ast.Ident):
                self.route_ref(func, arg.pos, str(plain_value(arg)))

    def string_argument(self, func: Function, index: int, kind: ArgKind, arg: ast.Str) -> None:
        text = arg.value
        if kind is ArgKind.ROUTE:
            if "$" not in text:
                self.route_ref(func, arg.pos, text)
            return
        if kind is ArgKind.PVAR:
            try:
                spec = parse_pv(text, arg.pos)
            except PVSyntaxError as exc:
                self.error(arg.pos, f"{func.name}() argument {index + 1} must be a pseudo-variable: {exc}")
                return
            pv = self.pvar(spec)
            if pv is not None and not pv.writable:
                self.error(arg.pos, f"{func.name}() writes its argument {index + 1}, but ${spec.cls} "
                                    "is read-only")
            return
        if kind is ArgKind.INT and func.arg_var_fixup(index).startswith("int"):
            if not self.lone_pv(arg) and fparam_int(text) is None:
                self.error(arg.pos, f"{func.name}() argument {index + 1} must be an integer (digits with an "
                                    f"optional sign, no spaces), not '{text}'")
            return
        if kind is ArgKind.INT and "$" not in text:
            if not re.fullmatch(r"\s*[-+]?(0x[0-9a-fA-F]+|\d+)\s*", text):
                self.error(arg.pos, f"{func.name}() argument {index + 1} must be a number, not '{text}'")
            return
        if kind is ArgKind.FMT and func.arg_var_fixup(index) and self.lone_pv(arg):
            return
        if kind in (ArgKind.FMT, ArgKind.INT, ArgKind.EXPR):
            self.format_string(arg)

    def lone_pv(self, arg: ast.Str) -> bool:
        """Kamailio's "var" fixups (FPARAM_PVS, then FPARAM_AVP): a text that starts with a
        pseudo-variable is that one alone, one that starts with `$` and no known pseudo-variable
        names an AVP; False for a text that is neither (a format, checked as such)."""
        text = arg.value.strip()
        if not text.startswith("$"):
            return False
        try:
            spec: ast.PVar | None = parse_pv_at(text, 0, arg.pos)[0]
        except PVSyntaxError:
            spec = None
        if spec is not None and spec.cls == "$":  # the $$ marker
            return True
        if spec is not None and (not self.resolve or spec.cls in self.pv_classes()):
            self.pvar(spec)
            return True
        return avp_ident(text, arg.pos) is not None

    def format_string(self, arg: ast.Str) -> None:
        try:
            parts = parse_format(arg.value, arg.pos)
        except PVSyntaxError as exc:
            self.error(arg.pos, f"bad pseudo-variable in string \"{arg.value}\": {exc}")
            return
        for part in parts:
            if isinstance(part, ast.PVar):
                self.pvar(part)

    def route_ref(self, func: Function, pos: ast.Pos, name: str) -> None:
        kind = next((a.route_kind for a in func.args if a.kind is ArgKind.ROUTE), None) or "route"
        if kind != "route" and name in ("", "0"):
            return  # tm's t_on_*("0"): no route (Kamailio's fixup_on_* take "" and "0" for none)
        if kind == "branch_failure":
            kind, name = "event", f"tm:branch-failure:{name}"
        if (kind, name) not in self.routes:
            names = [n for k, n in self.routes if k == kind and n]
            self.error(pos, f"{func.name}(\"{name}\"): there is no {ROUTE_KIND_NAMES.get(kind, kind)}[{name}]"
                            f"{suggest(name, names)}")

    def pvar(self, pv: ast.PVar) -> PVClass | None:
        """Check a pseudo-variable (and its transformations); return its class if known."""
        if not self.resolve:
            return None
        classes = self.pv_classes()
        decl = classes.get(pv.cls)
        if decl is None and self.unimplemented(pv.pos, "pvar", pv.cls):
            return None
        if decl is None:
            self.error(pv.pos, f"unknown pseudo-variable '${pv.cls}'{suggest(pv.cls, classes)}")
            return None
        if decl.arg == "required" and not pv.arg:
            self.error(pv.pos, f"${pv.cls} needs a name in parentheses: ${pv.cls}(name)")
        elif decl.arg == "none" and pv.arg:
            self.error(pv.pos, f"${pv.cls} takes no name: write ${pv.cls}, not ${pv.cls}({pv.arg})")
        if pv.cls == "sel" and pv.arg:
            self.select(pv.arg, pv.pos, whole=False)
        self.nested_pvs(pv)
        self.check_transforms(pv)
        return decl

    def nested_pvs(self, pv: ast.PVar) -> None:
        for text in (pv.arg, pv.index):
            if text and "$" in text:
                for part in self.safe_format(text, pv.pos):
                    self.pvar(part)

    def safe_format(self, text: str, pos: ast.Pos) -> Iterator[ast.PVar]:
        try:
            parts = parse_format(text, pos)
        except PVSyntaxError:
            return
        yield from (p for p in parts if isinstance(p, ast.PVar))

    def check_transforms(self, pv: ast.PVar) -> None:
        known = self.transforms()
        for tr in pv.transforms:
            names = known.get(tr.cls)
            known_here = names is not None and tr.name in names
            if known_here or self.unimplemented(tr.pos, "transform", f"{tr.cls}.{tr.name}") \
                    or self.unimplemented(tr.pos, "transform", tr.cls):
                pass
            elif names is None:
                self.error(tr.pos, f"unknown transformation class '{tr.cls}' in {{{tr.cls}.{tr.name}}}"
                                   f"{suggest(tr.cls, known)}")
            else:
                self.error(tr.pos, f"unknown transformation '{{{tr.cls}.{tr.name}}}'"
                                   f"{suggest(tr.name, names)}")
            for param in tr.params:
                for part in self.safe_format(param, tr.pos):
                    self.pvar(part)


