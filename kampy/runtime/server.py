"""The in-process server, sans-IO: bytes and their source in, what to send out.

The network layer (or a test) calls `handle(data, src)` for each datagram or framed TCP message and
sends the returned `Outgoing` values; `next_timer()`/`run_timers()` drive module timers from the clock.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from kampy.config.compile import CompiledConfig
from kampy.runtime.values import as_bool
from kampy.module import (RouteType, overrides, overrides_on_response, overrides_post_script,
                          overrides_pre_script)
from kampy.runtime import corestats, forward, latency
from kampy.runtime.context import Handoff, MessageContext, Outgoing, ScriptDrop, ScriptExit, Socket, Source
from kampy.runtime.core import Clock, Core
from kampy.sip.via import (DO_DNS, DO_REV_DNS, reply_destination, reply_via_line, set_received_dns,
                           set_reply_to_via)
from kampy.config import ast
from kampy.errors import ConfigError, Diagnostic
from kampy.runtime.engine import Engine
from kampy.runtime.flow import LoadError, MalformedInput, ModuleFailure
from kampy.runtime import loglevels
from kampy.runtime.ratelog import OncePerSource
from kampy.runtime.resolver import DnsClient
from kampy.runtime.loglevels import set_log_prefix
from kampy.runtime.procs import register_process
from kampy.runtime.shared import SharedStore
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import Request, Response, error_response, parse_message

log = logging.getLogger("kampy.server")

# What a server runs of the processes the modules run of their own (Exports.processes): INLINE,
# their jobs as its own timers (one process: fork=no, the pytest plugin); WORKER, none of them (a
# worker of a forked server); or the index of the one process it is.
INLINE = "inline"
WORKER = "worker"


class Server:
    def __init__(self, core: Core, engine: Engine, process: str | int = INLINE) -> None:
        self.core = core
        self.engine = engine
        self._has_request_route = engine.has_route("request", None)
        self._reply_key = next((k for k in (("reply", None), ("onreply", None), ("onreply", "0"))
                                if engine.has_route(*k)), None)
        self._pre_script = tuple(m.pre_script for m in core.modules.values() if overrides_pre_script(m))
        self._post_script = tuple(m.post_script for m in core.modules.values() if overrides_post_script(m))
        self._on_response = tuple(m.on_response for m in core.modules.values() if overrides_on_response(m))
        self._data_in = tuple(m.net_data_in for m in core.modules.values() if overrides(m, "net_data_in"))
        self._data_out = tuple(m.net_data_out for m in core.modules.values() if overrides(m, "net_data_out"))
        now = core.clock.monotonic()
        self._handed_off = False
        self.msg_no = 0  # messages received by this process (Kamailio's msg_no: $mi, @msg.id)
        # Kamailio logs every unparsable first Via at L_ERR (sip_parser_log); a flood of them from
        # one source must not flood the log here
        self._bad_via_log = OncePerSource(log, logging.WARNING)
        params = core.config.core_params if core.config is not None else {}
        prefix = params.get("log_prefix")
        self._log_prefix = self._prefix_format(engine, str(prefix)) if prefix else None
        self._log_callid = loglevels.wants_callid()
        self._check_via = as_bool(params.get("check_via"), False)
        self._advertised = _global_advertised(params)
        set_reply_to_via(as_bool(params.get("reply_to_via"), False))
        set_received_dns((DO_DNS if as_bool(params.get("dns"), False) else 0)
                         | (DO_REV_DNS if as_bool(params.get("rev_dns"), False) else 0))
        self.process = process
        jobs = [[now + job.interval, job.interval, fn, job.description] for job, fn in engine.process_jobs]
        if isinstance(process, int):  # a module's process: its job only
            self._timers: list[list[Any]] = [jobs[process]]
        else:
            self._timers = [[now + interval, interval, fn, timer.name]
                            for timer, interval, fn in engine.timers]
            if process == INLINE:
                self._timers += jobs

    @classmethod
    def from_config(cls, compiled: CompiledConfig, *, sockets: list[Socket],
                    aliases: list[tuple[str, int | None]] = (),  # type: ignore[assignment]
                    clock: Clock | None = None, shared: SharedStore | None = None,
                    rank: int = 1, workers: int = 1,
                    tracer: Callable[[MessageContext, str, str, int | None], None] | None = None,
                    process: str | int = INLINE, dns_client: DnsClient | None = None) -> Server:
        """Instantiate the modules and build the routes; raises ConfigError on a load-time problem.

        `shared` is the store every worker of the server sees (the first process creates it before
        forking; each worker passes its own connection); without one, the server makes a private
        one and deletes it at shutdown. `rank` is this worker's rank among `workers`.
        `tracer(ctx, route, function, code)` is told of every route entered (function "") and
        every function's return code (the testing plugin); without one, routes run untraced.
        `process`: INLINE (the default: one process runs the modules' own processes' jobs as
        timers), WORKER (a worker of a forked server) or the index of the module process this is
        (`kampy.runtime.engine.module_processes`). `dns_client`: the network layer's DNS queries,
        there already for the modules' init (dispatcher's destinations)."""
        core = Core(compiled, clock, list(sockets), list(aliases), rank=rank, workers=workers, shared=shared)
        core.dns.queries = dns_client
        return cls(core, Engine(compiled, core, tracer), process)

    # ------------------------------------------------------------ lifecycle

    def child_init(self, rank: int) -> None:
        for name, instance in self.core.modules.items():
            init = getattr(instance, "child_init", None)
            if init is not None:
                try:
                    init(rank)
                except Exception:
                    log.exception("module %s: child_init(%d) failed", name, rank)
                    raise
        if isinstance(self.process, int):
            description = self.engine.process_jobs[self.process][0].description
        else:
            description = f"receiver child={rank - 1} (worker rank {rank} of {self.core.workers})"
        register_process(self.core, description)
        if rank == 1 and not isinstance(self.process, int):
            self._worker_one_init()

    def _worker_one_init(self) -> None:
        """event_route[core:worker-one-init] with a faked request, in the first SIP worker once the
        modules are initialised, before it serves (Kamailio's run_child_one_init_route()); a `drop`
        there stops the start, as in Kamailio. What it sends goes out with the first timer run."""
        name = "core:worker-one-init"
        if not self.engine.has_route("event", name):
            return
        ctx = self.core.faked_context()
        if not self.engine.run_event_route(name, ctx, RouteType.REQUEST):
            raise ConfigError([Diagnostic(self.engine.compiled.routes[("event", name)].pos,
                                          f"exit due to 'drop' in event_route[{name}]")])

    def shutdown(self) -> None:
        for name, instance in self.core.modules.items():
            destroy = getattr(instance, "destroy", None)
            if destroy is not None:
                try:
                    destroy()
                except Exception:
                    log.exception("module %s: destroy() failed", name)
        self.core.close_shared()

    # ------------------------------------------------------------ timers

    def next_timer(self) -> float | None:
        """The clock's monotonic time at which `run_timers` has work, or None without timers."""
        due = [t[0] for t in self._timers]
        call = self.core.next_call()
        if call is not None:
            due.append(call)
        return min(due, default=None)

    def run_timers(self) -> list[Outgoing]:
        self.core.cfg.update()
        now = self.core.clock.monotonic()
        out: list[Outgoing] = []
        for timer in self._timers:
            due, interval, fn, name = timer
            if due > now:
                continue
            # after a jump of the clock, skip the missed runs rather than firing them back to back
            timer[0] = due + interval if due + interval > now else now + interval
            try:
                result = fn()
            except Exception:
                log.exception("timer %s failed", name)
                continue
            if isinstance(result, list):
                out.extend(r for r in result if isinstance(r, Outgoing))
        self.core.run_due_calls()
        out.extend(self.core.take_outbox())
        return self._sending(out)

    # ------------------------------------------------------------ messages

    def handle(self, data: bytes, src: Source, handed_off: bool = False) -> list[Outgoing | Handoff]:
        """Process one message; returns what to send (and messages to hand to the worker that owns
        their transaction, as `Handoff`). Never raises for bad input. `handed_off`: another worker
        received it and handed it over to this one, its owner (`ctx.handed_off`)."""
        self._handed_off = handed_off
        self.msg_no += 1
        self.core.cfg.update()
        try:
            if self._data_in and not handed_off:
                data = self._received(data, src)
            out = self._handle(data, src)
        finally:
            if self._log_prefix is not None:
                set_log_prefix("")
            if self._log_callid:
                loglevels.set_log_callid("")
        if self.core.outbox:
            out = [*out, *self.core.take_outbox()]
        return self._sending(out)

    def handle_call(self, name: str, data: bytes) -> list[Outgoing | Handoff]:
        """Run the work another worker asked of this one (`CoreAPI.call_worker`); returns what it
        sends."""
        self.core.cfg.update()
        self.core.run_worker_call(name, data)
        return self._sending(self.core.take_outbox())

    def _received(self, data: bytes, src: Source) -> bytes:
        for hook in self._data_in:
            try:
                data = hook(data, src)
            except Exception:
                log.exception("internal error in a hook on the data received from %s:%d", src.ip, src.port)
        return data

    def _sending(self, out: list[Outgoing]) -> list[Outgoing]:
        """What leaves: the static DNS records applied, then the modules' send hooks."""
        core = self.core
        if not core.dns_records and not self._data_out:
            return out
        sent = []
        for item in out:
            if isinstance(item, Outgoing):
                if core.dns_records:
                    item = dataclasses.replace(item, host=core.resolve_static(item.host))
                for hook in self._data_out:
                    try:
                        item = hook(item)
                    except Exception:
                        log.exception("internal error in a hook on data sent to %s:%d", item.host, item.port)
            sent.append(item)
        return sent

    def _handle(self, data: bytes, src: Source) -> list[Outgoing | Handoff]:
        try:
            msg = parse_message(data)
            if isinstance(msg, Request):
                if not self._top_via_parses(msg, src):
                    return []
                return self._request(msg, data, src)
            if not self._handed_off:
                corestats.count_reply(self.core.stats, msg)
            return self._reply(msg, src)
        except SIPProtocolError as exc:
            corestats.count_malformed(self.core.stats, data, exc.message)
            return self._malformed(data, src, exc)
        except Exception:
            log.exception("internal error while handling a message from %s:%d", src.ip, src.port)
            return []

    def _top_via_parses(self, msg: Request, src: Source) -> bool:
        """Kamailio's receive_msg(): a request whose first Via does not parse is dropped, with no
        reply (there is no valid address to send one to), counted in core:bad_msg_hdr only."""
        try:
            msg.via  # noqa: B018 (parses it)
        except SIPProtocolError as exc:
            if not self._handed_off:
                self.core.stats.inc("core:bad_msg_hdr")
            self._bad_via_log.log((src.proto, src.ip, src.port), self.core.clock.monotonic(),
                             "request from %s:%s:%d dropped: its first Via does not parse (%s)",
                             src.proto, src.ip, src.port, exc.message)
            return False
        return True

    def _malformed(self, data: bytes, src: Source, exc: SIPProtocolError, ctx: MessageContext | None = None,
                   ) -> list[Outgoing]:
        log.info("bad SIP message from %s:%s:%d: %s", src.proto, src.ip, src.port, exc.message)
        already = list(ctx.outbox) if ctx is not None else []
        if not exc.can_reply or (ctx is not None and ctx.replied is not None):
            return already
        reply = error_response(data, exc)
        if reply is None:
            return already
        return [*already, self._reply_to_source(reply, src)]

    def _malformed_in_function(self, data: bytes, ctx: MessageContext,
                               failure: MalformedInput) -> list[Outgoing]:
        """A module function found part of the request unparsable (Kamailio's parser failing when
        a function parses a header): answered with 400 (or the error's status) unless the script
        already replied, and the script stops."""
        src, exc = ctx.src, failure.exc
        if ctx.replied is not None:
            log.info("bad SIP message from %s:%s:%d: %s (found by %s() at %s:%d; already answered)",
                     src.proto, src.ip, src.port, exc.message, failure.name, failure.pos.file,
                     failure.pos.line)
            return list(ctx.outbox)
        answer = SIPProtocolError(exc.message, status=exc.status, can_reply=True)
        reply = error_response(data, answer, reply_via_line(ctx.msg, src.ip, src.port))  # type: ignore[arg-type]
        log.info("bad SIP message from %s:%s:%d: %s (found by %s() at %s:%d), answered %d",
                 src.proto, src.ip, src.port, exc.message, failure.name, failure.pos.file, failure.pos.line,
                 exc.status)
        if reply is None:
            return list(ctx.outbox)
        return [*ctx.outbox, self._reply_to_source(reply, src)]

    @staticmethod
    def _reply_to_source(reply: bytes, src: Source) -> Outgoing:
        if src.proto != "udp":
            return Outgoing(src.proto, src.ip, src.port, reply, src.local, src.conn_id)
        host, port = src.ip, src.port
        try:
            host, port = reply_destination(parse_message(reply), src.ip, src.port)
        except SIPProtocolError:
            pass
        return Outgoing("udp", host, port, reply, src.local)

    def _request(self, msg: Request, data: bytes, src: Source) -> list[Outgoing | Handoff]:
        if msg.via is None:
            if not self._handed_off:
                corestats.count_request(self.core.stats, msg)
            log.info("request without Via from %s:%d dropped", src.ip, src.port)
            return []
        ctx = MessageContext(msg, src, self.core, handed_off=self._handed_off, msg_id=self.msg_no)
        # Kamailio's advertised_address/advertised_port: every message starts as if the route had
        # called set_advertised_address()/set_advertised_port() with them
        ctx.advertised_address, ctx.advertised_port = self._advertised
        if self.core.cfg.get("core", "force_rport"):  # the core's force_rport: every request
            ctx.force_rport = True
        if self._log_prefix is not None or self._log_callid:
            self._set_log_prefix(ctx)
        start = latency.started(self.core.cfg)
        try:
            for hook in self._pre_script:
                if not hook(ctx):
                    return ctx.outbox
        except SIPProtocolError:
            raise  # bad input: answered 400 by _handle
        except Exception:
            log.exception("internal error before request_route of a message from %s:%d", src.ip, src.port)
            self._internal_error(ctx, data, "before request_route")
            return ctx.outbox
        # Counted by kex's pre-script callback, which Kamailio runs after those of the modules
        # loaded after kex: an ACK sl absorbs (to its own reply) is not counted; one a hook hands
        # to the worker owning its transaction is counted there.
        corestats.count_request(self.core.stats, msg)
        if not self._has_request_route:
            return []
        out = self._run_request_route(ctx, data)
        latency.done(self.core.cfg, start, "request-route")
        answered = False
        for hook in self._post_script:
            try:
                answered = hook(ctx) or answered
            except Exception:
                log.exception("internal error after request_route of a message from %s:%d", src.ip, src.port)
                ctx.failed = True
        if ctx.failed:
            self._internal_error(ctx, data, "in request_route", answered)
        if out is not None:
            return out
        corestats.count_forwarded(self.core.stats, ctx.outbox)
        return ctx.outbox

    def _run_request_route(self, ctx: MessageContext, data: bytes) -> list[Outgoing | Handoff] | None:
        """Run request_route; what to send when it ended on malformed input, else None (ctx.outbox)."""
        try:
            self.engine.run_route("request", None, ctx)
        except ScriptExit:
            pass
        except ScriptDrop:
            ctx.dropped = True
            self.core.stats.inc("core:drop_requests")
        except MalformedInput as failure:
            corestats.count_malformed(self.core.stats, data, failure.exc.message)
            return self._malformed_in_function(data, ctx, failure)
        except ModuleFailure as failure:
            self._log_failure(failure)
            self.core.stats.inc("core:err_requests")
            ctx.failed = True
        except SIPProtocolError as exc:
            corestats.count_malformed(self.core.stats, data, exc.message)
            return self._malformed(data, ctx.src, exc, ctx)
        except Exception:
            log.exception("internal error in request_route of a message from %s:%d", ctx.src.ip, ctx.src.port)
            ctx.failed = True
        return None

    def _internal_error(self, ctx: MessageContext, data: bytes, where: str, answered: bool = False) -> None:
        """A bug stopped the handling of a request: count it (`core:err_internal`) and answer 500
        unless it was answered already or a module answers it (tm's transaction)."""
        self.core.stats.inc("core:err_internal")
        msg = ctx.msg
        if answered or ctx.replied is not None or not isinstance(msg, Request) or msg.method == "ACK":
            return
        src = ctx.src
        error = SIPProtocolError("internal error", status=500, can_reply=True)
        reply = error_response(data, error, reply_via_line(msg, src.ip, src.port))
        if reply is None:
            return
        log.error("internal error %s of a %s from %s:%s:%d: answered 500", where, msg.method, src.proto,
                  src.ip, src.port)
        ctx.replied = 500
        ctx.outbox.append(self._reply_to_source(reply, src))

    @staticmethod
    def _prefix_format(engine: Engine, prefix: str) -> Callable[[MessageContext], str]:
        """The core `log_prefix` as a format; a pseudo-variable no loaded module gives is a config
        error at the parameter, as in any other format string."""
        items = engine.compiled.ast.items
        pos = next((i.pos for i in items if isinstance(i, ast.CoreParam) and i.name == "log_prefix"),
                   ast.NOWHERE)
        try:
            return engine.format_text(prefix, pos)
        except LoadError as exc:
            raise ConfigError([Diagnostic(exc.pos, f"log_prefix: {exc.message}")]) from None

    def _set_log_prefix(self, ctx: MessageContext) -> None:
        """The core `log_prefix` for this message, in every line logged while it is processed."""
        if self._log_callid:
            loglevels.set_log_callid(ctx.msg.header("call-id") or "")
        if self._log_prefix is None:
            return
        try:
            set_log_prefix(self._log_prefix(ctx))  # type: ignore[misc]
        except Exception:  # a prefix that cannot be formatted for this message: none, as Kamailio
            set_log_prefix("")

    @staticmethod
    def _log_failure(failure: ModuleFailure) -> None:
        exc = failure.exc
        log.error("%s:%d: %s() failed (internal error): %s: %s", failure.pos.file, failure.pos.line,
                  failure.name, type(exc).__name__, exc)
        log.debug("traceback of the failure in %s()", failure.name, exc_info=exc)

    def _reply(self, msg: Response, src: Source) -> list[Outgoing | Handoff]:
        via = msg.via
        if via is None or (self._check_via and not forward.is_our_via(self.core, via)):
            # Kamailio checks the first Via only with check_via (-K); without, a reply another
            # server should have got is relayed to its second Via like any other
            log.info("reply %d from %s:%d: host in first via != me (%s), dropped", msg.status, src.ip,
                     src.port, via)
            return []
        ctx = MessageContext(msg, src, self.core, route_type=RouteType.CORE_ONREPLY,
                             handed_off=self._handed_off, msg_id=self.msg_no)
        if self._log_prefix is not None or self._log_callid:
            self._set_log_prefix(ctx)
        start = latency.started(self.core.cfg)
        if self._reply_key is not None and not self._handed_off:  # it ran in the worker that received it
            try:
                self.engine.run_route(*self._reply_key, ctx)
            except ScriptExit:
                pass
            except ScriptDrop:
                self.core.stats.inc("core:drop_replies")
                latency.done(self.core.cfg, start, "reply-route")
                return ctx.outbox
            except ModuleFailure as failure:
                self._log_failure(failure)
                self.core.stats.inc("core:err_replies")
                return ctx.outbox
        for hook in self._on_response:
            if not hook(ctx):
                latency.done(self.core.cfg, start, "reply-route")
                return ctx.outbox
        out = forward.relay_reply(ctx)
        if out is not None:
            ctx.outbox.append(out)
            self.core.stats.inc("core:fwd_replies")
        latency.done(self.core.cfg, start, "reply-route")
        return ctx.outbox


def _global_advertised(params: dict[str, Any]) -> tuple[str | None, int | None]:
    """The core's advertised_address and advertised_port (None when not set, 0 is not set)."""
    address = params.get("advertised_address")
    if isinstance(address, list):
        address = address[-1]
    host = address.host if isinstance(address, ast.ListenValue) else str(address) if address else None
    port = params.get("advertised_port")
    return host or None, int(port) if port else None
