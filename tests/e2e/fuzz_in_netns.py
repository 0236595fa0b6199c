"""Run inside a private network namespace (`unshare -n`): start kampy, send it mutated datagrams,
check that a valid OPTIONS is still answered and how its memory moved. Prints one JSON line.

    unshare -n python -m tests.e2e.fuzz_in_netns --count 10000 --dir DIR
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.kampy_process import CONFIGS, Kampy, running_kampy
from tests.e2e.mutate import mutations
from tests.e2e.sip import UDPClient, status_of

log = logging.getLogger("fuzz")
BATCH = 250


def answered(client: UDPClient, kampy: Kampy, tries: int = 5) -> bool:
    """A valid OPTIONS gets a 200 (resent a few times: a burst may have filled the socket buffer)."""
    for _ in range(tries):
        try:
            return status_of(client.request(kampy.addr)) == 200
        except TimeoutError:
            continue
    return False


def blast(kampy: Kampy, count: int, seed: int, client: UDPClient) -> int:
    """Send `count` mutated datagrams in batches, each followed by a valid OPTIONS; return misses."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    misses = 0
    for i, data in enumerate(mutations(count, seed), 1):
        try:
            sender.sendto(data, kampy.addr)
        except OSError as exc:
            log.debug("send failed: %s", exc)
        if i % BATCH == 0 and not answered(client, kampy):
            misses += 1
    sender.close()
    return misses


_EXCEPTION = re.compile(r"\b(\w+(?:Error|Exception))\b")


def internal_errors(output: str) -> list[str]:
    """Log lines that show a bug rather than bad input: tracebacks, exceptions other than
    SIPProtocolError (bad input is expected to be logged and dropped)."""
    return [line for line in output.splitlines()
            if "Traceback" in line or "internal error" in line
            or any(name != "SIPProtocolError" for name in _EXCEPTION.findall(line))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    directory = args.dir or Path(tempfile.mkdtemp())
    with running_kampy(CONFIGS / "options.cfg", directory, protos=("udp",)) as kampy:
        client = UDPClient(timeout=2)
        blast(kampy, 2000, seed=1, client=client)  # warm up: caches, allocator pools
        rss_before = kampy.rss_kib()
        started = time.monotonic()
        misses = blast(kampy, args.count, seed=4475, client=client)
        elapsed = time.monotonic() - started
        final = answered(client, kampy)
        rss_after = kampy.rss_kib()
        alive = kampy.proc.poll() is None and len(kampy.worker_pids()) > 0
        code = kampy.stop()
        errors = internal_errors(kampy.output())
    print(json.dumps({"sent": args.count, "sync_misses": misses, "final_answered": final,
                      "rss_before_kib": rss_before, "rss_after_kib": rss_after, "alive": alive,
                      "exit_code": code, "seconds": round(elapsed, 2), "errors": errors[:20]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
