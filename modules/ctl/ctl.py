"""ctl: Kamailio's control sockets: binrpc (what kamcmd speaks) and the old FIFO protocol, over unix
stream and datagram sockets, TCP, UDP and FIFOs.

The sockets are served by worker rank 1 (the network layer serves the `LocalService`s a module
adds with `core.add_service`), as Kamailio's "ctl handler" process serves them; every RPC method of the
server is reachable, against the shared statistics and store. Without a `binrpc` parameter ctl
listens on `unix:<runtime dir>/kamailio_ctl` (`/run/kamailio/kamailio_ctl` unless `-Y` or `rundir`
says otherwise). The unix sockets and FIFOs get `mode`, and the owner `user`/`group` (by default
the `-u`/`-g` of the command line, as Kamailio's sock_uid/sock_gid).
"""
from __future__ import annotations

import grp
import logging
import pwd
from typing import Any

from kampy.api import CoreAPI, LocalService, Module, Peer, RpcDelayed, RpcFault, binrpc

from . import fifo
from .listen import BINRPC, FIFO, FIFO_PROTO, TCP, UDP, UNIXS, ListenId, parse_listen_id
from .scan import UNREAD_STRING, ScanFault, declared_types, scan, text_value

log = logging.getLogger("kampy.ctl")

DEFAULT_SOCKET_NAME = "kamailio_ctl"
MAX_REQUEST = 65535  # Kamailio's STREAM_BUF_SIZE / DGRAM_BUF_SIZE


def user_id(value: Any) -> int:
    """A user name or uid (user2uid()); raises ValueError."""
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise ValueError(f"bad user name/uid number {text!r}") from None


def group_id(value: Any) -> int:
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        raise ValueError(f"bad group name/gid number {text!r}") from None


def validate_binrpc(value: str) -> None:
    parse_listen_id(value, UDP)


def validate_fifo(value: str) -> None:
    parse_listen_id(value, FIFO, FIFO_PROTO)


