"""dmq_t_replicate (Kamailio's ki_dmq_t_replicate_mode): the request replicated statefully, with tm's
t_replicate, to every active node of the bus but this one."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from kampy.api import DMQ_NODE_ACTIVE, Branch, DmqNode, MessageContext, Socket, TmAPI

log = logging.getLogger("kampy.dmq")


def replicate(tm: TmAPI, ctx: MessageContext, nodes: Iterable[DmqNode], sock: Socket) -> int:
    """From the bus socket; the first node gets the R-URI's branch, each other one a branch appended
    for it (t_replicate sends only new branches once the R-URI went out). 0 (the script ends) when
    done, -1 when a replication failed."""
    ctx.force_socket = sock
    first = True
    for node in nodes:
        if node.local or node.status != DMQ_NODE_ACTIVE:
            log.debug("skipping node %s", node.uri)
            continue
        if not first:
            ctx.branches.append(Branch(uri=ctx.ruri, socket=sock))
        first = False
        if tm.t_replicate(ctx, node.uri) < 0:
            log.error("error calling t_replicate")
            return -1
    return 0
