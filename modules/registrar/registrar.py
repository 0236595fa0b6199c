"""registrar: save() REGISTERs into usrloc and lookup() users, as Kamailio 5.6's registrar does.

Reply codes and the P-Registrar-Error texts follow Kamailio's reply.c; the 200 OK lists every
valid binding as `Contact: <uri>;q=..;expires=N`, joined with ", " on one header line.
"""
from __future__ import annotations

import contextlib
import enum
import functools
import logging
import random
import urllib.parse
from dataclasses import dataclass
from typing import Any

from kampy.api import (
    URI,
    Branch,
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    NameAddr,
    PVar,
    Request,
    RouteType,
    SIPProtocolError,
    SlAPI,
    UsrlocAPI,
    parse_name_addr,
    parse_uri,
)

from .config import RegistrarCfg
from . import outbound
from .outbound import option_tags, split_first
from .lookupfilter import lookup_filter
from .rcd import add_record_details
from .sockets import SocketChoice
from .contacts import (
    ALL_METHODS,
    ContactInfo,
    build_contact_header,
    method_bit,
    methods_from_list,
    methods_from_param,
    parse_q,
)
from .ulc import UlcProfiles

log = logging.getLogger("kampy.registrar")

REG_SAVE_MEM_FL, REG_SAVE_NORPL_FL, REG_SAVE_REPL_FL = 1, 2, 4
REG_SAVE_NOVARIATION_FL, REG_SAVE_PREPRPL_FL, REG_SAVE_ALL_FL = 8, 16, 31
PATH_MODE_OFF, PATH_MODE_LAZY, PATH_MODE_STRICT = 0, 1, 2
MAX_UA_SIZE = 255
CALLID_MAX_SIZE = 255
RECEIVED_MAX_SIZE = 255
EXPIRED_ROUTE = "usrloc:contact-expired"
PREPARED_REPLY = "registrar_reply"  # ctx.local: the reply save() left for reg_send_reply()


class R(enum.Enum):
    """Kamailio's rerrno values: (code, P-Registrar-Error text)."""

    FINE = (200, "No problem")
    UL_DEL_R = (500, "usrloc_record_delete failed")
    UL_GET_R = (500, "usrloc_record_get failed")
    UL_NEW_R = (500, "usrloc_record_new failed")
    INV_CSEQ = (400, "Invalid CSeq number")
    UL_INS_C = (500, "usrloc_contact_insert failed")
    UL_DEL_C = (500, "usrloc_contact_delete failed")
    UL_UPD_C = (500, "usrloc_contact_update failed")
    AOR_LEN = (500, "Address Of Record too long")
    AOR_PARSE = (400, "Error while parsing AOR")
    INV_Q = (400, "Invalid q param in contact")
    PARSE = (400, "Message parse error")
    TO_MISS = (400, "To header not found")
    CID_MISS = (400, "Call-ID header not found")
    CS_MISS = (400, "CSeq header not found")
    PARSE_EXP = (400, "Expires parse error")
    PARSE_CONT = (400, "Contact parse error")
    STAR_EXP = (400, "* used in contact and expires is not zero")
    STAR_CONT = (400, "* used in contact and more than 1 contact")
    TOO_MANY = (503, "Too many registered contacts")
    CONTACT_LEN = (400, "Contact/received too long")
    CALLID_LEN = (400, "Callid too long")
    PARSE_PATH = (400, "Path parse error")
    PATH_UNSUP = (420, "No support for found Path indicated")
    OB_UNSUP = (421, "No support for Outbound indicated")
    OB_REQD = (420, "No support for Outbound on server")
    OB_UNSUP_EDGE = (439, "No support for Outbound on edge proxy")
    INV_REGID = (400, "Invalid Reg-Id number")
    LOW_EXP = (423, "Interval too brief")


REASONS = {200: "OK", 400: "Bad Request", 420: "Bad Extension", 421: "Extension Required",
           423: "Interval Too Brief", 439: "First Hop Lacks Outbound Support", 500: "Server Internal Error",
           503: "Service Unavailable"}


class RegError(Exception):
    def __init__(self, err: R) -> None:
        super().__init__(err.value[1])
        self.err = err


@dataclass
class SaveState:
    """What one save() call works with (Kamailio's rerrno, contact buffer and path vector)."""

    ctx: MessageContext
    msg: Request
    domain: str
    aor: str
    host: str
    flags: int
    err: R = R.FINE
    contact_hdr: str = ""
    path: str | None = None
    rewritten: Any = None  # the AoR's only binding as save() rewrote it, when that was all it did
    use_regid: bool = True  # the Contacts' reg-id is used (outbound)


@functools.lru_cache(maxsize=64)  # save()'s flags: a few constant texts
def strno2int(text: str) -> int:
    """Kamailio's strno2int: decimal, or hex with 0x."""
    text = text.strip()
    return int(text, 16) if text[:2].lower() == "0x" else int(text)


