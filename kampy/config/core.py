"""What the core itself offers to a config: core parameters, core actions and keywords.

Core actions (`log`, `forward`, `setflag`, `rewriteuri`, ...) are grammar keywords in Kamailio; kampy
declares them like a module's functions so the compiler checks them the same way.
"""
from __future__ import annotations

from kampy.module import Arg, ArgKind, Exports, Function, RouteType

# Every `name = value` parameter Kamailio's lexer knows (src/core/cfg.lex, "config vars").
CORE_PARAMS: frozenset[str] = frozenset({
    "debug", "fork", "fork_delay", "modinit_delay", "log_stderror", "log_facility", "log_name",
    "log_color", "log_prefix", "log_prefix_mode", "log_engine_type", "log_engine_data",
    "xavp_via_params", "xavp_via_fields", "xavp_via_reply_params", "listen", "alias", "domain",
    "auto_aliases", "auto_domains", "dns", "rev_dns", "dns_rev_via", "dns_try_ipv6", "dns_try_naptr",
    "dns_srv_lb", "dns_srv_loadbalancing", "dns_udp_pref", "dns_udp_preference", "dns_tcp_pref",
    "dns_tcp_preference", "dns_tls_pref", "dns_tls_preference", "dns_sctp_pref", "dns_sctp_preference",
    "dns_retr_time", "dns_slow_query_ms", "dns_retr_no", "dns_servers_no", "dns_use_search_list",
    "dns_search_full_match", "dns_naptr_ignore_rfc", "dns_cache_init", "use_dns_cache", "dns_use_cache",
    "use_dns_failover", "dns_use_failover", "dns_cache_flags", "dns_cache_negative_ttl",
    "dns_cache_min_ttl", "dns_cache_max_ttl", "dns_cache_mem", "dns_cache_gc_interval",
    "dns_cache_del_nonexp", "dns_cache_delete_nonexpired", "dns_cache_rec_pref", "auto_bind_ipv6",
    "bind_ipv6_link_local", "ipv6_hex_style", "dst_blocklist_init", "use_dst_blocklist",
    "dst_blocklist_mem", "dst_blocklist_expire", "dst_blocklist_ttl", "dst_blocklist_gc_interval",
    "dst_blocklist_udp_imask", "dst_blocklist_tcp_imask", "dst_blocklist_tls_imask",
    "dst_blocklist_sctp_imask", "ip_free_bind", "ipfreebind", "ip_nonlocal_bind", "port", "statistics",
    "stats_name_separator", "maxbuffer", "maxsndbuffer", "sql_buffer_size", "msg_clone_extra_size",
    "msg_apply_changes_mode", "msg_recv_max_size", "tcp_msg_read_timeout", "tcp_msg_data_timeout",
    "tcp_accept_iplimit", "tcp_main_threads", "tcp_check_timer", "children", "socket", "bind",
    "workers", "socket_workers", "async_workers", "async_usleep", "async_nonblock",
    "async_workers_group", "async_tkv_gname", "async_tkv_evcb", "check_via", "phone2tel", "memlog",
    "mem_log", "memdbg", "mem_dbg", "mem_summary", "mem_safety", "mem_add_size", "mem_join",
    "mem_status_mode", "corelog", "core_log", "coreparam", "sip_parser_log_oneline", "sip_parser_log",
    "sip_parser_mode", "sip_warning", "server_signature", "server_header", "user_agent_header",
    "reply_to_via", "user", "uid", "group", "gid", "chroot", "workdir", "wdir", "rundir", "run_dir",
    "mhomed", "disable_tcp", "tcp_children", "tcp_accept_aliases", "tcp_accept_unique",
    "tcp_send_timeout", "tcp_connect_timeout", "tcp_connection_lifetime", "tcp_connection_match",
    "tcp_poll_method", "tcp_max_connections", "tls_max_connections", "tcp_no_connect",
    "tcp_source_ipv4", "tcp_source_ipv6", "tcp_fd_cache", "tcp_buf_write", "tcp_async",
    "tcp_conn_wq_max", "tcp_wq_max", "tcp_rd_buf_size", "tcp_wq_blk_size", "tcp_defer_accept",
    "tcp_delayed_ack", "tcp_syncnt", "tcp_linger2", "tcp_keepalive", "tcp_keepidle", "tcp_keepintvl",
    "tcp_keepcnt", "tcp_crlf_ping", "tcp_listen_backlog", "tcp_accept_no_cl", "tcp_accept_hep3",
    "tcp_accept_haproxy", "tcp_accept_protocols", "tcp_accept_protos", "tcp_close_rst",
    "tcp_clone_rcvbuf", "tcp_reuse_port", "tcp_wait_data", "tcp_script_mode",
    "tls_connection_match_domain", "disable_tls", "tls_disable", "enable_tls", "tls_enable",
    "tls_threads_mode", "tlslog", "tls_log", "tls_port_no", "tls_method", "tls_verify",
    "tls_require_certificate", "tls_certificate", "tls_private_key", "tls_ca_list",
    "tls_handshake_timeout", "tls_send_timeout", "disable_sctp", "enable_sctp", "sctp_children",
    "advertised_address", "advertised_port", "disable_core_dump", "open_files_limit", "shm", "shm_mem",
    "shm_mem_size", "shm_force_alloc", "mlock_pages", "real_time", "rt_prio", "rt_policy",
    "rt_timer1_prio", "rt_fast_timer_prio", "rt_ftimer_prio", "rt_timer1_policy", "rt_ftimer_policy",
    "rt_timer2_prio", "rt_stimer_prio", "rt_timer2_policy", "rt_stimer_policy", "mcast_loopback",
    "mcast_ttl", "mcast", "tos", "pmtu_discovery", "exit_timeout", "ser_kill_timeout",
    "max_while_loops", "pv_buffer_size", "pv_buffer_slots", "pv_cache_limit", "pv_cache_action",
    "http_reply_hack", "http_reply_parse", "version_table", "verbose_startup", "server_id",
    "route_locks_size", "wait_worker1_mode", "wait_worker1_time", "wait_worker1_usleep", "kemi",
    "request_route_callback", "onsend_route_callback", "reply_route_callback", "event_route_callback",
    "received_route_callback", "received_route_mode", "pre_routing_callback", "max_recursive_level",
    "max_branches", "latency_cfg_log", "latency_log", "latency_limit_db", "latency_limit_action",
    "latency_limit_cfg", "rpc_exec_delta", "rpc_exec_locks", "rpc_exec_locks_mode",
    "uri_host_extra_chars", "hdr_name_extra_chars", "msg_time", "onsend_route_reply", "force_rport",
    "add_rport", "local_rport", "udp_mtu", "udp_mtu_try_proto", "udp4_raw", "udp4_raw_mtu", "udp4_raw_ttl",
})

