"""The declared interface between modules and the core, checked when a module loads.

Every module's handlers match its declaration; a module reaches the core only through `CoreAPI`
and other modules only through the APIs they offer (`Offer`) and it declares it needs (`Need`);
the compiler's name resolution is the one the engine binds; argument fix-ups run once.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kampy import loader
from kampy.api import CoreAPI, Exports, MessageContext, parse_message
from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.interfaces import handler_problems, protocol_members, protocol_problems
from kampy.runtime.core import Core
from kampy.runtime.engine import Engine
from kampy.runtime.server import Server
from tests.support.runtime import FAKE_MODULE, SOCKET, SOURCE, first_line, recorded, request

REPO = Path(__file__).resolve().parent.parent
HELLO_DIST = REPO / "samples" / "modules" / "kampy-hello"

PROTOCOL = '''
from typing import Protocol

from kampy.api import Arg, ArgKind, Exports, Function, Module, Need, Offer


class Counter(Protocol):
    def count(self, by: int = 1) -> int: ...
'''


def discovered() -> list[Exports]:
    """Every module kampy finds (its built-in ones and the sample distribution) with an
    implementation."""
    found = [loader.load_builtin(name) for name in loader.builtin_names()]
    found.append(loader.find_module("hello", [str(HELLO_DIST)]).exports)
    return [ex for ex in found if ex.factory is not None]


def write_module(tmp_path: Path, name: str, body: str) -> None:
    folder = tmp_path / "mods" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(PROTOCOL + body)


def load_errors(tmp_path: Path, modules: list[str], routes: str = "request_route { exit; }") -> list[str]:
    loads = "".join(f'loadmodule "{m}"\n' for m in modules)
    with pytest.raises(ConfigError) as info:
        server_of(tmp_path, loads + routes)
    return [d.message for d in info.value.diagnostics]


def server_of(tmp_path: Path, text: str) -> Server:
    compiled = load_text(f'loadpath "{tmp_path / "mods"}"\n{text}', "t.cfg")
    return Server.from_config(compiled, sockets=[SOCKET])


COUNTER = '''
class Impl(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.total = 0

    def count(self, by=1):
        self.total += by
        return self.total

EXPORTS = Exports(name="counter", offers=(Offer("counter", Counter),), factory=Impl)
'''

USER = '''
class User(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.counter = core.api("counter")

    def bump(self, ctx):
        return self.counter.count(2)

EXPORTS = Exports(name="user", functions=(Function("bump"),), needs=(Need("counter", Counter),),
                  factory=User)
'''


# ------------------------------------------------------------------ handlers against declarations


@pytest.mark.parametrize("exports", discovered(), ids=lambda ex: ex.name)
def test_every_module_handler_matches_its_declaration(exports: Exports) -> None:
    assert handler_problems(exports, exports.factory) == []


def test_a_handler_that_cannot_take_the_declared_arguments_fails_at_load(tmp_path: Path) -> None:
    write_module(tmp_path, "wrong", '''
class Wrong(Module):
    def greet(self, ctx):
        return 1

EXPORTS = Exports(name="wrong", functions=(Function("greet", args=(Arg("name"),)),), factory=Wrong)
''')
    (error,) = load_errors(tmp_path, ["wrong"])
    assert error == ("module 'wrong': function greet(): handler greet(ctx) cannot be called as "
                     "greet(ctx, name)")


def test_a_declared_function_without_its_handler_fails_at_load(tmp_path: Path) -> None:
    write_module(tmp_path, "bare", '''
EXPORTS = Exports(name="bare", functions=(Function("greet", handler="say"),), factory=Module)
''')
    assert load_errors(tmp_path, ["bare"]) == ["module 'bare': function greet(): the module has no "
                                               "method 'say'"]


def test_optional_arguments_need_defaults_in_the_handler(tmp_path: Path) -> None:
    write_module(tmp_path, "opt", '''
class Opt(Module):
    def f(self, ctx, a, b):
        return 1

EXPORTS = Exports(name="opt", functions=(Function("f", args=(Arg("a"), Arg("b")), min_args=1),),
                  factory=Opt)
''')
    (error,) = load_errors(tmp_path, ["opt"])
    assert error == "module 'opt': function f(): handler f(ctx, a, b) cannot be called as f(ctx, a, [b])"


# ------------------------------------------------------------------ APIs between modules


def test_a_module_binds_an_api_it_declared_whatever_the_loadmodule_order(tmp_path: Path) -> None:
    write_module(tmp_path, "counter", COUNTER)
    write_module(tmp_path, "user", USER)
    server = server_of(tmp_path, 'loadmodule "user"\nloadmodule "counter"\n'
                                 'request_route { bump(); bump(); }')
    server.handle(request(), SOURCE)
    assert server.core.modules["counter"].total == 4
    assert list(server.core.modules) == ["user", "counter"]  # hooks still run in loadmodule order


def test_a_module_using_an_undeclared_api_fails_at_load(tmp_path: Path) -> None:
    write_module(tmp_path, "counter", COUNTER)
    write_module(tmp_path, "sneaky", '''
class Sneaky(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.counter = core.api("counter")

EXPORTS = Exports(name="sneaky", factory=Sneaky)
''')
    assert load_errors(tmp_path, ["counter", "sneaky"]) == [
        "module 'sneaky' failed to initialise: module 'sneaky' uses the API 'counter' without "
        "declaring it: add Need(\"counter\") to its Exports.needs"]


def test_a_required_api_no_loaded_module_offers_is_a_config_error(tmp_path: Path) -> None:
    write_module(tmp_path, "user", USER)
    assert load_errors(tmp_path, ["user"]) == [
        "module 'user' needs the API 'counter', which no loaded module offers"]


def test_an_offered_object_that_does_not_implement_its_protocol_fails_at_load(tmp_path: Path) -> None:
    write_module(tmp_path, "liar", '''
class Liar(Module):
    def count(self):
        return 0

EXPORTS = Exports(name="liar", offers=(Offer("counter", Counter),), factory=Liar)
''')
    (error,) = load_errors(tmp_path, ["liar"])
    assert error == ("module 'liar': the API 'counter' it offers does not implement Counter: its method "
                     "count() does not accept the calls of Counter.count(by: int = 1) -> int")


def test_a_need_for_a_protocol_the_offer_lacks_fails_at_load(tmp_path: Path) -> None:
    write_module(tmp_path, "counter", COUNTER)
    write_module(tmp_path, "greedy", '''
class More(Counter, Protocol):
    def reset(self) -> None: ...

class Greedy(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.counter = core.api("counter")

EXPORTS = Exports(name="greedy", needs=(Need("counter", More),), factory=Greedy)
''')
    (error,) = load_errors(tmp_path, ["counter", "greedy"])
    assert error.endswith("module 'greedy' uses the API 'counter' as More, which the object offered does "
                          "not implement: it has no method 'reset'")


def test_an_optional_api_nobody_offers_is_none(tmp_path: Path) -> None:
    write_module(tmp_path, "lonely", '''
class Lonely(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.counter = core.api("counter")

    def alone(self, ctx):
        return 1 if self.counter is None else -1

EXPORTS = Exports(name="lonely", functions=(Function("alone"),),
                  needs=(Need("counter", Counter, optional=True),), factory=Lonely)
''')
    server = server_of(tmp_path, 'loadmodule "lonely"\nrequest_route { alone(); }')
    assert server.core.modules["lonely"].counter is None


# ------------------------------------------------------------------ the core a module gets


def test_a_module_gets_the_core_narrowed_to_core_api(tmp_path: Path) -> None:
    write_module(tmp_path, "counter", COUNTER)
    server = server_of(tmp_path, 'loadmodule "counter"\nrequest_route { exit; }')
    view = server.core.modules["counter"].core
    assert {name for name in dir(view) if not name.startswith("_")} == set(protocol_members(CoreAPI))
    assert view.clock is server.core.clock and view.rank == server.core.rank
    assert not hasattr(view, "modules") and not hasattr(view, "config")


def test_the_core_itself_answers_no_api_request() -> None:
    with pytest.raises(LookupError, match="asks its own core"):
        Core().api("sl")


def test_the_core_implements_core_api() -> None:
    assert protocol_problems(Core(), CoreAPI) == []


# ------------------------------------------------------------------ event routes


def test_an_event_route_runs_with_the_message_at_hand(tmp_path: Path) -> None:
    server = server_of(tmp_path, 'loadmodule "pv"\nrequest_route { exit; }\n'
                                 'event_route[x:seen] { $var(who) = $fU; }')
    ctx = MessageContext(parse_message(request()), SOURCE, server.core)
    assert server.core.run_event_route("x:seen", ctx) is True
    assert server.core.modules["pv"].vars["who"] == "alice"


def test_an_event_route_without_a_message_runs_with_kamailios_faked_one(tmp_path: Path) -> None:
    server = server_of(tmp_path, 'loadmodule "pv"\nloadmodule "sl"\nrequest_route { exit; }\n'
                                 'event_route[x:timer] { $var(ru) = $ru; sl_send_reply("200", "OK"); }')
    assert server.core.run_event_route("x:timer") is True
    assert server.core.modules["pv"].vars["ru"] == "sip:you@kamailio.org"
    (out,) = server.core.take_outbox()
    assert first_line(out) == "SIP/2.0 200 OK" and (out.host, out.port) == ("127.0.0.1", 5060)


def test_a_drop_in_an_event_route_is_reported_and_a_missing_route_is_none(tmp_path: Path) -> None:
    server = server_of(tmp_path, "request_route { exit; }\nevent_route[x:no] { drop; }")
    assert server.core.run_event_route("x:no") is False
    assert server.core.run_event_route("x:absent") is None


# ------------------------------------------------------------------ one name resolution, fix-ups


def test_the_engine_binds_calls_to_the_compilers_resolution_only(tmp_path: Path) -> None:
    compiled = load_text('loadmodule "pv"\nrequest_route { $var(a) = 1; }\nroute[R] { pv_unset("$var(a)"); }',
                         "t.cfg")
    assert [(owner, f.name) for owner, f in compiled.calls.values()] == [("pv", "pv_unset")]
    compiled.calls.clear()
    with pytest.raises(ConfigError, match="not resolved against its modules"):
        Engine(compiled, Core(compiled))


FIXING = '''
class Fixing(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.fixed = []

    def to_number(self, text):
        self.fixed.append(text)
        return int(text, 0)

    def twice(self, ctx, n):
        return 1 if n * 2 == 42 else -1

EXPORTS = Exports(name="fixing", functions=(Function("twice", args=(Arg("n", fixup="to_number"),)),),
                  factory=Fixing)
'''


def test_a_constant_argument_is_fixed_up_once_at_load(tmp_path: Path) -> None:
    write_module(tmp_path, "fixing", FIXING)
    server = server_of(tmp_path, 'loadmodule "fixing"\nrequest_route { if (twice("0x15")) { drop; } }')
    for _ in range(3):
        server.handle(request(), SOURCE)
    assert server.core.modules["fixing"].fixed == ["0x15"]


def test_a_constant_the_fixup_refuses_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    write_module(tmp_path, "fixing", FIXING)
    with pytest.raises(ConfigError) as info:
        server_of(tmp_path, 'loadmodule "fixing"\nrequest_route {\n  twice("many");\n}')
    (diag,) = info.value.diagnostics
    assert (diag.pos.line, diag.message) == (4, "twice(): bad argument 1: invalid literal for int() with "
                                                "base 0: 'many'")


def test_a_dynamic_argument_the_fixup_refuses_fails_the_call(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    write_module(tmp_path, "fixing", FIXING)
    write_module(tmp_path, "fake", FAKE_MODULE)
    server = server_of(tmp_path, 'loadmodule "fake"\nloadmodule "pv"\nloadmodule "fixing"\n'
                                 'request_route { if (!twice("$fU")) { rec("refused"); } }')
    with caplog.at_level(logging.ERROR, "kampy.runtime"):
        server.handle(request(), SOURCE)
    assert recorded(server) == ["refused"]
    assert "twice(): bad argument 1: invalid literal for int() with base 0: 'alice'" in caplog.text


READY = '''
from kampy.api import Param


class Ready(Module):
    def refuse_unless_ready(self):
        if not self.params["ready"]:
            raise ValueError("set 'ready' first")

    def go(self, ctx):
        return 1

EXPORTS = Exports(name="ready", params=(Param("ready", (int,), 0),),
                  functions=(Function("go", fixup="refuse_unless_ready"),), factory=Ready)
'''


def test_a_function_without_arguments_whose_fixup_refuses_is_a_config_error_at_the_call(
        tmp_path: Path) -> None:
    write_module(tmp_path, "ready", READY)
    with pytest.raises(ConfigError) as info:
        server_of(tmp_path, 'loadmodule "ready"\nrequest_route {\n  go();\n}')
    (diag,) = info.value.diagnostics
    assert (diag.pos.line, diag.message) == (4, "go(): set 'ready' first")
    server_of(tmp_path, 'loadmodule "ready"\nmodparam("ready", "ready", 1)\nrequest_route {\n  go();\n}')


def test_a_pseudo_variable_of_a_module_built_later_is_a_clear_load_error(tmp_path: Path) -> None:
    write_module(tmp_path, "eager", '''
class Eager(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.from_user = core.pv_accessor("$fU")

EXPORTS = Exports(name="eager", factory=Eager)
''')
    assert load_errors(tmp_path, ["eager", "pv"]) == [
        "module 'eager' failed to initialise: pseudo-variable $fU of module pv is not available yet "
        "(the module is built later)"]
