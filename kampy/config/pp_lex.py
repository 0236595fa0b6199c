"""The lexical pieces of the config preprocessor: the words Kamailio's lexer returns as keywords
(never substituted by a define), the patterns the scan matches, and the names of the directives."""

from __future__ import annotations

import re

# Words the lexer returns as keywords: a define with one of these names is never substituted.
KEYWORDS = frozenset(
    """
    ADVERTISE INET INET6 IPV4 IPV6 IPv4 IPv6 NAME SCTP SSLV2 SSLV23 SSLV3 SSLv2 SSLv23 SSLv3 TCP TLS
    TLSV1 TLSv1 UDP WS WSS add_local_rport add_rport add_tcp_alias advertise advertised_address
    advertised_port af alias and async_nonblock async_usleep async_workers async_workers_group
    auto_aliases auto_bind_ipv6 avpflags bind_ipv6_link_local bool branch_route break case cfg_reset
    cfg_select cfgengine check_via children chroot clear_branches core_log corelog debug default
    defined desc descr description disable disable_core_dump disable_sctp disable_tcp disable_tls
    dns dns_cache_del_nonexp dns_cache_delete_nonexpired dns_cache_flags dns_cache_gc_interval
    dns_cache_init dns_cache_max_ttl dns_cache_mem dns_cache_min_ttl dns_cache_negative_ttl
    dns_cache_rec_pref dns_naptr_ignore_rfc dns_retr_no dns_retr_time dns_sctp_pref
    dns_sctp_preference dns_search_full_match dns_servers_no dns_slow_query_ms dns_srv_lb
    dns_srv_loadbalancing dns_tcp_pref dns_tcp_preference dns_tls_pref dns_tls_preference
    dns_try_ipv6 dns_try_naptr dns_udp_pref dns_udp_preference dns_use_search_list drop
    dst_blocklist_expire dst_blocklist_gc_interval dst_blocklist_init dst_blocklist_mem
    dst_blocklist_sctp_imask dst_blocklist_tcp_imask dst_blocklist_tls_imask dst_blocklist_ttl
    dst_blocklist_udp_imask dst_ip dst_port else enable enable_sctp enable_tls eq error event_route
    event_route_callback exec exit exit_timeout failure_route false flags force_rport
    force_send_socket force_tcp_alias fork fork_delay forward forward_sctp forward_tcp forward_tls
    forward_udp from_uri gid group hdr_name_extra_chars http_reply_hack http_reply_parse ieq if
    import_file include_file ine inet inet6 ip_free_bind ip_nonlocal_bind ipfreebind ipv4 ipv6
    ipv6_hex_style isavpflagset isflagset kemi latency_cfg_log latency_limit_action
    latency_limit_cfg latency_limit_db latency_log listen loadmodule loadmodulex loadpath
    local_rport log log_color log_engine_data log_engine_type log_facility log_name log_prefix
    log_prefix_mode log_stderror max_branches max_len max_recursive_level max_while_loops maxbuffer
    mcast mcast_loopback mcast_ttl mem_dbg mem_join mem_log mem_safety mem_status_mode mem_summary
    memdbg memlog method mhomed mlock_pages mod modinit_delay modparam modparamx mpath msg_time
    myself name ne no not off on onreply_route onsend_route onsend_route_callback onsend_route_reply
    open_files_limit or phone2tel pmtu_discovery port pre_routing_callback prefix proto
    pv_buffer_size pv_buffer_slots pv_cache_action pv_cache_limit real_time received_route_callback
    received_route_mode remove_branch reply_route reply_route_callback reply_to_via request_route
    resetavpflag resetflag return rev_dns revert_uri rewritehost rewritehostport
    rewritehostporttrans rewriteport rewriteuri rewriteuser rewriteuserpass route route_locks_size
    rt_fast_timer_prio rt_ftimer_policy rt_ftimer_prio rt_policy rt_prio rt_stimer_policy
    rt_stimer_prio rt_timer1_policy rt_timer1_prio rt_timer2_policy rt_timer2_prio run_dir rundir
    sctp sctp_children selval ser_kill_timeout server_header server_id server_signature
    set_advertised_address set_advertised_port set_forward_close set_forward_no_connect
    set_reply_close set_reply_no_connect setavpflag setflag seth sethost sethostport
    sethostporttrans sethp sethpt setp setport setu setup seturi setuser setuserpass shm
    shm_force_alloc shm_mem shm_mem_size sip_parser_log sip_parser_log_oneline sip_parser_mode
    sip_warning snd_af snd_ip snd_port snd_proto socket_workers sql_buffer_size src_ip src_port
    sslv2 sslv23 sslv3 statistics stats_name_separator status strempty strip strip_tail strlen
    switch tcp tcp_accept_aliases tcp_accept_haproxy tcp_accept_hep3 tcp_accept_no_cl
    tcp_accept_unique tcp_async tcp_buf_write tcp_children tcp_clone_rcvbuf tcp_conn_wq_max
    tcp_connect_timeout tcp_connection_lifetime tcp_connection_match tcp_crlf_ping tcp_defer_accept
    tcp_delayed_ack tcp_fd_cache tcp_keepalive tcp_keepcnt tcp_keepidle tcp_keepintvl tcp_linger2
    tcp_max_connections tcp_no_connect tcp_poll_method tcp_rd_buf_size tcp_reuse_port
    tcp_script_mode tcp_send_timeout tcp_source_ipv4 tcp_source_ipv6 tcp_syncnt tcp_wait_data
    tcp_wq_blk_size tcp_wq_max tls tls_ca_list tls_certificate tls_disable tls_enable
    tls_handshake_timeout tls_log tls_max_connections tls_method tls_port_no tls_private_key
    tls_require_certificate tls_send_timeout tls_verify tlslog tlsv1 to_af to_ip to_port to_proto
    to_uri tos true udp udp4_raw udp4_raw_mtu udp4_raw_ttl udp_mtu udp_mtu_try_proto uid uri
    uri_host_extra_chars use_dns_cache use_dns_failover use_dst_blocklist user user_agent_header
    userphone verbose_startup version_table virtual wait_worker1_mode wait_worker1_time
    wait_worker1_usleep wdir while workdir ws wss xavp_via_fields xavp_via_params yes
    """.split()
)



