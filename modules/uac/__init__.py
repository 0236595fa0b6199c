"""uac: the proxy acting as a client: From/To replacement restored on replies and on the dialog's
later requests, authentication of relayed requests (uac_auth), and requests of its own
(uac_req_send)."""
from __future__ import annotations

from typing import Any

from kampy.api import (
    Arg,
    ArgKind,
    DialogAPI,
    EventRoute,
    Exports,
    Function,
    Need,
    Param,
    Process,
    PVClass,
    RouteType,
    RpcMethod,
    RrAPI,
    Stat,
    TmAPI,
    Unimplemented,
)

from .uac import UacModule, check_credential, check_restore_mode

NOT_IMPLEMENTED = (
    Unimplemented("param", "reg_gc_interval", "kampy's uac.reg_reload replaces the records in one "
                  "transaction of the shared store: there is no old table whose memory is freed later",
                  default=150, types=(int,)),
)


_REPLACE_ROUTES = RouteType.REQUEST | RouteType.BRANCH
_INVALID = (400, "Invalid Parameters")


def reg_processes(params: dict[str, Any]) -> tuple[Process, ...]:
    """With reg_db_url, Kamailio's `TIMER UAC REG` process."""
    if not params["reg_db_url"]:
        return ()
    return (Process("TIMER UAC REG", "reg_timer", max(1, int(params["reg_timer_interval"]))),)


def _reg_param(name: str, types: tuple[type, ...], default: Any, doc: str) -> Param:
    return Param(name, types, default, doc=doc)


REG_PARAMS = (
    _reg_param("reg_db_url", (str,), None, "the database of the `reg_db_table` table; remote registrations "
               "are on when set"),
    _reg_param("reg_db_table", (str,), "uacreg", "the table of the remote registrations"),
    _reg_param("reg_contact_addr", (str,), None, "`address:port` of the Contact the REGISTERs carry "
               "(required with reg_db_url; a record's contact_addr replaces it)"),
    _reg_param("reg_timer_interval", (int,), 90, "seconds between two runs of the registration timer"),
    _reg_param("reg_retry_interval", (int,), 0, "seconds before a failed registration is tried again "
               "(0: the record is disabled)"),
    _reg_param("reg_keep_callid", (int,), 0, "1: a refresh keeps the Call-ID (and CSeq) of the registration"),
    _reg_param("reg_random_delay", (int,), 0, "the first REGISTER of a record without reg_delay waits a "
               "random number of seconds below this"),
    _reg_param("reg_active", (int,), 1, "0: no REGISTER is sent until uac.reg_active 1"),
    _reg_param("reg_hash_size", (int,), 4, "the records' hash table has 2^this slots (2..14): the order "
               "of uac.reg_dump"),
    _reg_param("reg_use_domain", (int,), 0, "1: uac_reg_lookup_uri() and uac_reg_request_to() mode 1 match "
               "the domain too"),
)

_FILTER = "attribute (l_uuid, l_username, r_username or auth_username) and value"

