"""Calls through dispatcher, kampy beside Kamailio in one run: sipp calls (INVITE with SDP, 200, ACK,
BYE) through samples/loadbalancer.cfg, which picks a gateway of its dispatcher set by round robin
for each INVITE (ds_select_dst, the XAVP records for failover), record-routes the call, tracks it as a
dialog (a profile counts the calls) and hides the callers' addresses (topoh).

    python bench/dispatcher_calls.py [--children 4] [--seconds 3] [--rates 50,100,...] [--max-calls 20000]
                                     [--targets kamailio,kampy]

Both servers run the sample unchanged (keepalives off: -A DS_PING_INTERVAL=0, no call limit:
-A MAX_CALLS=1000000) with the same number of
workers, on 127.0.0.1, different ports; the set holds three gateways that are one sipp callee
(three URIs with different parameters). For each rate sipp makes rate x seconds calls; a rate is
*held* when every call succeeded and sipp achieved at least 90% of the asked rate. Each server climbs
until a rate is not held. Logs a table and the ratio kampy/Kamailio of the highest rates held
(target: >= 25%).
"""
from __future__ import annotations

import argparse
import functools
import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e import dualserver  # noqa: E402
from tests.e2e.sipp_rtpengine import callee  # noqa: E402

from steps import Step, call_step, climb, climb_arguments, parse_climb, report  # noqa: E402  (bench/, the script's folder)

log = logging.getLogger("bench")
CFG = REPO / "samples" / "loadbalancer.cfg"
DEFAULT_RATES = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000]
SIPP_TIMEOUT = 30.0


@contextmanager
def balancer(kind: str, workdir: Path, uas: tuple[str, int], children: int) -> Iterator[dualserver.Server]:
    folder = workdir / kind
    folder.mkdir(parents=True, exist_ok=True)
    listfile = folder / "dispatcher.list"
    listfile.write_text("".join(f"1 sip:{uas[0]}:{uas[1]};gw={n} 0 0 duid=gw{n}\n" for n in (1, 2, 3)))
    server = dualserver.start(kind, CFG, folder, {"DS_LIST": f'"{listfile}"', "DS_PING_INTERVAL": "0",
                                                  "MAX_CALLS": "1000000"},
                              args=["-n", str(children)])
    try:
        yield server
    finally:
        server.stop()



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    climb_arguments(parser, DEFAULT_RATES)
    args, sipp = parse_climb(parser, log)
    if sipp is None:
        return 2
    rates = [int(r) for r in args.rates.split(",")]
    targets = args.targets.split(",")
    results: dict[str, list[Step]] = {}
    with tempfile.TemporaryDirectory(prefix="kampy-bench-") as tmp:
        workdir = Path(tmp)
        with callee(sipp, workdir) as uas:
            for target in targets:
                try:
                    with balancer(target, workdir, uas, args.children) as server:
                        run = functools.partial(call_step, sipp, server.addr, uas, workdir, args.seconds,
                                                args.max_calls, SIPP_TIMEOUT)
                        results[target] = climb(f"{target} call", rates, run, log)
                except RuntimeError as exc:
                    log.error("%s cannot run loadbalancer.cfg: %s", target, exc)
    return report(results, targets, rates, log)

if __name__ == "__main__":
    sys.exit(main())
