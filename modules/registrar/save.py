"""registrar's save(): a REGISTER's Contacts checked and written into usrloc (Kamailio's save.c,
with the Path vector of path.c)."""
from __future__ import annotations

import contextlib
import logging
import random
import urllib.parse
from typing import Any

from kampy.api import DBError, MessageContext, NameAddr, Request, RouteType, SIPProtocolError, parse_name_addr

from . import outbound
from .outbound import split_first
from .contacts import ALL_METHODS, ContactInfo, methods_from_list, methods_from_param, parse_q
from .common import (
    CALLID_MAX_SIZE, MAX_UA_SIZE, PATH_MODE_OFF, PREPARED_REPLY, R, RECEIVED_MAX_SIZE, REG_SAVE_ALL_FL,
    REG_SAVE_MEM_FL, REG_SAVE_NORPL_FL, REG_SAVE_NOVARIATION_FL, REG_SAVE_PREPRPL_FL, REG_SAVE_REPL_FL,
    RegError, SaveState, contact_instance,
)

log = logging.getLogger("kampy.registrar")


class Save:
    """save() and the usrloc writes behind it: a part of RegistrarModule."""

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
        first_instance = contact_instance(contacts[0])
        novariation = bool(st.flags & REG_SAVE_NOVARIATION_FL)
        attrs = ul.contact_attrs(ctx)  # usrloc's xavp_contact fields, kept with each binding
        infos = []
        for c, uri in zip(contacts, uris, strict=True):
            expires = self._contact_expires(c, expires_hf, novariation)
            q = self._contact_q(c)
            methods = self._contact_methods(c, allowed)
            received = c.params.body("received") or path_received or received_avp
            instance = contact_instance(c) or first_instance
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

