"""Pseudo-variables, their helper functions and the core transformations."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Offer,
    Param,
    PvAPI,
    PVClass,
    RouteType,
    RpcMethod,
    TransformClass,
    Unimplemented,
)

from .impl import PvModule


# What Kamailio 5.6's pv module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("pvar", "ksr", "KEMI only: $ksr(...) reads KEMI objects; kampy runs only Kamailio's "
                  "native config language"),
)


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
            "xavp_params_explode",
            args=(Arg("sparams", ArgKind.FMT), Arg("xname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Convert a parameters string in xavp attributes.",
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
        Function("pv_xavu_print", routes=RouteType.ANY,
                 doc="Print all XAVUs to the syslog using INFO log level.", returns=""),
        Function(
            "xavp_slist_explode",
            args=(Arg("slist", ArgKind.FMT), Arg("sep", ArgKind.FMT), Arg("mode", ArgKind.FMT),
                  Arg("xname", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Split a string at any of the separator characters into $xavp(xname=>v[i]).",
            returns="",
        ),
        Function(
            "xavp_params_implode",
            args=(Arg("xname", ArgKind.FMT), Arg("pvname", ArgKind.PVAR)),
            routes=RouteType.ANY,
            doc="Serialize the attributes of $xavp(xname) as name=value; into a variable.",
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
            args=(Arg("xname", ArgKind.FMT), Arg("pvname", ArgKind.PVAR)),
            routes=RouteType.ANY,
            doc="Serialize the attributes of $xavu(xname) as name=value; into a variable.",
            returns="",
        ),
        Function("sbranch_set_ruri", routes=RouteType.ANY,
                 doc="Use the static branch ($sbranch) to set the R-URI and branch 0.", returns=""),
        Function("sbranch_append", routes=RouteType.ANY,
                 doc="Append the static branch ($sbranch) as a new branch.", returns=""),
        Function("sbranch_reset", routes=RouteType.ANY, doc="Reset the static branch.", returns=""),
        Function(
            "pv_evalx",
            args=(Arg("dst", ArgKind.FMT), Arg("fmt", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="The fmt string is evaluated twice for exiting variables, the result is stored...",
            returns="",
        ),
    ),
    rpc=(
        RpcMethod("pv.shvSet", "rpc_shvSet", doc="Set a shared variable (args: name type value)"),
        RpcMethod("pv.shvGet", "rpc_shvGet",
                  doc="Get the value of a shared variable. If no argument, dumps all"),
    ),
    pvars=(
        PVClass("sel", arg="required", handler="pv_sel", doc="the value of a select: $sel(cfg_get.group.var) "
                "is @cfg_get.group.var"),  # pv_get_select pv_parse_select_name
        PVClass("null", handler="pv_null"),  # core $null (pvapi.c), served here
        PVClass("_s", arg="required", handler="pv__s"),  # pv_get__s pv_parse__s_name
        PVClass("af", arg="required", handler="pv_af"),  # pv_get_af pv_parse_af_name
        PVClass("branch", arg="required", writable=True, handler="pv_branch"),
        PVClass("stat", arg="required", handler="pv_stat"),  # pv_get_stat pv_parse_stat_name
        PVClass("xavp", arg="required", writable=True, handler="pv_xavp"),  # pv_get_xavp pv_parse_xavp_name
        PVClass("xavi", arg="required", writable=True, handler="pv_xavi"),  # pv_get_xavi pv_parse_xavi_name
        PVClass("avp", arg="required", writable=True, handler="pv_avp"),  # pv_get_avp pv_parse_avp_name
        PVClass("hdr", arg="required", handler="pv_hdr"),  # pv_get_hdr pv_parse_hdr_name
        PVClass("hdrc", arg="required", handler="pv_hdrc"),  # pv_get_hdrc pv_parse_hdr_name
        PVClass("hfl", arg="required", handler="pv_hfl"),  # pv_get_hfl pv_parse_hfl_name
        PVClass("hflc", arg="required", handler="pv_hflc"),  # pv_get_hflc pv_parse_hfl_name
        PVClass("var", arg="required", writable=True, handler="pv_var"),
        PVClass("vz", arg="required", writable=True, handler="pv_vz"),
        PVClass("vn", arg="required", writable=True, handler="pv_vn"),
        PVClass("ai", handler="pv_msg"),  # pv_get_pai 0
        PVClass("bf", writable=True, handler="pv_msg"),  # pv_get_bflags 0
        PVClass("bF", writable=True, handler="pv_msg"),  # pv_get_hexbflags 0
        PVClass("Bf", arg="required", writable=True, handler="pv_Bf"),  # pv_get_bflag pv_parse_flag_param
        PVClass("br", writable=True, handler="pv_br"),  # pv_get_branch 0
        PVClass("bR", handler="pv_bR"),  # pv_get_branches 0
        PVClass("bs", handler="pv_msg"),  # pv_get_body_size 0
        PVClass("ci", handler="pv_msg"),  # pv_get_callid 0
        PVClass("cl", handler="pv_msg"),  # pv_get_content_length 0
        PVClass("cnt", arg="required", handler="pv_cnt"),  # pv_get_cnt pv_parse_cnt_name
        PVClass("conid", handler="pv_msg"),  # pv_get_tcpconn_id 0
        PVClass("cs", handler="pv_msg"),  # pv_get_cseq 0
        PVClass("csb", handler="pv_msg"),  # pv_get_cseq_body 0
        PVClass("ct", handler="pv_msg"),  # pv_get_contact 0
        PVClass("cT", handler="pv_msg"),  # pv_get_content_type 0
        PVClass("dd", handler="pv_msg"),  # pv_get_dsturi_attr 0
        PVClass("di", handler="pv_msg"),  # pv_get_diversion 0
        PVClass("dp", handler="pv_msg"),  # pv_get_dsturi_attr 0
        PVClass("dP", handler="pv_msg"),  # pv_get_dsturi_attr 0
        PVClass("du", writable=True, handler="pv_msg"),  # pv_get_dsturi 0
        PVClass("duri", writable=True, handler="pv_msg"),  # pv_get_dsturi 0
        PVClass("fd", writable=True, handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("fn", writable=True, handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("fs", writable=True, handler="pv_msg"),  # pv_get_force_sock 0
        PVClass("fsp", handler="pv_msg"),  # pv_get_force_sock_port 0
        PVClass("ft", handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("fu", writable=True, handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("from", writable=True, handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("fU", writable=True, handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("fUl", handler="pv_msg"),  # pv_get_from_attr 0
        PVClass("mb", handler="pv_msg"),  # pv_get_msg_buf 0
        PVClass("mbu", handler="pv_msg"),  # pv_get_msg_buf_updated 0
        PVClass("mf", writable=True, handler="pv_msg"),  # pv_get_flags 0
        PVClass("mF", writable=True, handler="pv_msg"),  # pv_get_hexflags 0
        PVClass("Mf", arg="required", writable=True, handler="pv_Mf"),  # pv_get_flag pv_parse_flag_param
        PVClass("ml", handler="pv_msg"),  # pv_get_msg_len 0
        PVClass("mt", handler="pv_msg"),  # pv_get_msgtype 0
        PVClass("od", handler="pv_msg"),  # pv_get_ouri_attr 0
        PVClass("op", handler="pv_msg"),  # pv_get_ouri_attr 0
        PVClass("oP", handler="pv_msg"),  # pv_get_ouri_attr 0
        PVClass("ou", handler="pv_msg"),  # pv_get_ouri 0
        PVClass("ouri", handler="pv_msg"),  # pv_get_ouri 0
        PVClass("oU", handler="pv_msg"),  # pv_get_ouri_attr 0
        PVClass("oUl", handler="pv_msg"),  # pv_get_ouri_attr 0
        PVClass("pd", handler="pv_msg"),  # pv_get_ppi_attr 0
        PVClass("pn", handler="pv_msg"),  # pv_get_ppi_attr 0
        PVClass("pp", handler="pv_msg"),  # pv_get_pid 0
        PVClass("pr", handler="pv_msg"),  # pv_get_proto 0
        PVClass("prid", handler="pv_msg"),  # pv_get_protoid 0
        PVClass("proto", handler="pv_msg"),  # pv_get_proto 0
        PVClass("pu", handler="pv_msg"),  # pv_get_ppi_attr 0
        PVClass("pU", handler="pv_msg"),  # pv_get_ppi_attr 0
        PVClass("rb", handler="pv_msg"),  # pv_get_msg_body 0
        PVClass("rd", writable=True, handler="pv_msg"),  # pv_get_ruri_attr 0
        PVClass("re", handler="pv_msg"),  # pv_get_rpid 0
        PVClass("rm", handler="pv_msg"),  # pv_get_method 0
        PVClass("rmid", handler="pv_msg"),  # pv_get_methodid 0
        PVClass("rp", writable=True, handler="pv_msg"),  # pv_get_ruri_attr 0
        PVClass("rP", handler="pv_msg"),  # pv_get_ruri_attr 0
        PVClass("rr", handler="pv_msg"),  # pv_get_reason 0
        PVClass("rs", handler="pv_msg"),  # pv_get_status 0
        PVClass("rsi", handler="pv_msg"),  # pv_get_statusi 0
        PVClass("rt", handler="pv_msg"),  # pv_get_refer_to 0
        PVClass("ru", writable=True, handler="pv_msg"),  # pv_get_ruri 0
        PVClass("ruri", writable=True, handler="pv_msg"),  # pv_get_ruri 0
        PVClass("rU", writable=True, handler="pv_msg"),  # pv_get_ruri_attr 0
        PVClass("rUl", handler="pv_msg"),  # pv_get_ruri_attr 0
        PVClass("rv", handler="pv_msg"),  # pv_get_version 0
        PVClass("rz", handler="pv_msg"),  # pv_get_ruri_attr 0
        PVClass("Ras", handler="pv_msg"),  # pv_get_rcvaddr_socket 0
        PVClass("Ri", handler="pv_msg"),  # pv_get_rcvip 0
        PVClass("Rp", handler="pv_msg"),  # pv_get_rcvport 0
        PVClass("Ru", handler="pv_msg"),  # pv_get_rcvaddr_uri 0
        PVClass("Rut", handler="pv_msg"),  # pv_get_rcvaddr_uri_full 0
        PVClass("RAi", handler="pv_msg"),  # pv_get_rcv_advertised_ip 0
        PVClass("RAp", handler="pv_msg"),  # pv_get_rcv_advertised_port 0
        PVClass("RAu", handler="pv_msg"),  # pv_get_rcvadv_uri 0
        PVClass("RAut", handler="pv_msg"),  # pv_get_rcvadv_uri_full 0
        PVClass("sas", handler="pv_msg"),  # pv_get_srcaddr_socket 0
        PVClass("sf", writable=True, handler="pv_sf"),  # pv_get_sflags 0
        PVClass("sF", writable=True, handler="pv_sf"),  # pv_get_hexsflags 0
        PVClass("Sf", arg="required", writable=True, handler="pv_Sf"),  # pv_get_sflag pv_parse_flag_param
        PVClass("src_ip", handler="pv_msg"),  # pv_get_srcip 0
        PVClass("si", handler="pv_msg"),  # pv_get_srcip 0
        PVClass("mi", handler="pv_msg"),  # pv_get_msgid
        PVClass("siz", handler="pv_msg"),  # pv_get_srcipz 0
        PVClass("sid", handler="pv_msg"),  # pv_get_server_id 0
        PVClass("sp", handler="pv_msg"),  # pv_get_srcport 0
        PVClass("su", handler="pv_msg"),  # pv_get_srcaddr_uri 0
        PVClass("sut", handler="pv_msg"),  # pv_get_srcaddr_uri_full 0
        PVClass("td", writable=True, handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("tn", writable=True, handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("tt", handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("tu", writable=True, handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("to", writable=True, handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("tU", writable=True, handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("tUl", handler="pv_msg"),  # pv_get_to_attr 0
        PVClass("true", handler="pv_true"),  # pv_get_true 0
        PVClass("Tb", handler="pv_Tb"),  # pv_get_timeb 0
        PVClass("Tf", handler="pv_msg"),  # pv_get_timef 0
        PVClass("TF", handler="pv_msg"),  # pv_get_timenowf 0
        PVClass("Ts", handler="pv_msg"),  # pv_get_times 0
        PVClass("TS", handler="pv_msg"),  # pv_get_timenows 0
        PVClass("ua", handler="pv_msg"),  # pv_get_useragent 0
        PVClass("au", handler="pv_msg"),  # pv_get_authattr
        PVClass("ar", handler="pv_msg"),  # pv_get_authattr
        PVClass("ad", handler="pv_msg"),  # pv_get_authattr
        PVClass("aU", handler="pv_msg"),  # pv_get_authattr
        PVClass("aa", handler="pv_msg"),  # pv_get_authattr
        PVClass("adu", handler="pv_msg"),  # pv_get_authattr
        PVClass("adn", handler="pv_msg"),  # pv_get_authattr
        PVClass("adc", handler="pv_msg"),  # pv_get_authattr
        PVClass("adr", handler="pv_msg"),  # pv_get_authattr
        PVClass("ado", handler="pv_msg"),  # pv_get_authattr
        PVClass("shv", arg="required", writable=True, handler="pv_shv"),  # pv_get_shvar pv_parse_shvar_name
        PVClass("time", arg="required", handler="pv_time"),  # pv_get_local_time pv_parse_time_name
        PVClass("timef", arg="required", handler="pv_timef"),  # pv_get_local_strftime pv_parse_strftime_name
        PVClass("utime", arg="required", handler="pv_utime"),  # pv_get_utc_time pv_parse_time_name
        PVClass("utimef", arg="required", handler="pv_utimef"),  # pv_get_utc_strftime pv_parse_strftime_name
        PVClass("TV", arg="required", handler="pv_TV"),  # pv_get_timeval pv_parse_timeval_name
        PVClass("version", arg="required", handler="pv_version"),
        PVClass("K", arg="required", handler="pv_K"),  # pv_get_K pv_parse_K_name
        PVClass("msg", arg="required", handler="pv_msg_attrs"),  # pv_get_msg_attrs pv_parse_msg_attrs_name
        PVClass("via0", arg="required", handler="pv_via0"),  # pv_get_via0 pv_parse_via_name
        PVClass("via1", arg="required", handler="pv_via1"),  # pv_get_via1 pv_parse_via_name
        PVClass("viaZ", arg="required", handler="pv_viaZ"),  # pv_get_viaZ pv_parse_via_name
        PVClass("xavu", arg="required", writable=True, handler="pv_xavu",
                doc="xavps with unique names: $xavu(name), $xavu(name=>child)"),
        PVClass("sbranch", arg="required", writable=True, handler="pv_sbranch",
                doc="the static branch: uri dst_uri path q send_socket count flags ruid"),
        # --- the rest of Kamailio 5.6's table (othervars.py)
        PVClass("snd", arg="required", handler="pv_snd",
                doc="the message being sent (onsend_route, topoh:msg-sending): ip port af proto "
                "sproto buf len of where it goes"),  # pv_get_sndto pv_parse_snd_name
        PVClass("sndto", arg="required", handler="pv_sndto", doc="as $snd"),
        PVClass("sndfrom", arg="required", handler="pv_sndfrom",
                doc="the local socket the message is sent from (ip port af proto sproto), buf len"),
        PVClass("rcv", arg="required", handler="pv_rcv",
                doc="event_route[core:msg-received] data; $null elsewhere"),  # pv_get_rcv
        PVClass("nh", arg="required", handler="pv_nh", doc="next hop: u U d p P i"),  # pv_get_nh
        PVClass("rpl", arg="required", handler="pv_rpl",
                doc="reply attributes: duri dhost dport dproto dprotoid cntvia cntrr"),
        PVClass("expires", arg="required", handler="pv_expires", doc="min or max expires of contacts"),
        PVClass("msgbuf", arg="required", handler="pv_msgbuf", doc="the character at an offset"),
        PVClass("ccp", arg="required", writable=True, handler="pv_ccp",
                doc="a cfg variable: $ccp(group.var)"),
        PVClass("Au", handler="pv_msg"),  # pv_get_acc_username
        PVClass("AU", handler="pv_msg"),  # pv_get_acc_user
        PVClass("Rn", handler="pv_msg"),  # pv_get_rcvsname
        PVClass("fsn", writable=True, handler="pv_msg"),  # pv_get_force_sock_name
        PVClass("mts", handler="pv_msg"),  # pv_get_msgtypes
        PVClass("ds", handler="pv_msg"),  # pv_get_dset
        PVClass("dir", handler="pv_msg"),  # pv_get_diversion 2
        PVClass("dip", handler="pv_msg"),  # pv_get_diversion 3
        PVClass("dic", handler="pv_msg"),  # pv_get_diversion 4
        PVClass("err.class", handler="pv_msg"),  # pv_get_errinfo_attr: always $null in 5.6
        PVClass("err.level", handler="pv_msg"),
        PVClass("err.info", handler="pv_msg"),
        PVClass("err.rcode", handler="pv_msg"),
        PVClass("err.rreason", handler="pv_msg"),
        PVClass("ruid", handler="pv_msg"),  # pv_get_ruid
        PVClass("location_ua", handler="pv_msg"),  # pv_get_location_ua
        PVClass("from.user", writable=True, handler="pv_msg"),  # as $fU
        PVClass("from.domain", writable=True, handler="pv_msg"),  # as $fd
        PVClass("to.user", writable=True, handler="pv_msg"),  # as $tU
        PVClass("to.domain", writable=True, handler="pv_msg"),  # as $td
        PVClass("ruri.user", writable=True, handler="pv_msg"),  # as $rU
        PVClass("ruri.domain", writable=True, handler="pv_msg"),  # as $rd
    ),
    transforms=(
        # --- Kamailio 5.6 pv mod_trans[] (names from pv_trans.c's parsers)
        TransformClass(
            "s",
            handler="tr_handler",
            names=(
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
                "encode.7bit",
                "decode.7bit",
                "encode.base58",
                "decode.base58",
                "fmtlines",
                "fmtlinet",
            ),
        ),
        TransformClass("nameaddr", ("uri", "len", "name"), handler="tr_handler"),
        TransformClass(
            "uri",
            handler="tr_handler",
            names=(
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
        TransformClass("param", ("value", "in", "valueat", "name", "count"), handler="tr_handler"),
        TransformClass("tobody", ("uri", "tag", "user", "host", "params", "display"), handler="tr_handler"),
        TransformClass("line", ("at", "sw", "count"), handler="tr_handler"),
        TransformClass("urialias", ("encode", "decode"), handler="tr_handler"),
    ),
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("pv", PvAPI, doc="the AVP aliases of avp_aliases, for the AVP names of other modules"),),
    factory=PvModule,
)
