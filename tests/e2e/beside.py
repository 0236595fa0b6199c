"""One config run by Kamailio 5.6 and by kampy side by side, each with its ctl socket in a directory of
its own, for tests that send both the same traffic and compare what `kamcmd` prints.

The config names `PORT` (its SIP port), `DIR` (the server's directory: `unix:DIR/ctl.sock` must be
its ctl binrpc socket) and `MODULES` (Kamailio's module path, under `#!ifdef KAMAILIO`)."""
from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.support.kamailio_cli import KAMAILIO, KAMAILIO_MODULES, kampy_cmd

KAMCMD = "/usr/sbin/kamcmd"


def ctl(directory: Path, *args: str) -> str:
    """What kamcmd prints (stdout, then stderr) for the server whose ctl socket is
    `directory`/ctl.sock."""
    result = subprocess.run([KAMCMD, "-s", f"unix:{directory}/ctl.sock", *args], capture_output=True,
                            text=True, timeout=20)
    return result.stdout + result.stderr


@dataclass
class Server:
    name: str
    dir: Path
    port: int
    proc: subprocess.Popen[bytes]

    def kamcmd(self, *args: str) -> str:
        """What kamcmd prints (stdout, then stderr), the server's directory written `DIR`."""
        return ctl(self.dir, *args).replace(str(self.dir), "DIR")


def launch(name: str, directory: Path, config: str, extra: tuple[str, ...] = (),
           values: dict[str, str] | None = None) -> tuple[int, subprocess.Popen[bytes]]:
    """Kamailio (`name` "kamailio") or kampy running `config` (with the command line arguments
    `extra`) in `directory`, once it answers over ctl: (its SIP port, its process). The names in
    `values` are replaced in the config first (in their order), then PORT, DIR and MODULES."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    for key, value in (values or {}).items():
        config = config.replace(key, value)
    cfg = directory / "k.cfg"
    cfg.write_text(config.replace("PORT", str(port)).replace("DIR", str(directory))
                   .replace("MODULES", KAMAILIO_MODULES))
    args = ["-f", str(cfg), "-DD", "-E", "-Y", str(directory), *extra]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    with open(directory / "log", "wb") as log:
        proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not re.match(r"\w+ \d", ctl(directory, "core.version")):
        assert proc.poll() is None and time.monotonic() < deadline, (directory / "log").read_text()
        time.sleep(0.1)
    return port, proc


def start(name: str, tmp: Path, config: str, extra: tuple[str, ...] = ()) -> Server:
    """Kamailio (`name` "kamailio") or kampy running `config` (with the command line arguments
    `extra`) in `tmp`/`name`, once it answers over ctl."""
    directory = tmp / name
    directory.mkdir()
    return Server(name, directory, *launch(name, directory, config, extra))


S = TypeVar("S")


def pair(start_one: Callable[[str], S], stop: Callable[[S], object]) -> Iterator[tuple[S, S]]:
    """Kamailio, then kampy, each started by `start_one(name)`, given once as (kamailio, kampy), then
    both stopped by `stop` (kampy first), however the user ends: for a fixture's `yield from`."""
    kamailio = start_one("kamailio")
    try:
        kampy = start_one("kampy")
        try:
            yield kamailio, kampy
        finally:
            stop(kampy)
    finally:
        stop(kamailio)


@contextmanager
def both(tmp: Path, config: str) -> Iterator[tuple[Server, Server]]:
    """Kamailio and kampy running `config`, stopped when the block ends."""
    yield from pair(lambda name: start(name, tmp, config), lambda server: stop_process(server.proc))
