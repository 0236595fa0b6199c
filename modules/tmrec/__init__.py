"""tmrec: time recurrences (RFC 2445) and time periods (Perl's Time::Period) matched in the config."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .impl import TmrecModule

EXPORTS = Exports(
    name="tmrec",
    doc="Matches the current time, or a timestamp, against a time recurrence "
        "(startdate|duration|frequency|until|interval|byday|bymonthday|byyearday|byweekno|bymonth) "
        "or a Time::Period specification, and tells leap years.",
    params=(
        Param("separator", (str,), "|", doc="the character between the fields of a recurrence"),
        Param("wday", (int,), 0, doc="declared by Kamailio 5.6, which never reads it (nor does kampy)"),
    ),
    functions=(
        Function("tmrec_match", args=(Arg("timerec", ArgKind.FMT), Arg("timestamp", ArgKind.INT)),
                 min_args=1, routes=RouteType.ANY,
                 doc="Whether the time (the UNIX timestamp given, else now; 0 is now) falls in the "
                     "time recurrence (local time).",
                 returns="1 when it does (or the recurrence has no start date), -1 when not or "
                         "when the recurrence does not parse"),
        Function("is_leap_year", args=(Arg("year", ArgKind.INT),), min_args=0, routes=RouteType.ANY,
                 doc="Whether the year (else the current one) is a leap year.", returns="1 or -1"),
        Function("time_period_match", args=(Arg("period", ArgKind.FMT), Arg("timestamp", ArgKind.INT)),
                 min_args=1, routes=RouteType.ANY,
                 doc="Whether the time (the UNIX timestamp given, else now) falls in the period.",
                 returns="1 when it does (and, as in Kamailio, when the period has a syntax "
                         "error), -1 when not"),
    ),
    factory=TmrecModule,
)
