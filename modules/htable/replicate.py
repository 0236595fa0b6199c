"""The changes htable replicates over DMQ (Kamailio's ht_dmq_action_t), and the hook the parts
of htable that change a table call (the replication itself is in dmq.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dmq import HtDmq
    from .table import HashTable

HT_DMQ_NONE, HT_DMQ_SYNC, HT_DMQ_SET_CELL, HT_DMQ_SET_CELL_EXPIRE, HT_DMQ_DEL_CELL, HT_DMQ_RM_CELL_RE, \
    HT_DMQ_RM_CELL_SW = range(7)


class Replicating:
    """What the parts of htable that change a table share: the change goes to the other nodes when
    the table has dmqreplicate=1 (and enable_dmq is on)."""

    ht_dmq: HtDmq | None = None

    def replicate(self, table: HashTable, action: int, cname: str | None, value: int | str | None = None,
                  mode: int = 0) -> None:
        if self.ht_dmq is not None and table.spec.dmqreplicate:
            self.ht_dmq.replicate(action, table.name, cname, value, mode)

    def replicate_setx(self, table: HashTable, cname: str, value: int | str, expire: int) -> None:
        """sht_setxs()/sht_setxi(): the value, then its expiry."""
        self.replicate(table, HT_DMQ_SET_CELL, cname, value, 1)
        self.replicate(table, HT_DMQ_SET_CELL_EXPIRE, cname, expire)
