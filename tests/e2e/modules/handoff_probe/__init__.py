"""A test module that hands every request to another worker, to show handoffs travel between workers.

    loadpath "tests/e2e/modules"
    loadmodule "handoff_probe"
    request_route { hand_to_the_next_worker(); reply_with_rank(); }

`hand_to_the_next_worker()` returns a `Handoff` to worker `rank % workers + 1` (and stops the script);
on the worker that gets the message handed over it returns -1, so the script goes on to
`reply_with_rank()`, which answers 200 "worker R got it handed over" (or "worker R" when not).
"""
from __future__ import annotations

from typing import Any

from kampy.api import CoreAPI, Exports, Function, Handoff, MessageContext, Module, RouteType, build_response


class HandoffProbe(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)

    def hand_to_the_next_worker(self, ctx: MessageContext) -> int:
        if ctx.handed_off:
            return -1
        ctx.send(Handoff(self.core.rank % self.core.workers + 1, ctx.msg.raw, ctx.src))  # type: ignore[arg-type]
        return 0

    def reply_with_rank(self, ctx: MessageContext) -> int:
        reason = f"worker {self.core.rank}" + (" got it handed over" if ctx.handed_off else "")
        self.core.send_reply(ctx, build_response(ctx.msg, 200, reason, to_tag="probe"))  # type: ignore[arg-type]
        return 0


EXPORTS = Exports(
    name="handoff_probe",
    doc="Hands requests to another worker (tests of the network layer).",
    functions=(
        Function("hand_to_the_next_worker", routes=RouteType.REQUEST,
                 doc="Hand the request to worker rank % workers + 1; -1 on the worker it was handed to."),
        Function("reply_with_rank", routes=RouteType.REQUEST, doc="200 naming this worker's rank."),
    ),
    factory=HandoffProbe,
)
