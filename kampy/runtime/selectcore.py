"""The core's selects (Kamailio 5.6's src/core/select_core.c and cfg/cfg_select.c): what `@ruri`,
`@from.tag`, `@via[1].branch`, `@msg.header.User_Agent`, `@cfg_get.my.x` ... give, resolved once
into `fn(ctx) -> str | None`.
"""
from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from kampy.runtime.selects import (
    Getter,
    Path,
    SelectError,
    SelectTable,
    chain,
    end_of,
    find_not_quoted,
    is_name,
    NULL,
    PHONE2TEL,
    display_name,
    nameaddr_name,
    null_if_none,
    nameaddr_uri,
    param_value,
    select_nameaddr,
    select_params,
    select_uri,
    unknown,
)
from kampy.runtime.forward import choose_socket, destination
from kampy.sip.message import Request, Response, canonical_name
from kampy.sip.uri import split_list


class CfgView(Protocol):
    """What `@cfg_get` and `@cfg_selected` need of the cfg framework (the running one, or the
    declarations `kampy check` sees)."""

    def lookup_var(self, group: str, var: str) -> Any | None: ...

    def has_group(self, group: str) -> bool: ...

    def get(self, group: str, var: str) -> Any: ...

    def selected_instance(self, group: str) -> int | None: ...


def _req(ctx: Any) -> Request | None:
    return ctx.msg if isinstance(ctx.msg, Request) else None


def _header(name: str) -> Getter:
    """The body of the first header `name` (None without one)."""
    lname = canonical_name(name)

    def get(ctx: Any) -> str | None:
        for hname, value in ctx.msg.headers():
            if canonical_name(hname) == lname:
                return value
        return None
    return get


def _first_of_list(get: Getter) -> Getter:
    return chain(get, lambda text: split_list(text)[0] if text else None)


# ------------------------------------------------------------------ URIs: ruri, dst_uri, next_hop


def _ruri(ctx: Any) -> str | None:
    req = _req(ctx)
    return ctx.ruri if req is not None else None


def _dst_uri(ctx: Any) -> str | None:
    return ctx.dst_uri if _req(ctx) is not None else None


def _next_hop(ctx: Any) -> str | None:
    if _req(ctx) is None:
        return None
    return ctx.dst_uri or ctx.ruri


def _uri_root(get: Getter) -> Callable[[Path], Getter]:
    def resolve(path: Path) -> Getter:
        if len(path) > 1 and is_name(path[1], "src_ip") and get is _next_hop:
            end_of(path, 2)
            return _next_hop_src_ip
        return chain(get, select_uri(path, 1))
    return resolve


def _next_hop_src_ip(ctx: Any) -> str | None:
    """The address of the local socket a request to the next hop leaves from."""
    if _req(ctx) is None:
        return None
    if ctx.force_socket is not None:
        return ctx.force_socket.host  # type: ignore[no-any-return]
    found = destination(ctx.dst_uri or ctx.ruri)
    if found is None:
        return None
    sock = choose_socket(ctx, found[0], found[1])
    return sock.host if sock is not None else None


# ------------------------------------------------------------------ From, To, Refer-To, Remote-Party-ID


def _nameaddr_header(header: str) -> Callable[[Path], Getter]:
    body = _header(header)

    def resolve(path: Path) -> Getter:
        if len(path) == 1:
            return body
        part = path[1]
        if is_name(part, "uri"):
            return chain(body, lambda t: _then(nameaddr_uri(t), select_uri(path, 2)))
        if is_name(part, "tag"):
            end_of(path, 2)
            return chain(body, lambda t: null_if_none(_header_param(t, "tag")))
        if is_name(part, "name"):
            end_of(path, 2)
            return chain(body, display_name)
        if is_name(part, "params") and len(path) == 3 and isinstance(path[2], str):
            name = path[2]
            return chain(body, lambda t: _header_param(t, name))
        raise unknown(path, 1)
    return resolve


def _then(value: str | None, fn: Callable[[str], str | None]) -> str | None:
    return None if value is None else fn(value)


