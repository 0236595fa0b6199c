"""The declarations of tm's serial forking (t_serial.py, t_branch_failure.py), kept apart from the
module's long list in __init__.py."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Function, Param, RouteType

from .transaction_exports import var_int

_ROUTES = RouteType.REQUEST | RouteType.FAILURE

SERIAL_PARAMS = (
    Param("contacts_avp", (str,), None,
          doc="the XAVP t_load_contacts() stores the destination set in and t_next_contacts() takes it "
              "back from (unset: both functions log an error and return -1)"),
    Param("contact_flows_avp", (str,), None,
          doc="the XAVP t_next_contacts() keeps the contacts of an instance already in the set in, for "
              "t_next_contact_flow(); needed (at start-up) when contacts_avp is set"),
    Param("xavp_contact", (str,), None,
          doc="the XAVP with the attributes of each contact (usrloc's xavp_contact): its item n goes with "
              "branch n through t_load_contacts() and back"),
)

SERIAL_FUNCTIONS = (
    Function(
        "t_load_contacts",
        args=(var_int("mode"),),
        min_args=0,
        routes=_ROUTES,
        doc="Stores the destination set (R-URI and branches) in contacts_avp, sorted by q: mode 0 (or "
            "none) highest q first, equal q values forked in parallel; mode 1 one at a time, drawn with "
            "the q values as weights, q <= 0 last. Does nothing with only one destination.",
        returns="1 (also when there is nothing to do), -1 on error",
    ),
    Function(
        "t_next_contacts",
        routes=_ROUTES,
        doc="Makes the next priority class of contacts_avp the destination set (the first as R-URI, "
            "the others as branches; one contact per +sip.instance, the others go to contact_flows_avp) "
            "and removes it from contacts_avp.",
        returns="1, -2 when contacts_avp is empty, -1 on error",
    ),
    Function(
        "t_next_contact_flow",
        routes=RouteType.REQUEST,
        doc="In event_route[tm:branch-failure:...]: adds as a branch the first contact of contact_flows_avp "
            "with the +sip.instance of the failed branch, and removes it from there.",
        returns="1, -2 when the branch has no instance or contact_flows_avp is empty, -1 otherwise",
    ),
    Function(
        "t_on_branch_failure",
        args=(Arg("branch_failure_route", ArgKind.ROUTE, route_kind="branch_failure"),),
        routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.TM_ONREPLY | RouteType.BRANCH,
        doc="Sets event_route[tm:branch-failure:<name>], run for each negative final reply of the "
            "branches sent from then on (\"0\" or \"\" unsets it).",
        returns="1",
    ),
)
