"""rtpengine: media relaying through Sipwise rtpengine over its ng control protocol."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kampy.api import (
    FL_SDP_BODY,
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    PVar,
    Request,
    RouteType,
    TmAPI,
    avp_get,
    avp_param_name,
    check_table_version,
    db_connect,
    message_sdp,
    parse_pv,
)

from . import bencode as b
from . import stats
from .calltable import CallTable
from .flags import FlagError
from .nodes import RECHECK_MAX, Node, Registry, SockError, parse_sock, url_problem
from .request import (
    ANSWER,
    DELETE,
    OFFER,
    PLAY_MEDIA,
    QUERY,
    NgRequest,
    RequestError,
    build,
    next_via_branch,
)
from .handlers import HandlersMixin
from .rpc import RpcMixin
from .selection import Selector, Tuning
from .transport import Transport

log = logging.getLogger("kampy.rtpengine")

SESSION_LIMIT = "Parallel session limit reached"
OUT_OF_PORTS = "Ran out of ports"
MANAGED = {"INVITE", "ACK", "CANCEL", "BYE", "UPDATE", "PRACK"}
TABLE_VERSION = 1
_STATE = "rtpengine.msg"


class RtpengineError(Exception):
    """A command failed (logged where it happened); the function returns -1."""


class MsgState:
    """The sets chosen for one message (set_rtpengine_set, setid_avp) and the SDP of the first
    set of a daisy chain: Kamailio keeps them in static variables tied to the message's id."""

    def __init__(self) -> None:
        self.set1: int | None = None
        self.set2: int | None = None
        self.active: int | None = None
        self.current = False  # a set was chosen for this message (Kamailio's current_msg_id)
        self.intermediate: bytes | None = None


