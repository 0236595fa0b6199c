"""The uac module: From/To replacement with its restore, and authentication of requests kampy
relays (uac_auth in failure_route). uac_req_send and $uac_req are in send.py."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kampy.api import (
    DialogAPI,
    L_DBG,
    L_ERR,
    L_INFO,
    L_WARN,
    FL_USE_UAC_FROM,
    FL_USE_UAC_TO,
    TMCB_RESPONSE_IN,
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    Request,
    RouteType,
    RpcFault,
    RrAPI,
    TmAPI,
    TmcbParams,
    TmTransaction,
    avp_add,
    avp_get,
    avp_param_name,
    log_at,
    module_logger,
)

from . import digest
from .dlgrestore import DlgRestore
from .replace import (
    MAX_URI_SIZE,
    current_value,
    parse_address,
    restored_uri,
    store_value,
    with_display,
    with_name_addr,
    with_uri,
    write_value,
)
from .reg import Reg, RegTable
from .send import UacSender

log = module_logger("uac")

NO_RESTORE, MANUAL_RESTORE, AUTO_RESTORE = 0, 1, 2
RESTORE_MODES = {"none": NO_RESTORE, "manual": MANUAL_RESTORE, "auto": AUTO_RESTORE}
UACAUTH_MODE_HA1 = 1
_STATE = "uac.state"  # ctx.local: what uac did to this request (Kamailio's FL_USE_UAC_FROM/TO)


def check_restore_mode(value: Any) -> None:
    if value and str(value).lower() not in RESTORE_MODES:
        raise ValueError(f"unsupported value '{value}' for restore_mode")


def check_credential(value: Any) -> None:
    digest.parse_credential(value)


class _Marks:
    """Which headers uac replaced or restored in a request, seen by its reply callback."""

    __slots__ = ("from_", "to", "callback")

    def __init__(self) -> None:
        self.from_ = False
        self.to = False
        self.callback = False

    def mark(self, ctx: MessageContext, is_from: bool) -> None:
        """The From (or To) done, and the request's FL_USE_UAC_FROM (FL_USE_UAC_TO) set: tm builds
        the CANCELs of its INVITE from the one sent."""
        if is_from:
            self.from_ = True
        else:
            self.to = True
        ctx.msg_flags |= FL_USE_UAC_FROM if is_from else FL_USE_UAC_TO


class UacModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmAPI = core.api("tm")
        self.rr: RrAPI | None = core.api("rr")
        self.restore_mode = RESTORE_MODES[str(params["restore_mode"] or "auto").lower()]
        self.from_param = params["rr_from_store_param"] or ""
        self.to_param = params["rr_to_store_param"] or ""
        self.passwd = params["restore_passwd"] or ""
        if self.restore_mode != NO_RESTORE and (not self.from_param or not self.to_param):
            raise ValueError("rr_store_param cannot be empty if FROM is restoreable")
        self.from_avp = avp_param_name(params["restore_from_avp"], "malformed or non AVP restore_from_avp")
        self.to_avp = avp_param_name(params["restore_to_avp"], "malformed or non AVP restore_to_avp")
        self.credentials = [digest.parse_credential(v) for v in params["credential"] or []]
        self.credentials.reverse()  # Kamailio links each new one first
        self.auth_avps = self._auth_avps(params)
        self.dialog: DialogAPI | None = core.api("dialog")  # its cb_cseq_update (track_cseq_updates)
        self.dlg_restore: DlgRestore | None = None
        if self.restore_mode != NO_RESTORE:
            if self.rr is None:
                raise ValueError("can't load RR API (restore_mode needs the rr module)")
            if self.restore_mode == AUTO_RESTORE:
                self._init_auto(int(params["restore_dlg"]))
        self.sender = UacSender(self, core, params)
        self.reg = RegTable(self, params)

    def child_init(self, rank: int) -> None:
        if rank == 1 and self.reg.enabled:
            self.core.call_at(self.core.clock.monotonic(), self.reg.timer)  # the first pass at start

    def reg_timer(self) -> None:
        """The TIMER UAC REG process, every reg_timer_interval seconds."""
        self.reg.timer()

    def _init_auto(self, restore_dlg: int) -> None:
        """Auto mode: restore_dlg keeps the URIs in the dialog, else rr's From-tag tells the
        direction; rr's loose_route() runs the restore either way."""
        assert self.rr is not None
        if not restore_dlg:
            if not self.rr.append_fromtag:
                raise ValueError("'append_fromtag' RR param is not enabled! - required by AUTO restore mode")
        else:
            dialog = self.core.api("dialog")
            if dialog is None:
                raise ValueError("failed to find dialog API - is dialog module loaded?")
            self.dlg_restore = DlgRestore(self, dialog)
        self.rr.register_rrcb(self._rr_checker)

    def _auth_avps(self, params: dict[str, Any]) -> tuple[Any, Any, Any] | None:
        names = [params["auth_realm_avp"], params["auth_username_avp"], params["auth_password_avp"]]
        if not any(names):
            return None
        if not all(names):
            raise ValueError("partial definition of auth AVP!")
        try:
            realm, user, passwd = (self.core.pv_accessor(str(n)) for n in names)
        except (LookupError, ValueError) as exc:
            raise ValueError(f"malformed auth AVP definition: {exc}") from None
        return realm, user, passwd

    # ------------------------------------------------------------ replace
    def uac_replace_from(self, ctx: MessageContext, display: str, uri: str | None = None) -> int:
        if uri is None:
            display, uri = None, display  # type: ignore[assignment]
        return self._replace(ctx, "From", display, uri or None)

    def uac_replace_to(self, ctx: MessageContext, display: str, uri: str | None = None) -> int:
        if uri is None:
            display, uri = None, display  # type: ignore[assignment]
        return self._replace(ctx, "To", display, uri or None)

    def marks(self, ctx: MessageContext) -> _Marks:
        marks = ctx.local.get(_STATE)
        if marks is None:
            marks = ctx.local[_STATE] = _Marks()
        return marks  # type: ignore[no-any-return]

    def _replace(self, ctx: MessageContext, hname: str, display: str | None, uri: str | None) -> int:
        msg = ctx.msg
        is_from = hname == "From"
        marks = self.marks(ctx)
        flag = FL_USE_UAC_FROM if is_from else FL_USE_UAC_TO
        if ctx.route_type & RouteType.REQUEST and ctx.msg_flags & flag:
            log_at(log, L_ERR, "called uac_replace_%s() multiple times on the message", hname.lower())
            return -1
        value = current_value(msg, hname)
        addr = parse_address(value) if value is not None else None
        if addr is None:
            log_at(log, L_ERR, "failed to find/parse %s hdr", hname.upper())
            return -1
        if self.restore_mode == AUTO_RESTORE and uri:
            to = msg.to
            if to is not None and to.tag:
                log_at(log, L_ERR, "decline FROM replacing in sequential request in auto mode (has TO tag)")
                return -1
        avp = self.from_avp if is_from else self.to_avp
        if avp:
            avp_add(ctx, avp, addr.name_addr)
        new_value = addr.value if display is None else with_display(addr, display)
        if not uri:
            write_value(msg, hname, new_value)
            return 1
        old_uri = addr.uri_text
        if len(old_uri) > MAX_URI_SIZE or len(uri) > MAX_URI_SIZE:
            log_at(log, L_ERR, "%s uri too long", hname)
            return -1
        new_value = with_uri(new_value, uri) or new_value
        if self.restore_mode == NO_RESTORE:
            write_value(msg, hname, new_value)  # not marked: Kamailio returns before it sets the flag
            return 1
        if self.dlg_restore is None or not self.dlg_restore.store(ctx, is_from, addr, display, uri):
            if not self._add_store_param(ctx, is_from, old_uri, uri):
                return -1
        if not self.watch_replies(ctx, marks):
            return -1
        write_value(msg, hname, new_value)
        marks.mark(ctx, is_from)
        return 1

    def _add_store_param(self, ctx: MessageContext, is_from: bool, old_uri: str, uri: str) -> bool:
        """The Record-Route parameter that keeps the original URI (`vsf`/`vst`)."""
        assert self.rr is not None
        if not self.rr.append_fromtag:
            log_at(log, L_ERR, "'append_fromtag' RR param is not enabled! - required by AUTO restore mode")
            return False
        param = self.from_param if is_from else self.to_param
        if self.rr.add_rr_param(ctx, f";{param}={store_value(old_uri, uri, self.passwd)}") < 0:
            log_at(log, L_ERR, "add_RR_param failed")
            return False
        return True

    def watch_replies(self, ctx: MessageContext, marks: _Marks) -> bool:
        """Have the replies of the request's transaction get the request's From/To back."""
        if marks.callback:
            return True
        if self.tm.register_tmcb(ctx, None, TMCB_RESPONSE_IN, self._reply_callback(marks)) != 1:
            log_at(log, L_ERR, "failed to install TM callback")
            return False
        marks.callback = True
        return True

    # ------------------------------------------------------------ restore
    def uac_restore_from(self, ctx: MessageContext) -> int:
        if not isinstance(ctx.msg, Request):
            log_at(log, L_ERR, "called for something not request")
            return -1
        return 1 if self._restore(ctx, self.from_param, True) else -1

    def uac_restore_to(self, ctx: MessageContext) -> int:
        if not isinstance(ctx.msg, Request):
            log_at(log, L_ERR, "called for something not request")
            return -1
        return 1 if self._restore(ctx, self.to_param, False) else -1

    def _rr_checker(self, ctx: MessageContext, params: str) -> None:
        """The rr callback of auto mode: restore what the Route parameters say, and the replies."""
        done_from = self._restore(ctx, self.from_param, True)
        done_to = self._restore(ctx, self.to_param, False)
        if done_from or done_to:
            self.watch_replies(ctx, self.marks(ctx))

    def _restore(self, ctx: MessageContext, param: str, check_from: bool) -> bool:
        """restore_uri: put the URI the Route parameter `param` holds into the header the
        direction says (From-parameter: To upstream, From downstream; To-parameter: the other
        way round), and carry the parameter over to this proxy's Record-Route."""
        if self.rr is None:
            return False
        value = self.rr.get_route_param(ctx, param)
        if value is None:
            log_at(log, L_DBG, "route param '%s' not found", param)
            return False
        if self.rr.add_rr_param(ctx, f";{param}={value}") < 0:
            log_at(log, L_ERR, "add rr param failed")
            return False
        upstream = self.rr.is_direction(ctx, "upstream") == 1
        in_to = upstream if check_from else not upstream
        hname = "To" if in_to else "From"
        current = current_value(ctx.msg, hname)
        addr = parse_address(current) if current is not None else None
        if addr is None:
            log_at(log, L_ERR, "failed to find/parse %s hdr", hname.upper())
            return False
        avp = self.to_avp if in_to else self.from_avp
        if avp:
            avp_add(ctx, avp, addr.name_addr)
        uri, why = restored_uri(value, addr.uri_text, self.passwd)
        if uri is None:
            log_at(log, L_ERR, "%s [%s]", why, addr.uri_text)
            return False
        write_value(ctx.msg, hname, with_uri(addr.value, uri) or addr.value)
        self.marks(ctx).mark(ctx, not in_to)
        return True

    def _reply_callback(self, marks: _Marks) -> Any:
        def restore_uris_reply(t: TmTransaction, kind: int, p: TmcbParams) -> None:
            req, rpl = t.request, p.rpl
            if req is None or rpl is None:
                return
            avps = None
            for hname, done, avp in (("From", marks.from_, self.from_avp), ("To", marks.to, self.to_avp)):
                if not done:
                    continue
                stored = None
                if avp:
                    avps = avps or self.tm.t_context(t)
                    value = avp_get(avps, avp)
                    stored = str(value) if value is not None else None
                if not stored:
                    orig = req.header(hname)
                    addr = parse_address(orig) if orig is not None else None
                    stored = addr.name_addr if addr is not None else None
                current = current_value(rpl, hname)
                new_value = with_name_addr(current, stored) if current is not None and stored else None
                if new_value is None:
                    log_at(log, L_ERR, "failed to restore %s", hname.upper())
                    continue
                write_value(rpl, hname, new_value)
        return restore_uris_reply

    # ------------------------------------------------------------ uac_auth
    def uac_auth(self, ctx: MessageContext) -> int:
        return self.uac_auth_mode(ctx, 0)

    def uac_auth_mode(self, ctx: MessageContext, mode: int = 0) -> int:
        t = self.tm.t_gett(ctx)
        if t is None:
            log_at(log, L_ERR, "no current transaction found")
            return -1
        index = t.picked_branch
        if index < 0 or index >= len(t.branches):
            log_at(log, L_ERR, "no picked branch (%d)", index)
            return -1
        branch = t.branches[index]
        rpl, code = branch.reply, branch.status
        if rpl is None:
            log_at(log, L_ERR, "cannot process a FAKED reply")
            return -1
        ch = self._challenge(rpl, code)
        if ch is None:
            return -1
        crd = self._credential(ctx, ch.realm)
        if crd is None:
            log_at(log, L_INFO, 'no credential for realm "%s"', ch.realm)
            return -1
        if mode & UACAUTH_MODE_HA1:
            crd.ha1 = True
        method = ctx.msg.method if isinstance(ctx.msg, Request) else t.method
        resp, cnonce = digest.response(method, branch.uri, crd, ch)
        line = digest.authorization(code, branch.uri, crd, ch, resp, cnonce)
        name, _, value = line.rstrip("\r\n").partition(": ")
        ctx.new_ruri = branch.uri
        ctx.ruri_new = True
        ctx.msg.add_header(name, value)
        if self.dialog is not None and self.dialog.cseq_update(ctx) < 0:
            return -1
        return 1

    @staticmethod
    def _challenge(rpl: Any, code: int) -> digest.Challenge | None:
        hname = digest.challenge_header(code)
        if hname is None:
            log_at(log, L_ERR, "reply is not an auth request")
            return None
        value = rpl.header(hname)
        if value is None:
            log_at(log, L_ERR, "reply has no auth hdr (%s)", hname)
            return None
        ch, why = digest.parse_challenge(value)
        if ch is None:
            log_at(log, L_ERR, "%s", why)
            log_at(log, L_ERR, "failed to parse auth hdr body")
        return ch

    def _credential(self, ctx: MessageContext, realm: str) -> digest.Credential | None:
        """get_avp_credential, then the `credential` parameters (lookup_realm)."""
        if self.auth_avps is not None:
            a_realm, a_user, a_pass = (_text(acc.get(ctx)) for acc in self.auth_avps)
            if (not a_realm or a_realm == realm) and a_user and a_pass:
                return digest.Credential(a_user, a_realm or realm, a_pass)
        for crd in self.credentials:
            if crd.realm == realm:
                return digest.Credential(crd.user, crd.realm, crd.passwd)
        return None

    # ------------------------------------------------------------ remote registrations
    def uac_reg_lookup(self, ctx: MessageContext, uuid: str, dst: Any) -> int:
        return self.reg.lookup(ctx, uuid, dst, False)

    def uac_reg_lookup_uri(self, ctx: MessageContext, uri: str, dst: Any) -> int:
        return self.reg.lookup(ctx, uri, dst, True)

    def uac_reg_status(self, ctx: MessageContext, uuid: str) -> int:
        return self.reg.status(uuid)

    def uac_reg_request_to(self, ctx: MessageContext, src: str, mode: int) -> int:
        return self.reg.request_to(ctx, src, mode)

    def uac_reg_enable(self, ctx: MessageContext, attr: str, val: str) -> int:
        self._count_disabled(-1)
        return self.reg.set_disabled(attr, val, False)

    def uac_reg_disable(self, ctx: MessageContext, attr: str, val: str) -> int:
        self._count_disabled(1)
        return self.reg.set_disabled(attr, val, True)

    def _count_disabled(self, delta: int) -> None:
        if self.reg.enabled:
            self.core.stats.inc(self.reg.st_disabled, delta)

    def uac_reg_refresh(self, ctx: MessageContext, l_uuid: str) -> int:
        if not l_uuid:
            log_at(log, L_ERR, "invalid parameters")
            return -1
        ret = self.reg.db_refresh(l_uuid) if self.reg.enabled else -1
        if ret == 0:
            log_at(log, L_WARN, "record not found: %s", l_uuid)
            return -1
        if ret < 0:
            log_at(log, L_WARN, "failed to refresh record: %s - check log messages", l_uuid)
            return -1
        return 1

    def rpc_reg_dump(self) -> list[dict[str, Any]]:
        self.reg.rpc_ready()
        tn = int(self.core.clock.time())
        return [self.reg.node(r, tn) for r in self.reg.all()]

    def rpc_reg_info(self, attr: str, val: str) -> dict[str, Any]:
        return self.reg.node(self.reg.filtered(attr, val), int(self.core.clock.time()))

    def rpc_reg_enable(self, attr: str, val: str) -> None:
        self._rpc_flag(attr, val, False)
        self._count_disabled(-1)

    def rpc_reg_disable(self, attr: str, val: str) -> None:
        self._rpc_flag(attr, val, True)
        self._count_disabled(1)

    def _rpc_flag(self, attr: str, val: str, disable: bool) -> None:
        with self.reg.table.transaction() if self.reg.enabled else _nothing():
            self.reg.mark_disabled(self.reg.filtered(attr, val), disable)

    def rpc_reg_reload(self) -> None:
        self.reg.rpc_ready()
        try:
            self.reg.reload()
        except DBError as exc:
            log_at(log, L_ERR, "failed to reload records: %s", exc)
            raise RpcFault(500, "Failed to reload records - check log messages") from None

    def rpc_reg_refresh(self, l_uuid: str) -> None:
        self.reg.rpc_ready()
        ret = self.reg.db_refresh(l_uuid)
        if ret == 0:
            raise RpcFault(404, "Record not found")
        if ret < 0:
            raise RpcFault(500, "Failed to refresh record - check log messages")

    def rpc_reg_remove(self, l_uuid: str) -> None:
        self.reg.rpc_ready()
        with self.reg.table.transaction():
            reg = self.reg.get(l_uuid)
            if reg is None:
                raise RpcFault(404, "Record not found")
            self.reg.remove(reg)

    def rpc_reg_add(self, l_uuid: str, l_username: str, l_domain: str, r_username: str, r_domain: str,
                    realm: str, auth_username: str, auth_password: str, auth_ha1: str, auth_proxy: str,
                    expires: int, flags: int, reg_delay: int, socket: str, contact_addr: str) -> None:
        self.reg.rpc_ready()
        values = dict(zip(REG_ADD_FIELDS, (l_uuid, l_username, l_domain, r_username, r_domain, realm,
                                           auth_username, auth_password, auth_ha1, auth_proxy, expires,
                                           flags, reg_delay, socket, contact_addr), strict=True))
        for name in ("auth_password", "auth_ha1"):
            if values[name] == ".":
                values[name] = ""
        if values["contact_addr"] == ".":
            values["contact_addr"] = self.reg.contact_addr
        reg = Reg(**values)  # type: ignore[arg-type]
        try:
            reg.check_password()
        except ValueError as exc:
            log_at(log, L_ERR, "%s", exc)
            raise RpcFault(500, "Failed to add record - invalid password or ha1") from None
        with self.reg.table.transaction():
            if self.reg.get(l_uuid) is not None:
                raise RpcFault(409, "uuid already exists")
            self.reg.add(reg)

    def rpc_reg_active(self, mode: int) -> dict[str, int]:
        if not self.reg.enabled:
            raise RpcFault(500, "Not initialized")
        omode = int(self.reg.active)
        self.reg.set_active(bool(mode))
        return {"omode": omode, "nmode": mode}

    def rpc_reg_unregister(self, attr: str, val: str) -> None:
        with self.reg.table.transaction() if self.reg.enabled else _nothing():
            reg = self.reg.filtered(attr, val)
            reg.expires = 0
            self.reg.send(reg, int(self.core.clock.time()))

    # ------------------------------------------------------------ uac_req_send, $uac_req
    def uac_req_send(self, ctx: MessageContext) -> int:
        return self.sender.send()

    def pv_uac_req(self, spec: Any) -> Any:
        return self.sender.accessor(spec)


REG_ADD_FIELDS = ("l_uuid", "l_username", "l_domain", "r_username", "r_domain", "realm", "auth_username",
                  "auth_password", "auth_ha1", "auth_proxy", "expires", "flags", "reg_delay", "socket",
                  "contact_addr")


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _text(value: Any) -> str:
    return "" if value is None else str(value)
