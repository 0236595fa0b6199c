"""usrloc's timer: expired contacts are deleted (and told to the contact-expired callbacks), the
changes of db_mode 2 written back, and, with timer_procs, the work shared out among processes of
its own by the hash slot of the AoR, as Kamailio's mem_timer_udomain."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.api import SND_F_CON_CLOSE, SND_F_FORCE_CON_REUSE, CoreAPI, DBError, Outgoing, core_hash

from .errors import DBWriteError
from .ka import Keepalives
from .storage import STATE_NEW
from .ucontact import FL_MEM, UContact

if TYPE_CHECKING:
    import contextlib

    from .usrloc import Domain

log = logging.getLogger("kampy.usrloc")

NO_DB, WRITE_THROUGH, WRITE_BACK, DB_ONLY = 0, 1, 2, 3
UL_EXPIRED_TIME = 10  # the expires handle_lost_tcp gives a contact whose connection is gone


class ExpiryMixin:
    """The timer part of UsrlocModule."""

    core: CoreAPI
    params: dict[str, Any]
    domains: dict[str, Domain]
    db_mode: int
    rm_expired_delay: int
    handle_lost_tcp: bool
    close_expired_tcp: bool
    timer_procs: int
    _expired_callbacks: list[Callable[[str, UContact], None]]
    ka: Keepalives
    keepalive_timeout: int
    nat_flag: int
    server_id: int

    def now(self) -> int:
        raise NotImplementedError

    def lock(self, domain: str, aor: str | None = None) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def name_stat(self, domain: str, what: str) -> str:
        raise NotImplementedError

    def _expire_lost_tcp(self, dom: Domain, contacts: list[UContact]) -> list[UContact]:
        """handle_lost_tcp: a contact whose TCP connection is gone expires now, in memory (Kamailio
        sets its expires to UL_EXPIRED_TIME, 10); db_mode 3 keeps the rows as they are."""
        if dom.shared is None:
            return contacts
        out = []
        for c in contacts:
            if c.connection_id != -1 and c.expires != UL_EXPIRED_TIME \
                    and not self.core.tcp_connection_ok(c.connection_id):
                log.debug("usrloc: tcp connection has been lost, expiring contact %s", c.contact)
                c = dom.shared.set_fields(c.ruid, expires=UL_EXPIRED_TIME) or c
            out.append(c)
        return out

    def timer(self) -> None:
        """Every timer_interval, in one worker only (rank 1), unless timer_procs gives the work to
        processes of its own (`timer_part`)."""
        if self.core.rank != 1 or self.timer_procs > 0:
            return
        self._run_timer(None)

    def timer_part(self, index: int) -> None:
        """The timer of process `index` of timer_procs: the AoRs of the hash slots i with
        i % timer_procs == index (Kamailio's ul_local_timer); the write-back of db_mode 2 and the
        work on the table alone (db_mode 3, db_timer_clean) run in process 0."""
        self._run_timer(index)

    def _in_part(self, aor: str, part: int | None) -> bool:
        if part is None:
            return True
        size = 1 << int(self.params["hash_size"])
        return (core_hash(aor) & (size - 1)) % self.timer_procs == part

    def _run_timer(self, part: int | None) -> None:
        """Drop expired contacts, and in db_mode 2 write the changes back to the table."""
        now = self.now()
        first = part in (None, 0)
        for domain in list(self.domains.values()):
            try:
                self._expire(domain, now, part)
                if self.ka.mode and domain.shared is not None:
                    self._keepalives(domain, now, part)
                if self.db_mode == WRITE_BACK and first:
                    self._flush_domain(domain)
                if self.db_mode in (WRITE_THROUGH, WRITE_BACK) and int(self.params["db_timer_clean"]) \
                        and domain.table is not None and first:
                    domain.table.delete_expired(now - self.rm_expired_delay)
            except DBError as exc:
                log.error("usrloc timer on %s failed: %s", domain.name, exc)

    def _keepalives(self, domain: Domain, now: int, part: int | None) -> None:
        """ka_mode: a keepalive to the contacts of each AoR of this part (after the expiry, as
        mem_timer_udomain); with ka_timeout, one silent that long expires in 10 s instead."""
        assert domain.shared is not None
        by_aor: dict[str, list[UContact]] = {}
        for c in domain.storage.all():
            if self._in_part(c.aor, part):
                by_aor.setdefault(c.aor, []).append(c)
        timeout = self.keepalive_timeout
        for aor, contacts in by_aor.items():
            ping = []
            for c in contacts:
                if timeout > 0 and c.last_keepalive and c.last_keepalive + timeout < now \
                        and c.expires > now + 10:
                    domain.shared.set_fields(c.ruid, expires=now + 10)
                    continue
                ping.append(c)
            self.ka.send_for(aor, ping, self.nat_flag, self.server_id)

    def on_contact_expired(self, callback: Callable[[str, UContact], None]) -> None:
        self._expired_callbacks.append(callback)

    def _run_expired_callbacks(self, domain: Domain, c: UContact) -> None:
        for callback in self._expired_callbacks:
            try:
                callback(domain.name, c)
            except Exception:  # a callback's failure must not stop the expiry
                log.exception("usrloc: contact-expired callback failed (aor %s)", c.aor)

    def _expire(self, domain: Domain, now: int, part: int | None = None) -> None:
        gone: list[UContact] = []  # told to the contact-expired callbacks once no lock is held
        if self.handle_lost_tcp and domain.shared is not None:
            self._expire_lost_tcp(domain, [c for c in domain.storage.all() if self._in_part(c.aor, part)])
        if domain.mode == NO_DB and domain.shared is not None and not self._expired_callbacks \
                and part is None and not self.close_expired_tcp:
            # Nothing to keep in step: each record with an expired contact is rewritten once.
            count = domain.shared.delete_expired(now)
        elif domain.mode == DB_ONLY:
            if part not in (None, 0):
                return
            with domain.storage.lock():
                gone = domain.storage.expired(now - self.rm_expired_delay)
                for c in gone:
                    domain.delete(c)
            count = 0  # Kamailio's db_timer_udomain deletes the rows without counting them
        else:
            # One AoR at a time (Kamailio's timer locks slot by slot): saves in other workers never
            # wait for the whole expiry. In db_mode 1 each row is deleted from the table after the
            # shared store's lock is released; a failed delete is logged (wt_timer).
            count = 0
            for c in domain.storage.expired(now):
                if not self._in_part(c.aor, part):
                    continue
                current = None
                try:
                    with self.lock(domain.name, c.aor):
                        current = domain.storage.by_ruid(c.ruid)
                        if current is None or current.valid(now):
                            continue
                        domain.delete(current)
                except DBWriteError:
                    pass  # gone from memory all the same
                if current is not None:
                    gone.append(current)
                    count += 1
                    if self.close_expired_tcp and current.connection_id != -1:
                        self._close_connection(current)
        if count:
            self.core.stats.inc(self.name_stat(domain.name, "expires"), count)
            log.debug("usrloc: %d contacts expired in %s", count, domain.name)
        for c in gone:
            self._run_expired_callbacks(domain, c)

    def _close_connection(self, c: UContact) -> None:
        """close_expired_tcp: have the worker that owns the contact's connection close it (nothing
        is sent; by id alone: an id no longer open closes nothing, as Kamailio's close_connection)."""
        log.debug("usrloc: closing tcp connection %d of expired contact %s", c.connection_id, c.contact)
        self.core.send(Outgoing("tcp", "", 0, b"", None, c.connection_id,
                                SND_F_FORCE_CON_REUSE | SND_F_CON_CLOSE))

    def flush(self) -> None:
        for domain in self.domains.values():
            if self.db_mode == WRITE_BACK:
                self._flush_domain(domain)

    def _flush_domain(self, domain: Domain) -> None:
        shared, table = domain.shared, domain.table
        if shared is None or table is None:
            return
        changed, deleted = shared.pending()
        for ruid in deleted:
            table.delete_ruid(ruid)
            shared.forget_deleted(ruid)
        for state, c in changed:
            if c.flags & FL_MEM:
                continue
            if state == STATE_NEW:
                table.insert(c)
            else:
                table.update(c)
            shared.mark_synced(c, state)

