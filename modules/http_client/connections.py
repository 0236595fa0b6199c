"""http_client's connections: the `httpcon` parameter and the `config_file` sections."""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, replace
from typing import Any

TLS_VERSIONS = {"DEFAULT": 0, "TLSv1": 1, "SSLv2": 2, "SSLv3": 3, "TLSv1.0": 4, "TLSv1.1": 5, "TLSv1.2": 6}


@dataclass(frozen=True)
class Settings:
    """What one request uses (Kamailio's curl_query_t): the module's defaults or a connection's."""

    timeout: int = 0
    maxdatasize: int = 0
    follow_redirect: bool = True
    useragent: str = ""
    verify_peer: bool = True
    verify_host: int = 2
    tlsversion: int = 0
    cacert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    cipher_suites: str | None = None
    proxy: str | None = None
    proxy_port: int = 0
    authmethod: int = 3
    keep_connections: bool = False
    netinterface: str | None = None
    username: str | None = None
    password: str | None = None


@dataclass
class Connection:
    name: str
    schema: str
    url: str  # host[:port][/path], after the schema
    settings: Settings
    failover: str | None = None
    redirect_url: str = ""  # the last effective URL (http_get_redirect)
    last_result: int = 0
    result_content_type: str = ""

    def full_url(self, tail: str) -> str:
        base = f"{self.schema}://{self.url}"
        if not tail:
            return base
        return base + ("" if tail.startswith("/") else "/") + tail


def _int(value: str, default: int) -> int:
    try:
        return int(value.strip())
    except ValueError:
        return default


def parse_httpcon(text: str, defaults: Settings) -> Connection:
    """`name=>schema://[user[:password]@]host[/path][;param=value...]`"""
    name, arrow, rest = text.partition("=>")
    if not arrow or not name.strip():
        raise ValueError(f"http_client: httpcon {text!r}: expected name=>url")
    schema, sep, after = rest.strip().partition("://")
    if not sep or schema.lower() not in ("http", "https"):
        raise ValueError(f"http_client: httpcon {text!r}: the URL must be http:// or https://")
    settings, username, password = defaults, None, None
    at = after.find("@")
    if at >= 0 and "/" not in after[:at]:
        userinfo, after = after[:at], after[at + 1:]
        username, _, password = userinfo.partition(":")
    url, _, params = after.partition(";")
    settings = replace(settings, username=username or None, password=password or None)
    failover = None
    for item in filter(None, (p.strip() for p in params.split(";"))):
        key, _, value = item.partition("=")
        settings, failover = _apply(settings, key.strip(), value.strip(), failover, defaults)
    return Connection(name.strip(), schema.lower(), url, settings, failover)


def _apply(s: Settings, key: str, value: str, failover: str | None,
           d: Settings) -> tuple[Settings, str | None]:
    if key == "httpredirect":
        n = _int(value, -1)
        return replace(s, follow_redirect=bool(n) if n in (0, 1) else d.follow_redirect), failover
    if key == "timeout":
        return replace(s, timeout=_int(value, d.timeout)), failover
    if key == "useragent":
        return replace(s, useragent=value), failover
    if key == "failover":
        return s, value or None
    if key == "maxdatasize":
        return replace(s, maxdatasize=_int(value, d.maxdatasize)), failover
    if key == "verify_peer":
        n = _int(value, -1)
        return replace(s, verify_peer=bool(n) if n in (0, 1) else d.verify_peer), failover
    if key == "verify_host":
        return replace(s, verify_host=_int(value, d.verify_host)), failover
    if key == "tlsversion":
        return replace(s, tlsversion=_int(value, d.tlsversion)), failover
    if key in ("client_cert", "client_key", "cipher_suites"):
        return replace(s, **{key: value or None}), failover
    return s, failover


_YES = {"yes", "on", "true", "1"}


def read_config_file(path: str, defaults: Settings) -> list[Connection]:
    """The `[name]` sections of http_client's config file (url, username, password, ...)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, configparser.Error) as exc:
        raise ValueError(f"http_client: cannot read config_file {path}: {exc}") from None
    found = []
    for name in parser.sections():
        sec = {k: _unquote(v) for k, v in parser.items(name)}
        if "url" not in sec:
            raise ValueError(f"http_client: config_file {path}: [{name}] has no url")
        con = parse_httpcon(f"{name}=>{sec['url']}", defaults)
        con.settings = _file_settings(con.settings, sec, path)
        con.failover = sec.get("failover") or con.failover
        found.append(con)
    return found


def _unquote(value: str) -> str:
    value = value.strip()
    return "" if value == '""' else value


def _file_settings(s: Settings, sec: dict[str, Any], path: str) -> Settings:
    def flag(key: str, current: bool) -> bool:
        return sec[key].lower() in _YES if key in sec else current

    def number(key: str, current: int) -> int:
        return _int(sec[key], current) if key in sec else current

    def filename(key: str, current: str | None) -> str | None:
        if key not in sec:
            return current
        return resolve_path(sec[key], path) if sec[key] else None

    tls = sec.get("tlsversion")
    return replace(
        s,
        username=sec.get("username", s.username) or None, password=sec.get("password", s.password) or None,
        authmethod=number("authmethod", s.authmethod),
        keep_connections=flag("keep_connections", s.keep_connections),
        useragent=sec.get("useragent", s.useragent), verify_peer=flag("verify_peer", s.verify_peer),
        verify_host=2 if flag("verify_host", bool(s.verify_host)) else 0,
        client_cert=filename("client_cert", s.client_cert), client_key=filename("client_key", s.client_key),
        cipher_suites=sec.get("cipher_suites", s.cipher_suites) or None,
        tlsversion=TLS_VERSIONS.get(tls, s.tlsversion) if tls else s.tlsversion,
        timeout=number("timeout", s.timeout), maxdatasize=number("maxdatasize", s.maxdatasize),
        follow_redirect=flag("http_follow_redirect", s.follow_redirect),
        proxy=sec.get("httpproxy", s.proxy) or None, proxy_port=number("httpproxyport", s.proxy_port))


def resolve_path(name: str, cfg_file: str) -> str:
    """A file name as tls.cfg's are: '.'-relative to the working directory, '/' absolute, else
    relative to the directory of `cfg_file`."""
    if name.startswith(("/", ".")):
        return name
    return os.path.join(os.path.dirname(os.path.abspath(cfg_file)), name)
