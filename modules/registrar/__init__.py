"""SIP registrar: save(), lookup(), registered() over usrloc."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Need,
    PVClass,
    Param,
    RouteType,
    SlAPI,
    Stat,
    UsrlocAPI,
)

from .config import CFG
from .registrar import RegistrarModule

__all__ = ["EXPORTS", "RegistrarModule"]


# the table a function works on; registered with usrloc when the config is loaded
DOMAIN = Arg("domain", ArgKind.FMT, fixup="fix_domain")

EXPORTS = Exports(
    name="registrar",
    cfg=CFG,
    doc="SIP registrar: save(), lookup(), registered() over usrloc.",
    params=(
        Param("default_expires", (int,), 3600),
        Param("default_expires_range", (int,), 0),
        Param("expires_range", (int,), 0),
        Param("default_q", (int,), -1),
        Param("append_branches", (int,), 1),
        Param("case_sensitive", (int,), 0),
        Param("realm_prefix", (str,), None),
        Param("min_expires", (int,), 60),
        Param("max_expires", (int,), 0),
        Param("received_param", (str,), "received"),
        Param("received_avp", (str,), None),
        Param("max_contacts", (int,), 0),
        Param("retry_after", (int,), 0),
        Param("sock_hdr_name", (str,), None),
        Param("sock_flag", (int,), -1,
              doc="message flag: save() stores the socket named in the sock_hdr_name header (or the "
                  "xavp_cfg XAVP's socket field) instead of the receiving one"),
        Param("sock_mode", (int,), 0, doc="1: save() stores the advertised address of the socket"),
        Param("outbound_mode", (int,), 0,
              doc="RFC 5626 outbound: 0 not supported, 1 supported, 2 supported and required"),
        Param("regid_mode", (int,), 0,
              doc="0: use a Contact's reg-id only with outbound; 1: always"),
        Param("flow_timer", (int,), 0, doc="the Flow-Timer of save()'s 200 OK with outbound (0: none)"),
        Param("lookup_filter_mode", (int,), 0,
              doc="lookup() uses only contacts with a branch flag of $xavp(<xavp_cfg>=>rlf_bflags) (1) "
                  "and only those whose TCP connection is open (2)"),
        Param("event_callback", (str,), None,
              doc="a KEMI function run instead of event_route[usrloc:contact-expired]; a kamailio.cfg "
                  "script has no KEMI engine, so, as in Kamailio, nothing runs"),
        Param("method_filtering", (int,), 0),
        Param("use_path", (int,), 0),
        Param("path_mode", (int,), 2),
        Param("path_use_received", (int,), 0),
        Param("path_check_local", (int,), 0),
        Param("xavp_cfg", (str,), None),
        Param("xavp_rcd", (str,), None,
              doc="the XAVP that save(), lookup() and registered() fill with the record's ruid, "
                  "contact, expires, received and path"),
        Param("xavp_rcd_mask", (int,), 0,
              doc="the inner XAVPs of xavp_rcd left out: 1 ruid, 2 contact, 4 expires, 8 received, "
                  "16 path"),
        Param("gruu_enabled", (int,), 1),
        Param("contact_max_size", (int,), 512),
        Param("min_expires_mode", (int,), 0),
        Param("use_expired_contacts", (int,), 0),
    ),
    functions=(
        Function(
            "save",
            args=(Arg("domain", ArgKind.STR, fixup="fix_domain"),
                  Arg("flags", ArgKind.STR, fixup="fix_save_flags"), Arg("uri", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY,
            doc="The function processes a REGISTER message. Flags: 0x01 memory only, 0x02 no reply, "
                "0x04 replace all contacts, 0x08 no expires variation, 0x10 prepare the reply for "
                "reg_send_reply().",
            returns="1 new contacts, 2 updated, 3 deleted (or Contact: *), 4 no Contact (query); "
                    "-2 too many contacts, -1 other errors",
        ),
        Function(
            "lookup",
            args=(DOMAIN, Arg("uri", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The lookup function extracts username and/or domain from Request-URI and tries...",
            returns="1 found, -1 not found, -2 found but method not allowed, -3 internal error",
        ),
        Function(
            "lookup_to_dset",
            args=(DOMAIN, Arg("uri", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="Similar to lookup(...), but push the location contacts to destination set,...",
            returns="",
        ),
        Function(
            "registered",
            args=(
                DOMAIN,
                Arg("uri", ArgKind.FMT),
                Arg("match_option", ArgKind.FMT),
                Arg("match_action", ArgKind.FMT),
            ),
            min_args=1,
            routes=RouteType.ANY,
            doc="The function returns true if the AOR in the URI is registered, false otherwise.",
            returns="1 registered, -1 not registered",
        ),
        Function(
            "add_sock_hdr",
            args=(Arg("hdr_name", ArgKind.FMT),),
            routes=RouteType.REQUEST,
            doc="Adds a new header to the current REGISTER request with hdr_name which contains...",
            returns="",
        ),
        Function(
            "unregister",
            args=(DOMAIN, Arg("uri", ArgKind.FMT), Arg("ruid", ArgKind.FMT)),
            min_args=2,
            routes=RouteType.ANY,
            doc="The function removes contacts associated with 'uri' from the location database.",
            returns="1 removed, -1 bad AoR, -2 error, -3 contact not found",
        ),
        Function(
            "reg_fetch_contacts",
            args=(DOMAIN, Arg("uri", ArgKind.FMT), Arg("profile", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The function fetches the contacts for 'uri' from table 'domain' to...",
            returns="",
        ),
        Function(
            "reg_free_contacts",
            args=(Arg("profile", ArgKind.STR),),
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The function frees the contacts from pseudo-variable $ulc(profile).",
            returns="",
        ),
        Function(
            "lookup_branches",
            args=(DOMAIN,),
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The function performs lookup(domain) on r-uri and additional branches (only...",
            returns="",
        ),
        Function(
            "reg_send_reply",
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The function sends the SIP reply that is normally sent by save(...), but that...",
            returns="",
        ),
    ),
    stats=(
        Stat("max_expires", no_reset=True),
        Stat("max_contacts", no_reset=True),
        Stat("default_expire", no_reset=True),
        Stat("default_expires_range", no_reset=True),
        Stat("expires_range", no_reset=True),
        Stat("accepted_regs"),
        Stat("rejected_regs"),
    ),
    pvars=(
        PVClass("ulc", arg="required"),
    ),
    event_routes=(EventRoute("usrloc:contact-expired",
                             doc="a contact has expired (run by the usrloc timer); $ulc(exp=>...) "
                                 "holds it"),),
    needs=(Need("usrloc", UsrlocAPI, doc="the location table save() writes and lookup() reads"),
           Need("sl", SlAPI, doc="the replies of save()")),
    factory=RegistrarModule,
)
