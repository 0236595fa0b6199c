"""`kampy rpc`: an RPC client in the spirit of kamcmd, over JSON-RPC (jsonrpcs) or binrpc (ctl).

    kampy rpc [--socket PATH | --fifo PATH | --url URL | -s ADDR] [--json] METHOD [ARGS...]

Without a transport it uses jsonrpcs' default datagram socket (/run/kamailio/kamailio_rpc.sock).
`-s ADDR` speaks binrpc to ctl as kamcmd does (`unix:/run/kamailio/kamailio_ctl`, `unixd:PATH`,
`tcp:HOST:PORT`, `udp:HOST:PORT`) and prints the answer as kamcmd prints it.
Arguments that look like integers are sent as numbers (as kamcmd does; `s:123` keeps a string;
over binrpc a decimal number is sent as a double, as kamcmd sends it).
Exit codes: 0 result, 1 the server answered an error, 2 usage, 3 the server is not reachable.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
from typing import Any

DEFAULT_SOCKET = "/run/kamailio/kamailio_rpc.sock"
TIMEOUT = 5.0
OK, FAULT, USAGE, UNREACHABLE = 0, 1, 2, 3


class Unreachable(Exception):
    pass


def add_parser(sub: Any) -> None:
    p = sub.add_parser("rpc", help="call an RPC method of a running server (as kamcmd)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--socket", metavar="PATH",
                       help=f"jsonrpcs datagram socket (default {DEFAULT_SOCKET})")
    where.add_argument("--fifo", metavar="PATH", help="jsonrpcs FIFO")
    where.add_argument("--url", metavar="URL", help="JSON-RPC over HTTP (xhttp), e.g. http://127.0.0.1:5060/RPC")
    where.add_argument("-s", dest="ctl", metavar="ADDR",
                       help="binrpc to ctl, as kamcmd -s (e.g. unix:/run/kamailio/kamailio_ctl, "
                            "tcp:127.0.0.1:2049)")
    p.add_argument("--json", action="store_true", help="print the whole JSON-RPC response")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds to wait for the answer")
    p.add_argument("method", help="the method, e.g. stats.get_statistics")
    p.add_argument("args", nargs="*", help="its parameters")
    p.set_defaults(func=cmd_rpc)


def param(text: str) -> Any:
    if text.startswith("s:"):
        return text[2:]
    if text.startswith("i:"):
        return int(text[2:])
    with contextlib.suppress(ValueError):
        return int(text)
    return text


def build_request(method: str, args: list[str], reply_name: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": [param(a) for a in args],
                               "id": os.getpid()}
    if reply_name is not None:
        request["reply_name"] = reply_name
    return request


def call_dgram(path: str, request: dict[str, Any], timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kampy-rpc-") as tmp:
        me = os.path.join(tmp, "reply.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(me)
            sock.settimeout(timeout)
            try:
                sock.sendto(json.dumps(request).encode(), path)
            except OSError as exc:
                raise Unreachable(f"cannot reach {path}: {exc.strerror or exc}") from None
            try:
                return sock.recv(16 * 1024 * 1024)
            except TimeoutError:
                raise Unreachable(f"no answer from {path} within {timeout:g}s") from None


def call_fifo(path: str, request_for: Any, timeout: float) -> bytes:
    reply_dir = "/tmp"
    name = f"kampy_rpc_reply_{os.getpid()}"
    reply = os.path.join(reply_dir, name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(reply)
    os.mkfifo(reply, 0o600)
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise Unreachable(f"cannot reach {path}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as fifo:
            fifo.write(json.dumps(request_for(name)).encode() + b"\n")
        return _read_reply(reply, timeout)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(reply)


def _read_reply(path: str, timeout: float) -> bytes:
    result: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as f:
            result.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        with contextlib.suppress(OSError):  # unblock the reader
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        raise Unreachable(f"no answer on {path} within {timeout:g}s")
    return result[0]


def call_http(url: str, request: dict[str, Any], timeout: float) -> bytes:
    import urllib.error  # only here: building the CLI should stay cheap
    import urllib.request

    req = urllib.request.Request(url, json.dumps(request).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        return exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def format_value(value: Any, indent: int = 0) -> list[str]:
    """kamcmd's layout: scalars on a line, structures as `{` name: value `}` blocks."""
    pad = "\t" * indent
    if isinstance(value, dict):
        lines = [pad + "{"]
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                lines.append(f"{pad}\t{key}:")
                lines += format_value(item, indent + 2)
            else:
                lines.append(f"{pad}\t{key}: {_scalar(item)}")
        return lines + [pad + "}"]
    if isinstance(value, list):
        lines = []
        for item in value:
            lines += format_value(item, indent)
        return lines
    return [pad + _scalar(value)]


def _scalar(value: Any) -> str:
    if value is None:
        return "<null string>"
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def cmd_rpc(args: argparse.Namespace) -> int:
    if args.ctl:
        from kampy.cli_binrpc import call_ctl

        return call_ctl(args.ctl, args.method, args.args, args.timeout, args.json)
    request = build_request(args.method, args.args)
    try:
        if args.url:
            raw = call_http(args.url, request, args.timeout)
        elif args.fifo:
            raw = call_fifo(args.fifo, lambda name: build_request(args.method, args.args, name),
                            args.timeout)
        else:
            raw = call_dgram(args.socket or DEFAULT_SOCKET, request, args.timeout)
    except Unreachable as exc:
        print(f"kampy rpc: the server is not reachable: {exc}", file=sys.stderr)
        return UNREACHABLE
    try:
        response = json.loads(raw)
    except ValueError:
        print(f"kampy rpc: not a JSON-RPC answer: {raw[:200]!r}", file=sys.stderr)
        return FAULT
    return print_response(response, args.json)


def print_response(response: Any, as_json: bool) -> int:
    error = response.get("error") if isinstance(response, dict) else None
    if as_json:
        print(json.dumps(response, indent=2))
        return FAULT if error else OK
    if error:
        print(f"error: {error.get('code')} - {error.get('message')}", file=sys.stderr)
        return FAULT
    result = response.get("result") if isinstance(response, dict) else response
    print("\n".join(format_value(result)))
    return OK
