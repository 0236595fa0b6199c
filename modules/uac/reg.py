"""uac's remote registrations (Kamailio's uac_reg.c): the `uacreg` table's records, kept in a table
of the shared store every worker sees (Kamailio's shared-memory hash table), registered, refreshed
and re-authenticated by the `TIMER UAC REG` process, with the uac_reg_* functions and uac.reg_*
RPCs on them."""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from kampy.api import (
    L_ERR,
    L_WARN,
    TMCB_LOCAL_COMPLETED,
    DBError,
    MessageContext,
    Response,
    RpcFault,
    TmcbParams,
    TmTransaction,
    UacDialog,
    check_table_version,
    core_hash,
    db_connect,
    log_at,
    module_logger,
    parse_uri,
)

from . import digest

log = module_logger("uac")

UAC_REG_DISABLED, UAC_REG_ONGOING, UAC_REG_ONLINE, UAC_REG_AUTHSENT, UAC_REG_INIT = 1, 2, 4, 8, 16
UACREG_TABLE_VERSION = 5
COLUMNS = ("l_uuid", "l_username", "l_domain", "r_username", "r_domain", "realm", "auth_username",
           "auth_password", "auth_ha1", "auth_proxy", "expires", "flags", "reg_delay", "contact_addr",
           "socket")
_REQUIRED = {"l_uuid", "l_username", "l_domain", "r_username", "r_domain", "auth_username", "auth_proxy"}
_ACTIVE = b"\x00active"
_SEQ = b"\x00seq"


class BadRecord(ValueError):
    pass


@dataclass
class Reg:
    """One remote registration (Kamailio's reg_uac_t)."""

    l_uuid: str
    l_username: str
    l_domain: str
    r_username: str
    r_domain: str
    realm: str = ""
    auth_username: str = ""
    auth_password: str = ""
    auth_ha1: str = ""
    auth_proxy: str = ""
    expires: int = 0
    flags: int = 0
    reg_delay: int = 0
    contact_addr: str = ""
    socket: str = ""
    callid: str = ""
    cseq: int = 0
    timer_expires: int = 0
    reg_init: int = 0
    seq: int = 0  # the order it was added in (Kamailio lists a hash slot newest first)

    def check_password(self) -> None:
        """uac_reg_check_password."""
        if not self.auth_password and not self.auth_ha1:
            raise BadRecord("no password value provided - ignoring record")
        if self.auth_ha1 and (len(self.auth_ha1) != 32
                              or any(c not in "0123456789abcdefABCDEF" for c in self.auth_ha1)):
            raise BadRecord(f"invalid HA1 value: {self.auth_ha1} - ignoring record")


def reg_from_row(row: dict[str, Any]) -> Reg:
    """uac_reg_db_to_reg: NULL columns are empty; the required ones may not be empty."""
    values: dict[str, Any] = {}
    for col in COLUMNS:
        value = row.get(col)
        if col in ("expires", "flags", "reg_delay"):
            values[col] = int(value or 0)
            continue
        text = "" if value is None else str(value)
        if not text and col in _REQUIRED and value is not None:
            raise BadRecord(f"empty value not allowed for column '{col}' - ignoring record")
        values[col] = text
    reg = Reg(**values)
    reg.check_password()
    return reg


