"""msilo's implementation: m_store, m_dump, the cleanup and reminder timers, the tm callbacks.

Where kampy differs from Kamailio on purpose (see README.md): a delivered row is deleted when its
2xx arrives, the in-flight list is a claim in the row itself (claims.py: one delivery at a time
across the workers and the servers sharing the database), and the statistics are not swapped.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.api import (
    as_bytes,
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    PVSyntaxError,
    Request,
    Response,
    SIPProtocolError,
    TmUacAPI,
    check_table_version,
    db_connect,
    parse_format,
    parse_pv,
    parse_uri,
)

from . import rules
from .claims import Claims

log = logging.getLogger("kampy.msilo")

SILO_VERSION = 8
LEASE_CHECKS = 3  # a claim lapses after this many check_time periods without renewal
# sizes of the standard silo table's columns: a value that does not fit is refused, never cut (the
# body's BLOB holds 65,535 bytes, more than rules.MAX_DELIVERABLE_BODY)
LIMITS = {"username": 64, "domain": 64, "src_addr": 255, "dst_addr": 255, "ctype": 32}
FORMAT_PARAMS = ("from_address", "contact_hdr", "extra_hdrs", "offline_message", "content_type_hdr")
COLUMN_PARAMS = {"id": "sc_mid", "src_addr": "sc_from", "dst_addr": "sc_to", "username": "sc_uri_user",
                 "domain": "sc_uri_host", "body": "sc_body", "ctype": "sc_ctype", "exp_time": "sc_exp_time",
                 "inc_time": "sc_inc_time", "snd_time": "sc_snd_time", "extra_hdrs": "sc_stored_hdrs",
                 "status": "sc_status"}


def avp_spec(name: str, value: str) -> Any:
    """The parsed `$avp(...)` spec of an AVP parameter; ValueError for anything else."""
    try:
        spec = parse_pv(value.strip())
    except PVSyntaxError as exc:
        raise ValueError(f"msilo: {name} must be an AVP spec such as $avp(name): {exc}") from None
    if spec.cls != "avp":
        raise ValueError(f"msilo: {name} must be an AVP spec such as $avp(name), not '{value}'")
    return spec


class Format:
    """A parameter that may hold pseudo-variables, compiled once (at init when the PV classes are
    already known, else on first use: a module loaded after msilo may provide them)."""

    def __init__(self, name: str, text: str, core: CoreAPI) -> None:
        try:
            parse_format(text)
        except PVSyntaxError as exc:
            raise ValueError(f"msilo: bad pseudo-variable in {name} \"{text}\": {exc}") from None
        self.name, self.text, self._core = name, text, core
        self._fn: Callable[[Any], str] | None = None
        try:
            self._fn = core.formatter(text)
        except Exception:  # a PV class of a module loaded later: resolved on first use
            self._fn = None

    @property
    def compiled(self) -> bool:
        return self._fn is not None

    @property
    def constant(self) -> str | None:
        """The text when it holds no pseudo-variable (known once compiled), else None."""
        value = getattr(self._fn, "constant", None)
        return value if isinstance(value, str) else None

    def render(self, ctx: MessageContext) -> str | None:
        """The formatted text, or None when formatting fails (Kamailio: "not available")."""
        try:
            if self._fn is None:
                self._fn = self._core.formatter(self.text)
            return self._fn(ctx)
        except Exception as exc:
            log.warning("msilo: cannot format %s \"%s\": %s", self.name, self.text, exc)
            return None


@dataclass(frozen=True)
class Delivery:
    """One MESSAGE msilo sent for a silo row, waiting for its final reply."""

    mid: int
    inc_time: int
    reminder: bool


_NOTICE_NOT_AVAILABLE = ("msilo: the offline notice is not available (empty from_address, "
                         "offline_message or content_type_hdr): not sent")


def _notice_headers(contact: str, ctype: str) -> str | None:
    """The notice's extra header block (Contact, then Content-Type), None when it is too long."""
    headers = contact + ctype
    return headers if len(as_bytes(headers)) < rules.MAX_EXTRA_HDRS else None


