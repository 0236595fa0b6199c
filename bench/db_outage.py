"""A database outage under load, kampy beside Kamailio 5.6: samples/msilo.cfg on a MariaDB of its own,
MESSAGEs for an offline user at --rate per second; the database is stopped after --before seconds,
started again --down seconds later, and the traffic goes on for --after seconds.

    python bench/db_outage.py [--rate 100] [--before 5] [--down 30] [--after 10] [--targets kampy,kamailio]

For each target it prints the figures of tests/e2e/db_outage.py: MESSAGEs sent and unanswered,
statuses before/down/back, the latency of the 503s while down (median, p99, max), how long after the
database answered again the first 202 came, RSS (MiB: at the start, when the database stopped, max,
end), and the messages lost (202s without their row). Targets (issue 19): every request answered,
503s within 10 ms, 202s back within 1 s, memory flat, 0 lost.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.db import connect, create_tables  # noqa: E402
from kampy.testing import mariadb  # noqa: E402
from tests.e2e import db_outage, msilo_sample  # noqa: E402


def one(target: str, args: argparse.Namespace, directory: Path) -> dict:
    server = mariadb.start(directory / f"mariadb-{target}")
    try:
        with connect(server.url) as db:
            create_tables(db)
        sip = msilo_sample.start(target, directory, server.url, shm_mb=256)
        try:
            result = db_outage.run(sip, server.stop, server.restart, lambda: db_outage.stored(server.url),
                                   rate=args.rate, before=args.before, down=args.down, after=args.after)
        finally:
            sip.stop()
        return result.figures()
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--before", type=float, default=5)
    parser.add_argument("--down", type=float, default=30)
    parser.add_argument("--after", type=float, default=10)
    parser.add_argument("--targets", default="kampy,kamailio")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="kampy-db-outage-"))
    for target in args.targets.split(","):
        print(target, json.dumps(one(target, args, directory)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
