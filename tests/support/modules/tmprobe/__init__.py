"""tmprobe: a module for the tests that uses tm's API as acc, dialog and uac do: it registers
TMCB_REQUEST_IN (and TMCB_LOCAL_REQUEST_IN) in mod_init, the transaction callbacks `types` on each
new transaction from there, and callbacks on the message at hand from the script
(tmprobe_watch), and records every callback it gets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kampy.api as api
from kampy.api import (
    TMCB_LOCAL_REQUEST_IN,
    TMCB_REQUEST_IN,
    Arg,
    ArgKind,
    CoreAPI,
    Exports,
    Function,
    MessageContext,
    Module,
    Need,
    Param,
    RouteType,
    TmAPI,
    TmcbParams,
    TmTransaction,
)

NAMES = {value: name for name, value in vars(api).items()
         if name.startswith("TMCB_") and not name.endswith("_F") and name != "TMCB_MAX"}


@dataclass(frozen=True)
class Event:
    """One callback as the probe saw it."""

    type: str
    method: str         # t.method
    status: int         # t.status when it ran
    req: str | None     # params.req: its method
    rpl: int | None     # params.rpl: its status (None: no reply, Kamailio's FAKED_REPLY)
    code: int
    branch: int
    flags: int
    route: int | None   # params.ctx: the route type of the context it came with
    sent: str | None    # params.send_buf: its first line
    dst: tuple[str, str, int] | None


class TmProbe(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmAPI = core.api("tm")
        self.events: list[Event] = []
        self.transactions: list[TmTransaction] = []
        self.types = int(params["types"])
        if params["request_in"]:
            self.tm.register_tmcb(None, None, TMCB_REQUEST_IN, self.on_new)
        if params["local_request_in"]:
            self.tm.register_tmcb(None, None, TMCB_LOCAL_REQUEST_IN, self.on_new)

    def on_new(self, t: TmTransaction, kind: int, params: TmcbParams) -> None:
        self.record(t, kind, params)
        if self.types:
            self.tm.register_tmcb(None, t, self.types, self.record)

    def record(self, t: TmTransaction, kind: int, p: TmcbParams) -> None:
        sent = p.send_buf.split(b"\r\n", 1)[0].decode() if p.send_buf else None
        self.events.append(Event(NAMES[kind], t.method, t.status, p.req.method if p.req else None,
                                 p.rpl.status if p.rpl else None, p.code, p.branch, p.flags,
                                 int(p.ctx.route_type) if p.ctx else None, sent, p.dst))

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.type == name]

    def watch(self, ctx: MessageContext, types: int) -> int:
        """tmprobe_watch(types): the callbacks `types` on the transaction of the message at hand,
        or on the one t_newtran/t_relay will create for it."""
        return self.tm.register_tmcb(ctx, None, types, self.record)

    def keep(self, ctx: MessageContext) -> int:
        """tmprobe_t(): keep what t_gett() gives (-1 when the message has no transaction)."""
        t = self.tm.t_gett(ctx)
        if t is None:
            return -1
        self.transactions.append(t)
        return 1


EXPORTS = Exports(
    name="tmprobe",
    doc="Records tm's transaction callbacks (a test module).",
    params=(Param("types", (int,), 0), Param("request_in", (int,), 1), Param("local_request_in", (int,), 0)),
    functions=(
        Function("tmprobe_watch", args=(Arg("types", ArgKind.INT),), routes=RouteType.ANY, handler="watch"),
        Function("tmprobe_t", routes=RouteType.ANY, handler="keep"),
    ),
    needs=(Need("tm", TmAPI, doc="transaction callbacks, t_gett"),),
    factory=TmProbe,
)
