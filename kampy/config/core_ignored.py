"""The core parameters kampy accepts (a Kamailio config keeps working) but that change nothing here,
each with its Kamailio default and the reason it changes nothing.

Every name of core.CORE_PARAMS is either read by kampy's code or listed here
(tests/test_core_params_audit.py derives "read" from the code and fails otherwise). `kampy check`
warns, and `kampy run` logs once, when a config sets one of these to a value other than its default.
docs/core-parameters.md is generated from this table (`python -m kampy.config.core_ignored`).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from kampy.config.core_params import NUMBER_WORDS


@dataclass(frozen=True)
class Ignored:
    default: int | str | None  # Kamailio 5.6's default; None: any value set is a change
    reason: str


MEMORY = "memory-manager tuning of Kamailio's own allocator: kampy's memory is Python's"
PKG_BUFFERS = "sizes a fixed buffer of Kamailio's C code: kampy's buffers grow as needed"
DNS_CACHE = "kampy's DNS cache (in the shared store) is always set up: use_dns_cache switches its use"
DNS_CACHE_TUNING = ("kampy's DNS cache has no size limit of its own; it skips expired records when read "
                    "and removes them when it stores an answer 60 s or more after the last removal")
DNS_RESOLVER = ("kampy's resolver (dnspython) uses /etc/resolv.conf's servers as they are and looks up "
                "names as absolute ones (no search list)")
SCTP = "SCTP: kampy has no SCTP transport"
REALTIME = "real-time scheduling of Kamailio's timer processes: kampy's timers run in its workers"
PROCESS = "tunes how Kamailio starts or runs its processes: kampy's process model is its own"
KEMI = "KEMI (Lua, Python, JavaScript routing scripts): kampy runs only the native config language"
TCP_SOCKET = "a TCP socket option or tuning of Kamailio's TCP main process that kampy does not set"
TCP_PROXY = "kampy's TCP layer does not read this header or protocol on a TCP connection"
TLS_OLD = ("the old TLS core settings of Kamailio before the tls module: 5.6 ignores them too "
           "(the tls module's parameters are used)")
LOGGING = "kampy logs every message of the core at its own level; this log level setting is not used"
LATENCY = "kampy does not measure the latency of each config action or DB query (only of the routing)"
PARSER = "kampy's SIP parser has one mode: this setting does not change it"
RPC_LOCKS = "kampy runs RPC commands one at a time in the main process: no locks to tune"
MULTICAST = "kampy does not join multicast groups (no multicast sockets)"
UDP_RAW = "kampy sends UDP through ordinary sockets: no raw sockets"
NET_SOCKET = "a socket option kampy does not set on its sockets"
MSG_LIMITS = "kampy has no such limit (it is not a C array here)"
ALIAS_CHARS = "kampy's SIP parser accepts the characters its grammar allows; this list is not used"
NOT_YET = "not implemented in kampy yet"


def _all(default: int | str | None, reason: str, names: str) -> dict[str, Ignored]:
    return {name: Ignored(default, reason) for name in names.split()}


IGNORED: dict[str, Ignored] = {
    **_all(1, MEMORY, "mem_join mem_safety"),
    **_all(0, MEMORY, "mem_status_mode mem_add_size shm_force_alloc mlock_pages msg_clone_extra_size"),
    **_all(4, MEMORY, "memdbg mem_dbg"),
    **_all(8192, PKG_BUFFERS, "pv_buffer_size"),
    **_all(10, PKG_BUFFERS, "pv_buffer_slots"),
    **_all(65535, PKG_BUFFERS, "sql_buffer_size"),
    **_all(2048, "Kamailio's cache of parsed pseudo-variable names: kampy has none", "pv_cache_limit"),
    **_all(0, "Kamailio's cache of parsed pseudo-variable names: kampy has none", "pv_cache_action"),
    **_all(1, DNS_CACHE, "dns_cache_init"),
    **_all(1, "not a name Kamailio 5.6's config parser knows (its DNS cache switch is use_dns_cache)",
           "dns_use_cache"),
    **_all(0, "not a name Kamailio 5.6's config parser knows (its DNS failover switch is use_dns_failover)",
           "dns_use_failover"),
    **_all(0, DNS_CACHE_TUNING, "dns_cache_del_nonexp dns_cache_delete_nonexpired dns_cache_rec_pref"),
    **_all(120, DNS_CACHE_TUNING, "dns_cache_gc_interval"),
    **_all(500, DNS_CACHE_TUNING, "dns_cache_mem"),
    **_all(-1, DNS_RESOLVER, "dns_servers_no"),
    **_all(1, DNS_RESOLVER, "dns_use_search_list dns_search_full_match"),
    **_all(0, "kampy does not resolve the host of a Via's sent-by", "dns_rev_via"),
    **_all(60, "kampy removes expired blocklist entries when it needs room or looks one up, not on a timer",
           "dst_blocklist_gc_interval"),
    **_all(1, SCTP, "disable_sctp"),
    **_all(0, SCTP, "enable_sctp"),
    **_all(0, SCTP, "sctp_children"),
    **_all(0, REALTIME, "real_time rt_prio rt_policy rt_timer1_prio rt_fast_timer_prio "
           "rt_ftimer_prio rt_timer1_policy rt_ftimer_policy rt_timer2_prio rt_stimer_prio "
           "rt_timer2_policy rt_stimer_policy"),
    **_all(0, PROCESS, "fork_delay modinit_delay wait_worker1_mode async_nonblock"),
    **_all(None, PROCESS, "async_tkv_gname async_tkv_evcb wait_worker1_time wait_worker1_usleep "
           "async_usleep"),
    **_all(0, "kampy starts one set of workers for all its sockets (no workers per socket)",
           "socket_workers workers"),
    **_all(None, KEMI, "kemi request_route_callback onsend_route_callback reply_route_callback "
           "event_route_callback received_route_callback pre_routing_callback"),
    **_all(0, "kampy does not run event_route[core:msg-received]", "received_route_mode"),
    **_all(0, "kampy does not run onsend_route (see its warning)", "onsend_route_reply"),
    **_all(0, TCP_SOCKET, "tcp_syncnt "
           "tcp_reuse_port tcp_clone_rcvbuf tcp_close_rst tcp_accept_unique tcp_connection_match "
           "tcp_accept_iplimit tcp_main_threads tcp_script_mode"),
    **_all(0, "kampy keeps no TCP aliases from a Via's `alias` parameter",
           "tcp_accept_aliases"),
    **_all(1, TCP_SOCKET, "tcp_delayed_ack tcp_fd_cache tcp_async tcp_buf_write"),
    **_all(10, "kampy gives a peer that does not read no send timeout (it closes the connection when "
           "tcp_conn_wq_max bytes are queued for it)", "tcp_send_timeout"),
    **_all(None, TCP_SOCKET, "tcp_check_timer"),
    **_all(10 * 1024 * 1024, TCP_SOCKET, "tcp_wq_max"),
    **_all(16384, TCP_SOCKET, "tcp_rd_buf_size"),
    **_all(2100, TCP_SOCKET, "tcp_wq_blk_size"),
    **_all(5000, TCP_SOCKET, "tcp_wait_data"),
    **_all(None, TCP_SOCKET, "tcp_msg_data_timeout"),
    **_all(None, "kampy binds its TCP connections to the listening socket's address",
           "tcp_source_ipv4 tcp_source_ipv6"),
    **_all(0, TCP_PROXY, "tcp_accept_haproxy tcp_accept_hep3"),
    **_all(None, TCP_PROXY, "tcp_accept_protocols tcp_accept_protos"),
    **_all(None, TLS_OLD, "tls_method tls_certificate tls_private_key tls_ca_list"),
    **_all(0, TLS_OLD, "tls_verify tls_require_certificate tlslog tls_log"),
    **_all(-1, TLS_OLD, "tls_send_timeout"),
    **_all(0, NOT_YET, "tls_connection_match_domain"),
    **_all(0, "kampy's TLS engine (Python's ssl) needs no thread mode", "tls_threads_mode"),
    **_all(-1, LOGGING, "corelog core_log sip_parser_log latency_log"),
    **_all(0, LOGGING, "sip_parser_log_oneline log_prefix_mode"),
    **_all(0, LATENCY, "latency_limit_db latency_limit_action"),
    **_all(1, PARSER, "sip_parser_mode"),
    **_all(None, ALIAS_CHARS, "uri_host_extra_chars hdr_name_extra_chars"),
    **_all(0, RPC_LOCKS, "rpc_exec_delta rpc_exec_locks rpc_exec_locks_mode"),
    **_all(None, MULTICAST, "mcast"),
    **_all(0, MULTICAST, "mcast_loopback"),
    **_all(-1, MULTICAST, "mcast_ttl"),
    **_all(0, UDP_RAW, "udp4_raw"),
    **_all(1500, UDP_RAW, "udp4_raw_mtu"),
    **_all(-1, UDP_RAW, "udp4_raw_ttl"),
    **_all(0, NET_SOCKET, "maxsndbuffer bind_ipv6_link_local"),
    **_all(12, MSG_LIMITS, "max_branches"),
    **_all(256, MSG_LIMITS, "max_recursive_level"),
    **_all(None, MSG_LIMITS, "msg_recv_max_size"),
    **_all("version", "kampy's DB modules check their tables' versions in the table named `version`",
           "version_table"),
    **_all(0, "locks that serialise the routing of messages of one Call-ID: kampy takes none",
           "route_locks_size"),
    **_all(None, "kampy prints IPv6 addresses as Python does (lower-case hex)", "ipv6_hex_style"),
    **_all(1, "kampy always stores the time a message was received", "msg_time"),
    **_all(0, NOT_YET, "http_reply_parse http_reply_hack"),
    **_all(0, "kampy logs its start the same way at every setting", "verbose_startup"),
    **_all(None, NOT_YET, "xavp_via_reply_params auto_domains statistics coreparam msg_apply_changes_mode"),
    **_all(None, NOT_YET, "bind domain"),
}


def reason(name: str) -> str | None:
    """Why kampy ignores the core parameter `name`, None when kampy reads it."""
    entry = IGNORED.get(name)
    return entry.reason if entry is not None else None


def is_default(name: str, value: Any) -> bool:
    """Whether `value` (a core parameter's plain value: a number or a string) is Kamailio's default for
    the ignored parameter `name`: setting it to its default changes nothing anywhere."""
    default = IGNORED[name].default
    if default is None:
        return False
    if isinstance(value, str) and value in NUMBER_WORDS:
        value = NUMBER_WORDS[value]
    if isinstance(default, int) and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return False
    return value == default


def ignored_warning(name: str) -> str:
    return f"core parameter '{name}' is ignored by kampy: {IGNORED[name].reason}"


def markdown() -> str:
    """docs/core-parameters.md's table: the ignored core parameters grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for name, entry in sorted(IGNORED.items()):
        by_reason.setdefault(entry.reason, []).append(name)
    rows = [f"| {', '.join(f'`{n}`' for n in names)} | {why} |" for why, names in by_reason.items()]
    return "\n".join(["| parameters | why kampy ignores them |", "|---|---|", *rows]) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
