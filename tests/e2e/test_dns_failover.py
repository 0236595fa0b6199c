"""RFC 3263 resolution and DNS failover on the wire, kampy against Kamailio 5.6 with the same config
(configs/dns_failover.cfg: use_dns_failover=on, fr_timer 400 ms).

Both servers run in one private network and mount namespace whose /etc/resolv.conf names a DNS server
of the test (tests/support/dnsserver.py on 127.0.0.1:53 there). Three phones answer MESSAGE requests
as each scenario says (200, 503, or not at all):

    _sip._udp.fo.test    SRV 20 0 5072 b.fo.test. / SRV 10 0 5071 a.fo.test.  (the answer lists b first)
    a.fo.test A 127.0.0.1 (phone a on 5071), b.fo.test A 127.0.0.2 (phone b on 5072)
    _sip._udp.down.test  SRV 10 0 5060 x.down.test. / SRV 20 0 5073 c.down.test.
    x.down.test A 10.9.9.9 (no route in the namespace: sending fails), c.down.test A 127.0.0.3 (phone c)
    _sip._tcp.tcpfo.test SRV 10 0 5074 r.tcpfo.test. / SRV 20 0 5075 t.tcpfo.test.
    r.tcpfo.test A 127.0.0.4 (nothing listens: the TCP connect is refused), t.tcpfo.test A 127.0.0.5
    (phone t, over TCP)
    _sip._udp.ack.test SRV 10 0 5072 b.fo.test. (the Contact of phone a's 200 to an INVITE)
    _sip._udp.dskamailio.test / _sip._udp.dskampy.test SRV 10 0 5076 g.ds.test., g.ds.test A 127.0.0.6
    (each server's dispatcher destination in set 1, looked up by SRV: ds_dns_mode 8)
    dsakamailio.test / dsakampy.test A 127.0.0.7 (set 2: a port given, so an A lookup)

Each scenario states the outcome (the final reply, which phones got the request in which order) and
checks that Kamailio and kampy both give it.
"""
from __future__ import annotations

import select
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest

from tests.e2e import dualserver
from tests.e2e.stock.netns import Namespace
from tests.support.dnsserver import DnsServer

CONFIG = dualserver.CONFIGS / "dns_failover.cfg"
PORTS = {"kamailio": 5060, "kampy": 5062}
ZONE = {
    ("_sip._udp.fo.test", "SRV"): ["20 0 5072 b.fo.test.", "10 0 5071 a.fo.test."],
    ("a.fo.test", "A"): ["127.0.0.1"],
    ("b.fo.test", "A"): ["127.0.0.2"],
    ("_sip._udp.down.test", "SRV"): ["10 0 5060 x.down.test.", "20 0 5073 c.down.test."],
    ("x.down.test", "A"): ["10.9.9.9"],
    ("c.down.test", "A"): ["127.0.0.3"],
    # the same for the stateless scenarios, looked up for the first time then (no cached answer)
    ("_sip._udp.slfo.test", "SRV"): ["20 0 5072 b.fo.test.", "10 0 5071 a.fo.test."],
    ("_sip._udp.sldown.test", "SRV"): ["10 0 5060 x.down.test.", "20 0 5073 c.down.test."],
    ("lookup.test", "A"): ["192.0.2.99", "192.0.2.98"],  # only dns.lookup asks for it
    # with dns_try_naptr=1 the NAPTR record names the SRV name (phone b), else _sip._udp.naptr.test (a)
    ("naptr.test", "NAPTR"): ['10 10 "s" "SIP+D2U" "" _sip._udp.other.test.'],
    ("_sip._udp.other.test", "SRV"): ["10 0 5072 b.fo.test."],
    ("_sip._udp.naptr.test", "SRV"): ["10 0 5071 a.fo.test."],
    ("_sip._udp.uac.test", "SRV"): ["20 0 5072 b.fo.test.", "10 0 5071 a.fo.test."],  # tm.t_uac_start's
    ("_sip._tcp.tcpfo.test", "SRV"): ["10 0 5074 r.tcpfo.test.", "20 0 5075 t.tcpfo.test."],
    ("r.tcpfo.test", "A"): ["127.0.0.4"],
    ("t.tcpfo.test", "A"): ["127.0.0.5"],
    ("_sip._udp.dskamailio.test", "SRV"): ["10 0 5076 g.ds.test."],
    ("_sip._udp.dskampy.test", "SRV"): ["10 0 5076 g.ds.test."],
    ("g.ds.test", "A"): ["127.0.0.6"],
    ("_sip._udp.ack.test", "SRV"): ["10 0 5072 b.fo.test."],  # the Contact of phone a's 200 to an INVITE
    ("dsakamailio.test", "A"): ["127.0.0.7"],
    ("dsakampy.test", "A"): ["127.0.0.7"],
}
DS_SOURCE = ("127.0.0.6", 5076)
PHONES = {"a": ("127.0.0.1", 5071), "b": ("127.0.0.2", 5072), "c": ("127.0.0.3", 5073)}
TCP_PHONES = {"t": ("127.0.0.5", 5075)}


