"""jsonrpcs: JSON-RPC 2.0 over a FIFO, a unix datagram socket and HTTP (through xhttp).

The FIFO and the datagram socket are served by worker rank 1 (the network layer serves the
`LocalService`s a module adds with `core.add_service`); a request runs there, against the shared
statistics and store, so the answer covers every worker. Over HTTP, `jsonrpc_dispatch()` in
`event_route[xhttp:request]` answers in the worker that read the request.

`transport` is Kamailio's bit mask: 1 HTTP, 2 FIFO, 4 datagram (0: all that can start). A relative
`fifo_name`/`dgram_socket` is under the core's `runtime_dir` (default /run/kamailio). A FIFO
request names its reply FIFO in `reply_name` (created by the client under `fifo_reply_dir`).
The FIFO gets `fifo_mode` and the owner `fifo_user`/`fifo_group`, the datagram socket `dgram_mode`
and `dgram_user`/`dgram_group` (unset: the owner stays kampy's user).
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from kampy.api import (
    CoreAPI,
    JsonRpc,
    LocalService,
    MessageContext,
    Module,
    RpcDelayed,
    XhttpAPI,
    dumps_response,
    group2gid,
    user2uid,
)

log = logging.getLogger("kampy.jsonrpcs")

HTTP, FIFO, DGRAM = 1, 2, 4
CONTENT_TYPE = "application/json"


def _under(directory: str, name: str) -> str:
    return name if name.startswith("/") else os.path.join(directory, name)


def owner(user: str | int | None, group: str | int | None) -> tuple[int, int]:
    """(uid, gid) of a FIFO or socket, -1 where unset: Kamailio's user2uid() (a user name brings its
    group along) and group2gid(); raises ValueError for an unknown name."""
    uid = gid = -1
    if user is not None and str(user).strip():
        uid, user_gid = user2uid(user)
        gid = user_gid if user_gid is not None else gid
    if group is not None and str(group).strip():
        gid = group2gid(group)
    return uid, gid


def fifo_mode(value: Any) -> int:
    """`fifo_mode`; 0 is forced to 0600, as Kamailio does."""
    mode = int(value or 0)
    if not mode:
        log.warning("cannot specify fifo_mode = 0, forcing it to rw-------")
        return 0o600
    return mode


def http_status(response: dict[str, Any]) -> tuple[int, str]:
    """Kamailio's HTTP status for a JSON-RPC answer: 200 OK, or the fault's code when > 100
    (otherwise 500), with the fault's text as reason phrase."""
    error = response.get("error")
    if not error:
        return 200, "OK"
    code = error.get("code", 500)
    return (code if isinstance(code, int) and 100 < code < 600 else 500), str(error.get("message", ""))


class JsonRpcs(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.jsonrpc = JsonRpc(core.rpc)
        self.pretty = int(params["pretty_format"] or 0) != 0
        transport = int(params["transport"] or 0)
        self.transport = transport or (HTTP | FIFO | DGRAM)
        self.xhttp: XhttpAPI | None = core.api("xhttp") if self.transport & HTTP else None
        if self.xhttp is None and transport & HTTP:
            raise ValueError("the HTTP transport needs the xhttp module: add loadmodule \"xhttp.so\"")
        self.reply_dir = str(params["fifo_reply_dir"] or "/tmp/")
        self._exec_reply: dict[str, Any] = {}
        self._add_services(params, core.runtime_dir)

    def _add_services(self, params: dict[str, Any], runtime_dir: str) -> None:
        fifo = params["fifo_name"]
        if self.transport & FIFO and fifo:
            self.core.add_service(LocalService(
                "fifo", _under(runtime_dir, str(fifo)), self.handle_fifo,
                mode=fifo_mode(params["fifo_mode"]), reply_path=self.fifo_reply_path,
                owner=owner(params["fifo_user"], params["fifo_group"])))
        dgram = params["dgram_socket"]
        if self.transport & DGRAM and dgram:
            path = str(dgram).removeprefix("unix:")
            self.core.add_service(LocalService(
                "dgram", _under(runtime_dir, path), self.handle_datagram,
                mode=int(params["dgram_mode"]), owner=owner(params["dgram_user"], params["dgram_group"])))

    # ------------------------------------------------------------ transports

    def answer(self, data: bytes) -> bytes | RpcDelayed:
        """The reply, or (a method answering later, tm.t_uac_wait_block) the RpcDelayed of it."""
        response = self.jsonrpc.handle(data)
        if isinstance(response, RpcDelayed):
            return response.then(lambda value, _fault: dumps_response(value, self.pretty))
        return dumps_response(response, self.pretty)

    def answer_now(self, data: bytes) -> dict[str, Any]:
        """A reply the caller needs at once (HTTP, jsonrpc_exec): a method that answers later has
        not answered yet (its request goes on)."""
        response = self.jsonrpc.handle(data)
        if isinstance(response, RpcDelayed):
            if response.done:
                return response.value  # type: ignore[no-any-return]
            return {"jsonrpc": "2.0", "error": {"code": 500, "message": "No response"}, "id": None}
        return response

    def handle_datagram(self, data: bytes) -> bytes | RpcDelayed | None:
        return self.answer(data)

    def handle_fifo(self, data: bytes) -> bytes | RpcDelayed | None:
        return self.answer(data)

    def fifo_reply_path(self, data: bytes) -> str | None:
        """Where the answer to a FIFO request goes: `fifo_reply_dir` + its `reply_name`."""
        try:
            name = json.loads(data, strict=False).get("reply_name")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return None
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            log.error("FIFO request without a usable reply_name; no answer sent")
            return None
        return os.path.join(self.reply_dir, name)

    # ------------------------------------------------------------ cfg functions

    def jsonrpc_dispatch(self, ctx: MessageContext) -> int:
        xhttp = self.xhttp
        if xhttp is None or not xhttp.is_http(ctx):
            log.error("jsonrpc_dispatch: not an HTTP request (or the HTTP transport is off)")
            return -1
        response = self.answer_now(ctx.msg.body)
        code, reason = http_status(response)
        xhttp.send_reply(ctx, code, reason, CONTENT_TYPE, dumps_response(response, self.pretty))
        return 1

    def jsonrpc_exec(self, ctx: MessageContext, cmd: str) -> int:
        response = self.answer_now(cmd.encode())
        code, reason = http_status(response)
        self._exec_reply = {"code": code, "text": reason,
                            "body": dumps_response(response, self.pretty).decode()}
        return 1

    def pv_jsonrpl(self, spec: Any) -> Any:
        name = str(spec.arg or "")
        if name not in ("code", "text", "body"):
            raise ValueError(f"$jsonrpl({name}): expected code, text or body")
        module = self

        class Reply:
            def get(self, ctx: MessageContext) -> str | int | None:
                return module._exec_reply.get(name)
        return Reply()

    # ------------------------------------------------------------ RPC

    def rpc_echo(self, *params: Any) -> list[Any]:
        """Sample echo command"""
        return list(params)
