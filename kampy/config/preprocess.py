"""Kamailio's config preprocessor as a pass of its own (what `kamailio --cfg-print` evaluates).

It handles every `#!`/`!!` directive of Kamailio 5.6 (plus `#!ifexp`, `#!defexp[s]` and `#![try]undef`
from 5.7+), `include_file`/`import_file`, define substitution in token positions and `#!subst` rules in
string literals and pseudo-variables, while keeping a map from each output line back to its file and line.

The scan follows Kamailio's lexer (src/core/cfg.lex): a define is replaced wherever the lexer would return
an ID token (not inside strings, comments, pseudo-variables, selects or `event_route[...]` names), and its
value is pushed back in front of the remaining input and scanned again, so defines nest and a value can
open a string or a comment just as in Kamailio.  Comments are kept for the parser.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kampy.config.ast import Pos
from kampy.errors import ConfigError, Diagnostic, register_source
from kampy.version import KAMAILIO_VERSION

log = logging.getLogger(__name__)

MAX_INCLUDE_DEPTH = 10  # Kamailio's MAX_INCLUDE_DEPTH
MAX_EXPANSIONS = 200  # nested define expansions without progress: a define that refers to itself

# Words the lexer returns as keywords: a define with one of these names is never substituted.
_KEYWORDS = frozenset(
    """
    ADVERTISE INET INET6 IPV4 IPV6 IPv4 IPv6 NAME SCTP SSLV2 SSLV23 SSLV3 SSLv2 SSLv23 SSLv3 TCP TLS
    TLSV1 TLSv1 UDP WS WSS add_local_rport add_rport add_tcp_alias advertise advertised_address
    advertised_port af alias and async_nonblock async_usleep async_workers async_workers_group
    auto_aliases auto_bind_ipv6 avpflags bind_ipv6_link_local bool branch_route break case cfg_reset
    cfg_select cfgengine check_via children chroot clear_branches core_log corelog debug default
    defined desc descr description disable disable_core_dump disable_sctp disable_tcp disable_tls
    dns dns_cache_del_nonexp dns_cache_delete_nonexpired dns_cache_flags dns_cache_gc_interval
    dns_cache_init dns_cache_max_ttl dns_cache_mem dns_cache_min_ttl dns_cache_negative_ttl
    dns_cache_rec_pref dns_naptr_ignore_rfc dns_retr_no dns_retr_time dns_sctp_pref
    dns_sctp_preference dns_search_full_match dns_servers_no dns_slow_query_ms dns_srv_lb
    dns_srv_loadbalancing dns_tcp_pref dns_tcp_preference dns_tls_pref dns_tls_preference
    dns_try_ipv6 dns_try_naptr dns_udp_pref dns_udp_preference dns_use_search_list drop
    dst_blocklist_expire dst_blocklist_gc_interval dst_blocklist_init dst_blocklist_mem
    dst_blocklist_sctp_imask dst_blocklist_tcp_imask dst_blocklist_tls_imask dst_blocklist_ttl
    dst_blocklist_udp_imask dst_ip dst_port else enable enable_sctp enable_tls eq error event_route
    event_route_callback exec exit exit_timeout failure_route false flags force_rport
    force_send_socket force_tcp_alias fork fork_delay forward forward_sctp forward_tcp forward_tls
    forward_udp from_uri gid group hdr_name_extra_chars http_reply_hack http_reply_parse ieq if
    import_file include_file ine inet inet6 ip_free_bind ip_nonlocal_bind ipfreebind ipv4 ipv6
    ipv6_hex_style isavpflagset isflagset kemi latency_cfg_log latency_limit_action
    latency_limit_cfg latency_limit_db latency_log listen loadmodule loadmodulex loadpath
    local_rport log log_color log_engine_data log_engine_type log_facility log_name log_prefix
    log_prefix_mode log_stderror max_branches max_len max_recursive_level max_while_loops maxbuffer
    mcast mcast_loopback mcast_ttl mem_dbg mem_join mem_log mem_safety mem_status_mode mem_summary
    memdbg memlog method mhomed mlock_pages mod modinit_delay modparam modparamx mpath msg_time
    myself name ne no not off on onreply_route onsend_route onsend_route_callback onsend_route_reply
    open_files_limit or phone2tel pmtu_discovery port pre_routing_callback prefix proto
    pv_buffer_size pv_buffer_slots pv_cache_action pv_cache_limit real_time received_route_callback
    received_route_mode remove_branch reply_route reply_route_callback reply_to_via request_route
    resetavpflag resetflag return rev_dns revert_uri rewritehost rewritehostport
    rewritehostporttrans rewriteport rewriteuri rewriteuser rewriteuserpass route route_locks_size
    rt_fast_timer_prio rt_ftimer_policy rt_ftimer_prio rt_policy rt_prio rt_stimer_policy
    rt_stimer_prio rt_timer1_policy rt_timer1_prio rt_timer2_policy rt_timer2_prio run_dir rundir
    sctp sctp_children selval ser_kill_timeout server_header server_id server_signature
    set_advertised_address set_advertised_port set_forward_close set_forward_no_connect
    set_reply_close set_reply_no_connect setavpflag setflag seth sethost sethostport
    sethostporttrans sethp sethpt setp setport setu setup seturi setuser setuserpass shm
    shm_force_alloc shm_mem shm_mem_size sip_parser_log sip_parser_log_oneline sip_parser_mode
    sip_warning snd_af snd_ip snd_port snd_proto socket_workers sql_buffer_size src_ip src_port
    sslv2 sslv23 sslv3 statistics stats_name_separator status strempty strip strip_tail strlen
    switch tcp tcp_accept_aliases tcp_accept_haproxy tcp_accept_hep3 tcp_accept_no_cl
    tcp_accept_unique tcp_async tcp_buf_write tcp_children tcp_clone_rcvbuf tcp_conn_wq_max
    tcp_connect_timeout tcp_connection_lifetime tcp_connection_match tcp_crlf_ping tcp_defer_accept
    tcp_delayed_ack tcp_fd_cache tcp_keepalive tcp_keepcnt tcp_keepidle tcp_keepintvl tcp_linger2
    tcp_max_connections tcp_no_connect tcp_poll_method tcp_rd_buf_size tcp_reuse_port
    tcp_script_mode tcp_send_timeout tcp_source_ipv4 tcp_source_ipv6 tcp_syncnt tcp_wait_data
    tcp_wq_blk_size tcp_wq_max tls tls_ca_list tls_certificate tls_disable tls_enable
    tls_handshake_timeout tls_log tls_max_connections tls_method tls_port_no tls_private_key
    tls_require_certificate tls_send_timeout tls_verify tlslog tlsv1 to_af to_ip to_port to_proto
    to_uri tos true udp udp4_raw udp4_raw_mtu udp4_raw_ttl udp_mtu udp_mtu_try_proto uid uri
    uri_host_extra_chars use_dns_cache use_dns_failover use_dst_blocklist user user_agent_header
    userphone verbose_startup version_table virtual wait_worker1_mode wait_worker1_time
    wait_worker1_usleep wdir while workdir ws wss xavp_via_fields xavp_via_params yes
    """.split()
)


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
    text = _read(Path(path), None, name)
    return _Preprocessor(defines, substs).run(name, text, Path(path).parent)


def preprocess_text(
    text: str,
    filename: str = "<string>",
    defines: Mapping[str, str | None] | None = None,
    base_dir: Path | None = None,
) -> Preprocessed:
    """Preprocess config text; included files are looked up in the working directory, then `base_dir`."""
    text = _normalize(text)
    register_source(filename, text)
    return _Preprocessor(defines).run(
        filename, text, base_dir if base_dir is not None else Path(filename).parent
    )


def format_cfg_print(pp: Preprocessed) -> str:
    """The text `kamailio --cfg-print` prints: the config with includes inlined and inactive
    #!ifdef blocks and the #!ifdef/#!else/#!endif lines removed; defines are not substituted."""
    return pp.printed


