"""What the debugger prints of an action (debugger_act.c, debugger_api.c): Kamailio's action type
number (`a=`, enum action_type in src/core/route_struct.h), its name (`n=`), the route names."""
from __future__ import annotations

from kampy.api import Action, RouteType

# enum action_type
FORWARD_T, DROP_T, LOG_T, ERROR_T, ROUTE_T, EXEC_T = 1, 2, 3, 4, 5, 6
IF_T, SWITCH_T, BLOCK_T, EVAL_T = 16, 17, 18, 19
SWITCH_JT_T, SWITCH_COND_T, MATCH_COND_T, WHILE_T = 20, 21, 22, 23
MODULE0_T, MODULEX_T, MODULE1_RVE_T, MODULEX_RVE_T = 24, 31, 32, 38
ASSIGN_T, ADD_T = 63, 64

# the core's functions: Kamailio's type and name for them (_dbg_action_list)
CORE_ACTIONS: dict[str, tuple[int, str]] = {
    "forward": (FORWARD_T, "forward"), "log": (LOG_T, "log"), "error": (ERROR_T, "error"),
    "exec": (EXEC_T, "exec"),
    "rewritehost": (7, "sethost"), "sethost": (7, "sethost"), "seth": (7, "sethost"),
    "rewritehostport": (8, "sethostport"), "sethostport": (8, "sethostport"), "sethp": (8, "sethostport"),
    "rewriteuser": (9, "setuser"), "setuser": (9, "setuser"), "setu": (9, "setuser"),
    "rewriteuserpass": (10, "setuserpass"), "setuserpass": (10, "setuserpass"), "setup": (10, "setuserpass"),
    "rewriteport": (11, "setport"), "setport": (11, "setport"), "setp": (11, "setport"),
    "rewriteuri": (12, "seturi"), "seturi": (12, "seturi"),
    "rewritehostporttrans": (13, "sethostporttrans"), "sethostporttrans": (13, "sethostporttrans"),
    "sethostall": (14, "sethostall"), "setuserphone": (15, "setuserphone"),
    "setflag": (39, "setflag"), "resetflag": (40, "resetflag"), "isflagset": (41, "isflagset"),
    "avpflag": (42, "avpflag"), "len_gt": (43, "lengt"), "prefix": (44, "prefix"),
    "strip": (45, "strip"), "strip_tail": (46, "striptail"), "append_branch": (47, "append_branch"),
    "revert_uri": (50, "reverturi"), "forward_tcp": (51, "forward_tcp"), "forward_udp": (52, "forward_udp"),
    "forward_tls": (53, "forward_tls"), "forward_sctp": (54, "forward_sctp"),
    "force_rport": (55, "force_rport"), "add_rport": (55, "force_rport"),
    "add_local_rport": (56, "add_local_rport"), "set_advertised_address": (57, "set_adv_addr"),
    "set_advertised_port": (58, "set_adv_port"), "force_tcp_alias": (59, "force_tcp_alias"),
    "add_tcp_alias": (59, "force_tcp_alias"), "load_avp": (60, "load_avp"), "avp_to_uri": (61, "avp_to_uri"),
    "force_send_socket": (62, "force_send_socket"), "udp_mtu_try_proto": (65, "udp_mtu_try_proto"),
    "set_forward_no_connect": (66, "set_fwd_no_connect"), "set_reply_no_connect": (67, "set_rpl_no_connect"),
    "set_forward_close": (68, "set_fwd_close"), "set_reply_close": (69, "set_rpl_close"),
}

# the statements (the kind of an Action): type and name
STATEMENTS: dict[str, tuple[int, str]] = {
    "route": (ROUTE_T, "route"), "if": (IF_T, "if"), "while": (WHILE_T, "while"),
    "block": (BLOCK_T, "block"), "eval": (EVAL_T, "eval"), "assign": (ASSIGN_T, "assign"),
    "add": (ADD_T, "add"),
    # DROP_T for all of them, named by their flags (`break` has neither DROP_R_F nor RETURN_R_F)
    "exit": (DROP_T, "exit"), "drop": (DROP_T, "drop"), "return": (DROP_T, "return"),
    "break": (DROP_T, "exit"),
}

ROUTE_TYPE_NAMES: dict[int, str] = {
    RouteType.REQUEST: "request_route", RouteType.FAILURE: "failure_route",
    RouteType.TM_ONREPLY: "onreply_route", RouteType.CORE_ONREPLY: "onreply_route",
    RouteType.ONREPLY: "onreply_route", RouteType.BRANCH: "branch_route", RouteType.ONSEND: "onsend_route",
    RouteType.ERROR: "error_route", RouteType.LOCAL: "local_route",
    RouteType.BRANCH_FAILURE: "branch_failure_route",
}

# the name Kamailio gives the actions of a block without one (cfg.lex: default_routename)
DEFAULT_ROUTE_NAMES = {"request": "DEFAULT_ROUTE", "route": "DEFAULT_ROUTE", "onreply": "DEFAULT_ONREPLY",
                       "reply": "DEFAULT_ONREPLY", "failure": "DEFAULT_FAILURE", "branch": "DEFAULT_BRANCH",
                       "onsend": "DEFAULT_SEND", "event": "DEFAULT_EVENT"}


def action_type(action: Action) -> tuple[int, str]:
    """(a=, n=) of an action as the debugger prints them."""
    if action.kind == "call":
        if action.owner == "core":
            return CORE_ACTIONS.get(action.name, (0, "unknown"))
        n = action.args
        if action.dynamic:
            return (MODULE1_RVE_T + n - 1 if 1 <= n <= 6 else MODULEX_RVE_T), action.name
        return (MODULE0_T + n if n <= 6 else MODULEX_T), action.name
    if action.kind == "switch":
        if action.string_cases:
            return MATCH_COND_T, "case"
        return (SWITCH_JT_T if _jump_table(action.int_cases) else SWITCH_COND_T), "switch"
    return STATEMENTS.get(action.kind, (0, "unknown"))


MAX_JT_SIZE = 100


def _jump_table(cases: tuple[int, ...]) -> bool:
    """fix_switch(): an integer switch becomes a jump table when more than 3 of its case values fit
    in a window of MAX_JT_SIZE (the same search as Kamailio's)."""
    best_hits, start, end = 3, 0, 0
    for first in cases:
        last, hits = first, 1
        for value in cases:
            if value <= first:
                continue
            if value < last:
                hits += 1
            elif value - first < MAX_JT_SIZE:
                last = value
                hits += 1
        if hits > best_hits:
            best_hits, start, end = hits, first, last
    return start != end


def action_line(action: Action) -> int:
    """The line Kamailio gives the action: a statement with a block ends where its parser reduced it."""
    return action.end_line or action.line


def route_name(action: Action) -> str:
    """Kamailio's `rname` of the block the action is written in."""
    return action.route_name or DEFAULT_ROUTE_NAMES.get(action.route_kind, "DEFAULT")


def route_type_name(route_type: int) -> str:
    """get_current_route_type_name()."""
    return ROUTE_TYPE_NAMES.get(route_type, "unknown_route")
