"""registrar: save() REGISTERs into usrloc and lookup() users, as Kamailio 5.6's registrar does.

Reply codes and the P-Registrar-Error texts follow Kamailio's reply.c; the 200 OK lists every
valid binding as `Contact: <uri>;q=..;expires=N`, joined with ", " on one header line.

RegistrarModule is put together from save() (save.py), its reply (reply.py) and the lookup() family
(lookup.py); what they share is in common.py.
"""
from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from kampy.api import (
    URI, CoreAPI, MessageContext, Module, PVar, Request, SIPProtocolError, SlAPI, UsrlocAPI, parse_uri,
)

from .config import RegistrarCfg
from . import outbound
from .sockets import SocketChoice
from .ulc import UlcProfiles
from .lookup import Lookup
from .reply import Reply
from .save import Save
from .common import EXPIRED_ROUTE, R, RegError, strno2int

log = logging.getLogger("kampy.registrar")


class RegistrarModule(Save, Reply, Lookup, RegistrarCfg, Module):
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

