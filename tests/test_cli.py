"""`kampy check` as a user runs it: exit codes, messages, no tracebacks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kampy.cli import main
from tests.support.seed import seed_sample_config

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "msilo.cfg"


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_msilo_cfg_passes_the_full_check(capsys):
    code, out, err = run_check(capsys, "check", str(SAMPLE))
    assert code == 0, err
    assert out.startswith(f"{SAMPLE}: OK")


def test_sample_msilo_cfg_passes_with_mysql(capsys):
    code, _, err = run_check(capsys, "check", str(SAMPLE), "-A", "WITH_MYSQL")
    assert code == 0, err


def test_kamailio_spelling_dash_c_dash_f_checks_the_config_as_kamailio_does(capsys):
    code, out, err = run_check(capsys, "-c", "-f", str(SAMPLE))
    assert code == 0
    assert out.startswith("Listening on \n") and "\nAliases: \n" in out
    assert err.endswith("config file ok, exiting...\n")


def test_seed_sample_is_rejected_at_its_unclosed_block(capsys, tmp_path):
    cfg = tmp_path / "seed.cfg"
    text = seed_sample_config()
    cfg.write_text(text)
    stray = next(i for i, line in enumerate(text.splitlines(), 1)
                 if line.strip() == "{" and "uri==myself" in text.splitlines()[i - 2])
    code, _, err = run_check(capsys, "check", str(cfg))
    assert code == 1
    assert f"{cfg}:{stray}:" in err
    assert "Traceback" not in err


def test_error_report_has_position_source_line_and_caret(capsys, tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text('loadmodule "sl.so"\nrequest_route {\n    sl_send_reply("200");\n}\n')
    code, _, err = run_check(capsys, "check", str(cfg))
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{cfg}:3:5: error: sl_send_reply() takes 2 arguments, 1 given")
    assert lines[1] == '        sl_send_reply("200");'
    assert lines[2] == "        ^"
    assert lines[-1] == f"{cfg}: 1 error"


def test_syntax_only_ignores_unknown_modules(capsys, tmp_path):
    cfg = tmp_path / "x.cfg"
    cfg.write_text('loadmodule "nosuch.so"\nrequest_route { nosuch_function(); }\n')
    code, out, _ = run_check(capsys, "check", "--syntax-only", str(cfg))
    assert code == 0
    assert "syntax OK" in out


def test_define_on_the_command_line_selects_an_ifdef_branch(capsys, tmp_path):
    cfg = tmp_path / "x.cfg"
    cfg.write_text('#!ifdef BROKEN\nrequest_route {\n#!else\nrequest_route { exit; }\n#!endif\n')
    assert run_check(capsys, "check", "--syntax-only", str(cfg))[0] == 0
    assert run_check(capsys, "check", "--syntax-only", str(cfg), "-A", "BROKEN")[0] == 1


def test_cfg_print_prints_the_preprocessed_config(capsys, tmp_path):
    cfg = tmp_path / "x.cfg"
    cfg.write_text("#!ifdef A\nchildren=4\n#!else\nchildren=8\n#!endif\n")
    code, out, _ = run_check(capsys, "check", "--cfg-print", str(cfg))
    assert code == 0
    assert "children=8" in out and "children=4" not in out


def test_missing_config_file_is_a_clear_message_not_a_traceback(capsys, tmp_path):
    code, _, err = run_check(capsys, "check", str(tmp_path / "nope.cfg"))
    assert code == 2
    assert "no such file" in err


def test_installed_console_script_runs_from_any_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kampy", "check", str(SAMPLE)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_non_editable_install_ships_grammar_and_modules(tmp_path):
    """`pip install .` (not editable) must carry grammar/kamailio.lark and modules/ along, inside
    kampy (kampy.grammar, kampy.modules): no top-level package of another name."""
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert (target / "kampy" / "grammar" / "kamailio.lark").is_file()
    assert (target / "kampy" / "modules" / "msilo" / "__init__.py").is_file()
    assert not (target / "modules").exists() and not (target / "grammar").exists()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "kampy", "check", str(SAMPLE)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_check_shows_the_warning_for_an_unimplemented_param(capsys, tmp_path):
    cfg = tmp_path / "reg.cfg"
    cfg.write_text('loadmodule "sl.so"\nloadmodule "usrloc.so"\nloadmodule "registrar.so"\n'
                   'modparam("usrloc", "load_rank", 2)\nrequest_route { exit; }\n')
    assert main(["check", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert "warning: parameter 'load_rank' of module 'usrloc' is ignored by kampy: " in err


@pytest.mark.parametrize("block", ["onsend_route { drop; }", "event_route[core:pre-routing] { drop; }",
                                   "event_route[core:msg-received] { drop; }"])
def test_check_warns_about_a_core_route_block_kampy_does_not_run(capsys, tmp_path, block):
    cfg = tmp_path / "k.cfg"
    cfg.write_text(f'loadmodule "sl.so"\nrequest_route {{ exit; }}\n{block}\n')
    assert main(["check", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert ":3:1: warning: " in err and "is not run by kampy (not implemented yet)" in err


def test_check_does_not_warn_about_worker_one_init(capsys, tmp_path):
    cfg = tmp_path / "k.cfg"
    cfg.write_text('loadmodule "sl.so"\nrequest_route { exit; }\n'
                   'event_route[core:worker-one-init] { exit; }\n')
    assert main(["check", str(cfg)]) == 0
    assert "warning" not in capsys.readouterr().err
