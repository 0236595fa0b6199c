"""The declared interfaces between a module and the rest of kampy, re-exported by `kampy.api`.

* `CoreAPI`: everything of the core a module may use. A module's `core` (the second argument of its
  factory, `self.core` in a `Module`) is exactly this: the process's core narrowed to these members,
  with `api()` answering only the APIs the module declared in `Exports.needs`.
* The APIs kampy's modules offer each other (`Exports.offers`), as Kamailio's modules offer theirs
  through `load_xxx_api` structs: `SlAPI` (sl), `TmAPI` (tm), `RrAPI` (rr), `ObAPI` (outbound), `UsrlocAPI`
  (usrloc), `XhttpAPI` (xhttp), `PvAPI` (pv), `AuthAPI` (auth), `DmqAPI` (dmq), `DialogAPI` (dialog).
  Another module declares `Need("tm")` and binds `core.api("tm")`, typed `TmAPI`.

A new API is a new Protocol here (or in a third-party module's own package), an `Offer(name,
Protocol)` in the offering module's `Exports` and a `Need(name)` in each user's: the loader checks
at load time that every required API is offered and that each offered object implements its
Protocol.
"""
from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import re
    import ssl

    from kampy.config.ast import PVar
    from kampy.module import PVAccessor
    from kampy.rpc import LocalService, RpcRegistry
    from kampy.runtime.actionhooks import ActionHook
    from kampy.runtime.context import Handoff, MessageContext, Outgoing, Socket
    from kampy.runtime.core import Clock
    from kampy.runtime.shared import SharedStore
    from kampy.runtime.sipdns import ResolveOptions, SipDest, SipTarget
    from kampy.sip.digest import DigestCredentials
    from kampy.sip.message import Request, Response
    from kampy.stats import Stats


class TlsEngine(Protocol):
    """What the network layer asks a TLS engine (the tls module, `CoreAPI.serve_tls`)."""

    def server_context(self, local: Socket) -> ssl.SSLContext | None:
        """The context that accepts connections on listener `local` (None: do not serve it)."""

    def client_context(self, local: Socket | None, host: str, port: int) -> tuple[ssl.SSLContext, str | None]:
        """The context and the server name (SNI, None: none) to connect to `host:port` with."""

    def handshake_timeout(self) -> float:
        """Seconds a TLS handshake may take."""

    def connection_lifetime(self) -> float:
        """Seconds an idle TLS connection is kept (instead of `tcp_connection_lifetime`)."""

    def opened(self, conn_id: int, session: ssl.SSLObject, incoming: bool, local: tuple[str, int],
               peer: tuple[str, int]) -> bool:
        """A TLS connection completed its handshake; False: close it (an outgoing connection
        that `event_route[tls:connection-out]` dropped)."""

    def closed(self, conn_id: int) -> None:
        """A TLS connection is gone."""