@dataclass
class Phone:
    """A UDP phone in the namespace: answers each new MESSAGE with `answer` (None: never)."""

    name: str
    sock: socket.socket
    answer: int | None = 200
    got: dict[str, float] = field(default_factory=dict)  # Via branch -> when it first came
    acks: list[float] = field(default_factory=list)  # when an ACK came

    def __post_init__(self) -> None:
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            text = data.decode(errors="replace")
            if text.startswith("ACK "):
                self.acks.append(time.monotonic())
                continue
            if text.startswith("INVITE "):  # a 200 whose Contact names a host with an SRV record
                self.sock.sendto(reply_to(text, 200, contact="sip:bob@ack.test"), peer)
                continue
            if not text.startswith("MESSAGE "):
                continue
            branch = text.split("branch=", 1)[1].split(";", 1)[0].split("\r\n", 1)[0]
            self.got.setdefault(branch, time.monotonic())
            if self.answer is not None:
                self.sock.sendto(reply_to(text, self.answer), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@dataclass
class TcpPhone:
    """A TCP phone in the namespace: answers each new MESSAGE on its connection as `Phone` does."""

    name: str
    sock: socket.socket
    answer: int | None = 200
    got: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sock.listen(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conns: list[socket.socket] = []
        buffers: dict[socket.socket, bytes] = {}
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock, *conns], [], [], 0.1)
            for sock in ready:
                if sock is self.sock:
                    conn, _ = sock.accept()
                    conns.append(conn)
                    buffers[conn] = b""
                    continue
                data = sock.recv(65536)
                if not data:
                    conns.remove(sock)
                    sock.close()
                    continue
                buffers[sock] += data
                while b"\r\n\r\n" in buffers[sock]:  # the test's requests have no body
                    head, buffers[sock] = buffers[sock].split(b"\r\n\r\n", 1)
                    self._request(sock, head.decode(errors="replace") + "\r\n\r\n")
        for conn in conns:
            conn.close()

    def _request(self, conn: socket.socket, text: str) -> None:
        if not text.startswith("MESSAGE "):
            return
        branch = text.split("branch=", 1)[1].split(";", 1)[0].split("\r\n", 1)[0]
        self.got.setdefault(branch, time.monotonic())
        if self.answer is not None:
            conn.sendall(reply_to(text, self.answer))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def reply_to(request: str, status: int, contact: str | None = None) -> bytes:
    head = request.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    keep = [h for h in head if h.split(":", 1)[0].strip().lower() in ("via", "from", "call-id", "cseq")]
    to = next(h for h in head if h.split(":", 1)[0].strip().lower() == "to")
    reason = {200: "OK", 503: "Service Unavailable"}[status]
    more = [f"Contact: <{contact}>"] if contact else []
    return (f"SIP/2.0 {status} {reason}\r\n" + "\r\n".join([*keep, to + ";tag=ph", *more]) +
            "\r\nContent-Length: 0\r\n\r\n").encode()


