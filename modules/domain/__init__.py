"""Local domains and their attributes, from the domain and domain_attrs tables."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, DomainAPI, Exports, Function, Offer, Param, RouteType, RpcMethod

from .domain import DomainModule

__all__ = ["EXPORTS", "DomainModule"]

ROUTES = RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH | RouteType.LOCAL
LOCAL = "1 local, -1 not local"

EXPORTS = Exports(
    name="domain",
    doc="Local domains and their attributes, from the domain and domain_attrs tables.",
    params=(
        Param("db_url", (str,), "mysql://kamailioro:kamailioro@localhost/kamailio"),
        Param("domain_table", (str,), "domain"),
        Param("domain_attrs_table", (str,), "domain_attrs"),
        Param("did_col", (str,), "did"),
        Param("domain_col", (str,), "domain"),
        Param("name_col", (str,), "name"),
        Param("type_col", (str,), "type"),
        Param("value_col", (str,), "value"),
        Param("register_myself", (int,), 0, doc="1: the domains are `myself` too (uri==myself, is_myself)"),
    ),
    functions=(
        Function("is_from_local", routes=ROUTES, doc="Whether the From URI's host is a local domain.",
                 returns=LOCAL + ", -2 From not parsed"),
        Function("is_uri_host_local", routes=ROUTES,
                 doc="Whether the R-URI's host (in failure_route: the first branch's) is a local domain.",
                 returns=LOCAL),
        Function("is_domain_local", handler="w_is_domain_local", args=(Arg("domain", ArgKind.FMT),),
                 routes=ROUTES, doc="Whether the domain (may hold pseudo-variables) is local.",
                 returns=LOCAL),
        Function("lookup_domain", args=(Arg("domain", ArgKind.FMT), Arg("prefix", ArgKind.FMT)), min_args=1,
                 routes=ROUTES,
                 doc="For a local domain, adds its attributes as AVPs (names after the prefix) and the AVP "
                     "`did`.",
                 returns=LOCAL),
    ),
    rpc=(
        RpcMethod("domain.reload", "rpc_reload", doc="Reload domain tables from database"),
        RpcMethod("domain.dump", "rpc_dump", doc="Return the contents of domain and domain_attrs tables"),
    ),
    offers=(Offer("domain", DomainAPI, doc="whether a domain is local (bind_domain)"),),
    factory=DomainModule,
)
