"""Reading Kamailio's C export tables: comments removed, preprocessor conditionals evaluated, tokens,
object-like macros expanded, and struct initializer arrays (`cmd_export_t cmds[] = {...};`) parsed
into their entries. Used by kamailio_manifest.py.
"""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("kamailio_manifest")

# Defines of Debian's build of Kamailio 5.6 that decide what the export tables hold (Makefile.defs).
BUILD_DEFINES = {"USE_TCP", "USE_TLS", "USE_SCTP", "USE_DNS_CACHE", "USE_DNS_FAILOVER", "USE_NAPTR",
                 "USE_DST_BLOCKLIST", "USE_RAW_SOCKS", "WITH_XAVP", "USE_MCAST", "STATS", "PKG_MALLOC",
                 "SHM_MEM", "USE_FUTEX", "HAVE_EPOLL", "HAVE_SELECT", "F_MALLOC", "Q_MALLOC", "TLSF_MALLOC",
                 "USE_DNS_CACHE_STATS", "USE_DST_BLOCKLIST_STATS", "MEM_JOIN_FREE", "__OS_linux",
                 "__CPU_x86_64", "STATISTICS", "USE_CORE_STATS", "TLS_HOOKS", "DNS_IP_HACK",
                 "HAVE_MSG_NOSIGNAL", "HAVE_TIMEGM", "HAVE_ALLOCA_H", "HAVE_SCHED_YIELD", "HAVE_IP_MREQN",
                 "USE_SIGACTION"}
CORE_HEADERS = ("core/route.h", "core/sr_module.h", "core/counters.h", "core/pvar.h", "core/rpc.h")
C_SIZES = {"int": 4, "long": 8, "char": 1, "short": 2}  # x86-64
TABLE_TYPES = ("cmd_export_t", "param_export_t", "pv_export_t", "rpc_export_t", "stat_export_t",
               "tr_export_t")


# ------------------------------------------------------------------ comments, preprocessor


def strip_comments(text: str) -> str:
    """C text without comments (replaced by a space, newlines kept) and with line continuations joined."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(" " + "\n" * text.count("\n", i, end))
            i = end
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return re.sub(r"\\\n", " ", "".join(out))


def eval_condition(expr: str, macros: dict[str, str]) -> bool:
    """A `#if` expression: defined(X), numbers, known macros; any other identifier is 0 (as in C)."""
    expr = re.sub(r"defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)",
                  lambda m: "1" if (m.group(1) or m.group(2)) in macros else "0", expr)

    def ident(m: re.Match[str]) -> str:
        value = macros.get(m.group(0), "0").strip() or "1"
        return value if re.fullmatch(r"\(?-?(0x[0-9a-fA-F]+|\d+)[uUlL]*\)?", value) else "0"

    expr = re.sub(r"\b[A-Za-z_]\w*\b", ident, expr)
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            return bool(eval(expr, {"__builtins__": {}}, {}))  # noqa: S307 - digits and operators only
    except Exception:  # noqa: BLE001 - what this reader cannot evaluate counts as false
        log.debug("cannot evaluate #if %s", expr)
        return False


def preprocess(text: str, macros: dict[str, str]) -> str:
    """Text with the lines of false conditional branches blanked; the object-like `#define`s of the
    live branches are added to `macros` and `#undef`s applied."""
    lines = text.split("\n")
    stack: list[tuple[bool, bool]] = []  # (this branch is live, a branch of this #if was taken)
    live = True
    for index, line in enumerate(lines):
        m = re.match(r"\s*#\s*(\w+)\s*(.*)", line)
        if not m:
            if not live:
                lines[index] = ""
            continue
        directive, rest = m.group(1), m.group(2).strip()
        lines[index] = ""
        word = rest.split()[0] if rest else ""
        if directive in ("if", "ifdef", "ifndef"):
            if not live:
                stack.append((False, True))
            else:
                cond = (word in macros if directive == "ifdef" else
                        word not in macros if directive == "ifndef" else eval_condition(rest, macros))
                stack.append((cond, cond))
        elif directive == "elif" and stack:
            taken = stack[-1][1]
            cond = all(s[0] for s in stack[:-1]) and not taken and eval_condition(rest, macros)
            stack[-1] = (cond, taken or cond)
        elif directive == "else" and stack:
            stack[-1] = (not stack[-1][1], True)
        elif directive == "endif" and stack:
            stack.pop()
        elif live and directive == "define":
            d = re.match(r"(\w+)(\()?\s*(.*)", rest)
            if d and not d.group(2):
                macros[d.group(1)] = d.group(3).strip()
        elif live and directive == "undef":
            macros.pop(word, None)
        live = all(s[0] for s in stack)
    return "\n".join(lines)


# ------------------------------------------------------------------ tokens, initializers

TOKEN = re.compile(r"""
    (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)*')
  | (?P<num>0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*)
  | (?P<id>[A-Za-z_]\w*)
  | (?P<op><<|>>|->|&&|\|\||[{}()\[\],;|&~+\-*/.!<>=?:^%])
  | (?P<ws>\s+)
