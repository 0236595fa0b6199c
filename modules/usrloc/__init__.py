"""User location table (the contacts saved by registrar), in memory and in the DB."""

from __future__ import annotations

from typing import Any

from kampy.api import Exports, Offer, Param, Process, RpcMethod, Stat, Timer, Unimplemented, UsrlocAPI

from .ucontact import UContact
from .usrloc import URecord, UsrlocModule

__all__ = ["EXPORTS", "UContact", "URecord", "UsrlocModule"]


# What Kamailio 5.6's usrloc module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
def timer_processes(params: dict[str, Any]) -> tuple[Process, ...]:
    """With timer_procs, the processes running the timer (Kamailio's fork_sync_timer)."""
    interval = max(1, int(params["timer_interval"]))
    return tuple(Process("USRLOC Timer", "timer_part", interval, (i,))
                 for i in range(max(0, int(params["timer_procs"]))))


NOT_IMPLEMENTED = (
    Unimplemented("param", "db_raw_fetch_type", "Kamailio 5.6 declares it but never reads it (it "
                  "was to pick Oracle's form of a raw query)", default=0, types=(int,)),
    Unimplemented("param", "load_rank", "kampy loads the table into the shared store once, in the "
                  "first process that registers the domain, before any serves SIP; which process "
                  "does it cannot be chosen", default=1, types=(int,)),
)


