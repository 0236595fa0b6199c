"""uac: the proxy acting as a client: From/To replacement restored on replies and on the dialog's
later requests, authentication of relayed requests (uac_auth), and requests of its own
(uac_req_send)."""
from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Need,
    Param,
    PVClass,
    RouteType,
    RrAPI,
    TmAPI,
    Unimplemented,
)

from .uac import UacModule, check_credential, check_restore_mode

_REG = ("the remote registrations (uac_reg: the uac_reg table, its timer process, uac_reg_* "
        "functions and uac.reg_* RPCs) are not implemented yet")

NOT_IMPLEMENTED = (
    Unimplemented("param", "restore_dlg", "the dialog module is not on kampy's main branch yet: "
                  "restore_dlg (From/To kept in dialog variables) needs its dialog callbacks; the "
                  "Record-Route parameter (restore_mode auto) restores instead", default=0, types=(int,)),
    Unimplemented("param", "event_callback", "a KEMI callback name: kampy runs no KEMI scripts "
                  "(event_route[uac:reply] works)", types=(str,)),
    Unimplemented("param", "reg_db_url", _REG, types=(str,)),
    Unimplemented("param", "reg_db_table", _REG, default="uacreg", types=(str,)),
    Unimplemented("param", "reg_contact_addr", _REG, types=(str,)),
    Unimplemented("param", "reg_timer_interval", _REG, default=90, types=(int,)),
    Unimplemented("param", "reg_retry_interval", _REG, default=0, types=(int,)),
    Unimplemented("param", "reg_keep_callid", _REG, default=0, types=(int,)),
    Unimplemented("param", "reg_random_delay", _REG, default=0, types=(int,)),
    Unimplemented("param", "reg_active", _REG, default=1, types=(int,)),
    Unimplemented("param", "reg_gc_interval", _REG, default=150, types=(int,)),
    Unimplemented("param", "reg_hash_size", _REG, default=4, types=(int,)),
    Unimplemented("param", "reg_use_domain", _REG, default=0, types=(int,)),
    Unimplemented("function", "uac_reg_lookup", _REG),
    Unimplemented("function", "uac_reg_lookup_uri", _REG),
    Unimplemented("function", "uac_reg_status", _REG),
    Unimplemented("function", "uac_reg_request_to", _REG),
    Unimplemented("function", "uac_reg_enable", _REG),
    Unimplemented("function", "uac_reg_disable", _REG),
    Unimplemented("function", "uac_reg_refresh", _REG),
    *(Unimplemented("rpc", f"uac.reg_{name}", _REG)
      for name in ("dump", "info", "enable", "disable", "reload", "refresh", "remove", "add", "active",
                   "unregister")),
)

_REPLACE_ROUTES = RouteType.REQUEST | RouteType.BRANCH

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
    ),
    pvars=(PVClass("uac_req", handler="pv_uac_req", arg="required", writable=True,
                   doc="the request uac_req_send() sends: method, ruri, turi, furi, ouri, hdrs, body, "
                       "callid, sock, auser, apasswd, flags, evroute, evparam, evcode, evtype; "
                       "`$uac_req(all) = $null` clears it"),),
    event_routes=(EventRoute("uac:reply", doc="run for the final reply of a uac_req_send() request with "
                                              "$uac_req(evroute) set; $uac_req(evcode) is its status"),),
    needs=(Need("tm", TmAPI, doc="the requests uac sends, the reply callbacks"),
           Need("rr", RrAPI, optional=True, doc="the Record-Route parameters of the restore")),
    not_implemented=NOT_IMPLEMENTED,
    factory=UacModule,
)
