"""The http_client module: HTTP queries from the config, named connections, $curlerror."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from kampy.api import (L_ERR, L_WARN, SERVER_HEADER, CoreAPI, MessageContext, Module, PVAccessor, log_at,
                       module_logger)

from .connections import Connection, Settings, read_config_file, resolve_path, parse_httpcon
from .curl_errors import CURL_ERRORS
from .request import CurlError, Pool, Reply, Request, perform

log = module_logger("http_client")
WARNED = {1: "URL Schema not supported by curl", 3: "Malformed URL used in http client",
          5: "Couldn't resolve http proxy host", 6: "Couldn't resolve host",
          7: "failed to connect() to host", 28: "Curl library timed out on request",
          35: "TLS error in curl connection", 58: "TLS local certificate error", 59: "TLS cipher error",
          60: "TLS verification error", 77: "TLS CA certificate read error", 47: "Too many redirects"}


def defaults_from(params: dict[str, Any]) -> Settings:
    return Settings(
        timeout=params["connection_timeout"], maxdatasize=params["maxdatasize"],
        follow_redirect=bool(params["httpredirect"]),
        useragent=SERVER_HEADER if params["useragent"] is None else params["useragent"],
        verify_peer=bool(params["verify_peer"]), verify_host=params["verify_host"],
        tlsversion=params["tlsversion"], cacert=params["cacert"] or None,
        client_cert=params["client_cert"] or None, client_key=params["client_key"] or None,
        cipher_suites=params["cipher_suites"] or None, proxy=params["httpproxy"] or None,
        proxy_port=params["httpproxyport"], authmethod=params["authmethod"],
        keep_connections=bool(params["keep_connections"]), netinterface=params["netinterface"] or None)


class HttpClientModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.defaults = defaults_from(params)
        self.query_oneline = bool(params["query_result"])
        self.query_maxdatasize: int = params["query_maxdatasize"]
        self.connections: dict[str, Connection] = {}
        for text in _values(params["httpcon"]):
            self._add(parse_httpcon(text, self.defaults))
        if params["config_file"]:
            cfg_file = str(core.core_params.get("cfg_file") or "kamailio.cfg")
            for con in read_config_file(resolve_path(params["config_file"], cfg_file), self.defaults):
                self._add(con)
        self.pool = Pool()
        self._last_reply: Reply | None = None  # the reply of the request just made, for _connect
        self.connok = core.stats.register("httpclient", "connok")
        self.connfail = core.stats.register("httpclient", "connfail")
        core.stats.register_gauge("httpclient:connections", lambda: len(self.connections))

    def _add(self, con: Connection) -> None:
        if con.name in self.connections:
            raise ValueError(f"http_client: duplicate connection name {con.name!r}")
        self.connections[con.name] = con

    def destroy(self) -> None:
        self.pool.close()

    # ------------------------------------------------------------ the request

    def _request(self, req: Request, oneline: bool, maxdatasize: int,
                 failover: bool = False) -> tuple[int, str]:
        """(Kamailio's return value, the result text): the HTTP status, or libcurl's error code;
        1000 + it when the connection has a failover to try."""
        try:
            reply = perform(req, self.pool)
        except CurlError as exc:
            message = WARNED.get(exc.code)
            if message:
                log_at(log, L_WARN, "%s (url: %s)", message, req.url)
            else:
                log_at(log, L_ERR, "failed to perform curl (%d) (url: %s)", exc.code, req.url)
            self.core.stats.inc(self.connfail)
            return (1000 + exc.code if failover else exc.code), ""
        text = _result_text(reply, oneline, maxdatasize) if 200 <= reply.status < 500 else ""
        self.core.stats.inc(self.connok if reply.status == 200 else self.connfail)
        if reply.status >= 500 and failover:
            return 1000 + reply.status, text
        self._last_reply = reply
        return reply.status, text

    def _query(self, url: str, body: str | None, hdrs: str | None, method: str | None) -> tuple[int, str]:
        s = replace(self.defaults, keep_connections=False, username=None)
        req = Request(url, s, method=method, body=body.encode() if body else None, headers=hdrs or None)
        return self._request(req, self.query_oneline, self.query_maxdatasize)

    def _connect(self, name: str, tail: str, ctype: str | None, data: str | None,
                 hops: int = 0) -> tuple[int, str]:
        con = self.connections.get(name)
        if con is None:
            log_at(log, L_ERR, "No cURL connection found: %s", name)
            return -1, ""
        req = Request(con.full_url(tail), con.settings, body=data.encode() if data else None,
                      content_type=(ctype or "text/plain") if data else None)
        self._last_reply = None
        code, text = self._request(req, False, con.settings.maxdatasize, failover=con.failover is not None)
        reply: Reply | None = self._last_reply
        con.last_result = code
        if reply is not None:
            con.redirect_url, con.result_content_type = reply.url, reply.content_type
        if code > 1000 and con.failover:
            if hops >= 1:
                return code - 1000, text
            log_at(log, L_ERR, "FAILURE: Trying failover to curl con (%s)", con.failover)
            return self._connect(con.failover, tail, ctype, data, hops + 1)
        return code, text

    # ------------------------------------------------------------ config functions

    def http_client_query(self, ctx: MessageContext, url: str, *rest: Any) -> int:
        """(url, result), (url, post, result) or (url, post, hdrs, result)."""
        result: PVAccessor = rest[-1]
        post = rest[0] if len(rest) >= 2 else None
        hdrs = rest[1] if len(rest) == 3 else None
        code, text = self._query(url, post or None, hdrs or None, None)
        result.set(ctx, text)
        return -1 if code == 0 else code

    def http_client_get(self, ctx: MessageContext, url: str, body: str, hdrs: str, result: PVAccessor) -> int:
        code, text = self._query(url, body or None, hdrs or None, "GET")
        result.set(ctx, text)
        return -1 if code == 0 else code

    def http_connect(self, ctx: MessageContext, connection: str, url: str, *rest: Any) -> int:
        """(connection, url, result) GET, or (connection, url, content_type, data, result) POST."""
        result: PVAccessor = rest[-1]
        ctype, data = (rest[0], rest[1]) if len(rest) == 3 else (None, None)
        code, text = self._connect(connection, url, ctype, data)
        result.set(ctx, text)
        return -1 if code == 0 else code

    def http_connect_raw(self, ctx: MessageContext, connection: str, url: str, content_type: str,
                         data: str, result: PVAccessor) -> int:
        code, text = self._connect(connection, url, content_type, data)
        result.set(ctx, text)
        return -1 if code == 0 else code

    def http_get_redirect(self, ctx: MessageContext, connection: str, result: PVAccessor) -> int:
        con = self.connections.get(connection)
        if con is None:
            log_at(log, L_ERR, "No cURL connection found: %s", connection)
            return -1
        result.set(ctx, con.redirect_url)
        return 1

    # ------------------------------------------------------------ $curlerror, RPC

    def pv_curlerror(self, spec: Any) -> Any:
        try:
            code = int(str(spec.arg).strip())
        except (TypeError, ValueError):
            raise ValueError(f"$curlerror({spec.arg}): a libcurl error code expected") from None
        text = CURL_ERRORS.get(code, "Unknown error")
        return _Constant(text)

    def rpc_listcon(self) -> list[dict[str, Any]]:
        out = []
        for con in self.connections.values():
            s = con.settings
            out.append({"connection": con.name, "url": con.url, "schema": con.schema,
                        "username": s.username or "", "failover": con.failover or "",
                        "timeout": s.timeout, "useragent": s.useragent, "maxdatasize": s.maxdatasize})
        return out


class _Constant:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, ctx: MessageContext) -> str:
        return self.value


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _result_text(reply: Reply, oneline: bool, maxdatasize: int) -> str:
    data = reply.body
    cut = data.find(b"\n") if oneline else -1
    if cut >= 0:
        data = data[:cut]
    elif maxdatasize and len(data) > maxdatasize:
        data = data[:maxdatasize]
    return data.decode("utf-8", "replace")
