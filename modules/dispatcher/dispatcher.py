"""The dispatcher module: destination sets, their selection, states and keepalives.

The sets live in one shared table (store.py) so that every worker chooses from the same states and
round-robin positions, as Kamailio's workers do from shared memory. Keepalives are sent by worker
rank 1 through tm's UAC API; their replies reach it whichever worker receives them.

DispatcherModule is put together from this file (loading, selecting, $dsv), callload.py (algorithm
10's call table), states.py (states and keepalives), checks.py (ds_is_from_list() and kin) and rpc.py.
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
    Socket,
    TmUacAPI,
    check_table_version,
    db_connect,
    grep_socket,
    module_logger,
)

from . import dslist
from .dslist import LoadError, skip_dst
from .dsdns import DestResolver
from .hashing import ds_get_hash
from .callload import CallLoad
from .checks import Checks
from .rpc import RpcMixin
from .states import States, parse_reply_codes
from .select import SETOP_DSTURI, SETOP_RURI, SETOP_XAVP, UNLIMITED, SelectState, manage_routes, update_dst
from .store import LAST, PING_KEY, RELOAD_KEY, Store

log = module_logger("dispatcher")

TABLE_VERSION = 4
PROTO_OF_ID = {1: "udp", 2: "tcp", 3: "tls", 4: "sctp", 5: "ws", 6: "wss"}


class DispatcherModule(CallLoad, States, Checks, RpcMixin, Module):
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


    # ------------------------------------------------------------ config functions: reload, $dsv

    def ds_reload(self, ctx: MessageContext) -> int:
        return -1 if self.reload() else 1

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


__all__ = ["DispatcherModule", "random"]
