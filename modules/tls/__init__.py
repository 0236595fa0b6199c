"""tls: TLS transport for SIP (listen=tls:..., enable_tls) with Python's ssl: Kamailio's tls.cfg
domain profiles, the $tls_* pseudo-variables and @tls selects, is_peer_verified(),
tls_set_connect_server_id(), event_route[tls:connection-out] and the tls.* RPCs."""
from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Param,
    PVClass,
    RouteType,
    RpcMethod,
    Select,
    Unimplemented,
)

from .profiles import METHODS, VERIFY_CLIENT
from .pvs import PVS
from .tls import Tls


def _method(value: object) -> None:
    if str(value) not in METHODS:
        raise ValueError(f"Invalid tls_method parameter value: {value} ({', '.join(METHODS)})")


def _verify_client(value: object) -> None:
    if str(value).lower() not in VERIFY_CLIENT:
        raise ValueError(f"Invalid verify_client parameter value: {value} ({', '.join(VERIFY_CLIENT)})")


_OPENSSL_ONLY = "Python's ssl module does not reach this OpenSSL setting ({})"

NOT_IMPLEMENTED = (
    Unimplemented("param", "verify_depth", _OPENSSL_ONLY.format("SSL_CTX_set_verify_depth"), default=9,
                  types=(int,)),
    Unimplemented("param", "session_id", _OPENSSL_ONLY.format("SSL_CTX_set_session_id_context"),
                  default="kamailio-tls-5.x.y", types=(str,)),
    Unimplemented("param", "session_cache", _OPENSSL_ONLY.format("SSL_CTX_set_session_cache_mode"),
                  default=0, types=(int,)),
    Unimplemented("param", "ssl_release_buffers", _OPENSSL_ONLY.format("SSL_MODE_RELEASE_BUFFERS"),
                  default=1, types=(int,)),
    Unimplemented("param", "ssl_freelist_max_len", _OPENSSL_ONLY.format("SSL_CTX_set_freelist_max_len"),
                  default=0, types=(int,)),
    Unimplemented("param", "ssl_max_send_fragment", _OPENSSL_ONLY.format("SSL_CTX_set_max_send_fragment"),
                  default=-1, types=(int,)),
    Unimplemented("param", "ssl_read_ahead", _OPENSSL_ONLY.format("SSL_CTX_set_read_ahead"), default=0,
                  types=(int,)),
    Unimplemented("param", "engine", "OpenSSL ENGINEs (keys in an HSM) cannot be used through Python's ssl",
                  default="NONE", types=(str,)),
    Unimplemented("param", "engine_config", "OpenSSL ENGINEs cannot be used through Python's ssl",
                  types=(str,)),
    Unimplemented("param", "engine_algorithms", "OpenSSL ENGINEs cannot be used through Python's ssl",
                  types=(str,)),
    Unimplemented("param", "rand_engine", "Python's ssl uses OpenSSL's own random generator; "
                  "RAND_set_rand_method is not reachable", types=(str,)),
    Unimplemented("param", "tls_log", "OpenSSL's error queue is not reachable through Python's ssl: "
                  "kampy logs TLS failures with its network layer's levels", default=3, types=(int,)),
    Unimplemented("param", "tls_debug", "OpenSSL's error queue is not reachable through Python's ssl",
                  default=3, types=(int,)),
    Unimplemented("param", "send_close_notify", "asyncio's TLS transport always sends close_notify when "
                  "it closes a connection", default=0, types=(int,)),
    Unimplemented("param", "con_ct_wq_max", "the clear text written before a handshake completes is "
                  "queued by asyncio's TLS transport, without this limit", default=65536, types=(int,)),
    Unimplemented("param", "ct_wq_max", "the clear text written before a handshake completes is queued "
                  "by asyncio's TLS transport, without this limit", default=10485760, types=(int,)),
    Unimplemented("param", "ct_wq_blk_size", "asyncio's TLS transport has its own buffers", default=4096,
                  types=(int,)),
    Unimplemented("param", "low_mem_threshold1", "kampy's TLS state is not in Kamailio's shared memory "
                  "pool, there is no low-memory mode to enter", default=-1, types=(int,)),
    Unimplemented("param", "low_mem_threshold2", "kampy's TLS state is not in Kamailio's shared memory "
                  "pool, there is no low-memory mode to enter", default=-1, types=(int,)),
    Unimplemented("param", "tls_force_run", "there is no OpenSSL library version check to force past: "
                  "Python's ssl is built against the library it loads", default=0, types=(int,)),
    Unimplemented("param", "xavp_cfg", "kampy opens a connection after the route returned, when the "
                  "message's xavps are gone; use tls_set_connect_server_id()", types=(str,)),
    Unimplemented("param", "event_callback", "KEMI scripting engines are not part of kampy", types=(str,)),
)

