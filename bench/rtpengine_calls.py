"""Call setup with rtpengine, kampy beside Kamailio in one run: sipp calls (INVITE with SDP, 200 with
SDP, ACK, BYE) through the proxy, which has the real rtpengine daemon relay each call's media
(rtpengine_manage: offer in the INVITE, answer in the 200; rtpengine_delete in the BYE).

    python bench/rtpengine_calls.py [--children 4] [--seconds 3] [--rates 50,100,...] [--max-calls 20000]
                                    [--targets kamailio,kampy]

Both servers run tests/e2e/configs/rtpengine.cfg unchanged with the same number of workers, on
127.0.0.1, different ports, against the same rtpengine daemon (user space, --table=-1, 8000 media
ports, warnings only in its log). A call is four SIP transactions through the proxy and three ng
round trips to the daemon. For each rate sipp makes rate x seconds calls; a rate is *held* when
every call succeeded and sipp achieved at least 90% of the asked rate. Each server climbs until a
rate is not held (a run that was only slow is tried once more). Logs a table and the ratio
kampy/Kamailio of the highest rates held (target: >= 25%).
"""
from __future__ import annotations

import argparse
import functools
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.sipp_rtpengine import callee, proxy, relay  # noqa: E402

from steps import Step, call_step, climb, climb_arguments, parse_climb, report  # noqa: E402  (bench/, the script's folder)

log = logging.getLogger("bench")
DEFAULT_RATES = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000]
SIPP_TIMEOUT = 30.0  # seconds one sipp run may take at most



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
        with relay(workdir, ports=8000) as daemon, callee(sipp, workdir) as uas:
            for target in targets:
                try:
                    with proxy(target, workdir, daemon, args.children) as server:
                        run = functools.partial(call_step, sipp, server.addr, uas, workdir, args.seconds,
                                                args.max_calls, SIPP_TIMEOUT)
                        results[target] = climb(f"{target} call", rates, run, log)
                except RuntimeError as exc:
                    log.error("%s cannot run rtpengine.cfg: %s", target, exc)
    return report(results, targets, rates, log)

if __name__ == "__main__":
    sys.exit(main())