def _header_param(text: str, name: str) -> str | None:
    gt = find_not_quoted(text, ">")
    semi = find_not_quoted(text, ";", gt + 1 if gt >= 0 else 0)
    if semi < 0:
        return None
    return param_value(text[semi + 1:], name)


# ------------------------------------------------------------------ Contact, Record-Route

_CONTACT_PARAMS = ("q", "expires", "methods", "received", "instance")


def _contact(path: Path) -> Getter:
    """`@contact...`: the first Contact header; its `.uri`, `.name` and parameters are those of the
    last contact of that header (Kamailio's parser lists them backwards)."""
    body = _header("Contact")
    first = chain(body, lambda text: split_list(text)[-1] if text else None)
    if len(path) == 1:
        return body
    part = path[1]
    if is_name(part, "uri"):
        return chain(first, lambda t: _then(nameaddr_uri(t), select_uri(path, 2)))
    if is_name(part, "name"):
        end_of(path, 2)
        return chain(first, lambda t: nameaddr_name(t) or "")
    if is_name(part, *_CONTACT_PARAMS):
        end_of(path, 2)
        name = str(part).lower()
        return chain(first, lambda t: _header_param(t, "+sip.instance" if name == "instance" else name))
    if is_name(part, "params") and len(path) == 3 and isinstance(path[2], str):
        pname = path[2]
        return chain(first, lambda t: _header_param(t, pname))
    raise unknown(path, 1)


def _record_route(path: Path) -> Getter:
    body = _header("Record-Route")
    first = _first_of_list(body)
    if len(path) == 1:
        return body
    part = path[1]
    if is_name(part, "uri"):
        return chain(first, lambda t: _then(nameaddr_uri(t), select_uri(path, 2)))
    if is_name(part, "name"):
        end_of(path, 2)
        return chain(first, nameaddr_name)
    if is_name(part, "params") and len(path) == 3 and isinstance(path[2], str):
        pname = path[2]
        return chain(first, lambda t: _header_param(t, pname))
    raise unknown(path, 1)


# ------------------------------------------------------------------ Via

_VIA_PARAMS = ("branch", "received", "rport", "i", "alias")
_VIA_FIELDS = ("name", "version", "transport", "host", "port", "comment")


def _nth_via(n: int) -> Getter:
    def get(ctx: Any) -> str | None:
        if n < 1:
            return None
        values = [v for line in ctx.msg.headers_named("Via") for v in split_list(line)]
        return values[n - 1] if n <= len(values) else None
    return get


def _via_field(name: str, text: str) -> str | None:
    proto, _, rest = text.partition(" ")
    parts = [p.strip() for p in proto.split("/")]
    rest = rest.strip()
    if name in ("name", "version", "transport"):
        index = ("name", "version", "transport").index(name)
        return parts[index] if index < len(parts) else None
    if name == "comment":
        start, end = rest.find("("), rest.rfind(")")
        return rest[start + 1:end] if 0 <= start < end else None
    semi = find_not_quoted(rest, ";")
    hostport = (rest if semi < 0 else rest[:semi]).strip()
    if hostport.startswith("["):
        close = hostport.find("]")
        host = hostport[:close + 1]
        port = hostport[close + 2:] if hostport[close + 1:close + 2] == ":" else ""
    else:
        host, _, port = hostport.partition(":")
    return host if name == "host" else (port or None)


def _via_params(text: str) -> str:
    semi = find_not_quoted(text, ";")
    return text[semi + 1:] if semi >= 0 else ""


def _via(path: Path) -> Getter:
    level = 1
    n = 1
    if len(path) > 1 and isinstance(path[1], int):
        n, level = path[1], 2
    get = _nth_via(n)
    if len(path) == level:
        return get
    part = path[level]
    if is_name(part, *_VIA_FIELDS):
        end_of(path, level + 1)
        field = str(part).lower()
        return chain(get, lambda t: _via_field(field, t))
    if is_name(part, *_VIA_PARAMS):
        end_of(path, level + 1)
        pname = str(part).lower()
        return chain(get, lambda t: _param_or_none(_via_params(t), pname))
    if is_name(part, "params") and len(path) == level + 2 and isinstance(path[level + 1], str):
        pname = str(path[level + 1])
        return chain(get, lambda t: _param_or_none(_via_params(t), pname))
    raise unknown(path, level)


