"""`kampy rpc -s ADDR`: binrpc to a ctl socket, as kamcmd sends and prints it.

The address is kamcmd's (utils/kamcmd/parse_listen_id.c): `unix:PATH`/`unixs:PATH` (stream),
`unixd:PATH` (datagram: a reply socket is bound under /tmp), `tcp:HOST[:PORT]`, `udp:HOST[:PORT]`
(port 2049 when none), a bare path being a unix stream socket.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from kampy import binrpc

DEFAULT_CTL = "unix:/run/kamailio/kamailio_ctl"
DEFAULT_PORT = 2049
OK, FAULT, UNREACHABLE = 0, 1, 3


class Unreachable(Exception):
    pass


@dataclass(frozen=True)
class CtlAddress:
    kind: str          # "stream", "dgram", "tcp", "udp"
    target: str        # path or host
    port: int = 0


def parse_address(text: str) -> CtlAddress:
    proto, colon, rest = text.partition(":")
    kinds = {"unix": "stream", "unixs": "stream", "unixd": "dgram", "tcp": "tcp", "udp": "udp"}
    if not colon or proto.lower() not in kinds:
        if "/" in text:
            return CtlAddress("stream", text)
        host, _, port = text.rpartition(":") if colon else (text, "", "")
        return CtlAddress("udp", host or text, int(port) if port.isdigit() else DEFAULT_PORT)
    kind = kinds[proto.lower()]
    if kind in ("stream", "dgram"):
        return CtlAddress(kind, rest)
    host, colon, port = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon:
        host, port = rest, ""
    if host.isdigit() and not port:  # `tcp:2049`
        host, port = "127.0.0.1", host
    return CtlAddress(kind, host.strip("[]"), int(port) if port.isdigit() else DEFAULT_PORT)


def kamcmd_param(text: str) -> Any:
    """kamcmd's parse_arg(): an integer, else a double, else a string (`s:` forces a string)."""
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    return text[2:] if text.startswith("s:") else text


def exchange(address: CtlAddress, packet: bytes, timeout: float) -> bytes:
    """Send one request packet and return the whole reply packet."""
    if address.kind == "dgram":
        return _exchange_dgram(address, packet, timeout)
    family = socket.AF_UNIX if address.kind == "stream" else socket.AF_INET
    kind = socket.SOCK_DGRAM if address.kind == "udp" else socket.SOCK_STREAM
    where: Any = address.target
    if address.kind in ("tcp", "udp"):
        info = socket.getaddrinfo(address.target, address.port, type=kind)[0]
        family, where = info[0], info[4]
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(where)
            sock.sendall(packet)
            return _read_packet(sock)
        except TimeoutError:
            raise Unreachable(f"no answer from {_describe(address)} within {timeout:g}s") from None
        except OSError as exc:
            raise Unreachable(f"cannot reach {_describe(address)}: {exc.strerror or exc}") from None


def _exchange_dgram(address: CtlAddress, packet: bytes, timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kampy-ctl-") as tmp:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(os.path.join(tmp, "reply.sock"))
            sock.settimeout(timeout)
            try:
                sock.sendto(packet, address.target)
                return sock.recv(1 << 20)
            except TimeoutError:
                raise Unreachable(f"no answer from {_describe(address)} within {timeout:g}s") from None
            except OSError as exc:
                raise Unreachable(f"cannot reach {_describe(address)}: {exc.strerror or exc}") from None


def _read_packet(sock: socket.socket) -> bytes:
    buf = b""
    while True:
        length = binrpc.packet_length(buf)
        if length:
            return buf[:length]
        chunk = sock.recv(65536)
        if not chunk:
            raise Unreachable("the server closed the connection before answering")
        buf += chunk


def _describe(address: CtlAddress) -> str:
    if address.kind in ("tcp", "udp"):
        return f"{address.kind}:{address.target}:{address.port}"
    return f"{'unixd' if address.kind == 'dgram' else 'unix'}:{address.target}"


def call_ctl(where: str, method: str, args: list[str], timeout: float, as_json: bool) -> int:
    cookie = random.randrange(1, 1 << 31)
    packet = binrpc.build_packet(binrpc.REQUEST, cookie,
                                 binrpc.encode_request(method, [kamcmd_param(a) for a in args]))
    try:
        raw = exchange(parse_address(where), packet, timeout)
        header = binrpc.parse_header(raw)
    except Unreachable as exc:
        print(f"kampy rpc: the server is not reachable: {exc}", file=sys.stderr)
        return UNREACHABLE
    except binrpc.BinRpcError as exc:
        print(f"kampy rpc: not a binrpc answer: {exc}", file=sys.stderr)
        return FAULT
    if header.cookie != cookie:
        print(f"kampy rpc: bad reply, cookie doesn't match: sent {cookie:02x} and received "
              f"{header.cookie:02x}", file=sys.stderr)
        return FAULT
    body = raw[header.size:header.packet_len]
    if header.kind == binrpc.FAULT:
        code, message = binrpc.read_fault(body)
        if as_json:
            print(json.dumps({"error": {"code": code, "message": message}}, indent=2))
        else:
            print(f"error: {code} - {message}")
        return FAULT
    with contextlib.suppress(binrpc.BinRpcError):
        if as_json:
            values = binrpc.read_values(body)
            print(json.dumps({"result": values[0] if len(values) == 1 else values}, indent=2))
        else:
            for line in binrpc.format_records(body):
                print(line)
        return OK
    print("kampy rpc: the answer is not well formed binrpc", file=sys.stderr)
    return FAULT