class RegTable:
    """The records in the shared store, by l_uuid; every change under the table's lock."""

    def __init__(self, module: Any, params: dict[str, Any]) -> None:
        self.module = module
        self.core = module.core
        self.db_url: str = params["reg_db_url"] or ""
        self.db_table: str = params["reg_db_table"] or "uacreg"
        self.contact_addr: str = params["reg_contact_addr"] or ""
        self.timer_interval = int(params["reg_timer_interval"])
        self.retry_interval = int(params["reg_retry_interval"])
        self.keep_callid = int(params["reg_keep_callid"])
        self.random_delay = int(params["reg_random_delay"])
        self.use_domain = int(params["reg_use_domain"])
        size = min(14, max(2, int(params["reg_hash_size"])))
        self.htsize = 1 << size
        self.enabled = bool(self.db_url)
        if not self.enabled:
            return
        if not self.contact_addr:
            raise ValueError("contact address parameter not set")
        self.table = self.core.shared.table("uac_reg", 1 << 12, 1 << 20)
        stats = self.core.stats
        self.st_total = stats.register("uac", "regtotal")
        self.st_active = stats.register("uac", "regactive")
        self.st_disabled = stats.register("uac", "regdisabled")
        with self.table.transaction():
            if self.table.get(_ACTIVE) is None:
                self.table.put(_ACTIVE, b"1" if int(params["reg_active"]) else b"0")
                self.load_db()

    def _now(self) -> int:
        return int(self.core.clock.time())

    # ------------------------------------------------------------ the store
    def get(self, uuid: str) -> Reg | None:
        got = self.table.get(b"r:" + uuid.encode())
        return Reg(**json.loads(got[0])) if got else None

    def put(self, reg: Reg) -> None:
        self.table.put(b"r:" + reg.l_uuid.encode(), json.dumps(asdict(reg)).encode())

    def all(self) -> list[Reg]:
        """In Kamailio's order: by hash slot of l_uuid, the newest first in a slot."""
        regs = [Reg(**json.loads(item.value)) for item in self.table.items(prefix=b"r:")]
        return sorted(regs, key=lambda r: (core_hash(r.l_uuid) & (self.htsize - 1), -r.seq))

    def add(self, reg: Reg) -> None:
        """reg_ht_add: the default contact address, the start delay, counted in regtotal."""
        if not reg.contact_addr:
            reg.contact_addr = self.contact_addr
        if not reg.reg_delay and self.random_delay > 0:
            reg.reg_delay = secrets.randbelow(self.random_delay)
        reg.reg_init = self._now()
        seq = int((self.table.get(_SEQ) or (b"0",))[0]) + 1
        self.table.put(_SEQ, str(seq).encode())
        reg.seq = seq
        self.put(reg)
        self.core.stats.inc(self.st_total)

    def remove(self, reg: Reg) -> None:
        self.table.delete(b"r:" + reg.l_uuid.encode())
        self.core.stats.dec(self.st_total)

    def by_user(self, user: str, domain: str | None) -> Reg | None:
        for reg in self.all():
            if reg.l_username == user and (domain is None or reg.l_domain == domain):
                return reg
        return None

    def by_filter(self, attr: str, val: str) -> Reg | None:
        """reg_ht_get_byfilter; ValueError for an attribute it cannot filter on."""
        if attr == "l_uuid":
            return self.get(val)
        if attr == "l_username":
            return self.by_user(val, None)
        if attr not in ("r_username", "auth_username"):
            log_at(log, L_ERR, "unsupported filter attribute %s", attr)
            raise ValueError(attr)
        for reg in self.all():
            if getattr(reg, attr) == val:
                return reg
        return None

    @property
    def active(self) -> bool:
        got = self.table.get(_ACTIVE)
        return got is None or got[0] == b"1"

    def set_active(self, on: bool) -> None:
        self.table.put(_ACTIVE, b"1" if on else b"0")

    # ------------------------------------------------------------ the database
    def _rows(self, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        db = db_connect(self.db_url)
        try:
            check_table_version(db, self.db_table, UACREG_TABLE_VERSION)
            rows = db.query(self.db_table, list(COLUMNS), where)
            return [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        finally:
            db.close()

    def load_db(self) -> None:
        """uac_reg_load_db: every row of the table (a bad one is logged and left out)."""
        try:
            rows = self._rows()
        except DBError as exc:  # Kamailio's timer process logs it and runs without records
            log_at(log, L_ERR, "failed to load the records of table %s: %s", self.db_table, exc)
            return
        for row in rows:
            try:
                self.add(reg_from_row(row))
            except ValueError as exc:  # BadRecord, or a number column that is no number
                log_at(log, L_ERR, "%s", exc)

    def reload(self) -> None:
        rows = self._rows()
        with self.table.transaction():
            for reg in self.all():
                self.remove(reg)
            for row in rows:
                try:
                    self.add(reg_from_row(row))
                except ValueError as exc:  # BadRecord, or a number column that is no number
                    log_at(log, L_ERR, "%s", exc)

    def db_refresh(self, uuid: str) -> int:
        """uac_reg_db_refresh: 1 refreshed, 0 no such row, -1 error."""
        try:
            rows = self._rows({"l_uuid": uuid})
        except DBError as exc:
            log_at(log, L_ERR, "failed to query the %s table: %s", self.db_table, exc)
            return -1
        if not rows:
            return 0
        try:
            reg = reg_from_row(rows[0])
        except ValueError as exc:
            log_at(log, L_ERR, "%s", exc)
            return -1
        with self.table.transaction():
            cur = self.get(uuid)
            if cur is not None:
                reg.flags |= cur.flags & (UAC_REG_ONGOING | UAC_REG_AUTHSENT)
                self.remove(cur)
            self.add(reg)
        return 1

    # ------------------------------------------------------------ registering
    def timer(self) -> None:
        """uac_reg_timer: each record's update, in turn."""
        if not self.enabled:
            return
        tn = self._now()
        for reg in self.all():
            with self.table.transaction():
                cur = self.get(reg.l_uuid)
                if cur is not None:
                    self.update(cur, tn)

    def update(self, reg: Reg, tn: int) -> int:
        """uac_reg_update (the caller holds the lock)."""
        if reg.expires == 0:
            return 1
        if reg.flags & UAC_REG_ONGOING:
            if reg.timer_expires > tn - self.retry_interval:
                return 2
            reg.flags &= ~(UAC_REG_ONLINE | UAC_REG_AUTHSENT)
        if not self.active or reg.flags & UAC_REG_DISABLED:
            self.put(reg)
            return 4
        if not reg.flags & UAC_REG_INIT:
            if reg.reg_delay > 0 and tn < reg.reg_init + reg.reg_delay:
                self.put(reg)
                return 2
            reg.flags |= UAC_REG_INIT
        if reg.timer_expires > tn + self.timer_interval + 3:
            self.put(reg)
            return 3
        return self.send(reg, tn)

    def send(self, reg: Reg, tn: int) -> int:
        """uac_reg_send: a REGISTER for the record (the caller holds the lock)."""
        reg.timer_expires = tn
        reg.flags |= UAC_REG_ONGOING
        self.core.stats.dec(self.st_active)
        ruri = f"sip:{reg.r_domain}"
        turi = f"sip:{reg.r_username}@{reg.r_domain}"
        hdrs = f"Contact: <sip:{reg.l_uuid}@{reg.contact_addr}>\r\nExpires: {reg.expires}\r\n"
        keep = (self.keep_callid and reg.flags & UAC_REG_ONLINE and 0 < reg.cseq < 2147483638
                and reg.callid)
        reg.flags &= ~UAC_REG_ONLINE
        self.put(reg)
        uuid = reg.l_uuid
        sender = self.module.sender
        if keep:
            dialog = UacDialog(reg.callid, secrets.token_hex(16), turi, turi, local_seq=reg.cseq,
                               remote_target=ruri, dst_uri=reg.auth_proxy or None,
                               send_socket=sender.socket_or_default(reg.socket))
            ret = self.module.tm.t_request_within("REGISTER", dialog, headers=hdrs,
                                                  cb_types=TMCB_LOCAL_COMPLETED,
                                                  callback=lambda t, k, p: self.on_reply(uuid, p.code, p.rpl))
        else:
            ret = sender.send_new("REGISTER", ruri, turi, turi, hdrs, b"", reg.auth_proxy, reg.socket, "",
                                  lambda code, rpl: self.on_reply(uuid, code, rpl))
        if ret < 0:
            log_at(log, L_ERR, "failed to send request for [%s]", uuid)
            if self.retry_interval:
                reg.timer_expires = (tn or self._now()) + self.retry_interval
            else:
                reg.flags |= UAC_REG_DISABLED
                self.core.stats.inc(self.st_disabled)
            reg.flags &= ~UAC_REG_ONGOING
            self.put(reg)
            return -1
        return 0

    def on_reply(self, uuid: str, code: int, rpl: Response | None) -> None:
        """uac_reg_tm_callback."""
        with self.table.transaction():
            reg = self.get(uuid)
            if reg is None:
                return
            outcome = self._handle_reply(reg, code, rpl)
            if outcome == "error":
                if self.retry_interval:
                    reg.timer_expires = self._now() + self.retry_interval
                else:
                    reg.flags |= UAC_REG_DISABLED
                    self.core.stats.inc(self.st_disabled)
                reg.cseq = 0
            if outcome != "authsent":
                reg.flags &= ~(UAC_REG_ONGOING | UAC_REG_AUTHSENT)
                self.core.stats.inc(self.st_active)
            self.put(reg)

    def _handle_reply(self, reg: Reg, code: int, rpl: Response | None) -> str:
        if code == 200 and rpl is not None:
            return self._registered(reg, rpl)
        if code in (401, 407) and rpl is not None:
            if reg.flags & UAC_REG_AUTHSENT:
                log_at(log, L_ERR, "authentication failed for <%s>", reg.l_uuid)
                return "error"
            return self._authenticate(reg, code, rpl)
        if code == 423 and rpl is not None:
            value = rpl.header("Min-Expires")
            reg.expires = int(value) if value and value.strip().isdigit() else reg.expires * 2
            return "done"
        log_at(log, L_ERR, "got sip response %d while registering [%s]", code, reg.l_uuid)
        return "error"

    def _registered(self, reg: Reg, rpl: Response) -> str:
        try:
            contacts = rpl.contacts
        except Exception:  # noqa: BLE001 - a broken Contact in a reply is logged, as Kamailio does
            log_at(log, L_ERR, "failed to parse Contact HF")
            return "error"
        if not rpl.has_header("Contact"):
            log_at(log, L_ERR, "no Contact found")
            return "error"
        if contacts.star:
            return "done"
        for contact in contacts:
            if contact.uri.user != reg.l_uuid:
                continue
            expires = contact.params.get("expires")
            if expires is None or not expires:
                value = rpl.expires
                expires_s = value if value is not None else 0
            else:
                expires_s = int(expires) if expires.isdigit() else 0
            reg.timer_expires += expires_s
            reg.flags |= UAC_REG_ONLINE
            if self.keep_callid and rpl.call_id and len(rpl.call_id) < 90 and rpl.cseq is not None:
                reg.callid, reg.cseq = rpl.call_id, rpl.cseq.num
            return "done"
        log_at(log, L_WARN, "no matching Contact in the %d reply for [%s]", 200, reg.l_uuid)
        return "done"

    def _authenticate(self, reg: Reg, code: int, rpl: Response) -> str:
        hname = digest.challenge_header(code)
        value = rpl.header(hname) if hname else None
        if value is None:
            log_at(log, L_ERR, "failed to extract authenticate hdr")
            return "error"
        ch, why = digest.parse_challenge(value)
        if ch is None:
            log_at(log, L_ERR, "%s", why)
            return "error"
        if reg.realm and ch.realm != reg.realm:
            log_at(log, L_ERR, "realms do not match. requested realm: [%s]", ch.realm)
            return "error"
        crd = digest.Credential(reg.auth_username, ch.realm, reg.auth_ha1 or reg.auth_password,
                                bool(reg.auth_ha1))
        ruri = f"sip:{reg.r_domain}"
        resp, cnonce = digest.response("REGISTER", ruri, crd, ch)
        hdrs = (f"Contact: <sip:{reg.l_uuid}@{reg.contact_addr}>\r\nExpires: {reg.expires}\r\n"
                + digest.authorization(code, ruri, crd, ch, resp, cnonce))
        frm, to, cseq = rpl.from_, rpl.to, rpl.cseq
        if frm is None or to is None or cseq is None or not rpl.call_id:
            log_at(log, L_ERR, "failed to build tm dialog")
            return "error"
        dialog = UacDialog(rpl.call_id, frm.tag or "", str(frm.uri), str(to.uri), local_seq=cseq.num,
                           remote_target=ruri, dst_uri=reg.auth_proxy or None,
                           send_socket=self.module.sender.socket_or_default(reg.socket))
        uuid = reg.l_uuid

        def again(t: TmTransaction, kind: int, p: TmcbParams) -> None:
            self.on_reply(uuid, p.code, p.rpl)
        if self.module.tm.t_request_within("REGISTER", dialog, headers=hdrs, cb_types=TMCB_LOCAL_COMPLETED,
                                           callback=again) < 0:
            log_at(log, L_ERR, "failed to send request with authentication for [%s]", uuid)
            return "error"
        reg.flags |= UAC_REG_AUTHSENT
        return "authsent"

    # ------------------------------------------------------------ script functions
    def lookup(self, ctx: MessageContext, src: str, dst: Any, by_uri: bool) -> int:
        if not self.enabled:
            return -1
        if not by_uri:
            reg = self.get(src)
            if reg is None:
                return -1
            value = f"sip:{reg.l_username}@{reg.l_domain}"
        else:
            try:
                uri = parse_uri(src)
            except Exception:  # noqa: BLE001 - the URI comes from the script
                log_at(log, L_ERR, "failed to parse uri")
                return -2
            reg = self.by_user(uri.user or "", uri.host if self.use_domain else None)
            if reg is None:
                return -1
            value = reg.l_uuid
        dst.set(ctx, value)
        return 1

    def status(self, uuid: str) -> int:
        reg = self.get(uuid) if self.enabled else None
        if reg is None:
            return -1
        if reg.flags & UAC_REG_ONLINE and reg.timer_expires > self.core.clock.time():
            return 1
        if reg.flags & UAC_REG_ONGOING:
            return -2
        if reg.flags & UAC_REG_DISABLED:
            return -3
        return -99

    def request_to(self, ctx: MessageContext, src: str, mode: int) -> int:
        if mode > 3:
            log_at(log, L_ERR, "invalid mode")
            return -1
        if not self.enabled:
            return -1
        if mode & 1:
            if self.use_domain:
                try:
                    uri = parse_uri(src)
                except Exception:  # noqa: BLE001
                    log_at(log, L_ERR, "failed to parse uri")
                    return -2
                reg = self.by_user(uri.user or "", uri.host)
            else:
                reg = self.by_user(src, None)
        else:
            reg = self.get(src)
        if reg is None:
            return -1
        ctx.new_ruri = f"sip:{reg.r_username}@{reg.r_domain}"
        ctx.dst_uri = reg.auth_proxy or None
        avps = self.module.auth_avps
        if avps is None:
            log_at(log, L_ERR, "error while setting auth_realm")
            return -1
        realm, user, passwd = avps
        realm.set(ctx, reg.realm)
        user.set(ctx, reg.auth_username)
        passwd.set(ctx, reg.auth_ha1 if mode & 2 else reg.auth_password)
        return 1

    def set_disabled(self, attr: str, val: str, disable: bool) -> int:
        """uac_reg_update_flag: 1, -2 not found, -3 a bad attribute, -1 not enabled or bad values."""
        if not self.enabled:
            log_at(log, L_ERR, "uac remote registrations not enabled")
            return -1
        if not attr or not val:
            log_at(log, L_ERR, "bad parameter values")
            return -1
        with self.table.transaction():
            try:
                reg = self.by_filter(attr, val)
            except ValueError:
                return -3
            if reg is None:
                return -2
            self.mark_disabled(reg, disable)
        return 1

    def mark_disabled(self, reg: Reg, disable: bool) -> None:
        """Set or clear the record's disabled flag; the timer looks at it within a second."""
        reg.flags = reg.flags | UAC_REG_DISABLED if disable else reg.flags & ~UAC_REG_DISABLED
        reg.timer_expires = self._now() + 1
        self.put(reg)

    # ------------------------------------------------------------ RPC
    def rpc_ready(self) -> None:
        if not self.enabled:
            raise RpcFault(500, "Not enabled")

    def node(self, reg: Reg, tn: int) -> dict[str, Any]:
        """rpc_uac_reg_add_node_helper (an empty realm or socket is Kamailio's NULL string)."""
        return {
            "l_uuid": reg.l_uuid, "l_username": reg.l_username, "l_domain": reg.l_domain,
            "r_username": reg.r_username, "r_domain": reg.r_domain, "realm": reg.realm or None,
            "auth_username": reg.auth_username, "auth_password": reg.auth_password or "none",
            "auth_ha1": reg.auth_ha1 or "none", "auth_proxy": reg.auth_proxy or "none",
            "expires": reg.expires, "flags": reg.flags, "diff_expires": reg.timer_expires - tn,
            "timer_expires": reg.timer_expires, "reg_init": reg.reg_init, "reg_delay": reg.reg_delay,
            "contact_addr": reg.contact_addr or "none", "socket": reg.socket or None,
        }

    def filtered(self, attr: str, val: str) -> Reg:
        self.rpc_ready()
        if not attr or not val:
            log_at(log, L_ERR, "bad parameter values")
            raise RpcFault(400, "Invalid Parameter Values")
        try:
            reg = self.by_filter(attr, val)
        except ValueError:
            raise RpcFault(400, "Unsupported filter attribute") from None
        if reg is None:
            raise RpcFault(404, "Record not found")
        return reg
