"""http_client: queries to a real HTTP server on 127.0.0.1 (a thread of the test), connections,
redirects, authentication, failover, libcurl's error codes and $curlerror."""
from __future__ import annotations

import base64
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kampy.api import SERVER_HEADER

from tests.e2e.kampy_process import free_port


class Server(http.server.ThreadingHTTPServer):
    seen: list[tuple[str, str, dict[str, str], bytes]]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/final")
            self.end_headers()
            return
        if self.path.startswith("/fail"):
            self.send_response(503)
            self.end_headers()
            return
        if self.path.startswith("/basic") and self.headers.get("Authorization") != _basic("u", "p"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="r"')
            self.end_headers()
            return
        if self.path.startswith("/digest") and not _digest_ok(self.headers.get("Authorization") or "",
                                                             self.command, self.path):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Digest realm="r", nonce="n1", qop="auth"')
            self.end_headers()
            return
        payload = f"line one {self.command} {self.path}\nline two\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args: object) -> None:
        pass


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _digest_ok(header: str, method: str, uri: str) -> bool:
    if not header.startswith("Digest "):
        return False
    fields = dict(p.strip().split("=", 1) for p in header[7:].split(","))
    values = {k: v.strip('"') for k, v in fields.items()}
    ha1 = hashlib.md5(b"u:r:p").hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    text = f"{ha1}:n1:{values.get('nc')}:{values.get('cnonce')}:auth:{ha2}"
    expected = hashlib.md5(text.encode()).hexdigest()
    return values.get("response") == expected


@pytest.fixture
def web() -> Iterator[Server]:
    server = Server(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(kampy_cfg: Any, body: str, params: str = "", method: str = "OPTIONS") -> Any:
    cfg = f"""
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "http_client.so"
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
"""
    return kampy_cfg(cfg).send_request(method, "sip:a@example.test")


def url(web: Server, path: str = "/") -> str:
    return f"http://127.0.0.1:{web.server_address[1]}{path}"


def test_query_gets_the_first_line_of_the_body_and_returns_the_status(kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, f'$avp(rc) = http_client_query("{url(web, "/a")}", "$avp(body)");')
    assert (result.avp("rc"), result.avp("body")) == (200, "line one GET /a")
    assert web.seen[0][2]["Accept"] == "*/*"


def test_query_result_0_keeps_the_whole_body(kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, f'http_client_query("{url(web)}", "$avp(body)");',
                 'modparam("http_client", "query_result", 0)')
    assert result.avp("body") == "line one GET /\nline two\n"


def test_query_maxdatasize_cuts_the_kept_body(kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, f'http_client_query("{url(web)}", "$avp(body)");',
                 'modparam("http_client", "query_result", 0)\n'
                 'modparam("http_client", "query_maxdatasize", 8)')
    assert result.avp("body") == "line one"


def test_query_with_post_data_posts_it_as_a_form_unless_hdrs_name_a_type(kampy_cfg: Any, web: Server) -> None:
    run(kampy_cfg, f'http_client_query("{url(web)}", "a=1", "$avp(body)");'
                   f'http_client_query("{url(web)}", "{{}}", "Content-Type: application/json\\r\\nX-A: b", '
                   '"$avp(body)");')
    (m1, _, h1, b1), (m2, _, h2, b2) = web.seen
    assert (m1, h1["Content-Type"], b1) == ("POST", "application/x-www-form-urlencoded", b"a=1")
    assert (m2, h2["Content-Type"], h2["X-A"], b2) == ("POST", "application/json", "b", b"{}")


def test_http_client_get_sends_a_get_with_its_body(kampy_cfg: Any, web: Server) -> None:
    run(kampy_cfg, f'http_client_get("{url(web)}", "q", "X-Token: abc", "$avp(body)");')
    method, _, headers, body = web.seen[0]
    assert (method, headers["X-Token"], body) == ("GET", "abc", b"q")


def test_the_user_agent_is_the_useragent_param(kampy_cfg: Any, web: Server) -> None:
    run(kampy_cfg, f'http_client_query("{url(web)}", "$avp(b)");',
        'modparam("http_client", "useragent", "grabber 0.42")')
    assert web.seen[0][2]["User-Agent"] == "grabber 0.42"


def test_the_default_user_agent_is_the_servers_name_whatever_server_header_says(
        kampy_cfg: Any, web: Server) -> None:
    # Kamailio 5.6 sends "kamailio (5.6.3 (x86_64/linux))" here: http_client's own default, not the
    # core's server_header
    run(kampy_cfg, f'http_client_query("{url(web)}", "$avp(b)");', 'server_header="Server: custom srv"')
    assert web.seen[0][2]["User-Agent"] == SERVER_HEADER


def test_http_connect_appends_the_url_to_the_connection_and_posts_with_a_type(
        kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, '$avp(g) = http_connect("api", "/x", "$avp(r1)");'
                            'http_connect("api", "y", "application/json", "{}", "$avp(r2)");',
                 f'modparam("http_client", "httpcon", "api=>{url(web, "/base")}")')
    assert [(m, p) for m, p, _, _ in web.seen] == [("GET", "/base/x"), ("POST", "/base/y")]
    assert web.seen[1][2]["Content-Type"] == "application/json"
    assert (result.avp("g"), result.avp("r1")) == (200, "line one GET /base/x\nline two\n")


def test_a_connection_with_credentials_answers_a_basic_challenge(kampy_cfg: Any, web: Server) -> None:
    host = url(web, "/basic").replace("http://", "http://u:p@")
    result = run(kampy_cfg, '$avp(rc) = http_connect("api", "", "$avp(r)");',
                 f'modparam("http_client", "httpcon", "api=>{host}")')
    assert result.avp("rc") == 200


def test_a_connection_with_credentials_answers_a_digest_challenge(kampy_cfg: Any, web: Server) -> None:
    host = url(web, "/digest").replace("http://", "http://u:p@")
    result = run(kampy_cfg, '$avp(rc) = http_connect("api", "", "$avp(r)");',
                 f'modparam("http_client", "httpcon", "api=>{host}")')
    assert result.avp("rc") == 200


def test_redirects_are_followed_and_the_last_url_kept(kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, 'http_connect("api", "/redirect", "$avp(r)");'
                            'http_get_redirect("api", "$avp(u)");',
                 f'modparam("http_client", "httpcon", "api=>{url(web)}")')
    assert (result.avp("r"), result.avp("u")) == ("line one GET /final\nline two\n", url(web, "/final"))


def test_httpredirect_0_returns_the_redirect(kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, f'$avp(rc) = http_client_query("{url(web, "/redirect")}", "$avp(r)");',
                 'modparam("http_client", "httpredirect", 0)')
    assert result.avp("rc") == 302


def test_a_failing_connection_fails_over_once(kampy_cfg: Any, web: Server) -> None:
    result = run(kampy_cfg, '$avp(rc) = http_connect("one", "/fail", "$avp(r)");',
                 f'modparam("http_client", "httpcon", "two=>{url(web, "/other")}")\n'
                 f'modparam("http_client", "httpcon", "one=>{url(web)};failover=two")')
    assert [p for _, p, _, _ in web.seen] == ["/fail", "/other/fail"]
    assert result.avp("rc") == 200


def test_no_server_is_libcurls_couldnt_connect_and_curlerror_says_so(kampy_cfg: Any) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        result = run(kampy_cfg, f'$avp(rc) = http_client_query("http://127.0.0.1:{port}/", "$avp(r)");'
                                '$avp(t) = $curlerror(7);')
    assert (result.avp("rc"), result.avp("t")) == (7, "Couldn't connect to server")


def test_the_config_file_defines_connections(kampy_cfg: Any, web: Server, tmp_path: Path) -> None:
    conf = tmp_path / "httpcon.cfg"
    conf.write_text(f"[api]\nurl = {url(web, '/file')}\ntimeout = 2\nuseragent = from-file\n")
    result = run(kampy_cfg, '$avp(rc) = http_connect("api", "x", "$avp(r)");',
                 f'modparam("http_client", "config_file", "{conf}")')
    assert result.avp("rc") == 200
    assert (web.seen[0][1], web.seen[0][2]["User-Agent"]) == ("/file/x", "from-file")


def test_listcon_lists_the_connections(kampy_cfg: Any) -> None:
    sip = kampy_cfg('loadmodule "http_client.so"\n'
                    f'modparam("http_client", "httpcon", "api=>http://u:p@127.0.0.1:{free_port()}/v1;timeout=3")\n'
                    'request_route { exit; }')
    (con,) = sip.core.rpc.call("httpclient.listcon")
    assert (con["connection"], con["username"], con["timeout"]) == ("api", "u", 3)


def test_a_bad_httpcon_is_refused_at_load(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="httpcon"):
        kampy_cfg('loadmodule "http_client.so"\nmodparam("http_client", "httpcon", "noarrow")\n'
                  'request_route { exit; }')
