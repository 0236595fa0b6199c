"""P-Charging-Vector (RFC 3455) of siputils: sip_p_charging_vector() and $pcv(...), as Kamailio
5.6's chargingvector.c."""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from kampy.api import MessageContext

log = logging.getLogger("kampy.siputils")

HEADER = "P-Charging-Vector"
_STATE = "siputils.pcv"
# $pcv(name) -> the field it reads
PCV_NAMES = {"all": "all", "value": "value", "genaddr": "genaddr", "orig": "orig", "term": "term"}
_KEYS = (("value", "icid-value="), ("genaddr", "icid-generated-at="), ("orig", "orig-ioi="),
         ("term", "term-ioi="))


@dataclass
class Pcv:
    """What one message's charging vector holds: `all` is the header's value when parsed, the
    whole generated header line (name and CRLF included, as Kamailio keeps it) when generated."""

    all: str
    value: str | None = None
    genaddr: str | None = None
    orig: str | None = None
    term: str | None = None
    generated: bool = False


def _param_end(text: str) -> int:
    for i, ch in enumerate(text):
        if ch in "\0 ;,\r\n":
            return i
    return len(text)


def parse_pcv(value: str, all_text: str | None = None) -> Pcv | None:
    """The fields of a header value (Kamailio finds each `key=` anywhere in it); None without
    the mandatory icid-value."""
    pcv = Pcv(all_text if all_text is not None else value)
    for field, key in _KEYS:
        pos = value.find(key)
        if pos >= 0:
            rest = value[pos + len(key):]
            setattr(pcv, field, rest[:_param_end(rest)])
    if pcv.value is None:
        log.warning("mandatory icid-value not found")
        return None
    if pcv.genaddr is None and value:
        log.warning("icid-generated-at is missing %s", value)
    return pcv


def _host_ip() -> bytes:
    """The address of the host name, a non-loopback one preferred (Kamailio: gethostbyname)."""
    try:
        addrs = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        return bytes(4)
    chosen = b""
    for addr in addrs:
        packed = socket.inet_aton(addr)
        if addr != "127.0.0.1" or not chosen:
            chosen = packed
    return chosen or bytes(4)


class ChargingVector:
    def __init__(self, clock_time: Callable[[], float]) -> None:
        self.counter = 0
        self.time = clock_time
        self.ip: bytes | None = None

    def icid(self) -> str:
        """"IVS", the host's IPv4 address, the pid, a byte of the time, a 4-byte counter: 32 hex."""
        if self.ip is None:
            self.ip = _host_ip()
        ct = self.counter
        self.counter = 0 if self.counter + 1 > 0xFFFFFFFF else self.counter + 1
        raw = (b"IVS" + self.ip + (os.getpid() & 0xFFFFFFFF).to_bytes(4, "little")
               + bytes([int(self.time()) & 0xFF]) + ct.to_bytes(4, "little"))
        return raw.hex().upper()

    @staticmethod
    def received(ctx: MessageContext) -> tuple[int, str] | None:
        """The index and value of the first P-Charging-Vector with a value."""
        for i, raw in enumerate(ctx.msg.get_all_raw(HEADER)):
            value = raw.decode("utf-8", "surrogateescape").partition(":")[2].strip()
            if value:
                return i, value
            log.warning("P-Charging-Vector header found but no value.")
        return None

    def handle(self, ctx: MessageContext, flags: str) -> int:
        low = flags.lower()
        remove, replace = "r" in low, "f" in low
        generate = "g" in low or replace
        ctx.local.pop(_STATE, None)
        found = self.received(ctx)
        pcv = parse_pcv(found[1]) if found else None
        if found and pcv is None:
            log.error("P-Charging-Vector header found but failed to parse value [%s].", found[1])
        if pcv is not None:
            ctx.local[_STATE] = pcv
            if replace or remove:
                assert found is not None
                ctx.msg.remove_header(HEADER, found[0])
        if replace or (generate and pcv is None):
            value = f"icid-value={self.icid()}; icid-generated-at={ctx.src.local.host}"
            line = f"{HEADER}: {value}\r\n"
            generated = parse_pcv(value, line)
            assert generated is not None
            generated.generated = True
            ctx.local[_STATE] = generated
            log.info("Generated PCV header %s", line[:-2])
            ctx.msg.add_header(HEADER, value)
        return 1

    def get(self, ctx: MessageContext, name: str) -> str | None:
        pcv = ctx.local.get(_STATE)
        if pcv is None:
            found = self.received(ctx)
            pcv = parse_pcv(found[1]) if found else None
        if pcv is None:
            return None
        value = getattr(pcv, name)
        if not value:
            log.warning("No value for pseudo-var $pcv but status was %d.", 2 if pcv.generated else 1)
            return None
        return value
