"""A config that sets a core parameter kampy ignores (kampy/config/core_ignored.py) to a value other than
Kamailio's default gets a warning naming the reason: from `kampy check` at the line, from `kampy run`
once when it starts. (The same `kampy run` shows open_files_limit and disable_core_dump, which kampy reads,
applied.)"""
from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

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


OPEN_FILES = 1999  # below any hard limit a test machine has


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A `kampy run` of a config with an ignored parameter (and open_files_limit and
    disable_core_dump, which kampy reads): what it logged, and its /proc limits."""
    cfg = (f'fork = no\nmem_safety = 0\nopen_files_limit = {OPEN_FILES}\ndisable_core_dump = yes\n'
           'request_route { exit; }\n')
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))  # kampy inherits it: below open_files_limit
    try:
        with running_kampy(cfg, tmp_path_factory.mktemp("run"), protos=("udp",)) as kampy:
            limits = Path(f"/proc/{kampy.pid}/limits").read_text()
            yield kampy.output(), limits
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_run_logs_the_warning_once_when_it_starts(started):
    logged, _ = started
    assert logged.count("core parameter 'mem_safety' is ignored by kampy: memory-manager tuning") == 1


def test_run_raises_the_open_files_limit_to_open_files_limit(started):
    _, limits = started
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    assert line.split()[3] == str(OPEN_FILES)  # the soft limit, raised from 512


def test_run_with_disable_core_dump_allows_no_core_files(started):
    _, limits = started
    line = next(x for x in limits.splitlines() if x.startswith("Max core file size"))
    assert line.split()[4:6] == ["0", "0"]
