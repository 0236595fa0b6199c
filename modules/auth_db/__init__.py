"""Digest authentication against the subscriber table (with the auth module)."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    AuthAPI,
    AuthDbAPI,
    Exports,
    Function,
    Need,
    Offer,
    Param,
    RouteType,
)

from .auth_db import AuthDbModule, parse_credentials_list

__all__ = ["EXPORTS", "AuthDbModule"]

# auth_fixup, auth_check_fixup: fixup_var_str_12 (a pseudo-variable at the start is the value alone;
# one that gives none is the function's error)
REALM = Arg("realm", ArgKind.FMT, var_fixup="str", doc="the realm, or a pseudo-variable giving it")
TABLE = Arg("table", ArgKind.STR, fixup="fix_table",
            doc="the subscriber table (its version is checked at start)")
# auth_fixup: fixup_var_str_12 too, and an empty constant is refused at start
METHOD = Arg("method", ArgKind.FMT, var_fixup="str", fixup="fix_method",
             doc="the method to check the credentials with, or a pseudo-variable giving it")
RETURNS = ("1 authenticated; -1 error, -2 invalid password, -3 unknown user, -4 stale nonce, "
           "-5 no credentials, -6 nonce reused")


def _check_load_credentials(value: str) -> None:
    parse_credentials_list(value)


EXPORTS = Exports(
    name="auth_db",
    doc="Digest authentication against the subscriber table (with the auth module).",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio"),
        Param("user_column", (str,), "username"),
        Param("domain_column", (str,), "domain"),
        Param("password_column", (str,), "ha1", doc="the HA1 (or, with calculate_ha1, the password)"),
        Param("password_column_2", (str,), "ha1b", doc="the HA1 of user@domain, used when the "
                                                       "username has a domain and calculate_ha1 is 0"),
        Param("calculate_ha1", (int,), 0, doc="1: the password column holds plain passwords"),
        Param("use_domain", (int,), 0, doc="look the user up by domain too (the username's, else the realm)"),
        Param("load_credentials", (str,), None, validate=_check_load_credentials,
              doc="columns loaded into AVPs on success: `col` ($avp(col)) or `$pv=col`, ';'-separated"),
        Param("version_table", (int,), 1, doc="0: do not check the table's version"),
        Param("force_generate_avps", (int,), 0, doc="1: load_credentials even when authentication fails"),
    ),
    functions=(
        Function("www_authorize", handler="www_authenticate", args=(REALM, TABLE), routes=RouteType.REQUEST,
                 doc="Alias of www_authenticate().", returns=RETURNS),
        Function("www_authenticate", args=(REALM, TABLE, METHOD), min_args=2,
                 routes=RouteType.REQUEST,
                 doc="Checks the Authorization credentials of the realm against the table.", returns=RETURNS),
        Function("proxy_authorize", handler="proxy_authenticate", args=(REALM, TABLE),
                 routes=RouteType.REQUEST,
                 doc="Alias of proxy_authenticate().", returns=RETURNS),
        Function("proxy_authenticate", args=(REALM, TABLE), routes=RouteType.REQUEST,
                 doc="Checks the Proxy-Authorization credentials of the realm against the table.",
                 returns=RETURNS),
        Function("auth_check", args=(REALM, Arg("table", ArgKind.FMT, var_fixup="str"),
                                     Arg("flags", ArgKind.INT)),
                 routes=RouteType.REQUEST,
                 doc="www_authenticate() for REGISTER, proxy_authenticate() otherwise; flags 1: the auth "
                     "user must be the To (REGISTER, PUBLISH; and From = To) or From user, 2 with 1: "
                     "not for INVITE, BYE, PRACK, UPDATE, MESSAGE.",
                 returns=RETURNS + ", -8 user mismatch"),
        Function("is_subscriber", args=(Arg("uri", ArgKind.FMT, var_fixup="str"),
                                        Arg("dbtable", ArgKind.FMT, var_fixup="str"),
                                        Arg("flags", ArgKind.INT)),
                 routes=RouteType.ANY,
                 doc="Whether the URI's user (flags 1: and domain) is in the table; loads "
                     "load_credentials unless flags 2.",
                 returns="1 found; -1 error, -2 not found, -3 a value not stored"),
    ),
    offers=(Offer("auth_db", AuthDbAPI, doc="digest authentication against a table (bind_auth_db)"),),
    needs=(Need("auth", AuthAPI, doc="nonces, challenges and digest checks"),),
    factory=AuthDbModule,
)
