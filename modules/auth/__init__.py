"""Digest authentication (RFC 2617, RFC 8760): challenges, nonces and the checks auth_db builds on."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    AuthAPI,
    Exports,
    Function,
    Need,
    Offer,
    Param,
    RouteType,
    SlAPI,
)

from .auth import AuthModule
from .setup import challenge_avp, check_algorithm, check_qop

__all__ = ["EXPORTS", "AuthModule"]

REALM = Arg("realm", ArgKind.FMT, doc="the realm; may hold pseudo-variables")
FLAGS = Arg("flags", ArgKind.INT, doc="bit flags, an integer or a pseudo-variable")
# fixup_auth_challenge: fixup_var_str_12 and fixup_var_int_12 (a pseudo-variable at the start is the
# value alone; one that gives no value is the function's error: a 500 and -1)
CHALLENGE_ARGS = (Arg("realm", ArgKind.FMT, var_fixup="str", doc="the realm, or a pseudo-variable giving it"),
                  Arg("flags", ArgKind.INT, var_fixup="int_or_default",
                      doc="bit flags, an integer or a pseudo-variable"))
PASSWD = Arg("passwd", ArgKind.FMT, doc="the password (or HA1, flags & 1); may hold pseudo-variables")
# fixup_pv_auth, fixup_pv_auth_check: fixup_var_pve_str_12 and fixup_var_int_12 (what the function
# cannot get is its error, -1)
PV_REALM = Arg("realm", ArgKind.FMT, var_fixup="pve", doc="the realm; may hold pseudo-variables")
PV_PASSWD = Arg("passwd", ArgKind.FMT, var_fixup="pve",
                doc="the password (or HA1, flags & 1); may hold pseudo-variables")
PV_FLAGS_ARG = Arg("flags", ArgKind.INT, var_fixup="int_or_default",
                   doc="bit flags, an integer or a pseudo-variable")
PV_ARGS = (PV_REALM, PV_PASSWD, PV_FLAGS_ARG)
CHALLENGE_ROUTES = RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY
CHALLENGE_FLAGS = ("1: qop=auth, 2: qop=auth-int, 4: no automatic '500 Internal Server Error' on failure, "
                   "16: stale=true")
PV_FLAGS = ("1: passwd is the HA1; on failure the challenge header goes to the challenge_attr AVP with "
            "2: no qop, 4: qop=auth, 8: qop=auth-int")
AUTH_RETURNS = ("1 authenticated; -1 error, -2 invalid password, -4 stale nonce, -5 no credentials, "
                "-6 nonce reused")


def _check_challenge_attr(value: str) -> None:
    challenge_avp(value)


EXPORTS = Exports(
    name="auth",
    doc="Digest authentication (RFC 2617, RFC 8760): challenges, nonces and the checks auth_db builds on.",
    params=(
        Param("secret", (str,), None, doc="the secret signing nonces (split in two halves when an "
                                          "auth_checks_* is set); unset: 2 x 32 random characters, "
                                          "shared by every worker"),
        Param("nonce_expire", (int,), 300, doc="seconds a nonce is valid"),
        Param("nonce_auth_max_drift", (int,), 3, doc="seconds a nonce's creation time may be in the "
                                                     "future before it is stale"),
        Param("protect_contacts", (int,), 0, doc="read by no code in Kamailio 5.6 (nor in kampy): "
                                                 "accepted for old configs, it changes nothing"),
        Param("challenge_attr", (str,), "$digest_challenge", validate=_check_challenge_attr,
              doc="the AVP that gets the challenge header built by pv_*_authenticate() (flags "
                  "2/4/8) and by the API's build_challenge"),
        Param("proxy_challenge_header", (str,), "Proxy-Authenticate", doc="name of the 407 challenge header"),
        Param("www_challenge_header", (str,), "WWW-Authenticate", doc="name of the 401 challenge header"),
        Param("qop", (str,), "auth", validate=check_qop,
              doc="\"auth\", \"auth-int\" or \"\": the qop of the API's challenges; nonce_count needs "
                  "it set (Kamailio's code defaults to \"auth\", its documentation says \"\")"),
        Param("auth_checks_register", (int,), 0, doc="message parts signed in REGISTER nonces: "
                                                     "1 R-URI, 2 Call-ID, 4 From-tag, 8 source IP"),
        Param("auth_checks_no_dlg", (int,), 0, doc="the same for requests without To-tag"),
        Param("auth_checks_in_dlg", (int,), 0, doc="the same for requests with a To-tag"),
        Param("nonce_count", (int,), 0, doc="check that nc grows (needs qop)"),
        Param("nc_array_size", (int,), 1048576, doc="nonces tracked for nonce_count (2^k)"),
        Param("nc_array_order", (int,), 0, doc="k of nc_array_size = 2^k (0: from nc_array_size)"),
        Param("one_time_nonce", (int,), 0, doc="each nonce authenticates once"),
        Param("otn_in_flight_no", (int,), 1048576, doc="nonces tracked for one_time_nonce (2^k)"),
        Param("otn_in_flight_order", (int,), 0, doc="k of otn_in_flight_no = 2^k (0: from otn_in_flight_no)"),
        Param("nid_pool_no", (int,), 1, doc="partitions of the nonce_count/one_time_nonce state "
                                            "(a worker uses pool rank & (n-1))"),
        Param("force_stateless_reply", (int,), 0, doc="1: challenges are sent statelessly even when tm "
                                                      "has a transaction"),
        Param("realm_prefix", (str,), None, doc="prefix stripped from realms (\"sip.\")"),
        Param("use_domain", (int,), 0, doc="pv_auth_check(): From and To (and R-URI) domains must match too"),
        Param("algorithm", (str,), "", validate=check_algorithm,
              doc="\"MD5\" (also \"\") or \"SHA-256\"; when set it is named in challenges"),
        Param("add_authinfo_hdr", (int,), 0, doc="add Authentication-Info (rspauth, nextnonce) to the "
                                                 "reply of an authenticated request"),
    ),
    functions=(
        Function("consume_credentials", handler="w_consume_credentials", routes=RouteType.REQUEST,
                 doc="Removes the credentials header that authenticated the request.",
                 returns="1 removed; -1 none authorized (or ACK, CANCEL, PRACK)"),
        Function("has_credentials", args=(REALM,), routes=RouteType.REQUEST,
                 doc="Whether the request has Proxy-Authorization or Authorization credentials of the realm.",
                 returns="1 yes, -1 no"),
        Function("www_challenge", args=CHALLENGE_ARGS, routes=CHALLENGE_ROUTES,
                 doc=f"Sends a 401 with a WWW-Authenticate digest challenge. flags: {CHALLENGE_FLAGS}.",
                 returns="1 sent; -1 bad argument, -2 challenge not built, -3 reply not sent"),
        Function("proxy_challenge", args=CHALLENGE_ARGS, routes=CHALLENGE_ROUTES,
                 doc=f"Sends a 407 with a Proxy-Authenticate digest challenge. flags: {CHALLENGE_FLAGS}.",
                 returns="1 sent; -1 bad argument, -2 challenge not built, -3 reply not sent"),
        Function("auth_challenge", args=CHALLENGE_ARGS, routes=CHALLENGE_ROUTES,
                 doc="www_challenge() for REGISTER, proxy_challenge() for other requests (ACK and "
                     "CANCEL: nothing, 1).",
                 returns="as www_challenge()"),
        Function("pv_www_authorize", handler="pv_www_authenticate", args=PV_ARGS,
                 routes=RouteType.REQUEST, doc="Alias of pv_www_authenticate().", returns=AUTH_RETURNS),
        Function("pv_www_authenticate", args=(*PV_ARGS, Arg("method", ArgKind.FMT)), min_args=3,
                 routes=RouteType.REQUEST,
                 doc=f"Checks Authorization credentials against the password. flags: {PV_FLAGS}.",
                 returns=AUTH_RETURNS),
        Function("pv_proxy_authorize", handler="pv_proxy_authenticate", args=PV_ARGS,
                 routes=RouteType.REQUEST, doc="Alias of pv_proxy_authenticate().", returns=AUTH_RETURNS),
        Function("pv_proxy_authenticate", args=PV_ARGS, routes=RouteType.REQUEST,
                 doc=f"Checks Proxy-Authorization credentials against the password. flags: {PV_FLAGS}.",
                 returns=AUTH_RETURNS),
        Function("pv_auth_check", args=(*PV_ARGS, Arg("checks", ArgKind.INT, var_fixup="int_or_default")),
                 routes=RouteType.REQUEST,
                 doc="pv_www_authenticate() for REGISTER, pv_proxy_authenticate() otherwise; checks & 1: "
                     "the auth user must be the To (REGISTER, PUBLISH) or From user.",
                 returns=AUTH_RETURNS + ", -8 user mismatch"),
        Function("auth_get_www_authenticate", args=(*CHALLENGE_ARGS, Arg("dst", ArgKind.PVAR)),
                 routes=RouteType.REQUEST,
                 doc="Builds a WWW-Authenticate header line (name, value, CRLF) into the variable.",
                 returns="1, or a negative code"),
    ),
    offers=(Offer("auth", AuthAPI, doc="nonces, challenges and digest checks (Kamailio's bind_auth_s)"),),
    needs=(Need("sl", SlAPI, doc="the 401/407 replies"),),
    factory=AuthModule,
)
