"""Authenticated REGISTER throughput with sipp, kampy beside Kamailio in one run: each call is a REGISTER
answered 401 and the REGISTER again with the digest answer, accepted 200 (auth_db on MariaDB).

    python bench/register_auth.py [--children 4] [--seconds 3] [--rates 100,200,...] [--users 1000]
                                  [--defines WITH_USRLOCDB,...] [--targets kamailio,kampy]
                                  [--without-modules acc]

Both servers run Debian's stock /etc/kamailio/kamailio.cfg unchanged with `-A WITH_MYSQL -A WITH_AUTH`
(and --defines), a DBURL to a private MariaDB started for the run (tables made by `kampy db create`,
the users added as `kamctl add` adds them), on 127.0.0.1 and a free port given with `-l` (sipp
registers at sip:127.0.0.1:PORT, which the server knows as itself). For each rate sipp sends rate x
seconds calls (tests/e2e/stock/scenarios/register_auth.xml, the users in turn); a rate is *held* when
every call succeeded and sipp achieved at least 90% of it (bench/steps.py). Each server climbs until a
rate is not held. Logs a table and the ratio kampy/Kamailio (target: >= 25%, no failed registration).
A server that cannot run the config (kampy, until it has the stock config's modules) is reported
and left out. `--without-modules` runs both servers on a copy of the stock config without the
`loadmodule` and `modparam` lines of the modules named (acc, the one the stock config loads that
kampy lacks, is not called on the REGISTER path: it accounts INVITEs), so kampy can be measured
before it has them.
"""
from __future__ import annotations

import argparse
import functools
import logging
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.db import connect, create_tables, tables_of  # noqa: E402
from kampy.db import subscribers  # noqa: E402
from kampy.testing import mariadb  # noqa: E402
from tests.e2e.kampy_process import free_port, start_server, track  # noqa: E402
from tests.e2e.msilo_sample import Server  # noqa: E402
from tests.e2e.proxy import UA  # noqa: E402
from tests.e2e.sipp_proxy import run_uac  # noqa: E402

from steps import Step, climb, climb_arguments, parse_climb, report  # noqa: E402  (bench/, the script's folder)

log = logging.getLogger("bench")
STOCK_CFG = Path("/etc/kamailio/kamailio.cfg")
SCENARIO = REPO / "tests/e2e/stock/scenarios/register_auth.xml"
DEFAULT_RATES = [100, 200, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7500, 10000]
SIPP_TIMEOUT = 30.0


class NotAvailable(Exception):
    """The server cannot run the stock config here."""


def without_modules(text: str, modules: list[str]) -> str:
    """The config without the loadmodule and modparam lines of `modules` (a modparam may span lines)."""
    names = "|".join(re.escape(m) for m in modules)
    text = re.sub(rf'(?m)^loadmodule "({names})\.so"\n', "", text)
    return re.sub(rf'(?ms)^modparam\("({names})",.*?\)\s*$\n', "", text)


def start(target: str, workdir: Path, children: int, defines: list[str], db_url: str,
          cfg: Path = STOCK_CFG) -> Server:
    """The stock config run by `target` on 127.0.0.1:PORT (UDP), answering OPTIONS `200 Keepalive`."""
    port = free_port()
    run_dir = workdir / f"{target}-{port}"
    run_dir.mkdir()
    binary = ["kamailio"] if target == "kamailio" else [sys.executable, "-m", "kampy"]
    defs = [a for d in ("WITH_MYSQL", "WITH_AUTH", *defines, f'DBURL="{db_url}"') for a in ("-A", d)]
    cmd = [*binary, "-DD", "-E", "-Y", str(run_dir), "-P", str(run_dir / "pid"), "-f", str(cfg),
           "-l", f"udp:127.0.0.1:{port}", "-n", str(children), "-m", "256", *defs]
    log_path = workdir / f"{target}-{port}.log"
    with open(log_path, "wb") as out:
        proc = start_server(cmd, cwd=run_dir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = track(Server(target, proc, port, log_path))
    probe = UA("probe", ("127.0.0.1", port), domain=f"127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise NotAvailable(f"{target} exited with {proc.returncode}: {server.output()[-1500:]}")
            probe.send_request("OPTIONS", f"sip:127.0.0.1:{port}")
            reply = probe.recv(0.3)
            if reply is not None and reply.status == 200:
                return server
        raise NotAvailable(f"{target} does not answer: {server.output()[-1500:]}")
    except BaseException:
        server.stop()
        raise
    finally:
        probe.close()


def add_users(db_url: str, count: int, domain: str) -> list[tuple[str, str]]:
    """`count` subscribers, as `kamctl add` writes them."""
    users = [(f"user{n:05d}", f"pw{n:05d}") for n in range(1, count + 1)]
    with connect(db_url) as db:
        create_tables(db, tables_of(sets=["standard"]))
        for user, password in users:
            subscribers.add(db, subscribers.Account(user, domain), password)
    return users


def run_step(sipp: str, server: Server, workdir: Path, injection: Path, seconds: float, max_calls: int,
             rate: int) -> Step:
    calls = max(1, min(max_calls, int(rate * seconds)))
    run = run_uac(sipp, SCENARIO, ("127.0.0.1", server.port), workdir, calls=calls, rate=rate,
                  timeout=SIPP_TIMEOUT, extra=["-inf", str(injection)])
    return Step(rate, calls, run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    climb_arguments(parser, DEFAULT_RATES)
    parser.add_argument("--users", type=int, default=1000, help="subscribers registering in turn")
    parser.add_argument("--defines", default="", help="more -A defines of the stock config, comma-separated")
    parser.add_argument("--without-modules", default="",
                        help="run a copy of the stock config without these modules, comma-separated")
    args, sipp = parse_climb(parser, log)
    if sipp is None:
        return 2
    rates = [int(r) for r in args.rates.split(",")]
    defines = [d for d in args.defines.split(",") if d]
    targets = args.targets.split(",")
    results: dict[str, list[Step]] = {}
    with tempfile.TemporaryDirectory(prefix="kampy-bench-") as tmp:
        workdir = Path(tmp)
        cfg = STOCK_CFG
        dropped = [m for m in args.without_modules.split(",") if m]
        if dropped:
            cfg = workdir / "kamailio.cfg"
            cfg.write_text(without_modules(STOCK_CFG.read_text(), dropped))
            log.info("the stock config without %s", ", ".join(dropped))
        db_server = mariadb.start(workdir / "mariadb")
        try:
            for target in targets:
                with mariadb.fresh_database(db_server) as db_url:
                    server_domain = "127.0.0.1"
                    users = add_users(db_url, args.users, server_domain)
                    try:
                        server = start(target, workdir, args.children, defines, db_url, cfg)
                    except NotAvailable as exc:
                        log.error("%s cannot run the stock config: %s", target, exc)
                        continue
                    injection = workdir / f"users-{server.port}.csv"
                    injection.write_text("SEQUENTIAL\n" + "".join(
                        f"{u};127.0.0.1:{server.port};[authentication username={u} password={p}]\n"
                        for u, p in users))
                    try:
                        run = functools.partial(run_step, sipp, server, workdir, injection, args.seconds,
                                                args.max_calls)
                        results[target] = climb(f"{target} register+auth", rates, run, log)
                    finally:
                        server.stop()
        finally:
            db_server.stop()
    return report(results, targets, rates, log)


if __name__ == "__main__":
    sys.exit(main())
