"""README.md's walkthrough, run exactly as written: its `kampy run` command (from the README's first
lines) and its sipp and `cat` commands, moved to free ports with the sample's `-A` defines."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e import msilo_sample
from tests.e2e.kampy_process import REPO, free_port, start_server, track

README = REPO / "README.md"
DEFAULT_PORT = "5060"


def sh_blocks(text: str) -> list[list[str]]:
    """The lines of each ```sh block of `text`."""
    return [block.strip("\n").splitlines() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def readme_commands() -> tuple[str, list[str]]:
    """The README's `kampy run` command and the walkthrough's commands."""
    text = README.read_text()
    first = sh_blocks(text)[0][0]
    kampy_run = first.split("&&", 1)[1].strip()
    walkthrough = text[text.index("## Walkthrough"):]
    return kampy_run, sh_blocks(walkthrough)[0]


def expected_pattern(comment: str) -> re.Pattern[str]:
    """`...` in a README comment stands for anything."""
    return re.compile(".*".join(re.escape(part) for part in comment.strip().split("...")))


def kampy_argv(command: str) -> list[str]:
    argv = shlex.split(command)
    assert argv[0] == "kampy"
    exe = shutil.which("kampy")
    return ([exe] if exe else [sys.executable, "-m", "kampy"]) + argv[1:]


def sipp_argv(command: str, servers: dict[str, int], ports: dict[str, str]) -> list[str]:
    """A sipp command of a README: `127.0.0.1:PORT` aimed at servers[PORT], scenario paths made
    absolute, each local port (-p) replaced by a free one (the same one each time it appears)."""
    argv = []
    for arg in shlex.split(command):
        host, _, port = arg.rpartition(":")
        if host == "127.0.0.1" and port in servers:
            arg = f"127.0.0.1:{servers[port]}"
        elif arg.startswith("samples/"):
            arg = str(REPO / arg)
        elif argv and argv[-1] == "-p":
            arg = ports.setdefault(arg, str(free_port()))
        argv.append(arg)
    return argv


def run_walkthrough(commands: list[str], cwd: Path, servers: dict[str, int], logs: Callable[[], str]) -> None:
    """Run a README walkthrough's sipp and `cat` commands in `cwd`: each sipp must succeed, each
    file shown must match the comment after the command (`...` for anything). `logs()`: the
    servers' logs, shown when a sipp fails."""
    ports: dict[str, str] = {}
    for line in commands:
        command, _, comment = line.partition("  #")
        if command.startswith("sipp "):
            result = subprocess.run(sipp_argv(command, servers, ports), cwd=cwd, capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{logs()[-3000:]}"
        elif command.startswith("cat "):
            shown = (cwd / command.split()[1]).read_text()
            assert expected_pattern(comment).search(shown), f"{command}: {shown!r}"
        else:
            pytest.fail(f"the test does not know how to run {command!r}")


@pytest.fixture(scope="module")
def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        pytest.skip("sipp is not installed (Debian package sip-tester)")
    return path


def test_the_readme_walkthrough_works_as_written(tmp_path: Path, sipp_binary: str) -> None:
    kampy_run, commands = readme_commands()
    assert kampy_run == "kampy run samples/msilo.cfg"
    port = free_port()
    db = tmp_path / "msilo.sqlite"  # does not exist yet: kampy creates it with the standard tables
    argv = kampy_argv(kampy_run) + ["-E", *msilo_sample.sample_defines(port, f"sqlite://{db}")]
    log_path = tmp_path / "kampy.log"
    with open(log_path, "wb") as out:
        proc = start_server(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = track(msilo_sample.Server("kampy", proc, port, log_path))
    try:
        msilo_sample.wait_answering(server, 30)
        assert db.exists()
        run_walkthrough(commands, tmp_path, {DEFAULT_PORT: port}, server.output)
    finally:
        server.stop()
