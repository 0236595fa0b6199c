"""dmq: the Distributed Message Queue, KDMQ requests between the nodes of a cluster."""
from __future__ import annotations

from kampy.api import (Arg, ArgKind, DmqAPI, Exports, Function, Need, Offer, Param, RouteType, RpcMethod,
                       SlAPI, Timer, TmAPI, Unimplemented)

from .dmq import DmqModule, processes

NOT_IMPLEMENTED: tuple[Unimplemented, ...] = ()

EXPORTS = Exports(
    name="dmq",
    doc="KDMQ requests between the nodes of a cluster: a node list kept up to date by a notification "
        "peer, peers (dmq_usrloc, htable) that send to one node or to all, and DMQ workers that "
        "process what arrives.",
    params=(
        Param("server_address", (str,), "", doc="this node's SIP URI on the bus (sip:ip:port)"),
        Param("server_socket", (str,), "", doc="the local socket (proto:ip:port) of server_address, "
                                               "when it cannot be made from it"),
        Param("notification_address", (str,), None, multi=True,
              doc="a node asked for the node list at start (may be given several times)"),
        Param("notification_channel", (str,), "notification_peer",
              doc="the peer (Request-URI user) of the node list notifications"),
        Param("multi_notify", (int,), 0,
              doc="1: every address the notification address's host resolves to is a node to notify"),
        Param("num_workers", (int,), 2, doc="how many DMQ worker processes run the queued requests"),
        Param("ping_interval", (int,), 60, doc="seconds between two node-list broadcasts (at least 5)"),
        Param("worker_usleep", (int,), 0,
              doc="microseconds a DMQ worker sleeps between looks at its queue (0: it wakes on a job)"),
    ),
    functions=(
        Function("dmq_handle_message", args=(Arg("rc", ArgKind.INT),), min_args=0, routes=RouteType.REQUEST,
                 doc="Queue the KDMQ request for a DMQ worker, which runs its peer's callback and replies "
                     "(404 at once when no peer has the Request-URI's user).",
                 returns="0 (the script stops), or 1 with rc 1; -1 on error"),
        Function("dmq_process_message", args=(Arg("rc", ArgKind.INT),), min_args=0, routes=RouteType.REQUEST,
                 doc="Run the peer's callback for the KDMQ request at once, in this process, and reply.",
                 returns="0 (the script stops), or 1 with rc 1; -1 on error"),
        Function("dmq_send_message", handler="cfg_send_message",
                 args=(Arg("peer", ArgKind.FMT), Arg("node", ArgKind.FMT), Arg("body", ArgKind.FMT),
                       Arg("content_type", ArgKind.FMT)),
                 routes=RouteType.ANY, doc="Send a KDMQ request to one node of the list.",
                 returns="1 sent, -1 no such node or not sent"),
        Function("dmq_bcast_message", handler="cfg_bcast_message",
                 args=(Arg("peer", ArgKind.FMT), Arg("body", ArgKind.FMT), Arg("content_type", ArgKind.FMT)),
                 routes=RouteType.ANY, doc="Send a KDMQ request to every active node.",
                 returns="1 sent, -1 on error"),
        Function("dmq_t_replicate", handler="cfg_t_replicate", args=(Arg("skip_loop_test", ArgKind.INT),),
                 min_args=0, routes=RouteType.REQUEST,
                 doc="Replicate the request statefully (tm's t_replicate) to every active node but this "
                     "one, from the bus socket; unless skip_loop_test is 1, not a request that comes from "
                     "another node. The replies stay with tm.",
                 returns="0 (the script stops) when replicated, -1 from another node or on error"),
        Function("dmq_is_from_node", handler="cfg_is_from_node", routes=RouteType.REQUEST,
                 doc="Whether the request comes from the address of another node of the list.",
                 returns="1 yes, -1 no"),
    ),
    rpc=(
        RpcMethod("dmq.list_nodes", "rpc_list_nodes", array=True, doc="Print all nodes"),
        RpcMethod("dmq.remove", "rpc_remove", autoconvert=(0,), doc="Remove a DMQ node",
                  params_fault=(500, "Invalid Parameters")),
    ),
    timers=(Timer("ping", "ping_servers", interval=1,
                  doc="sends the node list to every node each ping_interval seconds"),),
    processes=processes,
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("dmq", DmqAPI, doc="peers, and KDMQ requests to one node or to all"),),
    needs=(Need("sl", SlAPI, doc="the replies to KDMQ requests"),
           Need("tm", TmAPI, doc="KDMQ requests go out in transactions; dmq_t_replicate uses t_replicate")),
    factory=DmqModule,
)
