"""rtpproxy: media relaying through RTPProxy over its text control protocol."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import (
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    PVar,
    Request,
    TmAPI,
    avp_param_name,
    check_table_version,
    db_connect,
    parse_pv,
)

from .client import Client
from .functions import FunctionsMixin
from .nodes import Node, Registry, parse_sock, set_number

log = logging.getLogger("kampy.rtpproxy")

TABLE_VERSION = 1
_START = b"start"


class RtpproxyModule(FunctionsMixin, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.nortpproxy = str(params["nortpproxy_str"] or "").rstrip("\r\n")
        self.timeout_socket = str(params["timeout_socket"] or "")
        self.tm: TmAPI | None = core.api("tm")
        table = core.shared.table("rtpproxy", 1 << 10, 1 << 20)
        self.registry = Registry(table)
        with table.transaction():
            if table.get(_START) is None:
                table.put(_START, str(int(core.clock.monotonic())).encode())
        self.start = int(table.get(_START)[0])  # type: ignore[index]
        self.client = Client(self.registry, int(params["rtpproxy_retr"]), int(params["rtpproxy_tout"]),
                             int(params["rtpproxy_disable_tout"]), self.now)
        ice_avp = params["ice_candidate_priority_avp"]
        self.ice_avp = avp_param_name(ice_avp, f"malformed or non AVP definition <{ice_avp}>")
        self.rtp_inst = self._inst_pv(params["rtp_inst_pvar"])
        self.extra_id = core.formatter(str(params["extra_id_pv"])) if params["extra_id_pv"] else None
        self._msgs: dict[int, tuple[Any, list[int | None]]] = {}
        # Kamailio's static selected_rtpp_set: the set the last function of this process used
        # (the prompt functions use it as they find it)
        self.last_set: int | None = None
        if self.registry.once(b"nodes"):
            self._load(params)

    # ------------------------------------------------------------------ set-up

    def now(self) -> int:
        """Kamailio's ticks: seconds since the server started."""
        return int(self.core.clock.monotonic()) - self.start

    def _inst_pv(self, value: Any) -> Any:
        if not value:
            return None
        try:
            spec = parse_pv(str(value))
        except ValueError as exc:
            raise ValueError(f"Invalid pvar name <{value}>") from exc
        if not isinstance(spec, PVar) or spec.cls not in ("avp", "xavp", "var"):
            raise ValueError(f"Invalid pvar name <{value}>")
        return self.core.pv_accessor(spec)

    def _load(self, params: dict[str, Any]) -> None:
        if params["db_url"]:
            if params["rtpproxy_sock"]:
                log.warning("rtpproxy db url configured - ignoring modparam sets")
            self._load_db(str(params["db_url"]), str(params["table_name"]))
            return
        for value in params["rtpproxy_sock"] or ():
            found = parse_sock(str(value))
            if found is None:
                continue
            setid, entries = found
            number = set_number(setid)
            for url, weight in entries:
                self.registry.add(number, url, weight, False)

    def _load_db(self, url: str, table: str) -> None:
        try:
            with db_connect(url) as db:
                check_table_version(db, table, TABLE_VERSION)
                rows = db.query(table, columns=["setid", "url", "weight", "flags"])
        except DBError as exc:
            log.error("%s", exc)
            return
        if not rows:
            log.warning("No rtpproxy instances in database")
        for setid, node_url, weight, flags in rows:
            try:
                number = set_number(str(setid))
            except ValueError as exc:
                log.error("error getting rtpp_list for set '%s': %s", setid, exc)
                continue
            self.registry.add(number, str(node_url), int(weight), bool(flags))

    def child_init(self, rank: int) -> None:
        for node in self.registry.nodes():
            self.client.test(node, node.disabled, True)

    def destroy(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ sets and nodes

    def _selected(self, ctx: MessageContext) -> list[int | None]:
        msg = ctx.msg
        held = self._msgs.get(id(msg))
        if held is not None and held[0] is msg:
            return held[1]
        if len(self._msgs) > 64:
            self._msgs.clear()
        chosen: list[int | None] = [None]
        self._msgs[id(msg)] = (msg, chosen)
        return chosen

    def fix_set_id(self, value: str) -> Any:
        text = str(value).strip()
        if text.startswith("$"):
            return self.core.pv_accessor(text)
        try:
            number = int(text)
        except ValueError as exc:
            raise ValueError(f"bad number <{text}>") from exc
        if not self.registry.has_set(number):
            raise ValueError(f"rtpp_proxy set {number} not configured")
        return number

    def set_rtp_proxy_set(self, ctx: MessageContext, link: Any) -> int:
        chosen = self._selected(ctx)
        chosen[0] = None
        if isinstance(link, int):
            chosen[0] = self.last_set = link
            return 1
        value = link.get(ctx)
        if not isinstance(value, int):
            log.error("pv param must hold an integer value")
            return -1
        if not self.registry.has_set(value):
            log.error("could not locate rtpproxy set %s", value)
            return -1
        chosen[0] = self.last_set = value
        return 1

    def select(self, ctx: MessageContext, callid: str, keep_set: bool = False) -> Node | None:
        """select_rtpp_node: by weight and a hash of the Call-ID among the set's enabled nodes; the
        message's set (else the default one), or with `keep_set` the set last used."""
        if keep_set:
            setid = self.last_set
        else:
            chosen = self._selected(ctx)[0]
            setid = self.last_set = chosen if chosen is not None else 0
        if setid is None or not self.registry.has_set(setid):
            log.error("script error -no valid set selected")
            return None
        nodes = self.registry.nodes(setid)
        if len(nodes) == 1:
            node = nodes[0]
            if node.disabled and node.recheck <= self.now():
                self.client.test(node, True, False)
            return None if node.disabled else node
        total = sum(b - 256 if b > 127 else b for b in callid.encode("utf-8", "surrogateescape")) & 0xFF
        forced = False
        while True:
            weight_sum = 0
            for node in nodes:
                if node.disabled and node.recheck <= self.now():
                    self.client.test(node, True, False)
                if not node.disabled:
                    weight_sum += node.weight
            if weight_sum == 0:
                if forced:
                    return None
                forced = True
                for node in nodes:
                    self.client.test(node, True, True)
                continue
            cut = total % weight_sum
            for node in nodes:
                if node.disabled:
                    continue
                if cut < node.weight:
                    return node
                cut -= node.weight
            return None

    def _node(self, ctx: MessageContext, callid: str, keep_set: bool = False) -> Node | None:
        node = self.select(ctx, callid, keep_set)
        if node is None:
            log.error("no available proxies")
            return None
        if self.rtp_inst is not None:
            self.rtp_inst.set(ctx, node.url)
        return node

    # ------------------------------------------------------------------ message parts

    @staticmethod
    def _ids(msg: Any) -> tuple[str, str, str] | None:
        callid = msg.call_id or ""
        if not callid:
            log.error("can't get Call-Id field")
            return None
        from_tag = msg.from_.tag if msg.from_ is not None else None
        if not from_tag:
            log.error("can't get From tag")
            return None
        to_tag = (msg.to.tag if msg.to is not None else None) or ""
        return callid, from_tag, to_tag

    def _branch(self, ctx: MessageContext, via: int, extra: bool) -> tuple[bool, str | None]:
        """(ok, the via-branch or extra id to add to the Call-ID)."""
        if via:
            number = (2 if not isinstance(ctx.msg, Request) else 1) if via == 3 else via
            vias = ctx.msg.vias
            branch = vias[number - 1].branch if len(vias) >= number else None
            if not branch:
                log.error("can't get Via branch")
                return False, None
            return True, branch
        if extra and self.extra_id is not None:
            return True, self.extra_id(ctx) or None
        return True, None
