"""A NAT made by the test, out of private network namespaces joined by veth pairs (nothing in the
host's own namespace changes, and no packet leaves the namespaces):

    UA namespace "alice" 10.1.0.2 ──┐
                                    ├── router: 10.1.0.1, 10.2.0.1 | 198.51.100.254 ── server 198.51.100.1
    UA namespace "bob"   10.2.0.2 ──┘   (nft source NAT on the public side)

The server's namespace is the caller's (the stock suite's, with /etc/kamailio mounted) or one made
here. The router forwards and source-NATs what the user agents send towards the server, so the
server sees every UA at 198.51.100.254 with ports the NAT chose, and can reach a UA only through a
mapping the UA opened (as a home router). The server has no route to the private networks.

The NAT is deterministic where the servers keep what they see: the SIP port of the n-th phone
(UDP 5070) always leaves as 198.51.100.254:`public_sip_port(n)` (a fixed SNAT rule), so two runs
(Kamailio's and kampy's) write the same `received` into the location table; a masquerade would
keep 5070 for the first phone and pick a random port for the next. Everything else (media) is
masqueraded.

Plain classes (no pytest): the NAT tests of tests/e2e and of the stock suite use them.
"""
from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.kampy_process import start_server, stop_process
from tests.e2e.stock.netns import socket_in

SERVER_IP = "198.51.100.1"
NAT_PUBLIC_IP = "198.51.100.254"
PUBLIC_NET = 24
PHONE_SIP_PORT = 5070  # the port the phones' user agents send SIP from


def public_sip_port(n: int) -> int:
    """The port the NAT gives the SIP port of its n-th phone (1, 2, ...): never the private one."""
    return 40000 + n


class Netns:
    """A network namespace held by a `sleep` process of its own (loopback up)."""

    def __init__(self) -> None:
        script = "ip link set lo up && echo ready && exec sleep infinity"
        self.proc = start_server(["unshare", "--net", "sh", "-c", script], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            stop_process(self.proc, timeout=5)
            raise RuntimeError(f"cannot make a network namespace: {line!r}")
        self.pid = self.proc.pid
        self.net_path = f"/proc/{self.pid}/ns/net"

    def prefix(self) -> list[str]:
        return ["nsenter", f"--target={self.pid}", "--net"]

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> socket.socket:
        return socket_in(self.net_path, family, kind)

    def close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        stop_process(self.proc, timeout=5)


def run(prefix: list[str], *args: str) -> str:
    proc = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stdout}{proc.stderr}")
    return proc.stdout


@dataclass
class Phone:
    """A user agent's place behind the NAT: its namespace and private address."""

    name: str
    ns: Netns
    address: str
    public_sip_port: int  # what PHONE_SIP_PORT becomes behind the NAT

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> socket.socket:
        return self.ns.socket(family, kind)


class NatWorld:
    """The router and the phones' namespaces, wired to the server namespace `server_ns_pid`
    (`server_prefix` runs a command in it)."""

    def __init__(self, server_prefix: list[str], server_pid: int, phones: tuple[str, ...] = ("alice", "bob"),
                 ) -> None:
        self.server_prefix = server_prefix
        self.router = Netns()
        self.phones: dict[str, Phone] = {}
        self._made: list[Netns] = [self.router]
        tag = f"{os.getpid() % 10000}{self.router.pid % 1000}"
        try:
            self._public(server_pid, tag)
            for n, name in enumerate(phones, start=1):
                self._phone(name, n, tag)
            self._masquerade()
        except BaseException:
            self.close()
            raise

    def _public(self, server_pid: int, tag: str) -> None:
        r = self.router.prefix()
        run(r, "ip", "link", "add", "pub0", "type", "veth", "peer", "name", f"srv{tag}", "netns",
            str(server_pid))
        run(r, "ip", "addr", "add", f"{NAT_PUBLIC_IP}/{PUBLIC_NET}", "dev", "pub0")
        run(r, "ip", "link", "set", "pub0", "up")
        s = self.server_prefix
        run(s, "ip", "link", "set", f"srv{tag}", "name", "nat0")
        run(s, "ip", "addr", "add", f"{SERVER_IP}/{PUBLIC_NET}", "dev", "nat0")
        run(s, "ip", "link", "set", "nat0", "up")
        run(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def _phone(self, name: str, n: int, tag: str) -> None:
        ns = Netns()
        self._made.append(ns)
        r = self.router.prefix()
        run(r, "ip", "link", "add", f"lan{n}", "type", "veth", "peer", "name", f"ph{tag}{n}", "netns",
            str(ns.pid))
        run(r, "ip", "addr", "add", f"10.{n}.0.1/24", "dev", f"lan{n}")
        run(r, "ip", "link", "set", f"lan{n}", "up")
        p = ns.prefix()
        run(p, "ip", "link", "set", f"ph{tag}{n}", "name", "eth0")
        run(p, "ip", "addr", "add", f"10.{n}.0.2/24", "dev", "eth0")
        run(p, "ip", "link", "set", "eth0", "up")
        run(p, "ip", "route", "add", "default", "via", f"10.{n}.0.1")
        self.phones[name] = Phone(name, ns, f"10.{n}.0.2", public_sip_port(n))

    def _masquerade(self) -> None:
        fixed = "".join(f'    oifname "pub0" ip saddr {p.address} udp sport {PHONE_SIP_PORT} '
                        f"snat to {NAT_PUBLIC_IP}:{p.public_sip_port}\n" for p in self.phones.values())
        rules = ("table ip nat {\n"
                 "  chain postrouting {\n"
                 "    type nat hook postrouting priority srcnat; policy accept;\n"
                 f"{fixed}"
                 '    oifname "pub0" masquerade\n'
                 "  }\n"
                 "}\n")
        subprocess.run([*self.router.prefix(), "nft", "-f", "-"], input=rules, text=True, check=True,
                       capture_output=True, timeout=30)

    def nat_table(self) -> str:
        """The router's connection tracking (`conntrack` is not installed: /proc is)."""
        path = Path(f"/proc/{self.router.pid}/net/nf_conntrack")
        return path.read_text() if path.exists() else ""

    def close(self) -> None:
        for ns in reversed(self._made):
            ns.close()
        self._made.clear()


class ServerNamespace(Netns):
    """A namespace for a server of the NAT tests (the stock suite brings its own)."""
