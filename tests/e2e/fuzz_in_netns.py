"""Run inside a private network namespace (`unshare -n`): start kampy with configs/fuzz.cfg (a registrar
and stateful proxy) on 127.0.0.1:5060, send it mutated REGISTER/MESSAGE/INVITE/CANCEL/OPTIONS and the
RFC 4475 torture messages at a bounded rate, with a liveness probe (an OPTIONS the proxy answers
statefully) every few datagrams. Prints one JSON line with what it measured:

    unshare -n python -m tests.e2e.fuzz_in_netns --count 5000 --rate 500 --dir DIR [--target kamailio]

sent, probes, probes_missed, probe_ms (median, p99, max), probes_over_50ms; tracebacks and
internal_errors (log lines) and err_internal (the statistic); transactions_left (tmx:inuse_transactions
summed over the workers) and tm_stats (tm.stats of worker 1) once the timers ran out; rss_before_kib,
rss_after_kib (kampy and its workers, after a warm-up and at the end) and the same split into anonymous
and shared-store pages (memory_before_kib, memory_after_kib), and the same as proportional set
sizes (pss_before_kib, pss_after_kib: a page shared by several processes counted once in all);
aors (usrloc's registered AoRs at the end, what the fuzzer's REGISTERs left in the registrar);
shm_real_used_before/after (the shmem:real_used_size statistic: Kamailio's shared memory pool in
use, kampy's shared store's pages);
udp_receive_drops (the server's socket); alive, exit_code.

--target kamailio runs Kamailio 5.6 (Debian's) with the same config and traffic, for comparison.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from tests.e2e.kampy_process import CONFIGS, REPO, running_kampy
from tests.e2e.msilo_sample import start_cfg
from tests.e2e.mutate import mutations, rfc4475_messages
from tests.e2e.sip import call_id_of, status_of

log = logging.getLogger("fuzz")
PORT = 5060  # a private namespace: nothing else listens here
PROBE_TIMEOUT = 0.5  # ten times the 50 ms target: a probe not answered by then is missed
MAX_LAG = 0.05  # seconds the sender may fall behind its schedule before it stops catching up
PROGRESS_EVERY = 50_000
DRAIN_TIMEOUT = 30.0  # fuzz.cfg's timers: fr 1 s, fr_inv 2 s, T1 100 ms (H 6.4 s), wt 1 s
_EXCEPTION = re.compile(r"\b(\w+(?:Error|Exception))\b")


class Prober:
    """A valid OPTIONS for an unknown user of the proxy's domain: lookup fails, t_newtran, t_reply 404."""

    def __init__(self, addr: tuple[str, int], timeout: float = PROBE_TIMEOUT) -> None:
        self.addr = addr
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.serial = 0
        self.latencies: list[float] = []
        self.missed = 0

    def probe(self) -> bool:
        self.serial += 1
        call_id = f"probe-{self.serial}"
        data = (f"OPTIONS sip:nobody@example.test SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-p{self.serial};rport\r\n"
                f"From: <sip:probe@example.test>;tag=p\r\nTo: <sip:nobody@example.test>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        started = time.monotonic()
        self.sock.sendto(data.encode(), self.addr)
        deadline = started + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                reply = self.sock.recv(70000)
            except TimeoutError:
                break
            if call_id_of(reply) == call_id and status_of(reply) == 404:
                self.latencies.append((time.monotonic() - started) * 1000)
                return True
        self.missed += 1
        return False

    def figures(self) -> dict[str, object]:
        lat = sorted(self.latencies) or [0.0]
        return {"probes": self.serial, "probes_missed": self.missed,
                "probe_ms": {"median": round(statistics.median(lat), 2),
                             "p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
                             "max": round(lat[-1], 2)},
                "probes_over_50ms": sum(1 for x in self.latencies if x > 50)}


def paced(datagrams: Iterator[bytes], rate: float) -> Iterator[tuple[int, bytes]]:
    """The datagrams numbered from 1, no faster than `rate` per second. Time lost (a missed probe, the
    sender descheduled) is not made up with a burst: a burst at full speed overflows the server's
    receive buffer, loses the next probes and so falls further behind."""
    started, base = time.monotonic(), 0
    for i, data in enumerate(datagrams, 1):
        ahead = started + (i - base) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        elif ahead < -MAX_LAG:
            started, base = time.monotonic(), i
        yield i, data


class Target(Protocol):
    """kampy (tests.e2e.kampy_process.Kampy) or Kamailio (tests.e2e.msilo_sample.Server)."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def addr(self) -> tuple[str, int]: ...
    @property
    def pid(self) -> int: ...
    def stop(self) -> int: ...


@contextlib.contextmanager
def running(target: str, directory: Path, defines: list[str]) -> Iterator[Target]:
    if target == "kampy":
        with running_kampy(CONFIGS / "fuzz.cfg", directory, port=PORT, protos=("udp",),
                           args=defines) as kampy:
            yield kampy
        return
    kamailio = start_cfg("kamailio", CONFIGS / "fuzz.cfg", directory, PORT, defines, shm_mb=64)
    try:
        yield kamailio
    finally:
        if not kamailio.stopped:
            kamailio.stop()


def processes(server: Target) -> list[int]:
    """The server's process and its children (kampy's workers, Kamailio's processes)."""
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError:
        children = []
    return [server.pid, *map(int, children)]


def blast(kampy: Target, count: int, rate: float, seed: int, probe_every: int, prober: Prober) -> None:
    torture = rfc4475_messages()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    for i, data in paced(mutations(count, seed, torture), rate):
        try:
            sender.sendto(data, kampy.addr)
        except OSError as exc:
            log.debug("send failed: %s", exc)
        if i % probe_every == 0:
            prober.probe()
        if i % PROGRESS_EVERY == 0:
            log.info("%d of %d sent, %d probes missed, %d datagrams dropped by the receive buffer",
                     i, count, prober.missed, udp_receive_drops())
    sender.close()


def memory_kib(server: Target, fields: tuple[str, str] = ("RssAnon", "RssShmem"),
               where: str = "status") -> dict[str, int]:
    """RssAnon and RssShmem (the shared store's pages each process touched, counted in each one's RSS)
    of the server's processes, summed; with ("Pss_Anon", "Pss_Shmem") from smaps_rollup, each page
    shared by n processes counts 1/n in each."""
    out = {"anon": 0, "shmem": 0}
    for pid in processes(server):
        try:
            text = Path(f"/proc/{pid}/{where}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name in fields:
                out["anon" if name == fields[0] else "shmem"] += int(value.split()[0])
    return out


def pss_kib(server: Target) -> dict[str, int]:
    return memory_kib(server, ("Pss_Anon", "Pss_Shmem"), "smaps_rollup")


def rss_kib(server: Target) -> int:
    total = 0
    for pid in processes(server):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def udp_receive_drops(port: int = PORT) -> int:
    """The datagrams the kernel dropped at the UDP socket bound to `port` (its receive buffer full):
    the last column of /proc/net/udp. The namespace's RcvbufErrors would also count the replies
    dropped at the fuzzer's own socket, which never reads them."""
    total = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rpartition(":")[2], 16) == port:
            total += int(fields[-1])
    return total


def rpc(socket_path: Path, method: str, *params: str) -> object:
    cmd = [sys.executable, "-m", "kampy", "rpc", "--socket", str(socket_path), "--json", method, *params]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-500:]}
    return json.loads(proc.stdout).get("result")


