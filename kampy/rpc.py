"""The RPC registry and JSON-RPC 2.0 processing, transport-free.

The registry is filled by module declarations (`Exports.rpc`: the engine binds each method to
`instance.<handler>`, by default the method name with dots as underscores) and by the core's own
methods (`core.*`, `system.*`). Handlers take `(*params)` and return a JSON-able value, or raise
`RpcFault(code, message)` as Kamailio's `rpc->fault()`.

`JsonRpc.handle(bytes) -> dict` answers one JSON-RPC request the way Kamailio 5.6's jsonrpcs does
(an unknown method is `500 "Method Not Found"`, a handler's fault keeps its code), and, where
Kamailio stays silent or answers an empty result, with the JSON-RPC 2.0 error codes: malformed
JSON `-32700 "Parse Error"`, a request that is not a JSON-RPC 2.0 call `-32600 "Invalid Request"`,
params that are neither an array nor an object (or do not fit the handler) `-32602`.
"""
from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy import srjson
from kampy.binrpc import Member, RpcStruct
from kampy.module import Exports, RpcDelayed, RpcFault
from kampy.rpc_scan import json_scan
from kampy.version import version_string

log = logging.getLogger("kampy.rpc")


# Kamailio's jsonrpcs error table: a fault with one of these codes gets this message.
ERROR_MESSAGES = {-32700: "Parse Error", -32600: "Invalid Request", -32601: "Method Not Found",
                  -32602: "Invalid Parameters", -32603: "Internal Error", -32000: "Execution Error"}
METHOD_NOT_FOUND = (500, "Method Not Found")  # what Kamailio 5.6 answers for an unknown method
MAX_REQUEST = 1 << 20   # bytes: a larger request is refused (`-32600`, or the transport closes)

__all__ = ["RpcDelayed", "RpcFault", "RpcRegistry", "JsonRpc", "LocalService", "Peer", "Member", "RpcStruct",
           "version_string", "dumps_response", "ERROR_MESSAGES", "MAX_REQUEST"]


@dataclass(frozen=True)
class Peer:
    """A client connected to a stream `LocalService` (what ctl.who lists): its address, or
    `<anonymous unix socket>` and no port on a unix socket."""

    host: str
    port: int | None = None


@dataclass(frozen=True)
class LocalService:
    """A control socket a module asks the network layer to serve in worker `rank` (jsonrpcs' FIFO
    and datagram socket, ctl's binrpc and FIFO sockets): `handle(request bytes) -> reply bytes or
    None`.

    `kind`: "fifo" (a named pipe at `path`), "dgram" or "stream" (a unix socket at `path`), "udp"
    or "tcp" (`path` is the host, "*" or "" for every address, on `port`). A datagram is one
    request, answered to its sender. On a stream (and a FIFO) `frame(buffer)` tells where the first
    request ends: its length, 0 while it is incomplete, -1 for bytes that can never be a request
    (the buffer is then handed to `handle` once, for an error reply, and the connection closed);
    without `frame`, a FIFO carries JSON documents. A FIFO's answer goes to the file
    `reply_path(request)` names. `mode` and `owner` (uid, gid; -1 keeps it) are applied to a unix
    socket or FIFO. `peers`, when given, is kept up to date with the open stream connections."""

    kind: str                  # "fifo" | "dgram" | "stream" | "udp" | "tcp"
    path: str
    handle: Callable[[bytes], bytes | RpcDelayed | None]  # RpcDelayed: answered later
    mode: int = 0o660
    rank: int = 1
    reply_path: Callable[[bytes], str | None] | None = None
    port: int = 0
    frame: Callable[[bytes], int] | None = None
    owner: tuple[int, int] = (-1, -1)
    max_request: int = MAX_REQUEST
    peers: dict[int, Peer] | None = None


@dataclass(frozen=True)
class RpcEntry:
    name: str
    fn: Callable[..., Any]
    doc: str = ""
    module: str = "core"
    array: bool = False  # RET_ARRAY: several values are a JSON array (else the last is the result)
    params_fault: tuple[int, str] | None = None  # the method's answer to parameters it cannot read
    past_unread_optional: bool = False  # goes on past an optional string scan cannot read
    autoconvert: tuple[int, ...] = ()  # the parameters scanned with "." (a number is its text)
    unsigned: tuple[int, ...] = ()  # the int parameters scanned with "u"