_PV_DOC = "see Kamailio's tls module documentation; null when the message did not come over TLS"

EXPORTS = Exports(
    name="tls",
    doc="TLS for SIP over Python's ssl: the tls: listeners, outgoing TLS connections, Kamailio's "
        "tls.cfg profiles, $tls_* pseudo-variables, @tls selects and the tls.* RPCs.",
    params=(
        Param("tls_method", (str,), "TLSv1", validate=_method,
              doc="the TLS method of the domains the module parameters make"),
        Param("server_name", (str,), "", doc="SNI of the default domains"),
        Param("verify_certificate", (int,), 0, doc="verify the peer's certificate"),
        Param("require_certificate", (int,), 0, doc="require a certificate from the peer (server)"),
        Param("verify_client", (str,), "off", validate=_verify_client,
              doc="off, on, optional or optional_no_ca: a server's client verification"),
        Param("private_key", (str,), "cert.pem",
              doc="private key file (relative: to the config's directory)"),
        Param("certificate", (str,), "cert.pem", doc="certificate file"),
        Param("ca_list", (str,), "", doc="file of trusted CA certificates"),
        Param("ca_path", (str,), "", doc="directory of trusted CA certificates (hashed names)"),
        Param("crl", (str,), "", doc="certificate revocation list file (checked for the peer's certificate)"),
        Param("cipher_list", (str,), "", doc="OpenSSL cipher list"),
        Param("connection_timeout", (int,), 600, doc="seconds an idle TLS connection is kept"),
        Param("config", (str,), "", doc="the tls.cfg file (or directory of files) of domain profiles"),
        Param("tls_disable_compression", (int,), 1, doc="refuse TLS compression"),
        Param("renegotiation", (int,), 0, doc="allow TLS renegotiation (0: refuse it)"),
    ),
    functions=(
        Function("is_peer_verified", routes=RouteType.REQUEST, returns="1 when the peer presented a "
                 "certificate that was verified; -1 otherwise",
                 doc="Whether the request came over TLS from a peer with a verified certificate."),
        Function("tls_set_connect_server_id",
                 args=(Arg("srvid", ArgKind.STR, doc="server_id of a client profile; empty resets it"),),
                 returns="1", doc="The client profile (by server_id) of the next outgoing TLS connections."),
    ),
    pvars=(
        PVClass("tls", handler="pv_tls", arg="required",
                doc="m_subject_line, m_issuer_line, p_subject_line, p_issuer_line"),
        *(PVClass(name, handler="pv_tls_attr", doc=_PV_DOC) for name in sorted(PVS)),
    ),
    selects=(Select("tls", "select_tls",
                    doc="@tls, @tls.version, @tls.cipher.bits, @tls.peer.subject.cn, ..."),),
    rpc=(
        RpcMethod("tls.reload", "rpc_reload", doc="Reload TLS configuration file"),
        RpcMethod("tls.list", "rpc_list", doc="List currently open TLS connections", array=True),
        RpcMethod("tls.info", "rpc_info", doc="Returns internal tls related info."),
        RpcMethod("tls.options", "rpc_options", doc="Dumps all the tls config options."),
    ),
    event_routes=(EventRoute("tls:connection-out", doc="an outgoing TLS connection is set up (faked "
                             "message, $tls_* of the connection); drop closes it"),),
    not_implemented=NOT_IMPLEMENTED,
    factory=Tls,
)
