"""The declared interfaces between a module and the rest of kampy, re-exported by `kampy.api`.

* `CoreAPI`: everything of the core a module may use. A module's `core` (the second argument of its
  factory, `self.core` in a `Module`) is exactly this: the process's core narrowed to these members,
  with `api()` answering only the APIs the module declared in `Exports.needs`.
* The APIs kampy's modules offer each other (`Exports.offers`), as Kamailio's modules offer theirs
  through `load_xxx_api` structs: `SlAPI` (sl), `TmAPI` (tm), `RrAPI` (rr), `UsrlocAPI` (usrloc),
  `XhttpAPI` (xhttp). Another module declares `Need("tm")` and binds `core.api("tm")`, typed `TmAPI`.

A new API is a new Protocol here (or in a third-party module's own package), an `Offer(name,
Protocol)` in the offering module's `Exports` and a `Need(name)` in each user's: the loader checks
at load time that every required API is offered and that each offered object implements its
Protocol.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import re

    from kampy.config.ast import PVar
    from kampy.module import PVAccessor
    from kampy.rpc import LocalService, RpcRegistry
    from kampy.runtime.context import Handoff, MessageContext, Outgoing, Socket
    from kampy.runtime.core import Clock
    from kampy.runtime.shared import SharedStore
    from kampy.sip.message import Request, Response
    from kampy.stats import Stats


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
        SQL statements on the shared store, `transaction()`."""

    @property
    def rank(self) -> int:
        """This worker's rank, 1..workers (Kamailio's child rank): periodic work shared by all
        workers runs in rank 1."""

    @property
    def workers(self) -> int:
        """How many workers serve the sockets."""

    @property
    def rpc(self) -> RpcRegistry:
        """The RPC registry (declared methods are registered from `Exports.rpc`): `rpc.call(name)`."""

    @property
    def core_params(self) -> dict[str, Any]:
        """The config's core parameters (`runtime_dir`, `debug`, ...), as the config gives them."""

    @property
    def runtime_dir(self) -> str:
        """Where control sockets go by default (jsonrpcs' FIFO and socket, ctl's socket): `-Y`, else
        the config's `rundir`/`run_dir`, else Kamailio's /run/kamailio."""

    @property
    def server_id(self) -> int:
        """The core `server_id` (`--server-id`), 0 when not set ($sid, usrloc's Server-Id)."""

    @property
    def server_header(self) -> str:
        """The text of the `Server:`/`User-Agent:` header of locally built messages."""

    def divert_logs(self, write: Callable[[str], None]) -> bool:
        """Kamailio's km_log_func_set(): from now on this process's log lines, each as
        `(pid) LEVEL: ...` with a newline, go to `write` instead of syslog. Not while logging to
        stderr (`-E`, `log_stderror=yes`): then nothing changes and it returns False."""

    # ------------------------------------------------------------ sockets and addresses
    @property
    def sockets(self) -> Sequence[Socket]:
        """The local listening sockets, in the config's order."""

    def is_myself(self, host: str, port: int | None = None, proto: str | None = None) -> bool:
        """Kamailio's `myself` check: a local socket address or an alias (port 0/None = any)."""

    def socket_for(self, proto: str) -> Socket | None:
        """The first local socket of a protocol."""

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

    def faked_context(self) -> MessageContext:
        """A context holding Kamailio's faked message (`OPTIONS sip:you@kamailio.org`, from
        127.0.0.1:5060 over UDP): for event routes and pseudo-variables outside a SIP message."""

    # ------------------------------------------------------------ core settings modules change
    @property
    def aor_case_sensitive(self) -> bool:
        """Whether the user part of an AoR is case-sensitive (set by registrar, read by usrloc)."""

    def set_aor_case_sensitive(self, value: bool) -> None:
        """Kamailio's set_aor_case_sensitive (registrar's `case_sensitive` parameter)."""


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
        """The To-tag sl puts in its replies to `msg` (Kamailio's get_reply_totag)."""


# ------------------------------------------------------------------ tm

ReplyCallback = Callable[[int, "Response | None"], None]


class TmUacAPI(Protocol):
    """The part of tm's API that sends new requests (Kamailio's `tmb.t_request`): what msilo uses,
    declared as `Need("tm", TmUacAPI)`."""

    def t_request(self, method: str, ruri: str, to_uri: str, from_uri: str, *,
                  headers: str = "", body: bytes = b"", next_hop: str | None = None,
                  callback: ReplyCallback | None = None) -> int:
        """Start a client transaction; `callback(status, reply)` runs once with the final reply
        (status 408 and no reply on timeout); what tm sends goes out through the core, as from a
        timer. 1 when sent, negative on error."""


class TmAPI(TmUacAPI, Protocol):
    """What tm offers (`core.api("tm")`, Kamailio's `tm_binds` from `load_tm_api` and tmx's
    `tm_xbinds`): new requests (`TmUacAPI`), the transaction of the message at hand, transactions by
    Call-ID, the counters. A transaction is an opaque handle (`object`) other modules pass back."""

    # the transaction of the message at hand (t_gett, t_reply)
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

    # any transaction, by Call-ID and CSeq (t_lookup_callid)
    def find_by_callid(self, call_id: str, cseq: str) -> object | None:
        """The INVITE transaction with this Call-ID and CSeq number, or None."""

    def reply_cell(self, cell: object, code: int, reason: str) -> int:
        """Reply the transaction `cell` (t_reply_callid)."""

    def cancel_cell(self, cell: object) -> None:
        """Cancel the pending branches of the transaction `cell` (t_cancel_callid)."""

    # statistics
    def watch_counters(self, listener: Callable[[dict[str, int]], None]) -> None:
        """Call `listener(counters)` now and whenever tm's transaction counters change (tmx)."""


# ------------------------------------------------------------------ rr


class RrAPI(Protocol):
    """What rr offers (`core.api("rr")`, Kamailio's `rr_binds` from `load_rr_api`): what dialog and
    uac build on."""

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


# ------------------------------------------------------------------ usrloc


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

    def insert_contact(self, domain: str, contact: Any) -> Any:
        """Insert a contact; returns it as stored."""

    def update_contact(self, domain: str, contact: Any) -> None:
        """Write a changed contact."""

    def delete_contact(self, domain: str, contact: Any) -> None:
        """Delete a contact."""

    def delete_urecord(self, domain: str, aor: str) -> int:
        """Delete every contact of an AoR; returns how many."""


# ------------------------------------------------------------------ xhttp


class XhttpAPI(Protocol):
    """What xhttp offers to the modules that answer HTTP requests in its event route (jsonrpcs,
    xhttp_prom)."""

    def is_http(self, ctx: MessageContext) -> bool:
        """Whether `ctx` holds an HTTP request (event_route[xhttp:request])."""

    def send_reply(self, ctx: MessageContext, code: int, reason: str, ctype: str,
                   body: bytes | str) -> int:
        """Answer the HTTP request of `ctx`: 1, or -1 when it is not one or was answered already."""