class RpcRegistry:
    """Every RPC method of one process, by name."""

    def __init__(self) -> None:
        self._methods: dict[str, RpcEntry] = {}

    def register(self, name: str, fn: Callable[..., Any], doc: str = "", module: str = "core",
                 array: bool = False, params_fault: tuple[int, str] | None = None,
                 past_unread_optional: bool = False, autoconvert: tuple[int, ...] = (),
                 unsigned: tuple[int, ...] = ()) -> None:
        if name in self._methods:
            log.warning("RPC method %s declared twice (%s, %s); keeping the first",
                        name, self._methods[name].module, module)
            return
        self._methods[name] = RpcEntry(name, fn, doc, module, array, params_fault, past_unread_optional,
                                       autoconvert, unsigned)

    def register_exports(self, exports: Exports, instance: Any) -> None:
        """Bind each declared method to `instance.<handler>`; a method whose handler the module
        does not implement is not offered (an unknown method, not a stub)."""
        for method in exports.rpc:
            handler_name = method.handler or method.name.replace(".", "_")
            fn = getattr(instance, handler_name, None) if instance is not None else None
            if fn is None:
                log.debug("module %s: RPC %s has no handler %s; not offered", exports.name,
                          method.name, handler_name)
                continue
            self.register(method.name, fn, method.doc or (fn.__doc__ or "").strip().split("\n")[0],
                          exports.name, method.array, method.params_fault, method.past_unread_optional,
                          method.autoconvert, method.unsigned)

    def get(self, name: str) -> RpcEntry | None:
        return self._methods.get(name)

    def names(self) -> list[str]:
        return sorted(self._methods)

    def call(self, name: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run method `name`; raises RpcFault (unknown method, bad params, the handler's own)."""
        entry = self._methods.get(name)
        if entry is None:
            raise RpcFault(*METHOD_NOT_FOUND)
        args = list(params.values()) if isinstance(params, dict) else list(params or [])
        return entry.fn(*_fit_arity(entry, args))

    def call_json(self, name: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """`call` with parameters read as jsonrpcs reads them (`rpc_scan.json_scan`: no handler
        sees a value of another type than it declares), and the result JSON-RPC gives: several
        values (a list) of a method without RET_ARRAY are replaced by the last one, as Kamailio's
        jsonrpcs replaces them."""
        entry = self._methods.get(name)
        if entry is None:
            raise RpcFault(*METHOD_NOT_FOUND)
        args = list(params.values()) if isinstance(params, dict) else list(params or [])
        args = json_scan(entry.fn, args, entry.params_fault, entry.past_unread_optional, entry.autoconvert,
                         entry.unsigned)
        result = entry.fn(*_fit_arity(entry, args))
        if isinstance(result, list) and not entry.array:
            return result[-1] if result else None
        return result


def _fit_arity(entry: RpcEntry, args: list[Any]) -> list[Any]:
    """The parameters the handler reads: those beyond are dropped, as Kamailio's rpc->scan() leaves
    them unread (`core.version extra` answers the version); too few is the method's fault."""
    try:
        signature = inspect.signature(entry.fn)
    except ValueError:  # no signature (a builtin): let the call decide
        return args
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL not in kinds:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        args = args[:sum(1 for kind in kinds if kind in positional)]
    try:
        signature.bind(*args)
    except TypeError:
        code, text = entry.params_fault or (-32602, "Invalid Parameters")
        raise RpcFault(code, text.replace("{scanned}", str(-len(args)))) from None
    return args


# ---------------------------------------------------------------- JSON-RPC 2.0


class JsonRpc:
    """JSON-RPC 2.0 over any transport: bytes in, a response object out."""

    def __init__(self, registry: RpcRegistry, max_request: int = MAX_REQUEST) -> None:
        self.registry = registry
        self.max_request = max_request

    def handle(self, data: bytes | str) -> dict[str, Any] | RpcDelayed:
        if len(data) > self.max_request:
            return error_response(-32600, f"Invalid Request: larger than {self.max_request} bytes")
        try:
            # control characters inside strings are taken as Kamailio's srjson takes them (kamctl's
            # printf turns the \r\n of `kamctl ping`'s headers into raw CR LF)
            request = json.loads(data, strict=False, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError):
            return error_response(-32700)
        return self.handle_object(request)

    def handle_object(self, request: Any) -> dict[str, Any] | RpcDelayed:
        if not isinstance(request, dict):
            return error_response(-32600)
        rid = request.get("id")
        has_id = "id" in request
        if request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
            return error_response(-32600, rid=rid, has_id=has_id)
        params = request.get("params")
        if params is not None and not isinstance(params, (list, dict)):
            return error_response(-32602, rid=rid, has_id=has_id)
        try:
            result = self.registry.call_json(request["method"], params)
        except RpcFault as fault:
            return error_response(fault.code, fault.message, rid=rid, has_id=has_id)
        except Exception:
            log.exception("RPC %s failed", request["method"])
            return error_response(-32603, rid=rid, has_id=has_id)
        if isinstance(result, RpcDelayed):  # answered when the handler resolves it
            return result.then(lambda value, fault: error_response(fault.code, fault.message, rid=rid,
                                                                    has_id=has_id) if fault is not None
                               else _result_response(value, rid, has_id))
        return _result_response(result, rid, has_id)


def _not_json(name: str) -> Any:
    """NaN and Infinity are not JSON: srjson cannot parse them (a Parse Error)."""
    raise ValueError(f"{name} is not JSON")


def _result_response(result: Any, rid: Any, has_id: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"jsonrpc": "2.0", "result": {} if result is None else result}
    if has_id:
        response["id"] = rid
    return response


def error_response(code: int, message: str | None = None, *, rid: Any = None,
                   has_id: bool = True) -> dict[str, Any]:
    """Kamailio's error object: a code in its table gets the table's message."""
    text = ERROR_MESSAGES.get(code) or message or "Unexpected Error"
    response: dict[str, Any] = {"jsonrpc": "2.0", "error": {"code": code, "message": text}}
    if has_id:
        response["id"] = rid
    return response


def dumps_response(response: dict[str, Any], pretty: bool = True) -> bytes:
    """The response as Kamailio's jsonrpcs prints it (srjson's layout, `pretty` or on one line)."""
    return srjson.dumps(response, pretty).encode()
