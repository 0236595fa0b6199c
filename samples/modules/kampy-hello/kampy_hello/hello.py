"""The implementation of the hello module: one instance per kampy process."""
from __future__ import annotations

from typing import Any, Protocol

from kampy.api import L_DBG, CoreAPI, MessageContext, Module, SlAPI, log_at, module_logger

log = module_logger("hello")


class HelloAPI(Protocol):
    """What hello offers other modules: `core.api("hello")` in a module that declares
    `Need("hello", HelloAPI)`."""

    def greeting(self, name: str) -> str:
        """The greeting hello() would send to `name`."""
        ...


def check_greeting(value: str) -> None:
    """Refuse a greeting that would break the reply (kampy reports it at the modparam line)."""
    if not value.strip() or any(c in value for c in "\r\n"):
        raise ValueError("greeting must be a non-empty single line")


class HelloModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)  # mod_init: the parameters are final here
        self.sl: SlAPI = core.api("sl")  # declared: needs=(Need("sl", SlAPI),)
        self.greeting_word: str = params["greeting"]
        self.greeted = core.stats.register("hello", "greeted")
        self.ticks = core.stats.register("hello", "ticks")

    def greeting(self, name: str) -> str:
        return f"{self.greeting_word}, {name}"

    def say_hello(self, ctx: MessageContext, name: str) -> int:
        """hello(name): run event_route[hello:greeting] with the request (a `drop` there: no
        greeting, -1), then reply 200 through sl."""
        if self.core.run_event_route("hello:greeting", ctx) is False:
            return -1
        text = self.greeting(name)
        if self.sl.reply(ctx, 200, text, extra_headers=[("X-Hello", text)]) < 0:
            return -1
        self.core.stats.inc(self.greeted)
        return 1

    def rpc_greeted(self) -> dict[str, int]:
        return {"greeted": self.core.stats.get(self.greeted)}

    def tick(self) -> None:
        """The timer: count, then run event_route[hello:tick] (with Kamailio's faked message)."""
        self.core.stats.inc(self.ticks)
        log_at(log, L_DBG, "tick at %.0f", self.core.clock.time())
        self.core.run_event_route("hello:tick")
