"""Property: whatever the config text, the front end answers with a verdict, never a traceback.

`kampy check` on random and mutated configs (the samples, Debian's stock kamailio.cfg in
tests/data) exits 0 or 1, and when 1 every error is a `file:line:col: error:` line. `kampy run`'s
start-up (preprocess, parse, resolve, sockets, modules' instantiation, everything before binding)
either builds a server or stops with the same kind of report. Hypothesis (a test dependency)
draws the inputs and shrinks a failure to a small config; the example counts keep the whole module
well under a minute.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kampy.cli import main
from kampy.config.pipeline import load_file
from kampy.errors import ConfigError
from kampy.net import NetParams
from kampy.runtime.server import Server
from kampy.runtime.sockets import sockets_from_config

REPO = Path(__file__).resolve().parent.parent
SEED_FILES = (REPO / "samples" / "msilo.cfg", REPO / "samples" / "proxy.cfg",
              REPO / "tests" / "data" / "kamailio-stock.cfg")
SEEDS = {path.name: path.read_text() for path in SEED_FILES}
ERROR_LINE = re.compile(r"^\S.*:\d+:\d+: error: \S")

# Pieces of the cfg language that a mutation splices in: they reach the preprocessor's and the
# parser's corners faster than random characters alone.
FRAGMENTS = [
    "{", "}", "(", ")", ";", '"', "'", "#", "#!", "!!", "/*", "*/", "//", "$", "$(", "$var(x)", "$avp(s:a)",
    "$(ru{s.len})", "@to.tag", "=", "==", "!=", "=~", "&&", "||", "!", "-", "+", ":", ",", "[", "]", "\\",
    "\n", " ", "\t", "0", "-1", "99999", "0x1F", "1.2.3.4", "999.1.1.1", "::1", "[::1]", "10.0.0.0/8",
    "my-host", "udp:", "tcp:127.0.0.1:5060", "yes", "no", "inet", "route", "route[X]", "request_route",
    "failure_route[F]", "onreply_route", "branch_route[B]", "event_route[tm:local-request]", "if", "else",
    "while", "switch", "case", "default", "break", "exit", "drop", "return", "loadmodule", '"sl.so"',
    '"tm.so"', "modparam", 'modparam("sl", "bind_tm", X)', "listen=", "alias=", "children=", "port=",
    "debug=", "fork=", "#!define X 1", "#!define X", "#!ifdef X", "#!ifndef X", "#!else", "#!endif",
    "#!trydef X", "#!redefine X 2", "#!undef X", '#!subst "/a/b/"', '#!substdef "/X/\\1/"', "#!ifexp X > 1",
    '#!defenv X=HOME', 'include_file "nowhere.cfg"', 'import_file "nowhere.cfg"', "X", "sl_send_reply",
    'sl_send_reply("200", "OK")', 't_relay()', "xlog(", '"L_INFO"', "\u00e9", "\x00", "\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A seed config with a few edits: a span cut out, a fragment or random text put in, a line
    moved or doubled, the text cut short."""
    text = draw(st.sampled_from(sorted(SEEDS.values())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["cut", "fragment", "noise", "line", "truncate"]))
        if edit == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 200)):]
        elif edit == "fragment":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif edit == "noise":
            text = text[:at] + draw(st.text(max_size=12)) + text[at:]
        elif edit == "line":
            lines = text.splitlines(keepends=True) or [""]
            line = lines[draw(st.integers(0, len(lines) - 1))]
            where = draw(st.integers(0, len(lines)))
            text = "".join(lines[:where] + [line] + lines[where:])
        else:
            text = text[:at]
    return text


random_config = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=40).map("".join)
configs = mutated() | random_config


def check(cfg: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(cfg)])
    return code, err.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=configs)
def test_kampy_check_gives_a_verdict_on_any_config(tmp_path_factory, text):
    cfg = tmp_path_factory.mktemp("fuzz") / "kamailio.cfg"
    cfg.write_text(text, encoding="utf-8", errors="surrogateescape")
    code, err = check(cfg)
    assert code in (0, 1), err
    assert "Traceback" not in err
    if code == 1:
        errors = [line for line in err.splitlines() if ": error: " in line and not line.startswith(" ")]
        assert errors, err
        assert all(ERROR_LINE.match(line) for line in errors), err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_kampy_run_start_up_builds_a_server_or_reports_the_config(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("fuzz-run")
    cfg = folder / "kamailio.cfg"
    cfg.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:  # what `kampy run` does before it binds a socket
        compiled = load_file(cfg, {"DBURL": f'"sqlite://{folder}/msilo.sqlite"'})
        NetParams.from_core_params(compiled.core_params)
        sockets, aliases = sockets_from_config(compiled)
        server = Server.from_config(compiled, sockets=sockets, aliases=aliases)
    except ConfigError as exc:
        assert exc.diagnostics and all(ERROR_LINE.match(d.format()) for d in exc.diagnostics
                                       if d.severity == "error")
        return
    server.shutdown()
