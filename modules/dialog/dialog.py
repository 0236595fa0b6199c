"""The dialog module: dialogs created by dlg_manage() or the dlg_flag, followed through tm's
callbacks (replies to the INVITE) and rr's (requests within the dialog), with their timers,
profiles, variables and events. The dialogs live in a shared table (store.py)."""

from __future__ import annotations

import logging
from typing import Any

from kampy.api import (
    DLG_DIR_DOWNSTREAM,
    DLG_DIR_NONE,
    DLG_DIR_UPSTREAM,
    DLG_STATE_CONFIRMED,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_DELETED,
    DLG_STATE_EARLY,
    DLG_STATE_UNCONFIRMED,
    DLGCB_CONFIRMED,
    DLGCB_CONFIRMED_NA,
    DLGCB_CREATED,
    DLGCB_LOADED,
    DLGCB_EARLY,
    DLGCB_EXPIRED,
    DLGCB_FAILED,
    DLGCB_REQ_WITHIN,
    DLGCB_RESPONSE_FWDED,
    DLGCB_SPIRALED,
    DLGCB_TERMINATED,
    DLGCB_TERMINATED_CONFIRMED,
    TMCB_DESTROY,
    TMCB_REQUEST_IN,
    TMCB_RESPONSE_OUT,
    TMCB_RESPONSE_READY,
    CoreAPI,
    DialogInfo,
    DlgCallback,
    DlgCbParams,
    MessageContext,
    Module,
    Outgoing,
    Request,
    Response,
    RrAPI,
    SIPProtocolError,
    Source,
    TmAPI,
    TmcbParams,
    TmTransaction,
    isflagset,
    parse_uri,
)

from .cseq import DialogCseq
from .dmq import DialogReplication
from .functions import DialogFunctions
from .keepalive import DialogKeepalives
from .requests import DialogRequests
from .pvs import DialogPVs
from .rpc import DialogRpc
from .store import CALLEE, CALLER, Dialog, DialogStore
from .storage import DialogDB
from .timers import DialogTimers
from .transfer import DialogTransfer

log = logging.getLogger("kampy.dialog")

CTX_DLG = "dialog"  # ctx.local: (h_entry, h_id) of the message's dialog
CTX_DIR = "dialog_dir"
CTX_SNAPSHOT = "dialog_snapshot"  # the record as last seen (a dialog ended by this message)
CTX_VARS = "dialog_ctx"  # $dlg_ctx(...) values of this message
CTX_PENDING = "dialog_pending_profiles"

IFLAG_TIMEOUTBYE = 1 << 0  # Kamailio's DLG_IFLAG_TIMEOUTBYE
# Kamailio's DLG_FLAG_* (dflags, as dlg.list shows them)
FLAG_NEW, FLAG_CHANGED, FLAG_HASBYE, FLAG_CALLERBYE, FLAG_CALLEEBYE = 1 << 0, 1 << 1, 1 << 2, 1 << 4, 1 << 5
FLAG_CHANGED_VARS, FLAG_TM, FLAG_EXPIRED, FLAG_CHANGED_PROF = 1 << 7, 1 << 9, 1 << 10, 1 << 10
IFLAG_KA_SRC = 1 << 1
IFLAG_KA_DST = 1 << 2
IFLAG_TIMER_NORESET = 1 << 3
IFLAG_CSEQ_DIFF = 1 << 4

KNOWN_CBS = (
    DLGCB_LOADED
    | DLGCB_CREATED
    | DLGCB_FAILED
    | DLGCB_CONFIRMED_NA
    | DLGCB_CONFIRMED
    | DLGCB_REQ_WITHIN
    | DLGCB_TERMINATED
    | DLGCB_EXPIRED
    | DLGCB_EARLY
    | DLGCB_RESPONSE_FWDED
    | DLGCB_SPIRALED
    | DLGCB_TERMINATED_CONFIRMED
)


