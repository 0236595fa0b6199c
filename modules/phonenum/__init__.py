"""phonenum: phone numbers matched and normalized with libphonenumber's rules."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, Unimplemented

from .impl import PhonenumModule, preload

EXPORTS = Exports(
    name="phonenum",
    doc="Phone number matching and normalization with the rules of Google's libphonenumber (the "
        "`phonenumbers` Python package): validity, E.164 form, country code and name, line type "
        "and description, in a named result container read with $phn(pvc=>key).",
    params=(
        Param("resid", (str,), None, multi=True,
              doc="a result container name registered at start (the config's $phn(name=>...) "
                  "register theirs)"),
    ),
    functions=(
        Function(
            "phonenum_match",
            args=(Arg("num", ArgKind.FMT), Arg("pvc", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Match num (in international format) and fill the result container pvc.",
            returns="1 when the container was filled (valid or not: see $phn(pvc=>valid)), -3 for "
                    "a number over 255 characters, -4 for a container name never registered",
        ),
        Function(
            "phonenum_match_cn",
            args=(Arg("num", ArgKind.FMT), Arg("cnc", ArgKind.FMT), Arg("pvc", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Match num as a number of the country with the two-letter code cnc (used when num "
                "is not in international format) and fill the result container pvc.",
            returns="as phonenum_match()",
        ),
    ),
    pvars=(PVClass("phn", arg="required", handler="pv_phn",
                   doc="$phn(pvc=>key): number, valid, normalized, cctel, ccname, ltype, ndesc, error"),),
    not_implemented=(
        Unimplemented("param", "smode", "the phone number search mode is not used by Kamailio 5.6 "
                      "either (\"not in use yet\"): no value changes what the module does",
                      default=0, types=(int,)),
    ),
    factory=PhonenumModule,
    preload=preload,
)
