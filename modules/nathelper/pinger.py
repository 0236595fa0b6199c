"""NAT keepalives (Kamailio's nh_timer and sip_pinger.h): every second each pinging process asks
usrloc for one partition of the contacts, so that each contact is pinged once every
natping_interval seconds, with a SIP request (OPTIONS by default) for contacts whose branch flags
hold sipping_bflag, else a 4-byte UDP packet (from a spoofed source with natping_socket or
udpping_from_path, through a raw socket).

The requests are sent statelessly. Their From tag is `<ruid>-<AoR hash>-<counter>` (hex digits
least significant first), so that a reply names the contact that answered (keepalive_timeout)."""
from __future__ import annotations

import logging
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from kampy.api import (
    CoreAPI,
    Outgoing,
    PingContact,
    Socket,
    UsrlocAPI,
    grep_socket,
    parse_uri,
    reverse_hex,
)

log = logging.getLogger("kampy.nathelper")

UDP_PING = b"\0\0\0\0"
SIP_PORT = 5060


@dataclass
class PingConfig:
    interval: int
    processes: int
    nated_only: bool
    sipping_flag: int        # branch flag mask (0: no SIP pings)
    disable_flag: int        # natping_disable_bflag mask
    sipping_from: str
    sipping_method: str
    filter_server_id: bool
    udpping_from_path: int
    raw_source: tuple[str, int] | None  # natping_socket


def reverse_hex8(n: int) -> str:
    """int2reverse_hex with at most 8 digits (a 32-bit value)."""
    return reverse_hex(n & 0xFFFFFFFF)


