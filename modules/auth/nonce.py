"""Kamailio's nonces (src/modules/auth/nonce.c), byte for byte.

A nonce is base64 of

    expires(4) | since(4) | MD5(expires | since [| nid | pf] | secret1)(16)
        [| MD5(the message parts of auth_checks_* | secret2)(16)] [| nid(4) | pf(1)]

(integers in network order): self-contained, so any worker (or any server with the same `secret`)
checks it without state. `nid`/`pf` are there when nonce_count or one_time_nonce is on: the nonce's
index in the shared nc/otn arrays, and its pool number with the flags NF_VALID_NC_ID/NF_VALID_OT_ID.
The second MD5 is there when the request type's auth_checks_* value (cfg) is not 0.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from kampy.api import MessageContext, Request, SIPProtocolError

# auth_checks_* bits
CHECK_FULL_URI, CHECK_CALLID, CHECK_FROMTAG, CHECK_SRC_IP = 1, 2, 4, 8
# the pf byte
NF_VALID_NC_ID, NF_VALID_OT_ID, NF_POOL_NO_MASK = 128, 64, 63

MIN_BIN_NONCE_LEN = 4 + 4 + 16
MIN_NONCE_LEN = (MIN_BIN_NONCE_LEN + 2) // 3 * 4
_BIN_NONCE_SIZE = 48  # sizeof(union bin_nonce): a longer nonce does not decode
_BE32 = struct.Struct(">I")
_BE32S = struct.Struct(">i")

# check_nonce() results
NONCE_OK, NONCE_INVALID, NONCE_TOO_SHORT, NONCE_NO_MATCH, NONCE_EXTRA_CHECKS = 0, -1, 1, 2, 3
NONCE_STALE, NONCE_BAD_NC, NONCE_REUSED = 4, 5, 6

_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_UNB64 = [0xFF] * 256
for _i, _c in enumerate(_B64):
    _UNB64[_c] = _i


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


_STRICT_B64 = re.compile(r"[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64decode(text: str) -> bytes | None:
    """Kamailio's base64_dec: None for a length it refuses; characters outside the alphabet decode
    to garbage (so the MD5 check fails) rather than to an error."""
    if len(text) % 4 == 0 and len(text) // 4 * 3 <= _BIN_NONCE_SIZE + 2 and _STRICT_B64.fullmatch(text):
        raw = base64.b64decode(text)  # the usual case: well-formed base64 decodes alike
        return raw if 4 <= len(text) and len(raw) <= _BIN_NONCE_SIZE else None
    src = text.encode("latin-1", "replace")
    n = len(src)
    if n < 4 or n % 4 or (src[-2] == 0x3D and src[-1] != 0x3D):
        return None
    size = n // 4 * 3 - (src[-2] == 0x3D) - (src[-1] == 0x3D)
    if size > _BIN_NONCE_SIZE:
        return None
    out = bytearray()
    for i in range(0, n, 4):
        a, b, c, d = (_UNB64[x] for x in src[i:i + 4])
        out += bytes(((a << 2 | b >> 4) & 0xFF, (b << 4 | c >> 2) & 0xFF, (c << 6 | d) & 0xFF))
    return bytes(out[:size])


def auth_checks(ctx: MessageContext | None, register: int, no_dlg: int, in_dlg: int) -> int:
    """get_auth_checks: the auth_checks_* value for the request (REGISTER, in a dialog: To-tag)."""
    if ctx is None or not isinstance(ctx.msg, Request):
        return 0
    if ctx.msg.method == "REGISTER":
        return register
    try:
        to = ctx.msg.to
    except SIPProtocolError:
        return no_dlg
    return in_dlg if to is not None and to.tag else no_dlg


def extra_parts(ctx: MessageContext, cfg: int) -> bytes:
    """The message parts of the second MD5: R-URI, Call-ID, From-tag, source address."""
    msg = ctx.msg
    parts = b""
    if cfg & CHECK_FULL_URI:
        parts += ctx.ruri.encode("utf-8", "surrogateescape")
    if cfg & CHECK_CALLID and msg.call_id is not None:
        parts += msg.call_id.encode("utf-8", "surrogateescape")
    if cfg & CHECK_FROMTAG:
        try:
            tag = msg.from_.tag if msg.from_ is not None else None
        except SIPProtocolError:
            tag = None
        parts += (tag or "").encode("utf-8", "surrogateescape")
    if cfg & CHECK_SRC_IP:
        parts += ipaddress.ip_address(ctx.src.ip).packed
    return parts


@dataclass(frozen=True)
class Secrets:
    """secret1 signs the times (and nid), secret2 the message parts."""

    secret1: bytes
    secret2: bytes

    @classmethod
    def from_param(cls, secret: str, checks: bool) -> Secrets:
        """The `secret` parameter, cut in two halves when any auth_checks_* is on (mod_init)."""
        raw = secret.encode("utf-8", "surrogateescape")
        if not checks:
            return cls(raw, b"")
        half = len(raw) // 2
        return cls(raw[:len(raw) - half], raw[len(raw) - half:])


def _md5(*parts: bytes) -> bytes:
    h = hashlib.md5()
    for p in parts:
        h.update(p)
    return h.digest()


def _sign(head: bytes, nid_pf: bytes, cfg: int, secrets: Secrets, parts: Callable[[], bytes]) -> bytes:
    """The MD5s of a nonce: MD5_1, and MD5_2 when cfg is set."""
    md5_1 = _md5(head, nid_pf, secrets.secret1)
    if not cfg:
        return md5_1
    return md5_1 + _md5(parts(), secrets.secret2)


def calc_nonce(cfg: int, since: int, expires: int, nid: int, pf: int, secrets: Secrets,
               parts: Callable[[], bytes]) -> str:
    """calc_nonce(): a new nonce valid from `since` until `expires`."""
    head = _BE32.pack(expires & 0xFFFFFFFF) + _BE32.pack(since & 0xFFFFFFFF)
    tail = _BE32.pack(nid & 0xFFFFFFFF) + bytes((pf,)) if pf & (NF_VALID_NC_ID | NF_VALID_OT_ID) else b""
    return b64encode(head + _sign(head, tail, cfg, secrets, parts) + tail)


@dataclass(frozen=True)
class NonceChecks:
    """What check_nonce() needs besides the nonce: the settings and the shared nc/otn state."""

    secrets: Secrets
    up_since: int
    max_drift: int
    nc_enabled: bool
    otn_enabled: bool
    nc_check: Callable[[int, int, int], int]   # (nid, pool, nc) -> nc_check_val() result
    otn_check: Callable[[int, int], int]       # (nid, pool) -> otn_check_id() result


def check_nonce(nonce: str | None, nc: str | None, cfg: int, now: int, checks: NonceChecks,
                parts: Callable[[], bytes]) -> int:
    """check_nonce(): NONCE_OK, or why the nonce is not good (Kamailio's codes)."""
    if nonce is None:
        return NONCE_INVALID
    if len(nonce) < MIN_NONCE_LEN:
        return NONCE_TOO_SHORT
    raw = b64decode(nonce)
    if raw is None or len(raw) < MIN_BIN_NONCE_LEN:
        return NONCE_INVALID
    since = _BE32S.unpack_from(raw, 4)[0]
    if since < checks.up_since and since < now:
        return NONCE_STALE  # made before this server started
    if since > now and since - now > checks.max_drift:
        return NONCE_STALE  # from the future
    buf = raw.ljust(_BIN_NONCE_SIZE, b"\0")
    at = 40 if cfg else 24  # where nid and pf are
    pf = buf[at + 4]
    nid = _BE32.unpack_from(buf, at)[0]
    if checks.otn_enabled and not pf & NF_VALID_OT_ID:
        return NONCE_STALE
    flagged = bool(pf & (NF_VALID_NC_ID | NF_VALID_OT_ID))
    expected = _sign(raw[:8], buf[at:at + 5] if flagged else b"", cfg, checks.secrets, parts)
    if raw[8:24] != expected[:16]:
        return NONCE_NO_MATCH
    if checks.nc_enabled and pf & NF_VALID_NC_ID and nc:
        value = _hex8(nc)
        if value is None:
            return NONCE_BAD_NC
        if checks.nc_check(nid, pf & NF_POOL_NO_MASK, value) != 0:
            return NONCE_STALE
        return _stale(raw, now)
    if checks.otn_enabled and pf & NF_VALID_OT_ID and checks.otn_check(nid, pf & NF_POOL_NO_MASK) != 0:
        return NONCE_REUSED
    if cfg:
        if len(raw) != 40 + (5 if flagged else 0):
            return NONCE_NO_MATCH
        if raw[24:40] != expected[16:]:
            return NONCE_EXTRA_CHECKS
    return _stale(raw, now)


def _stale(raw: bytes, now: int) -> int:
    return NONCE_STALE if _BE32.unpack_from(raw, 0)[0] < now else NONCE_OK


def _hex8(text: str) -> int | None:
    """l8hex2int: exactly 8 hex digits."""
    if len(text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in text):
        return None
    return int(text, 16)
