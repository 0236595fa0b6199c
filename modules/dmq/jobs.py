"""The DMQ workers' job queues (Kamailio's dmq/worker.c): dmq_handle_message() queues a copy of
the KDMQ request for the least busy worker; each worker process takes its jobs in order, runs
the peer's callback and answers the request itself."""
from __future__ import annotations

from dataclasses import dataclass

from kampy.api import MessageContext, SharedStore

SCHEMA = """CREATE TABLE IF NOT EXISTS dmq_job (
    id INTEGER PRIMARY KEY AUTOINCREMENT, worker INTEGER, peer TEXT, data BLOB, proto TEXT, ip TEXT,
    port INTEGER, local TEXT, conn_id INTEGER)"""


@dataclass(frozen=True)
class Job:
    """A queued KDMQ request and where it came from."""

    peer: str
    data: bytes
    proto: str
    ip: str
    port: int
    local: str
    conn_id: int | None


class JobQueues:
    """One queue per worker, in the shared store (Kamailio's job_queue_t in shared memory)."""

    def __init__(self, shared: SharedStore, workers: int) -> None:
        self.shared = shared
        self.workers = workers
        shared.execute(SCHEMA)

    def push(self, ctx: MessageContext, peer: str) -> None:
        """add_dmq_job: to the first worker with an empty queue, else to the least busy one."""
        src = ctx.src
        with self.shared.transaction():
            sizes = dict(self.shared.query("SELECT worker, COUNT(*) FROM dmq_job GROUP BY worker"))
            worker = min(range(self.workers), key=lambda i: (sizes.get(i, 0) > 0, sizes.get(i, 0), i))
            self.shared.execute(
                "INSERT INTO dmq_job (worker, peer, data, proto, ip, port, local, conn_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (worker, peer, ctx.msg.raw, src.proto, src.ip, src.port, str(src.local), src.conn_id))

    def pop(self, worker: int) -> Job | None:
        """The worker's next job; a look without the writers' lock first (a worker looks often)."""
        if not self.pending(worker):
            return None
        with self.shared.transaction():
            rows = self.shared.query(
                "SELECT id, peer, data, proto, ip, port, local, conn_id FROM dmq_job WHERE worker = ? "
                "ORDER BY id LIMIT 1", (worker,))
            if not rows:
                return None
            row = rows[0]
            self.shared.execute("DELETE FROM dmq_job WHERE id = ?", (row[0],))
        return Job(row[1], bytes(row[2]), row[3], row[4], int(row[5]), row[6], row[7])

    def pending(self, worker: int) -> bool:
        return bool(self.shared.query("SELECT 1 FROM dmq_job WHERE worker = ? LIMIT 1", (worker,)))
