"""The dispatcher module: destination sets, their selection, states and keepalives.

The sets live in one shared table (store.py) so that every worker chooses from the same states and
round-robin positions, as Kamailio's workers do from shared memory. Keepalives are sent by worker
rank 1 through tm's UAC API; their replies reach it whichever worker receives them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kampy.api import (
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    PVar,
    Request,
    Response,
    SIPProtocolError,
    Socket,
    TmUacAPI,
    check_table_version,
    db_connect,
    grep_socket,
    module_logger,
    parse_uri,
)

from . import dslist
from .dslist import (
    DS_DISABLED_DST,
    DS_INACTIVE_DST,
    DS_PROBING_DST,
    DS_STATES_ALL,
    DS_TRYING_DST,
    LoadError,
    skip_dst,
)
from .dsdns import Address, DestResolver
from .hashing import ds_get_hash
from .rpc import RpcMixin
from .select import (
    SETOP_DSTURI,
    SETOP_RURI,
    SETOP_XAVP,
    UNLIMITED,
    SelectState,
    manage_routes,
    update_dst,
)
from .store import LAST, PING_KEY, RELOAD_KEY, Store

log = module_logger("dispatcher")

PROBE_NONE, PROBE_ALL, PROBE_INACTIVE, PROBE_ONLYFLAGGED = 0, 1, 2, 3
MATCH_NOPORT, MATCH_NOPROTO, MATCH_ACTIVE = 1, 2, 4
LOAD_INIT, LOAD_CONFIRMED = 0, 1
TABLE_VERSION = 4
PROTO_OF_ID = {1: "udp", 2: "tcp", 3: "tls", 4: "sctp", 5: "ws", 6: "wss"}


def parse_flags(text: str) -> int:
    """ds_parse_flags(): a/i/d/t/p letters as state bits, -1 for another letter."""
    flag = 0
    for ch in text:
        c = ch.lower()
        if c == "a":
            flag &= ~DS_STATES_ALL
        elif c == "i":
            flag |= DS_INACTIVE_DST
        elif c == "d":
            flag |= DS_DISABLED_DST
        elif c == "t":
            flag |= DS_TRYING_DST
        elif c == "p":
            flag |= DS_PROBING_DST
        else:
            return -1
    return flag


def parse_reply_codes(text: str) -> list[tuple[str, int]]:
    """ds_parse_reply_codes(): "code=202;class=3" as (kind, value) pairs."""
    codes: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, value = item.partition("=")
        name = name.strip().lower()
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"bad ds_ping_reply_codes item: {item}") from None
        if name == "code" and 100 <= number < 700:
            codes.append(("code", number))
        elif name == "class" and 1 <= number < 7:
            codes.append(("class", number))
        else:
            raise ValueError(f"bad ds_ping_reply_codes item: {item}")
    return codes


def check_reply_codes(value: str) -> None:
    parse_reply_codes(value)


class DispatcherModule(RpcMixin, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        p = params
        self.list_file = str(p["list_file"])
        self.db_url = str(p["db_url"] or "")
        self.table_name = str(p["table_name"])
        self.cols = [
            str(p[c]) for c in ("setid_col", "destination_col", "flags_col", "priority_col", "attrs_col")
        ]
        self.force_dst = int(p["force_dst"])
        self.flags = int(p["flags"])
        self.use_default = int(p["use_default"])
        self.xavp_dst = str(p["xavp_dst"] or "")
        self.xavp_dst_mode = int(p["xavp_dst_mode"])
        self.xavp_ctx = str(p["xavp_ctx"] or "")
        self.xavp_ctx_mode = int(p["xavp_ctx_mode"])
        hash_pvar = str(p["hash_pvar"] or "")
        self.hash_pvar: Callable[[MessageContext], str] | None = (
            core.formatter(hash_pvar) if hash_pvar else None
        )
        self.setid_pv = self._writable_pv(p["setid_pvname"], "setid_pvname")
        self.attrs_pv = self._writable_pv(p["attrs_pvname"], "attrs_pvname")
        self.ping_method = str(p["ds_ping_method"])
        self.ping_from = str(p["ds_ping_from"])
        self.ping_interval = int(p["ds_ping_interval"])
        self.latency_stats = int(p["ds_ping_latency_stats"])
        alpha = int(p["ds_latency_estimator_alpha"])
        if 0 < alpha < 1000:
            self.alpha = alpha / 1000.0
        else:
            log.error("invalid ds_latency_estimator_alpha must be between 0 and 1000, using default[0.900]")
            self.alpha = 0.9
        self.reply_codes = parse_reply_codes(str(p["ds_ping_reply_codes"] or ""))
        self.probing_mode = int(p["ds_probing_mode"])
        self.hash_size = int(p["ds_hash_size"])
        self.hash_expire = int(p["ds_hash_expire"])
        self.hash_initexpire = int(p["ds_hash_initexpire"])
        self.outbound_proxy = str(p["outbound_proxy"] or "")
        self.attrs_none = bool(int(p["ds_attrs_none"]))
        self.extra_attrs = self._extra_attrs(str(p["ds_db_extra_attrs"] or ""))
        self.load_mode = int(p["ds_load_mode"])
        self.reload_delta = int(p["reload_delta"])
        self.dns_mode = int(p["ds_dns_mode"])
        self.dns = DestResolver(core, self.dns_mode, int(p["ds_dns_ttl"]))
        self.default_socket = self._default_socket(
            str(p["ds_default_sockname"] or ""), str(p["ds_default_socket"] or "")
        )
        self.tm: TmUacAPI | None = core.api("tm")
        if self.ping_interval > 0 and self.tm is None:
            raise ValueError("could not load the TM-functions - disable DS ping")
        self.rctx: dict[str, Any] | None = None
        capacity = max(1 << 12, 2 << self.hash_size if self.hash_size > 0 else 0)
        self.store = Store(core.shared.table("dispatcher", capacity, max_capacity=1 << 22))
        if not self.store.has_list():
            with self.store.table.transaction():
                if not self.store.has_list():
                    data = self.load()
                    if data is None:
                        raise ValueError(
                            "no dispatching list loaded from file"
                            if not self.db_url
                            else "could not initiate a connect to the database"
                        )
                    self.store.replace(data)
                    self.store.set_int(PING_KEY, 1)

    # ------------------------------------------------------------ set-up helpers

    def fix_int(self, value: str) -> int:
        """GET_VALUE / fixup_get_ivalue(): an integer, else the call fails (no value, not a number)."""
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"no integer value in [{text}]") from None

    def _writable_pv(self, name: Any, param: str) -> Any:
        if not name:
            return None
        try:
            accessor = self.core.pv_accessor(str(name))
        except (LookupError, ValueError) as exc:
            raise ValueError(f"[{name}]- invalid {param}: {exc}") from None
        if not hasattr(accessor, "set"):
            raise ValueError(f"[{name}]- invalid {param}")
        return accessor

    @staticmethod
    def _extra_attrs(text: str) -> list[tuple[str, str]]:
        if len(text) <= 2:
            return []
        pairs = []
        for item in filter(None, text.rstrip(";").split(";")):
            name, _, column = item.partition("=")
            if not column.strip():
                raise ValueError("invalid db extra attrs parameter")
            pairs.append((name.strip(), column.strip()))
        return pairs

    def _default_socket(self, sockname: str, text: str) -> str | None:
        if sockname:
            sock = self.socket_by_name(sockname)
            if sock is None:
                raise ValueError(f"non-local socket name <{sockname}>")
            log.info("default dispatcher socket set by name to <%s>", sockname)
            return sock
        if text:
            sock = self.socket_by_text(text)
            if sock is None:
                raise ValueError(f"non-local socket <{text}>")
            log.info("default dispatcher socket set to <%s>", text)
            return sock
        return None

    # ------------------------------------------------------------ sockets (kept as text in the store)

    def socket_by_name(self, name: str) -> str | None:
        found = next((s for s in self.core.sockets if s.name == name), None)
        return str(found) if found else None

    def socket_by_text(self, text: str) -> str | None:
        proto, host, port = _split_socket(text)
        found = grep_socket(self.core.sockets, host, port, proto)
        return str(found) if found else None

    def socket_of(self, text: str | None) -> Socket | None:
        if not text:
            return None
        proto, host, port = _split_socket(text)
        return grep_socket(self.core.sockets, host, port, proto, advertised_port=False)

    # a tiny adapter dslist.pack_dest asks for sockets through
    def by_name(self, name: str) -> str | None:
        return self.socket_by_name(name)

    def by_text(self, text: str) -> str | None:
        return self.socket_by_text(text)

    # ------------------------------------------------------------ loading

    def pack(self, uri: str, flags: int, priority: int, attrs: str, dload: int = 0) -> dict[str, Any]:
        dest = dslist.pack_dest(
            uri,
            flags,
            priority,
            attrs,
            attrs_none=self.attrs_none,
            resolve=self.dns.resolve if self.dns_mode & (dslist.DS_DNS_MODE_INIT | dslist.DS_DNS_MODE_TIMER)
            else None,
            sockets=self,
            dload=dload,
        )
        if dest["sock"] is None and self.default_socket:
            dest["sock"] = self.default_socket
        return dest

    def build(self, rows: list[tuple[int, str, int, int, str]]) -> dict[str, Any] | None:
        dests = []
        for setid, uri, flags, priority, attrs in rows:
            try:
                dests.append((setid, self.pack(uri, flags, priority, attrs)))
            except LoadError as exc:
                log.error("%s", exc)
                log.warning("unable to add destination %s to set %d -- skipping", uri, setid)
                if self.load_mode == 1:
                    return None
        return dslist.build_sets(dests)

    def load(self) -> dict[str, Any] | None:
        """ds_load_list() or ds_load_db(): a new list, None when it cannot be loaded."""
        if self.db_url:
            return self.load_db()
        try:
            text = Path(self.list_file).read_text(errors="replace")
        except OSError:
            log.error("can't open list file [%s]", self.list_file)
            return None
        try:
            rows = list(dslist.parse_list_file(text))
        except LoadError as exc:
            log.error("%s", exc)
            return None
        return self.build(rows)

    def load_db(self) -> dict[str, Any] | None:
        cols = [*self.cols, *(column for _, column in self.extra_attrs)]
        try:
            with db_connect(self.db_url, create_missing=True) as db:
                check_table_version(db, self.table_name, TABLE_VERSION)
                rows = db.query(self.table_name, cols)
        except DBError as exc:
            log.error("error while querying database: %s", exc)
            return None
        if not rows:
            log.warning("no dispatching data in the db -- empty destination set")
        loaded = []
        for row in rows:
            attrs = row[4] or ""
            if self.extra_attrs:
                if attrs and not attrs.endswith(";"):
                    attrs += ";"
                for (name, _), value in zip(self.extra_attrs, row[5:], strict=False):
                    if value:
                        attrs += f"{name}={value};"
            loaded.append((int(row[0]), str(row[1]), int(row[2] or 0), int(row[3] or 0), attrs))
        return self.build(loaded)

    def reload(self) -> str | None:
        """ds_reload(): None when done, else the fault text."""
        now = int(self.core.clock.time())
        last = self.store.get_int(RELOAD_KEY, 0)
        if last and last > now - self.reload_delta:
            log.error("ongoing reload")
            return "Ongoing reload"
        self.store.set_int(RELOAD_KEY, now)
        data = self.load()
        if data is None:
            return "Reload Failed"
        self.store.replace(data)
        return None

    # ------------------------------------------------------------ shared positions (round robin, weights)

    def next_round_robin(self, setid: int) -> int:
        nr = len(self.store.read()["sets"][str(setid)]["dests"])
        with self.store.positions(setid) as pos:
            hash_ = pos[LAST]
            pos[LAST] = (pos[LAST] + 1) % nr
            self._vlast = pos[LAST]
        return hash_

    def settle_round_robin(self, setid: int, chosen: int) -> None:
        """Round robin goes on after the one chosen, unless another worker moved it meanwhile."""
        nr = len(self.store.read()["sets"][str(setid)]["dests"])
        with self.store.positions(setid) as pos:
            if pos[LAST] == self._vlast:
                pos[LAST] = (chosen + 1) % nr

    def next_weight(self, setid: int, table: str, position: int) -> int:
        slots = self.store.read()["sets"][str(setid)][table]
        if not slots:
            return 0
        with self.store.positions(setid) as pos:
            hash_ = slots[pos[position] % len(slots)]
            pos[position] = (pos[position] + 1) % 100
        return hash_

    def latency_order(self, setid: int) -> tuple[int, list[int]]:
        """ds_manage_route_algo13(): round robin from `last`, sorted by priority lowered by latency."""
        dlist = self.store.read()["sets"][str(setid)]["dests"]
        nr = len(dlist)
        with self.store.positions(setid) as pos:
            z = pos[LAST]
            entries: list[list[int]] = []
            for _ in range(nr):
                dest = dlist[z]
                prio = dest["priority"]
                lat = dest["latency"]
                latency = int(lat["est"] - lat["avg"]) if dest["attrs"].get("cc") else int(lat["est"])
                if not skip_dst(dest["flags"]):
                    handicap = latency // prio if latency > prio and prio > 0 else 0
                    rprio = prio - handicap
                    if rprio < 1 and prio > 0:
                        rprio = 1
                    entries.append([z, rprio])
                else:
                    entries.append([-1, -1])
                z = (z + 1) % (nr - 1 if self.use_default and nr != 1 else nr)
            for _ in range(nr):  # ds_sorted_by_priority(): a stable bubble sort, highest first
                for ii in range(1, nr):
                    if entries[ii - 1][1] < entries[ii][1]:
                        entries[ii - 1], entries[ii] = entries[ii], entries[ii - 1]
            hash_ = entries[0][0] if nr else 0
            pos[LAST] = (hash_ + 1) % nr
        return hash_, [e[0] for e in entries]

    # ------------------------------------------------------------ call load (algorithm 10)

    def call_load_pick(self, ctx: MessageContext, setid: int) -> tuple[int, int]:
        """(index, algorithm): the least loaded destination, its load counted for the Call-ID."""
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method != "INVITE":
            return 0, 0
        if not self.xavp_dst:
            log.error("no dst xavp for load distribution - using first entry...")
            return 0, 0
        if self.hash_size <= 0:
            log.error("unable to update destination load - classic dispatching")
            return self._least_loaded(setid), 0
        callid = msg.call_id or ""
        with self.store.change() as data:
            dlist = data["sets"][str(setid)]["dests"]
            best = -1
            load = 0x7FFFFFFF
            for j, dest in enumerate(dlist):
                maxload = dest["attrs"].get("maxload") or 0
                if (
                    not skip_dst(dest["flags"])
                    and (maxload == 0 or dest["dload"] < maxload)
                    and dest["dload"] < load
                ):
                    best, load = j, dest["dload"]
            if best < 0:
                return -1, 10
            duid = dlist[best]["attrs"].get("duid")
            if not duid:
                log.error("dst unique id not set for %d (%s)", setid, callid)
                return best, 0
            if self.store.load_cell(callid) is not None:
                log.error("cannot add load to %d (%s)", setid, callid)
                return best, 0
            self._add_cell(callid, setid, duid)
            dlist[best]["dload"] += 1
        return best, 10

    def _least_loaded(self, setid: int) -> int:
        dlist = self.store.read()["sets"][str(setid)]["dests"]
        best, load = -1, 0x7FFFFFFF
        for j, dest in enumerate(dlist):
            maxload = dest["attrs"].get("maxload") or 0
            if (
                not skip_dst(dest["flags"])
                and (maxload == 0 or dest["dload"] < maxload)
                and dest["dload"] < load
            ):
                best, load = j, dest["dload"]
        return best

    def _add_cell(self, callid: str, setid: int, duid: str) -> None:
        now = self.core.clock.time()
        self.store.put_load_cell(
            callid, {"set": setid, "duid": duid, "state": LOAD_INIT, "expire": now + self.hash_initexpire}
        )

    @staticmethod
    def _find_duid(dlist: list[dict[str, Any]], duid: str) -> int:
        return next(
            (i for i, d in enumerate(dlist) if (d["attrs"].get("duid") or "").lower() == duid.lower()), -1
        )

    def load_replace(self, ctx: MessageContext, duid: str) -> int:
        """ds_load_replace(): the call's load moved to the destination `duid` (ds_next_dst)."""
        callid = ctx.msg.call_id or ""
        with self.store.change() as data:
            cell = self.store.load_cell(callid)
            if cell is None:
                log.error("cannot find load for (%s)", callid)
                return -1
            node = data["sets"].get(str(cell["set"]))
            if node is None:
                log.error("destination set [%d] not found", cell["set"])
                return -1
            old = self._find_duid(node["dests"], cell["duid"])
            new = self._find_duid(node["dests"], duid)
            if old == -1:
                log.warning("old destination address not found for [%d, %s]", cell["set"], cell["duid"])
            if new == -1:
                log.error("new destination address not found for [%d, %s]", cell["set"], duid)
                return -2
            self.store.del_load_cell(callid)
            if old != -1 and node["dests"][old]["dload"] > 0:
                node["dests"][old]["dload"] -= 1
            self._add_cell(callid, cell["set"], duid)
            node["dests"][new]["dload"] += 1
        return 0

    def load_remove(self, callid: str) -> int:
        with self.store.change() as data:
            cell = self.store.load_cell(callid)
            if cell is None:
                log.error("cannot find load for (%s)", callid)
                return -1
            node = data["sets"].get(str(cell["set"]))
            if node is None:
                log.error("destination set [%d] not found", cell["set"])
                return -1
            old = self._find_duid(node["dests"], cell["duid"])
            if old == -1:
                log.error("old destination address not found for [%d, %s]", cell["set"], cell["duid"])
                return -1
            if node["dests"][old]["dload"] > 0:
                node["dests"][old]["dload"] -= 1
            self.store.del_load_cell(callid)
        return 0

    def ht_timer(self) -> None:
        """ds_ht_timer(): calls whose cell expired (no BYE, or no 2xx in time) stop counting."""
        if self.core.rank != 1 or self.hash_size <= 0:
            return
        now = self.core.clock.time()
        for callid, cell in self.store.load_cells():
            if cell["expire"] < now:
                self.load_remove(callid)

    # ------------------------------------------------------------ config functions: selecting

    def _select(self, ctx: MessageContext, setid: int, alg: int, limit: int | None, mode: int) -> int:
        rs = SelectState(setid=setid, alg=alg, umode=mode, limit=_limit(limit))
        ret = manage_routes(self, ctx, rs)
        if ret < 0:
            return ret
        self._add_ctx_cnt(ctx, rs.cnt)
        return ret

    def _add_ctx_cnt(self, ctx: MessageContext, cnt: int) -> None:
        if not self.xavp_ctx_mode & 1 and self.xavp_ctx:
            ctx.xavps.setdefault(self.xavp_ctx, []).insert(0, {"cnt": [cnt]})

    def ds_select(self, ctx: MessageContext, setid: int, alg: int, limit: int | None = None) -> int:
        return self._select(ctx, setid, alg, limit, SETOP_XAVP)

    def ds_select_dst(self, ctx: MessageContext, setid: int, alg: int, limit: int | None = None) -> int:
        return self._select(ctx, setid, alg, limit, SETOP_DSTURI)

    def ds_select_domain(self, ctx: MessageContext, setid: int, alg: int, limit: int | None = None) -> int:
        return self._select(ctx, setid, alg, limit, SETOP_RURI)

    def ds_select_routes(self, ctx: MessageContext, rules: str, mode: str, limit: int = 0) -> int:
        """ki_ds_select_routes_limit(): "set=alg;set=alg" in turn, the first pushed as `mode` says."""
        rs = SelectState(limit=_limit(limit))
        vret = gret = -1
        i = 0
        n = len(rules)
        while i < n:
            rs.setid = 0
            while i < n:
                ch = rules[i]
                if not ch.isdigit():
                    if ch == "=":
                        i += 1
                        break
                    log.error("invalid character in [%s] at [%d]", rules, i)
                    return -1
                rs.setid = rs.setid * 10 + int(ch)
                i += 1
            rs.alg = 0
            while i < n:
                ch = rules[i]
                if not ch.isdigit():
                    if ch == ";":
                        i += 1
                        break
                    log.error("invalid character in [%s] at [%d]", rules, i)
                    return -1
                rs.alg = rs.alg * 10 + int(ch)
                i += 1
            rs.umode = SETOP_XAVP
            if rs.emode == 0:
                first = mode[:1]
                if first in ("0", "d", "D"):
                    rs.umode = SETOP_DSTURI
                elif first in ("1", "r", "R"):
                    rs.umode = SETOP_RURI
                elif first not in ("2", "x", "X"):
                    log.error("invalid routing mode parameter: %s", mode)
                    return -1
            vret = manage_routes(self, ctx, rs)
            if vret > 0:
                gret = vret
        if gret < 0:
            return vret
        self._add_ctx_cnt(ctx, rs.cnt)
        return gret

    def ds_next_dst(self, ctx: MessageContext) -> int:
        return update_dst(self, ctx, True, SETOP_DSTURI)

    def ds_next_domain(self, ctx: MessageContext) -> int:
        return update_dst(self, ctx, True, SETOP_RURI)

    def ds_set_dst(self, ctx: MessageContext) -> int:
        return update_dst(self, ctx, False, SETOP_DSTURI)

    def ds_set_domain(self, ctx: MessageContext) -> int:
        return update_dst(self, ctx, False, SETOP_RURI)

    # ------------------------------------------------------------ config functions: states

    def ds_mark_dst(self, ctx: MessageContext, state: str = "") -> int:
        if not state:
            flag = DS_INACTIVE_DST | (DS_PROBING_DST if self.probing_mode == PROBE_ALL else 0)
        else:
            flag = parse_flags(state)
            if flag < 0:
                log.warning("Failed to parse state flags: %s", state)
                return -1
        if not self.flags & 2:
            log.warning("failover support disabled")
            return -1
        if not self.xavp_dst:
            log.warning("no xavp name to store dst records")
            return -1
        items = ctx.xavps.get(self.xavp_dst) or []
        group = next((v[0] for v in (it.get("grp") for it in items) if v and isinstance(v[0], int)), None)
        uri = next((v[0] for v in (it.get("uri") for it in items) if v and isinstance(v[0], str)), None)
        if group is None or uri is None:
            return -1
        if isinstance(ctx.msg, Response):
            rctx = {"flags": 1, "code": ctx.msg.status, "reason": ctx.msg.reason}
        else:
            rctx = {"flags": 0, "code": 820, "reason": None}
        return 1 if self.update_state(ctx, group, uri, flag, rctx) == 0 else -1

    def update_state(
        self, ctx: MessageContext | None, group: int, uri: str, state: int, rctx: dict[str, Any]
    ) -> int:
        """ds_update_state(): the new state, the trying/inactive counters, dst-down/dst-up."""
        event = None
        with self.store.change() as data:
            node = data["sets"].get(str(group))
            if node is None:
                log.error("destination set [%d] not found", group)
                return -1
            dest = next((d for d in node["dests"] if d["uri"].lower() == uri.lower()), None)
            if dest is None:
                return -1
            old = dest["flags"]
            dest["flags"] &= ~DS_STATES_ALL
            init_state = state
            if state & DS_TRYING_DST and old & DS_INACTIVE_DST:
                state = (state & ~DS_TRYING_DST) | DS_INACTIVE_DST
            dest["flags"] |= DS_DISABLED_DST if state & DS_DISABLED_DST else state
            if state & DS_TRYING_DST:
                dest["message_count"] += 1
                if dest["message_count"] >= self._cfg_int("probing_threshold"):
                    dest["flags"] = (dest["flags"] & ~DS_TRYING_DST) | DS_INACTIVE_DST
                    dest["message_count"] = 0
            elif not init_state & DS_TRYING_DST and old & DS_INACTIVE_DST:
                dest["message_count"] += 1
                if dest["message_count"] < self._cfg_int("inactive_threshold"):
                    dest["flags"] |= DS_INACTIVE_DST
                    if old & DS_PROBING_DST:
                        dest["flags"] |= DS_PROBING_DST
                else:
                    dest["message_count"] = 0
            else:
                dest["message_count"] = 0
            if not skip_dst(old) and skip_dst(dest["flags"]):
                event = "dispatcher:dst-down"
            elif skip_dst(old) and not skip_dst(dest["flags"]):
                event = "dispatcher:dst-up"
            if (dest["attrs"].get("rweight") or 0) > 0 and event:
                node["rwlist"] = dslist.init_relative_weights(node["dests"])
        if event:
            self.run_route(ctx, dest["uri"], event, rctx)
        return 0

    def run_route(self, ctx: MessageContext | None, uri: str, name: str, rctx: dict[str, Any]) -> None:
        """ds_run_route(): the event route with the message, or Kamailio's faked one with the
        destination as its R-URI; $dsv(...) gives the reply that caused it."""
        if not self.core.has_route("event", name):
            return
        self.rctx = rctx
        try:
            if ctx is None:
                faked = self.core.faked_context()
                faked.new_ruri = uri
                self.core.run_event_route(name, faked)
                for out in faked.outbox:
                    self.core.send(out)
            else:
                self.core.run_event_route(name, ctx)
        finally:
            self.rctx = None

    def reinit_state(self, group: int, match: Callable[[dict[str, Any]], bool], state: int) -> bool:
        """ds_reinit_state()/ds_reinit_duid_state()/ds_reinit_state_all(): set without events."""
        with self.store.change() as data:
            node = data["sets"].get(str(group))
            if node is None:
                log.error("destination set [%d] not found", group)
                return False
            found = False
            for dest in node["dests"]:
                if not match(dest):
                    continue
                old = dest["flags"]
                dest["flags"] = (dest["flags"] & ~DS_STATES_ALL) | state
                if (dest["attrs"].get("rweight") or 0) > 0 and skip_dst(old) != skip_dst(dest["flags"]):
                    node["rwlist"] = dslist.init_relative_weights(node["dests"])
                found = True
            return found

    # ------------------------------------------------------------ config functions: checks

    def ds_list_exists(self, ctx: MessageContext, groupid: str) -> int:
        try:
            setid = int(groupid.strip())
        except ValueError:
            log.error("cannot get set id param value")
            return -2
        return 1 if str(setid) in self.store.read()["sets"] else -1

    def ds_is_active(self, ctx: MessageContext, setid: int, uri: str = "") -> int:
        node = self.store.read()["sets"].get(str(setid))
        if node:
            for dest in node["dests"]:
                if not skip_dst(dest["flags"]) and (not uri or dest["uri"] == uri):
                    return 1
        return -1

    def ds_is_from_list(
        self, ctx: MessageContext, setid: int = -1, mode: int | None = None, uri: str = ""
    ) -> int:
        if mode is None:
            mode = MATCH_NOPROTO
        if not uri:
            src = ctx.src
            ip, port, proto = src.ip, src.port, dslist.PROTO_IDS.get(src.proto, 0)
        else:
            try:
                parsed = parse_uri(uri)
            except SIPProtocolError:
                log.error("bad uri [%s]", uri)
                return -1
            # parse_uri(): no port written is 0, no transport parameter is PROTO_NONE
            found = self.dns.resolve(parsed.host or "", parsed.port or 0,
                                     dslist.PROTO_IDS.get(parsed.transport or "", 0))
            if found is None:
                log.error("could not resolve %s", parsed.host)
                return -1
            ip, port, proto = found
        data = self.store.read()
        groups = data["order"] if setid == -1 else [setid]
        for group in groups:
            node = data["sets"].get(str(group))
            if node is None:
                continue
            for dest in node["dests"]:
                if self._address_matches(dest, ip, port, proto, mode):
                    if setid == -1 and self.setid_pv is not None:
                        self.setid_pv.set(ctx, node["id"])
                    if self.attrs_pv is not None and dest["attrs"].get("body"):
                        self.attrs_pv.set(ctx, dest["attrs"]["body"])
                    return 1
        return -1

    def _address_matches(self, dest: dict[str, Any], ip: str, port: int, proto: int, mode: int) -> bool:
        if dest["noip"]:
            return False
        address, dest_port, dest_proto = dest["ip"], dest["port"], dest["proto"]
        if self.dns_mode & dslist.DS_DNS_MODE_ALWAYS:
            found = self.dns.resolve(dest["host"], dest_port, dest_proto)
            if found is None:
                log.warning("could not resolve %s (skipping)", dest["host"])
                return False
            address, dest_port, dest_proto = found
        if address is None or not _same_ip(address, ip):
            return False
        return (
            (mode & MATCH_NOPORT or dest_port == 0 or port == dest_port)
            and (mode & MATCH_NOPROTO or proto == dest_proto)
            and (not mode & MATCH_ACTIVE or not skip_dst(dest["flags"]))
        )

    # ------------------------------------------------------------ config functions: call load, reload

    def ds_load_update(self, ctx: MessageContext) -> int:
        msg = ctx.msg
        callid = msg.call_id
        if callid is None or msg.cseq is None:
            log.error("cannot parse cseq and callid headers")
            return -1
        if isinstance(msg, Request):
            if msg.method in ("BYE", "CANCEL"):
                self.load_remove(callid)
            return 1
        if msg.cseq.method == "INVITE" and msg.status // 100 == 2:
            with self.store.table.transaction():
                cell = self.store.load_cell(callid)
                if cell is not None:
                    cell["state"] = LOAD_CONFIRMED
                    cell["expire"] = self.core.clock.time() + self.hash_expire
                    self.store.put_load_cell(callid, cell)
        return 1

    def ds_load_unset(self, ctx: MessageContext) -> int:
        if not self.xavp_dst:
            return 1
        msg = ctx.msg
        if isinstance(msg, Request) and msg.method == "INVITE":
            if not any(it.get("dstid") for it in ctx.xavps.get(self.xavp_dst) or []):
                return 1
        return -1 if self.load_remove(msg.call_id or "") < 0 else 1

    def ds_reload(self, ctx: MessageContext) -> int:
        return -1 if self.reload() else 1

    # ------------------------------------------------------------ $dsv

    def pv_dsv(self, spec: PVar) -> Any:
        key = spec.arg or ""
        if key not in ("code", "reason", "flags"):
            raise ValueError(f"unknown PV key: {key}")
        module = self

        class Reader:
            def get(self, ctx: MessageContext) -> str | int | None:
                rctx = module.rctx
                if rctx is None:
                    return None
                return rctx.get(key) or (None if key == "reason" else 0)

        return Reader()

    # ------------------------------------------------------------ keepalives

    def ping_timer(self) -> None:
        """ds_check_timer(): probe the destinations the probing mode names, from rank 1 only."""
        if self.core.rank != 1 or not self.store.get_int(PING_KEY, 1):
            return
        data = self.store.read()
        for group in data["order"]:
            for dest in data["sets"][str(group)]["dests"]:
                if dest["flags"] & DS_DISABLED_DST or not self._should_ping(dest["flags"]):
                    continue
                self._ping(group, dest)

    def _should_ping(self, flags: int) -> bool:
        if self.probing_mode == PROBE_ALL:
            return True
        if self.probing_mode != PROBE_INACTIVE and flags & DS_PROBING_DST:
            return True
        return (
            self.probing_mode == PROBE_INACTIVE
            and bool(flags & DS_PROBING_DST)
            and bool(flags & DS_INACTIVE_DST)
        )

    def _ping(self, group: int, dest: dict[str, Any]) -> None:
        assert self.tm is not None
        attrs = dest["attrs"]
        uri = dest["uri"]
        ping_from = attrs.get("ping_from") or self.ping_from
        obproxy = attrs.get("obproxy") or self.outbound_proxy or None
        sock = self._ping_socket(dest)
        started = self.core.clock.monotonic()

        def on_reply(code: int, reply: Response | None) -> None:
            self.ping_reply(group, uri, code, reply, started)

        sent = self.tm.t_request(
            self.ping_method, uri, uri, ping_from, next_hop=obproxy, callback=on_reply, send_socket=sock
        )
        if sent < 0:
            log.error("unable to ping [%s] in group [%d]", uri, group)
            state = DS_TRYING_DST | (DS_PROBING_DST if self.probing_mode != PROBE_NONE else 0)
            if not dest["flags"] & DS_DISABLED_DST:
                self.update_state(
                    None, group, uri, state, {"flags": 0, "code": 500, "reason": "Sending keepalive failed"}
                )

    def _ping_socket(self, dest: dict[str, Any]) -> Socket | None:
        attrs = dest["attrs"]
        if attrs.get("sockname"):
            return self.socket_of(self.socket_by_name(attrs["sockname"]))
        if attrs.get("socket"):
            return self.socket_of(self.socket_by_text(attrs["socket"]))
        return self.socket_of(self.default_socket)

    def state_of(self, group: int, uri: str) -> int:
        node = self.store.read()["sets"].get(str(group))
        for dest in node["dests"] if node else ():
            if dest["uri"].lower() == uri.lower():
                return int(dest["flags"])
        return 0

    def ping_reply(self, group: int, uri: str, code: int, reply: Response | None, started: float) -> None:
        """ds_options_callback()."""
        if self.latency_stats:
            self.update_latency(group, uri, code, started)
        rctx = {
            "code": code,
            "flags": 1 if reply is not None else 0,
            "reason": reply.reason if reply is not None else None,
        }
        if self.probing_mode == PROBE_ONLYFLAGGED and not self.state_of(group, uri) & DS_PROBING_DST:
            return
        if 200 <= code <= 299 or self.reply_code_ok(code):
            state = 0
            if self.probing_mode == PROBE_ALL or (
                self.probing_mode == PROBE_ONLYFLAGGED and self.state_of(group, uri) & DS_PROBING_DST
            ):
                state |= DS_PROBING_DST
        else:
            state = DS_TRYING_DST | (DS_PROBING_DST if self.probing_mode != PROBE_NONE else 0)
        if not self.state_of(group, uri) & DS_DISABLED_DST:
            if self.update_state(None, group, uri, state, rctx) != 0:
                log.error("Setting the state failed (%s, group %d)", uri, group)

    def _cfg_int(self, name: str) -> int:
        """The threshold as the cfg framework has it now (cfg.set_now_int dispatcher ...)."""
        return int(self.core.cfg.get("dispatcher", name) or 0)

    def set_reply_codes(self, value: str | None) -> None:
        """ds_ping_reply_codes_update(): the codes read again when the cfg variable changes."""
        try:
            self.reply_codes = parse_reply_codes(str(value or ""))
        except ValueError as exc:
            log.error("%s", exc)

    def reply_code_ok(self, code: int) -> bool:
        return any(
            (kind == "code" and code == value) or (kind == "class" and code // 100 == value)
            for kind, value in self.reply_codes
        )

    def update_latency(self, group: int, uri: str, code: int, started: float) -> None:
        """ds_update_latency(): the pinged destination's latency statistics, and congestion control."""
        from .latency import update_latency

        latency_ms = int((self.core.clock.monotonic() - started) * 1000)
        with self.store.change() as data:
            node = data["sets"].get(str(group))
            if node is not None and update_latency(node, uri, code, latency_ms, self.alpha):
                node["rwlist"] = dslist.init_relative_weights(node["dests"])

    def dns_timer(self) -> None:
        """ds_dns_timer(): addresses resolved again (ds_dns_mode 4)."""
        if self.core.rank != 1 or not self.dns_mode & dslist.DS_DNS_MODE_TIMER:
            return
        data = self.store.read()
        for node in data["sets"].values():
            for dest in node["dests"]:
                if not dest["noip"] and dest["host"]:
                    self.dns.resolve_later(dest["host"], dest["port"], dest["proto"],
                                           lambda found, setid=node["id"], uri=dest["uri"], host=dest["host"]:
                                           self._resolved(setid, uri, host, found))

    def _resolved(self, setid: int, uri: str, host: str, found: Address | None) -> None:
        """ds_dns_update_set(): a destination's address as the DNS timer found it."""
        if found is None:
            log.error("could not resolve %s", host)  # the old address stays
            return
        with self.store.change() as data:
            node = data["sets"].get(str(setid))
            for dest in node["dests"] if node is not None else ():
                if dest["uri"] == uri:
                    dest["ip"], dest["port"], dest["proto"] = found
                    dest["dnstime"] = self.core.clock.time()

    # ------------------------------------------------------------ the API other modules use

    def hash_values(self, val1: str, val2: str | None) -> int:
        return ds_get_hash(val1, val2)


def _limit(limit: int | None) -> int:
    if limit is None:
        return UNLIMITED
    value = limit & 0xFFFFFFFF
    return UNLIMITED if value == 0 else value


def _split_socket(text: str) -> tuple[str | None, str, int | None]:
    """parse_phostport(): [proto:]host[:port]."""
    proto = None
    rest = text.strip()
    head, sep, tail = rest.partition(":")
    if sep and head.lower() in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
        proto, rest = head.lower(), tail
    port = None
    if rest.startswith("["):
        end = rest.find("]")
        host, after = rest[: end + 1], rest[end + 1 :]
        if after.startswith(":") and after[1:].isdigit():
            port = int(after[1:])
    else:
        host, _, p = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        if p.isdigit():
            port = int(p)
        else:
            host = rest
    return proto, host, port


def _same_ip(a: str, b: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a == b


__all__ = ["DispatcherModule", "random"]