class CoreAPI(Protocol):
    """What a module may use of the core of its process (`self.core`)."""

    # ------------------------------------------------------------ the process
    @property
    def clock(self) -> Clock:
        """The one clock (`time()` wall clock, `monotonic()` timer base); tests replace it."""

    @property
    def stats(self) -> Stats:
        """The statistics: `stats.register(group, name)`, `inc(key)`, `get(key)`, `set(key, v)` ..."""

    @property
    def shared(self) -> SharedStore:
        """What every worker of the server sees: `shared.table(name)` (key -> bytes), `shared.claims`,
        `shared.lock_set(name, size)` (locks every process shares), SQL statements on the shared
        store, `transaction()`."""

    @property
    def rank(self) -> int:
        """This process's rank, 1..workers (Kamailio's child rank): periodic work shared by all
        workers runs in rank 1. The workers serving the sockets come first; the processes modules
        run of their own (`Exports.processes`) have the ranks after theirs."""

    @property
    def workers(self) -> int:
        """How many processes have a rank: the workers serving the sockets and the processes the
        modules run of their own."""

    @property
    def rpc(self) -> RpcRegistry:
        """The RPC registry (declared methods are registered from `Exports.rpc`): `rpc.call(name)`."""

    @property
    def core_params(self) -> dict[str, Any]:
        """The config's core parameters (`runtime_dir`, `debug`, ...), as the config gives them."""

    @property
    def cfg_file(self) -> str:
        """The path of the main config file as given (`-f`; Kamailio's cfg_file): modules read the
        files a config names without a directory from the folder it is in (permissions)."""

    @property
    def runtime_dir(self) -> str:
        """Where control sockets go by default (jsonrpcs' FIFO and socket, ctl's socket): `-Y`, else
        the config's `rundir`/`run_dir`, else Kamailio's /run/kamailio."""

    @property
    def server_id(self) -> int:
        """The core `server_id` (`--server-id`), 0 when not set ($sid, usrloc's Server-Id)."""

    @property
    def server_header(self) -> str:
        """The text of the `Server:` header of locally built replies (core `server_header`), "" with
        `server_signature=no`."""

    @property
    def sip_warning(self) -> bool:
        """The core `sip_warning`: local replies carry a Warning line (`warning_line`)."""

    @property
    def user_agent_header(self) -> str:
        """The text of the `User-Agent:` header of locally built requests (core `user_agent_header`),
        "" with `server_signature=no`."""

    def processes(self) -> list[tuple[int, int, int, str]]:
        """Every process of the server as Kamailio's process table lists it: (index, pid, rank,
        description), the main process first (core.psx, pkg.stats)."""

    def module_memory(self, name: str) -> tuple[list[tuple[str, int, int]], ...] | None:
        """What module `name` ("core" for the core) holds, for mod.stats: (name, bytes) of its own
        objects by attribute ("pkg") and of its shared tables' heaps ("shm"), each with how many
        objects (keys) it counts; None for a module
        that is not loaded (kampy.runtime.memory says how each is measured)."""

    def divert_logs(self, write: Callable[[str], None]) -> bool:
        """Kamailio's km_log_func_set(): from now on this process's log lines, each as
        `(pid) LEVEL: ...` with a newline, go to `write` instead of syslog. Not while logging to
        stderr (`-E`, `log_stderror=yes`): then nothing changes and it returns False."""

    def log_memory_status(self, parts: int) -> None:
        """Log this process's memory status at the level `memlog`, the parts given as the bits of
        `mem_summary`: 1 the status (pkg), 2 the shared store's status (shm), 4 the summary of
        what is in use (pkg), 8 that of the shared tables (shm); Kamailio's pkg_status(),
        shm_status(), pkg_sums() and shm_sums(), as SIGUSR1 logs them."""

    # ------------------------------------------------------------ sockets and addresses
    @property
    def sockets(self) -> Sequence[Socket]:
        """The local listening sockets, in the config's order."""

    @property
    def aliases(self) -> Sequence[tuple[str, int | None]]:
        """The host aliases (`alias=`, and those `auto_aliases` adds): (host, port or None)."""

    def is_myself(self, host: str, port: int | None = None, proto: str | None = None) -> bool:
        """Kamailio's `myself` check: a local socket address or an alias (port 0/None = any), else
        what a test added with `add_myself_check` says."""

    def socket_for(self, proto: str) -> Socket | None:
        """The first local socket of a protocol."""

    def tcp_connection_ok(self, conn_id: int) -> bool:
        """Whether the TCP/TLS/WebSocket connection `conn_id` (any worker's) is open and in state
        OK (Kamailio's tcpconn_get() and `state == S_CONN_OK`)."""

    def serve_tls(self, engine: TlsEngine) -> None:
        """Have the network layer serve the `tls:` listeners and open TLS connections with the
        contexts `engine` gives (Kamailio's tls module registering its tls hooks with the core)."""

    def tls_connection(self, conn_id: int) -> ssl.SSLObject | None:
        """The TLS session of connection `conn_id` when this process holds it (the worker that
        read the message at hand), else None."""

    def add_myself_check(self, check: Callable[[str, int | None, str | None], bool]) -> None:
        """Add a test to `is_myself` (Kamailio's register_check_self_func): `check(host, port,
        proto)` is asked when no socket or alias matches (corex's alias_subdomains, the domain
        module's `register_myself`)."""

    def add_dns_record(self, name: str, address: str) -> None:
        """A static address for a host name, used before DNS (corex's dns_cache records of type
        A/AAAA): such a name gets no SRV or NAPTR lookup."""

    # ------------------------------------------------------------ DNS (RFC 3263)
    def sip_targets(self, dest: SipDest) -> list[SipTarget] | None:
        """The ordered (proto, ip, port) targets of a SIP destination as RFC 3263 and Kamailio order
        them (NAPTR with dns_try_naptr, SRV, A/AAAA; see kampy/runtime/sipdns.py), when they are
        known now (an address, a static name, the DNS cache); None when a lookup is needed: then
        use `resolve_sip`, which never blocks."""

    def resolve_sip(self, dest: SipDest, done: Callable[[list[SipTarget]], None], ttl: int = 0) -> None:
        """`done(targets)` (empty: nothing resolves) now when the targets are known, else once the
        lookups ran on the event loop: then as a due call, whose sends go through `send`. `ttl` > 0:
        the record sets looked up for it stay that many seconds in the DNS cache instead of their
        TTL (Kamailio's dns_set_local_ttl)."""

    def resolve_sip_wait(self, dest: SipDest, ttl: int = 0) -> list[SipTarget]:
        """The targets (empty: nothing resolves), looked up now when they are not known and waited
        for, blocking the worker as Kamailio's resolvehost()/sip_resolvehost() do: for module init
        and reload. `ttl` as for `resolve_sip`."""

    def dns_options(self) -> ResolveOptions:
        """The resolver's settings from the core's dns_* parameters (cfg group `core`)."""

    def add_dns_srv_record(self, name: str, target: str, port: int, priority: int = 0,
                           weight: int = 0) -> None:
        """A static SRV record (`_sip._udp.example.com`), used before DNS (corex's dns_cache records
        of type SRV)."""

    def add_service(self, service: LocalService) -> None:
        """Have the network layer serve a local socket (a FIFO, a unix datagram socket) in worker
        rank 1, as jsonrpcs does."""

    def serve_http(self, event_route: str, accepts: Callable[[str], bool]) -> None:
        """Have HTTP requests arriving on the TCP listeners, whose URL `accepts`, run
        `event_route[<event_route>]` with the request as the message (`ctx.http_request` set); the
        route answers by setting `ctx.http_reply` (Kamailio's xhttp, through the core's non-SIP
        message hook)."""

    # ------------------------------------------------------------ sending and timers
    def send(self, out: Outgoing | Handoff) -> None:
        """Send outside of a message's route (timers, transaction callbacks, event routes)."""

    def send_reply(self, ctx: MessageContext, response: Response | bytes) -> None:
        """Send a response to the request of `ctx`, per RFC 3261 18.2.2 and RFC 3581."""

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        """Run `fn()` once at `when` (on `clock.monotonic()`); returns a handle for `cancel_timer`.
        Periodic jobs are declared instead (`Timer` in `Exports`)."""

    def cancel_timer(self, handle: int) -> None:
        """Cancel a `call_at` that has not run yet."""

    # ------------------------------------------------------------ work for another worker
    def on_worker_call(self, name: str, handler: Callable[[bytes], None]) -> None:
        """Have `handler(data)` run in this process when another process asks for `name` with
        `call_worker` (register it in `__init__`, so every worker has it; pick a name with the
        module's prefix, "tm.continue"). What it sends goes out through `send`."""

    def call_worker(self, rank: int, name: str, data: bytes) -> None:
        """Have worker `rank` run the handler it registered as `name` with `data`, over the
        workers' local channels, once the message (or timer) at hand is done: how a module reaches
        state only that worker holds (tm's t_continue() of a transaction another worker owns).
        Nothing comes back; the handler runs in this process when `rank` is its own."""

    # ------------------------------------------------------------ other modules
    def api(self, name: str) -> Any:
        """The API `name` another module offers (`Offer`), which this module declared in
        `Exports.needs`; None for an optional need no loaded module offers. LookupError for an API
        this module did not declare."""

    # ------------------------------------------------------------ pseudo-variables and routes
    def pv_accessor(self, spec: str | PVar) -> PVAccessor:
        """The accessor (`get(ctx)`, and `set(ctx, value)` when writable) of a pseudo-variable such as
        `"$ru"`, `"$avp(x)"`, `"$hdr(From)"`, transformations included. Build it once and keep it.
        Raises `PVSyntaxError` for bad syntax, `LookupError` when no module provides the class
        (yet: one loaded later is known once the routes are built)."""

    def formatter(self, text: str) -> Callable[[MessageContext], str]:
        """A format string with pseudo-variables (`"From $fu to $ru"`) as `fn(ctx) -> str`, built once;
        a format without pseudo-variables gives a function with a `constant` attribute. Raises
        `LookupError` for a bad or unknown pseudo-variable."""

    def building_route(self) -> str | None:
        """While the routes are built (a PV handler, an argument fix-up): Kamailio's name of the route
        block whose statements are being built (its name; `DEFAULT_ROUTE` for request_route and the
        other unnamed blocks), the name corex's `$cfg(route)` gives. None at other times."""

    def select(self, text: str) -> Callable[[MessageContext], str | None]:
        """A select, named as `$sel()` names it (`"cfg_get.my.x"`, `"via[1].host"`, an `@` first is
        allowed), as `fn(ctx) -> str | None` (None: no value), built once. LookupError for a select
        no one offers or a malformed one."""

    def has_route(self, kind: str, name: str | None) -> bool:
        """Whether the config has the route block: `has_route("event", "htable:mod-init")`,
        `has_route("failure", "MANAGE_FAILURE")`."""

    def run_route(self, kind: str, name: str | None, ctx: MessageContext) -> int:
        """Run a route block with `ctx`; returns its code (1 when the config has no such block).
        `exit` and `drop` propagate as `ScriptExit`/`ScriptDrop`, as for the route that called."""

    def run_event_route(self, name: str, ctx: MessageContext | None = None) -> bool | None:
        """Run `event_route[name]` (`"htable:mod-init"`, `"dispatcher:dst-down"`) with the message of
        `ctx`, or, without one, with Kamailio's faked message (`faked_context`; what the route sends
        goes out through `send`). `exit` and `drop` end it; a module function's failure is logged.
        Returns None when the config has no such route, False when it ended with `drop`, else True."""

    def trace_actions(self, before: ActionHook, after: ActionHook | None = None) -> None:
        """Have the engine call `before(ctx, action)` before each action of the config's routes runs
        and `after(ctx, action)` once it has run (Kamailio's SREV_CFG_RUN_ACTION event and its
        log_assign callback: the debugger module). Call it in `__init__`: the routes are built
        after the modules, and only with hooks asked for do they call any."""

    def config_pvars(self) -> list[PVar]:
        """Every pseudo-variable the config (and the modules) use, as parsed, in the order first
        met (Kamailio's pv cache, which debugger's dbg_pv_dump prints)."""

    def faked_context(self) -> MessageContext:
        """A context holding Kamailio's faked message (`OPTIONS sip:you@kamailio.org`, from
        127.0.0.1:5060 over UDP): for event routes and pseudo-variables outside a SIP message."""

    # ------------------------------------------------------------ the cfg framework
    @property
    def cfg(self) -> CfgAPI:
        """The cfg framework (Kamailio's src/core/cfg): `cfg.get("tm", "fr_inv_timer_next")` is the
        value the message at hand sees of a variable of a declared group (`Exports.cfg`); cfg_rpc
        changes values through it."""

    # ------------------------------------------------------------ core settings modules change
    @property
    def aor_case_sensitive(self) -> bool:
        """Whether the user part of an AoR is case-sensitive (set by registrar, read by usrloc)."""

    def set_aor_case_sensitive(self, value: bool) -> None:
        """Kamailio's set_aor_case_sensitive (registrar's `case_sensitive` parameter)."""


# ------------------------------------------------------------------ cfg


