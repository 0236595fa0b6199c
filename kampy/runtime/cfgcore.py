"""The groups the core declares to the cfg framework (Kamailio 5.6's src/core/cfg_core.c `core` and
src/core/tcp_options.c `tcp`), their start values from the core parameters, and the groups of the
modules and of the config (`my.x = 5 desc "..."`, `my[2].x = 7`).

Variables kampy acts on when they change: `core.debug` (the log threshold), `core.log_facility` (the
syslog facility), `core.max_while_loops`, `core.force_rport` (rport for every request), `core.memlog`,
`core.mem_dump_pkg` (logs the memory status of the process whose pid it is set to) and
`core.mem_dump_shm`, both at the level `core.memlog`. The others are kept and shown as Kamailio shows
them (setting one logs a warning); kampy's TCP layer reads its settings when it starts (see
docs/cfg.md).
"""
from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.config import ast
from kampy.config.core_params import FACILITIES, NUMBER_WORDS
from kampy.errors import ConfigError
from kampy.module import CfgGroup, CfgVar
from kampy.runtime.cfgframework import CfgError, CfgFramework, GroupDef, Value, VarDef, int32
from kampy.runtime.dst_blocklist import blocklist_initialized, use_blocklist_fixup
from kampy.runtime.loglevels import apply_debug, python_level
from kampy.runtime.memstatus import log_process_memory

if TYPE_CHECKING:
    from kampy.config.compile import ModuleConfig

log = logging.getLogger("kampy.cfg")

