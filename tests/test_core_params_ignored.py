"""A config that sets a core parameter kampy ignores (kampy/config/core_ignored.py) to a value other than
Kamailio's default gets a warning naming the reason: from `kampy check` at the line, from `kampy run`
once when it starts."""
from __future__ import annotations

import pytest

from kampy.cli import main
from kampy.config.core_ignored import IGNORED, MEMORY
from tests.e2e.kampy_process import running_kampy


def check_warnings(tmp_path, capsys, text: str) -> list[str]:
    cfg = tmp_path / "k.cfg"
    cfg.write_text(text + "\nrequest_route { exit; }\n")
    assert main(["check", str(cfg)]) == 0
    return [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]


def test_check_warns_at_the_line_of_an_ignored_parameter_set_off_its_default_naming_the_reason(
        tmp_path, capsys):
    (warning,) = check_warnings(tmp_path, capsys, "children = 2\nmem_join = 0")
    assert warning == (f"{tmp_path}/k.cfg:2:1: warning: core parameter 'mem_join' is ignored by kampy: "
                       f"{MEMORY}")


@pytest.mark.parametrize("line", ["mem_join = 1", "dns_cache_init = yes", "use_dns_cache = on",
                                  "tcp_keepalive = 1", "children = 3", "debug = 3"])
def test_check_is_silent_about_an_ignored_parameter_at_its_default_and_about_a_read_one(
        tmp_path, capsys, line):
    assert check_warnings(tmp_path, capsys, line) == []


def test_a_parameter_without_a_single_default_warns_at_any_value(tmp_path, capsys):
    assert IGNORED["tls_certificate"].default is None
    (warning,) = check_warnings(tmp_path, capsys, 'tls_certificate = "/etc/kamailio/cert.pem"')
    assert ":1:1: warning: core parameter 'tls_certificate' is ignored by kampy: the old TLS" in warning


def test_an_ignored_parameter_of_a_later_kamailio_does_not_claim_kampy_uses_it(tmp_path, capsys):
    later, ignored = check_warnings(tmp_path, capsys, "tcp_main_threads = 2")
    assert later.endswith("'tcp_main_threads' is a core parameter of a later Kamailio: 5.6 rejects it")
    assert "'tcp_main_threads' is ignored by kampy: " in ignored


def test_run_logs_the_warning_once_when_it_starts(tmp_path):
    cfg = 'fork = no\nmem_safety = 0\nrequest_route { exit; }\n'
    with running_kampy(cfg, tmp_path, protos=("udp",)) as kampy:
        logged = kampy.output()
    assert logged.count("core parameter 'mem_safety' is ignored by kampy: memory-manager tuning") == 1