class RtpengineModule(HandlersMixin, RpcMixin, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        wsapi = str(params["wsapi"] or "")
        if wsapi and wsapi.lower() != "lwsc":
            raise ValueError(f"unsupported WS API: {wsapi}")
        self.ws_loaded = wsapi.lower() == "lwsc"
        self.tuning = Tuning(int(params["rtpengine_disable_tout"]), int(params["aggressive_redetection"]),
                             int(params["queried_nodes_limit"]), int(params["rtpengine_allow_op"]),
                             int(params["hash_algo"]))
        self.setid_default = int(params["setid_default"])
        self.tm: TmAPI | None = core.api("tm")
        size = 1 << max(6, (max(int(params["hash_table_size"]), 1) - 1).bit_length())
        self.registry = Registry(core.shared.table("rtpengine", 1 << 10, 1 << 20))
        self.calls = CallTable(core.shared.table("rtpengine.calls", size, 1 << 22),
                               int(params["hash_table_tout"]))
        self.transport = Transport(core.server_id, int(params["rtpengine_tout_ms"]),
                                   int(params["rtpengine_retr"]), int(params["control_cmd_tos"]),
                                   params["force_send_interface"] or None)
        self.selector = Selector(self.registry, self.transport, self.calls, self.tuning, self.now)
        self.built_version = -1
        self._msgs: dict[int, tuple[Any, MsgState]] = {}
        self.db_url = str(params["db_url"] or "")
        self._load_nodes(params)
        if not self.registry.has_set(self.setid_default):
            log.info("Default rtpp set %s NOT found", self.setid_default)
        self.rtp_inst = self._var(params["rtp_inst_pvar"], ("avp", "xavp", "var"), "Invalid pvar name")
        self.extra_id = core.formatter(str(params["extra_id_pv"])) if params["extra_id_pv"] else None
        setid_avp = params["setid_avp"]
        self.setid_avp = avp_param_name(setid_avp, f"malformed or non AVP definition <{setid_avp}>")
        self.write_sdp = self._var(params["write_sdp_pv"], ("avp", "var"),
                                   "write_sdp_pv: not a valid AVP or VAR definition")
        self.read_sdp = self._var(params["read_sdp_pv"], ("avp", "var"),
                                  "read_sdp_pv: not a valid AVP or VAR definition")
        self.media_duration = self._var(params["media_duration"], ("avp", "var"),
                                        "media_duration_pv: not a valid AVP or VAR definition")
        self.mos = self._mos_sides(params)

    # ------------------------------------------------------------------ set-up

    def now(self) -> int:
        return int(self.core.clock.monotonic())

    def _var(self, value: Any, classes: tuple[str, ...], error: str) -> Any:
        if not value:
            return None
        try:
            spec = parse_pv(str(value))
        except ValueError as exc:
            raise ValueError(f"{error} <{value}>") from exc
        if not isinstance(spec, PVar) or spec.cls not in classes:
            raise ValueError(f"{error} <{value}>")
        return self.core.pv_accessor(spec)

    def _mos_sides(self, params: dict[str, Any]) -> list[stats.SideStats]:
        sides = []
        for side in stats.SIDES:
            found = stats.SideStats()
            if side and params[f"mos_{side}_label_pv"]:
                found.label = self.core.formatter(str(params[f"mos_{side}_label_pv"]))
            for group in stats.GROUPS:
                for figure in stats.FIGURES:
                    name = stats.param_name(group, figure, side)
                    if name in params and params[name]:
                        found.pvs[(group, figure)] = self._setter(str(params[name]))
            sides.append(found)
        return sides

    def _setter(self, text: str) -> Callable[[MessageContext, str], None]:
        accessor = self.core.pv_accessor(text.strip())
        if not hasattr(accessor, "set"):
            raise ValueError(f"malformed PV string: {text}")
        return lambda ctx, value: accessor.set(ctx, value)

    def _load_nodes(self, params: dict[str, Any]) -> None:
        if not self.registry.once(b"nodes"):
            return
        if self.db_url:
            log.info("Loading rtpengine definitions from DB")
            self.load_db()
            return
        for value in params["rtpengine_sock"] or ():
            try:
                found = parse_sock(str(value), self.setid_default)
            except SockError as exc:
                raise ValueError(str(exc)) from exc
            if found is None:
                continue
            setid, entries = found
            self.registry.add_set(setid)
            for url, weight in entries:
                problem = url_problem(url, self.ws_loaded)
                if problem:
                    log.warning("%s", problem)
                    continue
                self.registry.add(setid, url, weight, False, self.now())
        self.registry.bump_version()

    def load_db(self) -> None:
        """init_rtpengine_db: the nodes of the rtpengine table (the others hidden)."""
        p = self.params
        try:
            with db_connect(self.db_url) as db:
                check_table_version(db, str(p["table_name"]), TABLE_VERSION)
                rows = db.query(str(p["table_name"]), columns=[str(p["setid_col"]), str(p["url_col"]),
                                                                str(p["weight_col"]), str(p["disabled_col"])])
        except DBError as exc:
            raise ValueError(f"error while loading rtpengine instances from database: {exc}") from exc
        self.registry.hide_all()
        if not rows:
            log.warning("No rtpengine instances in database")
        for setid, url, weight, disabled in rows:
            url = str(url)
            problem = url_problem(url, self.ws_loaded)
            if problem:
                log.warning("%s", problem)
                continue
            self.registry.add(int(setid), url, int(weight), bool(disabled), RECHECK_MAX if disabled else 0)
        self.registry.bump_version()

    def child_init(self, rank: int) -> None:
        self.transport.rebuild()
        self.built_version = -1
        self.build(test=rank == 1)

    def build(self, test: bool) -> None:
        """build_rtpp_socks: new control sockets when the node list changed; with `test`, every
        node pinged (in the first worker at start-up, and for the RPC commands)."""
        version = self.registry.version
        if version == self.built_version:
            return
        self.transport.rebuild()
        self.built_version = version
        if test:
            for node in self.registry.nodes():
                node.disabled = self.selector.test(node, False, True)
                self.registry.set_state(node.idx, node.disabled)

    def destroy(self) -> None:
        self.transport.close()

    def expire_calls(self) -> None:
        """The timer: entries of the call table whose hash_table_tout passed are dropped."""
        if self.core.rank == 1:
            self.calls.expire(self.now())

    # ------------------------------------------------------------------ per message state

    def state(self, ctx: MessageContext) -> MsgState:
        """The message's sets; the same for every route that handles this message object."""
        msg = ctx.msg
        held = self._msgs.get(id(msg))
        if held is not None and held[0] is msg:
            return held[1]
        if len(self._msgs) > 64:
            self._msgs.clear()
        state = MsgState()
        self._msgs[id(msg)] = (msg, state)
        return state

    # ------------------------------------------------------------------ one command

    def call(self, ctx: MessageContext, op: str, flags: str | None,
             setid: int | None) -> tuple[Any, NgRequest]:
        """rtpp_function_call: the decoded reply of a successful command (RtpengineError else)."""
        state = self.state(ctx)
        read_sdp = None
        if self.read_sdp is not None and op in (OFFER, ANSWER):
            value = self.read_sdp.get(ctx)
            if value is None:
                raise RtpengineError("error getting pvar value")
            read_sdp = str(value).encode("utf-8", "surrogateescape")
        try:
            req = build(ctx, op, flags, state.intermediate, read_sdp, self.viabranch)
        except (RequestError, FlagError) as exc:
            log.error("%s", exc)
            raise RtpengineError(str(exc)) from exc
        active = setid if setid is not None else self.setid_default
        queried: list[int] = []
        command = b.encode_pairs(req.pairs)
        self.build(test=False)
        while True:
            node, reply = self._send(active, req, command, queried)
            if self.rtp_inst is not None:
                self.rtp_inst.set(ctx, node.url)
            result = b.text(b.get(reply, "result"))
            if result is None:
                log.error("No 'result' dictionary entry in response from proxy %s", node.url)
                raise RtpengineError("no result")
            if result == "load limit":
                message = b.text(b.get(reply, "message"))
                log.info("proxy %s has reached its load limit%s - trying next one", node.url,
                         f" ({message})" if message else "")
                continue
            if result == "error":
                reason = b.text(b.get(reply, "error-reason"))
                if reason is None:
                    log.error("proxy return error but didn't give an error reason")
                elif reason in (SESSION_LIMIT, OUT_OF_PORTS):
                    log.warning("proxy %s: %s", node.url, reason)
                    continue
                else:
                    log.error("proxy replied with error: %s", reason)
                raise RtpengineError(reason or "error")
            break
        now = self.now()
        delete = req.op == DELETE
        if self.calls.lookup(req.callid, req.viabranch, delete, now) is None:
            self.calls.insert(req.callid, req.viabranch, node.idx, now)
        if delete:
            self.calls.remove(req.callid, req.viabranch, delete, now)
        return reply, req

    def _send(self, active: int, req: NgRequest, command: bytes, queried: list[int]) -> tuple[Node, Any]:
        while True:
            if len(queried) >= self.tuning.queried_nodes_limit:
                log.error("queried nodes limit reached")
                raise RtpengineError("queried nodes limit reached")
            if not self.registry.has_set(active):
                log.error("script error - no valid set selected")
                raise RtpengineError("no set")
            node = self.selector.select(active, req.callid, req.viabranch, req.op == DELETE, queried)
            if node is None:
                log.error("no available proxies")
                raise RtpengineError("no available proxies")
            raw = self.transport.send(node, command, req.op)
            queried.append(node.idx)
            if raw is None:
                if node.recheck != RECHECK_MAX:
                    self.registry.set_state(node.idx, True, self.now() + self.tuning.disable_tout)
                continue
            try:
                reply = b.decode(raw)
            except b.BencodeError as exc:
                log.error("failed to decode bencoded reply from proxy: %s", raw[:200])
                raise RtpengineError("undecodable reply") from exc
            if not isinstance(reply, dict):
                log.error("failed to decode bencoded reply from proxy: %s", raw[:200])
                raise RtpengineError("undecodable reply")
            return node, reply

    def viabranch(self, ctx: MessageContext, how: int) -> str | None:
        msg = ctx.msg
        if how in (1, 2):
            vias = msg.vias
            return vias[how - 1].branch if len(vias) >= how else None
        if how == -1:
            return self.extra_id(ctx) if self.extra_id is not None else None
        if how == -2:
            t = self.tm.t_gett(ctx) if self.tm is not None else None
            return next_via_branch(msg, len(t.branches) if t is not None else 0)
        return None

    def ok(self, ctx: MessageContext, op: str, flags: str | None, setid: int | None) -> tuple[Any, NgRequest]:
        """rtpp_function_call_ok: the reply, which must say `ok`."""
        reply, req = self.call(ctx, op, flags, setid)
        if b.text(b.get(reply, "result")) != "ok":
            log.error("proxy didn't return \"ok\" result")
            raise RtpengineError("not ok")
        return reply, req

    # ------------------------------------------------------------------ sets

    def wrap(self, ctx: MessageContext, func: Callable[[MessageContext, int | None, bool], int],
             direction: int) -> int:
        """rtpengine_rtpp_set_wrap: run `func(ctx, set, more)` with the message's set, and again with
        the second set of a daisy chain."""
        state = self.state(ctx)
        state.intermediate = None
        try:
            setid = self._set_for(ctx, state, direction)
            more = state.set2 is not None and state.set2 != state.set1 and state.current
            ret = func(ctx, setid, more)
            if ret < 0 or not more:
                return ret
            setid = self._set_for(ctx, state, 2 if direction == 1 else 1)
            return func(ctx, setid, False)
        except RtpengineError:
            return -1
        finally:
            state.intermediate = None

    def _set_for(self, ctx: MessageContext, state: MsgState, direction: int) -> int | None:
        """set_rtpengine_set_from_avp: the setid_avp's set, else the set chosen for the direction;
        None: the default set."""
        if self.setid_avp is not None:
            value = avp_get(ctx, self.setid_avp)
            if value is not None:
                if not isinstance(value, int):
                    log.error("setid_avp must hold an integer value")
                    raise RtpengineError("setid_avp")
                if not self.registry.has_set(value):
                    log.error("could not locate engine set %s", value)
                    raise RtpengineError("no set")
                state.current = True
                return value
        if not state.current:
            return None
        return state.set1 if direction == 1 or state.set2 is None else state.set2

    # ------------------------------------------------------------------ offer, answer, delete ...

    def offer_answer(self, ctx: MessageContext, flags: str | None, op: str, setid: int | None,
                     more: bool) -> int:
        reply, req = self.ok(ctx, op, flags, setid)
        sdp = b.get(reply, "sdp")
        if not isinstance(sdp, bytes):
            log.error("failed to extract sdp body from proxy reply")
            return -1
        state = self.state(ctx)
        if more:
            state.intermediate = sdp
            return 1
        if self.write_sdp is not None:
            self.write_sdp.set(ctx, sdp.decode("utf-8", "surrogateescape"))
            return 1
        msg = ctx.msg
        current = msg.current_body
        if self.read_sdp is not None or req.body is None or req.body.span is None:
            msg.set_body(sdp)
        else:
            start, end = req.body.span
            msg.set_body(current[:start] + sdp + current[end:])
        return 1

    def delete(self, ctx: MessageContext, flags: str | None, setid: int | None, op: str = DELETE) -> int:
        reply, _ = self.ok(ctx, op, flags, setid)
        for side in self.mos:
            stats.collect(reply, side, ctx)
        return 1

    def simple(self, ctx: MessageContext, op: str, flags: str | None, setid: int | None) -> int:
        self.ok(ctx, op, flags, setid)
        return 1

    def manage(self, ctx: MessageContext, flags: str | None, setid: int | None) -> int:
        """rtpengine_manage: offer, answer or delete, by the message."""
        if ctx.route_type & RouteType.BRANCH_FAILURE:
            return 1
        msg = ctx.msg
        if msg.cseq is None:
            log.error("no CSEQ header")
            return -1
        method = msg.cseq.method.upper()
        if method not in MANAGED:
            return -1
        if method in ("CANCEL", "BYE"):
            return self.delete(ctx, flags, setid)
        nosdp = 0 if msg.msg_flags & FL_SDP_BODY else message_sdp(msg.body, msg.header("content-type"))[0]
        if isinstance(msg, Request):
            if method in ("ACK", "PRACK") and nosdp == 0:
                return self.offer_answer(ctx, flags, ANSWER, setid, False)
            if method == "UPDATE" and nosdp == 0:
                return self.offer_answer(ctx, flags, OFFER, setid, False)
            if method == "INVITE" and nosdp == 0:
                msg.msg_flags |= FL_SDP_BODY
                request = self.tm.transaction_request(ctx) if self.tm is not None else None
                if request is not None:
                    request.msg_flags |= FL_SDP_BODY
                if ctx.route_type & RouteType.FAILURE:
                    return self.delete(ctx, flags, setid)
                return self.offer_answer(ctx, flags, OFFER, setid, False)
            return -1
        if msg.status >= 300:
            return self.delete(ctx, flags, setid)
        if nosdp == 0:
            if method == "UPDATE":
                return self.offer_answer(ctx, flags, ANSWER, setid, False)
            request = self.tm.transaction_request(ctx) if self.tm is not None else None
            if request is None or request.msg_flags & FL_SDP_BODY:
                return self.offer_answer(ctx, flags, ANSWER, setid, False)
            return self.offer_answer(ctx, flags, OFFER, setid, False)
        return -1

    def play_media_cmd(self, ctx: MessageContext, flags: str | None, setid: int | None) -> int:
        reply, _ = self.ok(ctx, PLAY_MEDIA, flags, setid)
        if self.media_duration is not None:
            self.media_duration.set(ctx, str(b.get_int(reply, "duration", -1)))
        return 1

    def query_stats(self, ctx: MessageContext, flags: str | None, setid: int | None) -> int:
        return self.delete(ctx, flags, setid, QUERY)

    def query_reply(self, ctx: MessageContext, setid: int | None) -> Any:
        return self.ok(ctx, QUERY, None, setid)[0]
