"""Identifiers tm puts on the wire: To-tags of local replies, From-tags and Call-IDs of local requests,
and the Via branch of every request it sends (which names the worker that owns the transaction)."""
from __future__ import annotations

import hashlib
import os
import random
import re
import zlib
from collections.abc import Iterable

from kampy.api import Core, Request

TM_TAG_SIGNATURE, TM_TAG_SEPARATOR = "SER-TM/tags", "-"
FROM_TAG_SIGNATURE = "Long live kamailio server"  # uac.c: "Long live " NAME " server"

# z9hG4bK<hash>r<rank>.<md5>.<branch index>: Kamailio's `<hash>.<md5>.<branch>` with the owning
# worker's rank after the hash (`r` is not a hex digit, so the split is unambiguous).
_BRANCH = re.compile(r"^z9hG4bK[0-9a-f]+r(\d+)\.[0-9a-f]{32}\.(\d+)$")


def _ccitt_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        table.append(c)
    return table


_CCITT = _ccitt_table()


def crc_suffix(parts: Iterable[bytes]) -> str:
    """Kamailio's crcitt_string_array: CRC-CCITT printed as 4 hex digits, low nibble first."""
    crc = 0xFFFF
    for part in parts:
        for byte in part:
            crc = _CCITT[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc = ~crc & 0xFFFF
    digits = "" if crc else "0"
    while crc and len(digits) < 4:
        digits += "0123456789abcdef"[crc & 0xF]
        crc >>= 4
    return digits.ljust(4, "0")


def tag_prefix(core: Core, signature: str) -> str:
    """MD5 of a signature and the first socket's address and port (init_tags, uac_init)."""
    sock = core.sockets[0] if core.sockets else None
    parts = [signature, sock.host if sock else "", str(sock.port) if sock else ""]
    return hashlib.md5("".join(p.strip() for p in parts).encode()).hexdigest()


def to_tag(core: Core, msg: Request) -> str:
    """The To-tag of tm's local replies (calc_crc_suffix): the same for every retransmission."""
    via = msg.via
    prefix = tag_prefix(core, TM_TAG_SIGNATURE) + TM_TAG_SEPARATOR
    if via is None:
        return prefix
    host = via.host.encode()
    port = b"" if via.port is None else str(via.port).encode()
    first = [host, port] + ([via.branch.encode()] if via.branch is not None else [])
    second = [port, host] + ([msg.call_id.encode()] if msg.call_id is not None else [])
    return prefix + crc_suffix(first) + crc_suffix(second)


def from_tag(core: Core, call_id: str, ruri: str) -> str:
    """generate_fromtag: `<md5>-<crc(Call-ID)><crc(R-URI)>`."""
    return (tag_prefix(core, FROM_TAG_SIGNATURE) + "-" + crc_suffix([call_id.encode()])
            + crc_suffix([ruri.encode()]))


class CallIds:
    """Kamailio's Call-ID generator: a random 64-bit hex counter, `-<pid>@<first address>`."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._counter = random.getrandbits(64)

    def next(self) -> str:
        self._counter = (self._counter + 1) & (2**64 - 1)
        host = self._core.sockets[0].host if self._core.sockets else "127.0.0.1"
        return f"{self._counter:016x}-{os.getpid()}@{host}"


def _reverse_hex(n: int) -> str:
    """Kamailio's int2reverse_hex: hex digits, least significant first."""
    if n == 0:
        return "0"
    out = []
    while n:
        out.append("0123456789abcdef"[n & 15])
        n >>= 4
    return "".join(out)


def branch_id(rank: int, call_id: str, cseq: str, seed: str, index: int) -> str:
    """The Via branch of branch `index` of a transaction owned by worker `rank`; `seed` makes it
    unique per transaction (the server key and a per-process label)."""
    hash_index = zlib.crc32((call_id + cseq).encode("utf-8", "surrogateescape")) & 0xFFFF
    md5 = hashlib.md5(seed.encode("utf-8", "surrogateescape")).hexdigest()
    return f"z9hG4bK{_reverse_hex(hash_index)}r{rank}.{md5}.{index}"


def branch_owner(branch: str | None) -> int | None:
    """The rank named in one of tm's branches, None for any other branch."""
    if not branch:
        return None
    match = _BRANCH.match(branch)
    return int(match.group(1)) if match else None
