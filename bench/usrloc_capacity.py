"""How many AoRs the registrar holds with kampy's defaults: sipp registers --calls distinct users
(REGISTER, Expires 3600, so all are held at the end) at --rate per second against
tests/e2e/configs/proxy.cfg with 4 workers, and every REGISTER must get its 200 (a full usrloc table
answers 500). Kamailio 5.6 for comparison (tests/e2e/proxy.py starts it with `-m 512`).

    python bench/usrloc_capacity.py [--calls 100000] [--rate 1000] [--targets kampy-4,kamailio]

For kampy it also reports what the bindings cost in shared memory: the bytes allocated in /dev/shm
by the usrloc table's files (every generation the table grew through), per AoR, and how often the
table grew.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.proxy import start_proxy  # noqa: E402
from tests.e2e.sipp_proxy import run_uac  # noqa: E402

log = logging.getLogger("usrloc_capacity")


def usrloc_files(pid: int) -> list[Path]:
    """The usrloc table files a kampy worker (a child of `pid`) has mapped."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found: set[Path] = set()
    for child in children:
        for line in Path(f"/proc/{child}/maps").read_text().splitlines():
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and ".area-usrloc." in parts[5]:
                found.add(Path(parts[5].replace(" (deleted)", "")))
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--targets", default="kampy-4,kamailio")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sipp = shutil.which("sipp")
    if sipp is None:
        log.error("sipp is not installed (Debian package sip-tester)")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="kampy-usrloc-"))
    for target in args.targets.split(","):
        proxy = start_proxy(target, workdir)
        try:
            run = run_uac(sipp, "register_hour_200.xml", proxy.addr, workdir, calls=args.calls,
                          rate=args.rate, timeout=args.calls / args.rate * 3 + 30)
            line = (f"{target}: {run.succeeded} of {args.calls} REGISTERs got 200, {run.failed} failed, "
                    f"{run.rate:.0f}/s")
            if target.startswith("kampy"):
                files = usrloc_files(proxy.proc.pid)
                allocated = sum(f.stat().st_blocks * 512 for f in files if f.exists())
                line += (f"; usrloc in /dev/shm: {allocated / 2**20:.1f} MiB in {len(files)} generation(s), "
                         f"{allocated / max(1, run.succeeded):.0f} bytes per AoR (all generations)")
                sizes = [f.stat().st_blocks * 512 for f in files if f.exists()]
                if sizes:
                    line += f", {max(sizes) / max(1, run.succeeded):.0f} in the current one"
            log.info(line)
        finally:
            proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