""", re.X)


@dataclass(frozen=True)
class Tok:
    kind: str  # str, chr, num, id, op
    text: str

    @property
    def string(self) -> str:
        return bytes(self.text[1:-1], "utf-8").decode("unicode_escape")


def tokenize(text: str) -> list[Tok]:
    tokens: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            pos += 1  # a stray character (`#` of a stringizing macro): skipped
            continue
        pos = m.end()
        if m.lastgroup != "ws":
            tokens.append(Tok(m.lastgroup or "", m.group(0)))
    return tokens


def expand(tokens: list[Tok], macros: dict[str, str], depth: int = 0) -> list[Tok]:
    """Object-like macros expanded (as far as 8 levels deep); adjacent string literals joined."""
    out: list[Tok] = []
    for tok in tokens:
        body = macros.get(tok.text) if tok.kind == "id" and depth < 8 else None
        if body is not None and body != tok.text:
            out.extend(expand(tokenize(body), macros, depth + 1))
        else:
            out.append(tok)
    joined: list[Tok] = []
    for tok in out:
        if tok.kind == "str" and joined and joined[-1].kind == "str":
            joined[-1] = Tok("str", joined[-1].text[:-1] + tok.text[1:])
        else:
            joined.append(tok)
    return joined


Field = list[Any]  # tokens, and nested lists of fields for brace groups


def parse_braces(tokens: list[Tok], start: int) -> tuple[list[Field], int]:
    """The fields of the brace group opening at tokens[start], and the index after its `}`."""
    fields: list[Field] = []
    current: Field = []
    i = start + 1
    depth = 0  # parentheses
    while i < len(tokens):
        tok = tokens[i]
        if tok.text == "{" and depth == 0:
            group, i = parse_braces(tokens, i)
            current.append(group)
            continue
        if tok.text == "}" and depth == 0:
            if current:
                fields.append(current)
            return fields, i + 1
        depth += {"(": 1, ")": -1}.get(tok.text, 0)
        if tok.text == "," and depth == 0:
            fields.append(current)
            current = []
        else:
            current.append(tok)
        i += 1
    return fields, i


def flatten(item: Any) -> list[Tok]:
    if isinstance(item, Tok):
        return [item]
    out: list[Tok] = []
    for sub in item:
        out.extend(flatten(sub))
    return out


def first_string(item: Any) -> str | None:
    """The first string literal in a field: `"name"`, `{"name", 4}`, `str_init("name")`."""
    return next((t.string for t in flatten(item) if t.kind == "str"), None)


def is_null(item: Field) -> bool:
    words = [t.text for t in flatten(item) if t.text not in "()*" and t.text != "void"]
    return not words or all(w in ("0", "NULL") for w in words)


def identifiers(item: Any) -> list[str]:
    return [t.text for t in flatten(item) if t.kind == "id"]


def evaluate(item: Any, consts: dict[str, int]) -> int | None:
    """The value of an integer constant expression (flags, counts), or None when it is not one."""
    parts: list[str] = []
    toks = flatten(item)
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.text == "sizeof" and i + 3 < len(toks) and toks[i + 2].kind == "str":
            parts.append(str(len(toks[i + 2].string) + 1))
            i += 4
            continue
        if tok.text == "sizeof" and i + 3 < len(toks) and toks[i + 2].text in C_SIZES:
            parts.append(str(C_SIZES[toks[i + 2].text]))
            i += 4
            continue
        if tok.kind == "num":
            parts.append(re.sub(r"[uUlL]+$", "", tok.text))
        elif tok.kind == "id" and tok.text in consts:
            parts.append(str(consts[tok.text]))
        elif tok.kind == "op" and tok.text in ("(", ")", "|", "&", "~", "+", "-", "<<", ">>", "*"):
            parts.append(tok.text)
        else:
            return None
        i += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # "1 (2)": not an expression, None below
            return int(eval(" ".join(parts), {"__builtins__": {}}, {})) if parts else None  # noqa: S307
    except Exception:  # noqa: BLE001 - not a constant expression
        return None


def integer_constants(macros: dict[str, str]) -> dict[str, int]:
    """Every macro whose body is an integer constant expression, with its value."""
    consts: dict[str, int] = {}
    for _ in range(4):  # macros defined through other macros
        for name, body in macros.items():
            value = evaluate(tokenize(body), consts) if body else None
            if value is not None:
                consts[name] = value
    return consts


# ------------------------------------------------------------------ a source folder's tables


@dataclass
class Table:
    kind: str
    name: str
    file: str
    entries: list[list[Field]]


@dataclass
class SourceFiles:
    """The C files of a folder, read: preprocessed text and tokens per file, the export tables."""

    dir: Path
    macros: dict[str, str]
    texts: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, list[Tok]] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)

    def add(self, path: Path) -> None:
        rel = str(path.relative_to(self.dir))
        text = preprocess(strip_comments(path.read_text(errors="replace")), self.macros)
        self.texts[rel] = text
        self.tokens[rel] = tokenize(text)

    def find_tables(self) -> None:
        for rel, tokens in self.tokens.items():
            self.tables += _tables_in(rel, tokens, self.macros)

    def tables_of(self, kind: str) -> list[Table]:
        return [t for t in self.tables if t.kind == kind]

    def table_named(self, kind: str, name: str, prefer_file: str) -> Table | None:
        matches = [t for t in self.tables if t.kind == kind and t.name == name]
        same_file = [t for t in matches if t.file == prefer_file]
        return (same_file or matches or [None])[0]

    def referenced(self, table: Table) -> bool:
        """Whether a table's name is used besides its definition (so something registers it)."""
        pattern = re.compile(r"\b" + re.escape(table.name) + r"\b")
        return sum(len(pattern.findall(text)) for text in self.texts.values()) > 1

    def struct_initializers(self, struct: str) -> list[tuple[str, str, list[Field]]]:
        """(variable, file, fields) of every `struct <struct> NAME = {...}`."""
        found = []
        for rel, tokens in self.tokens.items():
            for i in range(len(tokens) - 4):
                if (tokens[i].text == "struct" and tokens[i + 1].text == struct and tokens[i + 2].kind == "id"
                        and tokens[i + 3].text == "=" and tokens[i + 4].text == "{"):
                    end = _matching_brace(tokens, i + 4)
                    fields, _ = parse_braces(expand(tokens[i + 4:end + 1], self.macros), 0)
                    found.append((tokens[i + 2].text, rel, fields))
        return found

    def function_body(self, name: str) -> str:
        """The text of a C function's body, or "" when it is not found."""
        if not name:
            return ""
        head = re.compile(r"^[\w \t*]*\b" + re.escape(name) + r"\s*\([^;{]*\)\s*\{", re.M)
        for text in self.texts.values():
            m = head.search(text)
            if m:
                depth, i = 1, m.end()
                while depth and i < len(text):
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                return text[m.end():i]
        return ""


