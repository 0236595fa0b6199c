"""Dialplan rules as Kamailio's dialplan module builds and applies them (dp_db.c, dp_repl.c).

The rules of each dialplan id are kept in indexes by match length (ascending, the rules of length
0 last), each index holding its rules in priority order. A value is matched against the index
of its length, then against the rules of length 0; the first rule that matches gives the
attributes and, with its subst_exp and repl_exp, the output: repl_exp with `\\N` replaced by the
groups subst_exp captured in the value (the output is the replacement alone, not the value with
the matched part replaced)."""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kampy.api import PVSyntaxError, Replacement, SubstError, compile_posix, parse_pv_at, parse_replacement

EQUAL_OP, REGEX_OP, FNMATCH_OP = 0, 1, 2
MAX_REPLACE_WITH = 10
MAX_OUTPUT = 127     # MAX_PHONE_NB_DIGITS: an output this long fails
MAX_ATTRS = 255      # DP_MAX_ATTRS_LEN



class RuleError(ValueError):
    pass


def pcre(pattern: str) -> re.Pattern[str]:
    """A PCRE pattern (pcre_compile() with no option) for Python's `re`."""
    return compile_posix(pcre_to_python(pattern))


def pcre_to_python(pattern: str) -> str:
    """PCRE's spellings `re` lacks, in `re`'s: `\\Q...\\E` (quoted), `(?<name>`, `\\z` and
    `\\Z`; its POSIX classes (`[[:digit:]]`) are compile_posix()'s."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "Q":
                end = pattern.find("\\E", i + 2)
                end = len(pattern) if end < 0 else end
                out.append(re.escape(pattern[i + 2:end]))
                i = end + 2
                continue
            out.append({"z": r"\Z", "Z": r"(?=\n?\Z)", "E": ""}.get(escaped, pattern[i:i + 2]))
            i += 2
        elif pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def has_pv(text: str, resolve: Callable[[str], Any]) -> bool:
    """dpl_check_pv(): whether the text holds a pseudo-variable."""
    i = text.find("$")
    while 0 <= i < len(text) - 1:
        try:
            spec, end = parse_pv_at(text, i)
            resolve(spec)
            return True
        except (PVSyntaxError, LookupError, ValueError):
            i = text.find("$", i + 1)
    return False


@dataclass
class Rule:
    dpid: int
    pr: int
    matchop: int
    matchlen: int
    match_exp: str
    subst_exp: str
    repl_exp: str
    attrs: str
    match_re: re.Pattern[str] | None = None
    subst_re: re.Pattern[str] | None = None
    repl: Replacement | None = None
    dynamic_match: bool = False   # match_dynamic and match_exp holds variables
    dynamic_subst: bool = False


def build_rule(row: tuple[Any, ...], match_dynamic: bool, resolve: Callable[[str], Any]) -> Rule:
    """build_rule(): a rule from a row of the dialplan table (columns in COLUMNS' order)."""
    dpid, pr, matchop, match_exp, match_len, subst_exp, repl_exp, attrs = row
    if matchop not in (EQUAL_OP, REGEX_OP, FNMATCH_OP):
        raise RuleError("invalid value for match operator")
    for index, value in ((3, match_exp), (5, subst_exp), (6, repl_exp), (7, attrs)):
        if value is None:
            raise RuleError(f" values {index} is NULL - not allowed")
    rule = Rule(int(dpid), int(pr), matchop, int(match_len or 0), str(match_exp), str(subst_exp),
                str(repl_exp), str(attrs))
    if matchop == REGEX_OP:
        rule.dynamic_match = match_dynamic and has_pv(rule.match_exp, resolve)
        if not rule.dynamic_match:
            rule.match_re = _compile(rule.match_exp, "match")
    if rule.repl_exp:
        try:
            rule.repl = parse_replacement(rule.repl_exp, resolve)[0]
        except SubstError:
            raise RuleError(f"failed to compile replacing expression {rule.repl_exp}") from None
    groups = 0
    if rule.subst_exp:
        rule.dynamic_subst = match_dynamic and has_pv(rule.subst_exp, resolve)
        if not rule.dynamic_subst:
            rule.subst_re = _compile(rule.subst_exp, "subst")
            groups = rule.subst_re.groups
            if groups > MAX_REPLACE_WITH:
                raise RuleError(f"subst expression {rule.subst_exp} has too many sub-expressions")
    refers = rule.repl.max_group if rule.repl else 0
    if not (rule.dynamic_match or rule.dynamic_subst) and refers > groups:
        raise RuleError(f"repl_exp {rule.repl_exp} refers to {rule.repl.max_group} sub-expressions, "
                        f"but subst_exp {rule.subst_exp} has only {groups}")
    return rule


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return pcre(pattern)
    except re.error as exc:
        raise RuleError(f"failed to compile {what} expression {pattern}: {exc}") from None


@dataclass
class Dialplan:
    """The rules of one dialplan id: (match length, rules) in Kamailio's index order."""

    dpid: int
    indexes: list[tuple[int, list[Rule]]] = field(default_factory=list)

    def add(self, rule: Rule) -> None:
        """add_rule2hash(): into the index of its length, a new index going before the first
        longer one (length 0 last)."""
        for i, (length, rules) in enumerate(self.indexes):
            if length == rule.matchlen:
                rules.append(rule)
                return
            if rule.matchlen != 0 and (length > rule.matchlen if length else True):
                self.indexes.insert(i, (rule.matchlen, [rule]))
                return
        self.indexes.append((rule.matchlen, [rule]))

    def rules(self) -> list[Rule]:
        return [rule for _, rules in self.indexes for rule in rules]

    def candidates(self, value: str) -> list[Rule]:
        """The rules tried for `value`: its length's index (or the first of length 0), then,
        after an index of its length, those of length 0."""
        for i, (length, rules) in enumerate(self.indexes):
            if not length or length == len(value):
                tried = list(rules)
                if length:
                    tried += next((r for n, r in self.indexes[i + 1:] if not n), [])
                return tried
        return []


def build_dialplans(rows: list[tuple[Any, ...]], match_dynamic: bool,
                    resolve: Callable[[str], Any]) -> dict[int, Dialplan]:
    plans: dict[int, Dialplan] = {}
    for row in rows:
        rule = build_rule(row, match_dynamic, resolve)
        plans.setdefault(rule.dpid, Dialplan(rule.dpid)).add(rule)
    return plans


def matches(rule: Rule, value: str, dynamic: Callable[[str], list[re.Pattern[str]]]) -> bool:
    if rule.matchop == REGEX_OP:
        patterns = dynamic(rule.match_exp) if rule.dynamic_match else [rule.match_re]
        return any(p is not None and p.search(value) for p in patterns)
    if rule.matchop == EQUAL_OP:
        return rule.match_exp == value
    return fnmatch.fnmatchcase(value, rule.match_exp)


def translate_output(rule: Rule, value: str, subst_re: re.Pattern[str] | None, ctx: Any,
                     ruri: Callable[[Any], str]) -> str | None:
    """rule_translate(): the output ("" without repl_exp), None when subst_exp does not match
    the value or the output is too long."""
    repl = rule.repl
    if repl is None:
        return ""
    match = None
    if subst_re is not None:
        if repl.max_group > subst_re.groups:
            return None
        match = subst_re.search(value)
        if match is None:
            return None
    if subst_re is None or not repl.tokens:
        return repl.text if repl.text else None
    out = repl.expand(ctx, match, ruri)
    if ctx is None:  # no message (an RPC): a variable is left as written, as Kamailio leaves it
        out = _keep_variables(repl, match)
    return out if len(out) < MAX_OUTPUT else None


def _keep_variables(repl: Replacement, match: re.Match[str] | None) -> str:
    out: list[str] = []
    pos = 0
    for token in repl.tokens:
        if token.kind in ("pv", "uri"):
            continue  # skipped: its text is copied with the text that follows
        out.append(repl.text[pos:token.offset])
        pos = token.offset + token.size
        if token.kind == "char":
            out.append(token.value)
        elif match is not None and token.value <= (match.re.groups or 0):
            out.append(match.group(token.value) or "")
    out.append(repl.text[pos:])
    return "".join(out)
