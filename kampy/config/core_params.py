"""The type of every core parameter's value, as Kamailio 5.6.3's grammar takes it (src/core/cfg.y,
`assign_stm`), and the message Kamailio gives when a value does not fit.

Kamailio's lexer reads `yes/true/on/enable` as the number 1, `no/false/off/disable` as 0, and
`inet`/`ipv4`, `inet6`/`ipv6` as the address families 2 and 10, so a number parameter takes those
words too. A NUMBER is never negative (`-1` is two tokens); `intno` parameters allow the minus.
A port above 65535 is accepted and used modulo 65536 (Kamailio stores it in 16 bits).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kampy.config import ast

NUMBER_WORDS = {**{w: 1 for w in ("yes", "true", "on", "enable")},
                **{w: 0 for w in ("no", "false", "off", "disable")},
                **{w: 2 for w in ("inet", "INET", "ipv4", "IPv4", "IPV4")},
                **{w: 10 for w in ("inet6", "INET6", "ipv6", "IPv6", "IPV6")}}
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}\Z")
_IPV6 = re.compile(r"\[?[0-9A-Fa-f]*(?::[0-9A-Fa-f]*){2,7}\]?\Z")


@dataclass(frozen=True)
class Kind:
    """What a parameter takes: `number` (NUMBER), `intno` (NUMBER or -NUMBER), `string` (a quoted
    string), `word` (an ID), `word_or_string`, `number_or_word`, `ipv4`, `ipv6`, `proto`,
    `tls_method`, `address` (listen, alias, advertised_address: checked by the grammar)."""

    name: str
    expected: str  # Kamailio's words when the value does not fit


def _kinds(kind: str, expected: str, names: str) -> dict[str, Kind]:
    return {name: Kind(kind, expected) for name in names.split()}


BOOLEAN = "boolean value expected"
NUMBER = "number expected"
STRING = "string value expected"

# Generated from cfg.y's assign_stm and cfg.lex's names (5.6.3), grouped by type and message.
PARAM_KINDS: dict[str, Kind] = {
    **_kinds("number", BOOLEAN, """
        add_rport auto_aliases auto_bind_ipv6 bind_ipv6_link_local check_via disable_core_dump
        disable_sctp disable_tcp disable_tls dns dns_cache_del_nonexp dns_cache_delete_nonexpired
        dns_cache_flags dns_cache_gc_interval dns_cache_init dns_cache_max_ttl dns_cache_mem
        dns_cache_min_ttl dns_cache_negative_ttl dns_cache_rec_pref dns_naptr_ignore_rfc
        dns_search_full_match dns_srv_lb dns_srv_loadbalancing dns_try_ipv6 dns_try_naptr
        dns_use_search_list dst_blocklist_expire dst_blocklist_gc_interval dst_blocklist_init
        dst_blocklist_mem dst_blocklist_ttl enable_tls force_rport fork http_reply_hack
        http_reply_parse local_rport log_color log_stderror mcast_loopback mhomed mlock_pages phone2tel
        real_time reply_to_via rev_dns rt_fast_timer_prio rt_ftimer_policy rt_ftimer_prio rt_policy
        rt_prio rt_stimer_policy rt_stimer_prio rt_timer1_policy rt_timer1_prio rt_timer2_policy
        rt_timer2_prio server_signature shm_force_alloc sip_warning tcp_accept_aliases
        tcp_accept_haproxy tcp_accept_hep3 tcp_accept_no_cl tcp_async tcp_buf_write tcp_conn_wq_max
        tcp_crlf_ping tcp_defer_accept tcp_delayed_ack tcp_fd_cache tcp_keepalive tcp_no_connect
        tcp_reuse_port tls_disable tls_enable tls_require_certificate tls_verify use_dns_cache
        use_dns_failover use_dst_blocklist verbose_startup"""),
    **_kinds("number", NUMBER, """
        async_nonblock async_usleep async_workers children dns_retr_no dns_retr_time dns_servers_no
        dns_slow_query_ms exit_timeout fork_delay log_prefix_mode max_while_loops maxbuffer mcast_ttl
        modinit_delay open_files_limit pmtu_discovery port pv_buffer_size pv_buffer_slots
        pv_cache_action pv_cache_limit route_locks_size sctp_children ser_kill_timeout server_id shm
        shm_mem shm_mem_size socket_workers sql_buffer_size tcp_accept_unique tcp_children
        tcp_clone_rcvbuf tcp_connection_match tcp_keepcnt tcp_keepidle tcp_keepintvl tcp_linger2
        tcp_max_connections tcp_rd_buf_size tcp_syncnt tcp_wq_blk_size tcp_wq_max
        tls_handshake_timeout tls_log tls_max_connections tls_port_no tls_send_timeout tlslog
        udp4_raw_mtu udp4_raw_ttl udp_mtu wait_worker1_mode wait_worker1_time wait_worker1_usleep
        latency_limit_action latency_limit_cfg latency_limit_db msg_time max_branches
        max_recursive_level"""),
    **_kinds("number", "boolean or number expected", "enable_sctp"),
    **_kinds("number", "int value expected", "onsend_route_reply"),
    **_kinds("number", "number expected (a port)", "advertised_port"),
    **_kinds("number", "number(flags) expected", """
        dst_blocklist_sctp_imask dst_blocklist_tcp_imask dst_blocklist_tls_imask dst_blocklist_udp_imask"""),
    **_kinds("intno", "int value expected", """
        core_log corelog ip_free_bind ip_nonlocal_bind ipfreebind mem_dbg mem_join mem_log mem_safety
        mem_status_mode mem_summary memdbg memlog sip_parser_log sip_parser_log_oneline sip_parser_mode"""),
    **_kinds("intno", NUMBER, """
        debug latency_cfg_log latency_log received_route_mode dns_sctp_pref dns_sctp_preference
        dns_tcp_pref dns_tcp_preference dns_tls_pref dns_tls_preference dns_udp_pref dns_udp_preference
        tcp_connect_timeout tcp_connection_lifetime tcp_script_mode tcp_send_timeout tcp_wait_data
        udp4_raw"""),
    **_kinds("string", STRING, """
        hdr_name_extra_chars ipv6_hex_style log_engine_data log_engine_type log_name log_prefix
        server_header stats_name_separator tls_ca_list tls_certificate tls_private_key
        uri_host_extra_chars user_agent_header version_table xavp_via_fields xavp_via_params"""),
    **_kinds("string", "string expected", "async_workers_group"),
    **_kinds("word_or_string", STRING, "chroot gid group run_dir rundir uid user wdir workdir"),
    **_kinds("word_or_string", "string expected", "mcast"),
    **_kinds("word_or_string", "poll method name expected", "tcp_poll_method"),
    **_kinds("word", "ID expected", "log_facility"),
    **_kinds("number_or_word", NUMBER, "tos"),
    **_kinds("ipv4", "IPv4 address expected", "tcp_source_ipv4"),
    **_kinds("ipv6", "IPv6 address expected", "tcp_source_ipv6"),
    **_kinds("proto", "udp, tcp, tls, sctp or * expected", "udp_mtu_try_proto"),
    **_kinds("tls_method", "SSLv23, SSLv2, SSLv3 or TLSv1 expected", "tls_method"),
    **_kinds("address", "ip address or hostname expected", "listen alias advertised_address"),
}

# Kamailio's str2facility(): the syslog facilities, any case.
FACILITIES = frozenset(f"LOG_{n}" for n in (
    "AUTH CRON DAEMON KERN LOCAL0 LOCAL1 LOCAL2 LOCAL3 LOCAL4 LOCAL5 LOCAL6 LOCAL7 LPR MAIL NEWS USER UUCP "
    "AUTHPRIV FTP SYSLOG").split())
_PROTOS = frozenset({"udp", "tcp", "tls", "sctp", "*"})
_TLS_METHODS = frozenset({"sslv23", "sslv2", "sslv3", "tlsv1"})
_PORTS = frozenset({"port", "advertised_port"})


@dataclass
class Checked:
    value: ast.Node | tuple  # the value to keep (number words become Ints, ports wrapped)
    error: str | None = None
    warning: str | None = None


def check(name: str, value: ast.Node | tuple) -> Checked:
    """Check `name = value` against Kamailio's grammar; parameters kampy knows from later
    Kamailio versions (see core.CORE_PARAMS) are not typed here."""
    kind = PARAM_KINDS.get(name)
    if kind is None:
        return Checked(value)
    if kind.name == "address":
        return _wrap_listen_ports(value)
    fits, value = _fits(kind.name, value)
    if isinstance(value, ast.Int) and not -(2**31) <= value.value < 2**31:
        return Checked(value, error=f"{name}: {value.value} does not fit in a C int, where Kamailio "
                                    "keeps it (it would read a wrong number)")
    if not fits:
        return Checked(value, error=f"{name}: {kind.expected}, not {_shown(value)}")
    if name == "log_facility" and isinstance(value, ast.Ident) and value.name.upper() not in FACILITIES:
        known = ", ".join(sorted(FACILITIES))
        return Checked(value, error=f"log_facility: bad facility {value.name} (syslog(3)): one of {known}")
    if name in _PORTS and isinstance(value, ast.Int) and value.value > 0xFFFF:
        return Checked(replace(value, value=value.value & 0xFFFF), warning=_port_warning(value.value))
    return Checked(value)


def _fits(kind: str, value: ast.Node | tuple) -> tuple[bool, ast.Node | tuple]:
    word = value.name if isinstance(value, ast.Ident) and _ID.match(value.name) else None
    if kind in ("number", "intno", "number_or_word") and word in NUMBER_WORDS:
        assert isinstance(value, ast.Ident)
        return True, ast.Int(NUMBER_WORDS[word], pos=value.pos)
    if isinstance(value, ast.Int):
        return kind == "intno" or (kind in ("number", "number_or_word") and value.value >= 0), value
    if isinstance(value, ast.Str):
        return kind in ("string", "word_or_string"), value
    if not isinstance(value, ast.Ident):
        return False, value
    if kind in ("word", "word_or_string", "number_or_word"):
        return word is not None, value
    if kind == "ipv4":
        return bool(_IPV4.match(value.name)), value
    if kind == "ipv6":
        return bool(_IPV6.match(value.name)), value
    if kind == "proto":
        return value.name.lower() in _PROTOS, value
    if kind == "tls_method":
        return value.name.lower() in _TLS_METHODS, value
    return False, value


def _shown(value: ast.Node | tuple) -> str:
    if isinstance(value, ast.Int):
        return str(value.value)
    if isinstance(value, ast.Str):
        return f'"{value.value}"'
    if isinstance(value, ast.Ident):
        return value.name
    return "this value"


def _port_warning(port: int) -> str:
    return (f"port {port} is above 65535: Kamailio uses it modulo 65536, {port & 0xFFFF}, and so does kampy")


def _wrap_listen_ports(value: ast.Node | tuple) -> Checked:
    values = value if isinstance(value, tuple) else (value,)
    wrapped, warnings = [], []
    for v in values:
        if isinstance(v, ast.ListenValue) and v.port is not None and v.port > 0xFFFF:
            warnings.append(_port_warning(v.port))
            v = replace(v, port=v.port & 0xFFFF)
        wrapped.append(v)
    kept = tuple(wrapped) if isinstance(value, tuple) else wrapped[0]
    return Checked(kept, warning="; ".join(warnings) or None)
