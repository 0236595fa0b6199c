"""The DMQ node list (Kamailio's dmqnode.c), in the shared store so every process sees one list:
nodes are identified by host, port (as written) and transport; the newest is listed first."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from kampy.api import (DMQ_NODE_ACTIVE, DMQ_NODE_DISABLED, DMQ_NODE_PENDING, DMQ_NODE_TIMEOUT, URI, DmqNode,
                       SIPProtocolError,
                       SharedStore)

log = logging.getLogger("kampy.modules.dmq")

STATUS_NAMES = {DMQ_NODE_ACTIVE: "active", DMQ_NODE_DISABLED: "disabled", DMQ_NODE_TIMEOUT: "timeout",
                DMQ_NODE_PENDING: "pending"}
STATUS_OF = {name: value for value, name in STATUS_NAMES.items()}

SCHEMA = """CREATE TABLE IF NOT EXISTS dmq_node (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ident TEXT UNIQUE, uri TEXT, host TEXT, port TEXT,
    proto TEXT, status INTEGER, local INTEGER, ip TEXT, last_notification INTEGER DEFAULT 0)"""
COLUMNS = "uri, host, port, proto, status, local, ip, last_notification"


class NodeError(ValueError):
    """A node URI that cannot be used (bad URI, bad status, a host that does not resolve)."""


def parse_node(uri: str) -> tuple[DmqNode, bool]:
    """Kamailio's build_dmq_node: the node of `uri` (status pending unless a `status` parameter
    says otherwise) and whether the URI had parameters."""
    try:
        parsed = URI.parse(uri.strip())
    except (SIPProtocolError, ValueError) as exc:
        raise NodeError(f"error parsing uri: {uri}") from exc
    if not parsed.host or len(parsed.host) > 254:
        raise NodeError(f"error parsing uri: {uri}")
    status = DMQ_NODE_PENDING
    text = parsed.params.get("status")
    if text is not None:
        if text not in STATUS_OF:
            raise NodeError(f"invalid status parameter: {text}")
        status = STATUS_OF[text]
    port = "" if parsed.port is None else str(parsed.port)
    proto = (parsed.transport or "").lower()
    return DmqNode(uri.strip(), parsed.host, port, proto, status), bool(parsed.params)


def ident(node: DmqNode) -> str:
    return f"{node.proto}:{node.host}:{node.port}"


def node_line(node: DmqNode) -> str:
    """Kamailio's build_node_str: `sip:host:port;transport=tcp;status=active`."""
    transport = f";transport={node.proto}" if node.proto not in ("udp", "") else ""
    port = f":{node.port}" if node.port else ""
    return f"sip:{node.host}{port}{transport};status={STATUS_NAMES.get(node.status, '')}"


class NodeList:
    """dmq_node_list: the nodes in the shared store's `dmq_node` table."""

    def __init__(self, shared: SharedStore, resolve: Callable[[str], str | None]) -> None:
        """`resolve(host)`: the node's IP address, None when it does not resolve (Kamailio resolves
        each node's host when it adds it)."""
        self.shared = shared
        self._resolve = resolve
        shared.execute(SCHEMA)

    def _row(self, row: tuple) -> DmqNode:  # type: ignore[type-arg]
        return DmqNode(row[0], row[1], row[2], row[3], int(row[4]), bool(row[5]))

    def nodes(self) -> list[DmqNode]:
        return [self._row(r) for r in self.shared.query(f"SELECT {COLUMNS} FROM dmq_node ORDER BY id DESC")]

    def rows(self) -> list[tuple]:  # type: ignore[type-arg]
        """(node, ip, last_notification) of each node, for dmq.list_nodes."""
        return [(self._row(r), r[6], int(r[7])) for r in
                self.shared.query(f"SELECT {COLUMNS} FROM dmq_node ORDER BY id DESC")]

    def find(self, node: DmqNode) -> DmqNode | None:
        found = self.shared.query(f"SELECT {COLUMNS} FROM dmq_node WHERE ident = ?", (ident(node),))
        return self._row(found[0]) if found else None

    def find_uri(self, uri: str) -> DmqNode | None:
        try:
            return self.find(parse_node(uri)[0])
        except NodeError as exc:
            log.error("%s", exc)
            return None

    def add(self, node: DmqNode, local: bool = False, status: int | None = None) -> DmqNode | None:
        """add_dmq_node: None when the host does not resolve; a node already listed stays as it is."""
        ip = self._resolve(node.host)
        if ip is None:
            log.error("could not resolve %s", node.host)
            return None
        status = node.status if status is None else status
        self.shared.execute(
            "INSERT OR IGNORE INTO dmq_node (ident, uri, host, port, proto, status, local, ip) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (ident(node), node.uri, node.host, node.port, node.proto, status, int(local), ip))
        return self.find(node)

    def set_status(self, node: DmqNode, status: int) -> bool:
        changed = self.shared.execute("UPDATE dmq_node SET status = ? WHERE ident = ?", (status, ident(node)))
        return changed > 0

    def delete(self, node: DmqNode, keep_local: bool = False) -> bool:
        """dmq_node_del_filter: True when the node was listed (a local one stays with `keep_local`)."""
        found = self.find(node)
        if found is None:
            return False
        if not (keep_local and found.local):
            self.shared.execute("DELETE FROM dmq_node WHERE ident = ?", (ident(node),))
        return True

    def merge(self, lines: Iterable[str]) -> int:
        """extract_node_list: add the nodes a notification lists and take the state it gives of
        the others (not of this node, not of a disabled one); how many were new or changed.
        NodeError for a line that is no node."""
        changed = 0
        with self.shared.transaction():
            for line in lines:
                line = line.strip()
                if not line:
                    continue
                node, has_params = parse_node(line)
                current = self.find(node)
                if current is None:
                    if self.add(node) is None:
                        raise NodeError(f"error creating new dmq node {line}")
                    changed += 1
                elif not current.local and has_params and current.status != node.status \
                        and current.status != DMQ_NODE_DISABLED:
                    self.set_status(current, node.status)
                    changed += 1
        return changed

    def notification_body(self) -> bytes:
        """build_notification_body: this node and the active ones, a line each."""
        return "".join(node_line(n) + "\r\n" for n in self.nodes()
                       if n.local or n.status == DMQ_NODE_ACTIVE).encode()

    def is_remote_ip(self, ip: str) -> bool:
        return bool(self.shared.query("SELECT 1 FROM dmq_node WHERE local = 0 AND ip = ?", (ip,)))
