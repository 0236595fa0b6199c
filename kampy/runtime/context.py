"""The per-message context a route runs with, and what a route asks the outside world to do.

Nothing here touches a socket: replies and forwarded requests are appended to `ctx.outbox` as
`Outgoing` values, and the network layer (or the testing driver) sends them after the route ends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.module import RouteType
from kampy.sip.message import Request, Response

if TYPE_CHECKING:
    from kampy.apis import CoreAPI


# Kamailio's msg_flags bits (src/core/parser/msg_parser.h) a config can set through corex
FL_MTU_TCP_FB = 1 << 8  # udp_mtu_try_proto(): the protocol a too big UDP request goes over instead
FL_MTU_TLS_FB = 1 << 9
FL_MTU_SCTP_FB = 1 << 10
FL_MTU_FB_MASK = FL_MTU_TCP_FB | FL_MTU_TLS_FB | FL_MTU_SCTP_FB
FL_USE_UAC_FROM = 1 << 13
FL_USE_UAC_TO = 1 << 14
FL_UAC_AUTH = 1 << 19
FL_ADD_SRVID = 1 << 20
FL_ADD_XAVP_VIA_PARAMS = 1 << 21
FL_USE_XAVP_VIA_FIELDS = 1 << 22


@dataclass(frozen=True)
class Socket:
    """A local listening socket: `udp:127.0.0.1:5060` (`$Ri`, `$Rp`, `$pr`)."""

    proto: str  # "udp" | "tcp"
    host: str
    port: int
    advertise_host: str | None = None
    advertise_port: int | None = None
    # `listen=... name "x"` ($lsock, set_send_socket_name()); not part of what the socket is
    name: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.proto}:{host}:{self.port}"

    @property
    def af(self) -> str:
        return "INET6" if ":" in self.host else "INET"


@dataclass(frozen=True)
class Source:
    """Where a message came from (`$si`, `$sp`, `$proto`) and on which local socket (`$Ri`, `$Rp`).
    `conn_id` names the TCP connection, so a reply can go back on it."""

    proto: str
    ip: str
    port: int
    local: Socket
    conn_id: int | None = None


@dataclass(frozen=True)
class Outgoing:
    """Bytes to send: to `(host, port)` over `proto`, from `local` if set, on TCP connection
    `conn_id` when it is a reply on an existing connection. `send_flags` (TCP only, Kamailio's
    snd_flags): `SND_F_FORCE_CON_REUSE` sends only on an open connection (never connects),
    `SND_F_CON_CLOSE` closes the connection once the bytes are written (empty bytes: just close)."""

    proto: str
    host: str
    port: int
    data: bytes
    local: Socket | None = None
    conn_id: int | None = None
    send_flags: int = 0
    # DNS failover of a send (use_dns_failover): the next addresses of the destination to try, in
    # order, when sending to (host, port) fails; `on_error` is told when the send (and those) failed
    fallbacks: tuple[tuple[str, int], ...] = ()
    on_error: Callable[[], None] | None = field(default=None, compare=False)


# Kamailio's send flags (src/core/ip_addr.h), for Outgoing.send_flags and ctx.reply_send_flags
SND_F_FORCE_CON_REUSE = 1 << 0
SND_F_CON_CLOSE = 1 << 1


@dataclass(frozen=True)
class Handoff:
    """Give a received message to worker `rank`, which owns its transaction: the network layer
    passes `data` and `src` over to that worker, which handles it as if it had received it.
    With `call` set it is no SIP message but a module's work for that worker
    (`CoreAPI.call_worker`): worker `rank` runs the handler registered under `call` with `data`
    (`src` is then not used)."""

    rank: int
    data: bytes
    src: Source | None
    call: str | None = None


@dataclass
class Branch:
    """An extra destination of a request (`append_branch`, `lookup` with several contacts)."""

    uri: str
    dst_uri: str | None = None
    path: str | None = None
    q: int = -1  # thousandths; -1 = not set
    flags: int = 0
    socket: Socket | None = None
    instance: str | None = None
    ruid: str | None = None


@dataclass(frozen=True)
class Credentials:
    """Digest credentials an authentication function accepted: Kamailio marks their Authorization
    or Proxy-Authorization header "authorized" (mark_authorized_cred) and group, uri_db and acc read
    them back (get_authorized_cred). `header` is "Authorization" or "Proxy-Authorization"."""

    header: str
    username: str
    realm: str

    @property
    def user(self) -> str:
        """The username's part before an `@` (Kamailio's digest.username.user)."""
        return self.username.partition("@")[0]

    @property
    def domain(self) -> str:
        """The username's part after an `@`, or "" (digest.username.domain)."""
        return self.username.partition("@")[2]


class ScriptExit(Exception):
    """`exit` (or a 0 return code from a function): stop the script, keep what was done."""


class ScriptDrop(Exception):
    """`drop`: stop the script and, where it matters (replies, branches), discard the message."""