# ---------------------------------------------------------------- internals


def _normalize(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


def _read(path: Path, pos: Pos | None, shown: str) -> str:
    try:
        return _normalize(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        message = f"cannot read config file {shown}: {exc.strerror or exc}"
        if pos is None:
            raise ConfigError.at(Pos(shown, 0, 0), message) from exc
        raise ConfigError.at(pos, message) from exc


@dataclass
class _Define:
    value: str | None
    pos: Pos | None  # None: from the command line or the core
    dtype: int = 0   # Kamailio's define type: 0 #!define, 1 #!trydef, 2 #!redefine (core.ppdefines_full)

    def where(self) -> str:
        return f"at {self.pos.file}:{self.pos.line}" if self.pos else "on the command line"


@dataclass
class _Cond:
    active: bool
    pos: Pos
    directive: str


@dataclass
class _Ctx:
    """One file being scanned.  Expanding a define splices its value in front of the rest of
    `text`; the first `virtual_end` characters are then not from the file."""

    name: str
    text: str
    base_dir: Path | None
    pos: int = 0
    line: int = 1
    virtual_end: int = 0
    nesting: int = 0

    def at(self, index: int) -> Pos:
        start = self.text.rfind("\n", 0, index) + 1
        return Pos(self.name, self.line, index - start + 1)


_WS = " \t\b\r"  # Kamailio's EAT_ABLE
_ACTIVE = re.compile(
    r"""(?P<dq>")|(?P<sq>')|(?P<block>/\*)|(?P<hash>\#|//)|(?P<bang>!!)|(?P<pv>\$)|(?P<sel>@)
    |(?P<v6>::[0-9A-Fa-f])|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[0-9][A-Za-z0-9_]*)""",
    re.X,
)
_SKIP = re.compile(
    r"(?:\#!|!!)(?:(?P<open>ifdef|ifndef|ifexp)[ \t\b\r]|(?P<close>else|endif)[ \t\b\r]*(?=\n)"
    r"|(?P<ignored>else|endif)(?![A-Za-z0-9_]))"
)
_DIRECTIVE = re.compile(r"(?:\#!|!!)([A-Za-z0-9_]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DQ_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SQ_STRING = re.compile(r"'[^']*'")
_COMMENT_EDGE = re.compile(r"/\*|\*/")
_PV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SELECT = re.compile(r"[A-Za-z0-9_.\[\]]*")
_HEX4 = r"[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    rf"(?:{_HEX4}:){{7}}{_HEX4}|(?:{_HEX4}:){{1,7}}(?::{_HEX4}){{1,7}}|:(?::{_HEX4}){{1,7}}"
    rf"|(?:{_HEX4}:){{1,7}}:|::"
)
_EVENT_ROUTE_NAME = re.compile(r"\s*\[[^\]\n]*\]")
_LOADMODULE_ARG = re.compile(r"""[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)')""")
_STRING_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{2,3}|[nrat\"\\]|\n)")
_ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\", "\n": ""}

_DEFINE_KINDS = {
    "define": "define", "def": "define", "trydefine": "trydef", "trydef": "trydef",
    "redefine": "redefine", "redef": "redefine", "defexp": "defexp", "defexps": "defexps",
}  # fmt: skip
_UNDEF_KINDS = {"undefine": "undef", "undef": "undef", "tryundefine": "tryundef", "tryundef": "tryundef"}
# directives kampy takes from Kamailio 5.7+, which 5.6 reads as comments
_LATER_DIRECTIVES = {"defexp", "defexps", "undef", "undefine", "tryundef", "tryundefine", "ifexp"}
_ENV_KINDS = {"defenv", "defenvs", "trydefenv", "trydefenvs"}
_SUBST_KINDS = {"subst", "substdef", "substdefs"}
_COMPAT_HEADERS = {"KAMAILIO", "OPENSER", "SER", "MAXCOMPAT", "ALL"}


def _decode_string(raw: str) -> str:
    """A double-quoted literal's content the way Kamailio's lexer reads it (unknown escapes stay)."""

    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "x":
            return chr(int(esc[1:], 16))
        if esc[0].isdigit():
            return chr(int(esc, 8) & 0xFF)
        return _ESCAPES[esc]

    return _STRING_ESCAPE.sub(one, raw)


def _encode_string(value: str) -> str:
    value = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value.replace("\n", "\\n").replace("\r", "\\r") + '"'


def _expand_env_pvs(text: str) -> str:
    """`$env(NAME)` in a substitution is the one pseudo-variable that means something before any
    message exists; other pseudo-variables are kept as written."""
    return re.sub(r"\$env\(([^()]*)\)", lambda m: os.environ.get(m.group(1), ""), text)


# ---------------------------------------------------------------- #!subst rules

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "word": r"\w",
    "punct": "".join("\\" + c for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e",
}  # fmt: skip
_REPL_PV = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*(?:\([^()]*\))?|\([^()]*\))?")