def _tables_in(rel: str, tokens: list[Tok], macros: dict[str, str]) -> list[Table]:
    """Every `<xxx_export_t> NAME[...] = { ... }` in a file's tokens."""
    tables = []
    for i, tok in enumerate(tokens):
        if tok.kind != "id" or tok.text not in TABLE_TYPES:
            continue
        if i + 2 >= len(tokens) or tokens[i + 1].kind != "id" or tokens[i + 2].text != "[":
            continue
        j = i + 3
        while j < len(tokens) and tokens[j].text != "]":
            j += 1
        if j + 2 >= len(tokens) or tokens[j + 1].text != "=" or tokens[j + 2].text != "{":
            continue
        end = _matching_brace(tokens, j + 2)
        entries, _ = parse_braces(expand(tokens[j + 2:end + 1], macros), 0)
        entries = [e[0] if len(e) == 1 and isinstance(e[0], list) else e for e in entries]
        tables.append(Table(tok.text, tokens[i + 1].text, rel, entries))
    return tables


def _matching_brace(tokens: list[Tok], start: int) -> int:
    depth = 0
    for k in range(start, len(tokens)):
        if tokens[k].text == "{":
            depth += 1
        elif tokens[k].text == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(tokens) - 1


def makefile_defines(module_dir: Path) -> set[str]:
    """The -D flags a module's Makefile adds (all of them: the ifeq blocks hold for Debian's build)."""
    makefile = module_dir / "Makefile"
    if not makefile.is_file():
        return set()
    found: set[str] = set()
    for line in makefile.read_text(errors="replace").splitlines():
        if "DEFS" in line and not line.lstrip().startswith("#"):
            found.update(re.findall(r"-D(\w+)", line))
    return found


def base_macros(src: Path) -> dict[str, str]:
    """The build's defines and the macros of the core headers the export tables use."""
    macros: dict[str, str] = {name: "1" for name in BUILD_DEFINES}
    for header in CORE_HEADERS:
        if (src / header).is_file():
            preprocess(strip_comments((src / header).read_text(errors="replace")), macros)
    return macros


def read_folder(folder: Path, base: dict[str, str], files: list[Path] | None = None) -> SourceFiles:
    """A module folder's C sources (headers first, a coarse stand-in for #include), tables found."""
    macros = dict(base)
    macros.update({name: "1" for name in makefile_defines(folder)})
    if files is None:
        files = [p for p in folder.rglob("*") if p.suffix in (".c", ".h") and "doc" not in p.parts]
        files.sort(key=lambda p: (p.suffix != ".h", str(p)))
    source = SourceFiles(folder, macros)
    for path in files:
        source.add(path)
    source.find_tables()
    return source
