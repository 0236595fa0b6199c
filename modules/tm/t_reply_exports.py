"""The declarations of tm's reply, CANCEL and blocklist settings, the functions of reply_opts.py and
the event routes of local_routes.py (part of tm's EXPORTS)."""
from __future__ import annotations

from kampy.api import EventRoute, Function, Param, RouteType, Unimplemented

from .transaction_exports import var_int

_TM_ROUTES = RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH
_NO_KEMI = "a KEMI callback name: kampy runs no KEMI scripts"

REPLY_PARAMS = (
    Param("reparse_on_dns_failover", (int,), 1,
          doc="1: a DNS failover branch sends the failed branch's bytes with a new Via branch; 0: the "
              "request is built anew from the one received, with the request route's changes"),
    Param("dns_reuse_rcv_socket", (int,), 0,
          doc="1: a DNS failover branch goes out from the socket the request came in on"),
    Param("local_cancel_reason", (int,), 1,
          doc="1: a CANCEL tm sends because of a final reply carries `Reason: SIP;cause=<code>`"),
    Param("e2e_cancel_reason", (int,), 1,
          doc="1: the CANCELs tm sends for a CANCEL received carry its Reason headers"),
    Param("pass_provisional_replies", (int,), 0,
          doc="1: TMCB_LOCAL_RESPONSE_OUT callbacks run for the provisional replies of local requests"),
    Param("aggregate_challenges", (int,), 1,
          doc="1: a final 401/407 when several branches got one carries all their challenges"),
    Param("reparse_invite", (int,), 1,
          doc="1: CANCELs and negative ACKs are built from the INVITE sent, 0: from the one received"),
    Param("ac_extra_hdrs", (str,), None,
          doc="headers of the INVITE sent named with this prefix go into its CANCELs and negative ACKs"),
    Param("failure_exec_mode", (int,), 0,
          doc="1: a branch whose request cannot be sent is kept, times out with a 408 and can be "
              "handled in failure_route, t_relay() succeeding; 0: t_relay() fails on it"),
    Param("enable_uac_fr", (int,), 0,
          doc="1: a request tm sends itself runs the failure_route set for it (t_on_failure() in "
              "event_route[tm:local-request]) and its TMCB_ON_FAILURE callbacks when it fails"),
    Param("local_ack_mode", (int,), 0,
          doc="where tm sends the ACK of a 2xx to an INVITE it sent itself: 0 the Contact of the 2xx "
              "through its route set (RFC 3261), 1 where the INVITE went, 2 the source of the 2xx"),
    Param("reply_relay_mode", (int,), 1,
          doc="1: an INVITE's 2xx coming after the final reply was sent (e.g. while it was suspended) is "
              "sent on without becoming the transaction's reply; 0: it replaces it"),
    Param("on_sl_reply", (str,), "",
          doc="the onreply_route run for a reply that matches no transaction; `drop` there stops it"),
    Param("rich_redirect", (int,), 0,
          doc="what the Contact of a 3xx t_reply() adds to each target: 1 its branch flags, 2 its path"),
    Param("exec_time_check", (int,), 5000,
          doc="ms: failure handlers that ran longer are followed by a check that the transaction is "
              "still there (0: no check)"),
    Param("blst_503", (int,), 0, doc="1: the source of a 503 reply is put on the destination blocklist"),
    Param("blst_503_def_timeout", (int,), 0, doc="s: how long a 503 without Retry-After blocklists (0: not)"),
    Param("blst_503_min_timeout", (int,), 0, doc="s: the least a Retry-After blocklists for"),
    Param("blst_503_max_timeout", (int,), 3600, doc="s: the most a Retry-After blocklists for"),
    Param("blst_methods_add", (int,), 1,
          doc="the methods (bit mask) whose branch timing out blocklists its destination"),
    Param("blst_methods_lookup", (int,), ~8,
          doc="the methods (bit mask) not sent to a blocklisted destination (all but BYE)"),
)

REPLY_FUNCTIONS = (
    Function("t_set_disable_failover", args=(var_int("on_off"),), routes=_TM_ROUTES,
             doc="1: no DNS failover for this transaction (the core's use_dns_failover), 0: as configured",
             returns="1"),
    Function("t_set_no_e2e_cancel_reason", args=(var_int("on_off"),), routes=_TM_ROUTES,
             doc="1: the CANCELs of this INVITE transaction do not copy the Reason headers of a CANCEL "
                 "received (overrides e2e_cancel_reason; use it for the INVITE, not the CANCEL)",
             returns="1"),
    Function("t_disable_e2e_cancel_reason", args=(var_int("on_off"),), routes=_TM_ROUTES,
             doc="an alias of t_set_no_e2e_cancel_reason", returns="1"),
    Function("t_is_retr_async_reply", routes=RouteType.TM_ONREPLY,
             doc="true while the transaction is suspended (t_suspend()), the reply at hand possibly a "
                 "retransmission of the one kept", returns="1, -1 otherwise"),
    Function("t_save_lumps", routes=RouteType.REQUEST,
             doc="the changes made to the request so far are those the branches of failure_route get; "
                 "later ones are lost for them (the first t_relay() saves them otherwise)",
             returns="1, -1 without a transaction"),
    Function("t_use_uac_headers", routes=RouteType.ANY,
             doc="the CANCELs of the transaction take their To header from the INVITE sent, not the one "
                 "received", returns="1"),
)

REPLY_EVENT_ROUTES = (
    EventRoute("tm:local-request", doc="runs for each request tm sends on its own (t_uac_send, the "
               "tm.t_uac_* RPCs, other modules' requests) before it goes out, with $du the next hop; changes "
               "to headers, body and $ru go out with it, `drop` stops it"),
    EventRoute("tm:local-response", doc="runs after tm sent a reply of its own (t_reply, the 100 to an "
               "INVITE, the replies to a CANCEL), with that reply as the message"),
)

REPLY_NOT_IMPLEMENTED = (
    Unimplemented("param", "event_callback", _NO_KEMI, types=(str,)),
    Unimplemented("param", "event_callback_lres_sent", _NO_KEMI, types=(str,)),
)
