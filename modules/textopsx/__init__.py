"""Extra text operations: applying changes, header value and iterator functions."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, PVClass, RouteType, Select, Unimplemented

from .textopsx import TextopsxModule


# What Kamailio 5.6's textopsx module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED: tuple[Unimplemented, ...] = ()


EXPORTS = Exports(
    name="textopsx",
    doc="Extra text operations: applying changes, header value and iterator functions.",
    functions=(
        Function(
            "msg_apply_changes",
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Use this function to apply changes performed on SIP message content.",
            returns="",
        ),
        Function(
            "msg_set_buffer",
            args=(Arg("data", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Set the content of the SIP message buffer, replacing the exiting data.",
            returns="",
        ),
        Function(
            "change_reply_status",
            # change_reply_status_fixup: fixup_var_int_12, fixup_var_pve_str_12
            args=(Arg("code", ArgKind.INT, var_fixup="int"), Arg("reason", ArgKind.FMT, var_fixup="pve")),
            routes=RouteType.ONREPLY,
            doc="Intercept a SIP reply (in an onreply_route) and change its status code and...",
            returns="",
        ),
        Function(
            "change_reply_status_code",
            args=(Arg("vcode", ArgKind.INT),),
            routes=RouteType.ONREPLY,
            doc="Change the status code for a SIP reply .",
            returns="",
        ),
        Function(
            "remove_body",
            routes=RouteType.ANY,
            doc="Use this function to remove the body of SIP requests or replies.",
            returns="",
        ),
        Function(
            "keep_hf",
            args=(Arg("regexp", ArgKind.REGEX),),
            min_args=0,
            routes=RouteType.ANY,
            doc="Remove headers that don't match the regular expression regexp.",
            returns="",
        ),
        Function(
            "fnmatch",
            args=(Arg("value", ArgKind.FMT), Arg("expr", ArgKind.FMT), Arg("flags", ArgKind.FMT)),
            min_args=2,
            routes=RouteType.ANY,
            doc="Match the value against the expr using shell-style pattern for file name...",
            returns="",
        ),
        Function(
            "append_hf_value",
            args=(Arg("hname", ArgKind.STR, fixup="fix_append_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Append a value to the header: after the value hname[idx], or a new header at the end.",
            returns="",
        ),
        Function(
            "insert_hf_value",
            args=(Arg("hname", ArgKind.STR, fixup="fix_insert_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Insert a value into the header: before the value hname[idx], or a new header first.",
            returns="",
        ),
        Function(
            "remove_hf_value",
            args=(Arg("hname", ArgKind.STR, fixup="fix_remove_ref"),),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Remove the value hname[idx] (default 1; [*]: all), or its parameter hname[idx].param.",
            returns="",
        ),
        Function(
            "assign_hf_value",
            args=(Arg("hname", ArgKind.STR, fixup="fix_assign_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Replace the value hname[idx] (default 1), or set its parameter hname[idx|*].param.",
            returns="",
        ),
        Function(
            "remove_hf_value2",
            args=(Arg("hname", ArgKind.STR, fixup="fix_remove_ref"),),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Remove the header line hname[idx] (default 1; [*]: all), or its name=value param .param.",
            returns="",
        ),
        Function(
            "assign_hf_value2",
            args=(Arg("hname", ArgKind.STR, fixup="fix_assign_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Replace the body of the header line hname[idx], or set its name=value parameter .param.",
            returns="",
        ),
        Function(
            "include_hf_value",
            args=(Arg("hname", ArgKind.STR, fixup="fix_plain_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Add the value to the header unless it is there already (any case).",
            returns="",
        ),
        Function(
            "exclude_hf_value",
            args=(Arg("hname", ArgKind.STR, fixup="fix_plain_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Remove every value of the header equal to the given one (any case).",
            returns="",
        ),
        Function(
            "hf_value_exists",
            args=(Arg("hname", ArgKind.STR, fixup="fix_plain_ref"), Arg("val", ArgKind.FMT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="True when the header has the value (any case).",
            returns="",
        ),
        Function(
            "hf_iterator_start",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Start an iterator over the headers of the message, named iname (up to 4 iterators).",
            returns="",
        ),
        Function(
            "hf_iterator_next",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Move the iterator to the next header; false at the end of the headers.",
            returns="",
        ),
        Function(
            "hf_iterator_prev",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Move the iterator to the previous header.",
            returns="",
        ),
        Function(
            "hf_iterator_end",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Close the iterator.",
            returns="",
        ),
        Function(
            "hf_iterator_rm",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Remove the header the iterator is at.",
            returns="",
        ),
        Function(
            "hf_iterator_append",
            args=(Arg("iname", ArgKind.FMT), Arg("htext", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Add htext (whole header lines with CRLF) after the header the iterator is at.",
            returns="",
        ),
        Function(
            "hf_iterator_insert",
            args=(Arg("iname", ArgKind.FMT), Arg("htext", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Add htext (whole header lines with CRLF) before the header the iterator is at.",
            returns="",
        ),
        Function(
            "bl_iterator_start",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Start an iterator over the lines of the message body, named iname.",
            returns="",
        ),
        Function(
            "bl_iterator_next",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Move the iterator to the next body line; false at the end of the body.",
            returns="",
        ),
        Function(
            "bl_iterator_end",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Close the iterator.",
            returns="",
        ),
        Function(
            "bl_iterator_rm",
            args=(Arg("iname", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Remove the body line the iterator is at.",
            returns="",
        ),
        Function(
            "bl_iterator_append",
            args=(Arg("iname", ArgKind.FMT), Arg("text", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Add text after the body line the iterator is at.",
            returns="",
        ),
        Function(
            "bl_iterator_insert",
            args=(Arg("iname", ArgKind.FMT), Arg("text", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Add text before the body line the iterator is at.",
            returns="",
        ),
    ),
    not_implemented=NOT_IMPLEMENTED,
    pvars=(
        PVClass("hfitname", arg="required", handler="pv_hfitname",
                doc="the name of the header the iterator $hfitname(iname) is at"),
        PVClass("hfitbody", arg="required", handler="pv_hfitbody",
                doc="the body of the header the iterator $hfitbody(iname) is at"),
        PVClass("blitval", arg="required", handler="pv_blitval",
                doc="the body line (with its line end) the iterator $blitval(iname) is at"),
    ),
    selects=(
        Select("hf_value", "select_hf_value", doc="the values of a header with a list body: "
               "`@hf_value.contact[1].uri`, `.name`, `.<param>`, `.nameaddr...`, `.params.<param>`"),
        Select("hf_value_exists", "select_hf_value_exists",
               doc="`@hf_value_exists.<header>.<value>`: 1 when the header has that value, else 0"),
        Select("hf_value2", "select_hf_value2", doc="a header line and its `name=value` parameters: "
               "`@hf_value2.authorization.realm`"),
    ),
    factory=TextopsxModule,
)
