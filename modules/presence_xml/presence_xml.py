"""presence_xml: the XML event packages it adds to presence (add_events.c), the rules documents read
from the xcap table, and pres_check_basic / pres_check_activities."""

from __future__ import annotations

import logging
from typing import Any

from kampy.api import (
    ACTIVE_STATUS,
    WINFO_TYPE,
    CoreAPI,
    DBError,
    Database,
    MessageContext,
    Module,
    PresenceAPI,
    PresenceEvent,
    SlAPI,
    Subscription,
    as_bytes,
    check_table_version,
    db_connect,
    libxml,
    parse_uri,
)

from . import pidf, xcap_auth

log = logging.getLogger("kampy.presence_xml")

XCAP_TABLE_VERSION = 4
PRES_RULES, PIDF_MANIPULATION = 1 << 1, 1 << 4  # xcap_client's document types


def check_xcap_server(value: str) -> None:
    """pxml_add_xcap_server(): `host[:port]`, the port within 1..65535."""
    head, sep, port = value.rpartition(":")
    if not sep or not head:
        return
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("wrong port number")


class PresenceXmlModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.passive = int(params["passive_mode"]) == 1
        self.force_active = int(params["force_active"])
        self.force_dummy = int(params["force_dummy_presence"])
        self.single_body = int(params["force_presence_single_body"])
        self.priorities: str = params["presence_single_body_priorities"]
        self.lookup_element: str = params["presence_single_body_lookup_element"]
        self.userdel_reason: str = params["xcapauth_userdel_reason"]
        self.integrated = int(params["integrated_xcap_server"])
        self.xcap_table: str = params["xcap_table"]
        self.xcap_servers = list(params["xcap_server"] or [])
        self.default_expires = int(params["default_expires"])
        self.db: Database | None = None
        self.presence: PresenceAPI | None = None
        self.sl: SlAPI | None = None
        if self.passive:
            return
        self.sl = core.api("sl")
        self.presence = core.api("presence")
        if self.presence is None:
            raise ValueError("cannot bind to presence api")
        self._add_events(params)
        if not self.force_active:
            self._open_db(str(params["db_url"]))
            if not self.integrated:
                raise ValueError(
                    "Can't bind xcap_client: integrated_xcap_server 0 fetches the rules over "
                    "HTTP with the xcap_client module, which kampy does not have"
                )
        if not self.xcap_servers and not self.force_active and not self.integrated:
            raise ValueError("no xcap_server parameter set")

    def _open_db(self, url: str) -> None:
        try:
            self.db = db_connect(url)
            check_table_version(self.db, self.xcap_table, XCAP_TABLE_VERSION)
        except DBError as exc:
            raise ValueError(f"presence_xml: {exc}") from exc

    def _add_events(self, params: dict[str, Any]) -> None:
        """xml_add_events(): presence, presence.winfo, dialog;sla, xcap-diff (each unless disabled)."""
        assert self.presence is not None
        expires = self.default_expires
        events = []
        if not int(params["disable_presence"]):
            events.append(
                PresenceEvent(
                    "presence",
                    "application/pidf+xml",
                    expires,
                    req_auth=1,
                    apply_auth_nbody=self.apply_auth,
                    get_auth_status=self.watcher_allowed,
                    agg_nbody=self.agg_nbody,
                    evs_publ_handl=self.publ_handl,
                    get_rules_doc=self.get_rules_doc,
                    get_pidf_doc=self.get_pidf_doc,
                )
            )
        if not int(params["disable_winfo"]):
            events.append(
                PresenceEvent("presence.winfo", "application/watcherinfo+xml", expires, type=WINFO_TYPE)
            )
        if not int(params["disable_bla"]):
            events.append(
                PresenceEvent(
                    "dialog;sla",
                    "application/dialog-info+xml",
                    expires,
                    etag_not_new=1,
                    evs_publ_handl=self.publ_handl,
                )
            )
        if not int(params["disable_xcapdiff"]):
            events.append(PresenceEvent("xcap-diff", "application/xcap-diff+xml", expires))
        for event in events:
            if self.presence.add_event(event) < 0:
                raise ValueError(f"while adding event {event.name}")

    # ------------------------------------------------------------ the callbacks presence calls
    def publ_handl(self, ctx: MessageContext) -> int:
        """xml_publ_handl(): a body must be well-formed XML (else 415)."""
        body = ctx.msg.body
        if not body:
            return 1
        try:
            libxml.parse(body)
        except libxml.XmlError:
            log.error("bad body format")
            if self.sl is not None and self.sl.send_reply(ctx, 415, "Unsupported media type") < 0:
                log.error("while sending '415 Unsupported media type' reply")
            return -1
        return 1

    def agg_nbody(self, user: str, domain: str, bodies: list[bytes] | None, off_index: int) -> bytes | None:
        """pres_agg_nbody(): the publications as one document (the withdrawn one shown closed);
        without any, the dummy presence when force_dummy_presence."""
        if bodies is None:
            return pidf.empty_body(user) if self.force_dummy else None
        bodies = list(bodies)
        if off_index >= 0:
            offline = pidf.offline_body(bodies[off_index])
            if offline is None:
                log.error("while constructing offline body")
                return None
            bodies[off_index] = offline
        if self.single_body:
            body = pidf.aggregate_priority(bodies, self.priorities, self.lookup_element)
        else:
            body = pidf.aggregate(bodies)
        if body is None and bodies:
            log.error("while aggregating body")
        return body

    def watcher_allowed(self, subs: Subscription) -> int:
        """pres_watcher_allowed(): active with force_active, else what the rules say."""
        if self.force_active:
            subs.status, subs.reason = ACTIVE_STATUS, ""
            return 0
        return xcap_auth.watcher_allowed(subs, self.userdel_reason, int(self.core.clock.time()), self._sphere)

    def apply_auth(self, body: bytes, subs: Subscription) -> tuple[int, bytes | None]:
        """pres_apply_auth(): the document trimmed by the watcher's rule."""
        if self.force_active:
            return 0, None
        if subs.auth_rules_doc is None:
            log.error("NULL rules doc")
            return -1, None
        try:
            doc = libxml.parse(subs.auth_rules_doc)
        except libxml.XmlError:
            log.error("parsing xml doc")
            return -1, None
        rule = xcap_auth.get_rule_node(subs, doc, int(self.core.clock.time()), self._sphere)
        if rule is None:
            log.debug("The subscriber didn't match the conditions")
            return 0, None
        final = xcap_auth.final_notify_body(body, rule)
        if final is None:
            log.error("in function get_final_notify_body")
            return -1, None
        return 1, final

    def _sphere(self, pres_uri: str) -> str | None:
        return self.presence.get_sphere(pres_uri) if self.presence is not None else None

    def get_rules_doc(self, user: str, domain: str) -> tuple[int, bytes | None]:
        return self._xcap_doc(user, domain, None, PRES_RULES)

    def get_pidf_doc(self, user: str, domain: str, file_uri: str) -> tuple[int, bytes | None]:
        return self._xcap_doc(user, domain, file_uri, PIDF_MANIPULATION)

    def _xcap_doc(
        self, user: str, domain: str, file_uri: str | None, doc_type: int
    ) -> tuple[int, bytes | None]:
        """get_rules_doc(): the xcap table's document of that type (by URI, or by user and domain)."""
        if self.force_active or self.db is None:
            return 0, None
        where: dict[str, Any] = {"doc_type": doc_type}
        if file_uri is not None:
            where["doc_uri"] = file_uri
        else:
            where.update(username=user, domain=domain)
        try:
            rows = self.db.query(self.xcap_table, ["doc"], where)
        except DBError as exc:
            log.error("while querying table xcap for [user]=%s\t[domain]= %s: %s", user, domain, exc)
            return -1, None
        if not rows:
            log.debug(
                "No document found in db table for [user]=%s\t[domain]= %s\t[doc_type]= %d",
                user,
                domain,
                doc_type,
            )
            if not self.integrated and doc_type != PRES_RULES:
                log.warning("Cannot retrieve non pres-rules documents fromexternal XCAP server")
            return 0, None
        doc = rows[0][0]
        if not doc:
            log.error("Xcap doc NULL" if doc is None else "Xcap doc empty")
            return -1, None
        return 1, bytes(doc) if not isinstance(doc, str) else as_bytes(doc)

    # ------------------------------------------------------------ config functions
    def _presentity(self, presentity_uri: str) -> bytes | None:
        try:
            parse_uri(presentity_uri)
        except Exception:  # noqa: BLE001 - a URI the parser refuses
            log.error("bad uri: %s", presentity_uri)
            return None
        if self.presence is None:
            log.error("event presence is not registered")
            return None
        event = self.presence.contains_event("presence")
        if event is None:
            log.error("event presence is not registered")
            return None
        body = self.presence.get_presentity(presentity_uri, event)
        if not body:
            log.debug("cannot get presentity for %s", presentity_uri)
            return None
        return body

    def pres_check_basic(self, ctx: MessageContext, presentity_uri: str, status: str) -> int:
        body = self._presentity(presentity_uri)
        return -1 if body is None else pidf.check_basic(body, status)

    def pres_check_activities(self, ctx: MessageContext, presentity_uri: str, activity: str) -> int:
        body = self._presentity(presentity_uri)
        return -1 if body is None else pidf.check_activities(body, activity)
