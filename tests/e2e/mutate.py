"""Deterministic mutations of valid SIP messages: truncated, bit-flipped, spliced, oversized, random;
and the RFC 4475 torture messages (tests/data/rfc4475), sent as they are and mutated."""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

RFC4475 = Path(__file__).resolve().parents[1] / "data" / "rfc4475"

UDP_MAX_PAYLOAD = 65507  # IPv4: 65535 - 20 (IP) - 8 (UDP)

SEEDS = [
    b"OPTIONS sip:ping@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-f;rport\r\n"
    b"From: <sip:fuzz@127.0.0.1>;tag=f1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: fuzz-1\r\n"
    b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bK-i;rport\r\n"
    b"v: SIP/2.0/TCP [::1]:5070;branch=z9hG4bK-j\r\nf: \"A\" <sip:alice@127.0.0.1>;tag=a\r\n"
    b"t: <sip:bob@127.0.0.1>\r\ni: fuzz-2\r\nCSeq: 7 INVITE\r\nm: <sip:alice@127.0.0.1:5998>;expires=60\r\n"
    b"Max-Forwards: 5\r\nc: application/sdp\r\nl: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n",
    b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5997;branch=z9hG4bK-r\r\n"
    b"From: <sip:u@127.0.0.1>;tag=r\r\nTo: <sip:u@127.0.0.1>\r\nCall-ID: fuzz-3\r\nCSeq: 2 REGISTER\r\n"
    b"Contact: <sip:u@127.0.0.1:5997>;q=0.5, <sip:u@[::1]:5060>;expires=0\r\nExpires: 3600\r\n"
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\n"
    b"To: <sip:c@d>;tag=2\r\nCall-ID: fuzz-4\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    b"MESSAGE sip:u@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5996;branch=z9hG4bK-m;rport\r\n"
    b"From: \"Fuzz\" <sip:fuzz@example.test>;tag=m1\r\nTo: <sip:u@example.test>\r\nCall-ID: fuzz-5\r\n"
    b"CSeq: 3 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    b"INVITE sip:u@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5995;branch=z9hG4bK-v;rport\r\n"
    b"From: <sip:fuzz@example.test>;tag=v1\r\nTo: <sip:u@example.test>\r\nCall-ID: fuzz-6\r\n"
    b"CSeq: 1 INVITE\r\nContact: <sip:fuzz@127.0.0.1:5995>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    b"CANCEL sip:u@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5995;branch=z9hG4bK-v;rport\r\n"
    b"From: <sip:fuzz@example.test>;tag=v1\r\nTo: <sip:u@example.test>\r\nCall-ID: fuzz-6\r\n"
    b"CSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    b"REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5994;branch=z9hG4bK-g;rport\r\n"
    b"From: <sip:u@example.test>;tag=g1\r\nTo: <sip:u@example.test>\r\nCall-ID: fuzz-7\r\n"
    b"CSeq: 9 REGISTER\r\nContact: <sip:u@127.0.0.1:5994;transport=udp>;expires=30\r\n"
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
]


def rfc4475_messages() -> list[bytes]:
    """The torture messages of RFC 4475 section 3 (tests/data/rfc4475/*.dat), sorted by name."""
    return [path.read_bytes() for path in sorted(RFC4475.glob("*.dat"))]


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(1, len(data))]


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def splice(rng: random.Random, data: bytes) -> bytes:
    """Insert, repeat or delete a random slice (duplicated headers, lost CRLFs, ...)."""
    i, j = sorted(rng.randrange(len(data)) for _ in range(2))
    choice = rng.randrange(3)
    if choice == 0:
        return data[:i] + data[i:j] * rng.randint(2, 50) + data[j:]
    if choice == 1:
        return data[:i] + data[j:]
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[i:]


def oversize(rng: random.Random, data: bytes) -> bytes:
    """A message padded with a huge header up to the largest UDP payload."""
    size = rng.randint(60000, UDP_MAX_PAYLOAD)
    head, _, rest = data.partition(b"\r\n")
    pad = b"X-Pad: " + b"a" * max(0, size - len(data) - 9) + b"\r\n"
    return (head + b"\r\n" + pad + rest)[:UDP_MAX_PAYLOAD]


def many_headers(rng: random.Random, data: bytes) -> bytes:
    head, _, rest = data.partition(b"\r\n")
    return head + b"\r\n" + b"X-H: v\r\n" * rng.randint(200, 3000) + rest


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 1500)))


def bad_numbers(rng: random.Random, data: bytes) -> bytes:
    values = [b"-1", b"99999999999999999999", b"0x10", b"", b"1e9", b" 4 2"]
    return (data.replace(b"Content-Length: 0", b"Content-Length: " + rng.choice(values))
            .replace(b"CSeq: 1", b"CSeq: " + rng.choice(values))
            .replace(b"Max-Forwards: 70", b"Max-Forwards: " + rng.choice(values)))


MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    truncate, flip_bits, flip_bits, splice, splice, oversize, many_headers, random_bytes, bad_numbers,
]


def mutations(count: int, seed: int = 4475, torture: Sequence[bytes] = ()) -> Iterator[bytes]:
    """`count` datagrams: mutated seeds; with `torture` messages, one in five is one of them as it is
    and the seeds they mutate include them."""
    rng = random.Random(seed)
    seeds = [*SEEDS, *torture]
    for _ in range(count):
        if torture and rng.random() < 0.2:
            data = rng.choice(torture)
        else:
            data = rng.choice(MUTATORS)(rng, rng.choice(seeds))
        yield (data or b"\x00")[:UDP_MAX_PAYLOAD]