@dataclass
class World:
    ns: Namespace
    dns: DnsServer
    phones: dict[str, Phone | TcpPhone]
    servers: dict[str, dualserver.Server]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dns")
    etc = workdir / "etc"
    etc.mkdir()
    resolv = workdir / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
    ns = Namespace(etc, {"/etc/resolv.conf": resolv})
    started: dict[str, dualserver.Server] = {}
    phones: dict[str, Phone | TcpPhone] = {}
    dns_server = None
    try:
        dns_sock = ns.socket()
        dns_sock.bind(("127.0.0.1", 53))
        dns_server = DnsServer(dns_sock, ZONE)
        for name, addr in PHONES.items():
            sock = ns.socket()
            sock.bind(addr)
            phones[name] = Phone(name, sock)
        for name, addr in TCP_PHONES.items():
            sock = ns.socket(kind=socket.SOCK_STREAM)
            sock.bind(addr)
            phones[name] = TcpPhone(name, sock)
        for kind, port in PORTS.items():
            ds_list = workdir / f"dispatcher-{kind}.list"
            ds_list.write_text(f"1 sip:ds{kind}.test\n2 sip:dsa{kind}.test:5077\n")
            started[kind] = dualserver.start(kind, CONFIG, workdir, {"LISTEN_TCP": f"tcp:127.0.0.1:{port}",
                                                                      "DSLIST": f'"{ds_list}"'},
                                             port=port, prefix=ns.run_prefix())
        for server in started.values():
            dualserver.wait_answering(server, 30, make_socket=ns.socket)
        yield World(ns, dns_server, phones, started)
    finally:
        for server in started.values():
            server.stop()
        for phone in phones.values():
            phone.close()
        if dns_server is not None:
            dns_server.close()
        ns.close()


@dataclass(frozen=True)
class Outcome:
    status: int | None
    phones: tuple[str, ...]  # the phones that got the request (a new branch each), in order
    reason: str | None = field(default=None, compare=False)  # the final reply's reason phrase


_serial = iter(range(1, 1_000_000))


def send_message(world: World, kind: str, ruri: str, answers: dict[str, int | None],
                 settle: float = 0.2, source: tuple[str, int] = ("127.0.0.1", 0)) -> Outcome:
    """A MESSAGE to `ruri` through server `kind` from `source`, the phones answering as `answers`
    says."""
    for name, phone in world.phones.items():
        phone.answer = answers.get(name, 200)
        phone.got.clear()
    server = world.servers[kind]
    sock = world.ns.socket()
    try:
        sock.bind(source)
        host, port = sock.getsockname()
        n = next(_serial)
        sock.sendto((f"MESSAGE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-dns{n}\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a{n}\r\nTo: <{ruri}>\r\n"
                     f"Call-ID: dns-{kind}-{n}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n").encode(),
                    server.addr)
        status, reason = final_status(sock, time.monotonic() + 5)
    finally:
        sock.close()
    time.sleep(settle)  # a retransmission or a late branch would show now
    arrivals = sorted((when, name) for name, phone in world.phones.items() for when in phone.got.values())
    return Outcome(status, tuple(name for _, name in arrivals), reason)


def final_status(sock: socket.socket, deadline: float) -> tuple[int | None, str | None]:
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        _, code, reason = data.split(b"\r\n", 1)[0].decode(errors="replace").split(" ", 2)
        if int(code) >= 200:
            return int(code), reason
    return None, None


SCENARIOS = {
    # name: (R-URI, the phones' answers, the outcome both servers give)
    "srv_priority_first": ("sip:bob@fo.test", {}, Outcome(200, ("a",))),
    "503_fails_over": ("sip:bob@fo.test", {"a": 503}, Outcome(200, ("a", "b"))),
    "timeout_fails_over": ("sip:bob@fo.test", {"a": None}, Outcome(200, ("a", "b"))),
    "unreachable_fails_over": ("sip:bob@down.test", {}, Outcome(200, ("c",))),
    "disabled_failover_keeps_the_503": ("sip:nofo@fo.test", {"a": 503}, Outcome(500, ("a",))),
    "all_targets_fail": ("sip:bob@fo.test", {"a": 503, "b": 503}, Outcome(500, ("a", "b"))),
    "unresolvable_name": ("sip:bob@nowhere.test", {}, Outcome(478, ())),
    "stateless_forward_to_the_first_srv_target": ("sip:sl@slfo.test", {}, Outcome(200, ("a",))),
    "stateless_forward_fails_over_on_a_send_error": ("sip:sl@sldown.test", {}, Outcome(200, ("c",))),
    "refused_tcp_connect_fails_over": ("sip:bob@tcpfo.test;transport=tcp", {}, Outcome(200, ("t",))),
    "refused_tcp_connect_without_failover": ("sip:nofo@tcpfo.test;transport=tcp", {}, Outcome(477, ())),
}