class MSilo(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmUacAPI = core.api("tm")  # every request msilo sends goes through tm's UAC
        p = params
        if p["offline_message"] and not p["content_type_hdr"]:
            raise ValueError("msilo: offline_message is set but content_type_hdr is not: "
                             "set the Content-Type line of the notice (content_type_hdr)")
        self.table: str = p["db_table"]
        self.col = {logical: p[param] for logical, param in COLUMN_PARAMS.items()}
        self.max_messages = int(p["max_messages"])
        self.use_contact = bool(p["use_contact"])
        self.formats = {name: Format(name, p[name], core) for name in FORMAT_PARAMS if p.get(name)}
        self.snd_time_avp = self._avp("snd_time_avp")
        self.extra_hdrs_avp = self._avp("extra_hdrs_avp")
        skip = int(p["skip_notification_flag"])
        self.skip_mask = 0 if skip < 0 else 1 << skip
        self.expire_time = int(p["expire_time"])
        self.clean_period = int(p["clean_period"])
        self.reminder: str | None = p["reminder"] or None
        self.outbound_proxy: str | None = p["outbound_proxy"] or None
        self._cleanup_runs = 0
        self.db = self._connect(p["db_url"])
        d = self.db.dialect
        # prepared once: the count m_store runs when max_messages is set
        self._count_sql = (f"SELECT COUNT(*) FROM {d.ident(self.table)} WHERE "
                           f"{d.ident(self.col['username'])} = {d.placeholder} AND "
                           f"{d.ident(self.col['domain'])} = {d.placeholder}")
        # (From, headers) of the notice when both are constant; False: they are not; None: unknown yet
        self._notice_static: tuple[str, str] | bool | None = None
        self.claims = self._claims()

    # ------------------------------------------------------------ setup

    def _avp(self, name: str) -> Any:
        value = self.params.get(name)
        if not value:
            return None
        spec = avp_spec(name, value)
        return _LazyPV(spec, self.core)

    def _connect(self, url: str) -> Any:
        try:
            return self._open(url)
        except DBError as exc:
            raise ValueError(f"msilo: {exc}") from None

    def _open(self, url: str) -> Any:
        db = db_connect(url, create_missing=True)
        try:
            for column in self.col.values():
                db.dialect.ident(column)
            db.dialect.ident(self.table)
            check_table_version(db, self.table, SILO_VERSION)
            self._check_claims_column(db)
        except DBError:
            db.close()
            raise
        return db

    def _check_claims_column(self, db: Any) -> None:
        column = self.col["status"]
        try:  # an UPDATE of no row: SQLite reads an unknown "column" in a SELECT as a string
            db.update(self.table, [(self.col["id"], "=", 0), (self.col["id"], "<>", 0)], {column: 0})
        except DBError as exc:
            raise DBError(f"table '{self.table}' has no column '{column}' (sc_status), where kampy keeps "
                          f"its delivery claims (Kamailio's silo table has it): {exc}", exc.reason) from exc

    def _claims(self) -> Claims:
        return Claims(self.db, self.table, self.col["id"], self.col["status"],
                      LEASE_CHECKS * int(self.params["check_time"]), self._now)

    def child_init(self, rank: int) -> None:
        self.claims = self._claims()  # each worker holds its own claims

    def destroy(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ helpers

    def _now(self) -> int:
        return rules.int32(self.core.clock.time())

    def _stat(self, name: str) -> None:
        self.core.stats.inc(f"msilo:{name}")

    def _row(self, values: dict[str, Any]) -> dict[str, Any]:
        return {self.col[k]: v for k, v in values.items()}

    # ------------------------------------------------------------ m_store

    def m_store(self, ctx: MessageContext, owner: str | None = None) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        try:
            row = self._store_row(ctx, msg, owner)
        except SIPProtocolError as exc:
            log.info("msilo: m_store: cannot parse the request: %s", exc)
            return -1
        if row is None:
            return -1
        if self.max_messages > 0 and not self._under_limit(row["username"], row["domain"]):
            return -1
        try:
            self.db.insert(self.table, self._row(row))
        except DBError as exc:
            log.error("msilo: m_store: cannot store the message: %s", exc)
            return -1
        self.core.stats.inc("msilo:stored_messages")
        if self.formats.get("from_address") and self.formats.get("offline_message"):
            self._send_notice(ctx, msg, row["src_addr"])
        return 1

    def _store_row(self, ctx: MessageContext, msg: Request, owner: str | None) -> dict[str, Any] | None:
        """The silo row for this MESSAGE, or None (logged) when m_store must return false."""
        if not msg.has_header("content-length"):
            log.info("msilo: m_store: no Content-Length header")
            return None
        if rules.atoi(msg.header("content-length")) <= 0 or not msg.body:
            log.info("msilo: m_store: body empty")
            return None
        to, frm = msg.to, msg.from_
        if to is None or frm is None:
            log.info("msilo: m_store: no To or From header")
            return None
        owner_uri = self._store_owner(ctx, msg, owner)
        if owner_uri is None:
            log.info("msilo: m_store: invalid owner URI or no username for owner")
            return None
        ctype = rules.stored_ctype(msg)
        if ctype is None:
            log.info("msilo: m_store: missing or invalid Content-Type")
            return None
        extra = self._extra_headers(ctx, msg)
        if extra is None:
            return None
        inc_time = self._now()
        row = {
            "username": owner_uri.user, "domain": owner_uri.host, "dst_addr": str(to.uri),
            "src_addr": str(frm.uri), "body": msg.body, "ctype": ctype, "inc_time": inc_time,
            "exp_time": rules.int32(inc_time + rules.lifetime(msg, self.expire_time)),
            "snd_time": self._send_time(ctx), "extra_hdrs": extra,
        }
        return row if self._fits(row) else None

    @staticmethod
    def _store_owner(ctx: MessageContext, msg: Request, owner: str | None) -> Any:
        """The owner URI of m_store: `owner`, else the R-URI. When that is the request's own R-URI
        (m_store("$ru") before any change to it), the parsed one the request holds is used."""
        text = owner.strip() if owner is not None else ctx.ruri
        if text == msg.uri:
            try:
                return _user_host(msg.ruri)
            except SIPProtocolError:
                return None
        return _owner_uri(text)

    @staticmethod
    def _fits(row: dict[str, Any]) -> bool:
        if len(row["body"]) > rules.MAX_DELIVERABLE_BODY:
            log.warning("msilo: m_store: a body of %d bytes is too large to deliver (over UDP the "
                        "largest is %d): not stored", len(row["body"]), rules.MAX_DELIVERABLE_BODY)
            return False
        for key, limit in LIMITS.items():
            size = len(row[key])  # characters
            if size > limit:
                log.warning("msilo: m_store: %s is %d long, the silo table holds %d: not stored",
                            key, size, limit)
                return False
        return True

    def _extra_headers(self, ctx: MessageContext, msg: Request) -> str | None:
        value = self.extra_hdrs_avp.get(ctx) if self.extra_hdrs_avp else None
        extra = value if isinstance(value, str) else rules.stored_extra_headers(msg)
        if len(as_bytes(extra)) >= rules.MAX_EXTRA_HDRS:
            log.warning("msilo: m_store: extra headers are %d bytes or more: not stored",
                        rules.MAX_EXTRA_HDRS)
            return None
        return extra

    def _send_time(self, ctx: MessageContext) -> int:
        if self.snd_time_avp is None:
            return 0
        value = self.snd_time_avp.get(ctx)
        if not isinstance(value, str):
            return 0
        stamp = rules.parse_send_time(value)
        if stamp is None:
            log.warning("msilo: m_store: bad reminder time '%s' (YYYYMMDDHHMMSS): stored as an "
                        "ordinary offline message", value)
            return 0
        return stamp

    def _under_limit(self, username: str, domain: str) -> bool:
        limit = self.max_messages
        if limit <= 0:
            return True
        try:
            count = int(self.db.raw_query(self._count_sql, (username, domain))[0][0])
        except DBError as exc:
            log.error("msilo: m_store: cannot count the stored messages: %s", exc)
            return False
        if count >= limit:
            log.info("msilo: m_store: %s@%s has %d messages, max_messages is %d", username, domain,
                     count, limit)
            return False
        return True

    def _send_notice(self, ctx: MessageContext, msg: Request, from_uri: str) -> None:
        if self.skip_mask and ctx.flags & self.skip_mask:
            return
        head = self._notice_head(ctx)
        if head is None:
            return
        sender, headers = head
        body = self.formats["offline_message"].render(ctx)
        if not body:
            log.warning(_NOTICE_NOT_AVAILABLE)
            return
        target = rules.notice_target(msg, from_uri, self.use_contact)
        self._uac(target, sender, from_uri, headers, as_bytes(body), None)

    def _notice_head(self, ctx: MessageContext) -> tuple[str, str] | None:
        """(From URI, header block) of the notice, or None (logged) when it cannot be sent."""
        static = self._notice_static if self._notice_static is not None else self._static_notice()
        if static:  # From and headers hold no pseudo-variable: checked once
            return static
        sender = self.formats["from_address"].render(ctx)
        ctype_fmt = self.formats.get("content_type_hdr")
        ctype = ctype_fmt.render(ctx) if ctype_fmt else None
        if not sender or not ctype:
            log.warning(_NOTICE_NOT_AVAILABLE)
            return None
        contact_fmt = self.formats.get("contact_hdr")
        headers = _notice_headers(contact_fmt.render(ctx) or "" if contact_fmt else "", ctype)
        if headers is None:
            log.warning("msilo: the notice's headers are %d bytes or more: not sent", rules.MAX_EXTRA_HDRS)
            return None
        return sender, headers

    def _static_notice(self) -> tuple[str, str] | bool | None:
        """(From URI, header block) of the notice when neither depends on the message: non-empty
        constants whose headers fit; False when they are rendered and checked per notice; None
        while a format is not compiled yet (a module loaded later provides its PV class)."""
        parts = [self.formats.get(name) for name in ("from_address", "content_type_hdr", "contact_hdr")]
        if any(f is not None and not f.compiled for f in parts):
            return None
        sender, ctype, contact = (None if f is None else f.constant for f in parts)
        static: tuple[str, str] | bool = False
        if sender and ctype and (parts[2] is None or contact is not None):
            headers = _notice_headers(contact or "", ctype)
            if headers is not None:
                static = (sender, headers)
        self._notice_static = static
        return static

    # ------------------------------------------------------------ m_dump

    def m_dump(self, ctx: MessageContext, owner: str | None = None) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        try:
            to = msg.to
            if to is None:
                return -1
            if msg.method == "REGISTER" and not rules.register_wants_messages(msg):
                log.info("msilo: m_dump: the REGISTER does not ask for MESSAGEs")
                return -1
        except SIPProtocolError as exc:
            log.info("msilo: m_dump: cannot parse the request: %s", exc)
            return -1
        owner_uri = _owner_uri(owner) if owner is not None else _user_host(to.uri)
        if owner_uri is None:
            log.info("msilo: m_dump: invalid owner URI")
            return -1
        c = self.col
        try:
            rows = self.db.query(
                self.table,
                [c[k] for k in ("id", "src_addr", "dst_addr", "body", "ctype", "inc_time", "extra_hdrs")],
                [(c["username"], "=", owner_uri.user), (c["domain"], "=", owner_uri.host),
                 (c["snd_time"], "=", 0), self.claims.free_condition()],
                order_by=c["id"])
        except DBError as exc:
            log.error("msilo: m_dump: cannot read the stored messages: %s", exc)
            return -1
        if not rows:
            return 1
        extra_fmt = self.formats.get("extra_hdrs")
        extra = (extra_fmt.render(ctx) or "") if extra_fmt else ""
        sent = 0
        for row in rows:
            result = self._dump_row(row, extra)
            if result < 0:
                return -1
            sent += result
        log.info("msilo: m_dump: %d of %d message(s) sent to %s@%s", sent, len(rows), owner_uri.user,
                 owner_uri.host)
        return 1

    def _dump_row(self, row: tuple[Any, ...], extra: str) -> int:
        """Send one stored message: 1 sent, 0 skipped (in flight elsewhere, or too large), -1 stop
        (headers too long, or the database failed)."""
        mid, src, dst, body, ctype, inc_time, stored_hdrs = row
        mid, inc_time, ctype = int(mid or 0), int(inc_time or 0), rules.as_text(ctype)
        if body is not None and len(body) > rules.MAX_DELIVERABLE_BODY:
            log.warning("msilo: m_dump: message %d has a body of %d bytes, too large to deliver (over "
                        "UDP the largest is %d): not sent, left until it expires", mid, len(body),
                        rules.MAX_DELIVERABLE_BODY)
            return 0
        claimed = self._claim(mid)
        if claimed is not True:
            return -1 if claimed is None else 0
        block = ""
        if ctype:
            block += f"Content-Type: {ctype}\r\n"
        if self.params["add_contact"]:
            block += f"Contact: <{src}>;msilo=yes\r\n"
        block += extra + rules.as_text(stored_hdrs)
        if len(as_bytes(block)) >= rules.MAX_EXTRA_HDRS:
            log.error("msilo: m_dump: headers of message %d are %d bytes or more: stopped", mid,
                      rules.MAX_EXTRA_HDRS)
            self.claims.release(mid)
            self._stat("failed_messages")
            return -1
        headers = (f"Date: {rules.rfc1123(inc_time)}\r\n" if inc_time > 0 else "") + block
        data = rules.as_bytes(body)
        if self.params["add_date"] and ctype == "text/plain":
            data = rules.with_prefix(rules.OFFLINE_PREFIX, inc_time, data)
        delivery = Delivery(mid, inc_time, reminder=False)
        self._uac(rules.as_text(dst), rules.as_text(src), rules.as_text(dst), headers, data, delivery)
        return 1

    # ------------------------------------------------------------ sending and replies

    def _uac(self, ruri: str, from_uri: str, to_uri: str, headers: str, body: bytes,
             delivery: Delivery | None) -> None:
        """Send a MESSAGE through tm's UAC; `delivery`'s final reply comes back to `_final`."""
        callback: Callable[[int, Response | None], None] | None = None
        if delivery is not None:  # a notice's reply changes nothing: no callback
            done: list[int] = []

            def callback(status: int, reply: Response | None) -> None:
                if not done:  # once, even if tm both fails and calls back
                    done.append(status)
                    self._final(delivery, status)

        try:
            sent = self.tm.t_request("MESSAGE", ruri, to_uri, from_uri, headers=headers,
                                                 body=body, next_hop=self.outbound_proxy,
                                                 callback=callback)
        except Exception as exc:  # tm could not send at all: a failed delivery, not a stuck claim
            log.error("msilo: cannot send a MESSAGE to %s: %s", ruri, exc)
            sent = -1
        if sent is not None and sent < 0 and delivery is not None and callback is not None:
            log.error("msilo: tm could not send message %d to %s", delivery.mid, ruri)
            callback(500, None)

    def _claim(self, mid: int) -> bool | None:
        """Claim row `mid` for this worker: True, False (another worker or node has it), None (the
        database failed: logged)."""
        try:
            return self.claims.claim(mid)
        except DBError as exc:
            log.error("msilo: cannot claim message %d for delivery: %s", mid, exc)
            return None

    def _final(self, delivery: Delivery, status: int) -> None:
        """The final reply of a delivery: only a 2xx removes the row."""
        if 200 <= status < 300:
            self._delivered(delivery)
        else:
            self._failed(delivery, status)

    def _delivered(self, d: Delivery) -> None:
        c = self.col
        try:
            self.db.delete(self.table, {c["id"]: d.mid, c["inc_time"]: d.inc_time})
        except DBError as exc:
            log.error("msilo: message %d was delivered but could not be deleted (it will be sent "
                      "again once its claim lapses): %s", d.mid, exc)
        self.claims.done(d.mid)
        self._stat("dumped_reminders" if d.reminder else "dumped_messages")

    def _failed(self, d: Delivery, status: int) -> None:
        log.info("msilo: delivery of message %d failed with %d: kept for the next REGISTER", d.mid, status)
        if not d.reminder:
            self._stat("failed_messages")
            self.claims.release(d.mid)
            return
        self._stat("failed_reminders")
        # one statement: the reminder becomes an offline message and is free again
        self.claims.release(d.mid, also={self.col["snd_time"]: 0})

    # ------------------------------------------------------------ timers

    def timer_clean(self) -> None:
        """Every check_time, in every worker: renew the claims of this worker's deliveries still
        waiting for their final reply. On rank 1, every clean_period-th run: purge expired rows
        (Kamailio purges them whether pending, reminders or in flight)."""
        self.claims.renew()
        if self.core.rank != 1:
            return
        self._cleanup_runs += 1
        if self._cleanup_runs % self.clean_period:
            return
        try:
            count = self.db.delete(self.table, [(self.col["exp_time"], "<=", self._now())])
        except DBError as exc:
            log.error("msilo: cannot purge expired messages: %s", exc)
            return
        if count:
            log.info("msilo: purged %d expired message(s)", count)

    def timer_send(self) -> None:
        """Every send_time: send the reminders that are due, to sip:username@domain."""
        if self.core.rank != 1 or not self.reminder:
            return
        c = self.col
        now = self._now()
        try:
            rows = self.db.query(
                self.table, [c["id"], c["username"], c["domain"], c["body"], c["ctype"], c["snd_time"],
                             c["inc_time"]],
                [(c["snd_time"], "<>", 0), (c["snd_time"], "<=", now), self.claims.free_condition()],
                order_by=c["id"])
        except DBError as exc:
            log.error("msilo: cannot read the due reminders: %s", exc)
            return
        for row in rows:
            if self._send_reminder(row) is None:
                return

    def _send_reminder(self, row: tuple[Any, ...]) -> bool | None:
        """Send one due reminder: True sent, False skipped, None the database failed."""
        mid, user, domain, body, ctype, snd_time, inc_time = row
        if user is None or domain is None or body is None:
            return False
        claimed = self._claim(int(mid or 0))
        if claimed is not True:
            return claimed
        ctype = rules.as_text(ctype)
        headers = f"Content-Type: {ctype}\r\n"
        if self.params["add_contact"]:
            headers += f"Contact: <{self.reminder}>;msilo=yes\r\n"
        data = rules.as_bytes(body)
        if self.params["add_date"]:
            data = rules.with_prefix(rules.REMINDER_PREFIX, int(snd_time), data)
        uri = f"sip:{rules.as_text(user)}@{rules.as_text(domain)}"
        assert self.reminder is not None
        self._uac(uri, self.reminder, uri, headers, data, Delivery(int(mid), int(inc_time or 0), True))
        return True


class _LazyPV:
    """An AVP accessor resolved on first use (the pv module may be loaded after msilo)."""

    def __init__(self, spec: Any, core: CoreAPI) -> None:
        self.spec, self._core, self._acc = spec, core, None

    def get(self, ctx: MessageContext) -> Any:
        if self._acc is None:
            self._acc = self._core.pv_accessor(self.spec)
        return self._acc.get(ctx)


def _user_host(uri: Any) -> Any:
    return uri if uri.user and uri.host else None


def _owner_uri(text: str) -> Any:
    """A bare owner URI with user and host, or None."""
    try:
        uri = parse_uri(text.strip())
    except SIPProtocolError:
        return None
    return _user_host(uri)
