"""The dmq module: KDMQ requests between the nodes of a cluster (Kamailio's dmq.c, dmq_funcs.c,
message.c, notification_peer.c)."""
from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kampy.api import (DMQ_NODE_ACTIVE, DMQ_NODE_DISABLED, DMQ_NODE_PENDING, URI, CoreAPI, DmqInitCallback,
                       DmqNode,
                       DmqPeerCallback, DmqReply, DmqRespCallback, MessageContext, Module, Outgoing, Process,
                       Request, Response, RpcFault, SIPProtocolError, SlAPI, Socket, TmAPI, build_reply,
                       SipDest, parse_message, reply_destination)

from .jobs import Job, JobQueues
from .nodes import STATUS_NAMES, NodeError, NodeList, ident, parse_node
from .replicate import replicate

log = logging.getLogger("kampy.modules.dmq")

METHOD = "KDMQ"
MIN_PING_INTERVAL = 5
NOTIFICATION_CONTENT_TYPE = "text/plain"
MAX_HOSTS = 30
STATE_SCHEMA = "CREATE TABLE IF NOT EXISTS dmq_state (name TEXT PRIMARY KEY, value INTEGER)"
PEERS_SCHEMA = "CREATE TABLE IF NOT EXISTS dmq_peer (peer_id TEXT PRIMARY KEY)"


@dataclass(frozen=True)
class Peer:
    """A registered peer (Kamailio's dmq_peer_t)."""

    peer_id: str
    description: str
    callback: DmqPeerCallback
    init_callback: DmqInitCallback | None = None


def empty_peer_callback(msg: Request, node: DmqNode | None) -> DmqReply:
    """The callback of a peer the config names in dmq_send_message()/dmq_bcast_message()."""
    return DmqReply(202, "Accepted DMQ")


def processes(params: dict[str, Any]) -> Sequence[Process]:
    """The DMQ workers: each takes the jobs queued for it, every worker_usleep microseconds (Kamailio
    sleeps that long between looks; with 0 it wakes on each job: kampy looks every 10 ms)."""
    usleep = int(params["worker_usleep"])
    interval = usleep / 1e6 if usleep > 0 else 0.01
    workers = max(0, int(params["num_workers"]))
    return [Process("DMQ WORKER", "run_worker", interval, (i,)) for i in range(workers)]


def uri_with_user(user: str, node: DmqNode) -> str:
    """Kamailio's build_uri_str: `sip:<user>@host:port`, with the transport unless UDP."""
    port = f":{node.port}" if node.port else ""
    transport = f";transport={node.proto}" if node.proto not in ("", "udp") else ""
    return f"sip:{user}@{node.host}{port}{transport}"


class DmqModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.sl: SlAPI = core.api("sl")
        self.tm: TmAPI = core.api("tm")
        try:
            self.server, _ = parse_node(params["server_address"] or "")
        except NodeError as exc:
            raise ValueError("server address invalid") from exc
        self.server_socket = self._server_socket(params["server_socket"])
        self.notification_addresses: list[str] = list(params["notification_address"] or ())
        for address in self.notification_addresses:
            try:
                URI.parse(address)
            except (SIPProtocolError, ValueError) as exc:
                raise ValueError("could not parse notification address") from exc
        self.channel: str = params["notification_channel"]
        self.multi_notify = int(params["multi_notify"]) != 0
        self.num_workers = max(0, int(params["num_workers"]))
        self.ping_interval = max(MIN_PING_INTERVAL, int(params["ping_interval"]))
        self._next_ping = core.clock.monotonic() + self.ping_interval
        self.nodes = NodeList(core.shared, self._node_address)
        self.jobs = JobQueues(core.shared, self.num_workers)
        core.shared.execute(STATE_SCHEMA)
        core.shared.execute(PEERS_SCHEMA)
        core.shared.execute("INSERT OR IGNORE INTO dmq_state (name, value) VALUES ('init_callback_done', 0)")
        self.peers: dict[str, Peer] = {}
        self.register_dmq_peer(self.channel, self.channel, self.notification_callback)
        if self.nodes.add(self.server, local=True, status=DMQ_NODE_ACTIVE) is None:
            raise ValueError("error adding self node")

    def _server_socket(self, text: str | None) -> Socket:
        """server_socket, else made of server_address; it must be one of the sockets listened on.
        KDMQ requests go out from it."""
        if not text:
            text = f"{self.server.proto or 'udp'}:{self.server.host}:{self.server.port or 5060}"
        found = next((s for s in self.core.sockets if str(s) == text), None)
        if found is None:
            raise ValueError("server_uri is not a socket the proxy is listening on")
        return found

    def child_init(self, rank: int) -> None:
        """Kamailio asks the notification address for the node list once the SIP workers start."""
        if rank == 1 and self.notification_addresses:
            self.core.call_at(self.core.clock.monotonic(), self._first_notify)

    def _first_notify(self) -> None:
        if self.add_server_and_notify() is None:
            log.warning("cannot retrieve initial nodelist, first list entry %s",
                        self.notification_addresses[0])

    # ------------------------------------------------------------ the API (bind_dmq)

    def register_dmq_peer(self, peer_id: str, description: str, callback: DmqPeerCallback,
                          init_callback: DmqInitCallback | None = None) -> bool:
        if peer_id in self.peers:
            log.error("peer already exists: %s %s", peer_id, description)
            return False
        self.peers[peer_id] = Peer(peer_id, description, callback, init_callback)
        return True

    def find_dmq_node_uri(self, uri: str) -> DmqNode | None:
        return self.nodes.find_uri(uri)

    def send_message(self, peer_id: str, body: bytes, node: DmqNode,
                     resp_callback: DmqRespCallback | None = None, max_forwards: int = 1,
                     content_type: str = "text/plain") -> int:
        headers = f"Max-Forwards: {max_forwards}\r\nContent-Type: {content_type}\r\n"
        to = uri_with_user(peer_id, node)

        def replied(code: int, reply: Response | None) -> None:
            if resp_callback is not None:
                try:
                    resp_callback(reply, code, node)
                except Exception:
                    log.exception("error in response callback")

        sock = self.server_socket if self.server_socket.proto == (node.proto or "udp") else None
        if self.tm.t_request(METHOD, to, to, uri_with_user(peer_id, self.server), headers=headers, body=body,
                             callback=replied, send_socket=sock) < 0:
            log.error("error in tmb.t_request_within")
            return -1
        return 0

    def bcast_message(self, peer_id: str, body: bytes, except_node: DmqNode | None = None,
                      resp_callback: DmqRespCallback | None = None, max_forwards: int = 1,
                      content_type: str = "text/plain", include_inactive: bool = False) -> int:
        for node in self.nodes.nodes():
            if (except_node is not None and ident(node) == ident(except_node)) or node.local \
                    or (node.status != DMQ_NODE_ACTIVE and not include_inactive):
                continue
            if self.send_message(peer_id, body, node, resp_callback, max_forwards, content_type) < 0:
                log.error("error sending dmq message")
                return -1
        return 0

    # ------------------------------------------------------------ receiving

    def find_peer(self, peer_id: str) -> Peer | None:
        peer = self.peers.get(peer_id)
        if peer is None and self.core.shared.query("SELECT 1 FROM dmq_peer WHERE peer_id = ?", (peer_id,)):
            peer = self.peers[peer_id] = Peer(peer_id, "", empty_peer_callback)  # added by another process
        return peer

    def _peer_of(self, ctx: MessageContext) -> tuple[int, Peer | None]:
        """The peer the Request-URI's user names: (0, peer); (0, None) after the 404 when there is
        none; (-1, None) when the Request-URI has no user."""
        msg = ctx.msg
        user = msg.ruri.user if isinstance(msg, Request) else None
        if not user:
            log.error("error parsing msg uri")
            return -1, None
        peer = self.find_peer(user)
        if peer is None:
            log.debug("no peer found for %s", user)
            if self.sl.reply(ctx, 404, "User Not Found") < 0:
                log.error("sending reply")
                return -1, None
        return 0, peer

    def dmq_handle_message(self, ctx: MessageContext, returnval: int = 0) -> int:
        """dmq_handle_message([rc]): queue the request for a DMQ worker; returns 0 (stops the
        script), or 1 with rc 1."""
        returnval = min(returnval, 1)
        code, peer = self._peer_of(ctx)
        if peer is None:
            return returnval if code == 0 else -1
        if self.num_workers == 0:
            log.error("error in add_dmq_job: no workers spawned")
            return -1
        self.jobs.push(ctx, peer.peer_id)
        return returnval

    def dmq_process_message(self, ctx: MessageContext, returnval: int = 0) -> int:
        """dmq_process_message([rc]): run the peer's callback now and answer."""
        returnval = min(returnval, 1)
        code, peer = self._peer_of(ctx)
        if peer is None:
            return returnval if code == 0 else -1
        assert isinstance(ctx.msg, Request)
        reply = self._run_callback(peer, ctx.msg)
        if reply is None:
            return -1
        if reply.code > 0 and reply.reason:
            headers = [("Content-Type", reply.content_type)] if reply.body else []
            if self.sl.reply(ctx, reply.code, reply.reason, extra_headers=headers, body=reply.body) < 0:
                log.error("error sending reply")
        else:
            log.warning("no reply sent")
        return returnval

    def _run_callback(self, peer: Peer, msg: Request) -> DmqReply | None:
        node = None
        if msg.from_ is None:
            log.error("bad sip message or missing From hdr")
        else:
            node = self.nodes.find_uri(str(msg.from_.uri))
        try:
            reply = peer.callback(msg, node)
        except Exception:
            log.exception("processing failed")
            return None
        return reply

    def run_worker(self, index: int) -> None:
        """A DMQ worker's loop: every job queued for it, in order."""
        while True:
            job = self.jobs.pop(index)
            if job is None:
                return
            self._run_job(job)

    def _run_job(self, job: Job) -> None:
        try:
            msg = parse_message(job.data)
        except SIPProtocolError as exc:
            log.error("running job failed: %s", exc)
            return
        peer = self.find_peer(job.peer)
        if peer is None or not isinstance(msg, Request):
            return
        reply = self._run_callback(peer, msg)
        if reply is None:
            log.error("running job failed")
            return
        if reply.code <= 0 or not reply.reason:
            log.warning("no reply sent")
            return
        lumps = [f"Content-Type: {reply.content_type}\r\n".encode()] if reply.body else []
        data = build_reply(msg, job.ip, job.port, reply.code, reply.reason, to_tag=self.sl.to_tag(msg),
                           lumps=lumps, server=self.core.server_header, body=reply.body)
        host, port = reply_destination(msg, job.ip, job.port)
        local = next((s for s in self.core.sockets if str(s) == job.local), None)
        self.core.send(Outgoing(job.proto, host, port, data, local, job.conn_id))

    # ------------------------------------------------------------ nodes and notifications

    def add_server_and_notify(self) -> DmqNode | None:
        """Add the notification address(es) to the node list and ask them for theirs."""
        first = None
        if not self.multi_notify:
            for address in self.notification_addresses:
                try:
                    first = self.nodes.add(parse_node(address)[0]) or first
                except NodeError as exc:
                    log.error("%s", exc)
        else:
            for uri in self._host_list(self.notification_addresses[0]):
                node = parse_node(uri)[0]
                if self.nodes.find(node) is None:
                    added = self.nodes.add(node)
                    first = first or added
        if first is None:
            log.error("error adding notification node")
            return None
        if self.request_nodelist(2) < 0:
            log.error("error requesting initial nodelist")
            return None
        return first

    def _node_address(self, host: str) -> str | None:
        """resolvehost(): the host's first address through the core's resolver and DNS cache
        (A/AAAA: a port given), waited for when the cache does not hold it, as Kamailio."""
        targets = self.core.resolve_sip_wait(SipDest(host, 5060))
        return targets[0].ip if targets else None

    def _host_list(self, address: str) -> list[str]:
        """multi_notify: a URI for each IP address the notification address's host has (A and
        AAAA records; an IP address stands for itself)."""
        uri = URI.parse(address)
        host = uri.host or ""
        try:
            found = socket.getaddrinfo(host.strip("[]"), None, proto=socket.IPPROTO_UDP)
        except OSError:
            return []
        ips: list[str] = []
        for info in found:
            ip = str(info[4][0])
            ip = f"[{ip}]" if ":" in ip else ip
            if ip not in ips:
                ips.append(ip)
        user = f"{uri.user}@" if uri.user else ""
        port = f":{uri.port}" if uri.port else ""
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in uri.params.items())
        return [f"{uri.scheme}:{user}{ip}{port}{params}" for ip in ips[:MAX_HOSTS]]

    def request_nodelist(self, forward: int) -> int:
        return self.bcast_message(self.channel, self.nodes.notification_body(), None,
                                  self.notification_resp_callback, forward, NOTIFICATION_CONTENT_TYPE,
                                  include_inactive=True)

    def notification_callback(self, msg: Request, node: DmqNode | None) -> DmqReply:
        """The notification peer: take the sender's node list, answer with ours, and pass the news
        on (one hop less) when it changed ours."""
        max_forwards = (msg.max_forwards or 0) - 1
        try:
            received = self.nodes.merge(msg.body.decode(errors="replace").split("\n"))
        except NodeError as exc:
            log.error("%s", exc)
            received = -1
        body = self.nodes.notification_body()
        if received > 0 and max_forwards > 0:
            self.bcast_message(self.channel, body, None, self.notification_resp_callback, max_forwards,
                               NOTIFICATION_CONTENT_TYPE)
        self.run_init_callbacks()
        return DmqReply(200, "OK", body, NOTIFICATION_CONTENT_TYPE)

    def notification_resp_callback(self, reply: Response | None, code: int, node: DmqNode) -> None:
        if code == 200:
            self.nodes.set_status(node, DMQ_NODE_ACTIVE)
            if reply is not None:
                try:
                    self.nodes.merge(reply.body.decode(errors="replace").split("\n"))
                except NodeError as exc:
                    log.error("%s", exc)
            self.run_init_callbacks()
        elif code == 408:
            if node.uri in self.notification_addresses:
                log.error("not deleting notification peer [%s]", node.uri)
                self.nodes.set_status(node, DMQ_NODE_PENDING)
            elif node.status == DMQ_NODE_DISABLED:
                log.error("deleting server node %s because of failed request", node.uri)
                self.nodes.delete(node)
            else:
                self.nodes.set_status(node, DMQ_NODE_DISABLED)

    def run_init_callbacks(self) -> None:
        """Once per server, when the first node list arrives: the peers' init callbacks."""
        if self.core.shared.execute(
                "UPDATE dmq_state SET value = 1 WHERE name = 'init_callback_done' AND value = 0") == 0:
            return
        for peer in list(self.peers.values()):
            if peer.init_callback is not None:
                try:
                    peer.init_callback()
                except Exception:
                    log.exception("dmq: init callback of peer %s failed", peer.peer_id)

    def ping_servers(self) -> None:
        """The ping timer (every ping_interval seconds, at least 5, in one process): send our node
        list to every node; with no other node, ask the notification address again."""
        now = self.core.clock.monotonic()
        if self.core.rank != 1 or now < self._next_ping:
            return
        self._next_ping = now + self.ping_interval
        if not any(not n.local for n in self.nodes.nodes()):
            if self.notification_addresses:
                self._first_notify()
            else:
                log.error("no notification address")
            return
        if self.request_nodelist(1) < 0:
            log.error("error broadcasting message")

    # ------------------------------------------------------------ config functions

    def _config_peer(self, peer_id: str) -> Peer | None:
        peer = self.find_peer(peer_id)
        if peer is None:
            log.info("cannot find peer %s - adding it.", peer_id)
            self.core.shared.execute("INSERT OR IGNORE INTO dmq_peer (peer_id) VALUES (?)", (peer_id,))
            peer = self.find_peer(peer_id)
        return peer

    def cfg_send_message(self, ctx: MessageContext, peer_id: str, to: str, body: str,
                         content_type: str) -> int:
        """dmq_send_message(peer, node, body, content_type)."""
        if self._config_peer(peer_id) is None:
            return -1
        node = self.nodes.find_uri(to)
        if node is None:
            log.error("cannot find dmq_node: %s", to)
            return -1
        if self.send_message(peer_id, body.encode(), node, self.notification_resp_callback, 1,
                             content_type) < 0:
            log.error("cannot send dmq message")
            return -1
        return 1

    def cfg_bcast_message(self, ctx: MessageContext, peer_id: str, body: str, content_type: str) -> int:
        """dmq_bcast_message(peer, body, content_type)."""
        if self._config_peer(peer_id) is None:
            return -1
        if self.bcast_message(peer_id, body.encode(), None, self.notification_resp_callback, 1,
                              content_type) < 0:
            log.error("cannot send dmq message")
            return -1
        return 1

    def cfg_t_replicate(self, ctx: MessageContext, skip_loop_test: int = 0) -> int:
        """dmq_t_replicate([skip_loop_test]): not for a request from another node unless told so."""
        if not skip_loop_test and self.cfg_is_from_node(ctx) > 0:
            log.debug("message is from another node - skipping replication")
            return -1
        return replicate(self.tm, ctx, self.nodes.nodes(), self.server_socket)

    def cfg_is_from_node(self, ctx: MessageContext) -> int:
        """dmq_is_from_node(): 1 when the request comes from the address of another node."""
        return 1 if self.nodes.is_remote_ip(ctx.src.ip) else -1

    # ------------------------------------------------------------ RPC

    def rpc_list_nodes(self) -> list[dict[str, Any]]:
        return [{"host": node.host, "port": node.port, "proto": node.proto or "*", "resolved_ip": ip,
                 "status": STATUS_NAMES.get(node.status, ""), "last_notification": last,
                 "local": int(node.local)}
                for node, ip, last in self.nodes.rows()]

    def rpc_remove(self, address: str = "") -> str:
        if not address:
            raise RpcFault(500, "Invalid Parameters")
        try:
            node = parse_node(address)[0]
        except NodeError as exc:
            log.error("error parsing uri [%s]", address)
            raise RpcFault(500, "Failure") from exc
        self.nodes.delete(node, keep_local=True)
        return "Ok. DMQ node removed."
