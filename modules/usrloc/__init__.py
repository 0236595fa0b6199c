"""User location table (the contacts saved by registrar), in memory and in the DB."""

from __future__ import annotations

from kampy.api import Exports, Offer, Param, RpcMethod, Stat, Timer, Unimplemented, UsrlocAPI

from .ucontact import UContact
from .usrloc import URecord, UsrlocModule

__all__ = ["EXPORTS", "UContact", "URecord", "UsrlocModule"]


# What Kamailio 5.6's usrloc module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("param", "ruid_column", "not implemented yet", default="ruid", types=(str,)),
    Unimplemented("param", "user_column", "not implemented yet", default="username", types=(str,)),
    Unimplemented("param", "domain_column", "not implemented yet", default="domain", types=(str,)),
    Unimplemented("param", "contact_column", "not implemented yet", default="contact", types=(str,)),
    Unimplemented("param", "expires_column", "not implemented yet", default="expires", types=(str,)),
    Unimplemented("param", "q_column", "not implemented yet", default="q", types=(str,)),
    Unimplemented("param", "callid_column", "not implemented yet", default="callid", types=(str,)),
    Unimplemented("param", "cseq_column", "not implemented yet", default="cseq", types=(str,)),
    Unimplemented("param", "flags_column", "not implemented yet", default="flags", types=(str,)),
    Unimplemented("param", "cflags_column", "not implemented yet", default="cflags", types=(str,)),
    Unimplemented("param", "db_insert_update", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "user_agent_column", "not implemented yet", default="user_agent", types=(str,)),
    Unimplemented("param", "received_column", "not implemented yet", default="received", types=(str,)),
    Unimplemented("param", "path_column", "not implemented yet", default="path", types=(str,)),
    Unimplemented("param", "socket_column", "not implemented yet", default="socket", types=(str,)),
    Unimplemented("param", "methods_column", "not implemented yet", default="methods", types=(str,)),
    Unimplemented("param", "instance_column", "not implemented yet", default="instance", types=(str,)),
    Unimplemented("param", "reg_id_column", "not implemented yet", default="reg_id", types=(str,)),
    Unimplemented("param", "server_id_column", "not implemented yet", default="server_id", types=(str,)),
    Unimplemented("param", "connection_id_column",
                  "not implemented yet", default="connection_id", types=(str,)),
    Unimplemented("param", "keepalive_column", "not implemented yet", default="keepalive", types=(str,)),
    Unimplemented("param", "partition_column", "not implemented yet", default="partition", types=(str,)),
    Unimplemented("param", "fetch_rows", "not implemented yet", default=2000, types=(int,)),
    Unimplemented("param", "handle_lost_tcp", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "close_expired_tcp", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "skip_remote_socket", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "db_update_as_insert", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "timer_procs", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "db_check_update", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "xavp_contact", "not implemented yet", default=None, types=(str,)),
    Unimplemented("param", "db_ops_ruid", "not implemented yet", default=1, types=(int,)),
    Unimplemented("param", "expires_type", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "db_raw_fetch_type", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "db_insert_null", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "server_id_filter", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "db_timer_clean", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "rm_expired_delay", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "ka_mode", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "ka_from", "not implemented yet", default="sip:server@kamailio.org", types=(str,)),
    Unimplemented("param", "ka_domain", "not implemented yet", default="kamailio.org", types=(str,)),
    Unimplemented("param", "ka_method", "not implemented yet", default="OPTIONS", types=(str,)),
    Unimplemented("param", "ka_filter", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "ka_timeout", "not implemented yet", default=0, types=(int,)),
    Unimplemented("param", "ka_loglevel", "not implemented yet", default=255, types=(int,)),
    Unimplemented("param", "ka_logmsg",
                  "not implemented yet", default=" to-uri: [$tu] remote-addr: [$sas]", types=(str,)),
    Unimplemented("param", "load_rank", "not implemented yet", default=1, types=(int,)),
    Unimplemented("param", "db_clean_tcp", "not implemented yet", default=0, types=(int,)),
    Unimplemented("stat", "usrloc:<domain>-users", "kampy registers it per domain at run time "
                  "(usrloc:location-users), but EXPORTS cannot declare a per-domain statistic yet"),
    Unimplemented("stat", "usrloc:<domain>-contacts", "kampy registers it per domain at run time "
                  "(usrloc:location-contacts), but EXPORTS cannot declare a per-domain statistic yet"),
    Unimplemented("stat", "usrloc:<domain>-expires", "not implemented yet"),
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
    ),
    stats=(Stat("registered_users"),),
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
                  params_fault=(500, "Not enough parameters or wrong format")),
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
    offers=(Offer("usrloc", UsrlocAPI, doc="the location table (Kamailio's usrloc_api_t)"),),
    factory=UsrlocModule,
)
