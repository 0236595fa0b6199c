"""usrloc: the location service registrar stores bindings in, with Kamailio's db_mode 0-3.

    ul = core.api("usrloc")
    with ul.lock("location"):
        record = ul.get_urecord("location", "alice")
        ul.insert_contact("location", UContact(aor="alice", contact="sip:alice@10.0.0.1", ruid=ul.new_ruid()))

db_mode 0 keeps bindings in the shared store only; 1 writes every change through to the `location`
table too; 2 writes back the changes every `timer_interval`; 3 keeps them in the table only. Modes 1
and 2 load the table into the shared store when the first worker starts.

In db_mode 1 a change is made in the shared store under its writers' lock, and written to the table
as soon as that lock is released, still within the call that made it (`ul.lock()`'s block, or the
single insert/update/delete): a slow database never holds the lock every worker's shared-store
writes take. The AoR's slot lock (`slots.SlotLocks`, Kamailio's lock_udomain) is held from before the
change until its database write is done, so the writes of one AoR reach the table in order. A failed
write is logged and leaves the binding in memory as Kamailio's insert/update/delete_ucontact do;
the caller gets `DBWriteError` (registrar answers 500).
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kampy.api import (
    CoreAPI,
    DBError,
    Database,
    MessageContext,
    Member,
    Module,
    RpcFault,
    check_table_version,
    grep_socket,
    core_hash,
    UlCallback,
    db_connect,
)

from .attrs import Attrs, AttrsTable, insert_attrs, stored_attrs
from .callbacks import CallbacksMixin
from .errors import DB_FAILED, DBWriteError
from .expiry import ExpiryMixin
from .ka import Keepalives
from .keepalive import KeepaliveMixin
from .slots import SlotLocks
from .storage import COLUMN_PARAMS, LocationTable, Partitions, SharedStorage, Storage, TableOptions
from .ucontact import (
    ALL_METHODS,
    FL_MEM,
    Q_UNSPECIFIED,
    RuidGenerator,
    UContact,
    q_float,
    q_from_float,
    sorted_contacts,
)

log = logging.getLogger("kampy.usrloc")

NO_DB, WRITE_THROUGH, WRITE_BACK, DB_ONLY = 0, 1, 2, 3
CONTACT_ONLY, CONTACT_CALLID, CONTACT_PATH, CONTACT_CALLID_ONLY = 0, 1, 2, 3
LOCATION_VERSION = 9
# A domain's shared table starts at 2^(hash_size + 8) index entries and doubles when full, up to
# this many (about 5.8 million AoRs of one contact; 512 MB of index)
MAX_TABLE_ENTRIES = 1 << 24

# What ul.add records as the binding's Call-ID, CSeq and User-Agent (ul_rpc.c).
RPC_CALLID = "dfjrewr12386fd6-343@kamailio.rpc"
RPC_PATH = "dummypath"
RPC_CSEQ = 1


class _Pending(threading.local):
    """This thread's db_mode 1 writes made in memory and not yet in the table."""

    depth = 0
    writes: list[tuple[str, LocationTable, UContact]]

    def __init__(self) -> None:
        self.writes = []


@dataclass
class URecord:
    """An AoR with its contacts in Kamailio's order (q, highest first)."""

    domain: str
    aor: str
    contacts: list[UContact]

    def valid_contacts(self, now: float) -> list[UContact]:
        return [c for c in self.contacts if c.valid(now)]


class Domain:
    """A usrloc domain (a table name such as "location"): where its bindings live in this db_mode."""

    def __init__(self, name: str, mode: int, shared: SharedStorage | None,
                 table: LocationTable | None, pending: _Pending | None = None) -> None:
        self.name = name
        self.mode = mode
        self.shared = shared
        self.table = table
        self.pending = pending

    @property
    def storage(self) -> Storage:
        store = self.shared if self.mode != DB_ONLY else self.table
        assert store is not None
        return store

    def insert(self, c: UContact) -> None:
        if self.shared is not None:
            self.shared.insert(c)
        self._write("insert", c)

    def update(self, c: UContact) -> None:
        if self.shared is not None:
            self.shared.update(c)
        self._write("update", c)

    def delete(self, c: UContact) -> None:
        if self.shared is not None:
            self.shared.delete(c)
        self._write("delete", c)

    def _write(self, op: str, c: UContact) -> None:
        """The table's part of a change: in db_mode 1 inside a write scope (`UsrlocModule._scope`),
        kept until the shared store's lock is released; otherwise now."""
        if self.table is None or self.mode not in (WRITE_THROUGH, DB_ONLY):
            return
        if self.mode == WRITE_THROUGH and self.pending is not None and self.pending.depth:
            self.pending.writes.append((op, self.table, c.copy()))
            return
        run_write(op, self.table, c)


