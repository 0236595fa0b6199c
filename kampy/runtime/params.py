"""The core parameters the network layer reads, with Kamailio's defaults and meanings."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kampy.runtime.values import as_bool, as_number

IPTOS_LOWDELAY, IPTOS_THROUGHPUT = 0x10, 0x08


def _positive(value: Any, default: float) -> float:
    """A number of seconds where Kamailio's -1 (and 0, no time at all) stands for its default."""
    number = as_number(value, 0)
    return number if number > 0 else default


def _megabytes(value: Any) -> int | None:
    number = as_number(value, 0)
    return int(number) * 1024 * 1024 if number > 0 else None


@dataclass(frozen=True)
class NetParams:
    """How many worker processes run and how TCP connections are kept.

    `children` processes serve UDP, `tcp_children` (default: `children`) serve TCP; with
    `fork=no` a single process serves everything (see kampy/net/README.md).
    """

    fork: bool = True
    children: int = 8
    tcp_children: int | None = None
    disable_tcp: bool = False
    tcp_connection_lifetime: float = 120.0   # seconds an idle connection is kept
    tcp_msg_read_timeout: float = 20.0       # seconds to finish a message once it has started
    tcp_connect_timeout: float = 10.0        # seconds to open a connection before giving up
    tcp_max_connections: int = 2048
    enable_tls: bool = False                 # enable_tls / tls_enable / not disable_tls
    tls_max_connections: int = 2048
    tcp_listen_backlog: int = 1024
    tcp_conn_wq_max: int = 32 * 1024         # bytes queued for a peer that does not read
    maxbuffer: int = 256 * 1024             # UDP receive buffer asked of the OS (Kamailio's default)
    tos: int = IPTOS_LOWDELAY                # IP_TOS / IPv6 traffic class of every socket
    tcp_keepalive: bool = True               # SO_KEEPALIVE on TCP sockets, with the three below if > 0
    tcp_keepidle: int = 0
    tcp_keepintvl: int = 0
    tcp_keepcnt: int = 0
    tcp_accept_no_cl: bool = False           # a message without Content-Length has no body
    tcp_no_connect: bool = False             # only use connections peers opened, never open one
    tcp_crlf_ping: bool = True               # answer a CRLF CRLF keepalive with a CRLF
    tcp_linger2: int = 0                     # TCP_LINGER2 (s) if > 0
    tcp_defer_accept: int = 0                # TCP_DEFER_ACCEPT (s) on the listening sockets if > 0
    pmtu_discovery: bool = False             # UDP: the DF bit (IP_PMTUDISC_DO), else IP_PMTUDISC_DONT
    ip_free_bind: bool = False               # IP_FREEBIND on the listening sockets
    disable_core_dump: bool = False          # no core files; else a core file limit large enough
    open_files_limit: int = -1               # raise the open files limit to this at start (-1: leave it)
    exit_timeout: float = 5.0                # seconds workers get to stop before SIGKILL
    poll_method: str | None = None           # -W / tcp_poll_method: poll, epoll_lt, select
    shm_size: int | None = None              # -m / shm_mem_size, in bytes: a shared table's heap
    debug: int = 0                           # the core `debug` (SIGUSR1 logs when memlog <= debug)
    memlog: int = 4                          # L_DBG + 1, Kamailio's default
    mem_summary: int = 12

    @classmethod
    def from_core_params(cls, params: Mapping[str, Any]) -> NetParams:
        d = cls()
        children = max(1, int(as_number(params.get("children"), d.children)))
        tcp_children = params.get("tcp_children")
        return cls(
            fork=as_bool(params.get("fork"), d.fork),
            children=children,
            tcp_children=max(1, int(as_number(tcp_children, children))) if tcp_children is not None else None,
            disable_tcp=as_bool(params.get("disable_tcp"), d.disable_tcp),
            tcp_connection_lifetime=as_number(params.get("tcp_connection_lifetime"),
                                              d.tcp_connection_lifetime),
            tcp_msg_read_timeout=as_number(params.get("tcp_msg_read_timeout"), d.tcp_msg_read_timeout),
            tcp_connect_timeout=_positive(params.get("tcp_connect_timeout"), d.tcp_connect_timeout),
            tcp_max_connections=int(as_number(params.get("tcp_max_connections"), d.tcp_max_connections)),
            enable_tls=tls_enabled(params),
            tls_max_connections=int(as_number(params.get("tls_max_connections"), d.tls_max_connections)),
            tcp_listen_backlog=int(as_number(params.get("tcp_listen_backlog"), d.tcp_listen_backlog)),
            tcp_conn_wq_max=int(as_number(params.get("tcp_conn_wq_max"), d.tcp_conn_wq_max)),
            maxbuffer=int(as_number(params.get("maxbuffer"), d.maxbuffer)),
            tos=tos_value(params.get("tos")),
            tcp_keepalive=as_bool(params.get("tcp_keepalive"), d.tcp_keepalive),
            tcp_keepidle=int(as_number(params.get("tcp_keepidle"), 0)),
            tcp_keepintvl=int(as_number(params.get("tcp_keepintvl"), 0)),
            tcp_keepcnt=int(as_number(params.get("tcp_keepcnt"), 0)),
            tcp_accept_no_cl=as_bool(params.get("tcp_accept_no_cl"), d.tcp_accept_no_cl),
            tcp_no_connect=as_bool(params.get("tcp_no_connect"), d.tcp_no_connect),
            tcp_crlf_ping=as_bool(params.get("tcp_crlf_ping"), d.tcp_crlf_ping),
            tcp_linger2=int(as_number(params.get("tcp_linger2"), 0)),
            tcp_defer_accept=int(as_number(params.get("tcp_defer_accept"), 0)),
            pmtu_discovery=as_bool(params.get("pmtu_discovery"), d.pmtu_discovery),
            # one parameter with three names in Kamailio's lexer
            ip_free_bind=as_bool(params.get("ip_free_bind", params.get("ipfreebind",
                                                                       params.get("ip_nonlocal_bind"))),
                                 d.ip_free_bind),
            disable_core_dump=as_bool(params.get("disable_core_dump"), d.disable_core_dump),
            open_files_limit=int(as_number(params.get("open_files_limit"), d.open_files_limit)),
            exit_timeout=as_number(params.get("exit_timeout", params.get("ser_kill_timeout")),
                                   d.exit_timeout),
            poll_method=str(params["tcp_poll_method"]) if params.get("tcp_poll_method") else None,
            shm_size=_megabytes(params.get("shm_mem_size", params.get("shm_mem", params.get("shm")))),
            debug=int(as_number(params.get("debug"), d.debug)),
            memlog=int(as_number(params.get("memlog", params.get("mem_log")), d.memlog)),
            mem_summary=int(as_number(params.get("mem_summary"), d.mem_summary)),
        )

    @property
    def tls_on(self) -> bool:
        """TLS served: enabled and TCP not disabled (no TCP, no TLS, as Kamailio)."""
        return self.enable_tls and not self.disable_tcp

    def with_overrides(self, **changes: Any) -> NetParams:
        """Command-line flags (-D, -n, -N, -T) win over the config."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def udp_workers(self) -> int:
        return self.children if self.fork else 1

    @property
    def tcp_workers(self) -> int:
        if self.disable_tcp:
            return 0
        if not self.fork:
            return 1
        return self.tcp_children if self.tcp_children is not None else self.children

    @property
    def processes(self) -> int:
        """Processes to start: rank r serves UDP if r <= udp_workers, TCP if r <= tcp_workers."""
        return max(self.udp_workers, self.tcp_workers, 1)


def tos_value(value: Any) -> int:
    """The core's `tos`: a number, or a name. Kamailio 5.6's grammar tests the names with
    `if (strcasecmp(...))`, true when they differ, so `IPTOS_LOWDELAY` gives IPTOS_THROUGHPUT and
    every other name IPTOS_LOWDELAY; kampy does the same, the value on the wire being Kamailio's."""
    if value is None:
        return IPTOS_LOWDELAY
    if isinstance(value, int):
        return value
    if str(value).isdigit():
        return int(value)
    return IPTOS_THROUGHPUT if str(value).upper() == "IPTOS_LOWDELAY" else IPTOS_LOWDELAY


def tls_enabled(params: Mapping[str, Any]) -> bool:
    """Kamailio's `tls_disable` (1 by default): `enable_tls`/`tls_enable` yes or `disable_tls`/
    `tls_disable` no turn TLS on; the last one set wins, which the config's order keeps."""
    enabled = False
    for name, value in params.items():
        if name in ("enable_tls", "tls_enable"):
            enabled = as_bool(value, False)
        elif name in ("disable_tls", "tls_disable"):
            enabled = not as_bool(value, True)
    return enabled
