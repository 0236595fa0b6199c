"""IP and URI based permissions: allow/deny rule files, the address table, trusted peers."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod, Timer

from .permissions import PermissionsModule

__all__ = ["EXPORTS", "PermissionsModule"]

GROUP = Arg("group_id", ArgKind.INT, doc="the address group, an integer or a pseudo-variable")
ADDRESS = Arg("ip_addr", ArgKind.FMT, doc="an IP address or a domain name; may hold pseudo-variables")
PORT = Arg("port", ArgKind.INT, doc="the port (0 in the table matches any), integer or pseudo-variable")
BASENAME = Arg("basename", ArgKind.STR, fixup="fix_basename",
               doc="files basename+allow_suffix and basename+deny_suffix (beside the config without a path)")
ALLOW_FILE = Arg("allow_file", ArgKind.STR, fixup="fix_allow_file", doc="the allow rules file")
DENY_FILE = Arg("deny_file", ArgKind.STR, fixup="fix_deny_file", doc="the deny rules file")
FILE_ROUTES = RouteType.REQUEST | RouteType.FAILURE
ALLOWED = "1 allowed, -1 denied or error"
TRUSTED = "1 trusted (peer_tag_mode 1: the number of peers matched), -1 not trusted or error"

EXPORTS = Exports(
    name="permissions",
    doc="IP and URI based permissions: allow/deny rule files, the address table, trusted peers.",
    params=(
        Param("default_allow_file", (str,), "permissions.allow"),
        Param("default_deny_file", (str,), "permissions.deny"),
        Param("check_all_branches", (int,), 1, doc="allow_routing() checks the branches too"),
        Param("allow_suffix", (str,), ".allow"),
        Param("deny_suffix", (str,), ".deny"),
        Param("db_url", (str,), None, doc="the database of the address and trusted tables (unset: none)"),
        Param("db_mode", (int,), 0, doc="trusted table: 0 read at each check, 1 cached"),
        Param("trusted_table", (str,), "trusted"),
        Param("source_col", (str,), "src_ip"),
        Param("proto_col", (str,), "proto"),
        Param("from_col", (str,), "from_pattern"),
        Param("ruri_col", (str,), "ruri_pattern"),
        Param("tag_col", (str,), "tag"),
        Param("priority_col", (str,), "priority"),
        Param("peer_tag_avp", (str,), None, doc="an $avp that gets the tag of the address or peer matched"),
        Param("peer_tag_mode", (int,), 0,
              doc="allow_trusted(): 1 tags of every peer matched, and their number"),
        Param("address_table", (str,), "address"),
        Param("address_file", (str,), None, doc="addresses from this file instead of the table"),
        Param("grp_col", (str,), "grp"),
        Param("ip_addr_col", (str,), "ip_addr"),
        Param("mask_col", (str,), "mask"),
        Param("port_col", (str,), "port"),
        Param("max_subnets", (int,), 512, doc="subnets loaded at most"),
        Param("load_backends", (int,), 0xFFFF,
              doc="1 address table, 2 trusted table, 4 allow file, 8 deny file"),
        Param("reload_delta", (int,), 5, doc="seconds between two RPC reloads at least"),
        Param("trusted_cleanup_interval", (int,), 60,
              doc="seconds after which a worker lets go of the trusted table a reload replaced"),
    ),
    functions=(
        Function("allow_routing", handler="allow_routing_0", routes=RouteType.ANY,
                 doc="Whether From and the R-URI (and the branches) are allowed by the default files.",
                 returns=ALLOWED),
        Function("allow_routing", handler="allow_routing_1", args=(BASENAME,), routes=RouteType.ANY,
                 doc="allow_routing() with basename.allow and basename.deny.", returns=ALLOWED),
        Function("allow_routing", handler="allow_routing_2", args=(ALLOW_FILE, DENY_FILE),
                 routes=RouteType.ANY,
                 doc="allow_routing() with the two files.", returns=ALLOWED),
        Function("allow_register", handler="allow_register_1", args=(BASENAME,), routes=FILE_ROUTES,
                 doc="Whether To and each Contact of a REGISTER are allowed by basename's files.",
                 returns=ALLOWED),
        Function("allow_register", handler="allow_register_2", args=(ALLOW_FILE, DENY_FILE),
                 routes=FILE_ROUTES,
                 doc="allow_register() with the two files.", returns=ALLOWED),
        Function("allow_uri", args=(BASENAME, Arg("pvar", ArgKind.PVAR, doc="the URI to check")),
                 routes=FILE_ROUTES, doc="Whether From and the URI in the variable are allowed.",
                 returns=ALLOWED),
        Function("allow_trusted", handler="allow_trusted_0", routes=RouteType.ANY,
                 doc="Whether the source address and protocol are of a trusted peer whose patterns match "
                     "From and the R-URI.",
                 returns=TRUSTED),
        Function("allow_trusted",
                 args=(Arg("src_ip_pvar", ArgKind.FMT), Arg("proto_pvar", ArgKind.FMT),
                       Arg("uri", ArgKind.FMT)),
                 min_args=2, routes=RouteType.ANY,
                 doc="allow_trusted() for the address and protocol given (any, udp, tcp, tls, sctp, ws, "
                     "wss), and the URI given instead of From.",
                 returns=TRUSTED),
        Function("allow_address", args=(GROUP, ADDRESS, PORT), routes=RouteType.ANY,
                 doc="Whether the address and port are in the group (an address, a subnet or a name).",
                 returns=ALLOWED),
        Function("allow_source_address", args=(GROUP,), min_args=0, routes=RouteType.ANY,
                 doc="allow_address(group, \"$si\", \"$sp\"); the group is 1 when not given.",
                 returns=ALLOWED),
        Function("allow_source_address_group", routes=RouteType.ANY,
                 doc="The group of the source address and port (address table, then subnets).",
                 returns="the group, -1 in none"),
        Function("allow_address_group", args=(ADDRESS, PORT), routes=RouteType.ANY,
                 doc="The group of the address and port (names: the domain name table).",
                 returns="the group, -1 in none"),
    ),
    rpc=(
        RpcMethod("permissions.trustedReload", "rpc_trusted_reload", doc="Reload permissions trusted table"),
        RpcMethod("permissions.addressReload", "rpc_address_reload", doc="Reload permissions address table"),
        RpcMethod("permissions.trustedDump", "rpc_trusted_dump", doc="Dump permissions trusted table"),
        RpcMethod("permissions.addressDump", "rpc_address_dump", doc="Dump permissions address table",
                  array=True),
        RpcMethod("permissions.subnetDump", "rpc_subnet_dump", doc="Dump permissions subnet table",
                  array=True),
        RpcMethod("permissions.domainDump", "rpc_domain_dump", doc="Dump permissions domain name table"),
        RpcMethod("permissions.testUri", "rpc_test_uri",
                  doc="Tests if (URI, Contact) pair is allowed according to allow/deny files",
                  params_fault=(500, "Not enough parameters (basename, URI and contact)")),
        RpcMethod("permissions.allowUri", "rpc_test_uri",
                  doc="Tests if (URI, Contact) pair is allowed according to allow/deny files",
                  params_fault=(500, "Not enough parameters (basename, URI and contact)")),
    ),
    timers=(Timer("trusted_cleanup", "trusted_cleanup", interval_param="trusted_cleanup_interval",
                  doc="lets go of the trusted table a reload replaced (db_mode 1)"),),
    factory=PermissionsModule,
)
