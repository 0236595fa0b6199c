"""Helpers for the pv/xlog tests: a context from a raw message and accessors from PV text."""
from __future__ import annotations

from typing import Any

from kampy.api import MessageContext, Socket, Source, parse_message
from kampy.config.pipeline import load_text
from kampy.runtime.core import Core
from kampy.runtime.engine import Engine

INVITE = (
    b"INVITE sip:alice@example.com:5080;transport=tcp SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2, SIP/2.0/UDP 10.0.0.3\r\n"
    b"From: \"Bob\" <sip:bob@b.com>;tag=123\r\n"
    b"To: <sip:alice@example.com>\r\n"
    b"Call-ID: abc@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Contact: <sip:bob@10.0.0.1:5060>\r\n"
    b"User-Agent: phone/1.0\r\n"
    b"X-Foo: one\r\n"
    b"X-Foo: two\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 5\r\n\r\nhello"
)

REPLY = (
    b"SIP/2.0 486 Busy Here\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    b"From: <sip:bob@b.com>;tag=123\r\n"
    b"To: <sip:alice@example.com>;tag=xyz\r\n"
    b"Call-ID: abc@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class FixedClock:
    def __init__(self, now: float = 1_700_000_000.25) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def make_ctx(raw: bytes = INVITE, core: Core | None = None) -> MessageContext:
    core = core or Core(clock=FixedClock(), sockets=[Socket("udp", "127.0.0.1", 5060),
                                                     Socket("tcp", "127.0.0.1", 5060)])
    return MessageContext(msg=parse_message(raw),
                          src=Source("udp", "127.0.0.1", 5070, Socket("udp", "127.0.0.1", 5060)),
                          core=core)


def module(ctx: MessageContext, params: dict[str, Any] | None = None) -> Any:
    """The pv module of the context's core, loaded (with `params` as modparams) by the route engine
    on first use, as a config with `loadmodule "pv.so"` loads it."""
    mod = ctx.core.modules.get("pv")  # type: ignore[attr-defined]
    if mod is None:
        lines = ['loadmodule "pv.so"']
        for name, value in (params or {}).items():
            for one in value if isinstance(value, list) else [value]:
                text = str(one) if isinstance(one, int) else f'"{one}"'
                lines.append(f'modparam("pv", "{name}", {text})')
        Engine(load_text("\n".join([*lines, "request_route { exit; }"]), "pv.cfg"), ctx.core)  # type: ignore[arg-type]
        mod = ctx.core.modules["pv"]  # type: ignore[attr-defined]
    return mod


class Spec:
    """A PV from text (with its transformations), resolved by the route engine as in a config."""

    def __init__(self, ctx: MessageContext, text: str) -> None:
        module(ctx)
        self.acc = ctx.core.pv_accessor(text)

    def get(self, ctx: MessageContext) -> Any:
        return self.acc.get(ctx)

    def set(self, ctx: MessageContext, value: Any) -> None:
        self.acc.set(ctx, value)


def get(ctx: MessageContext, text: str) -> Any:
    return Spec(ctx, text).get(ctx)


def put(ctx: MessageContext, text: str, value: Any) -> None:
    Spec(ctx, text).set(ctx, value)
