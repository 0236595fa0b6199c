"""What usrloc offers nathelper's NAT keepalives (Kamailio's get_all_ucontacts, refresh_keepalive,
set_keepalive_timeout): the contacts to ping, in partitions by the hash slot of their AoR, and the
bookkeeping of which contacts still answer."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampy.api import PingContact, core_hash

from .storage import Partitions
from .ucontact import UContact

if TYPE_CHECKING:
    from .usrloc import Domain

DB_ONLY = 3


class KeepaliveMixin:
    """The keepalive part of UsrlocModule (its `domains`, `params`, `server_id`, `now()`)."""

    domains: dict[str, Domain]
    params: dict[str, Any]
    server_id: int
    partitions: Partitions
    keepalive_timeout: int = 0

    def now(self) -> int:
        raise NotImplementedError

    def set_max_partition(self, maximum: int) -> None:
        """Kamailio's ul_set_max_partition: rows inserted from now on get a `partition` below
        `maximum`, and db_mode 3 keepalives read partition `part_idx` of them."""
        self.partitions.max = max(0, int(maximum))

    def get_all_ucontacts(self, flags: int, part_idx: int, part_max: int,
                          server_id_only: bool = False) -> list[PingContact]:
        """Kamailio's get_all_ucontacts, all of `flags` set: in memory, the partition is the AoR's
        hash slot % part_max; in db_mode 3, the rows' `partition` column (get_all_db_ucontacts)."""
        now = self.now()
        size = 1 << int(self.params["hash_size"])
        found = []
        for domain in list(self.domains.values()):
            in_db = domain.mode == DB_ONLY and domain.table is not None
            if in_db:
                assert domain.table is not None
                contacts = domain.table.in_partition(part_idx if self.partitions.max > 0 else 0)
            else:
                contacts = domain.storage.all()
            for c in contacts:
                if domain.mode == DB_ONLY and not c.valid(now):
                    continue
                aorhash = core_hash(c.aor)
                if not in_db and part_max and (aorhash & (size - 1)) % part_max != part_idx:
                    continue
                if c.cflags & flags != flags:
                    continue
                if server_id_only and c.server_id != self.server_id:
                    continue
                if self._keepalive_lost(domain, c, now):
                    continue
                found.append(PingContact(c.contact, c.received, c.socket, c.cflags, c.path, c.ruid, aorhash))
        return found

    def _keepalive_lost(self, domain: Domain, c: UContact, now: int) -> bool:
        """A UDP contact silent for keepalive_timeout: it expires within 10 s (get_all_mem_ucontacts)."""
        timeout = self.keepalive_timeout
        if timeout <= 0 or not c.last_keepalive or domain.shared is None:
            return False
        if not (c.socket or "").lower().startswith("udp:") or c.last_keepalive + timeout >= now:
            return False
        if c.expires > now + 10:
            domain.shared.set_fields(c.ruid, expires=now + 10)
        return True

    def refresh_keepalive(self, aorhash: int, ruid: str) -> int:
        """ul_refresh_keepalive: the contact answered a keepalive now (memory only)."""
        for domain in list(self.domains.values()):
            if domain.shared is None:
                continue
            c = domain.shared.by_ruid(ruid)
            if c is not None and core_hash(c.aor) == aorhash:
                domain.shared.set_fields(ruid, last_keepalive=self.now())
                return 0
        return 0

    def set_keepalive_timeout(self, seconds: int) -> None:
        self.keepalive_timeout = int(seconds)
