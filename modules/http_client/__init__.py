"""http_client: HTTP GET and POST requests from the config, to URLs or named connections."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, RpcMethod, Stat

from .impl import HttpClientModule

ROUTES = RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY | RouteType.BRANCH

RESULT = Arg("result", ArgKind.PVAR, doc="a writable pseudo-variable for the reply's body")

EXPORTS = Exports(
    name="http_client",
    doc="HTTP requests to external servers (Kamailio's libcurl module): http_client_query() and "
        "http_client_get() to a URL, http_connect() and http_connect_raw() to a named connection "
        "(httpcon or config_file) with its own settings and failover.",
    params=(
        Param("connection_timeout", (int,), 0, doc="seconds a request may take (0: no limit)"),
        Param("cacert", (str,), None, doc="PEM file of the CAs that verify servers"),
        Param("client_cert", (str,), None, doc="PEM file of the TLS client certificate"),
        Param("client_key", (str,), None, doc="PEM file of the TLS client key"),
        Param("cipher_suites", (str,), None, doc="the TLS ciphers allowed (OpenSSL's list syntax)"),
        Param("tlsversion", (int,), 0, doc="the least TLS version: 0 default, 1 or 4 TLSv1.0, 5 TLSv1.1, "
                                           "6 TLSv1.2"),
        Param("verify_peer", (int,), 1, doc="1: verify the server's certificate"),
        Param("verify_host", (int,), 2, doc="2: check the server's name against its certificate, 0: not"),
        Param("httpproxyport", (int,), 0, doc="the HTTP proxy's port"),
        Param("httpproxy", (str,), None, doc="the URL of an HTTP proxy for every request"),
        Param("httpredirect", (int,), 1, doc="1: follow redirects"),
        Param("useragent", (str,), None,
              doc="the User-Agent header (default: the server's name and version, whatever the core's "
                  "server_header or server_signature say; empty: none)"),
        Param("maxdatasize", (int,), 0, doc="the most bytes of a reply's body kept (0: all)"),
        Param("config_file", (str,), None, doc="a file of connection definitions, one [name] section each"),
        Param("httpcon", (str,), None, multi=True,
              doc="a connection: name=>http[s]://[user[:password]@]host[/path][;param=value]"),
        Param("authmethod", (int,), 3, doc="allowed authentication: 1 Basic, 2 Digest (a bit mask)"),
        Param("keep_connections", (int,), 0, doc="1: keep connections open for the next request"),
        Param("query_result", (int,), 1,
              doc="http_client_query() keeps 1: the first line, 0: the whole body"),
        Param("query_maxdatasize", (int,), 0, doc="the most bytes http_client_query() keeps (0: all)"),
        Param("netinterface", (str,), None, doc="the local interface (name or address) requests leave from"),
    ),
    functions=(
        Function(
            "http_client_query",
            args=(Arg("url", ArgKind.FMT), RESULT),
            routes=ROUTES,
            doc="GET the URL; the reply's body (its first line with query_result 1) goes into result.",
            returns="the HTTP status, or libcurl's error code (below 100), -1 on an internal error",
        ),
        Function(
            "http_client_query",
            args=(Arg("url", ArgKind.FMT), Arg("post_data", ArgKind.FMT), RESULT),
            routes=ROUTES,
            doc="POST post_data to the URL (GET when it is empty).",
            returns="the HTTP status, or libcurl's error code (below 100), -1 on an internal error",
        ),
        Function(
            "http_client_query",
            args=(Arg("url", ArgKind.FMT), Arg("post_data", ArgKind.FMT), Arg("hdrs", ArgKind.FMT), RESULT),
            routes=ROUTES,
            doc="POST post_data (GET when empty) with extra header lines hdrs (CRLF-separated).",
            returns="the HTTP status, or libcurl's error code (below 100), -1 on an internal error",
        ),
        Function(
            "http_client_get",
            args=(Arg("url", ArgKind.FMT), Arg("body", ArgKind.FMT), Arg("hdrs", ArgKind.FMT), RESULT),
            routes=ROUTES,
            doc="GET the URL with an optional body and extra header lines.",
            returns="the HTTP status, or libcurl's error code (below 100)",
        ),
        Function(
            "http_connect",
            args=(Arg("connection", ArgKind.STR), Arg("url", ArgKind.FMT), RESULT),
            routes=ROUTES,
            doc="GET the connection's URL with url appended.",
            returns="the HTTP status, or libcurl's error code (below 100), -1 for an unknown connection",
        ),
        Function(
            "http_connect",
            args=(Arg("connection", ArgKind.STR), Arg("url", ArgKind.FMT), Arg("content_type", ArgKind.FMT),
                  Arg("data", ArgKind.FMT), RESULT),
            routes=ROUTES,
            doc="POST data with its content type to the connection's URL with url appended.",
            returns="the HTTP status, or libcurl's error code (below 100), -1 for an unknown connection",
        ),
        Function(
            "http_connect_raw",
            args=(Arg("connection", ArgKind.STR), Arg("url", ArgKind.FMT), Arg("content_type", ArgKind.FMT),
                  Arg("data", ArgKind.STR), RESULT),
            routes=ROUTES,
            doc="POST data, taken as it is (no pseudo-variables), to the connection's URL with url appended.",
            returns="the HTTP status, or libcurl's error code (below 100)",
        ),
        Function(
            "http_get_redirect",
            args=(Arg("connection", ArgKind.STR), RESULT),
            routes=ROUTES,
            doc="The last URL the connection reached, after redirects.",
            returns="1, -1 for an unknown connection",
        ),
    ),
    pvars=(PVClass("curlerror", arg="required", handler="pv_curlerror",
                   doc="the text of libcurl's error code N: $curlerror(7)"),),
    stats=(Stat("connok", group="httpclient", doc="requests answered 200 (Kamailio's counter)"),
           Stat("connfail", group="httpclient",
                doc="requests failed or answered other than 200 (Kamailio's counter)")),
    rpc=(RpcMethod("httpclient.listcon", "rpc_listcon", doc="the defined connections"),),
    factory=HttpClientModule,
)