EXPORTS = Exports(
    name="usrloc",
    doc="User location table (the contacts saved by registrar), in memory and in the DB.",
    params=(
        Param("db_url", (str,), "mysql://kamailio:kamailiorw@localhost/kamailio"),
        Param("timer_interval", (int,), 60),
        Param("db_mode", (int,), 0),
        Param("db_load", (int,), 1),
        Param("use_domain", (int,), 0),
        Param("desc_time_order", (int,), 0),
        Param("matching_mode", (int,), 0),
        Param("cseq_delay", (int,), 20),
        Param("hash_size", (int,), 10),
        Param("nat_bflag", (int,), -1),
        Param("preload", (str,), None, multi=True),
        Param("version_table", (int,), 1),
        Param("ruid_column", (str,), "ruid"),
        Param("user_column", (str,), "username"),
        Param("domain_column", (str,), "domain"),
        Param("contact_column", (str,), "contact"),
        Param("expires_column", (str,), "expires"),
        Param("q_column", (str,), "q"),
        Param("callid_column", (str,), "callid"),
        Param("cseq_column", (str,), "cseq"),
        Param("flags_column", (str,), "flags"),
        Param("cflags_column", (str,), "cflags"),
        Param("db_insert_update", (int,), 0),
        Param("user_agent_column", (str,), "user_agent"),
        Param("received_column", (str,), "received"),
        Param("path_column", (str,), "path"),
        Param("socket_column", (str,), "socket"),
        Param("methods_column", (str,), "methods"),
        Param("instance_column", (str,), "instance"),
        Param("reg_id_column", (str,), "reg_id"),
        Param("server_id_column", (str,), "server_id"),
        Param("connection_id_column", (str,), "connection_id"),
        Param("keepalive_column", (str,), "keepalive"),
        Param("partition_column", (str,), "partition"),
        Param("db_update_as_insert", (int,), 0),
        Param("db_check_update", (int,), 0),
        Param("db_ops_ruid", (int,), 1),
        Param("expires_type", (int,), 0),
        Param("db_insert_null", (int,), 0),
        Param("server_id_filter", (int,), 0),
        Param("db_timer_clean", (int,), 0),
        Param("rm_expired_delay", (int,), 0),
        Param("db_clean_tcp", (int,), 0),
        Param("timer_procs", (int,), 0,
              doc="N > 0: the timer runs in N processes of its own (\"USRLOC Timer\"), each over "
                  "the hash slots i with i % N == its index"),
        Param("ka_mode", (int,), 0,
              doc="keepalives from usrloc: 0 none, 1 all contacts, 2 (bit) NATed only, 4 (bit) UDP only"),
        Param("ka_from", (str,), "sip:server@kamailio.org",
              doc="the From URI of the keepalives"),
        Param("ka_domain", (str,), "kamailio.org",
              doc="the domain of the keepalives' To URI when the AoR has none"),
        Param("ka_method", (str,), "OPTIONS",
              doc="the method of the keepalives"),
        Param("ka_filter", (int,), 0,
              doc="1: keepalives only to the contacts written with this server's server_id"),
        Param("ka_timeout", (int,), 0,
              doc="seconds without a reply after which a contact expires (in 10 s)"),
        Param("ka_loglevel", (int,), 255,
              doc="the level of the roundtrip log line of a reply (255: none)"),
        Param("ka_logmsg", (str,), " to-uri: [$tu] remote-addr: [$sas]",
              doc="what the roundtrip log line adds (pseudo-variables of the reply)"),
        Param("close_expired_tcp", (int,), 0,
              doc="1: when the timer removes an expired contact (db_mode 0-2), the TCP/TLS/WS "
                  "connection it was registered over is closed, by whichever worker owns it"),
        Param("xavp_contact", (str,), None,
              doc="the XAVP whose fields (strings and integers) save() stores with each contact and "
                  "lookup() gives back: $xavp(<name>[0]) for the R-URI's contact, [n] for branch n"),
        Param("handle_lost_tcp", (int,), 0,
              doc="1: a contact whose TCP/TLS/WS connection is gone expires at lookup and on the timer"),
        Param("skip_remote_socket", (int,), 0),
        Param("fetch_rows", (int,), 2000,
              doc="rows read from the table at once; kampy checks it (> 0) and reads the whole result"),
    ),
    stats=(
        Stat("registered_users"),
        Stat("<domain>-users", no_reset=True,
             doc="AoRs in the table of the domain (usrloc:location_users with the core's default "
                 "stats_name_separator `_`), registered when the domain is"),
        Stat("<domain>-contacts", no_reset=True, doc="contacts in the table of the domain"),
        Stat("<domain>-expires", doc="contacts the timer found expired and removed from the domain since "
                                     "start (or the last reset); not counted in db_mode 3, as in Kamailio"),
    ),
    rpc=(
        RpcMethod("ul.dump", "rpc_dump", doc="Dump user location tables"),
        RpcMethod("ul.lookup", "rpc_lookup", doc="Lookup one AOR in the usrloc location table",
                  params_fault=(500, "Not enough parameters (table and AOR to lookup)")),
        RpcMethod("ul.rm", "rpc_rm", doc="Delete an address of record including its contacts",
                  params_fault=(500, "Not enough parameters (table and AOR to lookup)")),
        RpcMethod("ul.rm_contact", "rpc_rm_contact", doc="Delete a contact from an AOR record",
                  params_fault=(500, "Not enough parameters (table, AOR and contact)")),
        RpcMethod("ul.flush", "rpc_flush", doc="Flush the usrloc memory cache to DB"),
        RpcMethod("ul.add", "rpc_add", doc="Add a new contact for an address of record",
                  params_fault=(500, "Not enough parameters or wrong format"), unsigned=(6, 7, 8)),
        RpcMethod("ul.db_users", "rpc_db_users",
                  doc="Tell number of different unexpired users (AoRs) in database table (db_mode!=0 only)",
                  params_fault=(500, "Not enough parameters (table to lookup)")),
        RpcMethod("ul.db_contacts", "rpc_db_contacts",
                  doc="Tell number of unexpired contacts in database table (db_mode=3 only)",
                  params_fault=(500, "Not enough parameters (table to lookup)")),
        RpcMethod("ul.db_expired_contacts", "rpc_db_expired_contacts",
                  doc="Tell number of expired contacts in database table (db_mode=3 only)",
                  params_fault=(500, "Not enough parameters (table to lookup)")),
    ),
    timers=(Timer("ul_timer", "timer", interval_param="timer_interval",
                  doc="Removes expired contacts (and writes changes back in db_mode 2)."),),
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("usrloc", UsrlocAPI, doc="the location table, and callbacks on each change of a contact "
                                                "(Kamailio's usrloc_api_t, register_ulcb)"),),
    processes=timer_processes,
    factory=UsrlocModule,
)
