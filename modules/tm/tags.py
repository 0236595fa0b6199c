"""Identifiers tm puts on the wire: To-tags of local replies, From-tags and Call-IDs of local requests,
and the Via branch of every request it sends (which names the worker that owns the transaction)."""
from __future__ import annotations

import hashlib
import os
import random
import re

from kampy.api import CoreAPI, Request, as_bytes, crc_suffix, hash2_raw, local_to_tag, reverse_hex, tag_prefix

TM_TAG_SIGNATURE, TM_TAG_SEPARATOR = "SER-TM/tags", "-"
FROM_TAG_SIGNATURE = "Long live kamailio server"  # uac.c: "Long live " NAME " server"

# z9hG4bK<hash>r<rank>.<md5>.<branch index>: Kamailio's `<hash>.<md5>.<branch>` with the owning
# worker's rank after the hash (`r` is not a hex digit, so the split is unambiguous). As Kamailio's
# t_reply_matching, the md5 part is only checked for its length here (callid_cseq_matching ignores it).
_BRANCH = re.compile(r"^(z9hG4bK[0-9a-f]+r(\d+))\.[^.]{32}\.(\d+)$")


def to_tag(core: CoreAPI, msg: Request) -> str:
    """The To-tag of tm's local replies (calc_crc_suffix): the same for every retransmission."""
    return local_to_tag(core, msg, TM_TAG_SIGNATURE, TM_TAG_SEPARATOR)


def from_tag(core: CoreAPI, call_id: str, ruri: str) -> str:
    """generate_fromtag: `<md5>-<crc(Call-ID)><crc(R-URI)>`."""
    return (tag_prefix(core, FROM_TAG_SIGNATURE) + "-" + crc_suffix([as_bytes(call_id)])
            + crc_suffix([as_bytes(ruri)]))


class CallIds:
    """Kamailio's Call-ID generator: a random 64-bit hex counter, `-<pid>@<first address>`."""

    def __init__(self, core: CoreAPI) -> None:
        self._core = core
        self._counter = random.getrandbits(64)

    def next(self) -> str:
        self._counter = (self._counter + 1) & (2**64 - 1)
        host = self._core.sockets[0].host if self._core.sockets else "127.0.0.1"
        return f"{self._counter:016x}-{os.getpid()}@{host}"


def branch_id(rank: int, call_id: str, cseq: str, seed: str, index: int) -> str:
    """The Via branch of branch `index` of a transaction owned by worker `rank`; `seed` makes it
    unique per transaction (the server key and a per-process label)."""
    hash_index = hash2_raw(call_id, cseq) & 0xFFFF  # the transaction's hash_index, as Kamailio's
    md5 = hashlib.md5(as_bytes(seed)).hexdigest()
    return f"z9hG4bK{reverse_hex(hash_index)}r{rank}.{md5}.{index}"


def branch_owner(branch: str | None) -> int | None:
    """The rank named in one of tm's branches, None for any other branch."""
    if not branch:
        return None
    match = _BRANCH.match(branch)
    return int(match.group(2)) if match else None


def branch_parts(branch: str | None) -> tuple[str, int] | None:
    """(`z9hG4bK<hash>r<rank>`, branch index) of one of tm's branches, None for any other branch."""
    match = _BRANCH.match(branch or "")
    return (match.group(1), int(match.group(3))) if match else None
