"""Units thttpc0001 and thttpc0002 of Kamailio's suite (http_client: GET and POST request): a
request makes kampy query an HTTP server on 127.0.0.1:8080 (Python's http.server, as the units
run it) and log the reply's code."""
from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "http_client.so"

debug=2
children=2

request_route {
	$var(auth_token) = "XYZ";
%s
	sl_send_reply("200", "OK");
	exit;
}
"""
GET = ('\t$var(result) = http_client_query("http://127.0.0.1:8080", "", '
       '"Authorization: Bearer $var(auth_token)", "$var(response)");\n'
       '\txlog("L_INFO", "HTTP GET REPLY: $var(result) - Response: $var(response)\\n");')
POST = ('\t$var(payload) = $_s({"city": "cagliari", "region": "sardinia"});\n'
        '\t$var(result) = http_client_query("http://127.0.0.1:8080", "$var(payload)", '
        '"Content-type:application/json\\r\\nAuthorization: Bearer $var(auth_token)", "$var(response)");\n'
        '\txlog("L_INFO", "HTTP POST REPLY: $var(result) - Response: $var(response)\\n");')


class Handler(http.server.BaseHTTPRequestHandler):
    """The units' http_server.py: 200 and a text/html Content-Type, no body; what came is kept."""

    seen: list[tuple[str, dict[str, str], bytes]] = []

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Handler.seen.append((self.command, dict(self.headers), self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-type", "text/html")
        self.end_headers()

    do_GET = _reply
    do_POST = _reply

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def http_server_in(server: UnitServer) -> Iterator[list[tuple[str, dict[str, str], bytes]]]:
    sock = server.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 8080))
    sock.listen(16)
    httpd = http.server.HTTPServer(("127.0.0.1", 8080), Handler, bind_and_activate=False)
    httpd.socket.close()
    httpd.socket = sock
    Handler.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler.seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("unit", "route", "line", "method"), [
    ("thttpc0001", GET, "HTTP GET REPLY: 200", "GET"),
    ("thttpc0002", POST, "HTTP POST REPLY: 200", "POST"),
])
def test_thttpc_http_client_query_gets_the_reply_code(
        unit: str, route: str, line: str, method: str, unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG % route, unit)
    with http_server_in(server) as seen:
        server.start()
        assert status(server.sipsak("sip:test@127.0.0.1")) == 200
        server.stop()
    assert line in server.log()
    assert [m for m, _, _ in seen] == [method]
    assert seen[0][1]["Authorization"] == "Bearer XYZ"
    if method == "POST":
        assert seen[0][1]["Content-type"] == "application/json"
        assert seen[0][2] == b'{"city": "cagliari", "region": "sardinia"}'