class CfgAPI(Protocol):
    """The cfg framework of a process (`core.cfg`): groups of variables (`core`, `tcp`, a module's,
    the config's `my.x = 5`) whose values change at run time for every worker, applied from the
    next message on. Errors are `CfgError` (a refused change: the text says why), `CfgNotFound`
    (no such group or variable) and `CfgUnreadable` (a variable whose fix-up converts what is set,
    so its value is not shown). A group instance is `gid` (None: the default values)."""

    def get(self, group: str, name: str) -> int | str | None:
        """The value the message at hand sees (of the instance cfg_select() chose, else the
        default). KeyError for an undeclared variable."""

    def select(self, group: str, gid: int) -> bool:
        """cfg_select(): read instance `gid` of `group` for the rest of the message (False when it
        does not exist)."""

    def reset(self, group: str) -> None:
        """cfg_reset(): back to the default values of `group`."""

    def list_order(self) -> list[Any]:
        """The groups (`.name`, `.vars` by name, each with `.doc`, `.input`, `.readable`,
        `.readonly`, `.type`) in the order Kamailio lists them."""

    def read(self, group: str, gid: int | None, var: str) -> int | str | None:
        """A variable's value in this process's copy (cfg.get)."""

    def start_value(self, group: str, var: str) -> int | str | None:
        """The value the config gave a variable (cfg.reset)."""

    def help(self, group: str, var: str) -> tuple[str | None, str]:
        """The description and input type ("int", "string", "str") of a variable."""

    def set_now(self, group: str, gid: int | None, var: str, value: int | str | None,
                delete: bool = False) -> None:
        """Change (or, with `delete`, unset in an instance) a value for every worker at once."""

    def add_instance(self, group: str, gid: int) -> None:
        """Add instance `gid` to a group (nothing when it exists)."""

    def delete_instance(self, group: str, gid: int) -> None:
        """Delete instance `gid` of a group."""

    def context(self, name: str) -> Any:
        """The control context `name` (Kamailio's cfg_ctx_t, shared by every worker): `set_delayed
        (group, gid, var, value, delete=False)`, `commit()`, `rollback()`, `diff()` (entries with
        `group`, `gid`, `var`, `old`, `new`)."""


# ------------------------------------------------------------------ sl


class SlAPI(Protocol):
    """What sl offers (`core.api("sl")`, Kamailio's `sl_api_t` from `sl_load_api`)."""

    def reply(self, ctx: MessageContext, code: int, reason: str,
              extra_headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
              to_tag: str | None = None) -> int:
        """Send a stateless reply to `ctx.msg`: 1 when sent, a negative code when it cannot be."""

    def send_reply(self, ctx: MessageContext, code: int, reason: str) -> int:
        """Reply within the request's transaction when tm has one, else statelessly (send_reply())."""

    def to_tag(self, msg: Request) -> str:
        """The To-tag sl puts in its stateless replies to `msg` (Kamailio's sl_get_reply_totag)."""

    def get_reply_totag(self, ctx: MessageContext) -> str:
        """The To-tag of the reply to the request of `ctx`, whoever sends it: tm's when the request
        has a transaction, else sl's (Kamailio's get_reply_totag); the request's own when it has one."""


# ------------------------------------------------------------------ tm

ReplyCallback = Callable[[int, "Response | None"], None]

# Kamailio's transaction callback types (tm/t_hooks.h), the `types` of TmAPI.register_tmcb; tm's
# README ("Transaction callbacks") says when kampy's tm runs each and what its TmcbParams hold.
TMCB_REQUEST_IN = 1 << 0
TMCB_RESPONSE_IN = 1 << 1
TMCB_E2EACK_IN = 1 << 2
TMCB_REQUEST_PENDING = 1 << 3
TMCB_REQUEST_FWDED = 1 << 4
TMCB_RESPONSE_FWDED = 1 << 5
TMCB_ON_FAILURE_RO = 1 << 6
TMCB_ON_FAILURE = 1 << 7
TMCB_REQUEST_OUT = 1 << 8
TMCB_RESPONSE_OUT = 1 << 9
TMCB_LOCAL_COMPLETED = 1 << 10
TMCB_LOCAL_RESPONSE_OUT = 1 << 11
TMCB_ACK_NEG_IN = 1 << 12
TMCB_REQ_RETR_IN = 1 << 13
TMCB_LOCAL_RESPONSE_IN = 1 << 14
TMCB_LOCAL_REQUEST_IN = 1 << 15
TMCB_DLG = 1 << 16
TMCB_DESTROY = 1 << 17
TMCB_E2ECANCEL_IN = 1 << 18
TMCB_E2EACK_RETR_IN = 1 << 19
TMCB_RESPONSE_READY = 1 << 20
TMCB_DONT_ACK = 1 << 21
TMCB_REQUEST_SENT = 1 << 22
TMCB_RESPONSE_SENT = 1 << 23
TMCB_ON_BRANCH_FAILURE_RO = 1 << 24
TMCB_ON_BRANCH_FAILURE = 1 << 25
TMCB_MAX = (1 << 26) - 1

# TmcbParams.flags (TMCB_RETR_F: tm retransmitted it; TMCB_LOCAL_F: tm built it, not relayed)
TMCB_NONE_F, TMCB_RETR_F, TMCB_LOCAL_F = 0, 1, 2
# TmcbParams.code of TMCB_REQUEST_SENT and TMCB_REQUEST_OUT: what kind of request went out
TYPE_REQUEST, TYPE_LOCAL_CANCEL, TYPE_LOCAL_ACK = 0, -1, -2


class TmBranch(Protocol):
    """A branch of a transaction as tm shows it (Kamailio's `struct ua_client`, `t->uac[i]`)."""

    @property
    def index(self) -> int:
        """The branch's number in its transaction, from 0."""

    @property
    def uri(self) -> str:
        """The Request-URI of the branch."""

    @property
    def request(self) -> Request:
        """The request as sent on the branch."""

    @property
    def status(self) -> int:
        """The status of the last reply of the branch (`last_received`), 0 before any."""

    @property
    def reply(self) -> Response | None:
        """The final reply the branch received; None before one, or when tm made it (a 408 on
        timeout, a 487 after CANCEL: Kamailio's FAKED_REPLY)."""

    @property
    def destination(self) -> tuple[str, str, int] | None:
        """(proto, host, port) the branch was sent to."""

    @property
    def socket(self) -> Socket | None:
        """The local socket the branch went out on."""


class TmTransaction(Protocol):
    """A transaction as tm shows it to other modules (Kamailio's `struct cell`, what t_gett()
    gives and callbacks receive), read-only; pass it back to tm's API as it is."""

    @property
    def hash_index(self) -> int:
        """Kamailio's hash of Call-ID and CSeq number (tindex)."""

    @property
    def label(self) -> int:
        """The transaction's number in its worker (tlabel)."""

    @property
    def method(self) -> str:
        """The method of the request (upper case)."""

    @property
    def request(self) -> Request:
        """The request (`t->uas.request`); for a local transaction the request tm sent."""

    @property
    def is_local(self) -> bool:
        """Whether tm started it itself (t_request, t_uac: no request was received)."""

    @property
    def status(self) -> int:
        """The status of the reply sent upstream (`t->uas.status`); for a local transaction the
        final status it completed with; 0 before any."""

    @property
    def flags(self) -> int:
        """The message flags the transaction keeps (set when t_relay ran, t_flush_flags)."""

    @property
    def branches(self) -> Sequence[TmBranch]:
        """The branches, in order."""

    @property
    def relayed_branch(self) -> int:
        """The branch whose final reply was sent upstream; -1 when none was (no final yet, or tm
        replied itself)."""

    @property
    def picked_branch(self) -> int:
        """The branch t_pick_branch chose when all branches failed (failure_route's), -1 before."""

    @property
    def final_reply(self) -> Response | None:
        """The received reply relayed upstream as final (`t->uac[relayed_branch].reply`); None
        when the final reply was tm's own."""

    @property
    def canceled(self) -> bool:
        """Whether a CANCEL came for it (t_is_canceled)."""


@dataclass(slots=True)
class TmcbParams:
    """What a transaction callback receives besides the transaction and the type (Kamailio's
    `struct tmcb_params`). `rpl` None is Kamailio's FAKED_REPLY: no reply was received (tm made
    it, or a timer hit). `code` is the reply's status for reply events, 0 for request events
    (Kamailio puts its method number there: read `req.method`) except the TYPE_* of
    TMCB_REQUEST_SENT/OUT."""

    req: Request | None = None
    rpl: Response | None = None
    code: int = 0
    branch: int = -1
    flags: int = TMCB_NONE_F
    send_buf: bytes = b""  # TMCB_*_SENT, TMCB_*_OUT, TMCB_RESPONSE_READY: what is or was sent
    dst: tuple[str, str, int] | None = None  # where it went: (proto, host, port)
    ctx: MessageContext | None = None  # kampy: the message's context where one is at hand (flags, AVPs)