L_DBG = 3
# (name, type, min, max, flags, start value, core parameter names, description); flags: "f" a fix-up
# (unreadable), "r" read-only, "s" input as a string
_CORE: tuple[tuple[str, int, int, str, Value, tuple[str, ...], str], ...] = (
    ("debug", 0, 0, "", 0, ("debug",), "debug level"),
    ("log_facility", 0, 0, "fs", 3 << 3, ("log_facility",), 'syslog facility, see "man 3 syslog"'),
    ("memdbg", 0, 0, "", L_DBG + 1, ("memdbg", "mem_dbg"), "log level for memory debugging messages"),
    ("use_dst_blocklist", 0, 1, "f", 0, ("use_dst_blocklist",), "enable/disable destination blocklisting"),
    ("dst_blocklist_expire", 0, 0, "", 60, ("dst_blocklist_expire", "dst_blocklist_ttl"),
     "how much time (in s) a blocklisted destination is kept in the list"),
    ("dst_blocklist_mem", 0, 0, "f", 250, ("dst_blocklist_mem",),
     "maximum shared memory amount (in KB) used for keeping the blocklisted destinations"),
    ("dst_blocklist_udp_imask", 0, 0, "", 0, ("dst_blocklist_udp_imask",),
     "blocklist event ignore mask for UDP"),
    ("dst_blocklist_tcp_imask", 0, 0, "", 0, ("dst_blocklist_tcp_imask",),
     "blocklist event ignore mask for TCP"),
    ("dst_blocklist_tls_imask", 0, 0, "", 0, ("dst_blocklist_tls_imask",),
     "blocklist event ignore mask for TLS"),
    ("dst_blocklist_sctp_imask", 0, 0, "", 0, ("dst_blocklist_sctp_imask",),
     "blocklist event ignore mask for SCTP"),
    ("dns_try_ipv6", 0, 1, "f", 1, ("dns_try_ipv6",), "enable/disable IPv6 DNS lookups"),
    ("dns_try_naptr", 0, 1, "", 0, ("dns_try_naptr",), "enable/disable NAPTR DNS lookups"),
    ("dns_udp_pref", 0, 0, "", 30, ("dns_udp_pref", "dns_udp_preference"),
     "udp protocol preference when doing NAPTR lookups"),
    ("dns_tcp_pref", 0, 0, "", 20, ("dns_tcp_pref", "dns_tcp_preference"),
     "tcp protocol preference when doing NAPTR lookups"),
    ("dns_tls_pref", 0, 0, "", 10, ("dns_tls_pref", "dns_tls_preference"),
     "tls protocol preference when doing NAPTR lookups"),
    ("dns_sctp_pref", 0, 0, "", 20, ("dns_sctp_pref", "dns_sctp_preference"),
     "sctp protocol preference when doing NAPTR lookups"),
    ("dns_retr_time", 0, 0, "", -1, ("dns_retr_time",), "time in s before retrying a dns request"),
    ("dns_slow_query_ms", 0, 0, "", 0, ("dns_slow_query_ms",),
     "max time in ms before a dns request is considered slow"),
    ("dns_retr_no", 0, 0, "", -1, ("dns_retr_no",), "number of dns retransmissions before giving up"),
    ("dns_servers_no", 0, 0, "", -1, ("dns_servers_no",),
     "how many dns servers from the ones defined in /etc/resolv.conf will be used"),
    ("dns_use_search_list", 0, 1, "", 1, ("dns_use_search_list",),
     "if set to 0, the search list in /etc/resolv.conf is ignored"),
    ("dns_search_full_match", 0, 1, "", 1, ("dns_search_full_match",),
     "enable/disable domain name checks against the search list in DNS answers"),
    ("dns_reinit", 1, 1, "f", 0, (), "set to 1 in order to reinitialize the DNS resolver"),
    ("dns_naptr_ignore_rfc", 0, 0, "", 1, ("dns_naptr_ignore_rfc",),
     "ignore the Order field required by RFC 2915"),
    ("use_dns_cache", 0, 1, "f", 1, ("use_dns_cache",), "enable/disable the dns cache"),
    ("dns_cache_flags", 0, 4, "", 0, ("dns_cache_flags",),
     "dns cache specific resolver flags (1=ipv4 only, 2=ipv6 only, 4=prefer ipv6"),
    ("use_dns_failover", 0, 1, "f", 0, ("use_dns_failover",),
     "enable/disable dns failover in case the destination resolves to multiple ip addresses and/or "
     "multiple SRV records (depends on use_dns_cache)"),
    ("dns_srv_lb", 0, 1, "", 0, ("dns_srv_lb", "dns_srv_loadbalancing"),
     "enable/disable load balancing to different srv records of the same priority based on the srv "
     "records weights (depends on dns_failover)"),
    ("dns_cache_negative_ttl", 0, 0, "", 60, ("dns_cache_negative_ttl",),
     'time to live for negative results ("not found") in seconds. Use 0 to disable'),
    ("dns_cache_min_ttl", 0, 0, "", 0, ("dns_cache_min_ttl",),
     "minimum accepted time to live for a record, in seconds"),
    ("dns_cache_max_ttl", 0, 0, "", -1, ("dns_cache_max_ttl",),
     "maximum accepted time to live for a record, in seconds"),
    ("dns_cache_mem", 0, 0, "f", 500, ("dns_cache_mem",), "maximum memory used for the dns cache in Kb"),
    ("dns_cache_del_nonexp", 0, 1, "", 0, ("dns_cache_del_nonexp", "dns_cache_delete_nonexpired"),
     "allow deletion of non-expired records from the cache when there is no more space left for new ones"),
    ("dns_cache_rec_pref", 0, 3, "", 0, ("dns_cache_rec_pref",),
     "DNS cache record preference:  0 - do not check duplicates 1 - prefer old records 2 - prefer new "
     "records 3 - prefer records with longer lifetime"),
    ("mem_dump_pkg", 0, 0, "", 0, (), "dump process memory status, parameter: pid_number"),
    ("mem_dump_shm", 0, 0, "f", 0, (), "dump shared memory status"),
    ("max_while_loops", 0, 0, "", 100, ("max_while_loops",), "maximum iterations allowed for a while loop"),
    ("udp_mtu", 0, 65535, "", 0, ("udp_mtu",), "fallback to a congestion controlled protocol if send size "
     "exceeds udp_mtu"),
    ("udp_mtu_try_proto", 1, 4, "", 0, ("udp_mtu_try_proto",),
     "if send size > udp_mtu use proto (1 udp, 2 tcp, 3 tls, 4 sctp)"),
    ("udp4_raw", -1, 1, "f", 0, ("udp4_raw",),
     "enable/disable using a raw socket for sending UDP IPV4 packets. "
     "Should be  faster on multi-CPU linux running machines."),
    ("udp4_raw_mtu", 28, 65535, "", 1500, ("udp4_raw_mtu",), "set the MTU used when using raw sockets for "
     "udp sending. This  value will be used when deciding whether or not to fragment the packets."),
    ("udp4_raw_ttl", -1, 255, "f", -1, ("udp4_raw_ttl",), "set the IP TTL used when using raw sockets for "
     "udp sending. -1 will use the same value as for normal udp sockets."),
    ("force_rport", 0, 1, "", 0, ("force_rport", "add_rport"), "force rport for all the received messages"),
    ("memlog", 0, 0, "", L_DBG + 1, ("memlog", "mem_log"), "log level for memory status/summary information"),
    ("mem_summary", 0, 31, "", 12, ("mem_summary",),
     "memory debugging information displayed on exit (flags): "
     " 0 - off, 1 - dump all the pkg used blocks (status), 2 - dump all the shm used blocks (status), "
     "4 - summary of pkg used blocks, 8 - summary of shm used blocks, 16 - short status instead of dump"),
    ("mem_safety", 0, 0, "", 1, ("mem_safety",), "safety level for memory operations"),
    ("mem_join", 0, 0, "", 1, ("mem_join",), "join free memory fragments"),
    ("mem_status_mode", 0, 0, "", 0, ("mem_status_mode",), "print status for free or all memory fragments"),
    ("sip_parser_log_oneline", 0, 0, "", 0, ("sip_parser_log_oneline",), "sip msg print on one line"),
    ("sip_parser_log", 0, 0, "", -1, ("sip_parser_log",), "log level for sip msg parser error messages"),
    ("corelog", 0, 0, "", -1, ("corelog", "core_log"), "log level for non-critical core error messages"),
    ("latency_cfg_log", 0, 0, "", L_DBG, ("latency_cfg_log",),
     "log level for printing latency of routing blocks"),
    ("latency_log", 0, 0, "", -1, ("latency_log",), "log level for latency limits alert messages"),
    ("latency_limit_db", 0, 0, "", 0, ("latency_limit_db",),
     "limit in ms for alerting on time consuming db commands"),
    ("latency_limit_action", 0, 0, "", 0, ("latency_limit_action",),
     "limit in ms for alerting on time consuming config actions"),
    ("latency_limit_cfg", 0, 0, "", 0, ("latency_limit_cfg",),
     "limit in ms for alerting on time consuming config execution"),
    ("pv_cache_limit", 0, 0, "", 2048, ("pv_cache_limit",), "limit to alert if too many vars in pv cache"),
    ("pv_cache_action", 0, 0, "", 0, ("pv_cache_action",), "action to do if too many vars in pv cache"),
)