def stat(socket_path: Path, name: str) -> int:
    """One statistic ("group:name") over RPC; -1 when it cannot be read."""
    result = rpc(socket_path, "stats.fetch", name)
    value = result.get(name.replace(":", "."), -1) if isinstance(result, dict) else -1
    return int(value)


def live_transactions(socket_path: Path) -> int:
    result = rpc(socket_path, "stats.fetch", "tmx:inuse_transactions")
    return int(result.get("tmx.inuse_transactions", -1)) if isinstance(result, dict) else -1


def drained(socket_path: Path, timeout: float) -> int:
    """Wait until no transaction is left (or `timeout`); the number left."""
    deadline = time.monotonic() + timeout
    while True:
        left = live_transactions(socket_path)
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(1)


def log_problems(path: Path) -> tuple[int, list[str]]:
    """(tracebacks, other lines naming an exception other than SIPProtocolError), read line by line."""
    tracebacks, lines = 0, []
    with path.open(errors="replace") as log_file:
        for line in log_file:
            if "Traceback" in line:
                tracebacks += 1
            elif "internal error" in line or any(n != "SIPProtocolError" for n in _EXCEPTION.findall(line)):
                if len(lines) < 20:
                    lines.append(line.rstrip()[:300])
    return tracebacks, lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=500, help="datagrams per second at most")
    parser.add_argument("--probe-every", type=int, default=50)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4475)
    parser.add_argument("--probe-timeout", type=float, default=PROBE_TIMEOUT)
    parser.add_argument("--maxbuffer", type=int, default=None,
                        help="the config's maxbuffer (UDP receive buffer); fuzz.cfg's default otherwise")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--target", choices=("kampy", "kamailio"), default="kampy")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    directory = args.dir or Path(tempfile.mkdtemp())
    rpc_socket = directory / "rpc.sock"
    defines = ["-A", f'RPC_SOCKET="{rpc_socket}"', "-A", f"CHILDREN={args.children}"]
    if args.maxbuffer:
        defines += ["-A", f"MAXBUFFER={args.maxbuffer}"]
    with running(args.target, directory, defines) as kampy:
        prober = Prober(kampy.addr, args.probe_timeout)
        # the warm-up as long as the run (5,000 at most): the allocator's arenas reach the size the
        # mix of messages needs before RSS is first read, so what follows is growth, not filling
        warm_up = min(args.count, 5000)
        blast(kampy, warm_up, args.rate, args.seed + 1, args.probe_every, Prober(kampy.addr))
        drained(rpc_socket, DRAIN_TIMEOUT)
        rss_before, memory_before, pss_before = rss_kib(kampy), memory_kib(kampy), pss_kib(kampy)
        shm_before = stat(rpc_socket, "shmem:real_used_size")
        drops_before = udp_receive_drops()
        started = time.monotonic()
        blast(kampy, args.count, args.rate, args.seed, args.probe_every, prober)
        elapsed = time.monotonic() - started
        drops = udp_receive_drops() - drops_before
        left = drained(rpc_socket, DRAIN_TIMEOUT)
        tm_stats = rpc(rpc_socket, "tm.stats")
        final = prober.probe()
        err = rpc(rpc_socket, "stats.fetch", "core:err_internal")
        aors = stat(rpc_socket, "usrloc:registered_users")
        shm_after = stat(rpc_socket, "shmem:real_used_size")
        rss_after, memory_after, pss_after = rss_kib(kampy), memory_kib(kampy), pss_kib(kampy)
        alive = kampy.proc.poll() is None and len(processes(kampy)) > 1
        code = kampy.stop()
        tracebacks, errors = log_problems(kampy.log_path)
    print(json.dumps({"target": args.target, "sent": args.count, "rate": args.rate,
                      "seconds": round(elapsed, 1), **prober.figures(),
                      "udp_receive_drops": drops,
                      "final_answered": final, "tracebacks": tracebacks, "internal_errors": errors,
                      "err_internal": int(err.get("core.err_internal", 0)) if isinstance(err, dict) else err,
                      "transactions_left": left, "tm_stats": tm_stats, "rss_before_kib": rss_before,
                      "rss_after_kib": rss_after, "memory_before_kib": memory_before,
                      "memory_after_kib": memory_after, "pss_before_kib": pss_before,
                      "pss_after_kib": pss_after, "aors": aors,
                      "shm_real_used_before": shm_before, "shm_real_used_after": shm_after,
                      "alive": alive, "exit_code": code}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
