"""The RPCs on transactions with several workers: a transaction lives in the worker that created it,
so the worker serving tm.list (tm.cancel, tm.reply ...) asks every other worker for its part
(`core.call_worker`) and answers once all have answered, or after GATHER_TIMEOUT with the parts it
has (Kamailio's table is in shared memory: one process sees every transaction)."""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.api import CoreAPI, RpcDelayed, RpcFault

from .base import TmBase, log

GATHER_CALL, ANSWER_CALL = "tm.rpc", "tm.rpc_answer"
GATHER_TIMEOUT = 2.0

Answer = dict[str, Any]  # {"ok": value} or {"fault": [code, text]}
Combine = Callable[[list[Answer]], Any]


@dataclass
class Pending:
    answer: RpcDelayed
    waiting: set[int]
    answers: list[Answer]
    combine: Combine
    timer: int | None = None


def first_ok(answers: list[Answer]) -> Any:
    """The value of the worker that found the transaction; else the most telling fault (one other
    than "not found", which every worker without the transaction answers)."""
    for ans in answers:
        if "ok" in ans:
            return ans["ok"]
    faults = [tuple(ans["fault"]) for ans in answers if "fault" in ans]
    worst = next((f for f in faults if f[0] == 500), faults[0] if faults else (500, "No response"))
    raise RpcFault(int(worst[0]), str(worst[1]))


class Gather(TmBase):
    """Running an RPC's part in every worker and putting the parts together."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self._pending: dict[int, Pending] = {}
        self._gather_ids = itertools.count(1)
        core.on_worker_call(GATHER_CALL, self._gather_call)
        core.on_worker_call(ANSWER_CALL, self._gather_answer)

    def _local_part(self, op: str, args: list[Any]) -> Answer:
        raise NotImplementedError  # rpc_tm.py

    def _everywhere(self, op: str, args: list[Any], combine: Combine) -> Any:
        """`op` run here and in every other worker, the answers combined: at once with one worker,
        else an answer that comes when the others have answered."""
        local = self._local_part(op, args)
        others = {rank for rank in range(1, self.core.workers + 1) if rank != self.core.rank}
        if not others:
            return combine([local])
        gid = next(self._gather_ids)
        pending = Pending(RpcDelayed(), others, [local], combine)
        self._pending[gid] = pending
        request = json.dumps({"id": gid, "from": self.core.rank, "op": op, "args": args}).encode()
        for rank in sorted(others):
            self.core.call_worker(rank, GATHER_CALL, request)
        pending.timer = self.core.call_at(self._now() + GATHER_TIMEOUT, lambda: self._gather_done(gid))
        return pending.answer

    def _gather_call(self, data: bytes) -> None:
        """Another worker's RPC: this worker's part, sent back."""
        try:
            request = json.loads(data)
            answer = self._local_part(str(request["op"]), list(request["args"]))
            reply = json.dumps({"id": request["id"], "rank": self.core.rank, **answer}).encode()
        except (ValueError, KeyError, TypeError):
            log.error("tm: bad RPC call from another worker: %r", data[:100])
            return
        self.core.call_worker(int(request["from"]), ANSWER_CALL, reply)

    def _gather_answer(self, data: bytes) -> None:
        try:
            answer = json.loads(data)
            gid, rank = int(answer.pop("id")), int(answer.pop("rank"))
        except (ValueError, KeyError, TypeError):
            log.error("tm: bad RPC answer from another worker: %r", data[:100])
            return
        pending = self._pending.get(gid)
        if pending is None or rank not in pending.waiting:
            return  # too late: answered without it
        pending.waiting.discard(rank)
        pending.answers.append(answer)
        if not pending.waiting:
            self._gather_done(gid)

    def _gather_done(self, gid: int) -> None:
        pending = self._pending.pop(gid, None)
        if pending is None:
            return
        if pending.timer is not None and pending.waiting:
            log.warning("tm: workers %s did not answer the RPC in time", sorted(pending.waiting))
        if pending.timer is not None and not pending.waiting:
            self.core.cancel_timer(pending.timer)
        try:
            pending.answer.resolve(pending.combine(pending.answers))
        except RpcFault as fault:
            pending.answer.fail(fault.code, fault.message)