def run_write(op: str, table: LocationTable, c: UContact) -> None:
    try:
        getattr(table, op)(c)
    except DBError as exc:
        log.error("usrloc: %s (aor %s, contact %s): %s", DB_FAILED[op], c.aor, c.contact, exc)
        raise DBWriteError(op, exc) from exc


class UsrlocModule(CallbacksMixin, ExpiryMixin, KeepaliveMixin, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.db_mode = int(params["db_mode"])
        if self.db_mode not in (NO_DB, WRITE_THROUGH, WRITE_BACK, DB_ONLY):
            raise ValueError(f"invalid db_mode {self.db_mode} (0, 1, 2 or 3)")
        self.use_domain = bool(params["use_domain"])
        self.desc_time_order = bool(params["desc_time_order"])
        self.matching_mode = int(params["matching_mode"])
        if self.matching_mode not in (CONTACT_ONLY, CONTACT_CALLID, CONTACT_PATH, CONTACT_CALLID_ONLY):
            raise ValueError(f"invalid matching_mode {self.matching_mode}")
        self.cseq_delay = int(params["cseq_delay"])
        self.nat_bflag = int(params["nat_bflag"])
        self.server_id = core.server_id
        self.rm_expired_delay = int(params["rm_expired_delay"])
        self.handle_lost_tcp = bool(params["handle_lost_tcp"])
        self.close_expired_tcp = bool(params["close_expired_tcp"])
        self.xavp_contact: str | None = params["xavp_contact"] or None
        self.timer_procs = max(0, int(params["timer_procs"]))
        self.ka = Keepalives(params, core)
        self.partitions = Partitions()  # set_max_partition
        if self.ka.mode != 0 and self.timer_procs > 1:  # usrloc's own keepalives, one share per timer
            self.partitions.max = self.timer_procs
        self.table_options = self._table_options(params)
        self._ruids: RuidGenerator | None = None
        self._db: Database | None = None
        self.domains: dict[str, Domain] = {}
        self._pending = _Pending()
        self._slots: SlotLocks | None = None
        # ka_timeout, or nathelper's keepalive_timeout (set_keepalive_timeout)
        self.keepalive_timeout = max(0, int(params["ka_timeout"]))
        self._expired_callbacks: list[Callable[[str, UContact], None]] = []
        self._ulcbs: list[tuple[int, UlCallback]] = []
        core.stats.register_gauge("usrloc:registered_users", self._registered_users)
        if self.db_mode != NO_DB:
            if int(params["fetch_rows"]) <= 0:
                raise ValueError(f"invalid fetch_rows number '{params['fetch_rows']}'")
            self._open_db()
        for name in params["preload"] or ():
            self.register_domain(str(name))

    # ------------------------------------------------------------ set-up

    def _table_options(self, params: dict[str, Any]) -> TableOptions:
        return TableOptions(
            use_domain=self.use_domain,
            columns={name: str(params[param]) for param, name in COLUMN_PARAMS.items()},
            insert_update=bool(params["db_insert_update"]),
            update_as_insert=bool(params["db_update_as_insert"]),
            check_update=int(params["db_check_update"]) == 1, ops_ruid=bool(params["db_ops_ruid"]),
            matching_mode=self.matching_mode, expires_type=int(params["expires_type"]),
            insert_null=bool(params["db_insert_null"]),
            server_id=self.server_id if int(params["server_id_filter"]) else None,
            keep=self._local_socket if int(params["skip_remote_socket"]) else None)

    def _local_socket(self, c: UContact) -> bool:
        """skip_remote_socket: a row read from the table is used only when its socket is one of
        ours (or it has none), as Kamailio's dbrow2info()."""
        if not c.socket:
            return True
        proto, _, hostport = c.socket.partition(":")
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            log.error("usrloc: bad socket <%s>", c.socket)
            return False
        if grep_socket(self.core.sockets, host, int(port), proto) is not None:
            return True
        log.debug("usrloc: non-local socket <%s>...ignoring", c.socket)
        return False

    def _open_db(self) -> None:
        url = str(self.params["db_url"])
        try:
            self._db = db_connect(url, create_missing=True)
            if int(self.params["version_table"]):
                check_table_version(self._db, "location", LOCATION_VERSION)
        except DBError as exc:
            raise ValueError(f"db_mode {self.db_mode} needs the location table: {exc}") from exc

    @property
    def nat_flag(self) -> int:
        return 1 << self.nat_bflag if self.nat_bflag >= 0 else 0

    def register_domain(self, name: str) -> Domain:
        """Kamailio's register_udomain: the domain every save/lookup on table `name` uses."""
        domain = self.domains.get(name)
        if domain is not None:
            return domain
        shared = None
        stats = self.core.stats
        if self.db_mode != DB_ONLY:
            # kampy's own statistics: created at their first count, so `stats.get_statistics usrloc:`
            # lists Kamailio's alone until the table grows or fills
            full, grown = self.name_stat(name, "shm_full"), self.name_stat(name, "shm_grown")
            shared = SharedStorage(self.core.shared, name, write_back=self.db_mode == WRITE_BACK,
                                   capacity=1 << (int(self.params["hash_size"]) + 8),
                                   max_capacity=MAX_TABLE_ENTRIES, on_full=lambda: stats.inc(full),
                                   on_grow=lambda: stats.inc(grown))
        table = None if self._db is None else LocationTable(self._db, name, self.table_options,
                                                            self.partitions)
        if table is not None and self.xavp_contact:
            table.attrs = AttrsTable(table.db, name, self.use_domain, lambda: table._time(int(self.now())))
        domain = Domain(name, self.db_mode, shared, table, self._pending)
        self.domains[name] = domain
        stats.register_gauge(self.name_stat(name, "users"), lambda: domain.storage.count_aors())
        stats.register_gauge(self.name_stat(name, "contacts"), lambda: domain.storage.count_contacts())
        stats.register("usrloc", self.name_stat(name, "expires").partition(":")[2])
        if shared is not None and table is not None and int(self.params["db_load"]):
            self._preload(domain)
        return domain

    def name_stat(self, domain: str, what: str) -> str:
        """A domain's statistic, `<table><sep><what>` with the core's `stats_name_separator`
        (first character; default `_`), as Kamailio's build_stat_name()."""
        sep = str(self.core.core_params.get("stats_name_separator") or "_")
        return f"usrloc:{domain}{sep[0]}{what}"

    def _preload(self, domain: Domain) -> None:
        """Modes 1 and 2: load the table's rows into the shared store, once for all workers."""
        assert domain.shared is not None and domain.table is not None
        if not domain.shared.once("loaded"):
            return
        try:
            if int(self.params["db_clean_tcp"]):
                domain.table.delete_tcp()
            rows = domain.table.all()
            if domain.table.attrs is not None:
                domain.table.attrs.attach(rows, clean=True)
        except DBError as exc:
            raise ValueError(f"cannot load table {domain.name}: {exc}") from exc
        with domain.shared.lock():
            for c in rows:
                domain.shared.insert(c, state=0)
        log.info("usrloc: loaded %d contacts from table %s", len(rows), domain.name)

    def _registered_users(self) -> int:
        return sum(d.storage.count_aors() for d in self.domains.values())

    def child_init(self, rank: int) -> None:
        self._ruids = None  # a new pid: a new ruid prefix

    def destroy(self) -> None:
        if self.db_mode == WRITE_BACK and self.core.rank == 1:
            self.flush()
        if self._db is not None:
            self._db.close()
        if self._slots is not None:
            self._slots.close()

    @property
    def slot_locks(self) -> SlotLocks:
        if self._slots is None:
            self._slots = SlotLocks(f"{self.core.shared.path}.lock", int(self.params["hash_size"]))
        return self._slots

    @contextlib.contextmanager
    def _scope(self, dom: Domain, aor: str | None,
               inner: contextlib.AbstractContextManager[None]) -> Iterator[None]:
        """Run a change of `dom` inside `inner` (the shared store's transaction, or nothing). In
        db_mode 1 the AoR's slot is held throughout, and the table writes the change queued run
        after `inner` has ended (the shared store's lock released), before this returns; a nested
        scope joins the outer one. When the change fails, memory rolls back and nothing is written."""
        pending = self._pending
        if not self._writes_through(dom) or pending.depth:
            pending.depth += 1
            try:
                with inner:
                    yield
            finally:
                pending.depth -= 1
            return
        slots = self.slot_locks
        with slots.hold(None if aor is None else slots.slot(dom.name, aor)):
            pending.depth, pending.writes = 1, []
            try:
                with inner:
                    yield
            except BaseException:
                pending.writes = []
                raise
            finally:
                pending.depth = 0
            writes, pending.writes = pending.writes, []
            failed: DBWriteError | None = None
            for op, table, contact in writes:  # every one, as memory has them all
                try:
                    run_write(op, table, contact)
                except DBWriteError as exc:
                    failed = failed or exc
            if failed is not None:
                raise failed

    # ------------------------------------------------------------ API for registrar

    def now(self) -> int:
        return int(self.core.clock.time())

    def new_ruid(self) -> str:
        if self._ruids is None:
            self._ruids = RuidGenerator("uloc", self.core.clock.time(), self.server_id)
        return self._ruids.next()

    @staticmethod
    def new_contact(**fields: Any) -> UContact:
        return UContact(**fields)

    def contact_attrs(self, ctx: MessageContext) -> Attrs | None:
        return stored_attrs(ctx, self.xavp_contact)

    def restore_attrs(self, ctx: MessageContext, contact: UContact, index: int | None) -> None:
        if self.xavp_contact and contact.xavp is not None:
            insert_attrs(ctx, self.xavp_contact, contact.xavp, index)

    def domain(self, name: str) -> Domain:
        return self.register_domain(name)

    @staticmethod
    def _writes_through(dom: Domain) -> bool:
        """Whether a change of `dom` has table writes to order (db_mode 1): `_scope` is needed."""
        return dom.mode == WRITE_THROUGH and dom.table is not None

    def lock(self, domain: str, aor: str | None = None) -> contextlib.AbstractContextManager[None]:
        """Kamailio's lock_udomain: a read-modify-write of `aor`'s bindings (None: of any AoR) that
        no other worker interleaves with. In db_mode 1 the table is written when the block ends."""
        dom = self.domain(domain)
        if not self._writes_through(dom):  # no table writes to hold back: the storage's lock is all
            return dom.storage.lock()
        return self._scope(dom, aor, dom.storage.lock())

    def contacts(self, aor: str, domain: str = "location") -> list[UContact]:
        """Every contact of `aor` (expired ones too, until the timer removes them), best first."""
        dom = self.domain(domain)
        found = dom.storage.contacts(aor)
        if dom.mode == DB_ONLY and len(found) > 1:
            found = self._one_row_per_binding(dom, found)
        return sorted_contacts(found, self.desc_time_order)

    def _one_row_per_binding(self, dom: Domain, contacts: list[UContact]) -> list[UContact]:
        """db_mode 3: the table is the only store, and servers (or workers) that save one binding
        at the same moment each insert a row for it (Kamailio too). The row saved last stands for
        the binding; the others are deleted, so lookup forks once per device."""
        latest: dict[tuple[Any, ...], UContact] = {}
        for c in contacts:  # in insertion order: on a tie the later row wins
            key = self._binding_key(c)
            held = latest.get(key)
            if held is None or (c.last_modified, c.cseq) >= (held.last_modified, held.cseq):
                latest[key] = c
        kept = {id(c) for c in latest.values()}
        for c in contacts:
            if id(c) in kept or dom.table is None:
                continue
            log.info("usrloc: %s has two rows for contact %s: deleting the older (ruid %s)", c.aor,
                     c.contact, c.ruid)
            with contextlib.suppress(DBWriteError):  # logged; the next read tries again
                run_write("delete", dom.table, c)
        return [c for c in contacts if id(c) in kept]

    def _binding_key(self, c: UContact) -> tuple[Any, ...]:
        """What makes two rows the same binding, as save() matches them (matching_mode)."""
        if c.instance:
            return ("instance", c.instance, c.reg_id)
        mode = self.matching_mode
        if mode == CONTACT_CALLID_ONLY:
            return ("callid", c.callid)
        if mode == CONTACT_CALLID:
            return ("contact", c.contact, c.callid)
        if mode == CONTACT_PATH:
            return ("contact", c.contact, c.path or "")
        return ("contact", c.contact)

    def on_response(self, ctx: MessageContext) -> bool:
        """A reply to one of usrloc's keepalives (ka_mode) refreshes its contact; the reply goes
        on to the core either way, as Kamailio's ul_sip_reply_received."""
        if self.ka.mode:
            found = self.ka.reply(ctx)
            if found is not None:
                self.refresh_keepalive(found[0], found[1])
        return True

    def get_urecord(self, domain: str, aor: str) -> URecord | None:
        contacts = self.contacts(aor, domain)
        if self.handle_lost_tcp:
            contacts = self._expire_lost_tcp(self.domain(domain), contacts)
        return URecord(domain, aor, contacts) if contacts else None

    def record_of(self, domain: str, aor: str, stored: list[UContact]) -> URecord | None:
        """The record `get_urecord` would read back for contacts `stored` (in the order they were
        stored), for a caller that holds the domain's lock and just wrote them."""
        return URecord(domain, aor, sorted_contacts(stored, self.desc_time_order)) if stored else None

    def get_urecord_by_ruid(self, domain: str, ruid: str) -> tuple[URecord, UContact] | None:
        contact = self.domain(domain).storage.by_ruid(ruid)
        if contact is None:
            return None
        return URecord(domain, contact.aor, self.contacts(contact.aor, domain)), contact

    def insert_contact(self, domain: str, contact: UContact) -> UContact:
        if not contact.ruid:
            contact.ruid = self.new_ruid()
        if not contact.last_modified:
            contact.last_modified = self.now()
        contact.last_keepalive = self.now()  # new_ucontact's time(NULL)
        dom = self.domain(domain)
        self._change(dom, dom.insert, contact)
        self._inserted(domain, contact)
        return contact

    def update_contact(self, domain: str, contact: UContact) -> None:
        contact.last_keepalive = self.now()  # update_ucontact's time(NULL)
        dom = self.domain(domain)
        self._change(dom, dom.update, contact)
        self._updated(domain, contact)

    def delete_contact(self, domain: str, contact: UContact) -> None:
        dom = self.domain(domain)
        self._change(dom, dom.delete, contact)
        self._deleted(domain, contact)

    def _change(self, dom: Domain, apply: Callable[[UContact], None], contact: UContact) -> None:
        """One insert, update or delete of `dom`; in db_mode 1 in a write scope of its own (or the
        caller's), so that its table write is ordered and happens outside the shared store's lock."""
        if not self._writes_through(dom):
            apply(contact)
            return
        with self._scope(dom, contact.aor, contextlib.nullcontext()):
            apply(contact)

    def delete_urecord(self, domain: str, aor: str) -> int:
        """Remove every contact of `aor`; returns how many there were."""
        dom = self.domain(domain)
        with self.lock(domain, aor):
            contacts = dom.storage.contacts(aor)
            for c in contacts:
                dom.delete(c)
        for c in contacts:
            self._deleted(domain, c)
        return len(contacts)

    def get_ucontact(self, record: URecord | None, uri: str, callid: str, path: str | None, cseq: int,
                     instance: str | None = None, reg_id: int = 0) -> tuple[int, UContact | None]:
        """Kamailio's get_ucontact_by_instance: (0, contact) found, (1, None) not found, (-1, c) found
        with an older CSeq (or the same one after cseq_delay), (-2, c) the same CSeq, a retransmission."""
        if record is None:
            return 1, None
        if instance:
            wanted = _strip_angles(instance)
            for c in record.contacts:
                if c.instance and c.reg_id == reg_id and _strip_angles(c.instance) == wanted:
                    return 0, c
            return 1, None
        found = self._match(record.contacts, uri, callid, path)
        if found is None:
            return 1, None
        if self.matching_mode == CONTACT_CALLID or found.callid == callid:
            if cseq < found.cseq:
                return -1, found
            if cseq == found.cseq:
                return (-2 if found.last_modified + self.cseq_delay > self.now() else -1), found
        return 0, found

    def _match(self, contacts: list[UContact], uri: str, callid: str, path: str | None) -> UContact | None:
        mode = self.matching_mode
        for c in contacts:
            if mode == CONTACT_CALLID_ONLY:
                hit = c.callid == callid
            elif mode == CONTACT_CALLID:
                hit = c.contact == uri and c.callid == callid
            elif mode == CONTACT_PATH and path is not None:
                hit = c.contact == uri and (c.path or "") == path
            else:
                hit = c.contact == uri
            if hit:
                return c
        return None

    # ------------------------------------------------------------ timer

    # ------------------------------------------------------------ RPC

    def _rpc_domain(self, table: str) -> Domain:
        domain = self.domains.get(table)
        if domain is None:
            raise RpcFault(500, "Domain table not found")
        return domain

    def _rpc_aor(self, aor: str) -> str:
        user, at, _ = aor.partition("@")
        if self.use_domain:
            if not at:
                raise RpcFault(500, "Domain missing in AOR")
            fixed = aor
        else:
            fixed = user
        if not self.core.aor_case_sensitive:
            fixed = fixed.lower()
        return fixed

    def contact_info(self, c: UContact, now: int) -> dict[str, Any]:
        """One contact as ul.dump and ul.lookup show it (rpc_dump_contact)."""
        if c.expires == 0:
            expires: int | str = "permanent"
        elif c.expires <= now:
            expires = "expired"
        else:
            expires = c.expires - now
        state = "CS_SYNC" if self.db_mode != NO_DB else "CS_NEW"
        return {"Address": c.contact, "Expires": expires, "Q": q_float(c.q), "Call-ID": c.callid,
                "CSeq": c.cseq, "User-Agent": c.user_agent, "Received": c.received or "[not set]",
                "Path": c.path or "[not set]", "State": state, "Flags": c.flags, "CFlags": c.cflags,
                "Socket": c.socket or "[not set]", "Methods": c.methods, "Ruid": c.ruid,
                "Instance": c.instance or "[not set]", "Reg-Id": c.reg_id, "Server-Id": c.server_id,
                "Tcpconn-Id": c.connection_id, "Keepalive": c.keepalive,
                "Last-Keepalive": c.last_keepalive or c.last_modified,
                "KA-Roundtrip": 0, "Last-Modified": c.last_modified}

    def rpc_dump(self, brief: str = "") -> dict[str, Any]:
        now = self.now()
        domains = []
        for domain in reversed(self.domains.values()):  # Kamailio prepends each new domain
            by_aor: dict[str, list[UContact]] = {}
            for c in domain.storage.all():
                by_aor.setdefault(c.aor, []).append(c)
            aors: list[dict[str, Any]] = []
            for aor, contacts in by_aor.items():
                if brief == "brief":
                    aors.append(Member("AoR", aor))
                    continue
                ordered = sorted_contacts(contacts, self.desc_time_order)
                aors.append(Member("Info", {"AoR": aor, "HashID": core_hash(aor), "Contacts": [
                    Member("Contact", self.contact_info(c, now)) for c in ordered]}))
            size = 1 << int(self.params["hash_size"])
            slots: dict[int, int] = {}
            for aor in by_aor:
                slot = core_hash(aor) & (size - 1)
                slots[slot] = slots.get(slot, 0) + 1
            domains.append(Member("Domain", {"Domain": domain.name, "Size": size, "AoRs": aors,
                                             "Stats": {"Records": len(by_aor),
                                                       "Max-Slots": max(slots.values(), default=0)}}))
        return {"Domains": domains}

    def rpc_lookup(self, table: str, aor: str) -> dict[str, Any]:
        domain = self._rpc_domain(table)
        aor = self._rpc_aor(aor)
        record = self.get_urecord(domain.name, aor)
        if record is None:
            raise RpcFault(500, "AOR not found in location table")
        now = self.now()
        contacts = [Member("Contact", self.contact_info(c, now)) for c in record.valid_contacts(now)]
        if not contacts:
            raise RpcFault(500, "AOR has no contacts")
        return {"AoR": aor, "Contacts": contacts}

    def rpc_rm(self, table: str, aor: str) -> None:
        domain = self._rpc_domain(table)
        try:
            self.delete_urecord(domain.name, self._rpc_aor(aor))
        except DBError as exc:
            raise RpcFault(500, "Failed to delete AOR") from exc

    def rpc_rm_contact(self, table: str, aor: str, contact: str) -> None:
        domain = self._rpc_domain(table)
        aor = self._rpc_aor(aor)
        with self.lock(domain.name, aor):
            record = self.get_urecord(domain.name, aor)
            if record is None:
                raise RpcFault(404, "AOR not found")
            code, found = self.get_ucontact(record, contact, RPC_CALLID, RPC_PATH, RPC_CSEQ + 1)
            if code < 0:
                raise RpcFault(500, "Internal error (can't get contact)")
            if found is None:
                raise RpcFault(404, "Contact not found")
            self.delete_contact(domain.name, found)

    def rpc_flush(self) -> None:
        self.flush()

    def rpc_add(self, table: str, aor: str, contact: str, expires: int, q: float, path: str,
                flags: int, cflags: int, methods: int, received: str = "", socket: str = "") -> None:
        domain = self._rpc_domain(table)
        aor = self._rpc_aor(aor)
        now = self.now()
        with self.lock(domain.name, aor):
            record = self.get_urecord(domain.name, aor)
            code, found = self.get_ucontact(record, contact, RPC_CALLID, RPC_PATH, RPC_CSEQ + 1)
            if code < 0:
                raise RpcFault(500, "Can't get record")
            values = dict(expires=int(expires) + now if int(expires) else 0, q=q_from_float(float(q)),
                          path=_rpc_value(path), flags=int(flags), cflags=int(cflags),
                          methods=int(methods) & ALL_METHODS, received=_rpc_value(received),
                          socket=_rpc_value(socket), callid=RPC_CALLID, cseq=RPC_CSEQ,
                          user_agent="kampy SIP Router - RPC Server", last_modified=now,
                          connection_id=-1, server_id=self.server_id)
            if found is not None:
                self.update_contact(domain.name, found.copy(**values))
            else:
                self.insert_contact(domain.name, UContact(aor=aor, contact=contact, ruid=self.new_ruid(),
                                                          **values))  # type: ignore[arg-type]

    def _db_rows(self, table: str) -> list[UContact]:
        if self.db_mode == NO_DB or self._db is None:
            raise RpcFault(500, "Command is not supported in db_mode=0")
        try:
            return LocationTable(self._db, table, self.table_options).all()
        except DBError as exc:
            raise RpcFault(500, "Failed to use table") from exc

    def rpc_db_users(self, table: str) -> int:
        now = self.now()
        return len({c.aor for c in self._db_rows(table) if c.valid(now)})

    def rpc_db_contacts(self, table: str) -> int:
        now = self.now()
        return sum(1 for c in self._db_rows(table) if c.valid(now))

    def rpc_db_expired_contacts(self, table: str) -> int:
        now = self.now()
        return sum(1 for c in self._db_rows(table) if not c.valid(now))


def _strip_angles(text: str) -> str:
    return text[1:-1] if len(text) > 1 and text[0] == "<" and text[-1] == ">" else text


def _rpc_value(value: str) -> str | None:
    """ul.add's optional strings: empty or "0" means unset (ul_rpc_is_param_set)."""
    return value if value and value not in ("0", ".") else None


__all__ = ["UsrlocModule", "URecord", "UContact", "Domain", "DBWriteError", "Q_UNSPECIFIED", "FL_MEM",
           "ALL_METHODS"]