def test_an_unresolvable_name_gets_the_reason_of_a_failed_t_relay(world):
    # Kamailio's script answers the failed t_relay() with sl_reply_error(): "(478/SL)"; kampy's tm,
    # which learns it after t_relay() returned, answers as kill_transaction: "(478/TM)"
    found = send_message(world, "kampy", "sip:bob@nowhere2.test", {})
    assert (found.status, found.reason) == (478, "Unresolvable destination (478/TM)")


@pytest.mark.parametrize("name", SCENARIOS)
def test_dns_resolution_and_failover_as_kamailio(world, name):
    ruri, answers, expected = SCENARIOS[name]
    outcomes = {kind: send_message(world, kind, ruri, answers) for kind in PORTS}
    assert outcomes == {"kamailio": expected, "kampy": expected}


def test_with_dns_try_naptr_the_naptr_record_names_the_srv_name_as_kamailio(world):
    outcomes = {}
    for kind, server in world.servers.items():
        server.kamcmd("cfg.set_now_int", "core", "dns_try_naptr", "1")
        try:
            outcomes[kind] = send_message(world, kind, "sip:bob@naptr.test", {}, settle=0)
        finally:
            server.kamcmd("cfg.set_now_int", "core", "dns_try_naptr", "0")
    assert outcomes == {"kamailio": Outcome(200, ("b",)), "kampy": Outcome(200, ("b",))}


def test_a_local_request_resolves_and_fails_over_as_kamailio(world):
    arrivals = {}
    for kind, server in world.servers.items():
        world.phones["a"].answer, world.phones["b"].answer = 503, 200
        for phone in world.phones.values():
            phone.got.clear()
        answer = server.kamcmd("tm.t_uac_start", "MESSAGE", "sip:bob@uac.test", ".", ".",
                               "From: <sip:alice@example.test>\r\nTo: <sip:bob@uac.test>\r\n"
                               "Content-Type: text/plain\r\n", "hi")
        assert "error" not in answer.lower(), answer
        time.sleep(0.5)
        arrivals[kind] = [name for _, name in sorted((when, name) for name, phone in world.phones.items()
                                                     for when in phone.got.values())]
    assert arrivals == {"kamailio": ["a", "b"], "kampy": ["a", "b"]}


def test_the_ack_of_a_local_2xx_goes_to_the_srv_target_of_its_contact_as_kamailio(world):
    acks = {}
    for kind, server in world.servers.items():
        for phone in world.phones.values():
            phone.got.clear()
        world.phones["b"].acks.clear()
        answer = server.kamcmd("tm.t_uac_start", "INVITE", "sip:bob@127.0.0.1:5071", ".", ".",
                      "From: <sip:alice@example.test>\r\nTo: <sip:bob@example.test>\r\n"
                      "Contact: <sip:alice@127.0.0.1>\r\nContent-Type: application/sdp\r\n", "v=0\r\n")
        assert "error" not in answer.lower(), answer
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not world.phones["b"].acks:
            time.sleep(0.05)
        acks[kind] = len(world.phones["b"].acks)
    assert acks == {"kamailio": 1, "kampy": 1}


def test_without_dns_try_naptr_no_naptr_record_is_asked_for(world):
    send_message(world, "kampy", "sip:bob@naptr2.test", {}, settle=0)
    assert ("naptr2.test", "NAPTR") not in world.dns.questions


def test_the_srv_and_address_lookups_went_to_the_dns_server(world):
    for kind in PORTS:
        send_message(world, kind, "sip:bob@fo.test", {}, settle=0)
        send_message(world, kind, "sip:bob@down.test", {}, settle=0)
    asked = set(world.dns.questions)
    assert {("_sip._udp.fo.test", "SRV"), ("a.fo.test", "A"), ("_sip._udp.down.test", "SRV")} <= asked


VOLATILE = ("size_bytes", "reference_counter", "expires", "last_used", "rr_expires")