class RegistrarModule(RegistrarCfg, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.ul: UsrlocAPI = core.api("usrloc")
        self.sl: SlAPI = core.api("sl")
        p = params  # the cfg group's parameters are read through RegistrarCfg, the others here
        self.received_param = p["received_param"] or ""
        self.xavp_rcd: str | None = p["xavp_rcd"] or None
        self.xavp_rcd_mask = int(p["xavp_rcd_mask"])
        self.received_avp = _avp_name(p["received_avp"])
        self.method_filtering = int(p["method_filtering"])
        self.use_path = int(p["use_path"])
        self.path_mode = int(p["path_mode"])
        self.path_use_received = int(p["path_use_received"])
        self.path_check_local = int(p["path_check_local"])
        self.gruu_enabled = int(p["gruu_enabled"])
        self.contact_max_size = int(p["contact_max_size"])
        self.min_expires_mode = int(p["min_expires_mode"])
        self.sockets = SocketChoice(p, core)
        self.outbound_mode, self.regid_mode = int(p["outbound_mode"]), int(p["regid_mode"])
        self.flow_timer = int(p["flow_timer"])
        self.lookup_filter_mode = int(p["lookup_filter_mode"])
        outbound.check_params(self.outbound_mode, self.regid_mode, self.flow_timer)
        for name in ("default_expires_range", "expires_range"):
            if not 0 <= int(p[name]) <= 100:
                raise ValueError(f"{name} must be between 0 and 100")
        core.set_aor_case_sensitive(bool(p["case_sensitive"]))  # once, as Kamailio's mod_init
        self.ulc = UlcProfiles()
        self.event_callback = str(p["event_callback"] or "")
        if self.event_callback:
            # a KEMI function instead of event_route[usrloc:contact-expired]: a kamailio.cfg
            # script has no KEMI engine, so, as in Kamailio, nothing runs
            log.debug("event callback (%s) set, but no cfg engine", self.event_callback)
        elif core.has_route("event", EXPIRED_ROUTE):
            self.ul.on_contact_expired(self._contact_expired)
        stats = core.stats
        stats.set("registrar:max_expires", int(p["max_expires"]))
        stats.set("registrar:max_contacts", int(p["max_contacts"]))
        stats.set("registrar:default_expire", int(p["default_expires"]))
        stats.set("registrar:default_expires_range", int(p["default_expires_range"]))
        stats.set("registrar:expires_range", int(p["expires_range"]))

    # ------------------------------------------------------------ helpers

    def fix_domain(self, name: str) -> str:
        """The domain (table) argument's fix-up (Kamailio's domain_fixup): the table is registered
        with usrloc when the config is loaded, so ul.dump and the statistics show `location` before
        the first REGISTER."""
        self.ul.register_domain(name)
        return name

    def fix_save_flags(self, text: str) -> int:
        """save()'s flags as a number (decimal, or hex with 0x)."""
        try:
            return strno2int(text)
        except ValueError:
            raise ValueError(f"bad flags <{text}>") from None

    def extract_aor(self, uri_text: str) -> tuple[str, URI]:
        """Kamailio's extract_aor: the unescaped user, `@domain` with use_domain (realm_prefix
        stripped), lower-cased (only the domain when case_sensitive)."""
        try:
            uri = parse_uri(uri_text)
        except SIPProtocolError:
            uri = None
        if uri is None or uri.opaque is not None:  # Kamailio's parse_uri knows sip, sips, tel, tels, urn
            log.error("extract_aor(): failed to parse AoR [%s]", uri_text)
            raise RegError(R.AOR_PARSE)
        return self.aor_of(uri), uri

    def aor_of(self, uri: URI) -> str:
        """`extract_aor` of a parsed URI."""
        user = urllib.parse.unquote(uri.user or "")
        host = uri.host or ""  # none in a tel: URI
        if len(user) > 64 or len(host) > 64:
            raise RegError(R.AOR_LEN)
        aor = user
        if self.ul.use_domain:
            prefix = self.realm_prefix
            if prefix and len(prefix) < len(host) and host.startswith(prefix):
                host = host[len(prefix):]
            aor = f"{user}@{host}" if user else host
        if self.case_sensitive and user:
            aor = user + aor[len(user):].lower()
        else:
            aor = aor.lower()
        return aor

    def now(self) -> int:
        return int(self.core.clock.time())

    # ------------------------------------------------------------ save()

    def save(self, ctx: MessageContext, domain: str, cflags: int = 0, uri: str | None = None) -> int:
        if cflags > REG_SAVE_ALL_FL or (cflags & REG_SAVE_MEM_FL and self.ul.db_mode == 3):
            log.error("save(): bad flags <%s>", cflags)
            return -1
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        if uri is not None and not uri:
            log.error("save(): invalid uri parameter")
            return -1
        ctx.local.pop(PREPARED_REPLY, None)
        state = SaveState(ctx, msg, domain, "", "", cflags)
        try:
            ret = self._save(state, uri)
        except RegError as exc:
            state.err = exc.err
            return self._save_failed(state)
        self.core.stats.inc("registrar:accepted_regs")
        if not cflags & REG_SAVE_NORPL_FL:
            if ctx.route_type in (RouteType.REQUEST, RouteType.FAILURE):
                if self._send_reply(state) < 0:
                    return -1
        elif cflags & REG_SAVE_PREPRPL_FL:
            self._prepare_reply(state)
        return ret

    def _save_failed(self, state: SaveState) -> int:
        self.core.stats.inc("registrar:rejected_regs")
        if state.ctx.route_type == RouteType.REQUEST and not state.flags & REG_SAVE_NORPL_FL:
            self._send_reply(state)
        else:
            state.ctx.local[PREPARED_REPLY] = state
        return -2 if state.err is R.TOO_MANY else -1

    def _save(self, st: SaveState, uri: str | None) -> int:
        msg = st.msg
        to = self._to(msg)
        expires_hf = self._expires_header(msg)
        try:
            contacts = msg.contacts
        except SIPProtocolError:
            values = [v.strip() for v in msg.headers_named("contact")]
            raise RegError(R.STAR_CONT if "*" in values and len(values) > 1 else R.PARSE_CONT) from None
        uris = [str(c.uri) for c in contacts]
        star = self._check_contacts(msg, contacts, uris, expires_hf)
        failed, st.use_regid = outbound.check_request(msg, self.outbound_mode, self.regid_mode,
                                                      bool(contacts and contacts[0].params.get("reg-id")))
        if failed:
            raise RegError(R[failed])
        # the To URI as parsed with the message: the same as extract_aor() of its text
        st.aor = self.extract_aor(uri)[0] if uri else self.aor_of(to.uri)
        st.host = to.uri.host
        infos = [] if star or not contacts else self._contact_infos(st, contacts, uris, expires_hf)
        if star:
            self._star(st)
            return 3
        if not infos:
            record = self.ul.get_urecord(st.domain, st.aor)
            st.contact_hdr = self._contact_hdr(st, record.contacts if record else [])
            return 4
        ret = self._add_contacts(st, infos)
        return 1 if ret == 0 else ret

    @staticmethod
    def _to(msg: Request) -> NameAddr:
        try:
            to = msg.to
        except SIPProtocolError:
            raise RegError(R.PARSE) from None
        if to is None:
            raise RegError(R.TO_MISS)
        if msg.call_id is None:
            raise RegError(R.CID_MISS)
        if msg.cseq is None:
            raise RegError(R.CS_MISS)
        return to

    @staticmethod
    def _expires_header(msg: Request) -> int:
        """The Expires header's value, -1 when there is none (get_expires_hf)."""
        try:
            value = msg.expires
        except SIPProtocolError:
            raise RegError(R.PARSE_EXP) from None
        return -1 if value is None else value

    def _check_contacts(self, msg: Request, contacts: Any, uris: list[str], expires_hf: int) -> bool:
        """Kamailio's check_contacts: True for a valid `Contact: *`. `uris`: the contacts' URIs as text."""
        if contacts.star:
            if expires_hf != 0:
                raise RegError(R.STAR_EXP)
            if len(contacts) or len(msg.headers_named("contact")) > 1:
                raise RegError(R.STAR_CONT)
            return True
        for c, uri in zip(contacts, uris, strict=True):
            if len(uri) > self.contact_max_size:
                raise RegError(R.CONTACT_LEN)
            received = c.params.body("received")
            if received and len(received) > RECEIVED_MAX_SIZE:
                raise RegError(R.CONTACT_LEN)
        return False

    def _star(self, st: SaveState) -> None:
        ul = self.ul
        try:
            with ul.lock(st.domain, st.aor):
                for c in ul.contacts(st.aor, st.domain):
                    c.flags = c.flags | 1 if st.flags & REG_SAVE_MEM_FL else c.flags & ~1
                    ul.delete_contact(st.domain, c)
        except DBError:  # usrloc logged it (db_mode 1: the contacts are gone from memory)
            raise RegError(R.UL_DEL_R) from None

    # -------------------------------------------------- contact info (pack_ci)

    def _contact_infos(self, st: SaveState, contacts: list[NameAddr], uris: list[str],
                       expires_hf: int) -> list[ContactInfo]:
        msg, ctx = st.msg, st.ctx
        callid = (msg.call_id or "").rstrip()
        if len(callid) > CALLID_MAX_SIZE:
            raise RegError(R.CALLID_LEN)
        assert msg.cseq is not None
        ua = msg.header("user-agent") or ""
        if not 0 < len(ua) < MAX_UA_SIZE:
            ua = "n/a"
        path, path_received = self._path_vector(msg)
        if path and self.path_mode != PATH_MODE_OFF:
            st.path = path
        ul = self.ul
        nat_flag = ul.nat_flag
        cflags = ctx.bflags
        if path_received:
            cflags |= nat_flag
        allowed = self._allow_mask(msg)
        received_avp = self._received_avp(ctx)
        socket = self.sockets.for_binding(ctx)
        src = ctx.src
        # what every binding of this REGISTER shares (pack_ci's message part), in ContactInfo's
        # field order from callid to server_id
        shared = (callid, msg.cseq.num, ua, path or None, cflags, 1 if st.flags & REG_SAVE_MEM_FL else 0,
                  socket, src.conn_id if src.proto != "udp" and src.conn_id else -1,
                  1 if cflags & nat_flag else 0, ul.server_id)
        first_instance = _instance(contacts[0])
        novariation = bool(st.flags & REG_SAVE_NOVARIATION_FL)
        attrs = ul.contact_attrs(ctx)  # usrloc's xavp_contact fields, kept with each binding
        infos = []
        for c, uri in zip(contacts, uris, strict=True):
            expires = self._contact_expires(c, expires_hf, novariation)
            q = self._contact_q(c)
            methods = self._contact_methods(c, allowed)
            received = c.params.body("received") or path_received or received_avp
            instance = _instance(c) or first_instance
            reg_id = self._reg_id(c) if instance and st.use_regid else 0
            infos.append(ContactInfo(uri, expires, q, methods, received or None, *shared, instance, reg_id,
                                     attrs))
        return infos

    def _contact_expires(self, c: NameAddr, expires_hf: int, novariation: bool) -> int:
        """calc_contact_expires: an absolute time, or 0 to remove the binding."""
        raw = c.params.get("expires")
        rng = self.expires_range
        if not raw:
            e = expires_hf
            if e < 0:
                e, rng = self.default_expires, self.default_expires_range
        else:
            try:
                e = int(raw.strip())
                if e < 0:
                    raise ValueError
            except ValueError:
                e, rng = self.default_expires, self.default_expires_range
        if e == 0:
            return 0
        if e < self.min_expires:
            if self.min_expires_mode:
                raise RegError(R.LOW_EXP)
            e = self.min_expires
        if not novariation and rng:
            low = int(e - rng / 100 * e)
            e = max(int(low + random.randrange(100) / 100 * (e - low)), self.min_expires)
        if self.max_expires and e > self.max_expires:
            e = self.max_expires
        return e + self.now()

    def _contact_q(self, c: NameAddr) -> int:
        raw = c.params.get("q")
        if not raw:
            return self.default_q
        q = parse_q(raw)
        if q is None:
            raise RegError(R.INV_Q)
        return q

    def _contact_methods(self, c: NameAddr, allowed: int) -> int:
        raw = c.params.get("methods")
        if raw is None:
            return allowed
        mask = methods_from_param(raw)
        if mask is None:
            raise RegError(R.PARSE)
        return mask

    @staticmethod
    def _allow_mask(msg: Request) -> int:
        try:
            allow = msg.allow
        except SIPProtocolError:
            return ALL_METHODS
        return ALL_METHODS if allow is None else methods_from_list(allow)

    @staticmethod
    def _reg_id(c: NameAddr) -> int:
        raw = c.params.get("reg-id")
        if not raw:
            return 0
        try:
            value = int(raw)
        except ValueError:
            raise RegError(R.INV_REGID) from None
        if value <= 0:
            raise RegError(R.INV_REGID)
        return value

    def _received_avp(self, ctx: MessageContext) -> str | None:
        if self.received_avp is None:
            return None
        values = ctx.avps.get(self.received_avp)
        if not values or values[0] in (None, ""):
            return None
        value = str(values[0])
        if len(value) > RECEIVED_MAX_SIZE:
            raise RegError(R.CONTACT_LEN)
        return value

    def _path_vector(self, msg: Request) -> tuple[str | None, str | None]:
        """Every Path header joined by ',' and, with path_use_received, the first Path URI's
        `received` parameter (build_path_vector)."""
        if not self.use_path:
            return None, None
        values = [v.strip() for v in msg.headers_named("path")]
        if not values:
            return None, None
        path = ",".join(values)
        received = None
        try:
            first = parse_name_addr(split_first(path))
        except SIPProtocolError:
            raise RegError(R.PARSE_PATH) from None
        if self.path_use_received:
            value = first.uri.params.get("received")
            if value:
                received = urllib.parse.unquote(value)
        return path, received

    # -------------------------------------------------- add / update contacts

    def _add_contacts(self, st: SaveState, infos: list[ContactInfo]) -> int:
        new_aor: list[bool] = []
        try:
            return self._locked_add_contacts(st, infos, new_aor)
        except DBError as exc:  # usrloc logged it; in db_mode 1 memory has the change (ucontact.c)
            if new_aor and getattr(exc, "op", None) == "insert":
                # insert_contacts()'s error path: the new record goes from memory too.
                with contextlib.suppress(DBError):
                    self.ul.delete_urecord(st.domain, st.aor)
            ops = {"insert": R.UL_INS_C, "update": R.UL_UPD_C, "delete": R.UL_DEL_C}
            err = ops.get(getattr(exc, "op", None), R.UL_GET_R)  # no op: reading the record failed
            raise RegError(err) from None

    def _locked_add_contacts(self, st: SaveState, infos: list[ContactInfo], new_aor: list[bool]) -> int:
        """The table writes of db_mode 1 run as the lock block ends (usrloc), after the shared
        store's lock is released; `new_aor` gets True when the AoR had no record."""
        ul = self.ul
        after: list[Any] | None = None  # the AoR's contacts at the end, for the reply's Contact header
        try:
            with ul.lock(st.domain, st.aor):
                record = ul.get_urecord(st.domain, st.aor)
                if record is None:
                    new_aor.append(True)
                    try:
                        stored = self._insert_contacts(st, infos)
                    except RegError:
                        ul.delete_urecord(st.domain, st.aor)
                        raise
                    # Under the lock the AoR holds exactly what was just written: no need to read it back.
                    record = ul.record_of(st.domain, st.aor, stored)
                    after = record.contacts if record else []
                    return 1
                try:
                    return self._update_contacts(st, record, infos)
                finally:
                    after = self._contacts_after_update(st)
        finally:
            if after is not None:  # built once the lock is released: other workers wait less
                st.contact_hdr = self._contact_hdr(st, after)

    def _contacts_after_update(self, st: SaveState) -> list[Any]:
        """The AoR's bindings once `_update_contacts` ran: read back, unless it rewrote the AoR's
        only binding and did nothing else (then the memory of db_modes 0-2 holds just that one)."""
        if st.rewritten is not None and self.ul.db_mode != 3:
            return [st.rewritten]
        record = self.ul.get_urecord(st.domain, st.aor)
        return record.contacts if record else []

    def _max_contacts(self) -> int:
        return self.max_contacts

    def _insert_contacts(self, st: SaveState, infos: list[ContactInfo]) -> list[Any]:
        """Bindings for an AoR that had none (the caller holds the domain's lock); returns the
        AoR's contacts afterwards, in the order they were stored."""
        ul, maxc, num = self.ul, self._max_contacts(), 0
        stored: list[Any] = []  # what the AoR holds now: only what this loop wrote
        for ci in infos:
            if ci.expires == 0:
                continue
            if maxc > 0 and num >= maxc:
                log.info("too many contacts (n:%d max:%d) for AOR <%s>", num, maxc, st.aor)
                raise RegError(R.TOO_MANY)
            num += 1
            found = self._written_match(st, stored, ci)
            if found is None:
                stored.append(ul.insert_contact(st.domain, self._new_contact(st, ci)))
            else:
                updated = ci.update(found, self.now())
                ul.update_contact(st.domain, updated)
                stored = [updated if c.ruid == updated.ruid else c for c in stored]
        return stored

    def _written_match(self, st: SaveState, stored: list[Any], ci: ContactInfo) -> Any:
        """The binding among `stored`, those this REGISTER wrote so far, that `ci` repeats, or None."""
        if not stored:
            return None
        record = self.ul.record_of(st.domain, st.aor, stored)
        # Kamailio looks with CSeq+1 so that a repeated contact in one REGISTER updates itself.
        code, found = self.ul.get_ucontact(record, ci.uri, ci.callid, ci.path, ci.cseq + 1, ci.instance,
                                           ci.reg_id)
        return found if record is not None and code == 0 else None

    def _update_contacts(self, st: SaveState, record: Any, infos: list[ContactInfo]) -> int:
        ul, replace_all = self.ul, bool(st.flags & REG_SAVE_REPL_FL)
        if not replace_all and self._max_contacts() > 0:
            self._test_max_contacts(record, infos)
        rc = 0
        for i, ci in enumerate(infos):
            if i:  # the first one sees the record the caller just read under the same lock
                record = ul.get_urecord(st.domain, st.aor)
            code, found = ul.get_ucontact(record, ci.uri, ci.callid, ci.path, ci.cseq, ci.instance, ci.reg_id)
            if code == -1:
                log.error("invalid cseq for aor <%s>", st.aor)
                raise RegError(R.INV_CSEQ)
            if code == -2:
                if ci.expires != 0 and replace_all:
                    break
                continue
            if found is None:
                if ci.expires == 0:
                    continue
                new = ul.insert_contact(st.domain, self._new_contact(st, ci))
                rc = 1
                if replace_all:
                    self._delete_others(st, record.contacts if record else [], new)
                    break
                continue
            if ci.expires == 0:
                found.flags = found.flags | 1 if st.flags & REG_SAVE_MEM_FL else found.flags & ~1
                ul.delete_contact(st.domain, found)
                rc = 3
                continue
            updated = False
            if replace_all:
                self._delete_others(st, record.contacts, found)
                updated = True
            if ci.instance and ci.callid != found.callid:
                same = [c for c in record.contacts if c.ruid != found.ruid and c.instance == found.instance]
                for c in same:
                    ul.delete_contact(st.domain, c)
                updated = True
            rewritten = ci.update(found, self.now())
            ul.update_contact(st.domain, rewritten)
            if len(infos) == 1 and len(record.contacts) == 1:
                st.rewritten = rewritten
            rc = 2
            if updated:
                break
        return rc

    def _new_contact(self, st: SaveState, ci: ContactInfo) -> Any:
        ul = self.ul
        return ci.to_contact(ul.new_contact, st.aor, ul.new_ruid(), self.now())

    def _delete_others(self, st: SaveState, contacts: list[Any], keep: Any) -> None:
        for c in contacts:
            if c.ruid != keep.ruid:
                self.ul.delete_contact(st.domain, c)

    def _test_max_contacts(self, record: Any, infos: list[ContactInfo]) -> None:
        now = self.now()
        num = len(record.valid_contacts(now))
        for ci in infos:
            code, found = self.ul.get_ucontact(record, ci.uri, ci.callid, ci.path, ci.cseq, ci.instance,
                                               ci.reg_id)
            if code == -1:
                raise RegError(R.INV_CSEQ)
            if code == -2:
                continue
            if found is None:
                num += 1 if ci.expires != 0 else 0
            elif ci.expires == 0:
                num -= 1
        if num > self._max_contacts():
            log.info("too many contacts for AOR <%s> (n:%d max:%d)", record.aor, num, self._max_contacts())
            raise RegError(R.TOO_MANY)

    def _contact_hdr(self, st: SaveState, contacts: list[Any]) -> str:
        # GRUUs go only to bindings with an instance: Supported is read when there is one
        gruu = (self.gruu_enabled == 1 and any(c.instance for c in contacts)
                and "gruu" in (option_tags(st.msg, "supported") or ()))
        now = self.now()
        for c in contacts:
            if c.valid(now):
                add_record_details(st.ctx, self.xavp_rcd, self.xavp_rcd_mask, c, now)
        return build_contact_header(contacts, now, self.received_param, st.host, gruu=gruu)

    # -------------------------------------------------- replies

    def _reply_parts(self, st: SaveState) -> tuple[int, str, list[str]]:
        """Kamailio's reg_reply_helper: the code, reason and header lumps of save()'s reply."""
        lumps: list[str] = []
        if st.contact_hdr:
            lumps.append(st.contact_hdr)
        err = st.err
        if err is R.FINE:
            if self.use_path and st.path and self.path_mode != PATH_MODE_OFF:
                if "path" in (option_tags(st.msg, "supported") or ()):
                    lumps.append(f"Path: {st.path}\r\n")
                elif self.path_mode == PATH_MODE_STRICT:
                    err = R.PATH_UNSUP
                    lumps += ["Unsupported: path\r\n", f"Path: {st.path}\r\n"]
            lumps += outbound.reply_headers(st.msg, self.outbound_mode, self.flow_timer)
        elif err is R.OB_UNSUP:
            lumps += ["Require: outbound\r\n", "Supported: outbound\r\n"]
        elif err is R.OB_REQD:
            lumps.append("Unsupported: outbound\r\n")
        elif err is R.LOW_EXP:
            lumps.append(f"Min-Expires: {self.min_expires}\r\n")
        code = err.value[0]
        if code != 200:
            lumps.append(f"P-Registrar-Error: {err.value[1]}\r\n")
            if 500 <= code < 600 and self.retry_after:
                lumps.append(f"Retry-After: {self.retry_after}\r\n")
        return code, REASONS[code], lumps

    def _prepare_reply(self, st: SaveState) -> None:
        st.ctx.local[PREPARED_REPLY] = st

    def _send_reply(self, st: SaveState) -> int:
        code, reason, lumps = self._reply_parts(st)
        ctx = st.ctx
        ctx.reply_lumps.extend(lumps)
        if self.sl.send_reply(ctx, code, reason) < 0:
            log.error("failed to send %d %s", code, reason)
            return -1
        return 1

    def reg_send_reply(self, ctx: MessageContext) -> int:
        st = ctx.local.pop(PREPARED_REPLY, None)
        if st is None:
            return -1
        return self._send_reply(st)

    # ------------------------------------------------------------ lookup()

    def lookup(self, ctx: MessageContext, domain: str, uri: str | None = None) -> int:
        return self._lookup(ctx, domain, uri, rewrite=True)

    def lookup_to_dset(self, ctx: MessageContext, domain: str, uri: str | None = None) -> int:
        return self._lookup(ctx, domain, uri, rewrite=False)

    def _allowed(self, ctx: MessageContext, c: Any) -> bool:
        if not self.method_filtering:
            return True
        msg = ctx.msg
        assert isinstance(msg, Request)
        if c.methods & method_bit(msg.method):
            return True
        try:
            return bool(msg.to is not None and msg.to.tag)
        except SIPProtocolError:
            return False

    def _usable(self, c: Any, now: int) -> bool:
        return c.valid(now) or bool(self.use_expired_contacts)

    def _lookup(self, ctx: MessageContext, domain: str, uri: str | None, rewrite: bool) -> int:
        if not isinstance(ctx.msg, Request):
            return -3
        try:
            aor, puri = self.extract_aor(uri if uri else ctx.ruri)
        except RegError:
            return -3
        now = self.now()
        match = lookup_filter(ctx, self.lookup_filter_mode, self.params["xavp_cfg"], self.core)
        gr = puri.params.get("gr") if "gr" in puri.params else False
        if gr is None or gr == "":
            found = self._temp_gruu(domain, puri)
            if found is None:
                return -1
            record, first = found
            if not self._usable(first, now):
                return -1
            if not self._allowed(ctx, first):
                return -2
            contacts = [first]
        else:
            record = self.ul.get_urecord(domain, aor)
            if record is None:
                return -1
            ret, first = -1, None
            for c in record.contacts:
                if not self._usable(c, now):
                    continue
                if not self._allowed(ctx, c):
                    ret = -2
                    continue
                if gr and not _same_instance(gr, c.instance):
                    continue
                if not gr and match is not None and not match(c):
                    continue
                first = c
                break
            if first is None:
                return ret
            contacts = record.contacts[record.contacts.index(first):]
        if rewrite:
            if self._set_ruri_branch(ctx, contacts[0]) < 0:
                return -3
            contacts = contacts[1:]
        if gr is not False or not self.append_branches:
            return 1
        for c in contacts:
            if self._usable(c, now) and self._allowed(ctx, c) and (match is None or match(c)):
                dst, path = self._path_dst(c)
                ctx.branches.append(Branch(uri=c.contact, dst_uri=dst or c.received,
                                           path=path if dst else None,
                                           q=c.q, flags=c.cflags, socket=self._socket(c.socket),
                                           instance=c.instance, ruid=c.ruid))
                self.ul.restore_attrs(ctx, c, len(ctx.branches))
        return 1

    def _temp_gruu(self, domain: str, puri: URI) -> tuple[Any, Any] | None:
        user = puri.user or ""
        ruid, sep, _ = user.rpartition("-")
        if not sep:
            return None
        return self.ul.get_urecord_by_ruid(domain, ruid)

    def _set_ruri_branch(self, ctx: MessageContext, c: Any) -> int:
        add_record_details(ctx, self.xavp_rcd, self.xavp_rcd_mask, c, self.now())
        self.ul.restore_attrs(ctx, c, 0)
        ctx.new_ruri = c.contact
        ctx.dst_uri = None
        ctx.path_vec = None
        try:
            dst, path = self._path_dst(c)
        except RegError:
            return -3
        if dst:
            ctx.path_vec, ctx.dst_uri = path, dst
        elif c.received:
            ctx.dst_uri = c.received
        ctx.instance = c.instance
        ctx.reg_id = c.reg_id
        ctx.ruid = c.ruid
        ctx.location_ua = c.user_agent or None
        ctx.ruri_q = c.q
        ctx.bflags |= c.cflags
        sock = self._socket(c.socket)
        if sock is not None:
            ctx.force_socket = sock
        return 1

    def _path_dst(self, c: Any) -> tuple[str | None, str | None]:
        """(next hop, path vector) from a contact's Path: its first URI (the second when the first
        is this server and path_check_local is on)."""
        if not c.path:
            return None, None
        path = c.path
        try:
            first = parse_name_addr(split_first(path))
        except SIPProtocolError:
            raise RegError(R.PARSE_PATH) from None
        if self.path_check_local and self.core.is_myself(first.uri.host):  # any port, as check_self(host, 0)
            rest = path.split(",", 1)
            if len(rest) < 2:
                return None, path
            path = rest[1].strip()
            first = parse_name_addr(split_first(path))
        return str(first.uri), path

    def _socket(self, text: str | None) -> Any:
        if not text:
            return None
        return next((s for s in self.core.sockets if str(s) == text), None)

    def lookup_branches(self, ctx: MessageContext, domain: str) -> int:
        """lookup() on the R-URI and on every branch that has no destination set yet."""
        start = list(ctx.branches)
        ctx.branches = []
        ret = self._lookup(ctx, domain, None, rewrite=True)
        found = ret > 0
        for br in start:
            if br.dst_uri:
                ctx.branches.append(br)
                continue
            saved = (ctx.new_ruri, ctx.dst_uri, ctx.path_vec, ctx.ruri_q, ctx.force_socket, ctx.bflags,
                     ctx.instance, ctx.ruid, ctx.reg_id, ctx.location_ua)
            ctx.new_ruri, ctx.bflags = br.uri, br.flags
            if self._lookup(ctx, domain, br.uri, rewrite=True) > 0:
                found = True
                ctx.branches.insert(len(ctx.branches) - 0, Branch(
                    uri=ctx.ruri, dst_uri=ctx.dst_uri, path=ctx.path_vec, q=ctx.ruri_q, flags=ctx.bflags,
                    socket=ctx.force_socket, instance=ctx.instance, ruid=ctx.ruid))
            (ctx.new_ruri, ctx.dst_uri, ctx.path_vec, ctx.ruri_q, ctx.force_socket, ctx.bflags,
             ctx.instance, ctx.ruid, ctx.reg_id, ctx.location_ua) = saved
        return 1 if found else ret

    # ------------------------------------------------------------ registered(), unregister()

    def registered(self, ctx: MessageContext, domain: str, uri: str | None = None,
                   match_option: str | None = None, match_action: str | None = None) -> int:
        if uri:
            target = uri
        elif isinstance(ctx.msg, Request):
            target = ctx.ruri
        else:
            to = ctx.msg.to
            if to is None:
                return -1
            target = str(to.uri)
        try:
            aor, _ = self.extract_aor(target)
        except RegError:
            return -1
        flag = _int_arg(match_option)
        match = self._match_values(ctx, flag)
        now = self.now()
        for c in self.ul.contacts(aor, domain):
            if not self._usable(c, now):
                continue
            if match.get("match_callid") and c.callid != match["match_callid"]:
                continue
            if match.get("match_received") and (c.received or "") != match["match_received"]:
                continue
            if match.get("match_contact") and c.contact != match["match_contact"]:
                continue
            if not _int_arg(match_action) & 2:
                add_record_details(ctx, self.xavp_rcd, self.xavp_rcd_mask, c, now)
            if _int_arg(match_action) & 1:
                self.ul.restore_attrs(ctx, c, None)
            return 1
        return -1

    def _match_values(self, ctx: MessageContext, flag: int) -> dict[str, str]:
        """match_callid/match_received/match_contact from the xavp_cfg XAVP, as flags 1/2/4 ask."""
        name = self.params.get("xavp_cfg")
        if not name or not flag:
            return {}
        items = ctx.xavps.get(name)
        if not items:
            return {}
        out = {}
        for bit, key in ((1, "match_callid"), (2, "match_received"), (4, "match_contact")):
            values = items[0].get(key)
            if flag & bit and values and values[0]:
                out[key] = str(values[0])
        return out

    def unregister(self, ctx: MessageContext, domain: str, uri: str, ruid: str | None = None) -> int:
        """-1 bad AoR, -2 error removing, -3 contact not found (Kamailio's codes)."""
        ul = self.ul
        if ruid is None:
            try:
                aor, _ = self.extract_aor(uri)
            except RegError:
                return -1
            ul.delete_urecord(domain, aor)
            return 1
        if uri:
            try:
                aor, _ = self.extract_aor(uri)
            except RegError:
                return -1
            hit = ul.get_urecord_by_ruid(domain, ruid)
            if hit is None or hit[0].aor != aor:
                log.warning("AOR/Contact not found")
                return -3
            ul.delete_contact(domain, hit[1])
            return 1
        hit = ul.get_urecord_by_ruid(domain, ruid)
        if hit is None:
            log.warning("contact not found")
            return -3
        ul.delete_contact(domain, hit[1])
        return 1

    # ------------------------------------------------------------ $ulc

    def reg_fetch_contacts(self, ctx: MessageContext, domain: str, uri: str, profile: str) -> int:
        try:
            aor, _ = self.extract_aor(uri)
        except RegError:
            return -1
        contacts = self.ul.contacts(aor, domain)
        self.ulc.fetch(profile, domain, aor, contacts)
        return 1 if contacts else -1

    def _contact_expired(self, domain: str, contact: Any) -> None:
        """Kamailio's reg_ul_expired_contact: the contact in $ulc(exp=>...), then
        event_route[usrloc:contact-expired] with a faked message."""
        self.ulc.fetch("exp", domain, contact.aor, [contact])
        self.core.run_event_route(EXPIRED_ROUTE)

    def reg_free_contacts(self, ctx: MessageContext, profile: str) -> int:
        self.ulc.free(profile)
        return 1

    def pv_ulc(self, spec: PVar) -> Any:
        return self.ulc.accessor(spec, self.core.pv_accessor)

    def add_sock_hdr(self, ctx: MessageContext, hdr_name: str) -> int:
        """Add `hdr_name: <receiving socket>` to the REGISTER (read back by sock_hdr_name)."""
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        sock = ctx.src.local
        msg.add_header(hdr_name, str(sock))
        return 1


def _avp_name(text: str | None) -> str | None:
    if not text:
        return None
    name = text.strip()
    if name.startswith("$avp(") and name.endswith(")"):
        name = name[5:-1]
    if name[:2] in ("s:", "S:"):
        name = name[2:]
    elif name[:2] in ("i:", "I:"):
        name = "i:" + name[2:]
    return name


def _instance(c: NameAddr) -> str | None:
    return c.params.body("+sip.instance") or None


def _same_instance(gr: str, instance: str | None) -> bool:
    if not instance:
        return False

    def strip(text: str) -> str:
        text = text.strip('"')
        return text[1:-1] if len(text) > 2 and text[0] == "<" and text[-1] == ">" else text
    return strip(urllib.parse.unquote(gr)) == strip(instance)


def _int_arg(value: str | None) -> int:
    if not value:
        return 0
    try:
        return strno2int(value)
    except ValueError:
        return 0
