"""An HTTP request received on a SIP TCP port, run through `event_route[xhttp:request]`.

The request becomes the route's message (a Request whose R-URI is the HTTP target, as Kamailio's
xhttp builds one), with `ctx.http_request` set; what the route answered through xhttp
(`xhttp_reply`, `jsonrpc_dispatch`, `prom_dispatch`: `ctx.http_reply`) is sent back. No answer: 500,
as Kamailio."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kampy.module import RouteType
from kampy.runtime.http import HttpRequest, build_response
from kampy.runtime.context import MessageContext, Source
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import Request

if TYPE_CHECKING:
    from kampy.runtime.server import Server

log = logging.getLogger("kampy.xhttp")


def http_enabled(server: Server) -> bool:
    http = server.core.http
    return http is not None and server.engine.has_route("event", http.event_route)


def handle_http(server: Server, request: HttpRequest, src: Source) -> bytes:
    """Run the event route a module asked for (`CoreAPI.serve_http`, xhttp) for `request`; returns
    the HTTP response to send."""
    core = server.core
    http = core.http
    if http is None or not http.accepts(request.target):
        return build_response(404, "Not Found", server=core.server_header)
    try:
        msg = Request(request.method, request.target, request.headers, request.body)
    except (SIPProtocolError, ValueError) as exc:
        log.info("http request from %s:%d not usable: %s", src.ip, src.port, exc)
        return build_response(400, "Bad Request", server=core.server_header)
    ctx = MessageContext(msg, src, core, route_type=RouteType.EVENT, http_request=request)
    server.engine.run_event_route(http.event_route, ctx)
    if ctx.http_reply is None:
        return build_response(500, "Internal Server Error", server=core.server_header)
    code, reason, ctype, body = ctx.http_reply
    return build_response(code, reason, body, ctype or None, server=core.server_header)