def kamcmd(server: dualserver.Server, *args: str) -> str:
    """What kamcmd prints (an error too), without the fields that depend on time and memory."""
    done = subprocess.run([dualserver.KAMCMD, "-s", f"unix:{server.run_dir / 'kamailio_ctl'}", *args],
                          capture_output=True, text=True, timeout=30)
    lines = (done.stdout + done.stderr).splitlines()
    return "\n".join(line for line in lines if line.strip().split(":")[0] not in VOLATILE)


def dns_rpc_session(server: dualserver.Server) -> list[str]:
    return [kamcmd(server, "dns.lookup", "A", "a.fo.test"),
            kamcmd(server, "dns.lookup", "A", "lookup.test"),
            kamcmd(server, "dns.lookup", "SRV", "_sip._udp.fo.test"),
            kamcmd(server, "dns.add_a", "added.test", "300", "192.0.2.77", "0"),
            kamcmd(server, "dns.add_a", "added.test", "300", "192.0.2.78", "0"),
            kamcmd(server, "dns.lookup", "A", "added.test"),
            kamcmd(server, "dns.add_srv", "_sip._udp.added.test", "300", "10", "20", "5090", "added.test",
                   "2"),
            kamcmd(server, "dns.delete_srv", "_sip._udp.added.test"),
            kamcmd(server, "dns.delete_a", "added.test"),
            kamcmd(server, "dns.delete_a", "added.test"),
            kamcmd(server, "dns.lookup", "TYPO", "added.test"),
            kamcmd(server, "dns.delete_all_force")]


def test_dns_cache_rpc_commands_as_kamailio(world):
    send_message(world, "kamailio", "sip:bob@fo.test", {}, settle=0)
    send_message(world, "kampy", "sip:bob@fo.test", {}, settle=0)
    kamailio, kampy = (dns_rpc_session(world.servers[kind]) for kind in PORTS)
    assert "rr_ip: 127.0.0.1" in kamailio[0] and "rr_ip: 192.0.2.98" in kamailio[1]
    assert "rr_port: 5071" in kamailio[2]
    assert "rr_ip: 192.0.2.78" in kamailio[5] and "Permanent entries cannot be deleted" in kamailio[7]
    assert "Not found" in kamailio[9] and "Invalid type" in kamailio[10]
    assert kampy == kamailio


def test_dispatcher_resolves_its_destinations_by_srv_and_again_after_ds_dns_ttl_as_kamailio(world):
    # ds_dns_mode 13: SRV at load (set 1's destination gets the SRV target's port), then every
    # ds_dns_interval (1 s) again; ds_dns_ttl 1: the DNS cache keeps the answers (TTL 60) for 1 s
    # only, so the timer's lookups of set 2's host go to the DNS server again
    def questions(kind: str) -> int:
        return world.dns.questions.count((f"dsa{kind}.test", "A"))

    before = {kind: questions(kind) for kind in PORTS}
    found = {kind: send_message(world, kind, "sip:dsfrom@example.test", {}, settle=0, source=DS_SOURCE).status
             for kind in PORTS}
    elsewhere = {kind: send_message(world, kind, "sip:dsfrom@example.test", {}, settle=0).status
                 for kind in PORTS}
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and any(questions(kind) < before[kind] + 2 for kind in PORTS):
        time.sleep(0.1)
    assert found == {"kamailio": 200, "kampy": 200}
    assert elsewhere == {"kamailio": 404, "kampy": 404}
    assert {kind: questions(kind) >= before[kind] + 2 for kind in PORTS} == {"kamailio": True, "kampy": True}
    # a reload resolves again, waiting for the DNS answers (a worker's loop is running then)
    def srv_questions(kind: str) -> int:
        return world.dns.questions.count((f"_sip._udp.ds{kind}.test", "SRV"))

    time.sleep(1.1)  # past ds_dns_ttl: the cache holds no answer
    srv_before = {kind: srv_questions(kind) for kind in PORTS}
    for server in world.servers.values():
        server.kamcmd("dispatcher.reload")
    reloaded = {kind: send_message(world, kind, "sip:dsfrom@example.test", {}, settle=0,
                                   source=DS_SOURCE).status for kind in PORTS}
    assert reloaded == {"kamailio": 200, "kampy": 200}
    assert all(srv_questions(kind) > srv_before[kind] for kind in PORTS)