def _param_or_none(params: str, name: str) -> str | None:
    return param_value(params, name)


# ------------------------------------------------------------------ msg


def _msg_headers(ctx: Any) -> str:
    raw = ctx.msg.raw
    start = raw.find(b"\n") + 1
    end = raw.find(b"\r\n\r\n")
    end = end + 2 if end >= 0 else len(raw)
    return raw[start:end].decode("utf-8", "surrogateescape")


def _any_header(path: Path, level: int) -> Getter:
    """`@msg.header.<name>[N]` (`_` for `-`; N: the Nth such header, -1 the last) and its
    `.nameaddr...`/`.params...`."""
    name = path[level]
    if not isinstance(name, str):
        raise unknown(path, level)
    lname = canonical_name(name.replace("_", "-"))
    index, level = 1, level + 1
    if len(path) > level and isinstance(path[level], int):
        index, level = path[level], level + 1

    def get(ctx: Any) -> str | None:
        found = [v for h, v in ctx.msg.headers() if canonical_name(h) == lname]
        if not found:
            return None
        if index < 1 or index > len(found):
            return found[-1] if index < 1 else None
        return found[index - 1]
    if len(path) == level:
        return get
    return _nested_text(get, path, level)


def _nested_text(get: Getter, path: Path, level: int) -> Getter:
    """What may follow a header's value or a cfg variable: `.nameaddr.<part>`, `.uri.<part>` (cfg
    variables) and `.params.<name>`, each needing what follows it (Kamailio's NESTED rows that
    consume the next part)."""
    part = path[level]
    if len(path) == level + 1 or not isinstance(path[level + 1], str):
        raise unknown(path, level + 1)
    if is_name(part, "nameaddr"):
        return chain(get, select_nameaddr(path, level + 1))
    if is_name(part, "uri") and path[0] == "cfg_get":
        return chain(get, select_uri(path, level + 1))
    if is_name(part, "params"):  # select_any_params() parses the whole text as parameters
        return chain(get, select_params(path, level + 1))
    raise unknown(path, level)


def _sdp_line(path: Path, level: int) -> Getter:
    if len(path) != level + 1 or not isinstance(path[level], str):
        raise unknown(path, level)
    line = str(path[level])
    if not 1 <= len(line) <= 2 or (len(line) == 2 and line[1] != "="):
        raise SelectError(f"wrong sdp line format: {line}")

    def get(ctx: Any) -> str | None:
        sdp = _sdp(ctx)
        if sdp is None:
            return None
        for text in sdp.splitlines():
            if text.startswith(line[0] + "="):
                return text[2:]
        return None
    return get


