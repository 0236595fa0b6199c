"""The public module API: discovery, checks of a third-party module's calls, declared APIs, services."""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy import api, loader
from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.runtime.core import Core
from kampy.runtime.server import Server
from tests.support.runtime import SOCKET, SOURCE, first_line, request

REPO = Path(__file__).resolve().parent.parent
HELLO_DIST = REPO / "samples" / "modules" / "kampy-hello"
HELLO = f'loadpath "{HELLO_DIST}"\nloadmodule "sl.so"\nloadmodule "pv.so"\nloadmodule "hello.so"\n'

TINY = '''
from typing import Protocol

from kampy.api import Exports, Function, Module, Offer


class Pinger(Protocol):
    def pong(self) -> str: ...


class Tiny(Module):
    def ping(self, ctx):
        return 1

    def pong(self):
        return "pong"

    def internal(self):
        return "not offered"


EXPORTS = Exports(name="tiny", functions=(Function("ping"),), offers=(Offer("tiny", Pinger),),
                  factory=Tiny)
'''


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, "t.cfg")
    return [f"{d.pos.line}: {d.message}" for d in info.value.diagnostics]


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "__init__.py").write_text(TINY)
    return tmp_path


# ------------------------------------------------------------------ discovery


@pytest.mark.parametrize("spelling", ["tiny", "tiny.so", "{dir}/tiny.so", "{dir}/tiny", "{dir}/tiny/"])
def test_loadmodule_spellings_find_a_package_on_loadpath(tiny_dir: Path, spelling: str) -> None:
    name = spelling.format(dir=tiny_dir)
    head = "" if "/" in name else f'loadpath "{tiny_dir}"\n'
    compiled = load_text(f'{head}loadmodule "{name}"\nrequest_route {{ ping(); }}', "t.cfg")
    assert "tiny" in compiled.modules and compiled.modules["tiny"].origin.endswith("__init__.py")


def test_mpath_and_a_single_file_module(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(TINY)
    compiled = load_text(f'mpath="{tmp_path}"\nloadmodule "tiny.so"\nrequest_route {{ ping(); }}', "t.cfg")
    assert compiled.modules["tiny"].origin == str(tmp_path / "tiny.py")


def test_a_module_on_loadpath_comes_before_a_built_in_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "maxfwd").mkdir()
    (tmp_path / "maxfwd" / "__init__.py").write_text(TINY.replace('"tiny"', '"maxfwd"'))
    compiled = load_text(f'loadpath "{tmp_path}"\nloadmodule "maxfwd.so"\nrequest_route {{ ping(); }}')
    assert compiled.modules["maxfwd"].origin.startswith(str(tmp_path))


def test_built_in_found_by_name_and_by_kamailio_path() -> None:
    compiled = load_text('loadmodule "/usr/lib/x86_64-linux-gnu/kamailio/modules/maxfwd.so"\n'
                         'request_route { maxfwd_process("10"); }')
    assert compiled.modules["maxfwd"].origin == "built-in modules.maxfwd"


@pytest.fixture
def installed_tiny(tmp_path: Path, tiny_dir: Path) -> Iterator[None]:
    """A distribution with a `kampy.modules` entry point, as pip would leave it on sys.path."""
    site = tmp_path / "site"
    (site / "tiny_dist").mkdir(parents=True)
    (site / "tiny_dist" / "__init__.py").write_text(TINY)
    info = site / "kampy_tiny-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kampy-tiny\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[kampy.modules]\ntiny = tiny_dist:EXPORTS\n")
    sys.path.insert(0, str(site))
    loader._entry_points.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("tiny_dist", None)
        loader._entry_points.cache_clear()


def test_an_installed_entry_point_is_found(installed_tiny: None) -> None:
    compiled = load_text('loadmodule "tiny.so"\nrequest_route { ping(); }', "t.cfg")
    assert compiled.modules["tiny"].origin == "entry point tiny_dist:EXPORTS"
    found = loader.find_module("tiny")
    assert found.folder is not None and found.folder.name == "tiny_dist"
    assert "tiny" in loader.all_known_names()


def test_a_name_not_found_says_where_kampy_looked(tmp_path: Path) -> None:
    (err,) = errors_of(f'loadpath "{tmp_path}"\nloadmodule "nosuch.so"\nrequest_route {{ exit; }}')
    assert err.startswith("2: kampy has no module 'nosuch'")
    assert f"looked in: {tmp_path}, entry points 'kampy.modules', kampy's built-in modules" in err


def test_a_broken_module_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "__init__.py").write_text("EXPORTS = 42\n")
    (err,) = errors_of(f'loadpath "{tmp_path}"\nloadmodule "broken"\nrequest_route {{ exit; }}')
    assert "module 'broken' failed to load" in err and "EXPORTS" in err


# ------------------------------------------------------------------ checks, exactly as for built-ins


def test_hello_config_checks() -> None:
    compiled = load_text(HELLO + 'modparam("hello", "greeting", "Hi")\nrequest_route { hello("$fU"); }')
    assert compiled.modules["hello"].params == {"greeting": "Hi", "tick_interval": 60}