class Pinger:
    """The pinging processes' work. `tick(index)` is one second of pinging process `index`."""

    def __init__(self, core: CoreAPI, ul: UsrlocAPI, cfg: PingConfig, nat_flag: int,
                 force_socket: Socket | None, enabled: Callable[[], bool]) -> None:
        self.core = core
        self.ul = ul
        self.cfg = cfg
        self.nat_flag = nat_flag
        self.force_socket = force_socket
        self.enabled = enabled
        self.iterations: dict[int, int] = {}
        self.started = core.clock.monotonic()
        rng = random.Random()
        self.fromtag = rng.getrandbits(31)
        self.callid_prefix = reverse_hex8(rng.getrandbits(31))
        self.callid_counter = rng.getrandbits(31)
        self._raw: socket.socket | None = None

    # ------------------------------------------------------------------ one second

    def tick(self, index: int) -> None:
        iteration = self.iterations.get(index, 0)
        try:
            if self.enabled():
                self._ping_partition(index * self.cfg.interval + iteration)
        finally:
            iteration += 1
            self.iterations[index] = 0 if iteration == self.cfg.interval else iteration

    def _ping_partition(self, part_idx: int) -> None:
        cfg = self.cfg
        flags = self.nat_flag if cfg.nated_only else 0
        try:
            contacts = self.ul.get_all_ucontacts(flags, part_idx, cfg.processes * cfg.interval,
                                                 cfg.filter_server_id)
        except Exception:  # a database in db_mode 3 that fails: Kamailio logs and waits for the next
            log.exception("failed to fetch contacts")
            return
        for contact in contacts:
            if contact.cflags & cfg.disable_flag:
                continue
            try:
                self._ping(contact)
            except (OSError, ValueError) as exc:
                log.error("nathelper: cannot ping %s: %s", contact.contact, exc)

    # ------------------------------------------------------------------ one contact

    def _ping(self, c: PingContact) -> None:
        cfg = self.cfg
        sip_ping = bool(c.cflags & cfg.sipping_flag) or (not cfg.nated_only and bool(cfg.sipping_flag))
        raw_from: tuple[str, int] | None = cfg.raw_source
        target = c.received or c.contact
        if c.path and c.cflags & cfg.sipping_flag:
            target = first_path_uri(c.path)
        elif c.path and cfg.udpping_from_path:
            raw_from = last_path_address(c.path, cfg.udpping_from_path)
            if raw_from is None:
                log.error("unable to parse path from location")
                return
        uri = parse_uri(target)
        transport = (uri.transport or "").lower()
        if transport not in ("", "udp"):
            return
        host, port = uri.host.strip("[]"), uri.port or SIP_PORT
        ip = resolve(host)
        sock = self.force_socket or self._socket_of(c.socket) or self._any_socket(ip)
        if sock is None:
            log.error("can't get sending socket")
            return
        if sip_ping and cfg.sipping_from:
            data = self.build_sipping(c, sock)
            self.core.send(Outgoing("udp", ip, port, data, sock))
        elif raw_from is not None:
            self._send_raw(UDP_PING, raw_from, (ip, port))
        else:
            self.core.send(Outgoing("udp", ip, port, UDP_PING, sock))

    def _socket_of(self, text: str | None) -> Socket | None:
        if not text:
            return None
        return next((s for s in self.core.sockets if str(s) == text), None) or \
            _grep(self.core.sockets, text)

    def _any_socket(self, ip: str) -> Socket | None:
        v6 = ":" in ip
        return next((s for s in self.core.sockets if s.proto == "udp" and (":" in s.host) == v6), None)

    def build_sipping(self, c: PingContact, sock: Socket) -> bytes:
        """build_sipping(): the keepalive request for contact `c`, sent from `sock`."""
        cfg = self.cfg
        vaddr = sock.advertise_host or sock.host
        vport = sock.advertise_port or sock.port
        if ":" in sock.host and not vaddr.startswith("["):
            vaddr = f"[{vaddr}]"
        branch = random.randint(1000000, 9999999)
        tag = f"{c.ruid}-{reverse_hex8(c.aorhash)}-{reverse_hex8(self.fromtag)}"
        self.fromtag = (self.fromtag + 1) & 0xFFFFFFFF
        ticks = int(self.core.clock.monotonic() - self.started)
        callid = (f"{self.callid_prefix}-{reverse_hex8(self.callid_counter)}-{reverse_hex8(ticks)}"
                  f"@{sock.host}")
        self.callid_counter = (self.callid_counter + 1) & 0xFFFFFFFF
        lines = [f"{cfg.sipping_method} {c.contact} SIP/2.0",
                 f"Via: SIP/2.0/UDP {vaddr}:{vport};branch=z9hG4bK{branch}"]
        if c.path:
            lines.append(f"Route: {c.path}")
        lines += [f"From: {cfg.sipping_from};tag={tag}", f"To: {c.contact}", f"Call-ID: {callid}",
                  f"CSeq: 1 {cfg.sipping_method}", "Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")

    # ------------------------------------------------------------------ raw UDP (spoofed source)

    def _send_raw(self, payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> None:
        """send_raw(): an IPv4/UDP packet built by hand, its source address `src`."""
        if self._raw is None:
            self._raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self._raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        self._raw.sendto(raw_packet(payload, src, dst), (dst[0], dst[1]))

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def raw_packet(payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    """The IP and UDP headers send_raw() writes (TTL 69, id 23, no UDP checksum) and `payload`."""
    length = 20 + 8 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 23, 0, 69, 17, 0,
                         socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0)
    return header + udp + payload


def _checksum(data: bytes) -> int:
    total = 0
    for i in range(0, len(data) - 1, 2):
        total += (data[i] << 8) + data[i + 1]
    if len(data) % 2:
        total += data[-1] << 8
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def resolve(host: str) -> str:
    """sip_resolvehost for an address or a name (A record first, as Kamailio's default)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return host
    except OSError:
        pass
    return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]


def first_path_uri(path: str) -> str:
    """get_path_dst_uri: the first URI of a Path vector."""
    first = path.split(",", 1)[0].strip()
    if "<" in first:
        first = first[first.index("<") + 1:first.index(">") if ">" in first else None]
    return first


def last_path_address(path: str, depth: int) -> tuple[str, int] | None:
    """extract_last_path_ip: `ip:port` of the `<sip:` URI of the Path hop `depth` (1: the last),
    parsed as a natping_socket value."""
    start = end = None
    hops = 0
    i = 0
    while i < len(path):
        if path.startswith("<sip:", i) and i < len(path) - 4:
            start, end = i + 5, None
        if path[i] in ";>" and end is None and start is not None:
            end = i
            if depth - 1:
                hops += 1
                if hops >= depth - 1:
                    break
        i += 1
    if start is None or end is None:
        return None
    return parse_hostport(path[start:end])


def parse_hostport(text: str) -> tuple[str, int] | None:
    """`[udp:]host[:port]` (natping_socket): the address (resolved) and port (5060 by default)."""
    value = text.strip()
    if value.lower().startswith("udp:"):
        value = value[4:]
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if not host:
        return None
    try:
        return resolve(host), int(port) if port else SIP_PORT
    except (OSError, ValueError, IndexError):
        return None


def _grep(sockets: object, text: str) -> Socket | None:
    proto, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    try:
        return grep_socket(sockets, host, int(port), proto)  # type: ignore[arg-type]
    except ValueError:
        return None