class Ctl(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        core_params = core.core_params
        self.runtime_dir = core.runtime_dir
        self.autoconvert = int(params["autoconversion"] or 0) != 0
        max_body = int(params["binrpc_max_body_size"] or 0)
        max_struct = int(params["binrpc_struct_max_body_size"] or 0)
        self.writer = binrpc.ReplyWriter((max_body if max_body > 0 else 4) * 1024,
                                         (max_struct if max_struct > 0 else 1) * 1024)
        self.printf_size = int(params["binrpc_buffer_size"] or 1024)
        self.mode = int(params["mode"])
        self.owner = self._owner(params, core_params)
        self.listen = self._listen_ids(params)
        self.peers: list[tuple[ListenId, dict[int, Peer]]] = []
        self._serving = False
        for lid in self.listen:
            self._add_service(lid)

    # ------------------------------------------------------------ sockets

    @staticmethod
    def _owner(params: dict[str, Any], core_params: dict[str, Any]) -> tuple[int, int]:
        """(uid, gid) for the unix sockets: the module's user/group, else the core's -u/-g."""
        user = params["user"] if params["user"] is not None else core_params.get("user")
        group = params["group"] if params["group"] is not None else core_params.get("group")
        uid = user_id(user) if user not in (None, "") else -1
        gid = -1
        if user not in (None, "") and not str(user).strip().isdigit() and params["user"] is None:
            gid = pwd.getpwnam(str(user).strip()).pw_gid  # -u name: its group too, as user2uid()
        if group not in (None, ""):
            gid = group_id(group)
        return uid, gid

    def _listen_ids(self, params: dict[str, Any]) -> list[ListenId]:
        """Every `binrpc` value in the config's order, then every `fifo` value (Kamailio keeps the
        two in one list, in the config's order); without a `binrpc` value, the default socket."""
        ids = [parse_listen_id(str(value), UDP) for value in params["binrpc"] or []]
        if not ids:
            ids.append(parse_listen_id(f"unixs:{self.runtime_dir.rstrip('/')}/{DEFAULT_SOCKET_NAME}", UDP))
        return ids + [parse_listen_id(str(value), FIFO, FIFO_PROTO) for value in params["fifo"] or []]

    def _add_service(self, lid: ListenId) -> None:
        peers: dict[int, Peer] = {}
        self.peers.append((lid, peers))
        if lid.payload == BINRPC:
            handle, frame = self.handle_binrpc, binrpc.frame
            reply_path = None
        else:
            handle, frame, reply_path = self.handle_fifo, fifo.frame, fifo.reply_path
        host = lid.name.strip("[]") if lid.transport in (TCP, UDP) else lid.name
        stream = lid.transport in (UNIXS, TCP)
        self.core.add_service(LocalService(
            lid.kind, host, handle, mode=self.mode, port=lid.bound_port,
            frame=frame if stream or lid.transport == FIFO else None, reply_path=reply_path,
            owner=self.owner, max_request=MAX_REQUEST, peers=peers if stream else None))

    # ------------------------------------------------------------ binrpc

    def handle_binrpc(self, data: bytes) -> bytes | RpcDelayed:
        """One binrpc request (a whole packet) -> its reply or fault packet."""
        try:
            header = binrpc.parse_header(data)
        except binrpc.BinRpcError as exc:
            return binrpc.fault_packet(0, 400, f"bad request: {exc}")
        cookie = header.cookie
        if header.kind != binrpc.REQUEST or len(data) < header.packet_len:
            return binrpc.fault_packet(cookie, 400, f"bad request: {binrpc.error_text(binrpc.E_BADPKT)}")
        body = data[header.size:header.packet_len]
        try:
            method, params = binrpc.read_request(body)
        except binrpc.BinRpcError as exc:
            return binrpc.fault_packet(cookie, 400, f"bad request method: {exc}")
        entry = self.core.rpc.get(method)
        if entry is None:
            return binrpc.fault_packet(cookie, 500, f"command {method} not found")
        try:
            result = self._call(entry.fn, _scanned(entry, params, self.autoconvert))
            if isinstance(result, RpcDelayed):  # answered later (tm.t_uac_wait_block)
                return result.then(lambda value, fault: self._reply_packet(cookie, method, value, fault))
            return binrpc.build_packet(binrpc.REPLY, cookie, self.writer.body(self._printf_limit(result)))
        except RpcFault as fault:
            return binrpc.fault_packet(cookie, fault.code, fault.message)
        except binrpc.Overflow as exc:
            overflow = binrpc.E_OVERFLOW
            return binrpc.fault_packet(cookie, 500, f"Internal server error processing '{exc.kind}': "
                                                    f"{binrpc.error_text(overflow)} ({overflow})")
        except Exception:
            log.exception("RPC %s failed", method)
            return binrpc.fault_packet(cookie, 500, "internal server error")

    def _reply_packet(self, cookie: int, method: str, result: Any, fault: RpcFault | None) -> bytes:
        if fault is not None:
            return binrpc.fault_packet(cookie, fault.code, fault.message)
        try:
            return binrpc.build_packet(binrpc.REPLY, cookie, self.writer.body(self._printf_limit(result)))
        except Exception:
            log.exception("RPC %s failed", method)
            return binrpc.fault_packet(cookie, 500, "internal server error")

    def _call(self, fn: Any, args: list[Any]) -> Any:
        self._serving = True
        try:
            return fn(*args)
        finally:
            self._serving = False

    def _printf_limit(self, result: Any) -> Any:
        """rpl_printf()'s buffer (binrpc_buffer_size): a printed line that does not fit is left out."""
        if not isinstance(result, list):
            return result
        kept = []
        for value in result:
            if isinstance(value, str) and len(value.encode()) > self.printf_size:
                log.error("binrpc: reply line of %d bytes exceeds binrpc_buffer_size (%d); left out",
                          len(value.encode()), self.printf_size)
                continue
            kept.append(value)
        return kept

    # ------------------------------------------------------------ fifo protocol

    def handle_fifo(self, data: bytes) -> bytes | None:
        return fifo.answer(data, self._call_text)

    def _call_text(self, method: str, lines: list[str]) -> Any:
        entry = self.core.rpc.get(method)
        if entry is None:
            raise LookupError(method)
        kinds = declared_types(entry.fn)
        params = [text_value(line, kinds[i] if i < len(kinds) else None) for i, line in enumerate(lines)]
        try:
            result = self._call(entry.fn, _scanned(entry, params, True))
        except RpcFault:
            raise
        except Exception:
            log.exception("RPC %s failed", method)
            raise RpcFault(500, "Internal Server Error") from None
        if isinstance(result, RpcDelayed):  # the FIFO protocol answers at once
            if result.fault is not None:
                raise result.fault
            if not result.done:
                raise RpcFault(500, "No response")
            return result.value
        return result

    # ------------------------------------------------------------ RPC

    def ctl_listen(self) -> list[str]:
        """list ctl listen sockets"""
        out: list[str] = []
        for lid, _ in self.peers:
            out += [lid.payload, lid.transport, lid.name, str(lid.bound_port) if lid.bound_port else ""]
        return out

    def ctl_connections(self) -> int:
        """returns number of open connections"""
        self._only_over_ctl()
        return sum(len(peers) for _, peers in self.peers)

    def ctl_who(self) -> list[str]:
        """list open connections"""
        self._only_over_ctl()
        out: list[str] = []
        for lid, peers in self.peers:
            for peer in peers.values():
                out += [lid.payload, lid.transport]
                if lid.transport == TCP:
                    out += [peer.host, str(peer.port), _local_host(lid), str(lid.bound_port)]
                else:
                    out += [peer.host, "", lid.name, ""]
        if not out:
            raise RpcFault(400, "no open stream connection")
        return out

    def _only_over_ctl(self) -> None:
        if not self._serving:
            raise RpcFault(606, "rpc available only over binrpc (ctl)")


def _scanned(entry: Any, params: list[Any], autoconvert: bool) -> list[Any]:
    """The arguments for a method; a failed scan is the method's own fault when it declares one,
    or, for a method that goes on past an optional string it cannot read, that string's
    placeholder (as Kamailio's rpc_scan leaves it)."""
    try:
        return scan(entry.fn, params, autoconvert, entry.autoconvert)
    except ScanFault as fault:
        kinds = declared_types(entry.fn)
        if fault.optional and entry.past_unread_optional and kinds[fault.index] is str:
            return [*fault.args, UNREAD_STRING]
        if entry.params_fault is not None:
            code, text = entry.params_fault
            raise RpcFault(code, text.replace("{scanned}", str(-fault.index))) from None
        raise


def _local_host(lid: ListenId) -> str:
    return "0.0.0.0" if lid.name in ("*", "") else lid.name.strip("[]")