_TCP: tuple[tuple[str, int, int, str, Value, tuple[str, ...], str], ...] = (
    ("connect_timeout", -1, 120, "f", 10, ("tcp_connect_timeout",),
     "used only in non-async mode, in seconds"),
    ("send_timeout", -1, 1920, "f", 10, ("tcp_send_timeout",), "in seconds"),
    ("connection_lifetime", -1, 1920, "f", 120, ("tcp_connection_lifetime",),
     "connection lifetime (in seconds)"),
    ("max_connections", 0, (1 << 31) - 1, "f", 2048, ("tcp_max_connections",),
     "maximum tcp connections number, soft limit"),
    ("max_tls_connections", 0, (1 << 31) - 1, "f", 2048, ("tls_max_connections",),
     "maximum tls connections number, soft limit"),
    ("no_connect", 0, 1, "", 0, ("tcp_no_connect",),
     "if set only accept new connections, never actively open new ones"),
    ("fd_cache", 0, 1, "r", 1, ("tcp_fd_cache",), "file descriptor cache for tcp_send"),
    ("async", 0, 1, "r", 1, ("tcp_async", "tcp_buf_write"), "async mode for writes and connects"),
    ("connect_wait", 0, 1, "r", 1, (), "parallel simultaneous connects to the same dst. (0) or one connect"),
    ("conn_wq_max", 0, 1024 * 1024, "", 32 * 1024, ("tcp_conn_wq_max",),
     "maximum bytes queued for write per connection (depends on async)"),
    ("wq_max", 0, 1 << 30, "", 10 * 1024 * 1024, ("tcp_wq_max",),
     "maximum bytes queued for write allowed globally (depends on async)"),
    ("defer_accept", 0, 3600, "r", 0, ("tcp_defer_accept",), "0/1 on linux, seconds on freebsd (see docs)"),
    ("delayed_ack", 0, 1, "", 1, ("tcp_delayed_ack",),
     "initial ack will be delayed and sent with the first data segment"),
    ("syncnt", 0, 1024, "", 0, ("tcp_syncnt",),
     "number of syn retransmissions before aborting a connect (0=not set)"),
    ("linger2", 0, 3600, "", 0, ("tcp_linger2",),
     "lifetime of orphaned sockets in FIN_WAIT2 state in s (0=not set)"),
    ("keepalive", 0, 1, "", 1, ("tcp_keepalive",), "enables/disables keepalives for tcp"),
    ("keepidle", 0, 24 * 3600, "", 0, ("tcp_keepidle",),
     "time before sending a keepalive if the connection is idle (linux)"),
    ("keepintvl", 0, 24 * 3600, "", 0, ("tcp_keepintvl",),
     "time interval between keepalive probes on failure (linux)"),
    ("keepcnt", 0, 1 << 10, "", 0, ("tcp_keepcnt",),
     "number of failed keepalives before dropping the connection (linux)"),
    ("crlf_ping", 0, 1, "", 1, ("tcp_crlf_ping",), "enable responding to CRLF SIP-level keepalives "),
    ("accept_aliases", 0, 1, "", 0, ("tcp_accept_aliases",),
     "turn on/off tcp aliases (see tcp_accept_aliases) "),
    ("alias_flags", 0, 2, "", 1, (), "flags used for adding new aliases (FORCE_ADD:1 , REPLACE:2) "),
    ("new_conn_alias_flags", 0, 2, "", 2, (),
     "flags for the def. aliases for a new conn. (FORCE_ADD:1, REPLACE:2 "),
    ("accept_no_cl", 0, 1, "", 0, ("tcp_accept_no_cl",), "accept TCP messages without Content-Length "),
    ("reuse_port", 0, 1, "", 0, ("tcp_reuse_port",), "reuse TCP ports "),
    ("wait_data_ms", 0, 7200000, "", 5000, ("tcp_wait_data",),
     "wait for data on new tcp connetions (milliseconds)"),
    ("rd_buf_size", 512, 16777216, "", 16384, ("tcp_rd_buf_size",),
     "internal read buffer size (should be > max. expected datagram)"),
    ("wq_blk_size", 1, 65535, "", 2100, ("tcp_wq_blk_size",),
     "internal async write block size (debugging use only for now)"),
)