WS = " \t\b\r"  # Kamailio's EAT_ABLE
ACTIVE = re.compile(
    r"""(?P<dq>")|(?P<sq>')|(?P<block>/\*)|(?P<hash>\#|//)|(?P<bang>!!)|(?P<pv>\$)|(?P<sel>@)
    |(?P<v6>::[0-9A-Fa-f])|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[0-9][A-Za-z0-9_]*)""",
    re.X,
)
SKIP = re.compile(
    r"(?:\#!|!!)(?:(?P<open>ifdef|ifndef|ifexp)[ \t\b\r]|(?P<close>else|endif)[ \t\b\r]*(?=\n)"
    r"|(?P<ignored>else|endif)(?![A-Za-z0-9_]))"
)
DIRECTIVE = re.compile(r"(?:\#!|!!)([A-Za-z0-9_]*)")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DQ_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
SQ_STRING = re.compile(r"'[^']*'")
COMMENT_EDGE = re.compile(r"/\*|\*/")
PV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SELECT = re.compile(r"[A-Za-z0-9_.\[\]]*")
HEX4 = r"[0-9A-Fa-f]{1,4}"
IPV6 = re.compile(
    rf"(?:{HEX4}:){{7}}{HEX4}|(?:{HEX4}:){{1,7}}(?::{HEX4}){{1,7}}|:(?::{HEX4}){{1,7}}"
    rf"|(?:{HEX4}:){{1,7}}:|::"
)
EVENT_ROUTE_NAME = re.compile(r"\s*\[[^\]\n]*\]")
LOADMODULE_ARG = re.compile(r"""[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)')""")
STRING_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{2,3}|[nrat\"\\]|\n)")
ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\", "\n": ""}

DEFINE_KINDS = {
    "define": "define", "def": "define", "trydefine": "trydef", "trydef": "trydef",
    "redefine": "redefine", "redef": "redefine", "defexp": "defexp", "defexps": "defexps",
}  # fmt: skip
UNDEF_KINDS = {"undefine": "undef", "undef": "undef", "tryundefine": "tryundef", "tryundef": "tryundef"}
# directives kampy takes from Kamailio 5.7+, which 5.6 reads as comments
LATER_DIRECTIVES = {"defexp", "defexps", "undef", "undefine", "tryundef", "tryundefine", "ifexp"}
ENV_KINDS = {"defenv", "defenvs", "trydefenv", "trydefenvs"}
SUBST_KINDS = {"subst", "substdef", "substdefs"}
COMPAT_HEADERS = {"KAMAILIO", "OPENSER", "SER", "MAXCOMPAT", "ALL"}