@dataclass(slots=True)  # slots: built for every message, its fields read by every action
class MessageContext:
    """What a route sees while it runs on one message.

    `msg` is the received message; Kamailio-style changes are recorded on it (`msg.add_header`,
    `msg.set_ruri`, ...) and applied when it is sent on. `new_ruri` is the R-URI as the script has
    set it (None: unchanged); `dst_uri` is `$du`.

    What several parts read and write about the message is a field here (Kamailio keeps these in
    `sip_msg_t` and its flags); `local` is scratch space for what one module keeps to itself.
    """

    msg: Request | Response
    src: Source
    core: CoreAPI
    route_type: RouteType = RouteType.REQUEST
    flags: int = 0
    bflags: int = 0  # branch flags of branch 0
    avps: dict[str, list[Any]] = field(default_factory=dict)  # name -> values, newest first
    # setavpflag()'s flags: AVP name -> {position counted from its oldest value: flags}
    avp_flags: dict[str, dict[int, int]] = field(default_factory=dict)
    xavps: dict[str, list[dict[str, list[Any]]]] = field(default_factory=dict)
    # $xavi: xavps whose names match without regard to case (kept here in lower case)
    xavis: dict[str, list[dict[str, list[Any]]]] = field(default_factory=dict)
    new_ruri: str | None = None
    dst_uri: str | None = None
    # Kamailio's ruri_mark_new(): the R-URI makes a new branch even unchanged (serial forking in
    # failure_route after ds_next_dst() set a new $du); tm clears it when it forks
    ruri_new: bool = False
    force_socket: Socket | None = None
    # The rest of branch 0, as lookup() sets it (Kamailio's msg->path_vec, ruri q, instance, ruid).
    path_vec: str | None = None
    ruri_q: int = -1  # thousandths; -1 = not set
    instance: str | None = None
    reg_id: int = 0
    ruid: str | None = None
    location_ua: str | None = None
    branches: list[Branch] = field(default_factory=list)
    # during a call of a function declared with `continuation`: the statements after it in its block
    continuation: Callable[[MessageContext], int] | None = None
    retcode: int = 1
    outbox: list[Outgoing] = field(default_factory=list)
    replied: int | None = None  # status of the stateless reply sent, if any
    dropped: bool = False
    failed: bool = False  # an internal error (an exception, a bug) stopped the route
    trace: list[tuple[str, str, int]] = field(default_factory=list)  # (route, function, return code)
    # a locally built reply to this request (sl, tm, registrar): header lines to add
    # (append_to_reply(), ...), the body (set_reply_body()); `noreply`: Kamailio's FL_MSG_NOREPLY
    # (sanity marks a message too broken to answer); `last_error`: Kamailio's ser_error (E_*)
    reply_lumps: list[str] = field(default_factory=list)
    reply_body: bytes = b""
    noreply: bool = False
    last_error: int = -1
    # how it is sent on: force_rport()/add_rport() (FL_FORCE_RPORT), add_local_rport(),
    # add_tcp_alias(), set_advertised_address()/set_advertised_port()
    force_rport: bool = False
    add_local_rport: bool = False
    tcp_alias: bool = False
    advertised_address: str | None = None
    advertised_port: int | None = None
    # the send flags of a local reply (SND_F_*: set_reply_no_connect(), set_reply_close(),
    # sl's send_reply_mode(); Kamailio's msg->rpl_send_flags)
    reply_send_flags: int = 0
    # received by another worker and handed over to this one, which owns its transaction
    handed_off: bool = False
    # Kamailio's faked message (event routes run from timers and module init): is_faked_msg()
    faked: bool = False
    # Kamailio's msg->msg_flags bits the script sets (corex's msg_iflag_*, via_add_srvid(), ...:
    # MSG_FLAGS), and its extended flags (setxflag(), 0..63)
    msg_flags: int = 0
    xflags: int = 0
    msg_id: int = 0  # the number of the message among those this process received ($mi, @msg.id)
    # an HTTP request run through event_route[xhttp:request], and the answer the route gave:
    # (code, reason, content type, body)
    http_request: Any = None
    http_reply: tuple[int, str, str, bytes] | None = None
    # Kamailio's onsend_info while the message is being sent (onsend_route, topoh's
    # event_route[topoh:msg-sending]): the bytes, where to and from which socket ($snd, $sndto...)
    onsend: Outgoing | None = None
    # the digest credentials authentication functions accepted (www_authorize(), pv_auth_check()...)
    authorized_credentials: list[Credentials] = field(default_factory=list)
    local: dict[str, Any] = field(default_factory=dict)  # per-message scratch space of one module
    # the message's number in this process ($mi, Kamailio's msg->id): 1 for the first received
    msg_id: int = 0

    @property
    def is_request(self) -> bool:
        return isinstance(self.msg, Request)

    @property
    def ruri(self) -> str:
        """The R-URI the script currently sees (`$ru`)."""
        if self.new_ruri is not None:
            return self.new_ruri
        assert isinstance(self.msg, Request)
        return self.msg.uri

    def send(self, out: Outgoing) -> None:
        self.outbox.append(out)

    def authorized(self) -> Credentials | None:
        """The accepted credentials as Kamailio's modules find them: those of an Authorization
        header first, else of a Proxy-Authorization header."""
        for header in ("Authorization", "Proxy-Authorization"):
            found = next((c for c in self.authorized_credentials if c.header == header), None)
            if found is not None:
                return found
        return None
