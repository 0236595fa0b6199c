"""The tls module: TLS domains for the network layer, the $tls_* pseudo-variables and @tls selects,
is_peer_verified(), tls_set_connect_server_id(), event_route[tls:connection-out] and the tls.* RPCs."""
from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, RpcFault, Socket, module_logger

from .certinfo import CertInfo, first_pem, from_der, from_pem
from .contexts import ContextError, make_context
from .engine import TlsEngineImpl
from .profiles import Profile, ProfileError, absolute, load, with_paths
from .pvs import PVS, TLS_KEYS, Getter, select_getter

log = module_logger("tls")

_MAX_LIFETIME = (1 << 31) // 16  # MAX_TLS_CON_LIFETIME: the largest tick count, in seconds
_CONNS = "tls.conns"     # shared: connection id -> what tls.list shows
_STATE = "tls.state"     # shared: b"generation" -> bumped by tls.reload
# tls.options of the parameters kampy does not use (EXPORTS.not_implemented): Kamailio's defaults
# (ssl_release_buffers/ssl_freelist_max: -1, "left to OpenSSL", with OpenSSL 3)
IGNORED_DEFAULTS: dict[str, Any] = {
    "tls_force_run": 0, "verify_depth": 9, "session_cache": 0, "session_id": "kamailio-tls-5.x.y",
    "tls_log": 3, "tls_debug": 3, "ssl_release_buffers": -1, "ssl_freelist_max_len": -1,
    "ssl_max_send_fragment": -1, "ssl_read_ahead": 0, "send_close_notify": 0,
    "low_mem_threshold1": -1, "low_mem_threshold2": -1, "ct_wq_max": 10485760, "con_ct_wq_max": 65536,
    "ct_wq_blk_size": 4096,
}


@dataclass
class Connection:
    """A TLS connection of this process, as the PVs read it."""

    session: ssl.SSLObject
    incoming: bool
    profile: Profile | None
    _peer: CertInfo | None = field(default=None, init=False)
    _mine: CertInfo | None = field(default=None, init=False)

    def peer_cert(self) -> CertInfo | None:
        if self._peer is None:
            der = self.session.getpeercert(binary_form=True)
            self._peer = from_der(der) if der else None
        return self._peer

    def my_cert(self) -> CertInfo | None:
        if self._mine is None and self.profile is not None and self.profile.certificate:
            pem = first_pem(self.profile.certificate)
            self._mine = from_pem(pem) if pem else None
        return self._mine

    def verified(self) -> bool:
        """A peer certificate checked during the handshake (it would have failed otherwise)."""
        return self.session.context.verify_mode != ssl.CERT_NONE and self.peer_cert() is not None


