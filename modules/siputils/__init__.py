"""Assorted SIP utilities: URI checks and parameters, tel URIs, contact encoding."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    CfgGroup,
    CfgVar,
    Exports,
    Function,
    Need,
    Param,
    PVClass,
    RouteType,
    SlAPI,
    Unimplemented,
)

from .siputils import SiputilsModule


# What Kamailio 5.6's siputils module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
# Kamailio 5.6 declares this group, a leftover of the call-id ring (no parameter or function of 5.6
# uses it): kept and shown as Kamailio shows it
CFG = CfgGroup("siputils", (
    CfgVar("ring_timeout", "int", "define how long the Call-id is kept in the internal list", param=None,
           default=0, fixup="fix_ring_timeout", fix_start=False, inert=True),
))

NOT_IMPLEMENTED: tuple[Unimplemented, ...] = ()


EXPORTS = Exports(
    name="siputils",
    doc="Assorted SIP utilities: URI checks and parameters, tel URIs, contact encoding.",
    cfg=CFG,
    params=(
        Param("options_accept", (str,), "*/*"),
        Param("options_accept_encoding", (str,), ""),
        Param("options_accept_language", (str,), "en"),
        Param("options_support", (str,), ""),
        Param("contact_flds_separator", (str,), "*",
              doc="the separator of encode_contact()'s fields (its first character)"),
        Param("rpid_prefix", (str,), "", doc="text before the AVP's value in append_rpid_hf()'s header"),
        Param("rpid_suffix", (str,), ";party=calling;id-type=subscriber;screen=yes",
              doc="text after the AVP's value in append_rpid_hf()'s header"),
        Param("rpid_avp", (str,), "$avp(s:rpid)", doc="the AVP holding the Remote-Party-ID value (empty: "
              "none, the rpid functions fail)"),
    ),
    functions=(
        Function(
            "append_rpid_hf",
            args=(Arg("prefix", ArgKind.STR), Arg("suffix", ArgKind.STR)),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Append a Remote-Party-ID header with the rpid AVP's value between the prefix and the "
                "suffix (the parameters' or the given ones).",
            returns="1 when appended, -1 without a string value in the AVP",
        ),
        Function(
            "is_rpid_user_e164",
            routes=RouteType.REQUEST,
            doc="Check whether the URI in the rpid AVP has an E.164 user part.",
            returns="1 when it has, -1 otherwise",
        ),
        Function(
            "options_reply",
            routes=RouteType.REQUEST,
            doc="This function checks if the request method is OPTIONS and if the request URI...",
            returns="",
        ),
        Function(
            "has_totag",
            routes=RouteType.ANY,
            doc="Check if To header field uri contains tag parameter.",
            returns="",
        ),
        Function(
            "uri_param",
            args=(Arg("param", ArgKind.FMT), Arg("value", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Find if Request URI has a given parameter with no value",
            returns="",
        ),
        Function(
            "uri_param_any",
            args=(Arg("param", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Find if Request URI has a given parameter with or without value.",
            returns="",
        ),
        Function(
            "add_uri_param",
            args=(Arg("param", ArgKind.STR),),
            routes=RouteType.REQUEST,
            doc="Add to RURI a parameter (name=value);",
            returns="",
        ),
        Function(
            "get_uri_param",
            args=(Arg("name", ArgKind.FMT), Arg("var", ArgKind.PVAR)),
            routes=RouteType.REQUEST | RouteType.LOCAL,
            doc="Get the value of RURI parameter.",
            returns="",
        ),
        Function(
            "uri_param_rm",
            args=(Arg("param", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Remove parameter from Request URI.",
            returns="",
        ),
        Function(
            "tel2sip",
            # fixup_tel2sip: fixup_var_str_12 for the uri and the hostpart
            args=(Arg("uri", ArgKind.FMT, var_fixup="str", doc="a tel: URI, or a pseudo-variable giving it"),
                  Arg("hostpart", ArgKind.FMT, var_fixup="str", doc="the host, or a pseudo-variable"),
                  Arg("result", ArgKind.PVAR)),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH | RouteType.ONREPLY,
            doc="Converts URI in first param (pseudo variable or string) to SIP URI, if it is a...",
            returns="",
        ),
        Function(
            "is_uri",
            args=(Arg("pseudovariable", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Checks if string value of pseudo variable argument is a valid uri.",
            returns="",
        ),
        Function(
            "is_e164",
            args=(Arg("pseudovariable", ArgKind.PVAR),),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.LOCAL,
            doc="Checks if string value of pseudo variable argument is an E164 number.",
            returns="",
        ),
        Function(
            "is_uri_user_e164",
            args=(Arg("pseudovariable", ArgKind.PVAR),),
            routes=RouteType.ANY,
            doc="Checks if userpart of URI stored in pseudo variable is E164 number.",
            returns="",
        ),
        Function(
            "cmp_uri",
            args=(Arg("str1", ArgKind.FMT), Arg("str2", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="The function returns true if the two parameters matches as SIP URI.",
            returns="",
        ),
        Function(
            "cmp_aor",
            args=(Arg("str1", ArgKind.FMT), Arg("str2", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="The function returns true if the two parameters matches as AoR.",
            returns="",
        ),
        Function(
            "cmp_hdr_name",
            args=(Arg("str1", ArgKind.FMT), Arg("str2", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="The function returns true (return code 1) if the two parameters matches as...",
            returns="",
        ),
        Function(
            "set_uri_user",
            args=(Arg("uri", ArgKind.PVAR), Arg("user", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Sets userpart of SIP URI stored in writable pseudo variable 'uri' to value of...",
            returns="",
        ),
        Function(
            "set_uri_host",
            args=(Arg("uri", ArgKind.PVAR), Arg("host", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Sets hostpart of SIP URI stored in writable pseudo variable 'uri' to value of...",
            returns="",
        ),
        Function(
            "is_request",
            routes=RouteType.ANY,
            doc="Return true if the SIP message is a request.",
            returns="",
        ),
        Function(
            "is_reply",
            routes=RouteType.ANY,
            doc="Return true if the SIP message is a reply.",
            returns="",
        ),
        Function(
            "is_gruu",
            args=(Arg("uri", ArgKind.FMT),),
            min_args=0,
            routes=RouteType.ANY,
            doc="The function returns true if the uri is GRUU ('gr' parameter is present):",
            returns="",
        ),
        Function(
            "is_supported",
            args=(Arg("option", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Function returns true if given option is listed in Supported header(s) (if any)...",
            returns="",
        ),
        Function(
            "is_first_hop",
            args=(Arg("mode", ArgKind.INT),),
            min_args=0,
            routes=RouteType.ANY,
            doc="The function returns true if the proxy is first hop after the original sender...",
            returns="",
        ),
        Function(
            "is_tel_number",
            args=(Arg("tval", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Checks if the parameter value is a telephone number:",
            returns="",
        ),
        Function(
            "is_numeric",
            args=(Arg("tval", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Checks if the parameter value consists solely of decimal digits.",
            returns="",
        ),
        Function(
            "is_alphanum",
            args=(Arg("tval", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Checks if the parameter value consists solely of decimal digits or alphabetic...",
            returns="",
        ),
        Function(
            "is_alphanumex",
            args=(Arg("tval", ArgKind.FMT), Arg("eset", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Checks if the value of parameter 'tval' consists solely of decimal digits,...",
            returns="",
        ),
        Function(
            "is_user",
            args=(Arg("username", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.LOCAL,
            doc="Check whether the username of the authorized credentials is the given one.",
            returns="1 when it is, -1 otherwise (or without authorized credentials)",
        ),
        Function(
            "encode_contact",
            args=(Arg("encoding_prefix", ArgKind.STR), Arg("hostpart", ArgKind.STR)),
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Rewrite each URI of the first Contact header as sip:prefix*user*pass*host*port*"
                "transport@hostpart (the separator is contact_flds_separator).",
            returns="1, negative on error",
        ),
        Function(
            "decode_contact",
            routes=RouteType.REQUEST,
            doc="Decode the R-URI encoded by encode_contact() back to the original contact.",
            returns="1, negative on error",
        ),
        Function(
            "decode_contact_header",
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY,
            doc="Decode the URIs of the first Contact header encoded by encode_contact().",
            returns="1, negative on error",
        ),
        Function(
            "sip_p_charging_vector",
            args=(Arg("flags", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Handle the P-Charging-Vector header: g generate when absent, r remove, f replace.",
            returns="1, -2 without a receiving address",
        ),
        Function(
            "contact_param_encode",
            args=(Arg("pname", ArgKind.FMT), Arg("saddr", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Replace each Contact URI with saddr;pname=<base64url of the URI>.",
            returns="1, negative on error",
        ),
        Function(
            "contact_param_decode",
            args=(Arg("pname", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Replace each Contact URI having parameter pname with its decoded value.",
            returns="1, negative on error",
        ),
        Function(
            "contact_param_decode_ruri",
            args=(Arg("pname", ArgKind.FMT),),
            routes=RouteType.REQUEST,
            doc="Set the R-URI to the decoded value of its parameter pname.",
            returns="1, -1 on error",
        ),
        Function(
            "contact_param_rm",
            args=(Arg("pname", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Remove the parameter pname from each Contact URI.",
            returns="1, -1 on error",
        ),
        Function(
            "hdr_date_check",
            args=(Arg("tdiff", ArgKind.INT),),
            routes=RouteType.ANY,
            doc="Returns true if sip message has Date header and its value is lower than 'NOW()...",
            returns="",
        ),
    ),
    pvars=(
        PVClass("pcv", arg="required", doc="a field of the P-Charging-Vector: all, value, genaddr, "
                "orig, term"),
    ),
    not_implemented=NOT_IMPLEMENTED,
    needs=(Need("sl", SlAPI, doc="options_reply()'s reply"),),
    factory=SiputilsModule,
)