TmCallback = Callable[["TmTransaction", int, TmcbParams], None]


@dataclass
class UacDialog:
    """A dialog tm sends a request in (Kamailio's `dlg_t`, tm/dlg.h): what t_uac and
    t_request_within build the request from. t_request_within moves `local_seq` on."""

    call_id: str
    local_tag: str
    local_uri: str  # From
    remote_uri: str  # To
    remote_tag: str = ""
    local_seq: int | None = None  # the CSeq of the last request sent; None: the first one gets 10
    remote_target: str = ""  # the peer's Contact, the Request-URI (remote_uri when empty)
    route_set: Sequence[str] = ()  # the Route values in order, as "<sip:p1.example.com;lr>"
    dst_uri: str | None = None  # where to send when there is no route set (the outbound proxy)
    send_socket: Socket | None = None  # the local socket to send from (else one of the protocol)


class TmUacAPI(Protocol):
    """The part of tm's API that sends new requests (Kamailio's `tmb.t_request`): what msilo uses,
    declared as `Need("tm", TmUacAPI)`."""

    def t_request(self, method: str, ruri: str, to_uri: str, from_uri: str, *,
                  headers: str = "", body: bytes = b"", next_hop: str | None = None,
                  callback: ReplyCallback | None = None, send_socket: Socket | None = None) -> int:
        """Start a client transaction; `callback(status, reply)` runs once with the final reply
        (status 408 and no reply on timeout); what tm sends goes out through the core, as from a
        timer, from `send_socket` when given (Kamailio's uac_req.ssock), else from the first
        socket of the transport. 1 when sent, negative on error."""


class TmAPI(TmUacAPI, Protocol):
    """What tm offers (`core.api("tm")`, Kamailio's `tm_binds` from `load_tm_api` and tmx's
    `tm_xbinds`): new requests (`TmUacAPI`) and requests within a dialog, transaction callbacks,
    the transaction of the message at hand, transactions by Call-ID, the counters."""

    # transaction callbacks (t_hooks.h)
    def register_tmcb(self, ctx: MessageContext | None, t: TmTransaction | None, types: int,
                      callback: TmCallback) -> int:
        """Have `callback(t, type, params)` run on the events `types` (TMCB_* bits) of the
        transaction `t`, else of the transaction of `ctx` (one created later for the message of
        `ctx` when it has none yet). TMCB_REQUEST_IN (every new transaction of a received request)
        and TMCB_LOCAL_REQUEST_IN (of a local request) are registered alone, with neither, in
        `__init__`. Callbacks of one transaction run newest first, as Kamailio's. 1 when
        registered; -5 (E_BUG, logged) for a bad mask, a type kampy's tm does not run, or nothing to
        register on."""

    def t_replicate(self, ctx: MessageContext, uri: str | None = None) -> int:
        """Replicate the request of `ctx` statefully to `uri` (its next hop when None), creating its
        transaction if it has none; the replies stay in tm (Kamailio's tmb.t_replicate). The
        R-URI goes to the first replica only: for another one, append a branch first (as dmq).
        1 when sent, negative on error."""

    # the transaction of the message at hand (t_gett, t_reply)
    def t_gett(self, ctx: MessageContext) -> TmTransaction | None:
        """The transaction of the message of `ctx` (its request's, or in onreply_route,
        failure_route and branch_route the one they run for); None when it has none."""

    def t_context(self, t: TmTransaction, branch: int = -1) -> MessageContext:
        """A context for the request of `t` with what the transaction keeps of the script (flags,
        AVPs, XAVPs, `$du`) and, for `branch` >= 0, that branch's URI as the R-URI (else the new
        R-URI the script set): what Kamailio's reply callbacks read through `t->uas.request` and
        the transaction's AVP lists (acc's extra columns). Its AVPs are the transaction's, its
        flags a copy."""

    def t_get_reply_totag(self, msg: Request) -> str:
        """The To-tag tm puts in its local replies to `msg` (Kamailio's t_get_reply_totag)."""

    def has_transaction(self, ctx: MessageContext) -> bool:
        """Whether the request of `ctx` has a transaction (t_newtran or t_relay ran)."""

    def is_known(self, ctx: MessageContext) -> bool:
        """Whether the request's transaction exists, here or in another worker (t_precheck_trans)."""

    def t_newtran(self, ctx: MessageContext) -> int:
        """Create the request's transaction (what t_suspend() does when there is none): 1 made, 0
        a retransmission absorbed or handed to its owner (stop), negative when it exists or fails."""

    def t_reply(self, ctx: MessageContext, code: int, reason: str) -> int:
        """Reply statefully in the request's transaction."""

    def flush_flags(self, ctx: MessageContext) -> None:
        """Store the message flags of `ctx` in its transaction (t_flush_flags)."""

    def branch_index(self, ctx: MessageContext) -> int:
        """The index of the branch being processed ($T_branch_idx)."""

    def reply_code(self, ctx: MessageContext) -> int:
        """The code of the winning reply ($T_reply_code)."""

    def reply_reason(self, ctx: MessageContext) -> str | None:
        """The reason phrase of the winning reply ($T_reply_reason)."""

    def reply_last(self, ctx: MessageContext) -> int:
        """The code of the last received reply ($T_reply_last)."""

    def transaction_request(self, ctx: MessageContext) -> Request | None:
        """The request of the transaction ($T_req)."""

    def winning_reply(self, ctx: MessageContext) -> Response | None:
        """The winning reply ($T_rpl)."""

    def invite_of(self, ctx: MessageContext) -> Request | None:
        """For a CANCEL, the INVITE it cancels ($T_inv)."""

    # tmx's functions on the transaction at hand (modules/tm/tmx_ops.py)
    def cancel_branches(self, ctx: MessageContext, mode: int) -> int:
        """Cancel pending branches of the INVITE transaction of the reply of `ctx` (onreply_route):
        mode 0 all (all but this one when the reply is final), 1 all but this one, 2 "this" as
        Kamailio 5.6.3 does it (all on a provisional reply, none but 1 on a final one). 1 when
        some were cancelled, -1 when none (or no INVITE transaction)."""

    def t_drop(self, ctx: MessageContext, rcode: int) -> int:
        """Give the transaction of `ctx` the status `rcode` without sending anything and release
        it (t_release_transaction); 0 (the script stops), -1 without a transaction."""

    def flush_xflags(self, ctx: MessageContext) -> int:
        """Store the extended flags (setxflag) of `ctx` in its transaction (failure_route sees
        them): 1, -1 without a transaction."""

    def branch_at_hand(self, ctx: MessageContext, picked: bool) -> tuple[int, str | None] | None:
        """(branch flags, ruid) of failure_route's picked branch (`picked`) or of the branch being
        processed (branch_route, onreply_route); None without one."""

    def reuse_branch(self, ctx: MessageContext) -> int:
        """tmx's t_reuse_branch(): in event_route[tm:branch-failure:...], make the failed branch
        (its R-URI, ruid, path, instance, branch flags) the message's "main" branch again: 1, -1
        elsewhere or without a transaction."""

    # suspending and continuing (t_suspend.c)
    def t_suspend(self, ctx: MessageContext) -> int:
        """Suspend the transaction of the request of `ctx` (it must exist: t_newtran): a blind
        branch keeps its fr timer running (a 408 when nobody continues it), an INVITE gets its 100
        Trying, the context is kept with the transaction; its id is then `t_gett(ctx).hash_index`
        and `.label`. 0 suspended, 1 a canceled transaction (nothing done), -3 one that sent a
        final reply, -1 on error (no transaction, a reply)."""

    def t_continue(self, index: int, label: int, route: str) -> int:
        """Continue the transaction t_suspend() suspended: run route[route] (which must exist)
        with its request, as a failure_route; a transaction left without a reply or a pending
        branch then gets a 500. 0 done, 1 nothing to continue (canceled, timed out) or handed to
        the worker that owns the transaction, -1 no such transaction, -2 not suspended."""

    # requests within a dialog (uac.c)
    def t_uac(self, method: str, dialog: UacDialog, *, headers: str = "", body: bytes = b"",
              cb_types: int = TMCB_LOCAL_COMPLETED, callback: TmCallback | None = None) -> int:
        """Send `method` in `dialog` as it stands (To, From with their tags, Call-ID, CSeq
        `dialog.local_seq`, 10 when None; the Request-URI, Route headers and next hop from the
        remote target and the route set, loose or strict routing as RFC 3261 12.2.1.1) in a new
        client transaction, `callback` registered for `cb_types` on it; an ACK goes out once,
        without a transaction. 1 when sent, negative on error."""

    def t_request_within(self, method: str, dialog: UacDialog, *, headers: str = "", body: bytes = b"",
                         cb_types: int = TMCB_LOCAL_COMPLETED, callback: TmCallback | None = None) -> int:
        """t_uac for the next request of the dialog: `dialog.local_seq` moves on by one first
        (not for ACK and CANCEL), as Kamailio's req_within."""

    def ack_local_uac(self, t: TmTransaction, headers: str = "", body: bytes = b"") -> int:
        """ACK the 2xx of a local INVITE sent with TMCB_DONT_ACK in its callback types (Kamailio's
        ack_local_uac): the ACK tm would have sent, with `headers` (CRLF-terminated lines) and
        `body`; tm sends it again for each retransmitted 2xx. 0 sent, -1 not sent, -2 refused
        (not a local INVITE, no final reply yet, ACKed by tm or already)."""

    # any transaction, by Call-ID and CSeq (t_lookup_callid)
    def find_by_callid(self, call_id: str, cseq: str) -> TmTransaction | None:
        """The INVITE transaction with this Call-ID and CSeq number, or None."""

    def reply_cell(self, t: TmTransaction, code: int, reason: str) -> int:
        """Reply the transaction `t` (t_reply_callid)."""

    def cancel_cell(self, t: TmTransaction) -> None:
        """Cancel the pending branches of the transaction `t` (t_cancel_callid)."""

    # statistics
    def total_counters(self) -> dict[str, int]:
        """tm's transaction counters (Kamailio's t_stats.h names) summed over every process (tmx)."""


