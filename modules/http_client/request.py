"""One HTTP request as http_client's curL_request_url() makes it with libcurl: the method, body,
extra headers, redirects, Basic/Digest authentication, a proxy, TLS settings and a timeout.
Failures are libcurl's error codes (below 100)."""
from __future__ import annotations

import base64
import fcntl
import hashlib
import http.client
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from .connections import Settings

# libcurl's CURLcode values used here
UNSUPPORTED_PROTOCOL, URL_MALFORMAT, COULDNT_RESOLVE_PROXY, COULDNT_RESOLVE_HOST = 1, 3, 5, 6
COULDNT_CONNECT, OPERATION_TIMEDOUT, SSL_CONNECT_ERROR, TOO_MANY_REDIRECTS = 7, 28, 35, 47
GOT_NOTHING, SEND_ERROR, RECV_ERROR, SSL_CERTPROBLEM, SSL_CIPHER = 52, 55, 56, 58, 59
PEER_FAILED_VERIFICATION, SSL_CACERT_BADFILE, INTERFACE_FAILED = 60, 77, 45
MAX_REDIRECTS = 50
AUTH_BASIC, AUTH_DIGEST = 1, 2
_TLS_MIN = {1: ssl.TLSVersion.TLSv1, 4: ssl.TLSVersion.TLSv1, 5: ssl.TLSVersion.TLSv1_1,
            6: ssl.TLSVersion.TLSv1_2}


class CurlError(Exception):
    def __init__(self, code: int, text: str = "") -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = ""
    url: str = ""  # the effective URL, after redirects


@dataclass
class Request:
    url: str
    settings: Settings
    method: str | None = None  # None: GET, or POST with a body
    body: bytes | None = None
    content_type: str | None = None
    headers: str | None = None  # raw header lines, as curl_slist_append() takes them
    extra: dict[str, str] = field(default_factory=dict)


class Pool:
    """Open connections kept for reuse (keep_connections), one per scheme, host and port."""

    def __init__(self) -> None:
        self.conns: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()


def perform(req: Request, pool: Pool | None = None) -> Reply:
    """Send the request (following redirects when asked); raise CurlError on failure."""
    url, method, body, auth = req.url, _method(req), req.body, None
    for _ in range(MAX_REDIRECTS + 1):
        reply, headers = _exchange(req, url, method, body, auth, pool)
        if reply.status == 401 and auth is None and req.settings.username is not None:
            auth = _authorization(req, url, method, headers.get_all("WWW-Authenticate") or [])
            if auth is not None:
                reply, headers = _exchange(req, url, method, body, auth, pool)
        location = headers.get("Location")
        if not (req.settings.follow_redirect and 300 < reply.status < 400 and location):
            reply.url = url
            return reply
        url = urljoin(url, location)
        if reply.status in (301, 302, 303) and method == "POST" and req.method is None:
            method, body = "GET", None
        auth = None
    raise CurlError(TOO_MANY_REDIRECTS)


def _method(req: Request) -> str:
    if req.method:
        return req.method
    return "POST" if req.body is not None else "GET"


def _exchange(req: Request, url: str, method: str, body: bytes | None, auth: str | None,
              pool: Pool | None) -> tuple[Reply, http.client.HTTPMessage]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CurlError(UNSUPPORTED_PROTOCOL)
    if not parts.hostname:
        raise CurlError(URL_MALFORMAT)
    port = parts.port or (443 if scheme == "https" else 80)
    s = req.settings
    key = (scheme, parts.hostname, port)
    conn = pool.conns.pop(key, None) if pool is not None and s.keep_connections else None
    if conn is None:
        conn = _connection(scheme, parts.hostname, port, s)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if s.proxy and scheme == "http":
        target = url
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in _headers(req, parts, body, auth):
            conn.putheader(name, value)
        conn.endheaders(body if body is not None else None)
        resp = conn.getresponse()
        data = resp.read()
    except CurlError:
        conn.close()
        raise
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise _curl_error(exc, sending=False) from None
    if pool is not None and s.keep_connections and not resp.will_close:
        pool.conns[key] = conn
    else:
        conn.close()
    return Reply(resp.status, data, resp.getheader("Content-Type") or ""), resp.headers


def _headers(req: Request, parts: object, body: bytes | None, auth: str | None) -> list[tuple[str, str]]:
    s = req.settings
    host = parts.netloc.rsplit("@", 1)[-1]  # type: ignore[attr-defined]
    out = [("Host", host)]
    if auth:
        out.append(("Authorization", auth))
    elif s.username is not None and s.authmethod == AUTH_BASIC:
        out.append(("Authorization", _basic(s)))
    if s.useragent:
        out.append(("User-Agent", s.useragent))
    out.append(("Accept", "*/*"))
    extra = _raw_headers(req.headers)
    named = {n.lower() for n, _ in extra}
    if body is not None:
        out.append(("Content-Length", str(len(body))))
        if req.content_type:
            out.append(("Content-Type", req.content_type))
        elif "content-type" not in named:
            out.append(("Content-Type", "application/x-www-form-urlencoded"))
    out.extend(extra)
    return out


