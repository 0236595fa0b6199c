"""What a stand-in function gets as `ctx`: the message being routed and a few things a module
function does with it (read headers, set `$ru`/`$du`, flags, AVPs and pseudo-variables, add a
header, send a reply).

    def auth_check(ctx, realm, table, flags):
        if ctx.header("Authorization") is None:
            ctx.reply(401, "Unauthorized", headers={"WWW-Authenticate": f'Digest realm="{realm}", nonce="1"'})
            return 0                      # 0 ends the script, as a module function's 0 does
        return 1
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kampy.runtime.context import MessageContext
from kampy.services import avp_add, avp_get, isflagset, pv_get, pv_set, resetflag, setflag
from kampy.sip.message import Request, Response
from kampy.testing.address import format_address


class StandInContext:
    """The message a stand-in function runs on (`msg`: the parsed request or reply, with
    `msg.method`, `msg.uri`, `msg.call_id`, `msg.from_`, `msg.to`, `msg.cseq`, `msg.body`, ...)."""

    def __init__(self, ctx: MessageContext) -> None:
        self.raw = ctx  # the core's own context: its fields may change between kampy versions

    @property
    def msg(self) -> Request | Response:
        return self.raw.msg

    @property
    def method(self) -> str:
        """The request's method, or the CSeq method of a reply."""
        msg = self.raw.msg
        if isinstance(msg, Request):
            return msg.method
        return msg.cseq.method if msg.cseq else ""

    @property
    def is_request(self) -> bool:
        return isinstance(self.raw.msg, Request)

    @property
    def status(self) -> int | None:
        """A reply's status code (None for a request)."""
        msg = self.raw.msg
        return msg.status if isinstance(msg, Response) else None

    @property
    def source(self) -> str:
        """Where the message came from: `udp:192.0.2.10:5060` ($proto:$si:$sp)."""
        src = self.raw.src
        return format_address(src.proto, src.ip, src.port)

    @property
    def body(self) -> bytes:
        return self.raw.msg.body

    # ------------------------------------------------------------ headers

    def header(self, name: str) -> str | None:
        """The first value of a header as received (compact names work: "f" is From)."""
        return self.raw.msg.header(name)

    def headers(self, name: str) -> list[str]:
        """Every value of a header, list headers split per element."""
        return self.raw.msg.headers_named(name)

    def add_header(self, name: str, value: str) -> None:
        """Add a header to the message as it is sent on (as `append_hf`)."""
        self.raw.msg.add_header(name, value)

    def remove_header(self, name: str) -> int:
        """Remove every header `name` from the message as it is sent on (as `remove_hf`); returns
        how many there were."""
        return self.raw.msg.remove_header(name)

    # ------------------------------------------------------------ routing state

    @property
    def ruri(self) -> str:
        """`$ru`, as the script has set it so far; assign to change it."""
        return self.raw.ruri

    @ruri.setter
    def ruri(self, uri: str) -> None:
        self.raw.new_ruri = uri

    @property
    def du(self) -> str | None:
        """`$du`, the next hop; assign to change it."""
        return self.raw.dst_uri

    @du.setter
    def du(self, uri: str | None) -> None:
        self.raw.dst_uri = uri

    def pv(self, spec: str) -> str | int | None:
        """A pseudo-variable's value: `ctx.pv("$fU")`, `ctx.pv("$var(x)")` (None is `$null`)."""
        return pv_get(self.raw, spec)

    def set_pv(self, spec: str, value: str | int | None) -> None:
        """Assign a writable pseudo-variable (`ctx.set_pv("$avp(x)", 1)`; None deletes)."""
        pv_set(self.raw, spec, value)

    def avp(self, name: str) -> str | int | None:
        return avp_get(self.raw, name)

    def add_avp(self, name: str, value: str | int) -> None:
        avp_add(self.raw, name, value)

    def flag(self, number: int) -> bool:
        return isflagset(self.raw, number)

    def setflag(self, number: int) -> None:
        setflag(self.raw, number)

    def resetflag(self, number: int) -> None:
        resetflag(self.raw, number)

    # ------------------------------------------------------------ replies

    def reply(self, status: int, reason: str, *, headers: Mapping[str, str] | None = None,
              body: bytes = b"") -> int:
        """Answer the request statelessly, as `sl_send_reply` does (the config must load sl);
        returns sl's code (1 sent, -1 not possible)."""
        sl = self.raw.core.modules.get("sl")
        if sl is None:
            raise LookupError("ctx.reply() answers through the sl module: the config does not load it")
        return int(sl.reply(self.raw, status, reason, list((headers or {}).items()), body))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"a stand-in's ctx has no {name!r} (ctx.raw is the core's own context)")