@dataclass
class _Subst:
    regex: re.Pattern[str]
    parts: list[str | int]  # literal text or a group number
    replace_all: bool

    def apply(self, value: str) -> str:
        def group(m: re.Match[str], n: int) -> str:
            # a reference past the regex's groups is empty, as POSIX regexec() leaves it unset
            return (m.group(n) or "") if n <= self.regex.groups else ""

        def build(m: re.Match[str]) -> str:
            return "".join(p if isinstance(p, str) else group(m, p) for p in self.parts)

        # Kamailio's subst_run() gives up on an empty match ("Matched string is empty, invalid
        # regexp?") and the string stays as it was
        matches = self.regex.finditer(value) if self.replace_all else [self.regex.search(value)]
        if any(m is not None and m.start() == m.end() for m in matches):
            return value
        return self.regex.sub(build, value, count=0 if self.replace_all else 1)


def _posix_to_python(regex: str) -> str:
    """POSIX extended regex (what Kamailio's regcomp takes) to Python: bracket classes and \\< \\>."""
    regex = re.sub(r"\[:([a-z]+):\]", lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), regex)
    return regex.replace(r"\<", r"\b").replace(r"\>", r"\b")


def _find_separator(expr: str, start: int, sep: str) -> int:
    """Index of the next `sep` not preceded by a backslash (Kamailio's own rule), or -1."""
    i = expr.find(sep, start)
    while i > 0 and expr[i - 1] == "\\":
        i = expr.find(sep, i + 1)
    return i


