"""presence_xml: the XML event packages of presence (presence with PIDF bodies, presence.winfo,
dialog;sla, xcap-diff), authorization by XCAP pres-rules from the xcap table, and checks of a
presentity's PIDF document from the config."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Param, PresenceAPI, RouteType, SlAPI

from .presence_xml import PresenceXmlModule, check_xcap_server

EXPORTS = Exports(
    name="presence_xml",
    doc="Adds the XML event packages to presence: presence (PIDF documents aggregated per presentity), "
    "presence.winfo, dialog;sla and xcap-diff; authorizes watchers with XCAP pres-rules.",
    params=(
        Param(
            "db_url",
            (str,),
            "mysql://kamailio:kamailiorw@localhost/kamailio",
            doc="the database holding the xcap table",
        ),
        Param("xcap_table", (str,), "xcap", doc="where XCAP documents (pres-rules, pidf-manipulation) are"),
        Param("force_active", (int,), 0, doc="1: every watcher is active, no rules read (no XCAP server)"),
        Param(
            "integrated_xcap_server",
            (int,),
            0,
            doc="1: the rules are read from the xcap table (an XCAP server writing to it); 0: fetched over "
            "HTTP by xcap_client",
        ),
        Param(
            "xcap_server",
            (str,),
            None,
            multi=True,
            validate=check_xcap_server,
            doc="an XCAP server (host[:port]) xcap_client asks; may be set several times",
        ),
        Param("disable_presence", (int,), 0, doc="1: no presence package"),
        Param("disable_winfo", (int,), 0, doc="1: no presence.winfo package"),
        Param("disable_bla", (int,), 1, doc="0: the dialog;sla package too"),
        Param("disable_xcapdiff", (int,), 0, doc="1: no xcap-diff package"),
        Param(
            "passive_mode",
            (int,),
            0,
            doc="1: no packages, no database (the module is loaded for nothing else)",
        ),
        Param(
            "xcapauth_userdel_reason",
            (str,),
            "probation",
            doc="the Subscription-State reason when a watcher's rule is gone",
        ),
        Param(
            "force_dummy_presence",
            (int,),
            0,
            doc="1: a presentity with nothing published is open and Available",
        ),
        Param(
            "force_presence_single_body",
            (int,),
            0,
            doc="1: one of the published documents is sent, chosen by presence_single_body_priorities",
        ),
        Param(
            "presence_single_body_priorities",
            (str,),
            "Available|Ringing|On the Phone",
            doc="the values of the lookup element, least important first",
        ),
        Param(
            "presence_single_body_lookup_element",
            (str,),
            "note",
            doc="the element whose text gives a document's priority",
        ),
        Param("default_expires", (int,), 3600, doc="the expiry of a PUBLISH or SUBSCRIBE without Expires"),
    ),
    functions=(
        Function(
            "pres_check_basic",
            args=(Arg("presentity_uri", ArgKind.FMT), Arg("status", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Whether a tuple of the presentity's presence document has <basic> `status`.",
            returns="1 when one has, -1 when none has (or there is no document)",
        ),
        Function(
            "pres_check_activities",
            args=(Arg("presentity_uri", ArgKind.FMT), Arg("activity", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Whether the presentity's person activities include `activity`.",
            returns="1 when they do, -1 when not, -2 without a person or activities",
        ),
    ),
    needs=(
        Need(
            "presence",
            PresenceAPI,
            optional=True,
            doc="the packages are added to presence (not in passive_mode)",
        ),
        Need("sl", SlAPI, optional=True, doc="the 415 to a PUBLISH whose body is not XML"),
    ),
    factory=PresenceXmlModule,
)
