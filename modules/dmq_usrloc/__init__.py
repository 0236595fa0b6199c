"""dmq_usrloc: usrloc's contacts replicated between the nodes of a DMQ bus."""
from __future__ import annotations

from kampy.api import DmqAPI, Exports, Need, Param, UsrlocAPI

from .sync import DmqUsrlocModule

EXPORTS = Exports(
    name="dmq_usrloc",
    doc="Replicates usrloc's contacts to the other nodes of the DMQ bus (peer `usrloc`), in Kamailio's "
        "JSON format, and asks them for theirs when it joins.",
    params=(
        Param("enable", (int,), 0, doc="1: replicate (nothing happens otherwise)"),
        Param("sync", (int,), 1, doc="1: ask the other nodes for all their contacts on joining the bus"),
        Param("replicate_socket_info", (int,), 0,
              doc="1: send each contact's socket, and keep a received one that is a local socket"),
        Param("batch_msg_contacts", (int,), 1,
              doc="contacts per KDMQ request when answering a sync (at most 150)"),
        Param("batch_msg_size", (int,), 60000, doc="bytes of a sync's KDMQ body, about (at most 60000)"),
        Param("batch_size", (int,), 0, doc="contacts sent in a sync before sleeping batch_usleep (0: never)"),
        Param("batch_usleep", (int,), 0, doc="microseconds to sleep after each batch_size contacts"),
        Param("usrloc_domain", (str,), "location", doc="the usrloc table replicated"),
        Param("usrloc_delete", (int,), 1, doc="1: replicate deletions of contacts too"),
    ),
    needs=(Need("usrloc", UsrlocAPI, optional=True, doc="the contacts, and a callback on each change"),
           Need("dmq", DmqAPI, optional=True, doc="the bus")),
    factory=DmqUsrlocModule,
)