def _parse_replacement(expr: str, start: int, sep: str) -> tuple[list[str | int], int]:
    """Kamailio's parse_repl: the replacement from `start` up to the unescaped separator."""
    parts: list[str | int] = []
    literal: list[str] = []
    i = start
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr):
            nxt = expr[i + 1]
            if nxt.isdigit():
                parts.append("".join(literal))
                literal = []
                parts.append(int(nxt))
            else:
                literal.append({"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
        elif c == "$":
            m = _REPL_PV.match(expr, i)
            assert m is not None  # the pattern matches a lone `$`
            literal.append(_expand_env_pvs(m.group(0)))
            i = m.end()
        elif c == sep:
            parts.append("".join(literal))
            return [p for p in parts if p != ""], i
        else:
            literal.append(c)
            i += 1
    raise ValueError(f"no closing '{sep}' after the replacement")


def _parse_subst(expr: str) -> tuple[_Subst, str, str]:
    """`/regex/replacement/flags` (any separator) -> (rule, regex text, replacement text as written)."""
    if len(expr) < 3:
        raise ValueError("the expression is too short")
    sep = expr[0]
    if sep == "\\":
        raise ValueError("a backslash cannot be the separator")
    re_end = _find_separator(expr, 1, sep)
    if re_end < 0:
        raise ValueError(f"no closing '{sep}' after the regular expression")
    parts, repl_end = _parse_replacement(expr, re_end + 1, sep)
    flags, replace_all = re.MULTILINE, False
    for flag in expr[repl_end + 1 :]:
        if flag == "i":
            flags |= re.IGNORECASE
        elif flag == "s":
            flags = (flags & ~re.MULTILINE) | re.DOTALL
        elif flag == "g":
            replace_all = True
        else:
            raise ValueError(f"unknown flag '{flag}' (Kamailio knows i, s and g)")
    try:
        regex = re.compile(_posix_to_python(expr[1:re_end]), flags)
    except re.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
    raw_end = _find_separator(expr, re_end + 1, sep)
    return _Subst(regex, parts, replace_all), expr[1:re_end], expr[re_end + 1 : raw_end]


# ---------------------------------------------------------------- #!ifexp expressions

_EXPR_LEVELS: tuple[tuple[str, ...], ...] = (
    (",",),
    ("||",),
    ("&&",),
    ("^",),
    ("|",),
    ("&",),
    ("<", "<=", ">", ">=", "==", "!="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)  # fmt: skip  (Kamailio's snexpr precedence: note | binds tighter than ^)
_EXPR_OPS = ("**", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||") + tuple("*/%+-<>&|^!=,")
_EXPR_TOKEN = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)|(?P<num>[0-9][0-9.]*)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<word>(?:[$@-Z\[\\\]_`a-{}~\x7f-\U0010ffff])[$#0-9@-Z\[\\\]_`a-{}~\x7f-\U0010ffff]*)
    |(?P<paren>[()])""",
    re.X | re.S,
)
_Value = float | str


class _ExprError(Exception):
    pass


def _number(text: str) -> float:
    """snexpr_parse_number: digits with at most one dot, anything else is NaN."""
    if text.count(".") > 1 or not re.fullmatch(r"[0-9.]*[0-9][0-9.]*", text):
        return math.nan
    return float(text)


def _format_number(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{value:.4g}"


class _Expr:
    """Parses and evaluates a #!ifexp / #!defexp expression like Kamailio's snexpr: a name is a
    define (undefined -> 0, defined without value -> 1, with a value -> that value as a string)."""

    def __init__(self, text: str, defines: Mapping[str, _Define]):
        self.tokens = self._tokenize(text)
        self.i = 0
        self.defines = defines

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        i = 0
        while i < len(text):
            m = _EXPR_TOKEN.match(text, i)
            if m is not None:
                if m.lastgroup != "space":
                    tokens.append((m.lastgroup or "", m.group(0)))
                i = m.end()
                continue
            op = next((o for o in _EXPR_OPS if text.startswith(o, i)), None)
            if op is None:
                raise _ExprError(f"unexpected character {text[i]!r}")
            tokens.append(("op", op))
            i += len(op)
        return tokens

    def evaluate(self) -> _Value:
        if not self.tokens:
            raise _ExprError("the expression is empty")
        tree = self._level(0)
        if self.i < len(self.tokens):
            raise _ExprError(f"unexpected {self.tokens[self.i][1]!r}")
        return self._eval(tree)

    # parsing: trees are tuples ("num"|"str"|"var", value) / ("un", op, a) / ("bin", op, a, b)
    def _peek_op(self, ops: tuple[str, ...]) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "op" and self.tokens[self.i][1] in ops:
            return self.tokens[self.i][1]
        return None

    def _level(self, n: int) -> tuple:
        if n == len(_EXPR_LEVELS):
            return self._power()
        left = self._level(n + 1)
        while (op := self._peek_op(_EXPR_LEVELS[n])) is not None:
            self.i += 1
            left = ("bin", op, left, self._level(n + 1))
        if self._peek_op(("=",)):
            raise _ExprError("assignments are not supported")
        return left

    def _power(self) -> tuple:
        base = self._unary()
        if self._peek_op(("**",)):
            self.i += 1
            return ("bin", "**", base, self._power())
        return base

    def _unary(self) -> tuple:
        op = self._peek_op(("-", "!", "^"))
        if op is not None:
            self.i += 1
            return ("un", op, self._unary())
        return self._primary()

    def _primary(self) -> tuple:
        if self.i >= len(self.tokens):
            raise _ExprError("the expression ends where a value is expected")
        kind, text = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            value = _number(text)
            if math.isnan(value):
                raise _ExprError(f"bad number {text!r}")
            return ("num", value)
        if kind == "str":
            return (
                "str",
                re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), text[1:-1]),
            )
        if kind == "word":
            if self.i < len(self.tokens) and self.tokens[self.i] == ("paren", "("):
                raise _ExprError(f"{text}(...): functions are not supported")
            return ("var", text)
        if (kind, text) == ("paren", "("):
            inner = self._level(0)
            if self.i >= len(self.tokens) or self.tokens[self.i] != ("paren", ")"):
                raise _ExprError("missing ')'")
            self.i += 1
            return inner
        raise _ExprError(f"unexpected {text!r} where a value is expected")

    # evaluation
    def _eval(self, node: tuple) -> _Value:
        kind = node[0]
        if kind in ("num", "str"):
            return node[1]
        if kind == "var":
            define = self.defines.get(node[1])
            if define is None:
                return 0.0
            if define.value is None:
                return 1.0
            value = define.value
            if len(value) >= 2 and value[0] in "\"'" and value[0] == value[-1]:
                return value[1:-1]
            return value
        if kind == "un":
            value = self._numeric(self._eval(node[2]), node[1])
            if node[1] == "-":
                return -value
            if node[1] == "!":
                return 1.0 if value == 0 else 0.0
            return float(~self._int(value))
        return self._binary(node[1], node[2], node[3])

    @staticmethod
    def _numeric(value: _Value, op: str) -> float:
        if isinstance(value, str):
            raise _ExprError(f"'{op}' needs numbers, got the string {value!r}")
        return value

    @staticmethod
    def _int(value: float) -> int:
        if not math.isfinite(value):
            raise _ExprError("not a finite number")
        return int(value)

    @staticmethod
    def _truth(value: _Value) -> float:
        # snexpr reads a string's number slot here: a string is always "non-zero"
        return 1.0 if isinstance(value, str) else value

    def _binary(self, op: str, a_node: tuple, b_node: tuple) -> _Value:
        if op == "&&":
            a = self._truth(self._eval(a_node))
            if a != 0:
                b = self._truth(self._eval(b_node))
                if b != 0:
                    return b
            return 0.0
        if op == "||":
            a = self._truth(self._eval(a_node))
            if a != 0 and not math.isnan(a):
                return a
            b = self._truth(self._eval(b_node))
            return b if b != 0 else 0.0
        a, b = self._eval(a_node), self._eval(b_node)
        if op == ",":
            return b
        if op in ("<", "<=", ">", ">=", "==", "!="):
            return self._compare(op, a, b)
        if op == "+":
            if isinstance(a, str):
                return a + (_format_number(b) if isinstance(b, float) else b)
            return a + (_number(b) if isinstance(b, str) else b)
        x, y = self._numeric(a, op), self._numeric(b, op)
        return self._arith(op, x, y)

    @staticmethod
    def _compare(op: str, a: _Value, b: _Value) -> float:
        if isinstance(a, str):
            b = _format_number(b) if isinstance(b, float) else b
        elif isinstance(b, str):
            b = _number(b)
        result = {
            "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b,
        }[op]  # fmt: skip
        return 1.0 if result else 0.0

    def _arith(self, op: str, x: float, y: float) -> float:
        try:
            if op == "**":
                return math.pow(x, y)
            if op == "*":
                return x * y
            if op == "/":
                return x / y if y else (math.nan if x == 0 else math.copysign(math.inf, x))
            if op == "%":
                return math.fmod(x, y) if y else math.nan
            if op == "-":
                return x - y
        except (OverflowError, ValueError):
            return math.nan
        xi, yi = self._int(x), self._int(y)
        return float({"<<": lambda: xi << yi, ">>": lambda: xi >> yi, "&": lambda: xi & yi,
                      "|": lambda: xi | yi, "^": lambda: xi ^ yi}[op]())  # fmt: skip


# ---------------------------------------------------------------- the scanner


class _Preprocessor:
    def __init__(self, defines: Mapping[str, str | None] | None, substs: Sequence[tuple[str, str]] = ()):
        self.defines: dict[str, _Define] = {}
        self.substs: list[_Subst] = []
        self.conds: list[_Cond] = []
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
            self.defines[name] = _Define(None, None)

    def _define_command_line(self, name: str, value: str | None) -> None:
        # `-A NAME=VALUE` may also arrive as {"NAME=VALUE": None}
        if value is None and "=" in name:
            name, value = name.split("=", 1)
        if name in self.defines and self.defines[name].pos is None and not name.startswith("KAMAILIO_"):
            raise ConfigError.at(Pos("<command line>", 0, 0), f"-A {name}: {name} is already defined")
        self.defines[name] = _Define(value, None)

    def _subst_command_line(self, kind: str, expr: str) -> None:
        """`--subst`/`--substdef`/`--substdefs` (pp_subst_add, pp_substdef_add)."""
        where = Pos("<command line>", 0, 0)
        try:
            rule, name, replacement = _parse_subst(expr)
        except ValueError as exc:
            raise ConfigError.at(where, f"failed to add {kind} expression: {expr}: {exc}") from None
        self.substs.append(rule)
        if kind != "subst":
            if not name:
                raise ConfigError.at(where, f"failed to add {kind} expression: {expr}: no define name")
            value = _expand_env_pvs(replacement)
            self.defines[name] = _Define(f'"{value}"' if kind == "substdefs" else value, None)

    # -- entry

    def run(self, name: str, text: str, base_dir: Path | None) -> Preprocessed:
        self.includes.append((name, self._resolve(Path(name))))
        ctx = _Ctx(name, text, base_dir)
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

    def _put(self, ctx: _Ctx, text: str, advance: bool) -> None:
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

    def _print(self, ctx: _Ctx, start: int, end: int) -> None:
        """Add the file's own text in [start, end) to the --cfg-print output (spliced define values are
        not the file's text)."""
        start = max(start, ctx.virtual_end)
        if end > start:
            self.printed.append(ctx.text[start:end])

    def _copy(self, ctx: _Ctx, start: int, end: int) -> None:
        self._put(ctx, ctx.text[start:end], advance=True)
        self._print(ctx, start, end)

    def _blank(self, ctx: _Ctx, start: int, end: int) -> None:
        """Drop [start, end) from the output but keep its line breaks, so lines stay aligned."""
        self._put(ctx, "\n" * ctx.text.count("\n", start, end), advance=True)

    def _end_line(self, ctx: _Ctx) -> None:
        if self.line_open:
            self._put(ctx, "\n", advance=False)

    # -- the scan loop

    def _scan(self, ctx: _Ctx) -> None:
        while ctx.pos < len(ctx.text):
            if self.inactive:
                self._skip(ctx)
            else:
                self._active_step(ctx)

    def _skip(self, ctx: _Ctx) -> None:
        """Inside a false #!if*: only nested #!if*/#!else/#!endif count, nothing is lexed (as in
        Kamailio's IFDEF_SKIP state, which also ignores comments and quotes)."""
        m = _SKIP.search(ctx.text, ctx.pos)
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

    def _active_step(self, ctx: _Ctx) -> None:
        text = ctx.text
        m = _ACTIVE.search(text, ctx.pos)
        if m is None:
            self._copy(ctx, ctx.pos, len(text))
            ctx.pos = len(text)
            return
        start = m.start()
        self._copy(ctx, ctx.pos, start)
        ctx.pos = start
        kind = m.lastgroup
        if kind == "dq":
            self._string(ctx, _DQ_STRING)
        elif kind == "sq":
            self._string(ctx, _SQ_STRING)
        elif kind == "block":
            self._block_comment(ctx)
        elif kind in ("hash", "bang"):
            self._hash(ctx, m.group(0))
        elif kind == "pv":
            self._pseudo_variable(ctx)
        elif kind == "sel":
            end = _SELECT.match(text, start + 1).end()  # type: ignore[union-attr]
            self._copy(ctx, start, end)
            ctx.pos = end
        elif kind == "word":
            self._word(ctx, m.group(0), m.end())
        else:  # num / v6: a number, NUM_ID or an IPv6 address: never substituted
            v6 = _IPV6.match(text, start) if (kind == "v6" or text.startswith(":", m.end())) else None
            end = max(m.end(), v6.end()) if v6 else m.end()
            self._copy(ctx, start, end)
            ctx.pos = end

    # -- tokens

    def _string(self, ctx: _Ctx, pattern: re.Pattern[str]) -> None:
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
        value = _decode_string(raw) if (pattern is _DQ_STRING and "\\" in raw) else raw
        new = self._apply_substs(value)
        if new == value:
            self._copy(ctx, start, end)
            return
        # the rewritten literal has no raw line breaks: pad after it to keep lines aligned
        self._put(ctx, _encode_string(new), advance=False)
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

    def _block_comment(self, ctx: _Ctx) -> None:
        """/* ... */ comments nest in Kamailio; they are kept for the parser."""
        depth, i = 0, ctx.pos
        for m in _COMMENT_EDGE.finditer(ctx.text, ctx.pos):
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

    def _line_end(self, ctx: _Ctx, start: int) -> int:
        end = ctx.text.find("\n", start)
        return len(ctx.text) if end < 0 else end

    def _pseudo_variable(self, ctx: _Ctx) -> None:
        text, start = ctx.text, ctx.pos
        end = start + 1
        m = _PV_NAME.match(text, end)
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

    def _word(self, ctx: _Ctx, word: str, end: int) -> None:
        start = ctx.pos
        if word in ("include_file", "import_file"):
            self._include(ctx, word, start, end)
            return
        if word == "event_route":
            m = _EVENT_ROUTE_NAME.match(ctx.text, end)
            end = m.end() if m else end
        elif word in ("loadmodule", "loadmodulex"):
            self._module_define(ctx, end)
        elif word not in _KEYWORDS and word in self.defines:
            self._expand(ctx, word, start, end)
            return
        self._copy(ctx, start, end)
        ctx.pos = end

    def _module_define(self, ctx: _Ctx, end: int) -> None:
        """Kamailio defines MOD_<name> when it loads a module, so `#!ifdef MOD_tls` works below it."""
        m = _LOADMODULE_ARG.match(ctx.text, end)
        if m is None:
            return
        path = m.group(1) if m.group(1) is not None else m.group(2)
        name = path.rsplit("/", 1)[-1]
        name = name[:-3] if name.endswith(".so") else name
        if name:
            self.defines.setdefault(f"MOD_{name}", _Define(None, ctx.at(ctx.pos)))

    def _expand(self, ctx: _Ctx, word: str, start: int, end: int) -> None:
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

    def _hash(self, ctx: _Ctx, mark: str) -> None:
        text, start = ctx.text, ctx.pos
        m = _DIRECTIVE.match(text, start)
        word = m.group(1) if m else ""
        after = m.end() if m else start + len(mark)
        nxt = text[after : after + 1]
        if word in _LATER_DIRECTIVES and nxt and nxt in _WS:
            self._warn(ctx.at(start), f"#!{word} is a directive of Kamailio 5.7 and later: Kamailio 5.6 "
                                      "reads this line as a comment (kampy follows 5.7)")
        if word in _DEFINE_KINDS and nxt and nxt in _WS:
            self._define(ctx, _DEFINE_KINDS[word], after)
        elif word in _UNDEF_KINDS and nxt and nxt in _WS:
            self._undefine(ctx, _UNDEF_KINDS[word], after)
        elif word in ("ifdef", "ifndef", "ifexp") and nxt and nxt in _WS:
            self._conditional(ctx, word, after, evaluate=True)
        elif word in ("else", "endif") and self._only_space_to_eol(ctx, after, newline=True):
            self._else_endif(ctx, word, after)
        elif word in _ENV_KINDS:
            self._defenv(ctx, word, after)
        elif word in _SUBST_KINDS:
            self._subst(ctx, word, after)
        elif word in ("include_file", "import_file"):
            self._include(ctx, word, start, after)
        elif mark == "!!":  # not a directive: the logical not operator, twice
            self._copy(ctx, start, start + 1)
            ctx.pos = start + 1
        elif mark == "#" and word in _COMPAT_HEADERS and self._only_space_to_eol(ctx, after):
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

    def _only_space_to_eol(self, ctx: _Ctx, i: int, newline: bool = False) -> bool:
        """Only blanks up to the end of the line; `newline`: and a line break ends it (Kamailio's
        {CR}: an #!endif on a last line without one is no directive)."""
        eol = self._line_end(ctx, i)
        return all(c in _WS for c in ctx.text[i:eol]) and (eol < len(ctx.text) or not newline)

    def _finish_directive(self, ctx: _Ctx, start: int, end: int, printed: bool) -> None:
        """The directive text [start, end) becomes empty lines in the output."""
        self._blank(ctx, start, end)
        if printed:
            self._print(ctx, start, end)
        ctx.pos = end

    def _name_after(self, ctx: _Ctx, i: int, directive: str) -> tuple[str, int]:
        while i < len(ctx.text) and ctx.text[i] in _WS:
            i += 1
        m = _NAME.match(ctx.text, i)
        if m is None:
            raise ConfigError.at(ctx.at(i), f"#!{directive} needs a name (letters, digits and '_')")
        if ctx.text.startswith("-", m.end()):
            raise ConfigError.at(ctx.at(m.end()), f"#!{directive} {m.group(0)}: '-' is not allowed in a name")
        return m.group(0), m.end()

    def _rest_of_line(self, ctx: _Ctx, i: int, directive: str) -> int:
        """Text after a directive's name is ignored by Kamailio (it echoes it); warn, then end the line."""
        eol = self._line_end(ctx, i)
        junk = ctx.text[i:eol].strip(_WS)
        if junk:
            self._warn(ctx.at(i), f"text after #!{directive} is ignored: {junk}")
        return min(eol + 1, len(ctx.text))

    # -- defines

    def _define(self, ctx: _Ctx, kind: str, i: int) -> None:
        start = ctx.pos
        name, i = self._name_after(ctx, i, kind)
        while i < len(ctx.text) and ctx.text[i] in _WS:
            i += 1
        value, end = self._define_value(ctx, i)
        if kind in ("defexp", "defexps") and value is not None:
            value = self._defexp(ctx, start, kind, value)
        self._set_define(ctx, kind, name, value, ctx.at(start))
        self._finish_directive(ctx, start, end, printed=True)

    def _define_value(self, ctx: _Ctx, i: int) -> tuple[str | None, int]:
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

    def _defexp(self, ctx: _Ctx, start: int, kind: str, expression: str) -> str:
        value = self._evaluate(ctx, start, kind, expression)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ConfigError.at(ctx.at(start), f"#!{kind}: the expression has no numeric value")
            value = str(int(value))
        return f'"{value}"' if kind == "defexps" else value

    def _set_define(self, ctx: _Ctx, kind: str, name: str, value: str | None, pos: Pos) -> None:
        old = self.defines.get(name)
        if old is not None and kind == "trydef":
            return
        if old is not None and kind != "redefine":
            raise ConfigError.at(
                pos, f"{name} is already defined ({old.where()}); use #!redefine to change it or #!trydef "
                "to define it only when it is not defined yet",
            )  # fmt: skip
        self.defines[name] = _Define(value, pos, {"trydef": 1, "redefine": 2}.get(kind, 0))

    def _undefine(self, ctx: _Ctx, kind: str, i: int) -> None:
        start = ctx.pos
        name, i = self._name_after(ctx, i, kind)
        if name not in self.defines:
            if kind == "undef":
                self._warn(ctx.at(start), f"#!undef {name}: {name} is not defined")
        else:
            del self.defines[name]
        self._finish_directive(ctx, start, self._rest_of_line(ctx, i, kind), printed=True)

    def _defenv(self, ctx: _Ctx, kind: str, i: int) -> None:
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

    def _subst(self, ctx: _Ctx, kind: str, i: int) -> None:
        start, text = ctx.pos, ctx.text
        while i < len(text) and text[i] in _WS:
            i += 1
        quote = text[i : i + 1]
        m = (_DQ_STRING if quote == '"' else _SQ_STRING).match(text, i) if quote in ('"', "'") else None
        if m is None:
            raise ConfigError.at(ctx.at(start), f'#!{kind} needs a quoted "/regex/replacement/flags" string')
        expr = m.group(0)[1:-1]
        expr = self._apply_substs(_decode_string(expr) if quote == '"' else expr)
        try:
            rule, name, replacement = _parse_subst(expr)
        except ValueError as exc:
            raise ConfigError.at(ctx.at(start), f'bad #!{kind} "{expr}": {exc}') from None
        self.substs.append(rule)
        if kind != "subst":
            if not name:
                raise ConfigError.at(ctx.at(start), f'bad #!{kind} "{expr}": the define name is empty')
            value = _expand_env_pvs(replacement)
            self._set_define(
                ctx, "define", name, f'"{value}"' if kind == "substdefs" else value, ctx.at(start)
            )
        # the rest of the line is ordinary config text (usually nothing or a comment)
        self._finish_directive(ctx, start, m.end(), printed=True)

    # -- #!ifdef, #!ifndef, #!ifexp, #!else, #!endif

    def _conditional(self, ctx: _Ctx, kind: str, i: int, evaluate: bool) -> None:
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
            m = _NAME.match(ctx.text, i + len(ctx.text[i:]) - len(ctx.text[i:].lstrip(_WS)))
            active = bool(m) and (m.group(0) in self.defines) == (kind == "ifdef")
            end = min(self._line_end(ctx, i) + 1, len(ctx.text))
        self.conds.append(_Cond(active, ctx.at(start), kind))
        self.inactive += not active
        self._finish_directive(ctx, start, end, printed=False)

    def _else_endif(self, ctx: _Ctx, kind: str, i: int) -> None:
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

    def _evaluate(self, ctx: _Ctx, start: int, kind: str, expression: str) -> _Value:
        try:
            return _Expr(expression, self.defines).evaluate()
        except _ExprError as exc:
            raise ConfigError.at(
                ctx.at(start), f"bad #!{kind} expression '{expression.strip()}': {exc}"
            ) from None

    @staticmethod
    def _truthy(value: _Value) -> bool:
        return bool(value) if isinstance(value, str) else value != 0  # NaN counts as true, as in snexpr

    # -- include_file / import_file

    def _include(self, ctx: _Ctx, kind: str, start: int, i: int) -> None:
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
    def _sibling(ctx: _Ctx, fname: str) -> Path:
        return (ctx.base_dir if ctx.base_dir is not None else Path(ctx.name).parent) / fname

    def _find_include(self, ctx: _Ctx, fname: str) -> Path | None:
        """As Kamailio: the name as given (relative to the working directory), then relative to the
        directory of the file that includes it."""
        path = Path(fname)
        if path.is_file():
            return path
        if path.is_absolute():
            return None
        sibling = self._sibling(ctx, fname)
        return sibling if sibling.is_file() else None

    def _include_path(self, ctx: _Ctx, path: Path, pos: Pos) -> None:
        resolved = self._resolve(path)
        chain = [shown for shown, p in self.includes]
        if any(p == resolved for _, p in self.includes):
            raise ConfigError.at(pos, "include cycle: " + " -> ".join([*chain, str(path)]))
        if len(self.includes) > MAX_INCLUDE_DEPTH:
            raise ConfigError.at(pos, f"too many nested includes (Kamailio allows {MAX_INCLUDE_DEPTH}): "
                                 + " -> ".join([*chain, str(path)]))  # fmt: skip
        self._end_line(ctx)
        self.includes.append((str(path), resolved))
        self._scan(_Ctx(str(path), _read(path, pos, str(path)), path.parent))
        self._end_line(ctx)
        self.includes.pop()
