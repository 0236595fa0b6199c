"""Pseudo-variables, their helper functions and the core transformations."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, RpcMethod, TransformClass

EXPORTS = Exports(
    name="pv",
    doc="Pseudo-variables, their helper functions and the core transformations.",
    params=(
        Param("shvset", (str,), None, multi=True),
        Param("varset", (str,), None, multi=True),
        Param("avp_aliases", (str,), None, multi=True),
    ),
    functions=(
        Function(
            "pv_isset",
            args=(Arg("pvar", ArgKind.PVAR),),
            routes=RouteType.ANY,
            doc="Return true if a PV value is different than 'null'.",
            returns="",
        ),
        Function(
            "pv_unset",
            args=(Arg("pvar", ArgKind.PVAR),),
            routes=RouteType.ANY,
            doc="Unset the value of the PV (e.g., delete AVP, set to null).",
            returns="",
        ),
        Function(
            "pv_xavp_print",
            routes=RouteType.ANY,
            doc="Print all XAVPs to the syslog using INFO log level.",
            returns="",
        ),
        Function(
            "pv_xavu_print",
            routes=RouteType.ANY,
            doc="Print all XAVUs to the syslog using INFO log level.",
            returns="",
        ),
        Function(
            "pv_xavi_print",
            routes=RouteType.ANY,
            doc="Print all XAVIs to the syslog using INFO log level.",
            returns="",
        ),
        Function(
            "pv_var_to_xavp",
            args=(Arg("varname", ArgKind.FMT), Arg("xname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Copy the script variable value into an xavp.",
            returns="",
        ),
        Function(
            "pv_xavp_to_var",
            args=(Arg("xname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Copy xavp values into vars.",
            returns="",
        ),
        Function(
            "is_int",
            args=(Arg("pvar", ArgKind.PVAR),),
            routes=RouteType.ANY,
            doc="Function checks if pvar argument contains integer value and returns 1 if it...",
            returns="",
        ),
        Function(
            "typeof",
            args=(Arg("pvar", ArgKind.PVAR), Arg("vtype", ArgKind.PVAR)),
            routes=RouteType.ANY,
            doc="Returns true if the type of pseudo-variable matches the second parameter.",
            returns="",
        ),
        Function(
            "not_empty",
            args=(Arg("pvar", ArgKind.PVAR),),
            routes=RouteType.ANY,
            doc="Returns true if the pseudo-variables has the type string and is not empty value.",
            returns="",
        ),
        Function(
            "xavp_copy",
            args=(
                Arg("source_name", ArgKind.FMT),
                Arg("source_index", ArgKind.INT),
                Arg("destination_name", ArgKind.FMT),
                Arg("destination_index", ArgKind.INT),
            ),
            min_args=3,
            routes=RouteType.ANY,
            doc="Copy and append one XAVP.",
            returns="",
        ),
        Function(
            "xavp_slist_explode",
            args=(
                Arg("slist", ArgKind.FMT),
                Arg("sep", ArgKind.FMT),
                Arg("mode", ArgKind.FMT),
                Arg("xname", ArgKind.FMT),
            ),
            routes=RouteType.ANY,
            doc="Breaks a string list in tokens by separators and stores them in XAVPs.",
            returns="",
        ),
        Function(
            "xavp_params_explode",
            args=(Arg("sparams", ArgKind.FMT), Arg("xname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Convert a parameters string in xavp attributes.",
            returns="",
        ),
        Function(
            "xavp_params_implode",
            args=(Arg("xname", ArgKind.FMT), Arg("pvname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Serialize the subfields in an XAVP to a parameters string format.",
            returns="",
        ),
        Function(
            "xavu_params_explode",
            args=(Arg("sparams", ArgKind.FMT), Arg("xname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Convert a parameters string in xavu attributes.",
            returns="",
        ),
        Function(
            "xavu_params_implode",
            args=(Arg("xname", ArgKind.FMT), Arg("pvname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Serialize the subfields in an XAUP to a parameters string format.",
            returns="",
        ),
        Function(
            "xavp_child_seti",
            args=(Arg("rname", ArgKind.FMT), Arg("cname", ArgKind.FMT), Arg("ival", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Set the value of $xavp(rname=>cname) to integer value ival.",
            returns="",
        ),
        Function(
            "xavp_child_sets",
            args=(Arg("rname", ArgKind.FMT), Arg("cname", ArgKind.FMT), Arg("sval", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Set the value of $xavp(rname=>cname) to string value sval.",
            returns="",
        ),
        Function(
            "xavp_rm",
            args=(Arg("rname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Remove the value of $xavp(rname).",
            returns="",
        ),
        Function(
            "xavp_child_rm",
            args=(Arg("rname", ArgKind.FMT), Arg("cname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Remove the value of $xavp(rname=>cname).",
            returns="",
        ),
        Function(
            "xavi_child_seti",
            args=(Arg("rname", ArgKind.FMT), Arg("cname", ArgKind.FMT), Arg("ival", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Set the value of $xavi(rname=>cname) to integer value ival.",
            returns="",
        ),
        Function(
            "xavi_child_sets",
            args=(Arg("rname", ArgKind.FMT), Arg("cname", ArgKind.FMT), Arg("sval", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Set the value of $xavi(rname=>cname) to string value sval.",
            returns="",
        ),
        Function(
            "xavi_rm",
            args=(Arg("rname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Remove the value of $xavi(rname).",
            returns="",
        ),
        Function(
            "xavi_child_rm",
            args=(Arg("rname", ArgKind.FMT), Arg("cname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Remove the value of $xavi(rname=>cname).",
            returns="",
        ),
        Function(
            "sbranch_set_ruri",
            routes=RouteType.ANY,
            doc="Use the attributes from static branch ($sbranch(key) variable) to set request...",
            returns="",
        ),
        Function(
            "sbranch_append",
            routes=RouteType.ANY,
            doc="Use the attributes from static branch ($sbranch(key) variable) to append a new...",
            returns="",
        ),
        Function(
            "sbranch_reset",
            routes=RouteType.ANY,
            doc="Reset the content of static branch ($sbranch(key) variable.",
            returns="",
        ),
        Function(
            "pv_evalx",
            args=(Arg("dst", ArgKind.FMT), Arg("fmt", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="The fmt string is evaluated twice for exiting variables, the result is stored...",
            returns="",
        ),
    ),
    rpc=(
        RpcMethod("pv.shvSet", "rpc_shvSet"),
        RpcMethod("pv.shvGet", "rpc_shvGet"),
    ),
    pvars=(
        PVClass("_s", arg="required"),  # pv_get__s pv_parse__s_name
        PVClass("af", arg="required"),  # pv_get_af pv_parse_af_name
        PVClass("branch", arg="required", writable=True),  # pv_get_branchx pv_parse_branchx_name
        PVClass("sbranch", arg="required", writable=True),  # pv_get_sbranch pv_parse_branchx_name
        PVClass("mi"),  # pv_get_msgid 0
        PVClass("stat", arg="required"),  # pv_get_stat pv_parse_stat_name
        PVClass("sel", arg="required"),  # pv_get_select pv_parse_select_name
        PVClass("snd", arg="required"),  # pv_get_sndto pv_parse_snd_name
        PVClass("sndto", arg="required"),  # pv_get_sndto pv_parse_snd_name
        PVClass("sndfrom", arg="required"),  # pv_get_sndfrom pv_parse_snd_name
        PVClass("rcv", arg="required", writable=True),  # pv_get_rcv pv_parse_rcv_name
        PVClass("xavp", arg="required", writable=True),  # pv_get_xavp pv_parse_xavp_name
        PVClass("xavu", arg="required", writable=True),  # pv_get_xavu pv_parse_xavu_name
        PVClass("xavi", arg="required", writable=True),  # pv_get_xavi pv_parse_xavi_name
        PVClass("avp", arg="required", writable=True),  # pv_get_avp pv_parse_avp_name
        PVClass("hdr", arg="required"),  # pv_get_hdr pv_parse_hdr_name
        PVClass("hdrc", arg="required"),  # pv_get_hdrc pv_parse_hdr_name
        PVClass("hfl", arg="required"),  # pv_get_hfl pv_parse_hfl_name
        PVClass("hflc", arg="required"),  # pv_get_hflc pv_parse_hfl_name
        PVClass("var", arg="required", writable=True),  # pv_get_scriptvar pv_parse_scriptvar_name
        PVClass("vz", arg="required", writable=True),  # pv_get_scriptvar pv_parse_scriptvar_name
        PVClass("vn", arg="required", writable=True),  # pv_get_scriptvar pv_parse_scriptvarnull_name
        PVClass("ai"),  # pv_get_pai 0
        PVClass("adu"),  # pv_get_authattr 0
        PVClass("ar"),  # pv_get_authattr 0
        PVClass("au"),  # pv_get_authattr 0
        PVClass("ad"),  # pv_get_authattr 0
        PVClass("aU"),  # pv_get_authattr 0
        PVClass("aa"),  # pv_get_authattr 0
        PVClass("adn"),  # pv_get_authattr 0
        PVClass("adc"),  # pv_get_authattr 0
        PVClass("adr"),  # pv_get_authattr 0
        PVClass("ado"),  # pv_get_authattr 0
        PVClass("Au"),  # pv_get_acc_username 0
        PVClass("AU"),  # pv_get_acc_user 0
        PVClass("bf", writable=True),  # pv_get_bflags 0
        PVClass("bF", writable=True),  # pv_get_hexbflags 0
        PVClass("Bf", arg="required", writable=True),  # pv_get_bflag pv_parse_flag_param
        PVClass("br", writable=True),  # pv_get_branch 0
        PVClass("bR"),  # pv_get_branches 0
        PVClass("bs"),  # pv_get_body_size 0
        PVClass("ci"),  # pv_get_callid 0
        PVClass("cl"),  # pv_get_content_length 0
        PVClass("cnt", arg="required"),  # pv_get_cnt pv_parse_cnt_name
        PVClass("conid"),  # pv_get_tcpconn_id 0
        PVClass("cs"),  # pv_get_cseq 0
        PVClass("csb"),  # pv_get_cseq_body 0
        PVClass("ct"),  # pv_get_contact 0
        PVClass("cT"),  # pv_get_content_type 0
        PVClass("dd"),  # pv_get_dsturi_attr 0
        PVClass("di"),  # pv_get_diversion 0
        PVClass("dir"),  # pv_get_diversion 0
        PVClass("dip"),  # pv_get_diversion 0
        PVClass("dic"),  # pv_get_diversion 0
        PVClass("dp"),  # pv_get_dsturi_attr 0
        PVClass("dP"),  # pv_get_dsturi_attr 0
        PVClass("ds"),  # pv_get_dset 0
        PVClass("du", writable=True),  # pv_get_dsturi 0
        PVClass("duri", writable=True),  # pv_get_dsturi 0
        PVClass("fd", writable=True),  # pv_get_from_attr 0
        PVClass("fn", writable=True),  # pv_get_from_attr 0
        PVClass("fs", writable=True),  # pv_get_force_sock 0
        PVClass("fsn", writable=True),  # pv_get_force_sock_name 0
        PVClass("fsp"),  # pv_get_force_sock_port 0
        PVClass("ft"),  # pv_get_from_attr 0
        PVClass("fu", writable=True),  # pv_get_from_attr 0
        PVClass("from", writable=True),  # pv_get_from_attr 0
        PVClass("fU", writable=True),  # pv_get_from_attr 0
        PVClass("fUl"),  # pv_get_from_attr 0
        PVClass("mb"),  # pv_get_msg_buf 0
        PVClass("mbu"),  # pv_get_msg_buf_updated 0
        PVClass("mf", writable=True),  # pv_get_flags 0
        PVClass("mF", writable=True),  # pv_get_hexflags 0
        PVClass("Mf", arg="required", writable=True),  # pv_get_flag pv_parse_flag_param
        PVClass("ml"),  # pv_get_msg_len 0
        PVClass("mt"),  # pv_get_msgtype 0
        PVClass("mts"),  # pv_get_msgtypes 0
        PVClass("od"),  # pv_get_ouri_attr 0
        PVClass("op"),  # pv_get_ouri_attr 0
        PVClass("oP"),  # pv_get_ouri_attr 0
        PVClass("ou"),  # pv_get_ouri 0
        PVClass("ouri"),  # pv_get_ouri 0
        PVClass("oU"),  # pv_get_ouri_attr 0
        PVClass("oUl"),  # pv_get_ouri_attr 0
        PVClass("pd"),  # pv_get_ppi_attr 0
        PVClass("pn"),  # pv_get_ppi_attr 0
        PVClass("pp"),  # pv_get_pid 0
        PVClass("pr"),  # pv_get_proto 0
        PVClass("prid"),  # pv_get_protoid 0
        PVClass("proto"),  # pv_get_proto 0
        PVClass("pu"),  # pv_get_ppi_attr 0
        PVClass("pU"),  # pv_get_ppi_attr 0
        PVClass("rb"),  # pv_get_msg_body 0
        PVClass("rd", writable=True),  # pv_get_ruri_attr 0
        PVClass("re"),  # pv_get_rpid 0
        PVClass("rm"),  # pv_get_method 0
        PVClass("rmid"),  # pv_get_methodid 0
        PVClass("rp", writable=True),  # pv_get_ruri_attr 0
        PVClass("rP"),  # pv_get_ruri_attr 0
        PVClass("rr"),  # pv_get_reason 0
        PVClass("rs"),  # pv_get_status 0
        PVClass("rsi"),  # pv_get_statusi 0
        PVClass("rt"),  # pv_get_refer_to 0
        PVClass("ru", writable=True),  # pv_get_ruri 0
        PVClass("ruri", writable=True),  # pv_get_ruri 0
        PVClass("rU", writable=True),  # pv_get_ruri_attr 0
        PVClass("rUl"),  # pv_get_ruri_attr 0
        PVClass("rv"),  # pv_get_version 0
        PVClass("rz"),  # pv_get_ruri_attr 0
        PVClass("Ras"),  # pv_get_rcvaddr_socket 0
        PVClass("Ri"),  # pv_get_rcvip 0
        PVClass("Rp"),  # pv_get_rcvport 0
        PVClass("Ru"),  # pv_get_rcvaddr_uri 0
        PVClass("Rut"),  # pv_get_rcvaddr_uri_full 0
        PVClass("Rn"),  # pv_get_rcvsname 0
        PVClass("RAi"),  # pv_get_rcv_advertised_ip 0
        PVClass("RAp"),  # pv_get_rcv_advertised_port 0
        PVClass("RAu"),  # pv_get_rcvadv_uri 0
        PVClass("RAut"),  # pv_get_rcvadv_uri_full 0
        PVClass("sas"),  # pv_get_srcaddr_socket 0
        PVClass("sf", writable=True),  # pv_get_sflags 0
        PVClass("sF", writable=True),  # pv_get_hexsflags 0
        PVClass("Sf", arg="required", writable=True),  # pv_get_sflag pv_parse_flag_param
        PVClass("src_ip"),  # pv_get_srcip 0
        PVClass("si"),  # pv_get_srcip 0
        PVClass("siz"),  # pv_get_srcipz 0
        PVClass("sid"),  # pv_get_server_id 0
        PVClass("sp"),  # pv_get_srcport 0
        PVClass("su"),  # pv_get_srcaddr_uri 0
        PVClass("sut"),  # pv_get_srcaddr_uri_full 0
        PVClass("td", writable=True),  # pv_get_to_attr 0
        PVClass("tn", writable=True),  # pv_get_to_attr 0
        PVClass("tt"),  # pv_get_to_attr 0
        PVClass("tu", writable=True),  # pv_get_to_attr 0
        PVClass("to", writable=True),  # pv_get_to_attr 0
        PVClass("tU", writable=True),  # pv_get_to_attr 0
        PVClass("tUl", writable=True),  # pv_get_to_attr 0
        PVClass("true"),  # pv_get_true 0
        PVClass("Tb"),  # pv_get_timeb 0
        PVClass("Tf"),  # pv_get_timef 0
        PVClass("TF"),  # pv_get_timenowf 0
        PVClass("Ts"),  # pv_get_times 0
        PVClass("TS"),  # pv_get_timenows 0
        PVClass("ua"),  # pv_get_useragent 0
        PVClass("ruid"),  # pv_get_ruid 0
        PVClass("location_ua"),  # pv_get_location_ua 0
        PVClass("shv", arg="required", writable=True),  # pv_get_shvar pv_parse_shvar_name
        PVClass("time", arg="required"),  # pv_get_local_time pv_parse_time_name
        PVClass("timef", arg="required"),  # pv_get_local_strftime pv_parse_strftime_name
        PVClass("utime", arg="required"),  # pv_get_utc_time pv_parse_time_name
        PVClass("utimef", arg="required"),  # pv_get_utc_strftime pv_parse_strftime_name
        PVClass("TV", arg="required"),  # pv_get_timeval pv_parse_timeval_name
        PVClass("nh", arg="required"),  # pv_get_nh pv_parse_nh_name
        PVClass("version", arg="required"),  # pv_get_sr_version pv_parse_sr_version_name
        PVClass("K", arg="required"),  # pv_get_K pv_parse_K_name
        PVClass("expires", arg="required"),  # pv_get_expires pv_parse_expires_name
        PVClass("msg", arg="required"),  # pv_get_msg_attrs pv_parse_msg_attrs_name
        PVClass("ksr", arg="required"),  # pv_get_ksr_attrs pv_parse_ksr_attrs_name
        PVClass("rpl", arg="required"),  # pv_get_rpl_attrs pv_parse_rpl_attrs_name
        PVClass("ccp", arg="required", writable=True),  # pv_get_ccp_attrs pv_parse_ccp_attrs_name
        PVClass("via0", arg="required"),  # pv_get_via0 pv_parse_via_name
        PVClass("via1", arg="required"),  # pv_get_via1 pv_parse_via_name
        PVClass("viaZ", arg="required"),  # pv_get_viaZ pv_parse_via_name
        PVClass("msgbuf", arg="required", writable=True),  # pv_get_msgbuf pv_parse_msgbuf_name
    ),
    transforms=(
        # --- Kamailio 5.6 pv mod_trans[] (names from pv_trans.c's parsers)
        TransformClass(
            "s",
            (
                "len",
                "int",
                "md5",
                "rmws",
                "sha256",
                "sha384",
                "sha512",
                "tolower",
                "toupper",
                "numeric",
                "encode.hexa",
                "decode.hexa",
                "encode.7bit",
                "decode.7bit",
                "encode.base58",
                "decode.base58",
                "encode.base64",
                "decode.base64",
                "encode.base64t",
                "decode.base64t",
                "encode.base64url",
                "decode.base64url",
                "encode.base64urlt",
                "decode.base64urlt",
                "escape.common",
                "unescape.common",
                "escape.user",
                "unescape.user",
                "escape.param",
                "unescape.param",
                "escape.csv",
                "prefixes",
                "prefixes.quoted",
                "substr",
                "select",
                "strip",
                "striptail",
                "stripto",
                "ftime",
                "replace",
                "corehash",
                "trim",
                "rtrim",
                "ltrim",
                "rm",
                "urlencode.param",
                "urldecode.param",
                "unquote",
                "unbracket",
                "count",
                "before",
                "after",
                "rbefore",
                "rafter",
            ),
        ),
        TransformClass("nameaddr", ("uri", "len", "name")),
        TransformClass(
            "uri",
            (
                "user",
                "host",
                "domain",
                "passwd",
                "port",
                "saor",
                "suri",
                "duri",
                "params",
                "headers",
                "param",
                "transport",
                "ttl",
                "uparam",
                "maddr",
                "method",
                "lr",
                "r2",
                "scheme",
                "tosocket",
            ),
        ),
        TransformClass("param", ("value", "in", "valueat", "name", "count")),
        TransformClass("tobody", ("uri", "tag", "user", "host", "params", "display")),
        TransformClass("line", ("at", "sw", "count")),
        TransformClass("urialias", ("encode", "decode")),
        TransformClass("val", ("n0", "ne", "json", "jsonqe")),
    ),
    factory=None,
)
