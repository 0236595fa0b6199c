"""Per-user speed-dial numbers from a database table: sd_lookup()."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .speeddial import SpeeddialModule

__all__ = ["EXPORTS", "SpeeddialModule"]

EXPORTS = Exports(
    name="speeddial",
    doc="Per-user speed-dial numbers from a database table: sd_lookup().",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio"),
        Param("user_column", (str,), "username"),
        Param("domain_column", (str,), "domain"),
        Param("sd_user_column", (str,), "sd_username"),
        Param("sd_domain_column", (str,), "sd_domain"),
        Param("new_uri_column", (str,), "new_uri"),
        Param("use_domain", (int,), 0,
              doc="1: match the owner's domain, 2: and the R-URI's host as sd_domain"),
        Param("domain_prefix", (str,), None, doc="prefix stripped from the domains before matching"),
    ),
    functions=(
        Function("sd_lookup", args=(Arg("table", ArgKind.FMT), Arg("owner", ArgKind.FMT)), min_args=1,
                 routes=RouteType.REQUEST,
                 doc="Replaces the R-URI with the owner's (From URI, or the URI given) speed-dial target "
                     "for the R-URI's user.",
                 returns="1 found, -1 not found or error"),
    ),
    factory=SpeeddialModule,
)