def _sdp(ctx: Any) -> str | None:
    ctype = (ctx.msg.header("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "application/sdp":
        return ctx.msg.body.decode("utf-8", "surrogateescape")
    if ctype.startswith("multipart/"):
        body = ctx.msg.body.decode("utf-8", "surrogateescape")
        for part in body.split("\r\n\r\n")[1:]:
            return part if "application/sdp" in body.lower() else None
    return None


def _first_line_part(kind: type, index: int) -> Getter:
    def get(ctx: Any) -> str | None:
        if not isinstance(ctx.msg, kind):
            return None
        parts = ctx.msg.start_line.split(" ", 2)
        return parts[index] if index < len(parts) else None
    return get


_REQ_PARTS = {"method": 0, "uri": 1, "version": 2}
_RES_PARTS = {"version": 0, "status": 1, "code": 1, "reason": 2}


def _msg(path: Path) -> Getter:
    if len(path) == 1:
        return lambda ctx: ctx.msg.raw.decode("utf-8", "surrogateescape")
    part = path[1]
    simple: dict[str, Getter] = {
        "first_line": lambda ctx: ctx.msg.start_line.rstrip(),
        "flags": lambda ctx: str(ctx.flags),
        "len": lambda ctx: str(len(ctx.msg.raw)),
        "type": lambda ctx: "1" if isinstance(ctx.msg, Request) else "2",
    }
    if is_name(part, *simple):
        end_of(path, 2)
        return simple[str(part).lower()]
    if is_name(part, "id"):
        if len(path) == 3 and is_name(path[2], "hex"):
            return lambda ctx: f"{ctx.msg_id:08X}"
        end_of(path, 2)
        return lambda ctx: str(ctx.msg_id)
    if is_name(part, "header", "h"):
        return _msg_headers if len(path) == 2 else _any_header(path, 2)
    if is_name(part, "body", "content"):
        if len(path) == 2:
            return lambda ctx: ctx.msg.body.decode("utf-8", "surrogateescape")
        if is_name(path[2], "sdp"):
            if len(path) == 3:
                return _sdp
            if is_name(path[3], "line"):
                return _sdp_line(path, 4)
        raise unknown(path, 2)
    if is_name(part, "request", "req"):
        return _first_line_select(path, Request, _REQ_PARTS)
    if is_name(part, "response", "res"):
        return _first_line_select(path, Response, _RES_PARTS)
    raise unknown(path, 1)


def _first_line_select(path: Path, kind: type, parts: dict[str, int]) -> Getter:
    if len(path) == 2:
        return lambda ctx: _whole(ctx) if isinstance(ctx.msg, kind) else None
    if not is_name(path[2], *parts):
        raise unknown(path, 2)
    get = _first_line_part(kind, parts[str(path[2]).lower()])
    if kind is Request and is_name(path[2], "uri"):
        return chain(get, select_uri(path, 3))
    end_of(path, 3)
    return get


def _whole(ctx: Any) -> str:
    return ctx.msg.raw.decode("utf-8", "surrogateescape")  # type: ignore[no-any-return]


def _version(ctx: Any) -> str | None:
    parts = ctx.msg.start_line.split(" ", 2)
    return parts[2] if isinstance(ctx.msg, Request) else parts[0]


# ------------------------------------------------------------------ credentials

_AUTH_FIELDS = ("realm", "nonce", "uri", "cnonce", "nc", "response", "opaque", "algorithm", "qop")


def _digest(text: str) -> dict[str, str]:
    scheme, _, rest = text.strip().partition(" ")
    out: dict[str, str] = {}
    i = 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip(" \t,").lower()
        j = eq + 1
        if rest.startswith('"', j):
            end = rest.find('"', j + 1)
            end = end if end >= 0 else len(rest)
            out[key] = rest[j + 1:end]
            i = end + 1
        else:
            end = rest.find(",", j)
            end = end if end >= 0 else len(rest)
            out[key] = rest[j:end].strip()
            i = end
        i = rest.find(",", i) + 1 if rest.find(",", i) >= 0 else len(rest)
    return out


def _auth(path: Path) -> Getter:
    header = "Proxy-Authorization" if is_name(path[0], "proxy_authorization") else "Authorization"
    if len(path) < 2 or not isinstance(path[1], str):
        raise unknown(path, 1)
    realm = path[1]

    def creds(ctx: Any) -> dict[str, str] | None:
        for value in ctx.msg.headers_named(header):
            fields = _digest(value)
            if fields.get("realm") == realm:
                fields["*body"] = value
                return fields
        return None
    if len(path) == 2:
        return lambda ctx: (creds(ctx) or {}).get("*body")
    part = path[2]
    if is_name(part, "username"):
        if len(path) == 3:
            return lambda ctx: (creds(ctx) or {}).get("username")
        if is_name(path[3], "user", "domain") and len(path) == 4:
            which = 0 if is_name(path[3], "user") else 1
            return lambda ctx: _username_part((creds(ctx) or {}).get("username"), which)
        raise unknown(path, 3)
    if is_name(part, *_AUTH_FIELDS):
        end_of(path, 3)
        key = str(part).lower()
        return lambda ctx: (creds(ctx) or {}).get(key)
    raise unknown(path, 2)


def _username_part(username: str | None, which: int) -> str | None:
    if username is None:
        return None
    user, at, domain = username.partition("@")
    return user if which == 0 else (domain if at else None)


# ------------------------------------------------------------------ addresses

_IP_PORT = ("ip", "port", "ip_port")


def _address(path: Path) -> Getter:
    root = str(path[0]).lower()
    if len(path) != 2:
        raise unknown(path, 1 if len(path) < 2 else 2)
    part = str(path[1]).lower() if isinstance(path[1], str) else ""
    allowed = _IP_PORT + (("proto", "proto_ip_port") if root == "received" else ())
    if part not in allowed:
        raise unknown(path, 1)

    def get(ctx: Any) -> str | None:
        if root == "src":
            ip, port, proto = ctx.src.ip, ctx.src.port, ctx.src.proto
        else:
            ip, port, proto = ctx.src.local.host, ctx.src.local.port, ctx.src.proto
        pieces = []
        if "proto" in part:
            pieces.append(proto)
        if "ip" in part:
            pieces.append(ip)
        if "port" in part:
            pieces.append(str(port))
        return ":".join(pieces) or None
    return get


# ------------------------------------------------------------------ sys, branch


_unique: list[str] = []


def _sys_unique(ctx: Any) -> str:
    if not _unique or _unique[0] != str(os.getpid()):
        prefix = f"{os.getpid() & 0xFFFF:04x}-{int(time.time()) & 0xFFFFFFFF:08x}-"
        _unique[:] = [str(os.getpid()), prefix, f"{random.getrandbits(32):08x}"]
    counter = (int(_unique[2], 16) + 1) & 0xFFFFFFFF
    _unique[2] = f"{counter:08x}"
    return _unique[1] + _unique[2]


def _sys(path: Path, core: Any) -> Getter:
    if len(path) < 2:
        raise unknown(path, 1)
    part = path[1]
    if is_name(part, "pid"):
        end_of(path, 2)
        return lambda ctx: str(os.getpid())
    if is_name(part, "unique"):
        end_of(path, 2)
        return _sys_unique
    if is_name(part, "server_id"):
        end_of(path, 2)
        return lambda ctx: str(core.server_id)
    if is_name(part, "now"):
        if len(path) == 2:
            return lambda ctx: str(int(core.clock.time()))
        if not is_name(path[2], "local", "gmt", "utc"):
            raise unknown(path, 2)
        local = is_name(path[2], "local")
        fmt = path[3] if len(path) > 3 else None
        if fmt is not None and not isinstance(fmt, str):
            raise unknown(path, 3)
        end_of(path, 4)

        def now(ctx: Any) -> str:
            t = core.clock.time()
            tm = time.localtime(t) if local else time.gmtime(t)
            return time.strftime(fmt, tm) if fmt is not None else time.asctime(tm)
        return now
    raise unknown(path, 1)


def _q_text(q: int) -> str:
    if q >= 1000:
        return "1"
    return "0." + f"{q:03d}".rstrip("0") if q > 0 else "0"


def _branch(path: Path) -> Getter:
    if len(path) < 2:
        raise unknown(path, 1)
    part = path[1]
    if is_name(part, "count"):
        end_of(path, 2)
        return lambda ctx: str(len(ctx.branches))
    if not is_name(part, "uri", "dst_uri", "uriq", "q"):
        raise unknown(path, 1)
    kind = str(part).lower()
    index: int | None = None
    level = 2
    if len(path) > 2 and isinstance(path[2], int):
        index, level = path[2], 3
    with_q = kind in ("uriq", "q")

    def one(b: Any) -> str:
        uri = b.dst_uri or "" if kind == "dst_uri" else b.uri
        if kind == "q":
            return _q_text(b.q) if b.q >= 0 else NULL
        if with_q and b.q >= 0:
            return f"<{uri}>;q={_q_text(b.q)}"
        return uri

    def get(ctx: Any) -> str | None:
        branches = ctx.branches
        if index is None:
            return ",".join(one(b) for b in branches) if branches else None
        if index < 0 or index >= len(branches):
            return None
        return one(branches[index])
    if len(path) == level:
        return get
    if kind in ("uri", "dst_uri"):
        return chain(get, select_uri(path, level))
    if kind == "uriq":
        return chain(get, select_nameaddr(path, level))
    raise unknown(path, level)


# ------------------------------------------------------------------ cfg_get, cfg_selected


def _cfg_get(path: Path, cfg: CfgView) -> Getter:
    if len(path) < 3 or not isinstance(path[1], str) or not isinstance(path[2], str):
        raise SelectError("At least two parameters are expected")
    group, var = path[1], path[2]
    found = cfg.lookup_var(group, var)
    if found is None:
        raise SelectError(f"unknown variable: {group}.{var}")
    if not found.readable:
        raise SelectError("variable cannot be retrieved")

    def get(ctx: Any) -> str | None:
        value = cfg.get(group, var)
        return None if value is None else str(value)
    if len(path) == 3:
        return get
    return _nested_text(get, path, 3)


def _cfg_selected(path: Path, cfg: CfgView) -> Getter:
    if len(path) != 2 or not isinstance(path[1], str):
        raise SelectError("One parameter is expected")
    group = path[1]
    if not cfg.has_group(group):
        raise SelectError(f"unknown configuration group: {group}")

    def get(ctx: Any) -> str:
        gid = cfg.selected_instance(group)
        return "" if gid is None else str(gid)
    return get


# ------------------------------------------------------------------ the table

_PLAIN_HEADERS = {
    "call_id": "Call-ID", "max_forwards": "Max-Forwards", "content_type": "Content-Type",
    "content_length": "Content-Length", "subject": "Subject", "organization": "Organization",
    "priority": "Priority", "session_expires": "Session-Expires", "min_se": "Min-SE",
    "user_agent": "User-Agent", "sip_if_match": "SIP-If-Match", "date": "Date", "identity": "Identity",
    "identity_info": "Identity-Info", "expires": "Expires",
}


def _plain(header: str) -> Callable[[Path], Getter]:
    get = _header(header)

    def resolve(path: Path) -> Getter:
        end_of(path, 1)
        return get
    return resolve


def _only(get: Getter) -> Callable[[Path], Getter]:
    def resolve(path: Path) -> Getter:
        end_of(path, 1)
        return get
    return resolve


def _event(ctx: Any) -> str | None:
    value = ctx.msg.header("Event")
    return value.split(";")[0].strip() if value else None


def _cseq_root(path: Path) -> Getter:
    body = _header("CSeq")
    if len(path) == 1:
        return body
    if is_name(path[1], "num", "method"):
        end_of(path, 2)
        index = 0 if is_name(path[1], "num") else 1
        return chain(body, lambda t: (t.split() + [None, None])[index])
    raise unknown(path, 1)


def core_table(core: Any, cfg: CfgView) -> SelectTable:
    """The core's selects; `core` gives `clock` and `server_id`, `cfg` the cfg groups."""
    table = SelectTable()
    if core is not None:
        PHONE2TEL[0] = str(core.core_params.get("phone2tel", 1)).lower() not in ("0", "no", "off", "false")
    for name in ("ruri", "request_uri"):
        table.add(name, _uri_root(_ruri))
    table.add("dst_uri", _uri_root(_dst_uri))
    table.add("next_hop", _uri_root(_next_hop))
    for names, header in ((("from", "f"), "From"), (("to", "t"), "To"), (("refer_to",), "Refer-To"),
                          (("remote_party_id", "rpid"), "Remote-Party-ID")):
        for name in names:
            table.add(name, _nameaddr_header(header))
    for name in ("contact", "m"):
        table.add(name, _contact)
    for name in ("via", "v"):
        table.add(name, _via)
    for name in ("record_route", "rr"):
        table.add(name, _record_route)
    table.add("cseq", _cseq_root)
    table.add("event", _only(_event))
    for name in ("msg", "message"):
        table.add(name, _msg)
    table.add("method", _only(_first_line_part(Request, 0)))
    table.add("version", _only(_version))
    for name in ("status", "code"):
        table.add(name, _only(_first_line_part(Response, 1)))
    table.add("reason", _only(_first_line_part(Response, 2)))
    for name in ("proxy_authorization", "authorization"):
        table.add(name, _auth)
    for name in ("src", "dst", "received"):
        table.add(name, _address)
    for name, header in _PLAIN_HEADERS.items():
        table.add(name, _plain(header))
    table.add("sys", lambda path: _sys(path, core))
    table.add("branch", _branch)
    table.add("cfg_get", lambda path: _cfg_get(path, cfg))
    table.add("cfg_selected", lambda path: _cfg_selected(path, cfg))
    return table
