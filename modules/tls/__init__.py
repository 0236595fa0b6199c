"""tls: TLS transport for SIP (listen=tls:..., enable_tls) with Python's ssl: Kamailio's tls.cfg
domain profiles, the $tls_* pseudo-variables and @tls selects, is_peer_verified(),
tls_set_connect_server_id(), event_route[tls:connection-out] and the tls.* RPCs."""
from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    CfgGroup,
    CfgVar,
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

def _ro(name: str, type_: str, doc: str, param: str | None = "", default: object = None) -> CfgVar:
    return CfgVar(name, type_, doc, param=param, default=default, readonly=True)


def _inert(name: str, doc: str, default: int, low: int, high: int, readonly: bool = False) -> CfgVar:
    return CfgVar(name, "int", doc, param=None, default=default, min=low, max=high, inert=True,
                  readonly=readonly)


# Kamailio's tls cfg group (tls_cfg.c): `cfg.set_now_string tls config FILE` then `tls.reload`
# switches files; connection_timeout applies to the next sweep of idle connections
CFG = CfgGroup("tls", (
    _inert("force_run", "force loading the tls module even when initial sanity checks fail", 0, 0, 1, True),
    _ro("method", "str", "TLS method used (TLSv1.2, TLSv1.1, TLSv1, SSLv3, SSLv2, SSLv23)", "tls_method"),
    _ro("server_name", "str", "Server name (SNI)"),
    _ro("server_name_mode", "int", "Server name (SNI) mode", None, 0),
    _ro("server_id", "str", "Server id (match tls profile for outgoing connections)", None, None),
    _ro("verify_certificate", "int", "if enabled the certificates will be verified"),
    _inert("verify_depth", "sets how far up the certificate chain will the certificate verification go in "
           "the search for a trusted CA", 9, 0, 100, True),
    _ro("require_certificate", "int", "if enabled a certificate will be required from clients"),
    _ro("verify_client", "str", "set to off (default), on, optional, or optional_no_ca"),
    _ro("private_key", "str", "name of the file containing the private key (pem format), if not contained "
        "in the certificate file"),
    _ro("ca_list", "str", "name of the file containing the trusted CA list (pem format)"),
    _ro("ca_path", "str", "name of the directory containing the trusted CA files (pem format)"),
    _ro("crl", "str", "name of the file containing the CRL  (certificare revocation list in pem format)"),
    _ro("certificate", "str", "name of the file containing the certificate (pem format)"),
    _ro("cipher_list", "str", "list of the accepted ciphers (strings separated by colons)"),
    _inert("session_cache", "enables or disables the session cache", 0, 0, 1, True),
    CfgVar("session_id", "str", "string used for the session id", param=None, default="kamailio-tls-5.x.y",
           readonly=True, inert=True),
    CfgVar("config", "str", "tls config file name (used for the per domain options)", fixup="fix_config"),
    _inert("log", "tls info messages log level", 3, 0, 1000),
    _inert("debug", "tls debug messages log level", 3, 0, 1000),
    CfgVar("connection_timeout", "int", "initial connection lifetime (in s) (obsolete)", min=-1,
           max=1 << 30),
    _ro("disable_compression", "int", "if set disable the built-in OpenSSL compression",
        "tls_disable_compression"),
    _inert("ssl_release_buffers", "quickly release internal OpenSSL read or write buffers. Works only for "
           "OpenSSL >= 1.0.", -1, -1, 1, True),
    _inert("ssl_free_list_max", "maximum number of free/cached memory chunks that OpenSSL will keep per "
           "connection. Works only for OpenSSL >= 1.0.", -1, -1, 1 << 30, True),
    _inert("ssl_max_send_fragment", "sets the maximum number of bytes (clear text) send into one TLS record. "
           "Valid values are between 512 and 16384. Works only for OpenSSL >= 0.9.9", -1, -1, 65536, True),
    _inert("ssl_read_ahead", "Enables read ahead, reducing the number of BIO read calls done internally by "
           "the OpenSSL library. Note that in newer tls module versions it is better to have read ahead "
           "disabled, since everything it is buffered in memory anyway", 0, -1, 1, True),
    _inert("low_mem_threshold1", "sets the minimum amount of free memory for accepting new TLS connections "
           "(KB)", -1, -1, 1 << 30),
    _inert("low_mem_threshold2", "sets the minimum amount of free memory after which no more TLS operations "
           "will be attempted (even on existing connections)", -1, -1, 1 << 30),
    _inert("ct_wq_max", "maximum bytes queued globally for write when write has to wait due to TLS-level "
           "renegotiation (SSL_ERROR_WANT_READ) or initial TLS connection establishment (it is different "
           "from tcp.wq_max, which works at the TCP connection level)", 10485760, 0, 1 << 30),
    _inert("con_ct_wq_max", "maximum bytes queued for write per connection when write has to wait due to "
           "TLS-level renegotiation (SSL_ERROR_WANT_READ) or initial TLS connection establishment (it is "
           "different from tcp.conn_wq_max, which works at the TCP connection level)", 65536, 0, 4 << 20),
    _inert("ct_wq_blk_size", "internal TLS pre-write (clear-text) queue minimum block size (advanced "
           "tunning or debugging for now)", 4096, 1, 65536),
    _inert("send_close_notify", "enable/disable sending a close notify TLS shutdown alert before closing the "
           "corresponding TCP connection.Note that having it enabled has a performance impact.", 0, 0, 1),
))

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
    cfg=CFG,
    factory=Tls,
)
