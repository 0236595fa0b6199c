"""The dialplan module. The rules are read from the database at start and on a reload (in
whichever process runs dp_reload() or serves the RPC), published in the shared table
`dialplan` with a generation, and built again by each process that sees a new generation before
its next translation, as Kamailio's processes all see the rules in shared memory."""
from __future__ import annotations

import json
import re
from typing import Any

from kampy.api import (L_DBG, L_ERR, L_WARN, Branch, CoreAPI, DBError, Literal, Member, MessageContext,
                       Module, PVAccessor, PVSyntaxError, RouteType, RpcFault, avp_values,
                       check_table_version, db_connect, log_at, module_logger, parse_format, parse_pv)

from .rules import MAX_ATTRS, Dialplan, RuleError, build_dialplans, matches, pcre, translate_output

log = module_logger("dialplan")

TABLE_VERSION = 2
RULES, RELOADED = b"rules", b"reload-time"
INPUT_CLASSES = {"avp", "xavp", "var"}
OUTPUT_CLASSES = INPUT_CLASSES | {"ru", "ruri", "rU"}
RURI_CLASSES = {"ru", "ruri", "rU"}


class Target:
    """Where dp_translate()/dp_replace() write: the accessor, and whether it is the R-URI."""

    def __init__(self, accessor: PVAccessor, cls: str) -> None:
        self.accessor = accessor
        self.is_ruri = cls in RURI_CLASSES


class DialplanModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        p = params
        self.db_url: str = p["db_url"]
        self.table: str = p["table_name"]
        if not self.table:
            raise ValueError("invalid database table name")
        self.columns = [p["dpid_col"], p["pr_col"], p["match_op_col"], p["match_exp_col"],
                        p["match_len_col"], p["subst_exp_col"], p["repl_exp_col"], p["attrs_col"]]
        self.fetch_rows: int = p["fetch_rows"] if p["fetch_rows"] > 0 else 1000
        self.match_dynamic = p["match_dynamic"] == 1
        self.append_branch = p["append_branch"] != 0
        self.reload_delta: int = p["reload_delta"] if p["reload_delta"] >= 0 else 5
        self.attrs_pvar: PVAccessor | None = None
        if p["attrs_pvar"]:
            try:
                spec = parse_pv(p["attrs_pvar"])
            except PVSyntaxError:
                spec = None
            if spec is None or spec.cls not in INPUT_CLASSES:
                raise ValueError("invalid pvar name")
            self.attrs_pvar = core.pv_accessor(spec)
        self.default_io = (core.pv_accessor("$rU"), Target(core.pv_accessor("$rU"), "rU"))
        self.plans: dict[int, Dialplan] = {}
        self._generation = -1
        if self._table().get(RULES) is None:
            try:
                self._connect_and_load(check_version=True)
            except (DBError, RuleError) as exc:
                raise ValueError(f"could not initialize data: {exc}") from None

    # ------------------------------------------------------------ loading and sharing

    def _table(self) -> Any:
        return self.core.shared.table("dialplan", capacity=16)

    def _connect_and_load(self, check_version: bool = False) -> None:
        """Read the rules and publish them; DBError or RuleError leave the rules as they were."""
        db = db_connect(self.db_url)
        try:
            if check_version:
                check_table_version(db, self.table, TABLE_VERSION)
            rows = self._fetch(db)
        finally:
            db.close()
        build_dialplans(rows, self.match_dynamic, self.core.pv_accessor)  # refuse what does not build
        if not rows:
            log_at(log, L_WARN, "no data in the db")
        table = self._table()
        with table.transaction():
            old = table.get(RULES)
            table.put(RULES, json.dumps(rows, default=str).encode(), extra=(old[1] if old else 0) + 1)

    def _fetch(self, db: Any) -> list[tuple[Any, ...]]:
        """The rows ordered by priority, read fetch_rows at a time."""
        d = db.dialect
        head = (f"SELECT {', '.join(d.ident(c) for c in self.columns)} FROM {d.ident(self.table)} "
                f"ORDER BY {d.ident(self.columns[1])}")
        rows: list[tuple[Any, ...]] = []
        while True:
            page = db.raw_query(f"{head} LIMIT {d.placeholder} OFFSET {d.placeholder}",
                                [self.fetch_rows, len(rows)])
            rows.extend(tuple(r) for r in page)
            if len(page) < self.fetch_rows:
                return rows

    def _current(self) -> dict[int, Dialplan]:
        entry = self._table().get(RULES)
        if entry is not None and entry[1] != self._generation:
            rows = [tuple(r) for r in json.loads(entry[0])]
            self.plans = build_dialplans(rows, self.match_dynamic, self.core.pv_accessor)
            self._generation = entry[1]
        return self.plans

    # ------------------------------------------------------------ fix-ups

    def fix_id(self, value: str) -> int | PVAccessor:
        if not value:
            raise ValueError("null param 1")
        if not value.startswith("$"):
            if not re.fullmatch(r"[+-]?[0-9]+", value):
                raise ValueError(f"bad number <{value}>")
            return int(value)
        spec = parse_pv(value)
        if spec.cls not in INPUT_CLASSES:
            raise ValueError("Unsupported Parameter TYPE")
        return self.core.pv_accessor(spec)

    def fix_srcdst(self, value: str) -> tuple[PVAccessor, Target | None]:
        if not value:
            raise ValueError("null param 2")
        src, slash, dst = value.partition("/")
        if slash and not dst:
            raise ValueError("failed to parse param 2")
        source = self.core.pv_accessor(src)
        if not slash:
            return source, None
        spec = parse_pv(dst)
        if spec.cls not in OUTPUT_CLASSES:
            raise ValueError("Unsupported Parameter TYPE")
        return source, Target(self.core.pv_accessor(spec), spec.cls)

    def fix_outvar(self, value: str) -> Target:
        spec = parse_pv(value)
        return Target(self.core.pv_accessor(spec), spec.cls)

    # ------------------------------------------------------------ translation

    def _dynamic(self, ctx: MessageContext | None) -> Any:
        """The patterns of an expression with variables, for this message (dpl_dynamic_pcre_list):
        one per value of the one $avp(...)[*] it holds, else the expression formatted."""
        def patterns(expr: str) -> list[re.Pattern[str]]:
            if ctx is None:
                return []
            texts = _dynamic_texts(ctx, expr, self.core)
            found = []
            for text in texts:
                try:
                    found.append(pcre(text))
                except re.error:
                    log_at(log, L_ERR, "failed to compile pcre expression: %s (%s)", expr, text)
            return found
        return patterns

    def _translate(self, ctx: MessageContext | None, plan: Dialplan, value: str,
                   want_output: bool) -> tuple[str | None, str] | None:
        """dp_translate_helper(): (output, attrs) of the first rule matching, None when none does
        (or its output cannot be built)."""
        if not value:
            log_at(log, L_WARN, "invalid or empty input string to be matched")
            return None
        dynamic = self._dynamic(ctx)
        rule = next((r for r in plan.candidates(value) if matches(r, value, dynamic)), None)
        if rule is None:
            log_at(log, L_DBG, "no matching rule")
            return None
        if len(rule.attrs) >= MAX_ATTRS:
            log_at(log, L_ERR, "out of memory for attributes")
            return None
        if not want_output:
            return None, rule.attrs
        ruri = _ruri
        if rule.dynamic_subst:
            for pattern in dynamic(rule.subst_exp):
                output = translate_output(rule, value, pattern, ctx, ruri)
                if output is not None:
                    return output, rule.attrs
            log_at(log, L_ERR, "the string %s matched the match_exp %s but not the subst_exp %s!",
                   value, rule.match_exp, rule.subst_exp)
            return None
        output = translate_output(rule, value, rule.subst_re, ctx, ruri)
        if output is None:
            log_at(log, L_ERR, "could not build the output")
            return None
        return output, rule.attrs

    def _update(self, ctx: MessageContext, target: Target | None, output: str | None, attrs: str) -> int:
        """dp_update(): the output to its target (unless empty), the attributes to attrs_pvar."""
        if target is not None and output:
            setter = getattr(target.accessor, "set", None)
            if setter is not None:
                setter(ctx, output)
            else:
                log_at(log, L_WARN, "target variable is read only - skipping setting its value")
            if self.append_branch and ctx.route_type & RouteType.FAILURE and target.is_ruri:
                ctx.branches.append(Branch(ctx.ruri, dst_uri=ctx.dst_uri, path=ctx.path_vec, q=ctx.ruri_q,
                                           flags=ctx.bflags, socket=ctx.force_socket))
        if self.attrs_pvar is not None:
            self.attrs_pvar.set(ctx, attrs)  # type: ignore[attr-defined]
        return 0

    def _plan(self, dpid: int) -> Dialplan | None:
        plan = self._current().get(dpid)
        if plan is None:
            log_at(log, L_DBG, "no information available for dpid %d", dpid)
        return plan

    def dp_translate(self, ctx: MessageContext, id: int | PVAccessor,
                     srcdst: tuple[PVAccessor, Target | None] | None = None) -> int:
        if isinstance(id, int):
            dpid = id
        else:
            value = id.get(ctx)
            if not isinstance(value, int):
                log_at(log, L_ERR, "no AVP, XAVP or SCRIPTVAR found (error in scripts)")
                log_at(log, L_ERR, "no dpid value")
                return -1
            dpid = value
        plan = self._plan(dpid)
        if plan is None:
            return -2
        source, target = srcdst if srcdst is not None else self.default_io
        value = source.get(ctx)
        if value is None or value == "":
            log_at(log, L_ERR, "no AVP, XAVP or SCRIPTVAR found (error in scripts)")
            log_at(log, L_ERR, "invalid param 2")
            return -1
        found = self._translate(ctx, plan, str(value), want_output=True)
        if found is None:
            return -1
        output, attrs = found
        return 1 if self._update(ctx, target, output, attrs) == 0 else -1

    def _replace(self, ctx: MessageContext, dpid: int, value: str, target: Target | None) -> int:
        plan = self._plan(dpid)
        if plan is None:
            return -2
        found = self._translate(ctx, plan, value, want_output=target is not None)
        if found is None:
            return -1
        output, attrs = found
        return 1 if self._update(ctx, target, output, attrs) == 0 else -1

    def dp_match(self, ctx: MessageContext, dpid: int, inval: str) -> int:
        return self._replace(ctx, dpid, inval, None)

    def dp_replace(self, ctx: MessageContext, dpid: int, inval: str, outvar: Target) -> int:
        return self._replace(ctx, dpid, inval, outvar)

    def dp_reload(self, ctx: MessageContext) -> int:
        try:
            self._connect_and_load()
        except (DBError, RuleError) as exc:
            log_at(log, L_ERR, "failed to reload rules fron database (db load): %s", exc)
            return -1
        log_at(log, L_DBG, "reloaded dialplan")
        return 1

    # ------------------------------------------------------------ RPC

    def rpc_reload(self) -> None:
        table = self._table()
        now = int(self.core.clock.time())
        with table.transaction():
            last = table.get(RELOADED)
            if last is not None and last[1] != 0 and last[1] > now - self.reload_delta:
                log_at(log, L_ERR, "ongoing reload")
                raise RpcFault(500, "ongoing reload")
            table.put(RELOADED, b"", extra=now)
        try:
            db = db_connect(self.db_url)
            db.close()
        except DBError:
            log_at(log, L_ERR, "failed to reload rules fron database (db connect)")
            raise RpcFault(500, "DB Connection Error") from None
        try:
            self._connect_and_load()
        except (DBError, RuleError) as exc:
            log_at(log, L_ERR, "failed to reload rules fron database (db load): %s", exc)
            raise RpcFault(500, "Dialplan Reload Failed") from None

    def rpc_translate(self, dpid: int, value: str) -> dict[str, str]:
        plan = self._current().get(dpid)
        if plan is None:
            log_at(log, L_ERR, "no information available for dpid %d", dpid)
            raise RpcFault(500, "Dialplan ID not matched")
        if not value:
            log_at(log, L_ERR, "empty input parameter")
            raise RpcFault(500, "Empty input parameter")
        if value.startswith("s:"):  # kamcmd's way of sending a number as a string
            value = value[2:]
        found = self._translate(None, plan, value, want_output=True)
        if found is None:
            raise RpcFault(500, "No translation")
        output, attrs = found
        return {"Output": output or "", "Attributes": attrs}

    def rpc_dump(self, dpid: int) -> dict[str, Any]:
        plan = self._current().get(dpid)
        if plan is None:
            log_at(log, L_ERR, "no information available for dpid %d", dpid)
            raise RpcFault(500, "Dialplan ID not matched")
        entries = [Member("ENTRY", {"PRIO": r.pr, "MATCHOP": r.matchop, "MATCHEXP": r.match_exp,
                                    "MATCHLEN": r.matchlen, "SUBSTEXP": r.subst_exp, "REPLEXP": r.repl_exp,
                                    "ATTRS": r.attrs})
                   for r in plan.rules()]
        return {"DPID": dpid, "ENTRIES": entries}


def _ruri(ctx: MessageContext) -> str:
    return ctx.ruri if ctx.is_request else ""


def _dynamic_texts(ctx: MessageContext, expr: str, core: CoreAPI) -> list[str]:
    """The expression formatted for the message; with exactly one $avp(...)[*] in it, once per
    value of that AVP (newest first). A `$` ending the expression is the regex anchor."""
    anchored = expr.endswith("$") and not expr.endswith("$$")
    try:
        parts = parse_format(expr[:-1] if anchored else expr)
    except PVSyntaxError:
        return []
    tail = "$" if anchored else ""
    every = [i for i, p in enumerate(parts)
             if not isinstance(p, Literal) and p.cls == "avp" and p.index == "*"]

    def render(replace: dict[int, str]) -> str:
        out = []
        for i, part in enumerate(parts):
            if isinstance(part, Literal):
                out.append(part.text)
            elif i in replace:
                out.append(replace[i])
            else:
                value = core.pv_accessor(part).get(ctx)
                out.append("<null>" if value is None else str(value))
        return "".join(out) + tail

    if len(every) == 1:
        spec = parts[every[0]]
        return [render({every[0]: str(v)}) for v in avp_values(ctx, spec.arg or "")]
    return [render({})]