_PROTO_NUMBERS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4}


def log_facility(value: Any) -> int:
    """log_facility_fixup(): `LOG_LOCAL0` -> its number."""
    name = str(value).upper()
    if name not in FACILITIES:
        raise ValueError(f"invalid log facility: {value}")
    return logging.handlers.SysLogHandler.facility_names[name.removeprefix("LOG_").lower()] << 3


def _accept(value: Any) -> Any:
    return value


def _start_value(params: dict[str, Any], names: tuple[str, ...], default: Value) -> Value:
    for name in names:
        if name in params and params[name] is not None:
            value = params[name]
            if isinstance(value, str) and value.lower() in _PROTO_NUMBERS:
                return _PROTO_NUMBERS[value.lower()]
            if isinstance(value, str) and value in NUMBER_WORDS:
                return NUMBER_WORDS[value]
            if isinstance(value, str) and name == "log_facility":
                try:
                    return log_facility(value)
                except ValueError:
                    return default
            try:
                return int32(int(value))
            except (TypeError, ValueError):
                return default
    return default


def core_start_value(params: dict[str, Any], var: str) -> Value:
    """A `core` cfg variable's value as the config's core parameters set it, for what runs before
    the group is declared (the modules' init)."""
    for name, _low, _high, _flags, default, names, _doc in _CORE:
        if name == var:
            return _start_value(params, names, default)
    raise KeyError(var)


