"""An HTTP request received on a SIP TCP port, run through `event_route[xhttp:request]`.

The request becomes the route's message (a Request whose R-URI is the HTTP target, as Kamailio's
xhttp builds one), with `ctx.local["xhttp.request"]` set; what the route answered through xhttp
(`xhttp_reply`, `jsonrpc_dispatch`, `prom_dispatch`) is sent back. No answer: 500, as Kamailio."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kampy.module import RouteType
from kampy.net.http import HttpRequest, build_response
from kampy.runtime.context import MessageContext, ScriptDrop, ScriptExit, Source
from kampy.runtime.engine import ModuleFailure
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import Request

if TYPE_CHECKING:
    from kampy.runtime.server import Server

log = logging.getLogger("kampy.xhttp")

HTTP_KEY = "xhttp.request"
REPLY_KEY = "xhttp.reply"


def http_enabled(server: Server) -> bool:
    xhttp = server.core.modules.get("xhttp")
    return xhttp is not None and server.engine.has_route("event", xhttp.event_route)


def handle_http(server: Server, request: HttpRequest, src: Source) -> bytes:
    """Run the xhttp event route for `request`; returns the HTTP response to send."""
    core = server.core
    xhttp = core.modules.get("xhttp")
    if xhttp is None or not xhttp.accepts(request.target):
        return build_response(404, "Not Found", server=core.server_header)
    try:
        msg = Request(request.method, request.target, request.headers, request.body)
    except (SIPProtocolError, ValueError) as exc:
        log.info("http request from %s:%d not usable: %s", src.ip, src.port, exc)
        return build_response(400, "Bad Request", server=core.server_header)
    ctx = MessageContext(msg, src, core, route_type=RouteType.EVENT)
    ctx.local[HTTP_KEY] = request
    try:
        server.engine.run_route("event", xhttp.event_route, ctx)
    except (ScriptExit, ScriptDrop):
        pass
    except ModuleFailure as failure:
        log.error("%s", failure)
    reply = ctx.local.get(REPLY_KEY)
    if reply is None:
        return build_response(500, "Internal Server Error", server=core.server_header)
    code, reason, ctype, body = reply
    return build_response(code, reason, body, ctype or None, server=core.server_header)
