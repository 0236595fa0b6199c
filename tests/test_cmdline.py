"""Kamailio's command line in kampy.cmdline, in process: reading it as getopt_long does, what each
option sets over the config's core parameters, how the processes are laid out, the printed sockets."""
from __future__ import annotations

from collections.abc import Iterator

from pathlib import Path

import pytest

from kampy.cmdline import options
from kampy.cmdline.config import load, with_command_line
from kampy.cmdline.getopt import Token, tokens
from kampy.cmdline.listing import Alias, aliases, block
from kampy.cmdline.start import Start
from kampy.config import ast
from kampy.runtime.context import Socket
from tests.support.kamailio_cli import logging_kept


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    with logging_kept():
        yield


def test_options_and_other_words_mix_and_double_dash_ends_them():
    assert tokens(["run", "-dd", "-f", "x.cfg", "--", "-E"]) == [Token("d"), Token("d"), Token("f", "x.cfg")]


def test_a_value_may_be_glued_to_its_letter_or_follow_even_if_it_starts_with_a_dash():
    assert tokens(["-fx.cfg", "-f", "-h"]) == [Token("f", "x.cfg"), Token("f", "-h")]


def test_long_options_take_a_unique_prefix_and_a_value_after_equals_or_apart():
    assert tokens(["--vers", "--deb", "3", "--server-id=4"]) == [
        Token("version"), Token("debug", "3"), Token("server-id", "4")]


def test_an_ambiguous_prefix_is_unknown():
    assert tokens(["--substd=x"])[0].error == "Unknown option code '0x0' (0). Use -h for help."


def test_the_first_pass_counts_d_from_zero_and_debug_sets_it():
    assert options.early(tokens(["-ddd"])).debug == 3
    assert options.early(tokens(["--debug=-1"])).debug == -1


DEFAULT_CFG = '#!KAMAILIO\nlisten=udp:127.0.0.1:5099\nloadmodule "sl.so"\nrequest_route { exit; }\n'


def options_for(tmp_path: Path, *argv: str, cfg: str = "") -> tuple[options.Options, dict]:
    path = tmp_path / "k.cfg"
    path.write_text(cfg or DEFAULT_CFG)
    toks = tokens(["-f", str(path), *argv])
    opts = options.early(toks)
    options.before_config(toks, opts)
    compiled = load(opts)
    params = compiled.core_params
    options.after_config(toks, opts, False)
    start = Start(opts, toks)
    start._apply(params)
    return opts, params


@pytest.mark.parametrize(("argv", "name", "value"), [
    (["-K"], "check_via", "yes"), (["-r"], "dns", "yes"), (["-R"], "rev_dns", "yes"),
    (["-b", "4096"], "maxbuffer", 4096), (["-n", "3"], "children", 3), (["-N", "2"], "tcp_children", 2),
    (["-T"], "disable_tcp", "yes"), (["-w", "/srv"], "workdir", "/srv"),
    (["-Y", "/run/x"], "runtime_dir", "/run/x"), (["-t", "/jail"], "chroot", "/jail"),
    (["-u", "nobody"], "user", "nobody"), (["-g", "nogroup"], "group", "nogroup"),
    (["-a", "off"], "auto_aliases", "no"), (["--server-id=9"], "server_id", 9),
    (["-m", "32"], "shm_mem_size", 32), (["-W", "poll"], "tcp_poll_method", "poll"),
    (["-E"], "log_stderror", "yes"), (["-dd"], "debug", 2),
    (["--alias=udp:example.org:5060"], "alias", ["udp:example.org:5060"]),
])
def test_an_option_sets_its_core_parameter_over_the_config(tmp_path, argv, name, value):
    _, params = options_for(tmp_path, *argv)
    assert params[name] == value


def test_the_command_lines_debug_wins_over_the_configs(tmp_path):
    _, params = options_for(tmp_path, "-d", cfg='#!KAMAILIO\ndebug=3\nrequest_route { exit; }\n')
    assert params["debug"] == 1


def test_the_runtime_dir_is_the_configs_rundir_without_y(tmp_path):
    _, params = options_for(tmp_path, cfg='#!KAMAILIO\nrundir="/run/other"\nrequest_route { exit; }\n')
    assert params["runtime_dir"] == "/run/other"


@pytest.mark.parametrize(("argv", "cfg_fork", "fork", "detach"), [
    ([], "yes", True, True), (["-D"], "yes", False, False), (["-DD"], "yes", True, False),
    (["-DDD"], "yes", True, True), ([], "no", False, False), (["-DD"], "no", True, False),
])
def test_d_and_the_configs_fork_decide_forking_and_daemonizing(tmp_path, argv, cfg_fork, fork, detach):
    cfg = f"#!KAMAILIO\nfork={cfg_fork}\nrequest_route {{ exit; }}\n"
    opts, params = options_for(tmp_path, *argv, cfg=cfg)
    mode = Start(opts, tokens(argv))._mode(params)
    assert (mode.fork, mode.detach) == (fork, detach)


def test_loadmodule_modparam_and_l_path_come_before_the_configs_lines(tmp_path):
    opts = options.Options(mpath="/opt/mods", loadmodules=["sl.so"], modparams=[("sl", "default_code", 500)])
    config = ast.Config(items=(ast.CoreParam("mpath", ast.Str("/usr/lib")), ast.LoadModule("tm.so")))
    items = with_command_line(config, opts).items
    assert [type(i).__name__ for i in items] == ["LoadPath", "LoadModule", "ModParam", "LoadModule"]
    assert items[2].value == ast.Int(500)


def test_aliases_are_kept_newest_first_and_covered_ones_are_not_repeated():
    sockets = [Socket("udp", "127.0.0.1", 5060), Socket("tcp", "127.0.0.1", 5060)]
    found = aliases(["localhost"], ["udp:example.org:5070"], sockets, auto=True)
    assert found == [Alias("udp", "example.org", 5070), Alias("", "localhost", 0)]


def test_a_socket_named_by_host_shows_its_address_and_without_auto_aliases_an_address_does_too():
    text = block([Socket("udp", "localhost", 5060), Socket("udp", "127.0.0.1", 5061)], [], auto=False)
    assert text.splitlines()[1:3] == ["             udp: localhost [127.0.0.1]:5060",
                                      "             udp: 127.0.0.1 [127.0.0.1]:5061"]


TINY = '''
from kampy.api import Exports, Function, Module

class Tiny(Module):
    def ping(self, ctx):
        return 1

EXPORTS = Exports(name="tiny", functions=(Function("ping"),), factory=Tiny)
'''


def test_l_path_finds_modules_and_wins_over_the_configs_mpath(tmp_path, capsys):
    from kampy.cli import main

    (tmp_path / "mods" / "tiny").mkdir(parents=True)
    (tmp_path / "mods" / "tiny" / "__init__.py").write_text(TINY)
    cfg = tmp_path / "t.cfg"
    cfg.write_text('#!KAMAILIO\nlisten=udp:127.0.0.1:5099\nmpath="/nonexistent"\nloadmodule "tiny.so"\n'
                   'request_route { ping(); }\n')
    assert main(["-L", str(tmp_path / "mods"), "-c", "-f", str(cfg)]) == 0
    assert main(["-c", "-f", str(cfg)]) == 255
    assert "kampy has no module 'tiny'" in capsys.readouterr().err