# ------------------------------------------------------------------ rr


class RrAPI(Protocol):
    """What rr offers (`core.api("rr")`, Kamailio's `rr_binds` from `load_rr_api`): what dialog and
    uac build on."""

    @property
    def append_fromtag(self) -> int:
        """The `append_fromtag` parameter: whether Record-Route carries the From-tag (what
        is_direction() needs; acc's detect_direction refuses to start without it)."""

    def record_route(self, ctx: MessageContext, sparams: str | None = None) -> int:
        """Add a Record-Route for this proxy (record_route()), with `sparams` appended."""

    def loose_route(self, ctx: MessageContext) -> int:
        """Route a request by its Route headers (loose_route())."""

    def add_rr_param(self, ctx: MessageContext, param: str) -> int:
        """Add `param` (`;name=value`) to the Record-Route this proxy adds (add_rr_param())."""

    def check_route_param(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        """Whether the parameters of the Route that reached this proxy match (check_route_param())."""

    def is_direction(self, ctx: MessageContext, dir: str) -> int:
        """Whether the in-dialog request goes "downstream" or "upstream" (is_direction())."""

    def get_route_param(self, ctx: MessageContext, name: str) -> str | None:
        """The value of parameter `name` of the Route that reached this proxy (get_route_param());
        "" for a parameter without a value, None when there is no such parameter."""

    def register_rrcb(self, callback: Callable[[MessageContext, str], None]) -> int:
        """Call `callback(ctx, params)` each time loose_route() routes by a Route URI of this proxy
        that has parameters (`params`: the URI's parameters, no leading `;`), as Kamailio's
        register_rrcb (path's use_received sets the destination from `received` there)."""


# ------------------------------------------------------------------ outbound


class FlowToken(NamedTuple):
    """The connection an RFC 5626 flow token names (Kamailio's receive_info in it): the protocol
    ("udp", "tcp", "tls", "sctp", "ws", "wss"), the local address and port, the peer's."""

    proto: str
    dst_ip: str
    dst_port: int
    src_ip: str
    src_port: int


class ObAPI(Protocol):
    """What outbound offers (`core.api("outbound")`, Kamailio's ob_binds from bind_ob): what rr and
    path use to put a flow token in the user part of their Record-Route and Path URIs."""

    def encode_flow_token(self, ctx: MessageContext) -> str:
        """The flow token (base64 of HMAC-SHA1-80 + proto + local and peer address) of the
        connection `ctx.msg` came in on."""

    def decode_flow_token(self, ctx: MessageContext, token: str) -> tuple[int, FlowToken | None]:
        """(0, the flow) for a valid token; (-2, None) when `token` is no flow token (empty, wrong
        length), (-1, None) when it fails the HMAC check (tampered)."""

    def use_outbound(self, ctx: MessageContext) -> int:
        """Whether outbound applies to the request: 0 no; 1 yes (a REGISTER with reg-id on the
        first hop, a ;ob Route of ours for an "outgoing" request, a ;ob Contact); 2 an "incoming"
        request whose ;ob Route carries the flow token of another connection."""


# ------------------------------------------------------------------ dialog

# dialog states (dialog/dlg_hash.h), DialogInfo.state and $dlg(state)
DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY, DLG_STATE_CONFIRMED_NA = 1, 2, 3
DLG_STATE_CONFIRMED, DLG_STATE_DELETED = 4, 5
# the direction of the message of a dialog callback (DlgCbParams.direction)
DLG_DIR_NONE, DLG_DIR_DOWNSTREAM, DLG_DIR_UPSTREAM = 0, 1, 2
# dialog callback types (dialog/dlg_cb.h), bits of register_dlgcb's `types`
DLGCB_LOADED = 1 << 0
DLGCB_CREATED = 1 << 1
DLGCB_FAILED = 1 << 2
DLGCB_CONFIRMED_NA = 1 << 3
DLGCB_CONFIRMED = 1 << 4
DLGCB_REQ_WITHIN = 1 << 5
DLGCB_TERMINATED = 1 << 6
DLGCB_EXPIRED = 1 << 7
DLGCB_EARLY = 1 << 8
DLGCB_RESPONSE_FWDED = 1 << 9
DLGCB_RESPONSE_WITHIN = 1 << 10
DLGCB_RPC_CONTEXT = 1 << 12
DLGCB_DESTROY = 1 << 13
DLGCB_SPIRALED = 1 << 14
DLGCB_TERMINATED_CONFIRMED = 1 << 15


@dataclass(frozen=True)
class DialogInfo:
    """A dialog as dialog shows it to other modules: a copy taken when it is handed out (Kamailio's
    `struct dlg_cell`); the dialog itself lives in shared memory and changes on. `h_entry` and
    `h_id` identify it (as in `dlg.end_dlg`). Times are wall-clock seconds, 0 when not yet:
    `init_ts` created, `start_ts` confirmed (2xx), `end_ts` ended; `timeout` when it expires."""

    h_entry: int
    h_id: int
    call_id: str
    from_uri: str
    from_tag: str
    to_uri: str
    to_tag: str
    req_uri: str
    state: int
    init_ts: int = 0
    start_ts: int = 0
    end_ts: int = 0
    timeout: int = 0
    lifetime: int = 0
    sflags: int = 0
    vars: dict[str, str] = field(default_factory=dict)
    profiles: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class DlgCbParams:
    """What a dialog callback receives besides the dialog and the type (Kamailio's `struct
    dlg_cb_params`): the request and/or reply of the event (both None for a timer's expiry or an
    RPC's end), the message's direction (DLG_DIR_*), and its context where one is at hand.
    `dlg_data` is Kamailio's: for DLGCB_EXPIRED, True when the dialog had been confirmed."""

    req: Request | None = None
    rpl: Response | None = None
    direction: int = DLG_DIR_NONE
    ctx: MessageContext | None = None
    dlg_data: object = None


DlgCallback = Callable[[DialogInfo, int, DlgCbParams], None]


class DialogAPI(Protocol):
    """What dialog offers (`core.api("dialog")`, Kamailio's `dlg_binds` from `load_dlg_api`): its
    events, its variables, the dialog of a message, ending one, and counting dialogs (what acc's CDRs
    and dispatcher's call-load algorithm build on). Dialogs are shared by every worker; a callback
    runs in the worker where the event happens (the one handling the message, the one whose timer
    found the dialog expired, the one serving the RPC)."""

    def register_dlgcb(self, types: int, callback: DlgCallback) -> int:
        """Have `callback(dlg, type, params)` run on the events `types` (DLGCB_* bits) of every
        dialog. Call it in `__init__` (every worker then has it): Kamailio's per-dialog
        registration is a global one here, and a callback picks its dialogs itself (by a dialog
        variable set in DLGCB_CREATED, say). DLGCB_CREATED runs when dlg_manage() (or the
        dlg_flag) creates a dialog, with the INVITE; DLGCB_FAILED on a final reply >= 300 (or a
        CANCEL); DLGCB_CONFIRMED on the 2xx; DLGCB_TERMINATED on a BYE (or dlg_bye/dlg.end_dlg),
        DLGCB_TERMINATED_CONFIRMED on the BYE's 2xx; DLGCB_EXPIRED on timeout. 0 when registered,
        -1 for an empty or unknown mask."""

    def get_dlg(self, ctx: MessageContext) -> DialogInfo | None:
        """The dialog of the message of `ctx` (created by dlg_manage for it, or matched for a
        request within it or a reply to one), None when it has none."""

    def get_dlg_var(self, dlg: DialogInfo, name: str) -> str | None:
        """The current value of the dialog variable `name` ($dlg_var(name)), None when unset or
        when the dialog is gone."""

    def set_dlg_var(self, dlg: DialogInfo, name: str, value: str | None) -> int:
        """Set (None: remove) the dialog variable `name`: 0, or -1 when the dialog is gone."""

    def terminate_dlg(self, dlg: DialogInfo, headers: str = "") -> int:
        """End a confirmed dialog by sending BYE to both sides (`headers` added to each), as
        dlg_bye("all"): 0 when sent, -1 otherwise."""

    def count_dialogs(self, var: str, value: str) -> int:
        """How many dialogs not yet ended (states 1..4) have the dialog variable `var` equal to
        `value`: with a variable holding its destination, dispatcher's call load per
        destination."""

    def cseq_update(self, ctx: MessageContext) -> int:
        """Kamailio's cfgenv cb_cseq_update, which uac_auth() calls on the request it re-sends with
        credentials: with track_cseq_updates, the request's CSeq goes one up on the wire (and so
        do the later requests of its dialog going downstream). 0, -1 on a broken request."""


# ------------------------------------------------------------------ usrloc


class PingContact(NamedTuple):
    """One contact as usrloc's get_all_ucontacts() gives it to nathelper's keepalives (Kamailio packs
    the same fields in a buffer): where to send (`received`, else `contact`), the local socket it
    registered on (`udp:1.2.3.4:5060`, None: unknown), its branch flags, Path, ruid and AoR hash."""

    contact: str
    received: str | None
    socket: str | None
    cflags: int
    path: str | None
    ruid: str
    aorhash: int


# usrloc's contact callback types (Kamailio's usrloc/ul_callback.h), the `types` of
# UsrlocAPI.register_ulcb
UL_CONTACT_INSERT = 1 << 0
UL_CONTACT_UPDATE = 1 << 1
UL_CONTACT_DELETE = 1 << 2
UL_CONTACT_EXPIRE = 1 << 3
ULCB_MAX = (1 << 4) - 1

UlCallback = Callable[[int, str, Any], None]


class UsrlocAPI(Protocol):
    """What usrloc offers (`core.api("usrloc")`, Kamailio's `usrloc_api_t` from `bind_usrloc`).
    Records and contacts are usrloc's objects (`aor`, `contacts`; `contact`, `expires`, `q`,
    `callid`, `cseq`, `ruid`, ...), created with `new_contact(**fields)`."""

    @property
    def use_domain(self) -> bool:
        """Whether AoRs include the domain."""

    @property
    def db_mode(self) -> int:
        """Kamailio's db_mode 0-3."""

    @property
    def nat_flag(self) -> int:
        """The branch flag mask of contacts behind NAT (nat_bflag), 0 when unset."""

    @property
    def server_id(self) -> int:
        """The server_id written with each contact."""

    def register_domain(self, name: str) -> object:
        """Kamailio's register_udomain: the table (domain) that save/lookup on `name` use."""

    def lock(self, domain: str, aor: str | None = None) -> contextlib.AbstractContextManager[None]:
        """Hold the AoR's lock (lock_udomain) for a read-modify-write of its contacts."""

    def new_ruid(self) -> str:
        """A new unique record id for a contact."""

    def new_contact(self, **fields: Any) -> Any:
        """A contact (ucontact) with the given fields, to insert."""

    def contacts(self, aor: str, domain: str = "location") -> list[Any]:
        """The contacts of an AoR."""

    def get_urecord(self, domain: str, aor: str) -> Any:
        """The record of an AoR, or None."""

    def record_of(self, domain: str, aor: str, stored: list[Any]) -> Any:
        """A record holding `stored` (None when empty)."""

    def get_urecord_by_ruid(self, domain: str, ruid: str) -> Any:
        """(record, contact) of the contact with this ruid, or None."""

    def get_ucontact(self, record: Any, uri: str, callid: str, path: str | None, cseq: int,
                     instance: str | None = None, reg_id: int = 0) -> tuple[int, Any]:
        """Kamailio's get_ucontact_by_instance: (0, contact) found, (1, None) not found, (-1, c)
        found with an older CSeq, (-2, c) the same CSeq (a retransmission)."""

    def contact_attrs(self, ctx: MessageContext) -> Any:
        """What a contact saved now keeps of the message's `xavp_contact` XAVP (its first item's
        string and integer fields), to give `new_contact(xavp=...)`/`copy(xavp=...)`; None when
        the parameter or the XAVP is not set (Kamailio's ucontact_xavp_store)."""

    def restore_attrs(self, ctx: MessageContext, contact: Any, index: int | None) -> None:
        """Give a contact's stored `xavp_contact` fields back to the message: item `index` of the
        XAVP (0 the R-URI's contact, n branch n; Kamailio's xavp_insert), None first (xavp_add)."""

    def insert_contact(self, domain: str, contact: Any) -> Any:
        """Insert a contact; returns it as stored."""

    def update_contact(self, domain: str, contact: Any) -> None:
        """Write a changed contact."""

    def delete_contact(self, domain: str, contact: Any) -> None:
        """Delete a contact."""

    def delete_urecord(self, domain: str, aor: str) -> int:
        """Delete every contact of an AoR; returns how many."""

    def on_contact_expired(self, callback: Callable[[str, Any], None]) -> None:
        """Call `callback(domain, contact)` for each contact the timer finds expired, before it is
        deleted (Kamailio's UL_CONTACT_EXPIRE callback), in the process running the timer."""

    # what nathelper's keepalives use (Kamailio's get_all_ucontacts, refresh_keepalive,
    # set_keepalive_timeout)
    def get_all_ucontacts(self, flags: int, part_idx: int, part_max: int,
                          server_id_only: bool = False) -> list[PingContact]:
        """The contacts of every domain whose branch flags hold all of `flags`, in partition
        `part_idx` of `part_max` (by the hash slot of their AoR: slot % part_max == part_idx; in
        db_mode 3 the rows of `partition` part_idx, see set_max_partition), only
        those written with this server's server_id when `server_id_only`. With a keepalive timeout
        set, a UDP contact that has not answered a keepalive for that long is left out and expires
        within 10 seconds."""

    def refresh_keepalive(self, aorhash: int, ruid: str) -> int:
        """The contact `ruid` (of an AoR hashing to `aorhash`) answered a keepalive now."""

    def set_max_partition(self, maximum: int) -> None:
        """Rows inserted from now on get a `partition` column below `maximum` (Kamailio's
        ul_set_max_partition; nathelper: natping_processes * natping_interval), which db_mode 3
        keepalives read one partition at a time (`part_idx`)."""

    def set_keepalive_timeout(self, seconds: int) -> None:
        """How long a UDP contact may go without answering keepalives (0: forever)."""

    def register_ulcb(self, types: int, callback: UlCallback) -> int:
        """Kamailio's register_ulcb: have `callback(type, domain, contact)` run in the process
        that made the change, after each insert (UL_CONTACT_INSERT), update (UL_CONTACT_UPDATE)
        and delete (UL_CONTACT_DELETE) of a contact, and for each contact the timer expires
        (UL_CONTACT_EXPIRE), for the `types` bits given. 1, or -1 for a bad mask."""


# ------------------------------------------------------------------ dmq

# a DMQ node's states (Kamailio's dmq/dmqnode.h), DmqNode.status
DMQ_NODE_ACTIVE, DMQ_NODE_TIMEOUT, DMQ_NODE_DISABLED, DMQ_NODE_PENDING = 1 << 1, 1 << 2, 1 << 3, 1 << 4


@dataclass(frozen=True)
class DmqNode:
    """A node of the DMQ bus (Kamailio's dmq_node_t): its URI as given (`sip:10.0.0.1:5060`),
    the host, port (as written, "" when none) and transport that identify it, its state and
    whether it is this server."""

    uri: str
    host: str
    port: str
    proto: str
    status: int = DMQ_NODE_PENDING
    local: bool = False


@dataclass
class DmqReply:
    """What a peer's callback answers to a KDMQ request (Kamailio's peer_reponse_t): no reply
    is sent when `code` is 0."""

    code: int = 0
    reason: str = ""
    body: bytes = b""
    content_type: str = ""


# callback(request, node it came from or None) -> the reply; init_callback() runs once the
# node list first arrived; resp_callback(reply or None, code, node) for each KDMQ request sent
DmqPeerCallback = Callable[["Request", "DmqNode | None"], DmqReply]
DmqInitCallback = Callable[[], object]
DmqRespCallback = Callable[["Response | None", int, DmqNode], object]


class DmqAPI(Protocol):
    """What dmq offers (`core.api("dmq")`, Kamailio's dmq_api_t from dmq_load_api): peers that
    receive the KDMQ requests addressed to them (`sip:<peer_id>@node`) and send their own to
    one node or to every active one."""

    def register_dmq_peer(self, peer_id: str, description: str, callback: DmqPeerCallback,
                          init_callback: DmqInitCallback | None = None) -> bool:
        """Register a peer in this process (every process of the server registers its own, in
        `__init__`); False when one with that id exists."""

    def bcast_message(self, peer_id: str, body: bytes, except_node: DmqNode | None = None,
                      resp_callback: DmqRespCallback | None = None, max_forwards: int = 1,
                      content_type: str = "text/plain") -> int:
        """Send a KDMQ request to every active node but this one (and `except_node`); 0, or -1
        when one could not be sent."""

    def send_message(self, peer_id: str, body: bytes, node: DmqNode,
                     resp_callback: DmqRespCallback | None = None, max_forwards: int = 1,
                     content_type: str = "text/plain") -> int:
        """Send a KDMQ request to `node`; 0, or -1 when it could not be sent."""

    def find_dmq_node_uri(self, uri: str) -> DmqNode | None:
        """The node with the host, port and transport of `uri`, or None."""


# ------------------------------------------------------------------ sanity


class SanityAPI(Protocol):
    """What sanity offers other modules (Kamailio's sanity_api_t): `core.api("sanity")` in a
    module that declares `Need("sanity", SanityAPI)`."""

    def check_defaults(self, ctx: MessageContext) -> int:
        """sanity_check() with the module's default checks (`default_checks`, `uri_checks`): 1
        when the request passes, 0 when it fails (having replied to it as the module is
        configured to; the replies are in `ctx.outbox`)."""
        ...


# ------------------------------------------------------------------ xhttp


class XhttpAPI(Protocol):
    """What xhttp offers to the modules that answer HTTP requests in its event route (jsonrpcs,
    xhttp_prom)."""

    def is_http(self, ctx: MessageContext) -> bool:
        """Whether `ctx` holds an HTTP request (event_route[xhttp:request])."""

    def send_reply(self, ctx: MessageContext, code: int, reason: str, ctype: str,
                   body: bytes | str) -> int:
        """Answer the HTTP request of `ctx`: 1, or -1 when it is not one or was answered already."""


# ------------------------------------------------------------------ pv


class PvAPI(Protocol):
    """What the pv module offers the modules that name AVPs in their own arguments (avpops), as
    Kamailio's core resolves the aliases pv registers."""

    def avp_alias(self, name: str) -> str | None:
        """The AVP name an alias of the `avp_aliases` parameter stands for (`s:email_addr`,
        `i:100`), or None when `name` is no alias."""


# ------------------------------------------------------------------ presence

# subscription states (presence/subscribe.h)
ACTIVE_STATUS, PENDING_STATUS, TERMINATED_STATUS, WAITING_STATUS, POLITE_BLOCK_STATUS = 1, 2, 3, 4, 5
# event categories (presence/event_list.h)
WINFO_TYPE, PUBL_TYPE = 1, 2


@dataclass
class PresenceEvent:
    """An event package a module adds to presence (Kamailio's pres_ev_t, given to `add_event`).

    `name` is the Event header value it answers (`presence`, `presence.winfo`, `dialog;sla`),
    `content_type` its bodies' type. The callbacks, each optional:

    * `get_rules_doc(user, domain)` -> (code, document or None): the authorization rules (XCAP
      pres-rules) of the presentity; required with `req_auth`, as `get_auth_status(subs)`, which sets
      `subs.status` and `subs.reason` from `subs.auth_rules_doc` and returns 0 (negative on error);
    * `get_pidf_doc(user, domain, file_uri)` -> (code, document or None): a pidf-manipulation
      document (code > 0 when one was found);
    * `apply_auth_nbody(body, subs)` -> (code, body or None): the body a watcher may see;
    * `agg_nbody(user, domain, bodies or None, off_index)` -> body or None: the published bodies
      (oldest first) made into one; `off_index` is the one being withdrawn (-1: none);
    * `evs_publ_handl(ctx)`, `evs_subs_handl(ctx)`: checks on a PUBLISH or SUBSCRIBE (negative refuses
      it; they may have replied);
    * `aux_body_processing(subs, body)` -> body or None: a per-watcher body.
    `type` is WINFO_TYPE for a watcher-info package (`x.winfo`), PUBL_TYPE otherwise (presence
    sets it from the name). `etag_not_new`: a refreshing PUBLISH keeps its entity tag."""

    name: str
    content_type: str
    default_expires: int = 3600
    type: int = PUBL_TYPE
    etag_not_new: int = 0
    req_auth: int = 0
    get_rules_doc: Callable[[str, str], tuple[int, bytes | None]] | None = None
    get_pidf_doc: Callable[[str, str, str], tuple[int, bytes | None]] | None = None
    apply_auth_nbody: Callable[[bytes, Subscription], tuple[int, bytes | None]] | None = None
    get_auth_status: Callable[[Subscription], int] | None = None
    agg_nbody: Callable[[str, str, list[bytes] | None, int], bytes | None] | None = None
    evs_publ_handl: Callable[[MessageContext], int] | None = None
    evs_subs_handl: Callable[[MessageContext], int] | None = None
    aux_body_processing: Callable[[Subscription, bytes | None], bytes | None] | None = None


@dataclass
class Subscription:
    """A subscription dialog (Kamailio's subs_t), as presence hands it to an event's callbacks and
    shows it in `$subs(...)`: the presentity, the watcher, the dialog (tags, Call-ID, CSeqs,
    contacts, route set, socket), its state (`status`, `reason`, `expires` in seconds from now,
    `version` of the NOTIFY bodies) and, for authorization, the presentity's rules document."""

    pres_uri: str = ""
    to_user: str = ""
    to_domain: str = ""
    from_user: str = ""
    from_domain: str = ""
    watcher_user: str = ""
    watcher_domain: str = ""
    event: PresenceEvent | None = None
    event_id: str = ""
    to_tag: str = ""
    from_tag: str = ""
    callid: str = ""
    sockinfo_str: str = ""
    remote_cseq: int = 0
    local_cseq: int = 0
    contact: str = ""
    local_contact: str = ""
    record_route: str = ""
    expires: int = 0
    status: int = 0
    reason: str = ""
    version: int = 0
    flags: int = 0
    user_agent: str = ""
    auth_rules_doc: bytes | None = None
    send_on_cback: int = 0
    db_flag: int = 0
    recv_event: int = 0
    updated: int = -1
    updated_winfo: int = -1


class PresenceAPI(Protocol):
    """What presence offers (`core.api("presence")`, Kamailio's presence_api_t from bind_presence):
    event packages for presence_xml and the other presence_* modules, and the operations they call
    back. (Kamailio's shtable/extract_sdialog_info members serve rls and pua, which kampy has not.)"""

    def add_event(self, event: PresenceEvent) -> int:
        """Register an event package (0, negative on a bad one); a `x.winfo` package and its `x` are
        linked as each other's watcher-info peer."""

    def contains_event(self, name: str) -> PresenceEvent | None:
        """The package an Event header value selects (`presence`, `dialog;sla`), or None."""

    def get_event_list(self) -> list[str]:
        """The registered packages' names, newest first (Allow-Events)."""

    def update_watchers_status(self, pres_uri: str, event: PresenceEvent, rules_doc: bytes | None) -> int:
        """Re-evaluate the watchers of `pres_uri` against a changed rules document and notify
        those whose state changed (0, negative on error)."""

    def get_presentity(self, pres_uri: str, event: PresenceEvent, etag: str | None = None,
                       contact: str | None = None) -> bytes | None:
        """The NOTIFY body of the presentity's published state (aggregated when the package
        aggregates), None when nothing is published."""

    def get_sphere(self, pres_uri: str) -> str | None:
        """The RPID sphere of the presentity's published presence."""

    def pres_auth_status(self, ctx: MessageContext | None, watcher_uri: str, presentity_uri: str) -> int:
        """The subscription state the rules give `watcher_uri` for `presentity_uri`'s presence."""

    def handle_publish(self, ctx: MessageContext, sender_uri: str | None = None) -> int:
        """handle_publish() on the request of `ctx`."""

    def handle_subscribe(self, ctx: MessageContext, watcher_uri: str | None = None) -> int:
        """handle_subscribe() on the request of `ctx`."""

    def update_presentity(self, event: str, realm: str, user: str, etag: str, sender: str | None,
                          body: bytes | None, expires: int, new_t: int, replace: int) -> int:
        """Store a presentity document as a PUBLISH would (no reply), and notify its watchers."""

    def pres_refresh_watchers(self, pres_uri: str, event: str, refresh_type: int) -> int:
        """pres_refresh_watchers(uri, event, type) for types 0 and 1."""


# ------------------------------------------------------------------ auth

# the header a digest authentication reads (Kamailio's HDR_AUTHORIZATION_T, HDR_PROXYAUTH_T): the
# credentials of www_authorize()/401 challenges, and of proxy_authorize()/407 challenges
HDR_AUTHORIZATION = "authorization"
HDR_PROXYAUTH = "proxy-authorization"


class AuthResult(enum.IntEnum):
    """What a digest check found (Kamailio's auth_result_t, between the auth modules)."""

    NONCE_REUSED = -5
    NO_CREDENTIALS = -4
    STALE_NONCE = -3
    ERROR = -2
    NOT_AUTHENTICATED = -1
    DO_AUTHENTICATION = 0
    AUTHENTICATED = 1
    BAD_CREDENTIALS = 2
    CREATE_CHALLENGE = 3
    DO_RESYNCHRONIZATION = 4


class AuthCode(enum.IntEnum):
    """What the authentication functions return to the config (Kamailio's auth_cfg_result_t)."""

    USER_MISMATCH = -8
    USERNAME_EXPIRED = -7
    NONCE_REUSED = -6
    NO_CREDENTIALS = -5
    STALE_NONCE = -4
    USER_UNKNOWN = -3
    INVALID_PASSWORD = -2
    ERROR = -1
    DROP = 0
    OK = 1


class AuthAPI(Protocol):
    """What auth offers (`core.api("auth")`, Kamailio's `auth_api_s_t` from `auth_load_api`): the
    nonce, the challenge and the digest checks that auth_db and the other auth_* modules build on.
    `hftype` is HDR_AUTHORIZATION or HDR_PROXYAUTH."""

    @property
    def qop(self) -> str:
        """The `qop` module parameter ("auth", "auth-int" or "")."""

    @property
    def algorithm(self) -> str:
        """The digest algorithm of challenges and checks: "MD5" or "SHA-256"."""

    def strip_realm(self, realm: str) -> str:
        """`realm` without the `realm_prefix` parameter, when it starts with it."""

    def pre_auth(self, ctx: MessageContext, realm: str, hftype: str,
                 check_hdr: Callable[[MessageContext, DigestCredentials], AuthResult | None] | None = None,
                 ) -> tuple[AuthResult, DigestCredentials | None, str]:
        """Find the credentials for `realm` (realm_prefix stripped) in the `hftype` headers, mark
        them as the authorized ones (for consume_credentials) and check them and their nonce
        (`check_hdr(ctx, cred)` instead of the nonce check when given: None means go on). Returns
        (DO_AUTHENTICATION, cred, realm) when the response is to be checked; AUTHENTICATED for
        ACK, CANCEL and PRACK; NO_CREDENTIALS, STALE_NONCE (cred.stale set), NONCE_REUSED,
        NOT_AUTHENTICATED, BAD_CREDENTIALS or ERROR otherwise. `realm` is the realm used."""

    def post_auth(self, ctx: MessageContext, cred: DigestCredentials, ha1: str | None) -> AuthResult:
        """After a response checked right: NOT_AUTHENTICATED when the nonce was stale (but for ACK
        and CANCEL), else AUTHENTICATED, with Authentication-Info added to the reply when
        `add_authinfo_hdr` is on."""

    def build_challenge(self, ctx: MessageContext, stale: bool, realm: str, nonce: str | None,
                        algorithm: str | None, hftype: str) -> int:
        """Build a challenge header with the `qop` parameter (and `nonce`/`algorithm` when given,
        else a new nonce) and add it to the `challenge_attr` AVP; 0, or -1 on error."""

    def calc_ha1(self, username: str, realm: str, password: str) -> str:
        """HA1 = H(username:realm:password), lower-case hex, with the configured algorithm."""

    def calc_response(self, ha1: str, nonce: str, nc: str | None, cnonce: str | None,
                      qop: str | None, auth_int: bool, method: str | None, uri: str,
                      hentity: str | None) -> str:
        """The request-digest (or, with no method, the response-digest) of RFC 2617 / 8760."""

    def check_response(self, cred: DigestCredentials, method: str, ha1: str, body: bytes = b"") -> AuthResult:
        """AUTHENTICATED when the credentials' response is the one `ha1` gives, NOT_AUTHENTICATED
        when it is not, BAD_CREDENTIALS when it is not even of the algorithm's length. `body` is
        the request's body, hashed for qop=auth-int."""

    def auth_challenge_hftype(self, ctx: MessageContext, realm: str, flags: int, hftype: str) -> int:
        """Send the 401 (HDR_AUTHORIZATION) or 407 challenge, as www_challenge()/proxy_challenge()."""

    def pv_authenticate(self, ctx: MessageContext, realm: str, passwd: str, flags: int, hftype: str,
                        method: str) -> int:
        """pv_www_authenticate()/pv_proxy_authenticate() with the password (or HA1, flags & 1)
        given: an AuthCode."""

    def consume_credentials(self, ctx: MessageContext) -> int:
        """Remove the authorized credentials' header from the request: 1, or -1."""

    def check_user(self, ctx: MessageContext, user: str, use_domain: bool, skip_forwarded: bool) -> int:
        """The user checks of auth_check()/pv_auth_check() for the authenticated `user`: the To
        user (REGISTER, PUBLISH: From and To users equal, and with `use_domain` their domains;
        PUBLISH: the R-URI's too) or the From user (not checked for INVITE, BYE, PRACK, UPDATE
        and MESSAGE with `skip_forwarded`). AuthCode.OK, USER_MISMATCH or ERROR."""


class AuthDbAPI(Protocol):
    """What auth_db offers (`core.api("auth_db")`, Kamailio's `auth_db_api_t` from `bind_auth_db`)."""

    def digest_authenticate(self, ctx: MessageContext, realm: str, table: str, hftype: str,
                            method: str) -> int:
        """Authenticate the `hftype` credentials for `realm` against `table`: an AuthCode."""


# ------------------------------------------------------------------ domain


class DomainAPI(Protocol):
    """What domain offers (`core.api("domain")`, Kamailio's `domain_api_t` from `bind_domain`)."""

    def is_domain_local(self, domain: str) -> int:
        """1 when `domain` is in the domain table (any case), -1 when not."""