# Parameters whose value is one or more socket addresses (`[proto:]host[:port]`).
LISTEN_PARAMS = frozenset({"listen", "socket", "bind", "alias", "advertised_address"})

# Keywords that stand for a value of the message being processed.
KEYWORDS = frozenset({
    "method", "uri", "from_uri", "to_uri", "src_ip", "src_port", "dst_ip", "dst_port", "snd_ip",
    "snd_port", "to_ip", "to_port", "snd_proto", "snd_af", "proto", "af", "myself", "status",
    "msg:len", "retcode", "rc", "max_len", "uri:host", "uri:port",
})

_E = ArgKind.EXPR
_ANY = RouteType.ANY


def _core(name: str, *args: str, min_args: int | None = None, routes: RouteType = _ANY,
          doc: str = "") -> Function:
    return Function(name, args=tuple(Arg(a, _E) for a in args), min_args=min_args, routes=routes, doc=doc)


def _aliases(names: tuple[str, ...], *args: str, **kw) -> tuple[Function, ...]:
    return tuple(_core(n, *args, **kw) for n in names)


_REQ_FAIL_BRANCH = RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH
# their first argument names an AVP: `$name` (cfg.y's AVP_OR_PVAR) or a string, never a pseudo-variable
AVP_FLAG_FUNCTIONS = ("setavpflag", "resetavpflag", "isavpflagset")

CORE_EXPORTS = Exports(
    name="core",
    doc="Kamailio's core actions",
    functions=(
        _core("log", "level", "message", min_args=1, doc="log a message (at a level)"),
        _core("error", "class", "message", doc="log an error"),
        *_aliases(("forward", "forward_udp", "forward_tcp", "forward_tls", "forward_sctp"),
                  "host", "port", min_args=0, doc="stateless forwarding"),
        _core("exec", "command"),
        *_aliases(("force_rport", "add_rport"), routes=RouteType.REQUEST | RouteType.ONREPLY),
        _core("add_local_rport", routes=RouteType.REQUEST | RouteType.ONREPLY),
        *_aliases(("force_tcp_alias", "add_tcp_alias"), "port", min_args=0),
        _core("udp_mtu_try_proto", "proto"),
        _core("setflag", "flag"),
        _core("resetflag", "flag"),
        _core("isflagset", "flag"),
        *(_core(n, "avp", "flag") for n in AVP_FLAG_FUNCTIONS),
        *_aliases(("rewritehost", "sethost", "seth"), "host", routes=_REQ_FAIL_BRANCH),
        *_aliases(("rewritehostport", "sethostport", "sethp"), "hostport", routes=_REQ_FAIL_BRANCH),
        *_aliases(("rewritehostporttrans", "sethostporttrans", "sethpt"), "hostport",
                  routes=_REQ_FAIL_BRANCH),
        *_aliases(("rewriteuser", "setuser", "setu"), "user", routes=_REQ_FAIL_BRANCH),
        *_aliases(("rewriteuserpass", "setuserpass", "setup"), "userpass", routes=_REQ_FAIL_BRANCH),
        *_aliases(("rewriteport", "setport", "setp"), "port", routes=_REQ_FAIL_BRANCH),
        *_aliases(("rewriteuri", "seturi"), "uri", routes=_REQ_FAIL_BRANCH),
        _core("revert_uri", routes=_REQ_FAIL_BRANCH),
        _core("prefix", "prefix", routes=_REQ_FAIL_BRANCH),
        _core("strip", "count", routes=_REQ_FAIL_BRANCH),
        _core("strip_tail", "count", routes=_REQ_FAIL_BRANCH),
        _core("userphone", routes=_REQ_FAIL_BRANCH),
        _core("remove_branch", "index", min_args=0),
        _core("clear_branches"),
        _core("set_advertised_address", "address"),
        _core("set_advertised_port", "port"),
        _core("force_send_socket", "socket"),
        _core("set_forward_no_connect"),
        _core("set_reply_no_connect"),
        _core("set_forward_close"),
        _core("set_reply_close"),
        _core("cfg_select", "group", "id"),
        _core("cfg_reset", "group"),
    ),
)