EXPORTS = Exports(
    name="uac",
    doc="The proxy acting as a client: From/To replacement with its restore, uac_auth() answering "
        "401/407 in failure_route, and requests of its own with uac_req_send().",
    params=(
        Param("rr_from_store_param", (str,), "vsf",
              doc="the Record-Route parameter that keeps the original From URI (encoded)"),
        Param("rr_to_store_param", (str,), "vst",
              doc="the Record-Route parameter that keeps the original To URI (encoded)"),
        Param("restore_mode", (str,), "auto", validate=check_restore_mode,
              doc="`none` (nothing kept), `manual` (replies restored; uac_restore_from()/_to() in the "
                  "script for later requests) or `auto` (replies and the dialog's later requests, "
                  "through rr's loose_route(); needs rr's append_fromtag)"),
        Param("restore_dlg", (int,), 0,
              doc="1 (with restore_mode auto): keep the original and new URIs in dialog variables of the "
                  "request's dialog (dlg_manage() called before) instead of the Record-Route parameter; "
                  "needs the dialog module"),
        Param("restore_passwd", (str,), "",
              doc="a key the stored URIs are XORed with"),
        Param("restore_from_avp", (str,), None,
              doc="an AVP that gets the original From name-addr; replies get it back from there"),
        Param("restore_to_avp", (str,), None,
              doc="an AVP that gets the original To name-addr; replies get it back from there"),
        Param("credential", (str,), None, multi=True, validate=check_credential,
              doc="`username:realm:password` for uac_auth(); may be set several times"),
        Param("auth_username_avp", (str,), None,
              doc="the pseudo-variable uac_auth() reads the username from"),
        Param("auth_realm_avp", (str,), None,
              doc="the pseudo-variable uac_auth() reads the realm from (empty: any realm)"),
        Param("auth_password_avp", (str,), None,
              doc="the pseudo-variable uac_auth() reads the password from"),
        *REG_PARAMS,
        Param("event_callback", (str,), None,
              doc="a KEMI function run instead of event_route[uac:reply]; a kamailio.cfg script has no "
                  "KEMI engine, so with it set nothing runs (as in Kamailio)"),
        Param("default_socket", (str,), None,
              doc="the local socket (`proto:addr:port`) uac_req_send() sends from when $uac_req(sock) "
                  "is unset"),
    ),
    functions=(
        Function("uac_replace_from", args=(Arg("display", ArgKind.FMT), Arg("uri", ArgKind.FMT)), min_args=1,
                 routes=_REPLACE_ROUTES,
                 doc="Replace the From URI (and with two arguments the display name; an empty one removes "
                     "it), keeping the original for the restore the `restore_mode` says.",
                 returns="1; -1 on a second call for the message, a sequential request in auto mode, "
                         "or an error"),
        Function("uac_replace_to", args=(Arg("display", ArgKind.FMT), Arg("uri", ArgKind.FMT)), min_args=1,
                 routes=_REPLACE_ROUTES, doc="uac_replace_from() for the To header.",
                 returns="as uac_replace_from()"),
        Function("uac_restore_from", routes=RouteType.REQUEST,
                 doc="Put back the From (or, upstream, To) URI the `rr_from_store_param` Route parameter "
                     "keeps.",
                 returns="1 restored; -1 nothing to restore or an error"),
        Function("uac_restore_to", routes=RouteType.REQUEST,
                 doc="Put back the To (or, upstream, From) URI the `rr_to_store_param` Route parameter "
                     "keeps.",
                 returns="1 restored; -1 nothing to restore or an error"),
        Function("uac_auth", handler="uac_auth_mode", args=(Arg("mode", ArgKind.INT),), min_args=0,
                 routes=RouteType.FAILURE,
                 doc="Answer the 401/407 of the picked branch: add Authorization/Proxy-Authorization "
                     "with credentials for its realm and set the branch's R-URI; relay again with t_relay().",
                 returns="1; -1 no credentials for the realm, no challenge, or an error"),
        Function("uac_auth_mode", args=(Arg("mode", ArgKind.INT),), routes=RouteType.FAILURE,
                 doc="uac_auth() with `mode` 1: the password is the HA1 hash.",
                 returns="as uac_auth()"),
        Function("uac_req_send", routes=RouteType.ANY,
                 doc="Send the request $uac_req(...) describes (authenticated again once when answered "
                     "401/407 with auser/apasswd set).",
                 returns="1 sent; -1 no method or R-URI, or it could not be sent"),
        Function("uac_reg_lookup", args=(Arg("uuid", ArgKind.FMT), Arg("dst", ArgKind.PVAR)),
                 routes=RouteType.ANY, doc="Set `dst` to `sip:l_username@l_domain` of the record `uuid`.",
                 returns="1; -1 no such record"),
        Function("uac_reg_lookup_uri", args=(Arg("uri", ArgKind.FMT), Arg("dst", ArgKind.PVAR)),
                 routes=RouteType.ANY,
                 doc="Set `dst` to the l_uuid of the record whose l_username (and l_domain with "
                     "reg_use_domain) the URI has.",
                 returns="1; -1 no such record; -2 a bad URI"),
        Function("uac_reg_status", args=(Arg("uuid", ArgKind.FMT),), routes=RouteType.ANY,
                 doc="The registration state of the record.",
                 returns="1 registered; -1 no such record; -2 registering; -3 disabled; -99 other"),
        Function("uac_reg_request_to", args=(Arg("user", ArgKind.FMT), Arg("mode", ArgKind.INT)),
                 routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH,
                 doc="Set $ru, $du and the auth_*_avp variables from the record (mode bit 1: `user` is "
                     "an l_username, else an l_uuid; bit 2: the password variable gets auth_ha1).",
                 returns="1; -1 no such record or an error"),
        Function("uac_reg_enable", args=(Arg("attr", ArgKind.FMT), Arg("val", ArgKind.FMT)),
                 routes=RouteType.ANY, doc=f"Enable the record found by {_FILTER}.",
                 returns="1; -2 not found; -3 an attribute it cannot filter on; -1 an error"),
        Function("uac_reg_disable", args=(Arg("attr", ArgKind.FMT), Arg("val", ArgKind.FMT)),
                 routes=RouteType.ANY, doc=f"Disable the record found by {_FILTER}.",
                 returns="as uac_reg_enable()"),
        Function("uac_reg_refresh", args=(Arg("l_uuid", ArgKind.FMT),), routes=RouteType.ANY,
                 doc="Load the record again from the database (added when new).",
                 returns="1; -1 not in the table, or an error"),
    ),
    pvars=(PVClass("uac_req", handler="pv_uac_req", arg="required", writable=True,
                   doc="the request uac_req_send() sends: method, ruri, turi, furi, ouri, hdrs, body, "
                       "callid, sock, auser, apasswd, flags, evroute, evparam, evcode, evtype; "
                       "`$uac_req(all) = $null` clears it"),),
    event_routes=(EventRoute("uac:reply", doc="run for the final reply of a uac_req_send() request with "
                                              "$uac_req(evroute) set; $uac_req(evcode) is its status"),),
    stats=(Stat("regtotal", doc="Total number of registration accounts in memory"),
           Stat("regactive", doc="Number of successfully registered accounts (200 OK)"),
           Stat("regdisabled", doc="Counter of failed registrations (not 200 OK)")),
    rpc=(
        RpcMethod("uac.reg_dump", "rpc_reg_dump", doc="Dump the contents of user registrations table.",
                  array=True),
        RpcMethod("uac.reg_info", "rpc_reg_info",
                  autoconvert=(1,), doc="Return the details of registration for a particular "
                  "record.", params_fault=_INVALID),
        RpcMethod("uac.reg_enable", "rpc_reg_enable",
                  autoconvert=(1,), doc="Enable registration for a particular record.",
                  params_fault=_INVALID),
        RpcMethod("uac.reg_disable", "rpc_reg_disable",
                  autoconvert=(1,), doc="Disable registration for a particular record.",
                  params_fault=_INVALID),
        RpcMethod("uac.reg_reload", "rpc_reg_reload", doc="Reload records from database."),
        RpcMethod("uac.reg_refresh", "rpc_reg_refresh", doc="Refresh a record from database.",
                  params_fault=_INVALID),
        RpcMethod("uac.reg_remove", "rpc_reg_remove", doc="Remove a record from memory.",
                  params_fault=_INVALID),
        RpcMethod("uac.reg_add", "rpc_reg_add", doc="Add a record to memory.", params_fault=_INVALID),
        RpcMethod("uac.reg_active", "rpc_reg_active", doc="Set remote registration active or inactive for "
                  "all records.", params_fault=(500, "Missing parameter")),
        RpcMethod("uac.reg_unregister", "rpc_reg_unregister",
                  autoconvert=(1,), doc="Send a register request with expires 0.",
                  params_fault=_INVALID),
    ),
    processes=reg_processes,
    needs=(Need("tm", TmAPI, doc="the requests uac sends, the reply callbacks"),
           Need("rr", RrAPI, optional=True, doc="the Record-Route parameters of the restore"),
           Need("dialog", DialogAPI, optional=True, doc="restore_dlg: the dialog variables and callbacks")),
    not_implemented=NOT_IMPLEMENTED,
    factory=UacModule,
)
