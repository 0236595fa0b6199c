"""The implementation of the hello module: one instance per kampy process."""
from __future__ import annotations

from typing import Any

from kampy.api import L_DBG, Core, MessageContext, Module, SlAPI, log_at, module_logger

log = module_logger("hello")


def check_greeting(value: str) -> None:
    """Refuse a greeting that would break the reply (kampy reports it at the modparam line)."""
    if not value.strip() or any(c in value for c in "\r\n"):
        raise ValueError("greeting must be a non-empty single line")


class HelloModule(Module):
    def __init__(self, params: dict[str, Any], core: Core) -> None:
        super().__init__(params, core)  # mod_init: the parameters are final here
        self.greeting: str = params["greeting"]
        self.greeted = core.stats.register("hello", "greeted")
        self.ticks = core.stats.register("hello", "ticks")

    def say_hello(self, ctx: MessageContext, name: str) -> int:
        """hello(name): reply 200 "<greeting>, <name>" through sl."""
        text = f"{self.greeting}, {name}"
        sl: SlAPI = self.core.api("sl")
        if sl.reply(ctx, 200, text, extra_headers=[("X-Hello", text)]) < 0:
            return -1
        self.core.stats.inc(self.greeted)
        return 1

    def rpc_greeted(self) -> dict[str, int]:
        return {"greeted": self.core.stats.get(self.greeted)}

    def tick(self) -> None:
        self.core.stats.inc(self.ticks)
        log_at(log, L_DBG, "tick at %.0f", self.core.clock.time())