@pytest.mark.parametrize(("tail", "expected"), [
    ('request_route { hello(); }', "5: hello() takes 1 argument, 0 given"),
    ('request_route { hello("a", "b"); }', "5: hello() takes 1 argument, 2 given"),
    ('failure_route[F] { hello("a"); }', "5: hello() cannot be used in failure_route"),
    ('request_route { helo("a"); }', "did you mean 'hello'"),
    ('modparam("hello", "greting", "x")', "5: module 'hello' has no parameter 'greting' (did you mean "
                                          "'greeting'?)"),
    ('modparam("hello", "greeting", 5)', "5: parameter 'greeting' of module 'hello' takes string, "
                                         "not an integer"),
    ('modparam("hello", "greeting", "")', "5: bad value for 'greeting' of module 'hello': greeting "
                                          "must be a non-empty single line"),
    ('request_route { hello("$fq"); }', "unknown pseudo-variable"),
])
def test_hello_calls_are_validated_as_built_ins_are(tail: str, expected: str) -> None:
    errors = errors_of(HELLO + tail)
    assert any(expected in e for e in errors), errors


def test_a_missing_dependency_is_an_error_at_the_loadmodule_line() -> None:
    (err,) = errors_of(f'loadpath "{HELLO_DIST}"\nloadmodule "hello.so"\nrequest_route {{ exit; }}')
    assert err == ("2: module 'hello' needs the API 'sl', which no loaded module offers: "
                   "add loadmodule \"sl.so\"")


# ------------------------------------------------------------------ running it, declared APIs


def hello_server(extra: str = "") -> Server:
    compiled = load_text(HELLO + extra + 'request_route { hello("$fU"); }', "t.cfg")
    return Server.from_config(compiled, sockets=[SOCKET])


def test_hello_answers_counts_and_reports_over_rpc() -> None:
    server = hello_server('modparam("hello", "greeting", "Hi")\n')
    (out,) = server.handle(request("OPTIONS"), SOURCE)
    assert first_line(out) == "SIP/2.0 200 Hi, alice"
    assert b"\r\nX-Hello: Hi, alice\r\n" in out.data
    assert server.core.stats.get("hello:greeted") == 1
    assert server.core.modules["hello"].rpc_greeted() == {"greeted": 1}


def test_hello_timer_runs_at_its_interval_param() -> None:
    clock = FakeClock()
    compiled = load_text(HELLO + 'modparam("hello", "tick_interval", 5)\nrequest_route { exit; }')
    server = Server.from_config(compiled, sockets=[SOCKET], clock=clock)
    assert server.next_timer() == 5
    clock.now = 4.9
    server.run_timers()
    assert server.core.stats.get("hello:ticks") == 0
    clock.now = 5
    server.run_timers()
    assert server.core.stats.get("hello:ticks") == 1
    assert server.next_timer() == 10


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return 1_700_000_000 + self.now

    def monotonic(self) -> float:
        return self.now


def test_an_offered_api_holds_only_the_members_of_its_protocol(tiny_dir: Path) -> None:
    compiled = load_text(f'loadpath "{tiny_dir}"\nloadmodule "tiny"\nrequest_route {{ exit; }}')
    server = Server.from_config(compiled, sockets=[SOCKET])
    offered = server.core.offered("tiny")
    assert offered.pong() == "pong"
    assert not hasattr(offered, "internal") and not hasattr(offered, "ping")
    with pytest.raises(LookupError, match="no loaded module offers the API 'tm'"):
        server.core.offered("tm")


# ------------------------------------------------------------------ services


def test_pv_avp_and_flag_services() -> None:
    server = hello_server()
    ctx = api.MessageContext(api.parse_message(request("OPTIONS")), SOURCE, server.core)
    assert api.pv_get(ctx, "$fU") == "alice"
    assert api.pv_get(ctx, "$(rm{s.len})") == 7
    api.pv_set(ctx, "$ru", "sip:carol@example.com")
    assert ctx.ruri == "sip:carol@example.com"
    assert server.core.formatter("$rm to $rU")(ctx) == "OPTIONS to carol"
    api.avp_add(ctx, "s:x", "one")
    api.avp_add(ctx, "x", 2)
    assert api.avp_values(ctx, "x") == [2, "one"] and api.avp_get(ctx, "x", 1) == "one"
    assert api.pv_get(ctx, "$avp(x)") == 2
    api.avp_del(ctx, "x")
    assert api.avp_get(ctx, "x") is None
    api.setflag(ctx, 3)
    api.setbflag(ctx, 4)
    assert api.isflagset(ctx, 3) and ctx.flags == 8 and api.isbflagset(ctx, 4)
    api.resetflag(ctx, 3)
    assert not api.isflagset(ctx, 3)
    with pytest.raises(ValueError):
        api.setflag(ctx, 32)
    with pytest.raises(LookupError, match="read-only"):
        api.pv_set(ctx, "$rm", "INVITE")


def test_pv_services_need_built_routes() -> None:
    with pytest.raises(LookupError, match="once the routes are built"):
        Core().pv_accessor("$ru")


def test_logging_follows_kamailio_levels(caplog: pytest.LogCaptureFixture) -> None:
    log = api.module_logger("hello")
    assert log.name == "kampy.hello"
    with caplog.at_level(logging.INFO, logger="kampy.hello"):
        api.log_at(log, api.L_DBG, "hidden")
        api.log_at(log, api.L_NOTICE, "shown %d", 1)
        api.log_at(log, api.L_ERR, "error")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("NOTICE", "shown 1"),
                                                                       ("ERROR", "error")]


def test_the_public_api_exports_nothing_missing_and_documents_itself() -> None:
    assert [n for n in api.__all__ if not hasattr(api, n)] == []
    assert len(set(api.__all__)) == len(api.__all__)
    for name in ("CoreAPI", "Offer", "Need", "pv_get", "avp_add", "setflag", "module_logger", "log_at",
                 "SlAPI", "TmAPI", "UsrlocAPI", "XhttpAPI", "db_connect", "Clock", "Module"):
        assert getattr(api, name).__doc__, name
        assert f"`{name}" in api.__doc__ or name in api.__doc__, name
