"""sipjson: the attributes of a SIP message serialized into a JSON document."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, RouteType

from .impl import SipJsonModule

EXPORTS = Exports(
    name="sipjson",
    doc="Serializes SIP message attributes into a JSON document, each named as the "
        "pseudo-variable that holds it ($ru is \"ru\").",
    functions=(
        Function(
            "sj_serialize",
            args=(Arg("opt", ArgKind.FMT, doc="the groups of attributes: 0 the default ones (always "
                      "there), B the body, c the CSeq number, t the To user and domain"),
                  Arg("ovar", ArgKind.PVAR, doc="a writable pseudo-variable for the JSON text")),
            routes=RouteType.ANY,
            doc="Write the JSON document of the message's attributes into ovar: mt, rm, pr, si, sp, "
                "Ri, Rp, ru, rU, rd, rp, rs, rr, fU, fd, ua, ci, and rb, cs, tU, td as opt asks.",
            returns="1, -1 when opt is empty or ovar cannot be written",
        ),
    ),
    factory=SipJsonModule,
)