def _builtin_group(name: str, table: tuple[tuple[str, int, int, str, Value, tuple[str, ...], str], ...],
                   params: dict[str, Any], hooks: dict[str, Callable[[Any], Any]],
                   ) -> tuple[GroupDef, dict[str, Value]]:
    group = GroupDef(name)
    values: dict[str, Value] = {}
    for var, low, high, flags, default, names, doc in table:
        fixup = hooks.get(f"fixup:{var}", log_facility if var == "log_facility" else _accept) \
            if "f" in flags else None
        group.vars[var] = VarDef(var, "int", "string" if "s" in flags else "int", doc, low, high, fixup,
                                 hooks.get(var), readonly="r" in flags, inert=var not in ACTED_ON[name])
        values[var] = _start_value(params, names, default)
    return group, values


# ------------------------------------------------------------------ what kampy does on a change


def _set_debug(value: Any) -> None:
    apply_debug(int(value))


def _set_facility(value: Any) -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.handlers.SysLogHandler):
            handler.facility = int(value) >> 3


def memlog_level(fw: CfgFramework) -> int:
    """The logging level of memory reports: `core.memlog` (Kamailio's LM_GEN1(memlog, ...))."""
    return python_level(int(fw.read("core", None, "memlog")))  # type: ignore[arg-type]


def core_hooks(fw: CfgFramework) -> dict[str, Callable[[Any], None]]:
    """What kampy does when a variable of `core` changes (the others it keeps without acting on)."""
    def dump_pkg(value: Any) -> None:
        if int(value) == os.getpid():
            log_process_memory(memlog_level(fw))
    return {"debug": _set_debug, "log_facility": _set_facility, "mem_dump_pkg": dump_pkg}


# the variables of `core` something in kampy reads or acts on (the hooks above, the engine's
# max_while_loops and mem_dump_shm, the server's force_rport and its routing latency log, the
# destination blocklist of tm and of the dst_blocklist.* RPC methods); the rest, and all of `tcp` (kampy's TCP
# layer reads its settings when it starts), are kept and shown as Kamailio shows them
ACTED_ON = {"core": {"debug", "log_facility", "max_while_loops", "force_rport", "memlog", "mem_dump_pkg",
                     "udp_mtu", "udp_mtu_try_proto",  # read per request sent (forward.build_sent)
                     "mem_dump_shm", "use_dst_blocklist", "dst_blocklist_expire", "dst_blocklist_mem",
                     "dst_blocklist_udp_imask", "dst_blocklist_tcp_imask", "dst_blocklist_tls_imask",
                     "dst_blocklist_sctp_imask", "latency_cfg_log", "latency_limit_cfg",
                     # read by the resolver at each resolution (kampy/runtime/resolver.py, tm, forward)
                     "dns_try_ipv6", "dns_try_naptr", "dns_udp_pref", "dns_tcp_pref", "dns_tls_pref",
                     "dns_sctp_pref", "dns_retr_time", "dns_retr_no", "dns_naptr_ignore_rfc", "use_dns_cache",
                     "dns_cache_flags", "use_dns_failover", "dns_srv_lb", "dns_cache_negative_ttl",
                     "dns_cache_min_ttl", "dns_cache_max_ttl"}, "tcp": set()}


# ------------------------------------------------------------------ declaring everything


