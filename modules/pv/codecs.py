"""The string codecs of `{s.encode.7bit}`, `{s.encode.base58}`, `{s.fmtlines}` and `{urialias.*}`,
byte for byte as Kamailio 5.6's pv_trans.c, core/basex.c and core/dset.c write them."""
from __future__ import annotations

from kampy.api import SIPProtocolError, parse_uri

from .common import Value
from .msgvars import PROTO_IDS

_HEX = "0123456789ABCDEF"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_MAP = {c: i for i, c in enumerate(_B58)}
TR_BUFFER_SIZE = 65536


class CodecError(ValueError):
    """The value cannot be converted (the transformation fails)."""


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def encode_7bit(text: str) -> str:
    """pdu_7bit_encode: GSM 03.38 septets packed into octets, as upper-case hex."""
    data = _bytes(text)
    if len(data) > TR_BUFFER_SIZE * 7 // 8 - 1:
        raise CodecError("value too long")
    data += b"\0"  # Kamailio reads the string's terminating zero for the last septet
    out = []
    nleft = 1
    i = pos = 0
    while i < len(data) - 1:
        octet = (data[pos] >> (nleft - 1)) | ((data[pos + 1] << (8 - nleft)) & 0xFF)
        out.append(_HEX[octet >> 4] + _HEX[octet & 0x0F])
        nleft += 1
        if nleft == 8:
            pos += 1
            i += 1
            nleft = 1
        pos += 1
        i += 1
    return "".join(out)


def _hex_value(c: str) -> int:
    return int(c, 16) if c in "0123456789abcdefABCDEF" else 0


def decode_7bit(text: str) -> str:
    """pdu_7bit_decode: the septets of a hex string of packed octets."""
    if len(text) > TR_BUFFER_SIZE // 2 - 1:
        raise CodecError("value too long")
    out = bytearray()
    nleft, oldfill = 1, 0
    padded = text + "\0"
    for i in range(0, len(text), 2):
        octet = (_hex_value(padded[i]) << 4 | _hex_value(padded[i + 1])) & 0xFF
        fill = octet >> (8 - nleft)
        out.append(((octet << (nleft - 1)) & 0x7F) | oldfill)
        oldfill = fill
        nleft += 1
        if nleft == 8:
            out.append(oldfill)
            nleft, oldfill = 1, 0
    return _text(bytes(out))


def encode_base58(text: str) -> str:
    data = _bytes(text)
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 58)
        digits.append(_B58[r])
    return "1" * zeros + "".join(reversed(digits))


def decode_base58(text: str) -> str:
    n = 0
    for c in text:
        if c not in _B58_MAP:
            raise CodecError("invalid base58 digit")
        n = n * 58 + _B58_MAP[c]
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    # b58_decode counts one byte more than it decoded, plus one per leading '1', and starts past
    # the leading zero bytes: what follows the value in its buffer are zeros
    return _text(body + b"\0" * (1 + zeros))


def fmtline(text: str, n: int, m: int, fill: str) -> str:
    """{s.fmtlines,n,m}/{s.fmtlinet,n,m} as Kamailio 5.6 evaluates them: its loop tests `i/n == 0`,
    so a line break and `m` fill characters go before each character at offsets 1 to n-1."""
    if n <= 0 or m < 0:
        raise CodecError("fmtline with invalid parameters")
    data = _bytes(text)
    if len(data) + (len(data) // n) * (2 + m) > TR_BUFFER_SIZE - 2:
        raise CodecError("value too large")
    out = bytearray()
    for i, c in enumerate(data):
        if i != 0 and i // n == 0:
            out += b"\r\n" + fill.encode() * m
        out.append(c)
    return _text(bytes(out))


_PROTO_NAMES = {v: k for k, v in PROTO_IDS.items()}


def urialias_encode(value: Value) -> str:
    """ksr_uri_alias_encode: `host~port~proto` of a SIP URI."""
    try:
        uri = parse_uri(str(value))
    except SIPProtocolError:
        raise CodecError(f"failed to parse uri [{value}]") from None
    proto = PROTO_IDS.get((uri.params.get("transport") or "").lower(), 0)
    if uri.scheme.lower() == "sips" and not proto:
        proto = PROTO_IDS["tls"]
    port = str(uri.port) if uri.port is not None else ("5061" if proto in (3, 6) else "5060")
    return f"{uri.host}~{port}~{proto or 1}"


def urialias_decode(value: Value) -> str:
    """ksr_uri_alias_decode: back to `sip:host:port` with `;transport=` unless UDP."""
    text = str(value)
    parts = text.split("~")
    if len(parts) < 3:
        return "sip:" + text.replace("~", ":", 1)
    host, port, rest = parts[0], parts[1], "~".join(parts[2:])
    if not rest:
        raise CodecError("invalid received format")
    nproto = ord(rest[0]) - ord("0")
    if nproto == 0:
        nproto = 1
    if nproto == 1:
        return f"sip:{host}:{port}"
    name = _PROTO_NAMES.get(nproto)
    if name is None:
        raise CodecError("unknown proto in received param")
    return f"sip:{host}:{port};transport={name}"
