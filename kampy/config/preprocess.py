"""Kamailio's config preprocessor as a pass of its own (what `kamailio --cfg-print` evaluates).

It handles every `#!`/`!!` directive of Kamailio 5.6 (plus `#!ifexp`, `#!defexp[s]` and `#![try]undef`
from 5.7+), `include_file`/`import_file`, define substitution in token positions and `#!subst` rules in
string literals and pseudo-variables, while keeping a map from each output line back to its file and line.

The scan follows Kamailio's lexer (src/core/cfg.lex): a define is replaced wherever the lexer would return
an ID token (not inside strings, comments, pseudo-variables, selects or `event_route[...]` names), and its
value is pushed back in front of the remaining input and scanned again, so defines nest and a value can
open a string or a comment just as in Kamailio.  Comments are kept for the parser.

This file holds the scan itself; the directives are in pp_directives, `#!subst` rules and string
literals in pp_subst, `#!ifexp` expressions in pp_expr, the lexical patterns in pp_lex.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kampy.config.ast import Pos
from kampy.config.pp_directives import Directives
from kampy.config.pp_lex import (
    ACTIVE, COMMENT_EDGE, DQ_STRING, EVENT_ROUTE_NAME, IPV6, KEYWORDS, LOADMODULE_ARG, PV_NAME, SELECT, SKIP,
    SQ_STRING,
)
from kampy.config.pp_state import Cond, Ctx, Define, normalize_source, read_source
from kampy.config.pp_subst import Subst, decode_string, encode_string, expand_env_pvs, parse_subst
from kampy.errors import ConfigError, Diagnostic, register_source
from kampy.version import KAMAILIO_VERSION

MAX_EXPANSIONS = 200  # nested define expansions without progress: a define that refers to itself

@dataclass
class Preprocessed:
    text: str  # the preprocessed config text
    lines: list[tuple[str, int]]  # lines[i] = (original file, original 1-based line) of output line i+1
    defines: dict[str, str]  # final define table (value "" for valueless defines)
    # the same in definition order with value None for a valueless define, and Kamailio's define type
    ppdefines: list[tuple[str, str | None, int]] = field(default_factory=list, compare=False)
    # what `kamailio --cfg-print` shows: includes and #!ifdef blocks evaluated, defines left as written
    printed: str = field(default="", repr=False, compare=False)
    name: str = "<none>"  # the main file
    warnings: list[Diagnostic] = field(default_factory=list, compare=False)

    def origin(self, line: int) -> tuple[str, int]:
        """Output line (1-based) -> (file, line) it came from; past the end maps to the last line."""
        if not self.lines:
            return (self.name, 1)
        return self.lines[min(max(line, 1), len(self.lines)) - 1]


def preprocess_file(path: str | Path, defines: Mapping[str, str | None] | None = None,
                    substs: Sequence[tuple[str, str]] = ()) -> Preprocessed:
    """Preprocess the config file at `path`; `defines` are `-A NAME[=VALUE]` from the command line,
    `substs` its `--subst`/`--substdef`/`--substdefs` as (kind, "/regex/replacement/flags")."""
    name = str(path)
    text = read_source(Path(path), None, name)
    return _Preprocessor(defines, substs).run(name, text, Path(path).parent)


def preprocess_text(
    text: str,
    filename: str = "<string>",
    defines: Mapping[str, str | None] | None = None,
    base_dir: Path | None = None,
) -> Preprocessed:
    """Preprocess config text; included files are looked up in the working directory, then `base_dir`."""
    text = normalize_source(text)
    register_source(filename, text)
    return _Preprocessor(defines).run(
        filename, text, base_dir if base_dir is not None else Path(filename).parent
    )


def format_cfg_print(pp: Preprocessed) -> str:
    """The text `kamailio --cfg-print` prints: the config with includes inlined and inactive
    #!ifdef blocks and the #!ifdef/#!else/#!endif lines removed; defines are not substituted."""
    return pp.printed


# ---------------------------------------------------------------- the scanner