class Tls(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        self.params = params
        self.core = core
        self.cfg_dir = os.path.dirname(os.path.abspath(core.cfg_file)) if core.cfg_file else os.getcwd()
        self.config_file = self._config_path(params["config"])
        self._state = core.shared.table(_STATE, 64)
        self._table = core.shared.table(_CONNS, 1 << 14, max_capacity=1 << 20)
        try:
            self.engine = TlsEngineImpl(self.profiles, self._make, self._generation)
        except (ProfileError, ContextError) as exc:
            raise ValueError(f"tls: {exc}") from None
        self.conns: dict[int, Connection] = {}
        self.server_id: str | None = None   # tls_set_connect_server_id()
        self._pv_conn: Connection | None = None  # the connection of event_route[tls:connection-out]
        core.serve_tls(self)

    # ------------------------------------------------------------ profiles
    def _config_path(self, value: str | None) -> str | None:
        return absolute(value, self.cfg_dir)

    def profiles(self) -> list[Profile]:
        """tls.cfg's profiles, or the server and client defaults the module parameters make."""
        self.config_file = self._config_now()
        if self.config_file:
            return load(self.config_file, self.cfg_dir)
        p = {**IGNORED_DEFAULTS, **self.params}
        base = Profile(
            method=p["tls_method"], verify_certificate=bool(p["verify_certificate"]),
            verify_depth=p["verify_depth"], require_certificate=bool(p["require_certificate"]),
            verify_client=p["verify_client"], private_key=p["private_key"], certificate=p["certificate"],
            ca_list=p["ca_list"] or None, ca_path=p["ca_path"] or None, crl=p["crl"] or None,
            cipher_list=p["cipher_list"] or None, server_name=p["server_name"] or None)
        return [with_paths(base, self.cfg_dir), with_paths(replace(base, role="client"), self.cfg_dir)]

    def _make(self, profile: Profile) -> ssl.SSLContext:
        return make_context(profile, disable_compression=bool(self.params["tls_disable_compression"]),
                            renegotiation=bool(self.params["renegotiation"]))

    def _generation(self) -> int:
        got = self._state.get(b"generation")
        return int(got[0]) if got else 0

    # ------------------------------------------------------------ the network layer's engine
    def server_context(self, local: Socket) -> ssl.SSLContext | None:
        return self.engine.listener_context(local.host.strip("[]"), local.port)

    def client_context(self, local: Socket | None, host: str, port: int) -> tuple[ssl.SSLContext, str | None]:
        domain = self.engine.client(host, port, None, self.server_id)
        if domain is None:
            raise ValueError(f"no TLS client domain for {host}:{port}")
        return domain.context, domain.profile.server_name

    def handshake_timeout(self) -> float:
        return float(self.core.core_params.get("tls_handshake_timeout") or 30)

    def connection_lifetime(self) -> float:
        """The cfg framework's tls.connection_timeout (-1: the longest Kamailio allows)."""
        seconds = int(self.core.cfg.get("tls", "connection_timeout"))
        return float(seconds if seconds >= 0 else _MAX_LIFETIME)

    def fix_config(self, value: str) -> str:
        """fix_rel_pathname(): a relative tls config path from the main config's directory."""
        return self._config_path(str(value)) or ""

    def opened(self, conn_id: int, session: ssl.SSLObject, incoming: bool, local: tuple[str, int],
               peer: tuple[str, int]) -> bool:
        profile = self._profile_of(session)
        conn = self.conns[conn_id] = Connection(session, incoming, profile)
        cipher = session.cipher()
        self._table.put(str(conn_id).encode(), json.dumps({
            "cipher": _description(session).rstrip("\n") if cipher else "unknown", "opened": time.time(),
        }).encode())
        if incoming:
            return True
        return self._connection_out(conn)

    def closed(self, conn_id: int) -> None:
        self.conns.pop(conn_id, None)
        self._table.delete(str(conn_id).encode())

    def _profile_of(self, session: ssl.SSLObject) -> Profile | None:
        """The domain whose context the session uses (after an SNI switch, the new one)."""
        return next((d.profile for d in self.engine.current().domains if d.context is session.context), None)

    def _connection_out(self, conn: Connection) -> bool:
        """event_route[tls:connection-out], with the connection's $tls_* values; drop: close it."""
        self._pv_conn = conn
        try:
            result = self.core.run_event_route("tls:connection-out")
        finally:
            self._pv_conn = None
        return result is not False

    # ------------------------------------------------------------ the connection of a message
    def connection(self, ctx: MessageContext) -> Connection | None:
        if self._pv_conn is not None:
            return self._pv_conn
        if ctx.src.proto != "tls":
            log.error("Transport protocol is not TLS (bug in config)")
            return None
        conn = self.conns.get(ctx.src.conn_id) if ctx.src.conn_id is not None else None
        if conn is None and ctx.src.conn_id is not None:
            session = self.core.tls_connection(ctx.src.conn_id)
            if session is not None:
                conn = self.conns[ctx.src.conn_id] = Connection(session, True, self._profile_of(session))
        if conn is None:
            log.info("TLS connection not found")
        return conn

    # ------------------------------------------------------------ functions
    def is_peer_verified(self, ctx: MessageContext) -> int:
        if ctx.src.proto != "tls":
            log.error("proto != TLS --> peer can't be verified, return -1")
            return -1
        conn = self.connection(ctx)
        if conn is None:
            log.error("connection no longer exists")
            return -1
        if conn.peer_cert() is None:
            log.info("tlsops:is_peer_verified: WARNING: peer did not present a certificate. "
                     "Thus it could not be verified... return -1")
            return -1
        if not conn.verified():
            log.warning("verification of presented certificate failed... return -1")
            return -1
        log.debug("tlsops:is_peer_verified: peer is successfully verified...done")
        return 1

    def tls_set_connect_server_id(self, ctx: MessageContext, srvid: str) -> int:
        self.server_id = srvid or None
        return 1

    # ------------------------------------------------------------ pseudo-variables and selects
    def pv_tls_attr(self, spec: Any) -> _Accessor:
        return _Accessor(self, PVS[spec.cls])

    def pv_tls(self, spec: Any) -> _Accessor:
        key = str(spec.arg or "").strip()
        if key not in TLS_KEYS:
            raise ValueError(f"unknown PV tls name {key}")
        return _Accessor(self, TLS_KEYS[key])

    def select_tls(self, path: tuple[str | int, ...]) -> Callable[[MessageContext], str | None]:
        getter = select_getter(path)

        def get(ctx: MessageContext) -> str | None:
            conn = self.connection(ctx)
            value = getter(conn) if conn is not None else None
            return None if value is None else str(value)
        return get

    # ------------------------------------------------------------ RPC
    def _config_now(self) -> str | None:
        """The tls config file: the one the last tls.reload read (every worker), else the one the
        cfg framework holds (`cfg.set_now_string tls config`), else the module parameter."""
        reloaded = self._state.get(b"config")
        if reloaded is not None:
            return reloaded[0].decode() or None
        try:
            return str(self.core.cfg.get("tls", "config") or "") or None
        except (KeyError, LookupError):  # the group is not set up yet (module init)
            return self.config_file

    def rpc_reload(self) -> str:
        try:
            self.config_file = str(self.core.cfg.get("tls", "config") or "") or None
        except (KeyError, LookupError):
            self.config_file = self._config_now()
        if not self.config_file:
            raise RpcFault(500, "No TLS configuration file configured")
        try:
            for profile in load(self.config_file, self.cfg_dir):
                self._make(profile)
        except ProfileError as exc:
            log.error("%s", exc)
            raise RpcFault(500, "Error while loading TLS configuration file (consult server log)") from None
        except ContextError as exc:
            log.error("%s", exc)
            raise RpcFault(500, "Error while fixing TLS configuration (consult server log)") from None
        with self._state.transaction():
            self._state.put(b"config", self.config_file.encode())
            self._state.put(b"generation", str(self._generation() + 1).encode())
        return "Ok. TLS configuration reloaded."

    def _tls_connections(self) -> list[dict[str, Any]]:
        try:
            listed = self.core.rpc.call("core.tcp_list")
        except Exception:  # TCP disabled: no TLS either
            return []
        return [c for c in (listed if isinstance(listed, list) else [listed]) if c.get("type") == "TLS"]

    def rpc_list(self) -> list[dict[str, Any]]:
        out = []
        for c in self._tls_connections():
            got = self._table.get(str(c["id"]).encode())
            info = json.loads(got[0]) if got else None
            out.append({"id": c["id"], "timeout": c["timeout"], "src_ip": c["src_ip"],
                        "src_port": c["src_port"], "dst_ip": c["dst_ip"], "dst_port": c["dst_port"],
                        "cipher": info["cipher"] if info else "unknown", "ct_wq_size": 0, "enc_rd_buf": 0,
                        "flags": 2 if info else 0,  # F_TLS_CON_HANDSHAKED
                        "state": "established" if info else "pre-init"})
        return out

    def rpc_info(self) -> dict[str, Any]:
        limit = self.core.core_params.get("tls_max_connections")
        return {"max_connections": int(limit) if limit is not None else 2048,
                "opened_connections": len(self._tls_connections()),
                "clear_text_write_queued_bytes": 0}

    def rpc_options(self) -> dict[str, Any]:
        """The module parameters as Kamailio's tls cfg group holds them (unset files: null); those
        kampy does not use (see the README) with the values Kamailio 5.6 on OpenSSL 3 shows."""
        p = {**IGNORED_DEFAULTS, **self.params}
        return {
            "force_run": p["tls_force_run"], "method": p["tls_method"],
            "verify_certificate": p["verify_certificate"], "verify_depth": p["verify_depth"],
            "require_certificate": p["require_certificate"], "verify_client": p["verify_client"],
            "private_key": absolute(p["private_key"] or None, self.cfg_dir),
            "ca_list": absolute(p["ca_list"] or None, self.cfg_dir),
            "certificate": absolute(p["certificate"] or None, self.cfg_dir),
            "cipher_list": p["cipher_list"] or None,
            "session_cache": p["session_cache"], "session_id": p["session_id"],
            "config": self.config_file, "log": p["tls_log"], "debug": p["tls_debug"],
            "connection_timeout": p["connection_timeout"],
            "disable_compression": p["tls_disable_compression"],
            "ssl_release_buffers": p["ssl_release_buffers"], "ssl_freelist_max": p["ssl_freelist_max_len"],
            "ssl_max_send_fragment": p["ssl_max_send_fragment"], "ssl_read_ahead": p["ssl_read_ahead"],
            "send_close_notify": p["send_close_notify"], "low_mem_threshold1": p["low_mem_threshold1"],
            "low_mem_threshold2": p["low_mem_threshold2"], "ct_wq_max": p["ct_wq_max"],
            "con_ct_wq_max": p["con_ct_wq_max"], "ct_wq_blk_size": p["ct_wq_blk_size"],
        }


class _Accessor:
    def __init__(self, module: Tls, getter: Getter) -> None:
        self._module = module
        self._getter = getter

    def get(self, ctx: MessageContext) -> str | int | None:
        conn = self._module.connection(ctx)
        return self._getter(conn) if conn is not None else None


def _description(session: ssl.SSLObject) -> str:
    """SSL_CIPHER_description() of the session's cipher (the context lists them), its line end
    kept as $tls_description keeps it."""
    cipher = session.cipher()
    name = cipher[0] if cipher else ""
    for entry in session.context.get_ciphers():
        if entry.get("name") == name:
            return str(entry.get("description", name))
    return name
