"""What a module lists in `not_implemented`: `kampy check` warns where a config uses it (file:line:col),
`kampy run` ignores such a parameter and refuses the rest, `kampy doc` lists them with their reasons."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy import docgen, loader
from kampy.cli import main
from kampy.config.compile import CompiledConfig
from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.module import EventRoute, Unimplemented
from kampy.runtime.server import Server
from tests.support.runtime import SOCKET

GAPPY = '''
from kampy.api import (Arg, ArgKind, EventRoute, Exports, Function, Module, Param, PVClass, TransformClass,
                       Unimplemented)


class Gappy(Module):
    def done(self, ctx, text=""):
        return 1

    def pv_gv(self, spec):
        return None

    def tr_gt(self, tr):
        return lambda ctx, value: str(value).upper()


EXPORTS = Exports(
    name="gappy",
    params=(Param("size", (int,), 1),),
    functions=(Function("done", args=(Arg("text", ArgKind.FMT),), min_args=0, doc="does it"),),
    pvars=(PVClass("gv"),),
    transforms=(TransformClass("gt", ("upper",)),),
    event_routes=(EventRoute("gappy:start"),),
    not_implemented=(
        Unimplemented("param", "sctp_port", "kampy has no SCTP transport", default=0, types=(int,)),
        Unimplemented("function", "undone", "not implemented yet"),
        Unimplemented("function", "done", "the two-argument form is not implemented yet", args=2),
        Unimplemented("pvar", "gap", "not implemented yet"),
        Unimplemented("transform", "gt.lower", "not implemented yet"),
        Unimplemented("event_route", "gappy:expired:<table>", "kampy never expires anything"),
    ),
    factory=Gappy,
)
'''


def config(tmp_path: Path, text: str) -> str:
    (tmp_path / "mods" / "gappy").mkdir(parents=True, exist_ok=True)
    (tmp_path / "mods" / "gappy" / "__init__.py").write_text(GAPPY)
    return f'loadpath "{tmp_path / "mods"}"\nloadmodule "gappy"\n{text}\n'


def check(tmp_path: Path, text: str) -> CompiledConfig:
    return load_text(config(tmp_path, text), "t.cfg")


def warnings(compiled: CompiledConfig) -> list[str]:
    return [f"{w.pos.line}:{w.pos.col}: {w.message}" for w in compiled.warnings]


def test_setting_a_parameter_not_implemented_is_a_warning_at_the_modparam(tmp_path):
    compiled = check(tmp_path, 'modparam("gappy", "sctp_port", 5090)\nrequest_route { exit; }')
    assert warnings(compiled) == ["3:1: parameter 'sctp_port' of module 'gappy' is ignored by kampy: "
                                  "kampy has no SCTP transport"]


def test_setting_a_parameter_not_implemented_to_kamailios_default_is_no_warning(tmp_path):
    assert check(tmp_path, 'modparam("gappy", "sctp_port", 0)\nrequest_route { exit; }').warnings == []


def test_a_parameter_not_implemented_still_refuses_a_value_kamailio_refuses(tmp_path):
    with pytest.raises(ConfigError, match="parameter 'sctp_port' of module 'gappy' takes integer, not a str"):
        check(tmp_path, 'modparam("gappy", "sctp_port", "x")\nrequest_route { exit; }')


def test_calling_a_function_not_implemented_is_a_warning_at_the_call(tmp_path):
    compiled = check(tmp_path, 'request_route {\n    undone("a");\n}')
    assert warnings(compiled) == [
        "4:5: undone() of module 'gappy' is not available in kampy: not implemented yet"]


def test_an_argument_count_not_implemented_is_a_warning_and_the_others_are_fine(tmp_path):
    compiled = check(tmp_path, 'request_route { done(); done("a"); done("a", "b"); }')
    assert warnings(compiled) == [
        "3:36: done() with 2 arguments of module 'gappy' is not available in kampy: "
        "the two-argument form is not implemented yet"]


def test_an_undeclared_function_is_still_an_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown function 'nothing'"):
        check(tmp_path, "request_route { nothing(); }")


def test_a_pseudo_variable_not_implemented_is_a_warning_where_it_is_used(tmp_path):
    compiled = check(tmp_path, 'request_route { done("x $gap y"); }')
    assert [w.message for w in compiled.warnings] == [
        "$gap of module 'gappy' is not available in kampy: not implemented yet"]
    assert compiled.warnings[0].pos.line == 3


def test_a_transformation_not_implemented_is_a_warning(tmp_path):
    compiled = check(tmp_path, 'request_route { done("$(gv{gt.upper}) $(gv{gt.lower})"); }')
    assert [w.message for w in compiled.warnings] == [
        "{gt.lower} of module 'gappy' is not available in kampy: not implemented yet"]


def test_an_event_route_not_implemented_is_a_warning_at_its_block(tmp_path):
    compiled = check(tmp_path, 'request_route { exit; }\nevent_route[gappy:expired:calls] { exit; }\n'
                               'event_route[gappy:start] { exit; }')
    assert warnings(compiled) == [
        "4:1: event_route[gappy:expired:<table>] of module 'gappy' is not available in kampy: "
        "kampy never expires anything"]


def test_kampy_check_prints_the_warning_with_file_line_and_column(tmp_path, capsys):
    cfg = tmp_path / "gappy.cfg"
    cfg.write_text(config(tmp_path, 'request_route {\n  undone();\n}'))
    assert main(["check", str(cfg)]) == 0
    assert (f"{cfg}:4:3: warning: undone() of module 'gappy' is not available in kampy: not implemented yet"
            in capsys.readouterr().err)


@pytest.mark.parametrize("body", ['undone();', 'done("a", "b");', 'done("$gap");',
                                  'done("$(gv{gt.lower})");'])
def test_kampy_run_refuses_a_config_using_what_is_not_implemented_with_the_reason(tmp_path, body):
    compiled = check(tmp_path, f"request_route {{ {body} }}")
    with pytest.raises(ConfigError, match="is not available in kampy: "):
        Server.from_config(compiled, sockets=[SOCKET], aliases=[])


def test_kampy_run_ignores_a_parameter_not_implemented(tmp_path):
    compiled = check(tmp_path, 'modparam("gappy", "sctp_port", 5090)\nrequest_route { done("a"); }')
    server = Server.from_config(compiled, sockets=[SOCKET], aliases=[])
    assert "sctp_port" not in compiled.modules["gappy"].params
    assert server.core.modules["gappy"] is not None


def test_the_readme_lists_what_is_not_implemented_with_the_reasons(tmp_path):
    config(tmp_path, "")
    text = docgen.render_reference(loader.find_module("gappy", [str(tmp_path / "mods")]).exports)
    assert "### Event routes\n\n- `event_route[gappy:start]`" in text
    assert "### Not implemented in kampy" in text
    for line in ("- parameter `sctp_port`: kampy has no SCTP transport",
                 "- `undone()`: not implemented yet",
                 "- `done()` with 2 arguments: the two-argument form is not implemented yet",
                 "- `$gap`: not implemented yet", "- `{gt.lower}`: not implemented yet",
                 "- `event_route[gappy:expired:<table>]`: kampy never expires anything"):
        assert line in text


def test_an_entry_needs_a_known_kind_and_a_reason():
    with pytest.raises(ValueError, match="needs a reason"):
        Unimplemented("function", "f", " ")
    with pytest.raises(ValueError, match="kind 'method'"):
        Unimplemented("method", "f", "not implemented yet")


def test_an_event_route_placeholder_stands_for_any_name():
    route = EventRoute("htable:expired:<table>")
    assert route.matches("htable:expired:calls")
    assert not route.matches("htable:expired:")
    assert not route.matches("htable:mod-init")