class _Preprocessor(Directives):
    def __init__(self, defines: Mapping[str, str | None] | None, substs: Sequence[tuple[str, str]] = ()):
        self.defines: dict[str, Define] = {}
        self.substs: list[Subst] = []
        self.conds: list[Cond] = []
        self.inactive = 0  # how many entries of `conds` are false: skipping while > 0
        self.includes: list[tuple[str, Path]] = []  # (shown name, resolved path) of open files
        self.compat = "max"  # #!KAMAILIO / #!SER / #!MAXCOMPAT: how `$name` is lexed
        self.ignored_closers: list[Pos] = []
        self.stray_endifs: list[Pos] = []
        self.warnings: list[Diagnostic] = []
        self.long_strings: list[tuple[Pos, int]] = []  # strings that span lines: (start, last line)
        self.out: list[str] = []
        self.printed: list[str] = []
        self.lines: list[tuple[str, int]] = []
        self.line_open = False  # the current output line has text
        self._define_core()
        for name, value in (defines or {}).items():
            self._define_command_line(name, value)
        for kind, expr in substs:
            self._subst_command_line(kind, expr)

    # -- defines from outside the config

    def _define_core(self) -> None:
        major, minor, patch = KAMAILIO_VERSION
        for name in (f"KAMAILIO_{major}", f"KAMAILIO_{major}_{minor}", f"KAMAILIO_{major}_{minor}_{patch}"):
            self.defines[name] = Define(None, None)

    def _define_command_line(self, name: str, value: str | None) -> None:
        # `-A NAME=VALUE` may also arrive as {"NAME=VALUE": None}
        if value is None and "=" in name:
            name, value = name.split("=", 1)
        if name in self.defines and self.defines[name].pos is None and not name.startswith("KAMAILIO_"):
            raise ConfigError.at(Pos("<command line>", 0, 0), f"-A {name}: {name} is already defined")
        self.defines[name] = Define(value, None)

    def _subst_command_line(self, kind: str, expr: str) -> None:
        """`--subst`/`--substdef`/`--substdefs` (pp_subst_add, pp_substdef_add)."""
        where = Pos("<command line>", 0, 0)
        try:
            rule, name, replacement = parse_subst(expr)
        except ValueError as exc:
            raise ConfigError.at(where, f"failed to add {kind} expression: {expr}: {exc}") from None
        self.substs.append(rule)
        if kind != "subst":
            if not name:
                raise ConfigError.at(where, f"failed to add {kind} expression: {expr}: no define name")
            value = expand_env_pvs(replacement)
            self.defines[name] = Define(f'"{value}"' if kind == "substdefs" else value, None)

    # -- entry

    def run(self, name: str, text: str, base_dir: Path | None) -> Preprocessed:
        self.includes.append((name, self._resolve(Path(name))))
        ctx = Ctx(name, text, base_dir)
        self._scan(ctx)
        self._check_balanced()
        if self.line_open:
            self.lines.append((ctx.name, ctx.line))
        return Preprocessed(
            text="".join(self.out),
            lines=self.lines,
            defines={k: (d.value if d.value is not None else "") for k, d in self.defines.items()},
            ppdefines=[(k, d.value, d.dtype) for k, d in self.defines.items()],
            printed="".join(self.printed),
            name=name,
            warnings=self.warnings,
        )

    @staticmethod
    def _resolve(path: Path) -> Path:
        try:
            return path.resolve()
        except OSError:
            return path.absolute()

    def _check_balanced(self) -> None:
        """Kamailio counts every #!ifdef/#!ifndef up and every #!endif down, a stray one too, and
        refuses the config when the count does not end at 0 ('different number of preprocessor
        directives'); an #!ifdef left open is then accepted when a stray #!endif pays for it."""
        level = len(self.conds) - len(self.stray_endifs)
        if level == 0:
            for c in self.conds:
                self._warn(c.pos, f"#!{c.directive} is never closed (a stray #!endif above balances "
                                  "Kamailio's count, so it accepts the config): it runs to the file's end")
            return
        kamailio = (f"Kamailio: 'different number of preprocessor directives: {abs(level)} more "
                    + ("#!if[n]def as #!endif'" if level > 0 else "#!endif as #!if[n]def'"))
        if level > 0:
            diagnostics = [Diagnostic(c.pos, f"#!{c.directive} is never closed: add #!endif ({kamailio})")
                           for c in self.conds]
        else:
            diagnostics = [Diagnostic(p, f"#!endif without a matching #!ifdef or #!ifndef ({kamailio})")
                           for p in self.stray_endifs]
        diagnostics += [
            Diagnostic(p, "this line is not an #!else/#!endif for Kamailio: only spaces and a line break may "
                       "follow the directive, so it is read as a comment", "note")
            for p in self.ignored_closers
        ]  # fmt: skip
        raise ConfigError(diagnostics)

    def _warn(self, pos: Pos, message: str) -> None:
        self.warnings.append(Diagnostic(pos, message, "warning"))

    # -- output: every output newline records the (file, line) its line came from

    def _put(self, ctx: Ctx, text: str, advance: bool) -> None:
        """Append output; `advance`: the newlines in `text` are the file's own (verbatim copy)."""
        if not text:
            return
        self.out.append(text)
        n = text.count("\n")
        if n == 0:
            self.line_open = True
            return
        if advance:
            self.lines.extend((ctx.name, ctx.line + i) for i in range(n))
            ctx.line += n
        else:
            self.lines.extend([(ctx.name, ctx.line)] * n)
        self.line_open = not text.endswith("\n")

    def _print(self, ctx: Ctx, start: int, end: int) -> None:
        """Add the file's own text in [start, end) to the --cfg-print output (spliced define values are
        not the file's text)."""
        start = max(start, ctx.virtual_end)
        if end > start:
            self.printed.append(ctx.text[start:end])

    def _copy(self, ctx: Ctx, start: int, end: int) -> None:
        self._put(ctx, ctx.text[start:end], advance=True)
        self._print(ctx, start, end)

    def _blank(self, ctx: Ctx, start: int, end: int) -> None:
        """Drop [start, end) from the output but keep its line breaks, so lines stay aligned."""
        self._put(ctx, "\n" * ctx.text.count("\n", start, end), advance=True)

    def _end_line(self, ctx: Ctx) -> None:
        if self.line_open:
            self._put(ctx, "\n", advance=False)

    # -- the scan loop

    def _scan(self, ctx: Ctx) -> None:
        while ctx.pos < len(ctx.text):
            if self.inactive:
                self._skip(ctx)
            else:
                self._active_step(ctx)

    def _skip(self, ctx: Ctx) -> None:
        """Inside a false #!if*: only nested #!if*/#!else/#!endif count, nothing is lexed (as in
        Kamailio's IFDEF_SKIP state, which also ignores comments and quotes)."""
        m = SKIP.search(ctx.text, ctx.pos)
        if m is None:
            self._blank(ctx, ctx.pos, len(ctx.text))
            ctx.pos = len(ctx.text)
            return
        self._blank(ctx, ctx.pos, m.start())
        ctx.pos = m.start()
        if m.group("open"):
            self._conditional(ctx, m.group("open"), m.end() - 1, evaluate=False)
        elif m.group("ignored"):
            self.ignored_closers.append(ctx.at(m.start()))
            ctx.pos = m.end()
        else:
            self._else_endif(ctx, m.group("close"), m.end())

    def _active_step(self, ctx: Ctx) -> None:
        text = ctx.text
        m = ACTIVE.search(text, ctx.pos)
        if m is None:
            self._copy(ctx, ctx.pos, len(text))
            ctx.pos = len(text)
            return
        start = m.start()
        self._copy(ctx, ctx.pos, start)
        ctx.pos = start
        kind = m.lastgroup
        if kind == "dq":
            self._string(ctx, DQ_STRING)
        elif kind == "sq":
            self._string(ctx, SQ_STRING)
        elif kind == "block":
            self._block_comment(ctx)
        elif kind in ("hash", "bang"):
            self._hash(ctx, m.group(0))
        elif kind == "pv":
            self._pseudo_variable(ctx)
        elif kind == "sel":
            end = SELECT.match(text, start + 1).end()  # type: ignore[union-attr]
            self._copy(ctx, start, end)
            ctx.pos = end
        elif kind == "word":
            self._word(ctx, m.group(0), m.end())
        else:  # num / v6: a number, NUM_ID or an IPv6 address: never substituted
            v6 = IPV6.match(text, start) if (kind == "v6" or text.startswith(":", m.end())) else None
            end = max(m.end(), v6.end()) if v6 else m.end()
            self._copy(ctx, start, end)
            ctx.pos = end

    # -- tokens

    def _string(self, ctx: Ctx, pattern: re.Pattern[str]) -> None:
        start = ctx.pos
        m = pattern.match(ctx.text, start)
        if m is None:
            raise ConfigError(self._unterminated(ctx.at(start)))
        end = m.end()
        if start >= ctx.virtual_end and "\n" in m.group(0):
            self.long_strings.append((ctx.at(start), ctx.line + m.group(0).count("\n")))
        ctx.pos = end
        if not self.substs:
            self._copy(ctx, start, end)
            return
        raw = ctx.text[start + 1 : end - 1]
        value = decode_string(raw) if (pattern is DQ_STRING and "\\" in raw) else raw
        new = self._apply_substs(value)
        if new == value:
            self._copy(ctx, start, end)
            return
        # the rewritten literal has no raw line breaks: pad after it to keep lines aligned
        self._put(ctx, encode_string(new), advance=False)
        self._blank(ctx, start, end)
        self._print(ctx, start, end)

    def _unterminated(self, pos: Pos) -> list[Diagnostic]:
        """A quote left open at the end of the file. Strings may span lines, so a missing quote
        usually shows much earlier, where a string first swallows a line break: point there."""
        first = next(((p, end) for p, end in self.long_strings if p.file == pos.file), None)
        if first is None:
            return [Diagnostic(pos, "unterminated string: the closing quote is missing")]
        start, end = first
        return [Diagnostic(start, f"unterminated string: this string runs over {end - start.line + 1} lines, "
                                  f"to line {end}: its closing quote is probably missing"),
                Diagnostic(pos, "...so this quote is left open at the end of the file", "note")]

    def _apply_substs(self, value: str) -> str:
        for rule in self.substs:
            value = rule.apply(value)
        return value

    def _block_comment(self, ctx: Ctx) -> None:
        """/* ... */ comments nest in Kamailio; they are kept for the parser."""
        depth, i = 0, ctx.pos
        for m in COMMENT_EDGE.finditer(ctx.text, ctx.pos):
            depth += 1 if m.group(0) == "/*" else -1
            if depth == 0:
                i = m.end()
                break
        else:  # Kamailio logs 'unexpected EOF: 1 comments open' and accepts the config
            self._warn(ctx.at(ctx.pos), "unterminated /* comment: the closing */ is missing, so the rest of "
                                        "the file is a comment (Kamailio: 'unexpected EOF: 1 comments open')")
            self._blank(ctx, ctx.pos, len(ctx.text))
            self._print(ctx, ctx.pos, len(ctx.text))
            ctx.pos = len(ctx.text)
            return
        self._copy(ctx, ctx.pos, i)
        ctx.pos = i

    def _line_end(self, ctx: Ctx, start: int) -> int:
        end = ctx.text.find("\n", start)
        return len(ctx.text) if end < 0 else end

    def _pseudo_variable(self, ctx: Ctx) -> None:
        text, start = ctx.text, ctx.pos
        end = start + 1
        m = PV_NAME.match(text, end)
        if m is not None:
            end = m.end()
        has_parens = text.startswith("(", end)
        if has_parens:
            depth, line_end = 0, self._line_end(ctx, end)
            for i in range(end, line_end):
                if text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    depth -= 1
                    if depth == 0:
                        end = i + 1
                        break
            else:
                end = line_end
        ctx.pos = end
        # Kamailio runs #!subst rules over $name(...) tokens, and over $name only in #!KAMAILIO mode
        token = text[start:end]
        if self.substs and (has_parens or self.compat == "kamailio"):
            new = self._apply_substs(token)
            if new != token:
                self._put(ctx, new, advance=False)
                self._blank(ctx, start, end)
                self._print(ctx, start, end)
                return
        self._copy(ctx, start, end)

    def _word(self, ctx: Ctx, word: str, end: int) -> None:
        start = ctx.pos
        if word in ("include_file", "import_file"):
            self._include(ctx, word, start, end)
            return
        if word == "event_route":
            m = EVENT_ROUTE_NAME.match(ctx.text, end)
            end = m.end() if m else end
        elif word in ("loadmodule", "loadmodulex"):
            self._module_define(ctx, end)
        elif word not in KEYWORDS and word in self.defines:
            self._expand(ctx, word, start, end)
            return
        self._copy(ctx, start, end)
        ctx.pos = end

    def _module_define(self, ctx: Ctx, end: int) -> None:
        """Kamailio defines MOD_<name> when it loads a module, so `#!ifdef MOD_tls` works below it."""
        m = LOADMODULE_ARG.match(ctx.text, end)
        if m is None:
            return
        path = m.group(1) if m.group(1) is not None else m.group(2)
        name = path.rsplit("/", 1)[-1]
        name = name[:-3] if name.endswith(".so") else name
        if name:
            self.defines.setdefault(f"MOD_{name}", Define(None, ctx.at(ctx.pos)))

    def _expand(self, ctx: Ctx, word: str, start: int, end: int) -> None:
        """Push the define's value back in front of the input, as Kamailio's lexer does (unput), so it
        is scanned again: nested defines expand, and a value may even open a string or a comment."""
        if start < ctx.virtual_end:
            ctx.nesting += 1
            if ctx.nesting > MAX_EXPANSIONS:
                raise ConfigError.at(
                    ctx.at(start), f"define {word} keeps expanding: does it refer to itself?"
                )
        else:
            ctx.nesting = 1
            self._print(ctx, start, end)
        value = (self.defines[word].value or "").replace("\n", " ")
        rest_virtual = max(ctx.virtual_end - end, 0)
        ctx.text = value + ctx.text[end:]
        ctx.pos = 0
        ctx.virtual_end = len(value) + rest_virtual

    # -- `#` and `!!`: directives, or a line comment

