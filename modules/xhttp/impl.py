"""xhttp: HTTP requests on kampy's TCP listeners, handled by `event_route[xhttp:request]`.

The network layer recognises an HTTP request on a SIP TCP port by its first line and hands it to
the server, which runs `event_route[xhttp:request]` with the request as the message (`$hu` is its
URL, `$rb` its body) and sends what `xhttp_reply()` (or jsonrpcs/xhttp_prom) answered. As in
Kamailio, `url_skip` (a regex) leaves matching URLs to the SIP side and `url_match` limits the
event route to matching URLs.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, Transform

log = logging.getLogger("kampy.xhttp")

EVENT_ROUTE = "xhttp:request"


class HuPV:
    def get(self, ctx: MessageContext) -> str | None:
        if ctx.http_request is None:
            return None
        return ctx.msg.uri  # type: ignore[union-attr]


class XHttp(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.url_match = re.compile(params["url_match"]) if params["url_match"] else None
        self.url_skip = re.compile(params["url_skip"]) if params["url_skip"] else None
        self.event_route = str(params["event_callback"] or "") or EVENT_ROUTE
        core.serve_http(self.event_route, self.accepts)

    def accepts(self, url: str) -> bool:
        if self.url_skip is not None and self.url_skip.search(url):
            return False
        return self.url_match is None or bool(self.url_match.search(url))

    @staticmethod
    def is_http(ctx: MessageContext) -> bool:
        return ctx.http_request is not None

    def send_reply(self, ctx: MessageContext, code: int, reason: str, ctype: str,
                   body: bytes | str) -> int:
        if not self.is_http(ctx):
            log.error("xhttp_reply: not an HTTP request")
            return -1
        if ctx.http_reply is not None:
            log.warning("xhttp: the request was already answered")
            return -1
        data = body.encode() if isinstance(body, str) else body
        ctx.http_reply = (int(code), reason, ctype, data)
        return 1

    def xhttp_reply(self, ctx: MessageContext, code: str, reason: str, ctype: str, body: str) -> int:
        try:
            status = int(code)
        except ValueError:
            log.error("xhttp_reply: bad code %r", code)
            return -1
        return self.send_reply(ctx, status, reason, ctype, body)

    def pv_hu(self, spec: Any) -> HuPV:
        return HuPV()

    def tr_url(self, tr: Transform) -> Callable[[MessageContext, Any], Any]:
        """`{url.path}`: the URL up to its first `?` (all of it without one); `{url.querystring}`:
        what follows that `?` (empty without one). A number is taken as its text; null stays null."""
        query = tr.name.lower() == "querystring"

        def apply(ctx: MessageContext, value: Any) -> Any:
            if value is None:
                return None
            path, mark, rest = str(value).partition("?")
            return (rest if mark else "") if query else path
        return apply
