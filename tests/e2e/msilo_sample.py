"""samples/msilo.cfg run unchanged by kampy or by Kamailio 5.6, on free loopback ports, with its `-A`
defines; each server is stopped by its PID.

Plain functions (no pytest), shared by the e2e tests and bench/msilo.py.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.dualserver import wait_answering
from tests.e2e.kampy_process import REPO, free_port, kampy_command, start_server, stop_process, track

SAMPLE = REPO / "samples" / "msilo.cfg"
KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")


def sample_defines(port: int, db_url: str, *extra: str) -> list[str]:
    """The `-A` arguments that put the sample on 127.0.0.1:`port` with `db_url` (MySQL URLs add
    WITH_MYSQL); `extra` are more names to define (e.g. WITH_JSONRPC)."""
    defines = [f"LISTEN_UDP=udp:127.0.0.1:{port}", f"LISTEN_TCP=tcp:127.0.0.1:{port}",
               f'MSILO_PROXY="sip:127.0.0.1:{port}"',
               f'MSILO_CONTACT="Contact: <sip:registrar@127.0.0.1:{port}>;msilo=yes\\r\\n"',
               f'DBURL="{db_url}"', *extra]
    if db_url.startswith("mysql://"):
        defines.insert(0, "WITH_MYSQL")
    return [a for d in defines for a in ("-A", d)]


def kamailio_binary() -> str | None:
    return shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)


def kamailio_has(*modules: str) -> bool:
    return kamailio_binary() is not None and all((KAMAILIO_MODULES / f"{m}.so").exists() for m in modules)


@dataclass
class Server:
    """kampy or Kamailio running the sample."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    stopped: bool = False

    host = "127.0.0.1"

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        code = stop_process(self.proc, timeout=timeout)
        self.stopped = True
        return code


def start(name: str, directory: Path, db_url: str, *, children: int | None = None, port: int | None = None,
          defines: tuple[str, ...] = (), shm_mb: int = 64, ready_timeout: float = 30) -> Server:
    """Start `name` ("kampy" or "kamailio") running the sample and wait until it answers SIP."""
    port = port or free_port()
    return start_cfg(name, SAMPLE, directory, port, sample_defines(port, db_url, *defines), children=children,
                     shm_mb=shm_mb, ready_timeout=ready_timeout)


def start_cfg(name: str, cfg: Path, directory: Path, port: int, args: list[str], *,
              children: int | None = None, shm_mb: int = 64, ready_timeout: float = 30) -> Server:
    """Start `name` ("kampy" or "kamailio") running `cfg` with the command line arguments `args`
    (`-A` defines), listening on 127.0.0.1:`port`, and wait until it answers SIP.

    Kamailio runs in the foreground (-DD) with its runtime files (-Y) and pid file (-P) in a private
    directory under `directory`, and `shm_mb` MB of shared memory (-m; its default is 64)."""
    args = list(args)
    if children is not None:
        args += ["-n", str(children)]
    log_path = directory / f"{name}-{port}.log"
    if name == "kampy":
        cmd = kampy_command(cfg, *args)
    elif name == "kamailio":
        binary = kamailio_binary()
        if binary is None:
            raise RuntimeError("kamailio is not installed")
        run_dir = directory / f"kamailio-{port}"
        run_dir.mkdir(parents=True, exist_ok=True)
        cmd = [binary, "-f", str(cfg), "-E", "-DD", "-Y", str(run_dir),
               "-P", str(run_dir / "kamailio.pid"),
               "-m", str(shm_mb), "-M", "8", *args]
    else:
        raise ValueError(f"unknown server {name!r}")
    with open(log_path, "wb") as out:
        proc = start_server(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = track(Server(name, proc, port, log_path))
    try:
        wait_answering(server, ready_timeout)
    except BaseException:
        server.stop()
        raise
    return server
