"""`kampy` with Kamailio's options, beside Kamailio 5.6 given the same ones: the same messages and exit
statuses for what cannot be read, the same checks, texts and "Listening on" block."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.cli import main
from tests.support.kamailio_cli import KAMAILIO_MODULES, kamailio_cmd, listening_block, logging_kept, run

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:5099
loadmodule "sl.so"
request_route { sl_send_reply("200", "OK"); }
"""


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    with logging_kept():
        yield


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "a.cfg"
    path.write_text(CFG)
    return path


def kampy(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def kamailio(*args: str) -> tuple[int, str, str]:
    result = run(kamailio_cmd("-L", KAMAILIO_MODULES, *args))
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("args", [
    ["-z"], ["-f"], ["--bogus"], ["--debug"], ["--loadmodule"], ["--cfg-print=x"], ["--substd=x"],
    ["-n", "x", "-c"], ["-b", "x", "-c"], ["-m", "1x", "-c"], ["-M", "abc", "-c"], ["-O", "x", "-c"],
    ["-a", "maybe", "-c"], ["-T", "-N", "2", "-c"], ["-W", "bogus", "-c"], ["-n", "2x", "-c", "-z"],
])
def test_an_option_kamailio_refuses_is_refused_with_its_words_and_255(capsys, cfg, args):
    args = [*args, "-f", str(cfg)] if "-c" in args else list(args)
    expected = kamailio(*args)
    got = kampy(capsys, "-L", KAMAILIO_MODULES, *args)
    assert got[0] == expected[0] == 255
    assert got[2].splitlines()[0] == expected[2].splitlines()[0]


@pytest.mark.parametrize("word", ["start", "stop", "Restart"])
def test_start_stop_restart_are_not_supported_arguments(capsys, word):
    code, _, err = kampy(capsys, word)
    expected = run(kamailio_cmd(word))
    assert code == expected.returncode == 255
    assert err == expected.stderr.replace("kamailio", "kampy")


def test_help_names_every_option_of_kamailio_but_sctp_ones(capsys):
    code, out, _ = kampy(capsys, "-h")
    theirs = set(re.findall(r"^ {4}(-\w|--[\w-]+)", kamailio("-h")[1], re.M))
    ours = set(re.findall(r"^ {4}(-\w|--[\w-]+)", out, re.M))
    assert code == 0 and out.startswith("version: kampy 0.1.0 (") and "Usage: kampy [options]" in out
    assert ours == theirs - {"-Q", "-S"}  # as a Kamailio built without SCTP


def test_help_wins_over_everything_also_as_an_option_value(capsys):
    assert kampy(capsys, "-z", "-f", "-h")[1].startswith("version: kampy")


@pytest.mark.parametrize("flag", ["-v", "-V", "--version", "--vers"])
def test_version_has_kamailios_lines_saying_kampy(capsys, flag):
    code, out, _ = kampy(capsys, flag)
    theirs = [line.split(" ")[0] for line in kamailio(flag)[1].splitlines()]
    ours = [line.split(" ")[0] for line in out.splitlines()]
    assert code == 0 and re.match(r"version: kampy 0\.1\.0 \(x86_64/linux\) \w*\n", out)
    assert [w for w in ours if w.endswith(":") or w in ("compiled", "poll")] == \
        [w for w in theirs if w.endswith(":") or w in ("compiled", "poll")]


def test_internals_print_kamailios_fields(capsys):
    code, out, _ = kampy(capsys, "-I")
    fields = [line.split(":")[0].split("=")[0] for line in out.splitlines()[1:-1]]
    theirs = [line.split(":")[0].split("=")[0] for line in kamailio("-I")[1].splitlines()[1:-1]]
    assert code == 0 and set(fields) == set(theirs) - {"  ADAPTIVE_WAIT_LOOPS"}


def test_check_prints_the_listening_block_and_config_ok_as_kamailio(capsys, cfg):
    code, out, err = kampy(capsys, "-c", "-f", str(cfg))
    expected = kamailio("-c", "-f", str(cfg))
    assert code == expected[0] == 0
    assert listening_block(out) == listening_block(expected[1])
    assert err.endswith("config file ok, exiting...\n")
    assert expected[2].endswith("config file ok, exiting...\n")


@pytest.mark.parametrize("listen", [
    ["-l", "udp:127.0.0.1:5080"],
    ["-l", "tcp:127.0.0.1:5081", "-l", "udp:127.0.0.1:5082"],
    ["-l", "udp:127.0.0.1:5080/192.0.2.1:5060"],
    ["-l", "127.0.0.1:5083"],
    ["-l", "udp:lo:5084"],
    ["-a", "no", "-l", "udp:127.0.0.1:5085"],
    ["--alias=udp:example.org:5060", "-l", "udp:127.0.0.1:5086"],
])
def test_listen_options_add_to_the_config_as_in_kamailio(capsys, cfg, listen):
    code, out, _ = kampy(capsys, *listen, "-c", "-f", str(cfg))
    expected = kamailio(*listen, "-c", "-f", str(cfg))
    assert code == expected[0] == 0
    assert listening_block(out) == listening_block(expected[1])


def test_disable_tcp_leaves_only_udp_sockets(capsys, tmp_path):
    path = tmp_path / "b.cfg"
    path.write_text(CFG.replace("listen=udp:127.0.0.1:5099", "listen=127.0.0.1:5099"))
    code, out, _ = kampy(capsys, "-T", "-c", "-f", str(path))
    assert listening_block(out) == listening_block(kamailio("-T", "-c", "-f", str(path))[1])
    assert "tcp:" not in out and code == 0


def test_a_config_error_is_shown_with_its_position_and_kamailios_last_line(capsys, tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_text('loadmodule "sl.so"\nrequest_route { xx(); }\n')
    code, _, err = kampy(capsys, "-f", str(path))
    assert code == 255
    assert re.search(rf"^{re.escape(str(path))}:2:17: error: ", err, re.M)
    assert err.endswith("ERROR: bad config file (1 errors) (parsing code: 0)\n")


def test_a_config_file_that_cannot_be_read_is_refused_as_kamailio(capsys, tmp_path):
    missing = str(tmp_path / "none.cfg")
    code, _, err = kampy(capsys, "-f", missing)
    assert (code, err) == (255, kamailio("-f", missing)[2])


def test_without_f_the_config_is_debians_default(capsys):
    code, out, _ = kampy(capsys, "--cfg-print")
    assert code == 0 and out.startswith("#!KAMAILIO")
    assert out == kamailio("--cfg-print")[1]


def test_cfg_print_prints_what_kamailio_prints(capsys, tmp_path):
    inc = tmp_path / "inc.cfg"
    inc.write_text("# included\nchildren=2\n")
    path = tmp_path / "p.cfg"
    path.write_text(f'#!KAMAILIO\n#!define WITH_X\n#!ifdef WITH_X\nchildren=1\n#!else\nchildren=3\n#!endif\n'
                    f'include_file "{inc}"\nrequest_route {{ exit; }}\n')
    code, out, _ = kampy(capsys, "--cfg-print", "-f", str(path))
    assert code == 0 and out == kamailio("--cfg-print", "-f", str(path))[1]


def test_defines_and_substdef_from_the_command_line_reach_the_config(capsys, tmp_path):
    path = tmp_path / "d.cfg"
    path.write_text('#!KAMAILIO\n#!ifdef WITH_LISTEN\nlisten=udp:127.0.0.1:PORT\n#!endif\n'
                    'loadmodule "sl.so"\nrequest_route { exit; }\n')
    args = ["-A", "WITH_LISTEN", "--substdef=/PORT/5123/", "-c", "-f", str(path)]
    code, out, _ = kampy(capsys, *args)
    assert code == 0 and "udp: 127.0.0.1:5123" in out
    assert listening_block(out) == listening_block(kamailio(*args)[1])


def test_loadmodule_and_modparam_apply_before_the_config(capsys, tmp_path):
    path = tmp_path / "m.cfg"
    path.write_text('#!KAMAILIO\nlisten=udp:127.0.0.1:5099\nrequest_route { sl_send_reply("200", "OK"); }\n')
    args = ["--loadmodule=sl.so", "--modparam=sl:default_code:i:500", "-c", "-f", str(path)]
    assert kampy(capsys, *args)[0] == kamailio(*args)[0] == 0
    assert kampy(capsys, "-c", "-f", str(path))[0] == 255


def test_a_modparam_not_in_kamailios_format_is_refused(capsys, cfg):
    code, _, err = kampy(capsys, "--modparam=x", "-c", "-f", str(cfg))
    assert code == kamailio("--modparam=x", "-c", "-f", str(cfg))[0] == 255
    assert "invalid format for argument: x" in err


def test_sctp_options_warn_as_a_kamailio_built_without_sctp(capsys, cfg):
    code, _, err = kampy(capsys, "-S", "-c", "-f", str(cfg))
    assert code == 0 and "WARNING: sctp support not compiled in" in err


@pytest.mark.parametrize("args", [["-u", "no-such-user"], ["-g", "no-such-group"]])
def test_unknown_user_or_group_is_refused_before_anything_starts(capsys, cfg, args):
    code, out, err = kampy(capsys, *args, "-c", "-f", str(cfg))
    expected = kamailio(*args, "-c", "-f", str(cfg))
    assert code == expected[0] == 255 and out == ""
    assert err.splitlines()[0] == expected[2].splitlines()[0]


@pytest.mark.parametrize("args", [["-x", "bogus"], ["--atexit=maybe"], ["--debug=x"], ["--server-id=x"]])
def test_memory_managers_atexit_debug_and_server_id_are_checked_as_kamailio(capsys, cfg, args):
    assert kampy(capsys, *args, "-c", "-f", str(cfg))[0] == kamailio(*args, "-c", "-f", str(cfg))[0] == 255


@pytest.mark.parametrize("args", [["-x", "qm", "-X", "fm"], ["--atexit=no"], ["--server-id=3"], ["-O", "2"],
                                  ["-K", "-r", "-R"], ["-W", "poll"], ["-W", "kqueue"],
                                  ["-m", "64", "-M", "8"]])
def test_kamailios_other_options_are_accepted(capsys, cfg, args):
    assert kampy(capsys, *args, "-c", "-f", str(cfg))[0] == kamailio(*args, "-c", "-f", str(cfg))[0] == 0