def parse_profiles(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").replace(",", ";").split(";") if p.strip()]


def check_profiles(text: str) -> None:
    for name in parse_profiles(text):
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad profile name '{name}'")


def hash_size(size: int) -> int:
    """Kamailio's mod_init: a hash_size that is no power of 2 is rounded down to one."""
    if size < 1:
        raise ValueError(f"non-positive hash_size ({size})")
    rounded = 1 << (size.bit_length() - 1)
    if rounded != size:
        log.warning("hash_size is not a power of 2 as it should be -> rounding from %d to %d", size, rounded)
    return rounded


def _tag(value: str | None) -> str:
    return value or ""


class DialogModule(
    DialogFunctions,
    DialogCseq,
    DialogTimers,
    DialogRequests,
    DialogTransfer,
    DialogKeepalives,
    DialogReplication,
    DialogPVs,
    DialogRpc,
    Module,
):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        p = params
        self.tm: TmAPI = core.api("tm")
        self.rr: RrAPI | None = core.api("rr")
        self.store = DialogStore(
            core.shared.table("dialog", 1 << 12, 1 << 24),
            hash_size(int(p["hash_size"])),
            int(p["h_id_start"]),
            int(p["h_id_step"]),
            random_start=int(p["enable_dmq"]) > 0,
        )
        self.rr_param = str(p["rr_param"])
        flag = int(p["dlg_flag"])
        if flag > 31:
            raise ValueError(f"invalid dlg_flag {flag}")
        self.dlg_flag = flag
        self.default_timeout = int(p["default_timeout"])
        if self.default_timeout <= 0:
            raise ValueError(f"0 default_timeout not accepted!! ({self.default_timeout})")
        self.early_timeout = int(p["early_timeout"])
        self.noack_timeout = int(p["noack_timeout"])
        self.end_timeout = int(p["end_timeout"])
        self.timeout_avp = core.pv_accessor(p["timeout_avp"]) if p["timeout_avp"] else None
        self.extra_hdrs = str(p["dlg_extra_hdrs"] or "")
        self.match_mode = int(p["dlg_match_mode"])
        if self.match_mode not in (0, 1, 2):
            raise ValueError(f"invalid value {self.match_mode} for dlg_match_mode (0, 1 or 2)")
        self.detect_spirals = int(p["detect_spirals"]) != 0
        self.send_bye = int(p["send_bye"]) != 0
        self.timeout_noreset = int(p["timeout_noreset"]) != 0
        self.timer_procs = int(p["timer_procs"]) > 0
        self.wait_ack = int(p["wait_ack"]) == 1
        self.keep_proxy_rr = int(p["keep_proxy_rr"])
        self.filter_mode = int(p["dlg_filter_mode"])
        self.lreq_callee_headers = str(p["lreq_callee_headers"] or "")
        self.bridge_controller = str(p["bridge_controller"])
        self.bridge_contact = str(p["bridge_contact"])
        self.ka_timer = int(p["ka_timer"])
        self.ka_interval = int(p["ka_interval"]) if self.ka_timer > 0 else 0
        self.ka_failed_limit = int(p["ka_failed_limit"])
        self.initial_cbs_inscript = int(p["initial_cbs_inscript"]) != 0
        self.enable_stats = int(p["enable_stats"]) != 0
        self.track_cseq_updates = int(p["track_cseq_updates"]) != 0
        self.ruri_format = core.formatter(str(p["ruri_pvar"]))
        self.profiles_with_value = set(parse_profiles(p["profiles_with_value"]))
        self.profiles_no_value = set(parse_profiles(p["profiles_no_value"]))
        self.callbacks: list[tuple[int, DlgCallback]] = []
        self.stat = {
            name: core.stats.register("dialog", name, no_reset=name in ("active_dialogs", "early_dialogs"))
            for name in (
                "active_dialogs",
                "early_dialogs",
                "processed_dialogs",
                "expired_dialogs",
                "failed_dialogs",
            )
        }
        self.db = DialogDB(p, self) if int(p["db_mode"]) else None
        self.tm.register_tmcb(None, None, TMCB_REQUEST_IN, self._on_request_in)
        if self.rr is not None and self.match_mode != 2:
            self.rr.register_rrcb(self._on_route)
        self.dlg_dmq = self.dmq_init(core) if int(p["enable_dmq"]) > 0 else None
        self.init_functions()

    def child_init(self, rank: int) -> None:
        if self.db is not None and rank == 1:
            self.db.load()

    def destroy(self) -> None:
        if self.db is not None and self.core.rank in (0, 1):
            self.db.flush_all()

    # ------------------------------------------------------------ the network hooks (track_cseq_updates)
    def net_data_in(self, data: bytes, src: Source) -> bytes:
        return self.cseq_received(data, src) if self.track_cseq_updates else data

    def net_data_out(self, out: Outgoing) -> Outgoing:
        return self.cseq_sent(out) if self.track_cseq_updates else out

    # ------------------------------------------------------------ statistics
    def _stat(self, name: str, by: int) -> None:
        if self.enable_stats:
            self.core.stats.inc(self.stat[name], by)

    # ------------------------------------------------------------ the API (DialogAPI)
    def register_dlgcb(self, types: int, callback: DlgCallback) -> int:
        if not types or types & ~KNOWN_CBS:
            log.error("register_dlgcb: unsupported callback types %#x", types)
            return -1
        self.callbacks.append((types, callback))
        return 0

    def get_dlg(self, ctx: MessageContext) -> DialogInfo | None:
        dlg = self.dialog_of(ctx)
        return dlg.info() if dlg is not None else None

    def get_dlg_var(self, dlg: DialogInfo, name: str) -> str | None:
        cur = self.store.get(dlg.h_entry, dlg.h_id)
        return cur.vars.get(name) if cur is not None else None

    def set_dlg_var(self, dlg: DialogInfo, name: str, value: str | None) -> int:
        def change(d: Dialog) -> None:
            if value is None:
                d.vars.pop(name, None)
            else:
                d.vars[name] = value
            d.dflags |= FLAG_CHANGED_VARS
            d.db_dirty = True

        found, _ = self.store.update(dlg.h_entry, dlg.h_id, change)
        if found is None:
            return -1
        if self.db is not None:
            self.db.changed(found)
        return 0

    def terminate_dlg(self, dlg: DialogInfo, headers: str = "") -> int:
        cur = self.store.get(dlg.h_entry, dlg.h_id)
        if cur is None:
            return -1
        return 0 if self.bye(cur, "all", headers) > 0 else -1

    def count_dialogs(self, var: str, value: str) -> int:
        return sum(1 for d in self.store.all() if d.state < DLG_STATE_DELETED and d.vars.get(var) == value)

    def run_callbacks(
        self,
        kind: int,
        dlg: Dialog,
        *,
        req: Request | None = None,
        rpl: Response | None = None,
        direction: int = DLG_DIR_NONE,
        ctx: MessageContext | None = None,
        data: object = None,
    ) -> None:
        if not self.callbacks:
            return
        info = dlg.info()
        params = DlgCbParams(req, rpl, direction, ctx, data)
        for types, callback in self.callbacks:
            if types & kind:
                try:
                    callback(info, kind, params)
                except Exception:  # another module's bug must not break the dialog
                    log.exception("dialog callback failed")

    # ------------------------------------------------------------ the message's dialog
    def attach(self, ctx: MessageContext, dlg: Dialog, direction: int = DLG_DIR_DOWNSTREAM) -> None:
        ctx.local[CTX_DLG] = (dlg.h_entry, dlg.h_id)
        ctx.local[CTX_DIR] = direction
        ctx.local[CTX_SNAPSHOT] = dlg

    def dialog_of(self, ctx: MessageContext | None, *, lookup: bool = True) -> Dialog | None:
        """The dialog of the message: the one attached (created or matched for it), else for a
        request with a To-tag or a reply the one its Call-ID and tags find (dlg_get_msg_dialog)."""
        if ctx is None:
            return None
        ident = ctx.local.get(CTX_DLG)
        if ident is not None:
            return self.store.get(*ident) or ctx.local.get(CTX_SNAPSHOT)
        if not lookup or ctx.msg is None:
            return None
        msg = ctx.msg
        callid = msg.header("Call-ID")
        if not callid or msg.from_ is None:
            return None
        ftag, ttag = _tag(msg.from_.tag), _tag(msg.to.tag if msg.to is not None else None)
        if isinstance(msg, Response):
            found = self.store.find(callid.strip(), ftag, ttag)
        else:
            found = (
                self.store.find(callid.strip(), ftag, ttag)
                if ttag
                else self.store.find(callid.strip(), ftag, None)
            )
        if found is None:
            return None
        self.attach(ctx, found[0], found[1])
        return found[0]

    def ctx_values(self, ctx: MessageContext) -> dict[str, Any]:
        return ctx.local.setdefault(CTX_VARS, {})

    def timeout_for(self, ctx: MessageContext | None) -> int:
        """get_dlg_timeout: the timeout_avp's value, else default_timeout (Kamailio 5.6 keeps
        $dlg_ctx(timeout) but never reads it)."""
        if ctx is not None and self.timeout_avp is not None:
            value = self.timeout_avp.get(ctx)
            try:
                if value is not None and int(value) > 0:
                    return int(value)
            except (TypeError, ValueError):
                log.error("timeout_avp: not an integer: %r", value)
        return self.default_timeout

    # ------------------------------------------------------------ creating a dialog
    def new_dialog(self, ctx: MessageContext, t: TmTransaction | None, run_cbs: bool) -> Dialog | None:
        """dlg_new_dialog: a dialog for the initial INVITE of `ctx` (None when it cannot be)."""
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.from_ is None or msg.to is None:
            return None
        callid = (msg.header("Call-ID") or "").strip()
        ftag = _tag(msg.from_.tag)
        if not callid or not ftag:
            log.error("failed to get dialog info: missing Call-ID or From tag")
            return None
        if self.detect_spirals:
            found = self.store.find(callid, ftag, None)
            if (
                found is not None
                and found[0].state in (DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY)
                and not found[0].tag[CALLEE]
            ):
                log.debug("spiral detected for dialog %d:%d", found[0].h_entry, found[0].h_id)
                self.attach(ctx, found[0])
                self.run_callbacks(DLGCB_SPIRALED, found[0], req=msg, direction=DLG_DIR_DOWNSTREAM, ctx=ctx)
                return found[0]
        now = int(self.core.clock.time())
        values = self.ctx_values(ctx)
        dlg = Dialog(
            self.store.entry_of(callid),
            0,
            callid,
            str(msg.from_.uri),
            str(msg.to.uri),
            str(self.ruri_format(ctx) or ctx.ruri),
        )
        dlg.tag[CALLER] = ftag
        dlg.cseq[CALLER] = (msg.header("CSeq") or "").split()[0] if msg.header("CSeq") else ""
        dlg.route_set[CALLER] = ",".join(msg.headers_named("Record-Route"))
        contact = msg.header("Contact") or ""
        dlg.contact[CALLER] = _contact_uri(contact)
        dlg.bind_addr[CALLER] = str(ctx.src.local) if ctx.src is not None and ctx.src.local else ""
        dlg.init_ts = now
        dlg.lifetime = self.timeout_for(ctx)
        dlg.sflags = int(values.get("flags", 0))
        if values.get("timeout_bye") or self.send_bye:
            dlg.iflags |= IFLAG_TIMEOUTBYE
        dlg.iflags |= int(values.get("iflags", 0))
        dlg.dflags |= FLAG_TM  # (dlg_set_tm_callbacks: tm's callbacks are set on its transaction)
        dlg.toroute_name = str(values.get("timeout_route") or "")
        dlg.vars.update(ctx.local.pop("dialog_vars", {}))
        pending = ctx.local.pop(CTX_PENDING, [])
        dlg.profiles = [[name, value] for name, value in pending]
        if pending:
            dlg.dflags |= FLAG_CHANGED_PROF
        with self.store.table.transaction():
            self.store.create(dlg)
            for name, value in dlg.profiles:
                self.store.link(dlg, name, value)
        self.attach(ctx, dlg)
        ctx.local["dialog_created"] = True
        if self.rr is not None and self.match_mode != 2:
            param = f";{self.rr_param}={_rhex(dlg.h_entry)}.{_rhex(dlg.h_id)}"
            if self.rr.add_rr_param(ctx, param) < 0:
                log.error("failed to add RR param")
        self._stat("processed_dialogs", 1)
        if run_cbs:
            self.run_callbacks(DLGCB_CREATED, dlg, req=msg, direction=DLG_DIR_DOWNSTREAM, ctx=ctx)
        else:
            ctx.local["dialog_created_nocbs"] = True
        self._watch_invite(ctx, t, dlg)
        return dlg

    def _watch_invite(self, ctx: MessageContext, t: TmTransaction | None, dlg: Dialog) -> None:
        ident = (dlg.h_entry, dlg.h_id)

        def on_tm(tr: TmTransaction, kind: int, params: TmcbParams) -> None:
            self.on_invite_event(ident, tr, kind, params)

        self.tm.register_tmcb(None if t is not None else ctx, t, TMCB_RESPONSE_READY | TMCB_DESTROY, on_tm)
        self.dmq_on_send(ctx, t, ident)


    def _on_request_in(self, t: TmTransaction, kind: int, params: TmcbParams) -> None:
        """dlg_onreq: a new transaction: the dialog of an INVITE with the dlg_flag set."""
        ctx = params.ctx
        req = params.req
        if ctx is None or req is None or req.method != "INVITE":
            return
        if req.to is not None and req.to.tag:
            within = ctx.local.get(CTX_DLG)
            if within is not None:  # a re-INVITE
                self.dmq_on_send(ctx, t, within)
            return
        if ctx.local.get(CTX_DLG) is not None:
            # made by dlg_manage(): with initial_cbs_inscript 0 its DLGCB_CREATED runs now
            if not self.initial_cbs_inscript and ctx.local.pop("dialog_created_nocbs", False):
                dlg = self.dialog_of(ctx, lookup=False)
                if dlg is not None:
                    self.run_callbacks(DLGCB_CREATED, dlg, req=req, direction=DLG_DIR_DOWNSTREAM, ctx=ctx)
            return
        if self.dlg_flag < 0 or not isflagset(ctx, self.dlg_flag):
            return
        self.new_dialog(ctx, t, True)

    # ------------------------------------------------------------ the INVITE's replies
    def on_invite_event(
        self, ident: tuple[int, int], t: TmTransaction, kind: int, params: TmcbParams
    ) -> None:
        """dlg_onreply: the dialog's state follows the INVITE's replies (and its end)."""
        if kind == TMCB_DESTROY:
            code = 0
            ended = self.store.get(*ident)
            if ended is not None and ended.state == DLG_STATE_DELETED:
                self.store.remove(ended)  # wait_ack: the failed dialog goes with its transaction
                return
        else:
            code = params.code
            if code < 101 and kind != TMCB_DESTROY:
                return
        rpl = params.rpl
        now = int(self.core.clock.time())

        def change(d: Dialog) -> Any:
            old = d.state
            if kind == TMCB_DESTROY:
                new = DLG_STATE_DELETED if old in (DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY) else old
            elif code < 200:
                new = DLG_STATE_EARLY if old in (DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY) else old
            elif code < 300:
                new = DLG_STATE_CONFIRMED_NA if old in (DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY) else old
            else:
                new = DLG_STATE_DELETED if old in (DLG_STATE_UNCONFIRMED, DLG_STATE_EARLY) else old
            if new == old:
                return False
            d.state = new
            if rpl is not None and new in (DLG_STATE_EARLY, DLG_STATE_CONFIRMED_NA):
                self._callee_leg(d, rpl)
            if new == DLG_STATE_CONFIRMED_NA:
                d.start_ts = now
                d.timeout = now + d.lifetime
                d.dflags |= FLAG_NEW
            elif new == DLG_STATE_DELETED:
                d.end_ts = now
            d.db_dirty = True
            return old

        dlg, old = self.store.update(ident[0], ident[1], change)
        if dlg is None or not old:
            return
        self.dmq_state(dlg, old)
        rctx = params.ctx or (self.tm.t_context(t) if self.callbacks else None)
        req = t.request
        if dlg.state == DLG_STATE_EARLY:
            self.run_callbacks(DLGCB_EARLY, dlg, req=req, rpl=rpl, direction=DLG_DIR_UPSTREAM, ctx=rctx)
            self._stat("early_dialogs", 1)
        elif dlg.state == DLG_STATE_CONFIRMED_NA:
            self.event_route("dialog:start", dlg, rctx)
            self.run_callbacks(
                DLGCB_CONFIRMED_NA, dlg, req=req, rpl=rpl, direction=DLG_DIR_UPSTREAM, ctx=rctx
            )
            if old == DLG_STATE_EARLY:
                self._stat("early_dialogs", -1)
            self._stat("active_dialogs", 1)
            if self.db is not None:
                self.db.changed(dlg)
        elif dlg.state == DLG_STATE_DELETED:
            self.event_route("dialog:failed", dlg, rctx)
            self.run_callbacks(DLGCB_FAILED, dlg, req=req, rpl=rpl, direction=DLG_DIR_UPSTREAM, ctx=rctx)
            if old == DLG_STATE_EARLY:
                self._stat("early_dialogs", -1)
            self._stat("failed_dialogs", 1)
            if not self.wait_ack or kind == TMCB_DESTROY:
                self.store.remove(dlg)
            else:
                self.store.unlink_all(dlg)

    def _callee_leg(self, d: Dialog, rpl: Response) -> None:
        d.tag[CALLEE] = _tag(rpl.to.tag if rpl.to is not None else None)
        d.cseq[CALLEE] = "0"  # (populate_leg_info: the callee has sent no request yet)
        d.contact[CALLEE] = _contact_uri(rpl.header("Contact") or "")
        rrs = [v.strip() for h in rpl.headers_named("Record-Route") for v in _split_rr(h)]
        ours = [i for i, v in enumerate(rrs) if self._is_myself_rr(v)]
        callee_side = rrs[: ours[0]] if ours else []
        if self.keep_proxy_rr & 1 and ours:
            callee_side = rrs[: ours[-1] + 1]
        d.route_set[CALLEE] = ",".join(reversed(callee_side))
        if self.keep_proxy_rr & 2 and ours:
            d.route_set[CALLER] = ",".join(rrs[ours[0] :])
        if not d.bind_addr[CALLEE]:
            d.bind_addr[CALLEE] = d.bind_addr[CALLER]

    def _is_myself_rr(self, value: str) -> bool:
        try:
            uri = parse_uri(_contact_uri(value))
        except SIPProtocolError:
            return False
        return self.core.is_myself(uri.host.strip("[]"), uri.port)

    # ------------------------------------------------------------ requests within the dialog
    def _on_route(self, ctx: MessageContext, params: str) -> None:
        """dlg_onroute, from rr's callback: a request within a dialog that loose_route() routes."""
        if ctx.local.get(CTX_DLG) is not None:
            return
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.to is None or not msg.to.tag:
            return
        found = None
        did = None
        for part in params.split(";"):
            name, eq, value = part.partition("=")
            if name.strip() == self.rr_param and eq:
                did = value.strip()
        if did is not None and self.match_mode != 2:
            found = self._by_did(msg, did)
        if found is None and self.match_mode != 0:
            found = self._by_tags(msg)
        if found is not None:
            self.within(ctx, found[0], found[1])

    def _by_did(self, msg: Request, did: str) -> tuple[Dialog, int] | None:
        entry, _, ident = did.partition(".")
        try:
            h_entry, h_id = int(entry[::-1], 16), int(ident[::-1], 16)
        except ValueError:
            log.warning("bad dialog id '%s'", did)
            return None
        dlg = self.store.get(h_entry, h_id)
        if dlg is None:
            return None
        callid = (msg.header("Call-ID") or "").strip()
        ftag, ttag = _tag(msg.from_.tag if msg.from_ else None), _tag(msg.to.tag if msg.to else None)
        if dlg.callid != callid:
            return None
        if dlg.tag[CALLER] == ftag and (dlg.tag[CALLEE] in ("", ttag)):
            return dlg, DLG_DIR_DOWNSTREAM
        if dlg.tag[CALLER] == ttag and dlg.tag[CALLEE] == ftag:
            return dlg, DLG_DIR_UPSTREAM
        return None

    def _by_tags(self, msg: Request) -> tuple[Dialog, int] | None:
        callid = (msg.header("Call-ID") or "").strip()
        ftag, ttag = _tag(msg.from_.tag if msg.from_ else None), _tag(msg.to.tag if msg.to else None)
        return self.store.find(callid, ftag, ttag) if callid else None

    def within(self, ctx: MessageContext, dlg: Dialog, direction: int) -> None:
        """The state machine for a request within the dialog (BYE, ACK, the others)."""
        msg = ctx.msg
        assert isinstance(msg, Request)
        self.attach(ctx, dlg, direction)
        if self.track_cseq_updates:
            self.cseq_refresh(msg, self.store.get(dlg.h_entry, dlg.h_id) or dlg, direction)
        method = msg.method
        now = int(self.core.clock.time())
        cseq = (msg.header("CSeq") or "").split()
        leg = CALLER if direction == DLG_DIR_DOWNSTREAM else CALLEE
        lifetime = self.timeout_for(ctx)

        def change(d: Dialog) -> Any:
            old = d.state
            if method == "BYE":
                if old not in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA):
                    return False
                d.state = DLG_STATE_DELETED
                d.end_ts = now
                d.timeout = 0
                d.dflags |= FLAG_HASBYE
                return old
            if method not in ("ACK", "PRACK", "CANCEL") and cseq:
                d.cseq[leg] = cseq[0]
                d.dflags |= FLAG_CHANGED
            if method == "ACK" and old == DLG_STATE_CONFIRMED_NA:
                d.state = DLG_STATE_CONFIRMED
                self.ka_add(d, now)
            if d.state in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA):
                if lifetime != self.default_timeout:
                    d.lifetime = lifetime
                if not (d.iflags & IFLAG_TIMER_NORESET or self.timeout_noreset) or d.state != old:
                    d.timeout = now + d.lifetime
                    d.dflags |= FLAG_CHANGED
            d.db_dirty = True
            return old

        cur, old = self.store.update(dlg.h_entry, dlg.h_id, change)
        if cur is None or old is None:
            return
        self.dmq_state(cur, old)
        ctx.local[CTX_SNAPSHOT] = cur
        if method == "BYE":
            self.terminated(cur, old, ctx=ctx, req=msg, direction=direction)
            ident_info = cur

            def on_bye(t: TmTransaction, kind: int, params: TmcbParams) -> None:
                if params.code >= 200:
                    final = self.store.get(ident_info.h_entry, ident_info.h_id) or ident_info
                    self.run_callbacks(
                        DLGCB_TERMINATED_CONFIRMED,
                        final,
                        req=t.request,
                        rpl=params.rpl,
                        direction=direction,
                        ctx=params.ctx or self.tm.t_context(t),
                    )
                    self.store.remove(final)

            self.tm.register_tmcb(ctx, None, TMCB_RESPONSE_OUT, on_bye)
            return
        if method == "ACK" and old == DLG_STATE_CONFIRMED_NA and cur.state == DLG_STATE_CONFIRMED:
            self.run_callbacks(DLGCB_CONFIRMED, cur, req=msg, direction=direction, ctx=ctx)
        elif method != "ACK":
            self.run_callbacks(DLGCB_REQ_WITHIN, cur, req=msg, direction=direction, ctx=ctx)
        if self.db is not None:
            self.db.changed(cur)

    def terminated(
        self,
        dlg: Dialog,
        old: int,
        *,
        ctx: MessageContext | None = None,
        req: Request | None = None,
        direction: int = DLG_DIR_NONE,
    ) -> None:
        """The dialog ended by a BYE (received, or sent by dlg_bye / the timer / an RPC)."""
        self.event_route("dialog:end", dlg, ctx)
        self.run_callbacks(DLGCB_TERMINATED, dlg, req=req, direction=direction, ctx=ctx)
        self._stat("active_dialogs", -1)
        self.store.unlink_all(dlg)  # out of its profiles now; the record goes with the BYE's answer
        if self.db is not None:
            self.db.removed(dlg)

    # ------------------------------------------------------------ event routes
    def event_route(self, name: str, dlg: Dialog, ctx: MessageContext | None) -> None:
        if not self.core.has_route("event", name):
            return
        run_ctx = ctx if ctx is not None else self.core.faked_context()
        saved = (run_ctx.local.get(CTX_DLG), run_ctx.local.get(CTX_SNAPSHOT))
        self.attach(run_ctx, dlg, run_ctx.local.get(CTX_DIR, DLG_DIR_DOWNSTREAM))
        try:
            self.core.run_event_route(name, run_ctx)
        finally:
            if saved[0] is not None and ctx is not None:
                run_ctx.local[CTX_DLG], run_ctx.local[CTX_SNAPSHOT] = saved


def _rhex(n: int) -> str:
    return format(n, "x")[::-1]


def _contact_uri(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value[value.index("<") + 1 : value.index(">")] if ">" in value else value
    return value.split(";")[0].strip()


def _split_rr(value: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in value:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts
