"""Run a kamailio.cfg in-process for a test: messages in, everything it did out, on a fake clock.

    sip = Harness.load("kamailio.cfg", defines={"WITH_DEBUG": None})
    bob = sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=405)
    bob.register()
    result = sip.send_request("MESSAGE", "sip:bob@example.test", from_="sip:alice@example.test", body="hi")
    result.assert_reply(202)
    sip.advance(3600)

No sockets: what the server sends to a simulated UA is answered by it and fed back through
`Server.handle`, what it sends to its own address loops back into it, and the rest is recorded.
"""
from __future__ import annotations

import atexit
import copy
import functools
import heapq
import itertools
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from kampy.config import ast
from kampy.config.compile import CompiledConfig, compile_config
from kampy.config.lacking import lacking_functions
from kampy.config.pipeline import parse_preprocessed
from kampy.config.preprocess import preprocess_file, preprocess_text
from kampy.runtime.context import Handoff, MessageContext, Outgoing, Socket, Source
from kampy.runtime.server import Server
from kampy.runtime.sockets import sockets_from_config, split_address
from kampy.sip.message import Request, parse_message
from kampy.testing import standins as st
from kampy.testing.address import AddressLike, format_address, parse_address
from kampy.testing.clock import FakeClock
from kampy.testing.db import Tables
from kampy.testing.dialog import Dialog
from kampy.testing.messages import RequestSpec, Sent, raw_message, response_to
from kampy.testing.result import Call, Result, RouteRun
from kampy.testing.messages import AnswerSpec
from kampy.testing.ua import UserAgent

log = logging.getLogger("kampy.testing")

DEFAULT_SOURCE = "192.0.2.10:5060"
DEFAULT_FROM = "sip:alice@example.test"
MAX_MESSAGES_PER_STEP = 10_000
Headers = Mapping[str, str] | list[tuple[str, str]]


class MessageLoop(RuntimeError):
    """The server kept sending messages to itself or to UAs that answer back without end."""


def read_config(cfg: str | Path, defines: Mapping[str, str | None] | None) -> ast.Config:
    """A config from a file path or from its text (a string with a newline is text)."""
    if isinstance(cfg, Path) or "\n" not in cfg:
        path = Path(cfg)
        if not path.is_file():
            raise FileNotFoundError(f"no config file {path} (pass the config's text, with newlines, "
                                    "to load it from a string)")
        return parse_preprocessed(preprocess_file(path, defines), str(path))
    return parse_preprocessed(preprocess_text(cfg, "<test cfg>", defines), "<test cfg>")


class Harness:
    """One config under test: a `Server` on a `FakeClock`, simulated UAs, and a record of every
    step. Build it with `Harness.load(...)` (or the `kampy_cfg` fixture)."""

    def __init__(self, compiled: CompiledConfig, *, clock: FakeClock | None = None,
                 sockets: list[Socket], aliases: list[tuple[str, int | None]],
                 db_url: str | None = None, standin_calls: st.StandInCalls | None = None,
                 cleanup: Callable[[], None] | None = None) -> None:
        self.compiled = compiled
        self.clock = clock or FakeClock()
        self.db_url = db_url
        self.standin_calls = standin_calls or st.StandInCalls()
        self.sent: list[Sent] = []
        self.history: list[Result] = []
        self._uas: dict[tuple[str, int], UserAgent] = {}
        self._events: list[tuple[float, int, Callable[[], list[Any]]]] = []
        self._seq = itertools.count()
        self._conn_ids: dict[tuple[str, str, int], int] = {}
        self._step: Result | None = None
        self._cleanup = cleanup
        self._tables: Tables | None = None
        self._closed = False
        try:
            self.server = Server.from_config(compiled, sockets=sockets, aliases=aliases, clock=self.clock,
                                             tracer=self._trace)
        except BaseException:
            self._run_cleanup()
            raise
        self.core = self.server.core
        try:
            self.server.child_init(1)
        except BaseException:
            self.close()  # no harness is returned: delete its shared store and files now
            raise

    # ------------------------------------------------------------ building

    @classmethod
    def load(cls, cfg: str | Path, *, defines: Mapping[str, str | None] | None = None,
             modparams: Mapping[str, Mapping[str, Any]] | None = None,
             standins: Mapping[str, st.StandIn] | None = None, db: str | None = "sqlite",
             workdir: str | Path | None = None, listen: Iterable[str] | None = None,
             aliases: Iterable[str] = (), clock: FakeClock | None = None) -> Harness:
        """Load a config (a path, or its text) as `kampy run` would, for a test.

        Where it listens: the config's `listen=` lines (no socket is opened), else 127.0.0.1:5060
        over UDP and TCP, as `kampy run`; `listen=["udp:192.0.2.1:5060"]` replaces them (as
        `kampy run -l`), `aliases=["example.test"]` adds to its `alias=` lines (what `myself` matches).
        `defines`: `-A` names (`{"WITH_MYSQL": None, "DBURL": '"mysql://..."'}`).
        `modparams`: `{"msilo": {"expire_time": 60}}`, applied over the config's modparam lines (a
        parameter set several times gets one more value; a list replaces the config's values).
        `standins`: what the config uses that kampy lacks, stood in: whole modules
        (`{"htable": stand_in(pvars=...)}`) or single functions (`{"pike_check_req": 1}`); a
        config using anything else kampy lacks is refused (StandInError lists all of it).
        `db`: "sqlite" (default) points every module's `db_url` at a new SQLite file with
        Kamailio's tables (not an empty one: a module without a database stays so); a URL uses
        that database; None keeps the config's `db_url`.
        """
        owned = workdir is None
        work = Path(tempfile.mkdtemp(prefix="kampy-test-")) if workdir is None else Path(workdir)
        try:
            config = read_config(cfg, defines)
            record = st.StandInCalls()
            compiled = _compile(config, dict(standins or {}), record)
            db_url = _database(compiled, db, work, modparams or {})
            _apply_modparams(compiled, modparams or {})
            sockets, names = sockets_from_config(compiled, list(listen) if listen is not None else None)
            names += [_alias(a) for a in aliases]
        except BaseException:
            if owned:
                shutil.rmtree(work, ignore_errors=True)
            raise
        cleanup = (lambda: shutil.rmtree(work, ignore_errors=True)) if owned else None
        return cls(compiled, clock=clock, sockets=sockets, aliases=names, db_url=db_url,
                   standin_calls=record, cleanup=cleanup)

    def close(self) -> None:
        """Shut the modules down (`destroy`), delete the server's private shared store (the
        `kampy-shared-*` files in /dev/shm) and remove the temporary files. Closing again does
        nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self.server.shutdown()  # closes the core's shared store, and deletes it when private
            if self._tables is not None:
                self._tables.close()
        finally:
            self._run_cleanup()

    def _run_cleanup(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ user agents

    def ua(self, aor: str, address: AddressLike, *, answer: AnswerSpec = 200,
           transport: str | None = None, password: str | None = None,
           username: str | None = None) -> UserAgent:
        """A simulated phone at `address` ("192.0.2.20:5062", "tcp:192.0.2.20:5062"): what the server
        sends there is answered per `answer` (see `kampy.testing.ua`). Call `.register()` on it;
        with a `password` (and `username`, by default the AOR's user) it answers 401/407 challenges."""
        proto, host, port = parse_address(address, transport)
        agent = UserAgent(self, aor, proto, host, port, answer, password=password, username=username)
        self._uas[(host, port)] = agent
        return agent

    def ua_at(self, address: AddressLike) -> UserAgent | None:
        _, host, port = parse_address(address)
        return self._uas.get((host, port))

    def invite(self, ruri: str, *, from_: str | None = None, src: AddressLike = DEFAULT_SOURCE,
               transport: str | None = None, **kwargs: Any) -> Dialog:
        """Place a call from the phone at `src` (made, as `from_` or alice, if there is none): see
        `UserAgent.invite` and `kampy.testing.dialog`."""
        proto, host, port = parse_address(src, transport)
        caller = self._uas.get((host, port)) or self.ua(from_ or DEFAULT_FROM, (host, port), transport=proto)
        if from_ is not None:
            kwargs["from_"] = from_
        return caller.invite(ruri, **kwargs)

    def incoming_invites(self, call_id: str, from_tag: str) -> list[tuple[UserAgent, Any]]:
        """(phone, its server transaction) for each initial INVITE of a call a phone got, in order."""
        found = [(ua, pending) for ua in self._uas.values()
                 for pending in ua.incoming_invites(call_id, from_tag)]
        return sorted(found, key=lambda item: item[1].order)

    # ------------------------------------------------------------ sending

    def send_request(self, method: str, ruri: str, *, from_: str = DEFAULT_FROM, to: str | None = None,
                     body: bytes | str = b"", headers: Headers | None = None,
                     src: AddressLike = DEFAULT_SOURCE, transport: str | None = None,
                     **fields: Any) -> Result:
        """Build a request from a few parts and send it in from `src` over `transport` ("udp",
        "tcp"). Other fields: call_id, cseq, from_tag, to_tag, contact, max_forwards (None: no
        header), content_type, branch."""
        proto, host, port = parse_address(src, transport)
        data = body.encode() if isinstance(body, str) else body
        spec = RequestSpec(method.upper(), ruri, from_, to, data, headers or {}, **fields)
        return self._send(spec.build(host, port, proto), proto, host, port, f"{method.upper()} {ruri}")

    def send(self, message: str | bytes, *, src: AddressLike = DEFAULT_SOURCE,
             transport: str | None = None) -> Result:
        """Send raw SIP in: bytes exactly as given; text with its indentation removed, CRLF line
        ends and a Content-Length when it has none."""
        proto, host, port = parse_address(src, transport)
        data = raw_message(message)
        return self._send(data, proto, host, port, data.split(b"\r\n", 1)[0].decode("utf-8", "replace"))

    def send_from(self, agent: UserAgent, data: bytes, title: str) -> Result:
        """Send `data` in from a phone's address (what its own steps use)."""
        return self._send(data, agent.proto, agent.host, agent.port, title)

    def send_response(self, request: Sent, status: int, reason: str | None = None, *,
                      headers: Mapping[str, str] | None = None, body: bytes = b"",
                      src: AddressLike | None = None) -> Result:
        """Answer a request the server sent (by default from the address it was sent to)."""
        msg = request.msg
        assert isinstance(msg, Request), "send_response answers a request"
        data = response_to(msg, status, reason, headers=headers, body=body)
        proto, host, port = parse_address(src, request.proto) if src else (request.proto, request.host,
                                                                            request.port)
        return self._send(data, proto, host, port, f"{status} to {request.first_line}")

    def advance(self, seconds: float) -> Result:
        """Move the fake clock `seconds` ahead, firing every timer that falls due, in order (module
        timers, transaction timers, delayed UA answers); what they send reaches the UAs."""
        step = self._begin(f"advance({seconds:g}s)")
        target = self.clock.monotonic() + seconds
        for _ in range(10_000_000):
            due = self.next_due()
            if due is None or due > target:
                break
            self.clock.set_monotonic(due)
            self._run_due()
        self.clock.set_monotonic(target)
        return self._end(step)

    def next_due(self) -> float | None:
        """The monotonic time of the next timer or delayed answer, or None."""
        times = [t for t in (self.server.next_timer(), self._events[0][0] if self._events else None)
                 if t is not None]
        return min(times, default=None)

    def rpc(self, method: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Call an RPC command as kamcmd would; what it makes the server send (presence's NOTIFYs)
        goes out, as a worker sends it when the command is answered."""
        step = self._begin(f"rpc {method}")
        try:
            return self.core.rpc.call(method, params)
        finally:
            self._deliver(self.core.take_outbox())
            self._end(step)

    # ------------------------------------------------------------ state

    @property
    def listen(self) -> list[str]:
        """The addresses the server listens on, as `proto:host:port` (`udp:127.0.0.1:5060`)."""
        return [format_address(s.proto, s.host, s.port) for s in self.core.sockets]

    @property
    def aliases(self) -> list[str]:
        """The names `myself` matches besides the listen addresses (`alias=` and `aliases=`)."""
        return [host if not port else f"{host}:{port}" for host, port in self.core.aliases]

    def stat(self, name: str) -> int:
        """A statistic's value (`"msilo:stored_messages"`, `"tm:current"`)."""
        return self.core.stats.get(name)

    def module(self, name: str) -> Any:
        """A loaded module's instance."""
        return self.core.modules[name]

    @property
    def tables(self) -> Tables:
        """Read and seed the database the modules use: `sip.tables["silo"].rows()`."""
        if self._tables is None:
            if self.db_url is None:
                raise RuntimeError("this config has no database: no module with a db_url parameter")
            self._tables = Tables(self.db_url)
        return self._tables

    def stand_in_calls(self, function: str) -> list[tuple[Any, ...]]:
        """The arguments of every call of a stand-in, in order."""
        return self.standin_calls.of(function)

    def stand_in(self, module: str) -> st.StandInModule:
        """A stood-in module: its `params` (the config's modparam values) and `pvars` (class ->
        name -> value, as the config left them)."""
        found = self.standin_calls.modules.get(module)
        if found is None:
            raise KeyError(f"no stand-in for module {module!r} (stood in: "
                           f"{', '.join(self.standin_calls.modules) or 'none'})")
        return found

    # ------------------------------------------------------------ internals

    def _send(self, data: bytes, proto: str, host: str, port: int, title: str) -> Result:
        step = self._begin(title)
        step.data = data
        step.source = format_address(proto, host, port)
        try:
            step.request = parse_message(data)
        except Exception:  # noqa: BLE001 - a test may send malformed SIP on purpose
            step.request = None
        agent = self._uas.get((host, port))
        if agent is not None and isinstance(step.request, Request):
            agent.sent_request(step.request)
        self._deliver(self._handle(data, self._source(proto, host, port)))
        return self._end(step)

    def _begin(self, title: str) -> Result:
        if self._step is not None:
            raise RuntimeError("a step is already running (send from a callable answer is not allowed)")
        self._step = Result(title=title)
        return self._step

    def _end(self, step: Result) -> Result:
        self._step = None
        step.final = self._final(step)
        self.history.append(step)
        return step

    def _final(self, step: Result) -> dict[str, Any]:
        runs = [r for r in step.runs if r.route == "request_route" and r.ctx.is_request]
        req = step.request
        mine = [r for r in runs if req is not None and r.ctx.msg.call_id == req.call_id]
        chosen = (mine or runs or [None])[0]
        if chosen is None:
            return {}
        ctx = chosen.ctx
        return {"ctx": ctx, "ru": ctx.ruri, "du": ctx.dst_uri, "flags": ctx.flags,
                "avps": copy.deepcopy(ctx.avps)}

    def _trace(self, ctx: MessageContext, route: str, function: str, code: int | None) -> None:
        ctx.trace.append((route, function, code))  # type: ignore[arg-type]
        step = self._step
        if step is None:
            return
        step.trace.append(Call(route, function, code))
        if function == "":
            step.runs.append(RouteRun(route, ctx))

    def _socket(self, proto: str, host: str | None = None, port: int | None = None) -> Socket | None:
        for sock in self.core.sockets:
            if sock.proto == proto and (host is None or (sock.host, sock.port) == (host, port)):
                return sock
        return None

    def _source(self, proto: str, host: str, port: int, local: Socket | None = None) -> Source:
        sock = local or self._socket(proto) or self.core.sockets[0]
        conn_id = None
        if proto != "udp":
            conn_id = self._conn_ids.setdefault((proto, host, port), len(self._conn_ids) + 1)
        return Source(proto, host, port, sock, conn_id)

    def _handle(self, data: bytes, src: Source) -> list[Outgoing | Handoff]:
        return list(self.server.handle(data, src))

    def _deliver(self, outs: Iterable[Outgoing | Handoff]) -> None:
        queue = deque(outs)
        for _ in range(MAX_MESSAGES_PER_STEP):
            if not queue:
                return
            queue.extend(self._deliver_one(queue.popleft()))
        raise MessageLoop(f"more than {MAX_MESSAGES_PER_STEP} messages in one step: a loop?")

    def _deliver_one(self, out: Outgoing | Handoff) -> list[Outgoing | Handoff]:
        if isinstance(out, Handoff) and out.call is not None:  # one worker: its own work
            return list(self.server.handle_call(out.call, out.data))
        if isinstance(out, Handoff):  # one worker: nothing to hand over, handle it here
            assert out.src is not None
            return self._handle(out.data, out.src)
        sent = Sent.of(out, self.clock.time())
        self.sent.append(sent)
        if self._step is not None:
            self._step.sent.append(sent)
        local = self._socket(out.proto, out.host, out.port)
        if local is not None:  # to ourselves (msilo through its outbound_proxy): loop back
            sender = out.local if isinstance(out.local, Socket) else local
            return self._handle(out.data, Source(out.proto, sender.host, sender.port, local))
        agent = self._uas.get((out.host, out.port))
        if agent is None:
            return []
        result: list[Outgoing | Handoff] = []
        for delay, data in agent.receive(sent):
            if delay > 0:
                self._schedule(self.clock.monotonic() + delay, agent, data)
            else:
                result += self._from_phone(agent, data)
        return result

    def _from_phone(self, agent: UserAgent, data: bytes) -> list[Outgoing | Handoff]:
        """What a phone sends on its own (its answers, its ACKs) goes into the server and is
        recorded in the step's `from_phones`."""
        src = self._source(agent.proto, agent.host, agent.port)
        if self._step is not None:
            self._step.from_phones.append(Sent(agent.proto, src.local.host, src.local.port, data,
                                               self.clock.time()))
        return self._handle(data, src)

    def _schedule(self, when: float, agent: UserAgent, data: bytes) -> None:
        heapq.heappush(self._events, (when, next(self._seq), lambda: self._from_phone(agent, data)))

    def _run_due(self) -> None:
        now = self.clock.monotonic()
        while self._events and self._events[0][0] <= now:
            _, _, fn = heapq.heappop(self._events)
            self._deliver(fn())
        self._deliver(self.server.run_timers())


def _alias(text: str) -> tuple[str, int | None]:
    _, host, port = split_address(text)
    return host, port


def _compile(config: ast.Config, standins: dict[str, st.StandIn], record: st.StandInCalls) -> CompiledConfig:
    """Compile with the test's stand-ins in place of what kampy lacks (StandInError lists all that
    has none)."""
    chosen = st.plan(lacking_functions(config), standins, record)
    return compile_config(config, missing_module=chosen.missing.get, extra_modules=chosen.extra)


def _database(compiled: CompiledConfig, db: str | None, work: Path,
              modparams: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Point every module's `db_url` (not set by the test's modparams) at the test database; a module
    whose `db_url` is empty (no default and none in the config: rtpproxy, rtpengine) uses no
    database and is left so."""
    users = [name for name, mod in compiled.modules.items() if mod.origin != "stand-in"
             and mod.exports.param("db_url") is not None and mod.params.get("db_url")
             and "db_url" not in modparams.get(name, {})]
    if db is None or not users:
        given = [m.get("db_url") for m in modparams.values() if m.get("db_url")]
        return given[0] if given else None
    if db == "sqlite":
        path = work / "kampy.sqlite"
        shutil.copyfile(_sqlite_template(), path)  # a copy is much faster than creating the tables
        url = f"sqlite://{path}"
    else:
        url = db
        Tables.create(url)
    for name in users:
        compiled.modules[name].params["db_url"] = url
    return url


@functools.cache
def _sqlite_template() -> Path:
    """An SQLite file with Kamailio's standard tables, made once per process."""
    folder = Path(tempfile.mkdtemp(prefix="kampy-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.sqlite"
    Tables.create(f"sqlite://{path}")
    return path


def _apply_modparams(compiled: CompiledConfig, modparams: Mapping[str, Mapping[str, Any]]) -> None:
    for module, params in modparams.items():
        mod = compiled.modules.get(module)
        if mod is None:
            raise ValueError(f"modparams for {module!r}: the config does not load it "
                             f"(loaded: {', '.join(compiled.modules)})")
        for name, value in params.items():
            param = mod.exports.param(name)
            if param is None:
                known = ", ".join(p.name for p in mod.exports.params)
                raise ValueError(f"module {module} has no parameter {name!r} (it has: {known})")
            replace = param.multi and isinstance(value, list)  # the config's lines replaced
            for one in value if replace else [value]:
                if type(one) not in param.types:
                    raise ValueError(f"parameter {name!r} of module {module} takes {param.type_names()}, "
                                     f"not {type(one).__name__}")
                if param.validate is not None:
                    param.validate(one)
            if replace:
                mod.params[name] = list(value)
            else:
                mod.params[name] = [*(mod.params.get(name) or []), value] if param.multi else value
