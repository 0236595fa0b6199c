"""The preprocessor's directives: `#!define` and its kin, `#!defenv`, `#!subst`, `#!ifdef`/`#!ifndef`/
`#!ifexp`/`#!else`/`#!endif`, the compatibility headers and `include_file`/`import_file`.

`Directives` is a part of the preprocessor (kampy.config.preprocess): its methods work on the
scanner's state and output."""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

from kampy.config.ast import Pos
from kampy.config.pp_expr import Expr, ExprError, Value
from kampy.config.pp_lex import (
    COMPAT_HEADERS, DEFINE_KINDS, DIRECTIVE, DQ_STRING, ENV_KINDS, LATER_DIRECTIVES, NAME, SQ_STRING,
    SUBST_KINDS, UNDEF_KINDS, WS,
)
from kampy.config.pp_state import Cond, Ctx, Define, read_source
from kampy.config.pp_subst import decode_string, expand_env_pvs, parse_subst
from kampy.errors import ConfigError

log = logging.getLogger("kampy.config.preprocess")

MAX_INCLUDE_DEPTH = 10  # Kamailio's MAX_INCLUDE_DEPTH


class Directives:
    """The directive handlers of the preprocessor's scanner."""

    def _hash(self, ctx: Ctx, mark: str) -> None:
        text, start = ctx.text, ctx.pos
        m = DIRECTIVE.match(text, start)
        word = m.group(1) if m else ""
        after = m.end() if m else start + len(mark)
        nxt = text[after : after + 1]
        if word in LATER_DIRECTIVES and nxt and nxt in WS:
            self._warn(ctx.at(start), f"#!{word} is a directive of Kamailio 5.7 and later: Kamailio 5.6 "
                                      "reads this line as a comment (kampy follows 5.7)")
        if word in DEFINE_KINDS and nxt and nxt in WS:
            self._define(ctx, DEFINE_KINDS[word], after)
        elif word in UNDEF_KINDS and nxt and nxt in WS:
            self._undefine(ctx, UNDEF_KINDS[word], after)
        elif word in ("ifdef", "ifndef", "ifexp") and nxt and nxt in WS:
            self._conditional(ctx, word, after, evaluate=True)
        elif word in ("else", "endif") and self._only_space_to_eol(ctx, after, newline=True):
            self._else_endif(ctx, word, after)
        elif word in ENV_KINDS:
            self._defenv(ctx, word, after)
        elif word in SUBST_KINDS:
            self._subst(ctx, word, after)
        elif word in ("include_file", "import_file"):
            self._include(ctx, word, start, after)
        elif mark == "!!":  # not a directive: the logical not operator, twice
            self._copy(ctx, start, start + 1)
            ctx.pos = start + 1
        elif mark == "#" and word in COMPAT_HEADERS and self._only_space_to_eol(ctx, after):
            self.compat = {"KAMAILIO": "kamailio", "OPENSER": "kamailio", "SER": "ser"}.get(word, "max")
            eol = self._line_end(ctx, after)
            self._print(ctx, start, eol)
            ctx.pos = eol
        else:
            if word in ("else", "endif"):
                self.ignored_closers.append(ctx.at(start))
            eol = self._line_end(ctx, start)
            self._copy(ctx, start, eol)
            ctx.pos = eol

    def _only_space_to_eol(self, ctx: Ctx, i: int, newline: bool = False) -> bool:
        """Only blanks up to the end of the line; `newline`: and a line break ends it (Kamailio's
        {CR}: an #!endif on a last line without one is no directive)."""
        eol = self._line_end(ctx, i)
        return all(c in WS for c in ctx.text[i:eol]) and (eol < len(ctx.text) or not newline)

    def _finish_directive(self, ctx: Ctx, start: int, end: int, printed: bool) -> None:
        """The directive text [start, end) becomes empty lines in the output."""
        self._blank(ctx, start, end)
        if printed:
            self._print(ctx, start, end)
        ctx.pos = end

    def _name_after(self, ctx: Ctx, i: int, directive: str) -> tuple[str, int]:
        while i < len(ctx.text) and ctx.text[i] in WS:
            i += 1
        m = NAME.match(ctx.text, i)
        if m is None:
            raise ConfigError.at(ctx.at(i), f"#!{directive} needs a name (letters, digits and '_')")
        if ctx.text.startswith("-", m.end()):
            raise ConfigError.at(ctx.at(m.end()), f"#!{directive} {m.group(0)}: '-' is not allowed in a name")
        return m.group(0), m.end()

    def _rest_of_line(self, ctx: Ctx, i: int, directive: str) -> int:
        """Text after a directive's name is ignored by Kamailio (it echoes it); warn, then end the line."""
        eol = self._line_end(ctx, i)
        junk = ctx.text[i:eol].strip(WS)
        if junk:
            self._warn(ctx.at(i), f"text after #!{directive} is ignored: {junk}")
        return min(eol + 1, len(ctx.text))

    # -- defines

    def _define(self, ctx: Ctx, kind: str, i: int) -> None:
        start = ctx.pos
        name, i = self._name_after(ctx, i, kind)
        while i < len(ctx.text) and ctx.text[i] in WS:
            i += 1
        value, end = self._define_value(ctx, i)
        if kind in ("defexp", "defexps") and value is not None:
            value = self._defexp(ctx, start, kind, value)
        self._set_define(ctx, kind, name, value, ctx.at(start))
        self._finish_directive(ctx, start, end, printed=True)

    def _define_value(self, ctx: Ctx, i: int) -> tuple[str | None, int]:
        """The value runs to the end of the line, comments included (as in Kamailio); a backslash
        right before the line break continues it on the next line."""
        text = ctx.text
        if i >= len(text) or text[i] == "\n":
            return None, min(i + 1, len(text))
        parts = []
        while True:
            eol = text.find("\n", i)
            if eol < 0:
                parts.append(text[i:])
                return "".join(parts), len(text)
            if eol > i and text[eol - 1] == "\\":
                parts.append(text[i : eol - 1])
                i = eol + 1
                continue
            parts.append(text[i:eol])
            return "".join(parts), eol + 1

    def _defexp(self, ctx: Ctx, start: int, kind: str, expression: str) -> str:
        value = self._evaluate(ctx, start, kind, expression)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ConfigError.at(ctx.at(start), f"#!{kind}: the expression has no numeric value")
            value = str(int(value))
        return f'"{value}"' if kind == "defexps" else value

    def _set_define(self, ctx: Ctx, kind: str, name: str, value: str | None, pos: Pos) -> None:
        old = self.defines.get(name)
        if old is not None and kind == "trydef":
            return
        if old is not None and kind != "redefine":
            raise ConfigError.at(
                pos, f"{name} is already defined ({old.where()}); use #!redefine to change it or #!trydef "
                "to define it only when it is not defined yet",
            )  # fmt: skip
        self.defines[name] = Define(value, pos, {"trydef": 1, "redefine": 2}.get(kind, 0))

    def _undefine(self, ctx: Ctx, kind: str, i: int) -> None:
        start = ctx.pos
        name, i = self._name_after(ctx, i, kind)
        if name not in self.defines:
            if kind == "undef":
                self._warn(ctx.at(start), f"#!undef {name}: {name} is not defined")
        else:
            del self.defines[name]
        self._finish_directive(ctx, start, self._rest_of_line(ctx, i, kind), printed=True)

    def _defenv(self, ctx: Ctx, kind: str, i: int) -> None:
        """#!defenv NAME=ENVVAR or #!defenv ENVVAR: define NAME (or ENVVAR) with the variable's value;
        `defenvs` quotes it, the `try` forms skip a variable that is not set."""
        start, text = ctx.pos, ctx.text
        while i < len(text) and text[i] in " \t":
            i += 1
        m = re.compile(r"[^ \t\r\n]+").match(text, i)
        if m is None:
            raise ConfigError.at(ctx.at(start), f"#!{kind} needs NAME=ENVVAR or ENVVAR")
        token = m.group(0)
        name, _, var = token.partition("=")
        if "=" in token and not var:
            raise ConfigError.at(ctx.at(start), f"#!{kind} {token}: the environment variable name is missing")
        var = var or name
        env = os.environ.get(var)
        if env is None and not kind.startswith("try"):
            raise ConfigError.at(ctx.at(start), f"#!{kind}: environment variable {var} is not set")
        if env is not None:
            value = f'"{env}"' if kind.endswith("s") else env
            self._set_define(ctx, "define", name, value, ctx.at(start))
        self._finish_directive(ctx, start, self._rest_of_line(ctx, m.end(), kind), printed=True)

    # -- #!subst, #!substdef, #!substdefs

    def _subst(self, ctx: Ctx, kind: str, i: int) -> None:
        start, text = ctx.pos, ctx.text
        while i < len(text) and text[i] in WS:
            i += 1
        quote = text[i : i + 1]
        m = (DQ_STRING if quote == '"' else SQ_STRING).match(text, i) if quote in ('"', "'") else None
        if m is None:
            raise ConfigError.at(ctx.at(start), f'#!{kind} needs a quoted "/regex/replacement/flags" string')
        expr = m.group(0)[1:-1]
        expr = self._apply_substs(decode_string(expr) if quote == '"' else expr)
        try:
            rule, name, replacement = parse_subst(expr)
        except ValueError as exc:
            raise ConfigError.at(ctx.at(start), f'bad #!{kind} "{expr}": {exc}') from None
        self.substs.append(rule)
        if kind != "subst":
            if not name:
                raise ConfigError.at(ctx.at(start), f'bad #!{kind} "{expr}": the define name is empty')
            value = expand_env_pvs(replacement)
            self._set_define(
                ctx, "define", name, f'"{value}"' if kind == "substdefs" else value, ctx.at(start)
            )
        # the rest of the line is ordinary config text (usually nothing or a comment)
        self._finish_directive(ctx, start, m.end(), printed=True)

    # -- #!ifdef, #!ifndef, #!ifexp, #!else, #!endif

    def _conditional(self, ctx: Ctx, kind: str, i: int, evaluate: bool) -> None:
        start = ctx.pos
        if kind == "ifexp":
            eol = self._line_end(ctx, i)
            active = self._truthy(self._evaluate(ctx, start, kind, ctx.text[i:eol])) if evaluate else False
            end = min(eol + 1, len(ctx.text))
        elif evaluate:
            name, i = self._name_after(ctx, i, kind)
            active = (name in self.defines) == (kind == "ifdef")
            end = self._rest_of_line(ctx, i, kind)
        else:  # skipped: only the nesting matters (an #!else may still flip it)
            m = NAME.match(ctx.text, i + len(ctx.text[i:]) - len(ctx.text[i:].lstrip(WS)))
            active = bool(m) and (m.group(0) in self.defines) == (kind == "ifdef")
            end = min(self._line_end(ctx, i) + 1, len(ctx.text))
        self.conds.append(Cond(active, ctx.at(start), kind))
        self.inactive += not active
        self._finish_directive(ctx, start, end, printed=False)

    def _else_endif(self, ctx: Ctx, kind: str, i: int) -> None:
        start = ctx.pos
        end = min(self._line_end(ctx, i) + 1, len(ctx.text))
        if not self.conds:  # Kamailio warns and reads on
            self._warn(ctx.at(start), f"#!{kind} without an open #!ifdef or #!ifndef is ignored (Kamailio: "
                                      "'invalid position for preprocessor directive')")
            if kind == "endif":
                self.stray_endifs.append(ctx.at(start))
            self._finish_directive(ctx, start, end, printed=False)
            return
        cond = self.conds[-1]
        if kind == "else":
            cond.active = not cond.active
            self.inactive += -1 if cond.active else 1
        else:
            self.conds.pop()
            self.inactive -= not cond.active
        self._finish_directive(ctx, start, end, printed=False)

    def _evaluate(self, ctx: Ctx, start: int, kind: str, expression: str) -> Value:
        try:
            return Expr(expression, self.defines).evaluate()
        except ExprError as exc:
            raise ConfigError.at(
                ctx.at(start), f"bad #!{kind} expression '{expression.strip()}': {exc}"
            ) from None

    @staticmethod
    def _truthy(value: Value) -> bool:
        return bool(value) if isinstance(value, str) else value != 0  # NaN counts as true, as in snexpr

    # -- include_file / import_file

    def _include(self, ctx: Ctx, kind: str, start: int, i: int) -> None:
        text = ctx.text
        while i < len(text) and text[i] in " \t":
            i += 1
        m = re.compile(r"[^ \t\r\n]+").match(text, i)
        if m is None:
            raise ConfigError.at(
                ctx.at(start), f'{kind} needs a file name in double quotes: {kind} "file.cfg"'
            )
        token = self._apply_substs(m.group(0))
        if len(token) < 2 or token[0] != '"' or token[-1] != '"':
            raise ConfigError.at(
                ctx.at(start), f"{kind}: the file name must be in double quotes, not {token}"
            )
        fname = re.sub(r"\\(.)", lambda e: {"t": "\t", "n": "\n", "r": "\r"}.get(e[1], e[1]), token[1:-1])
        if not fname:
            raise ConfigError.at(ctx.at(start), f"{kind}: the file name is empty")
        pos = ctx.at(start)
        self._blank(ctx, start, m.end())
        ctx.pos = m.end()
        path = self._find_include(ctx, fname)
        if path is None:
            if kind == "include_file":
                tried = "" if Path(fname).is_absolute() else f" (also tried {self._sibling(ctx, fname)})"
                raise ConfigError.at(pos, f'cannot open included file "{fname}"{tried}')
            log.debug("%s: import_file %s not found: ignored", pos, fname)
            return
        self._include_path(ctx, path, pos)

    @staticmethod
    def _sibling(ctx: Ctx, fname: str) -> Path:
        return (ctx.base_dir if ctx.base_dir is not None else Path(ctx.name).parent) / fname

    def _find_include(self, ctx: Ctx, fname: str) -> Path | None:
        """As Kamailio: the name as given (relative to the working directory), then relative to the
        directory of the file that includes it."""
        path = Path(fname)
        if path.is_file():
            return path
        if path.is_absolute():
            return None
        sibling = self._sibling(ctx, fname)
        return sibling if sibling.is_file() else None

    def _include_path(self, ctx: Ctx, path: Path, pos: Pos) -> None:
        resolved = self._resolve(path)
        chain = [shown for shown, p in self.includes]
        if any(p == resolved for _, p in self.includes):
            raise ConfigError.at(pos, "include cycle: " + " -> ".join([*chain, str(path)]))
        if len(self.includes) > MAX_INCLUDE_DEPTH:
            raise ConfigError.at(pos, f"too many nested includes (Kamailio allows {MAX_INCLUDE_DEPTH}): "
                                 + " -> ".join([*chain, str(path)]))  # fmt: skip
        self._end_line(ctx)
        self.includes.append((str(path), resolved))
        self._scan(Ctx(str(path), read_source(path, pos, str(path)), path.parent))
        self._end_line(ctx)
        self.includes.pop()
