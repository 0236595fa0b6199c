"""One node of a DMQ bus run in-process (the `kampy_cfg` fixture), the other nodes played by the test:
the config such a node runs, the KDMQ requests another node sends it, and what it sends to the other
nodes. For the tests of dmq and of the modules replicating over it (dialog, htable, dmq_usrloc);
tests/e2e/dmq_nodes.py runs nodes on the wire."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

SELF = "127.0.0.1"  # the node under test, at SELF:5060 (its dmq server_address)
PEER = "127.0.0.2"  # the other node, at PEER:5060
HANDLE = "dmq_handle_message();\n        exit;"


def config(modules: Sequence[str], route: str = "", params: str = "", handle: str = HANDLE) -> str:
    """The node's config: tm, sl, pv, then `modules` (dmq among them, in the order given), the
    modparam lines `params`; its request_route gives a KDMQ request to `handle`, the rest to `route`."""
    loads = "".join(f'loadmodule "{name}.so"\n' for name in ("tm", "sl", "pv", *modules))
    return (f"\nlisten=udp:{SELF}:5060\n{loads}"
            f'modparam("dmq", "server_address", "sip:{SELF}:5060")\n{params}\n'
            f'request_route {{\n    if ($rm == "KDMQ") {{\n        {handle}\n    }}\n{route}\n}}\n')


def without_dmq(cfg: str) -> str:
    """`cfg` without the dmq module, its server_address and dmq_handle_message()."""
    address = f'modparam("dmq", "server_address", "sip:{SELF}:5060")'
    return cfg.replace('loadmodule "dmq.so"', "").replace(address, "").replace("dmq_handle_message();", "")


def kdmq(sip: Any, peer: str, body: str | bytes, *, src: str = f"{PEER}:5060", max_forwards: int = 1,
         content_type: str = "application/json") -> Any:
    """The node at `src` sends `body` to this node's DMQ peer `peer`: what sending it did (a DMQ
    worker handles it later: `handled`)."""
    return sip.send_request("KDMQ", f"sip:{peer}@{SELF}:5060", from_=f"sip:{peer}@{src}",
                            to=f"sip:{peer}@{SELF}:5060", body=body, src=src, max_forwards=max_forwards,
                            content_type=content_type, contact=None)


def handled(sip: Any, peer: str, body: str | bytes, **options: Any) -> Any:
    """`kdmq`, then what happened in the next 50 ms (the DMQ worker's reply among it)."""
    kdmq(sip, peer, body, **options)
    return sip.advance(0.05)


def join(sip: Any, node: str = PEER) -> Any:
    """PEER tells this node that `node` is active (the notification a new node sends): what happened
    in the next 50 ms."""
    return handled(sip, "notification_peer", f"sip:{node}:5060;status=active\r\n", content_type="text/plain")


def sent_to(result: Any, peer: str, node: str = PEER) -> list[Any]:
    """The requests in `result` that went to the DMQ peer `peer` of `node`."""
    return [sent.msg for sent in result.forwarded if sent.msg.uri == f"sip:{peer}@{node}:5060"]


def json_bodies(result: Any, peer: str, node: str = PEER) -> list[dict[str, Any]]:
    """The JSON bodies of `sent_to`."""
    return [json.loads(msg.body) for msg in sent_to(result, peer, node)]