def declare_all(fw: CfgFramework, config: ast.Config, core_params: dict[str, Any],
                modules: dict[str, ModuleConfig], instances: dict[str, Any] | None,
                hooks: dict[str, Callable[[Any], Any]] | None = None) -> None:
    """Declare, in Kamailio's order, the config's groups (parsed first), `core`, `tcp` and the loaded
    modules' groups (loadmodule order); then the config's `group[N].var = value` lines. `hooks`
    adds core callbacks by variable name (`"fixup:<name>"` for a fix-up). `instances`: the module
    instances, None when only checking a config (`kampy check`). Raises ConfigError for a config
    Kamailio refuses."""
    params = core_params
    initialized = blocklist_initialized(params)
    if not initialized:  # init_dst_blocklist(): no blocklist, so it is not used
        params = {**params, "use_dst_blocklist": 0}
    cfg_vars = [item for item in config.items if isinstance(item, ast.CfgVar)]
    _declare_script_groups(fw, [v for v in cfg_vars if "[" not in v.group])
    order = [g for g in fw.groups if fw.groups[g].script] + ["core", "tcp"]
    try:
        fw.declare(*_builtin_group("core", _CORE, params, {
            **core_hooks(fw), "fixup:use_dst_blocklist": use_blocklist_fixup(initialized), **(hooks or {})}))
        fw.declare(*_builtin_group("tcp", _TCP, params, {}))
        for name, mod in modules.items():
            group = mod.exports.cfg
            if group is None:
                continue
            order.append(group.name)
            if group.name not in fw.groups:  # (built alone, a module declares its group itself)
                instance = instances.get(name) if instances is not None else _CHECKING
                declare_module_group(fw, group, mod.params, instance)
    except CfgError as exc:
        clash = next((v for v in cfg_vars if str(exc).endswith(f": {v.group}")), None)
        raise ConfigError.at(clash.pos if clash else ast.NOWHERE, str(exc)) from None
    fw.reorder(order)
    for item in cfg_vars:
        if "[" in item.group:
            _add_instance_value(fw, item)


def _declare_script_groups(fw: CfgFramework, items: list[ast.CfgVar]) -> None:
    groups: dict[str, tuple[GroupDef, dict[str, Value]]] = {}
    for item in items:
        group, values = groups.setdefault(item.group, (GroupDef(item.group, script=True), {}))
        if item.name in group.vars:
            raise ConfigError.at(item.pos, f"variable already exists: {item.group}.{item.name}")
        value = script_value(item)
        kind = "int" if isinstance(value, int) else "str"
        group.vars[item.name] = VarDef(item.name, kind, kind, item.desc)
        values[item.name] = value
    for group, values in groups.values():
        try:
            fw.declare(group, values)
        except CfgError as exc:
            first = next(item for item in items if item.group == group.name)
            raise ConfigError.at(first.pos, str(exc)) from None


def script_value(item: ast.CfgVar) -> int | str:
    """The value of `group.var = value`: a number (the words yes/no/... included) or a string."""
    node = item.value
    if isinstance(node, ast.Int) and node.value >= 0:
        return int32(node.value)
    if isinstance(node, ast.Str):
        return node.value
    if isinstance(node, ast.Ident) and node.name in NUMBER_WORDS:
        return NUMBER_WORDS[node.name]
    raise ConfigError.at(item.pos, "number or string expected")


def declare_module_group(fw: CfgFramework, decl: CfgGroup, params: dict[str, Any], instance: Any) -> None:
    """A module's group, its variables starting with the values of its parameters."""
    group = GroupDef(decl.name)
    values: dict[str, Value] = {}
    for var in decl.vars:
        vdef = VarDef(var.name, var.type, var.input or var.type, var.doc or None, var.min, var.max,
                      _method(instance, var.fixup), _method(instance, var.on_set), var.only_once,
                      var.readonly, var.inert)
        group.vars[var.name] = vdef
        values[var.name] = _module_start(var, vdef, params)
    fw.declare(group, values)


def _module_start(var: CfgVar, vdef: VarDef, params: dict[str, Any]) -> Value:
    """The parameter's value (else the declared default), through the fix-up as the module's
    mod_init converts it (tm keeps its timers in ticks)."""
    value = params.get(var.param_name) if var.param_name else None
    if value is None:
        value = var.default
    if vdef.fixup is not None and value is not None and var.fix_start:
        try:
            value = vdef.fixup(value)
        except ValueError as exc:
            raise CfgError(f"{var.name}: {exc}") from None
    if var.type == "int" and value is not None:
        return int32(int(value))
    return value


_CHECKING = object()  # no instance: the config is only checked


def _method(instance: Any, name: str) -> Callable[[Any], Any] | None:
    if not name or instance is None:
        return None
    if instance is _CHECKING:
        return _accept
    return getattr(instance, name)


def _add_instance_value(fw: CfgFramework, item: ast.CfgVar) -> None:
    group, _, number = item.group.partition("[")
    try:
        fw.add_start_instance(group, int(number.rstrip("]")), item.name, script_value(item))
    except CfgError as exc:
        raise ConfigError.at(item.pos, f"variable cannot be added to the group instance: {exc}") from None