def _raw_headers(text: str | None) -> list[tuple[str, str]]:
    """`hdrs` as one curl_slist entry: lines separated by CRLF (or LF), each `Name: value`."""
    out = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip():
            out.append((name.strip(), value.strip()))
    return out


def _basic(s: Settings) -> str:
    token = base64.b64encode(f"{s.username}:{s.password or ''}".encode()).decode()
    return f"Basic {token}"


def _authorization(req: Request, url: str, method: str, challenges: list[str]) -> str | None:
    s = req.settings
    for challenge in challenges:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "digest" and s.authmethod & AUTH_DIGEST:
            return _digest(s, urlsplit(url), method, _auth_params(rest))
    if s.authmethod & AUTH_BASIC and any(c.lower().startswith("basic") for c in challenges):
        return _basic(s)
    return None


def _auth_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in _split_commas(text):
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return params


def _split_commas(text: str) -> list[str]:
    items, cur, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    return [*items, cur]


def _digest(s: Settings, parts: object, method: str, p: dict[str, str]) -> str:
    algorithm = p.get("algorithm", "MD5")
    h = hashlib.sha256 if algorithm.upper().startswith("SHA-256") else hashlib.md5

    def hexdigest(text: str) -> str:
        return h(text.encode()).hexdigest()

    uri = parts.path or "/"  # type: ignore[attr-defined]
    if parts.query:  # type: ignore[attr-defined]
        uri += "?" + parts.query  # type: ignore[attr-defined]
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    ha1 = hexdigest(f"{s.username}:{realm}:{s.password or ''}")
    ha2 = hexdigest(f"{method}:{uri}")
    fields = [f'username="{s.username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in [q.strip() for q in p.get("qop", "").split(",")]:
        cnonce, nc = os.urandom(8).hex(), "00000001"
        response = hexdigest(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += [f'cnonce="{cnonce}"', f"nc={nc}", "qop=auth"]
    else:
        response = hexdigest(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{response}"')
    if "opaque" in p:
        fields.append(f'opaque="{p["opaque"]}"')
    if "algorithm" in p:
        fields.append(f"algorithm={algorithm}")
    return "Digest " + ", ".join(fields)


def _connection(scheme: str, host: str, port: int, s: Settings) -> http.client.HTTPConnection:
    timeout = s.timeout if s.timeout > 0 else None
    source = (interface_address(s.netinterface), 0) if s.netinterface else None
    target_host, target_port = host, port
    if s.proxy:
        proxy = urlsplit(s.proxy if "://" in s.proxy else f"http://{s.proxy}")
        target_host = proxy.hostname or host
        target_port = s.proxy_port or proxy.port or 1080
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(target_host, target_port, timeout=timeout, source_address=source,
                                           context=tls_context(s))
    else:
        conn = http.client.HTTPConnection(target_host, target_port, timeout=timeout, source_address=source)
    if s.proxy and scheme == "https":
        conn.set_tunnel(host, port)
    return conn


def tls_context(s: Settings) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    try:
        if s.cacert:
            ctx.load_verify_locations(s.cacert)
        if s.client_cert and s.client_key:
            ctx.load_cert_chain(s.client_cert, s.client_key)
    except OSError as exc:
        bad_ca = s.cacert is not None and s.cacert in str(exc)
        raise CurlError(SSL_CACERT_BADFILE if bad_ca else SSL_CERTPROBLEM) from None
    except ssl.SSLError:
        raise CurlError(SSL_CERTPROBLEM) from None
    if s.cipher_suites:
        try:
            ctx.set_ciphers(s.cipher_suites)
        except ssl.SSLError:
            raise CurlError(SSL_CIPHER) from None
    if s.tlsversion in _TLS_MIN:
        ctx.minimum_version = _TLS_MIN[s.tlsversion]
    ctx.check_hostname = bool(s.verify_host) and s.verify_peer
    if not s.verify_peer:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def interface_address(name: str) -> str:
    """An IP address as it is, or the IPv4 address of network interface `name` (SIOCGIFADDR)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
        return name
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
        except OSError:
            raise CurlError(INTERFACE_FAILED) from None
    return socket.inet_ntoa(packed[20:24])


def _curl_error(exc: BaseException, sending: bool) -> CurlError:
    if isinstance(exc, CurlError):
        return exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return CurlError(OPERATION_TIMEDOUT, str(exc))
    if isinstance(exc, socket.gaierror):
        return CurlError(COULDNT_RESOLVE_HOST, str(exc))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CurlError(PEER_FAILED_VERIFICATION, str(exc))
    if isinstance(exc, ssl.SSLError):
        return CurlError(SSL_CONNECT_ERROR, str(exc))
    if isinstance(exc, http.client.RemoteDisconnected):
        return CurlError(GOT_NOTHING, str(exc))
    if isinstance(exc, ConnectionRefusedError | ConnectionAbortedError) or (
            isinstance(exc, OSError) and exc.errno in (101, 113, 99)):
        return CurlError(COULDNT_CONNECT, str(exc))
    return CurlError(SEND_ERROR if sending else RECV_ERROR, str(exc))
