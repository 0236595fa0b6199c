"""Several nodes on one MariaDB database (samples/cluster/), kampy and Kamailio 5.6: how many times each
stored message is delivered when its owner registers at every node at once, and (--kill-rounds)
a soak of SIGKILLs of one kampy node in the middle of dumps.

    python bench/cluster.py [--layouts kamailio+kamailio,kampy+kamailio,kampy+kampy,kampy+kampy+kampy]
                            [--users 20] [--per-user 10] [--kill-rounds 0] [--delay 0.3]

Each layout gets a fresh database (`kampy db create`) on a private MariaDB and its nodes, each running
samples/cluster/cluster.cfg with msilo's check_time at 1 s (Kamailio's cleanup, which deletes the
delivered rows, then runs every second; kampy's claims of a dead node lapse after 3 s). For each
layout: --users x --per-user MESSAGEs are stored through the nodes in turn; then every user agent
REGISTERs at every node at once (one datagram to each) and answers every MESSAGE with 200. When the
silo is empty (or after 60 s) and one more second has passed for late duplicates, it counts, per
node, the MESSAGEs delivered and how many of them a user had already received from any node.

--kill-rounds N (kampy+kampy only): N rounds of store, REGISTER at both nodes at once, SIGKILL of
one node while its deliveries are in flight (the user agents answer after --delay s), restart it;
the owners register again until the silo is empty. At the end: messages lost (must be 0) and
delivered twice, against the rows claimed at each kill (the bound: only those may come twice).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.testing import mariadb  # noqa: E402
from tests.e2e.cluster import (  # noqa: E402
    Node,
    claimed_count,
    cluster_database,
    delivering_port,
    register_everywhere,
    silo_count,
    start_node,
)
from tests.e2e.msilo_ua import UA  # noqa: E402
from tests.e2e.test_msilo_e2e import wait_for  # noqa: E402

log = logging.getLogger("bench")
SETTLE = 60.0  # seconds the silo may take to empty


def store(sender: UA, nodes: list[Node], owners: list[UA], per_user: int, tag: str) -> set[bytes]:
    texts = set()
    for i in range(per_user):
        for j, owner in enumerate(owners):
            text = f"{owner.user} {tag}#{i}"
            code = sender.message(nodes[(i + j) % len(nodes)], owner.user, text)
            if code != 202:
                log.warning("MESSAGE %s got %d", text, code)
                continue
            texts.add(text.encode())
    return texts


def delivered(owners: list[UA]) -> list[tuple[int, bytes]]:
    """(node port, text) of every MESSAGE received (retransmissions once)."""
    out = []
    for owner in owners:
        for request, body in zip(owner.received, owner.bodies(), strict=True):
            out.append((delivering_port(request), body.split(b"] ", 1)[-1]))
    return out


def layout_run(layout: list[str], server: mariadb.MariaDB, workdir: Path, users: int, per_user: int) -> dict:
    with cluster_database(server) as url:
        nodes = [start_node(name, workdir, url) for name in layout]
        owners = [UA(f"u{time.monotonic_ns()}x{i}") for i in range(users)]
        sender = UA(f"sender{time.monotonic_ns()}")
        try:
            texts = store(sender, nodes, owners, per_user, "")
            started = time.monotonic()
            for owner in owners:
                register_everywhere(owner, nodes)
            emptied = wait_for(lambda: silo_count(url) == 0, SETTLE)
            took = time.monotonic() - started
            time.sleep(1.0)
            got = delivered(owners)
            seen: Counter[bytes] = Counter()
            per_node = {node.port: {"name": node.name, "sent": 0, "again": 0} for node in nodes}
            for port, text in got:
                per_node[port]["sent"] += 1
                if seen[text]:
                    per_node[port]["again"] += 1
                seen[text] += 1
            return {"layout": "+".join(layout), "stored": len(texts), "left": silo_count(url),
                    "lost": len(texts - set(seen)), "deliveries": len(got), "emptied": emptied,
                    "seconds": took, "nodes": list(per_node.values())}
        finally:
            for ua in [*owners, sender]:
                ua.close()
            for node in nodes:
                node.stop()


def soak(server: mariadb.MariaDB, workdir: Path, rounds: int, users: int, per_user: int,
         delay: float) -> dict:
    with cluster_database(server) as url:
        nodes = [start_node("kampy", workdir, url) for _ in range(2)]
        sender = UA(f"sender{time.monotonic_ns()}")
        agents: list[UA] = []
        lost = twice = bound = stored = 0
        try:
            for r in range(rounds):
                # new owners each round: the last round's are registered, their MESSAGEs not stored
                owners = [UA(f"s{time.monotonic_ns()}x{i}", delay=delay) for i in range(users)]
                agents += owners
                texts = store(sender, nodes, owners, per_user, f"r{r}")
                stored += len(texts)
                for owner in owners:
                    register_everywhere(owner, nodes)
                wait_for(lambda: claimed_count(url) > 0, 10, 0.02)
                victim = r % 2
                nodes[victim].stop(signal.SIGKILL)
                claimed = claimed_count(url)
                bound += claimed
                nodes[victim] = start_node("kampy", workdir, url)
                started = time.monotonic()
                while silo_count(url) and time.monotonic() - started < SETTLE:
                    time.sleep(1.0)  # the killed node's claims lapse 3 s after their last renewal
                    for owner in owners:
                        register_everywhere(owner, nodes)
                time.sleep(1.0)
                counts = Counter(text for _, text in delivered(owners))
                lost += len(texts - set(counts))
                twice += sum(n - 1 for n in counts.values())
                log.info("round %d: killed node %d with %d row(s) claimed; emptied in %.1f s; "
                         "lost so far %d, twice %d", r + 1, victim + 1, claimed, time.monotonic() - started,
                         lost, twice)
            return {"rounds": rounds, "stored": stored, "left": silo_count(url), "lost": lost, "twice": twice,
                    "claimed_at_kills": bound}
        finally:
            for ua in [*agents, sender]:
                ua.close()
            for node in nodes:
                if not node.stopped:
                    node.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="kamailio+kamailio,kampy+kamailio,kampy+kampy,kampy+kampy+kampy")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--kill-rounds", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds a device takes to answer (soak)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="kampy-cluster-bench-") as tmp:
        work = Path(tmp)
        server = mariadb.start(work / "mariadb")
        try:
            for layout in filter(None, args.layouts.split(",")):
                result = layout_run(layout.split("+"), server, work, args.users, args.per_user)
                nodes = ", ".join(f"{n['name']} sent {n['sent']} ({n['again']} already delivered)"
                                  for n in result["nodes"])
                print(f"{result['layout']:<24} stored {result['stored']}, delivered {result['deliveries']} "
                      f"in {result['seconds']:.1f} s, lost {result['lost']}, left {result['left']}: {nodes}")
            if args.kill_rounds:
                r = soak(server, work, args.kill_rounds, args.users, args.per_user, args.delay)
                print(f"soak: {r['rounds']} SIGKILLs of a kampy node mid-dump, {r['stored']} messages: "
                      f"lost {r['lost']}, left {r['left']}, delivered twice {r['twice']} "
                      f"(rows claimed at the kills: {r['claimed_at_kills']})")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
