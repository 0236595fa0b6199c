"""The core actions (`kampy.config.core.CORE_EXPORTS`), as src/core/action.c runs them.

Each builder gets the engine, the call node and the declaration, and returns `fn(ctx) -> int`.
Arguments are expressions compiled once; a flag name (`setflag(FLAG_X)`) is resolved at load time.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.config import ast
from kampy.module import Function, RouteType
from kampy.runtime import avpflags, forward
from kampy.runtime.context import SND_F_CON_CLOSE, SND_F_FORCE_CON_REUSE, MessageContext, Socket
from kampy.runtime.flow import LoadError
from kampy.runtime.sockets import grep_socket
from kampy.runtime.loglevels import L_DBG, L_NOTICE, LEVEL_NAMES, python_level
from kampy.runtime.values import to_int, to_str
from kampy.sip.errors import SIPProtocolError
from kampy.sip.uri import URI, Params, parse_uri

if TYPE_CHECKING:
    from kampy.runtime.engine import Engine

log = logging.getLogger("kampy.runtime")
script_log = logging.getLogger("kampy.script")
# what Kamailio's log() and error() put before their text ("<script>: "), for its log layout
SCRIPT_PREFIX = {"kamailio_prefix": "<script>: "}

Fn = Callable[[MessageContext], int]
Value = Callable[[MessageContext], Any]

MAX_FLAG = 31

NOT_IMPLEMENTED = {
    "forward_sctp": "SCTP",
}


def build(engine: Engine, call: ast.Call, func: Function, rtype: RouteType) -> Fn:
    name = call.name
    if name in NOT_IMPLEMENTED:
        raise LoadError(call.pos, f"core action {name}: {NOT_IMPLEMENTED[name]} is not implemented in "
                                  "kampy yet")
    builder = BUILDERS.get(name)
    if builder is None:
        raise LoadError(call.pos, f"core action {name}() is not implemented in kampy yet")
    return builder(engine, call)


def _args(engine: Engine, call: ast.Call) -> list[Value]:
    return [engine.expr(a, RouteType.ANY) for a in call.args]


def _error(call: ast.Call, message: str) -> Exception:
    return LoadError(call.pos, message)


# ---------------------------------------------------------------- logging


def _exec(engine: Engine, call: ast.Call) -> Fn:
    """EXEC_T: the command (a string as written, no pseudo-variables) run by system(); always 1."""
    node = call.args[0] if len(call.args) == 1 else None
    if not isinstance(node, ast.Str):
        raise LoadError(call.pos, "exec() takes one string: the command")
    command = node.value

    def exec_(ctx: MessageContext) -> int:
        log.log(python_level(L_NOTICE), 'exec("%s") not fully implemented, using dumb version...', command)
        status = os.system(command)  # noqa: S605  (the command is the config's, as Kamailio's system())
        if status != 0:
            log.log(python_level(L_NOTICE), "exec() returned %d", status)
        return 1
    return exec_


def _log(engine: Engine, call: ast.Call) -> Fn:
    args = _args(engine, call)
    if len(args) == 1:
        level_fn: Value = lambda ctx: L_DBG + 1  # noqa: E731  (cfg.y: log("x") is L_DBG+1)
        text = args[0]
    else:
        level_node = call.args[0]
        if isinstance(level_node, ast.Ident) and level_node.name in LEVEL_NAMES:
            value = LEVEL_NAMES[level_node.name]
            level_fn = lambda ctx: value  # noqa: E731
        else:
            level_fn = args[0]
        text = args[1]
    cfg = engine.core.cfg

    def log_(ctx: MessageContext) -> int:
        level = to_int(level_fn(ctx))
        if level <= cfg.get("core", "debug"):
            script_log.log(python_level(level), "%s", to_str(text(ctx)).rstrip("\n"), extra=SCRIPT_PREFIX)
        return 1
    return log_


def _error_action(engine: Engine, call: ast.Call) -> Fn:
    cls, text = _args(engine, call)

    def error(ctx: MessageContext) -> int:
        script_log.error("%s: %s", to_str(cls(ctx)), to_str(text(ctx)).rstrip("\n"), extra=SCRIPT_PREFIX)
        return 1
    return error


# ---------------------------------------------------------------- flags


def _flag(engine: Engine, call: ast.Call) -> Value:
    node = call.args[0]
    if isinstance(node, ast.Ident):
        if node.name in engine.flag_names:
            number = engine.flag_names[node.name]
        elif node.name in engine.defines and str(engine.defines[node.name]).isdigit():
            number = int(str(engine.defines[node.name]))
        else:
            raise _error(call, f"{call.name}({node.name}): unknown flag name (declare it with "
                               f"'flags {node.name}: N;' or use a number 0..{MAX_FLAG})")
        node = ast.Int(number, pos=node.pos)
    if isinstance(node, ast.Int | ast.Str) and "$" not in str(node.value):
        number = to_int(node.value)
        bad_text = isinstance(node, ast.Str) and not str(node.value).strip().isdigit()
        if not 0 <= number <= MAX_FLAG or bad_text:
            raise _error(call, f"{call.name}({node.value}): bad flag value (0..{MAX_FLAG})")
        return lambda ctx: number
    value = engine.expr(node, RouteType.ANY)
    return lambda ctx: to_int(value(ctx))


def _setflag(engine: Engine, call: ast.Call) -> Fn:
    flag = _flag(engine, call)

    def setflag(ctx: MessageContext) -> int:
        n = flag(ctx)
        if not 0 <= n <= MAX_FLAG:
            log.error("setflag(%d): bad flag", n)
            return -1
        ctx.flags |= 1 << n
        return 1
    return setflag


def _resetflag(engine: Engine, call: ast.Call) -> Fn:
    flag = _flag(engine, call)

    def resetflag(ctx: MessageContext) -> int:
        n = flag(ctx)
        if not 0 <= n <= MAX_FLAG:
            log.error("resetflag(%d): bad flag", n)
            return -1
        ctx.flags &= ~(1 << n)
        return 1
    return resetflag


def _isflagset(engine: Engine, call: ast.Call) -> Fn:
    flag = _flag(engine, call)

    def isflagset(ctx: MessageContext) -> int:
        n = flag(ctx)
        return 1 if 0 <= n <= MAX_FLAG and ctx.flags & (1 << n) else -1
    return isflagset


def _udp_mtu_try_proto(engine: Engine, call: ast.Call) -> Fn:
    """UDP_MTU_TRY_PROTO_T: the message's fallback protocol bit (udp: none; route.c's fixup)."""
    bit = forward.mtu_proto_bit(call)

    def udp_mtu_try_proto(ctx: MessageContext) -> int:
        ctx.msg_flags |= bit
        return 1
    return udp_mtu_try_proto


# ---------------------------------------------------------------- the R-URI


def current_uri(ctx: MessageContext) -> URI | None:
    try:
        return parse_uri(ctx.ruri)
    except SIPProtocolError:
        log.error("the R-URI '%s' cannot be parsed", ctx.ruri)
        return None


def _uri_edit(edit: Callable[[URI, str], None], needs_arg: bool = True) -> Callable[[Engine, ast.Call], Fn]:
    def builder(engine: Engine, call: ast.Call) -> Fn:
        args = _args(engine, call)
        arg = args[0] if args else (lambda ctx: "")

        def rewrite(ctx: MessageContext) -> int:
            if not ctx.is_request:
                return -1
            uri = current_uri(ctx)
            if uri is None:
                return -1
            try:
                edit(uri, to_str(arg(ctx)))
            except ValueError as exc:
                log.error("%s(): %s", call.name, exc)
                return -1
            ctx.new_ruri = str(uri)
            return 1
        return rewrite
    return builder


def _set_host(uri: URI, value: str) -> None:
    uri.host = value


def _set_hostport(uri: URI, value: str) -> None:
    host, port = _split_hostport(value)
    uri.host = host
    uri.port = port


def _set_hostporttrans(uri: URI, value: str) -> None:
    """SET_HOSTPORTTRANS_T: the host and port (and the parameters written after them) are
    `value`'s; of the URI's own parameters all but `transport` stay, after those."""
    hostport, semi, given = value.partition(";")
    _set_hostport(uri, hostport)
    kept = [(name, uri.params[name]) for name in uri.params if name.lower() != "transport"]
    new = Params(kept)
    if semi:
        try:
            written = parse_uri(f"sip:h;{given}").params
        except SIPProtocolError as exc:
            raise ValueError(str(exc)) from None
        new = Params([*written.items(), *kept])
    uri.params = new


def _split_hostport(value: str) -> tuple[str, int | None]:
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[:end + 1], value[end + 1:]
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:] else None
    host, colon, port = value.rpartition(":")
    if colon and port.isdigit() and ":" not in host:
        return host, int(port)
    return value, None


def _set_user(uri: URI, value: str) -> None:
    uri.user = value or None
    if not value:
        uri.password = None


def _set_userpass(uri: URI, value: str) -> None:
    user, colon, password = value.partition(":")
    uri.user = user or None
    uri.password = password if colon else None


def _set_port(uri: URI, value: str) -> None:
    uri.port = int(value) if value else None


def _prefix(uri: URI, value: str) -> None:
    uri.user = value + (uri.user or "")


def _strip(uri: URI, value: str) -> None:
    n = to_int(value)
    user = uri.user or ""
    if n > len(user):
        raise ValueError(f"cannot strip {n} characters from '{user}'")
    uri.user = user[n:] or None


def _strip_tail(uri: URI, value: str) -> None:
    n = to_int(value)
    user = uri.user or ""
    if n > len(user):
        raise ValueError(f"cannot strip {n} characters from '{user}'")
    uri.user = user[:len(user) - n] or None


def _userphone(uri: URI, value: str) -> None:
    uri.params["user"] = "phone"


def _rewriteuri(engine: Engine, call: ast.Call) -> Fn:
    (arg,) = _args(engine, call)

    def rewriteuri(ctx: MessageContext) -> int:
        text = to_str(arg(ctx))
        try:
            parse_uri(text)
        except SIPProtocolError:
            log.error("%s(): '%s' is not a valid URI", call.name, text)
            return -1
        ctx.new_ruri = text
        return 1
    return rewriteuri


def _revert_uri(engine: Engine, call: ast.Call) -> Fn:
    def revert_uri(ctx: MessageContext) -> int:
        ctx.new_ruri = None
        return 1
    return revert_uri


# ---------------------------------------------------------------- branches


def _remove_branch(engine: Engine, call: ast.Call) -> Fn:
    args = _args(engine, call)

    def remove_branch(ctx: MessageContext) -> int:
        index = to_int(args[0](ctx)) if args else len(ctx.branches) - 1
        if not -len(ctx.branches) <= index < len(ctx.branches):
            return -1
        del ctx.branches[index]
        return 1
    return remove_branch


def _clear_branches(engine: Engine, call: ast.Call) -> Fn:
    def clear_branches(ctx: MessageContext) -> int:
        ctx.branches.clear()
        return 1
    return clear_branches


# ---------------------------------------------------------------- sending


def _forward(engine: Engine, call: ast.Call) -> Fn:
    proto = {"forward": None, "forward_udp": "udp", "forward_tcp": "tcp", "forward_tls": "tls"}[call.name]
    args = _args(engine, call)

    def forward_(ctx: MessageContext) -> int:
        host = port = None
        fproto = proto
        if args:
            host, port, fproto = _host_port(to_str(args[0](ctx)), proto)
            if len(args) > 1:
                port = to_int(args[1](ctx)) or None
        return forward.forward_request(ctx, fproto, host, port)
    return forward_


def _host_port(text: str, proto: str | None) -> tuple[str, int | None, str | None]:
    """`host`, `host:port`, `proto:host:port` or a SIP URI as a forward() destination."""
    if text.startswith(("sip:", "sips:")):
        dest = forward.destination(text)
        if dest is not None:
            return dest[1], dest[2], proto or dest[0]
    head, colon, rest = text.partition(":")
    if colon and head.lower() in forward.DEFAULT_PORTS:
        proto = proto or head.lower()
        text = rest
    host, port = _split_hostport(text)
    return host.strip("[]"), port, proto


def _force_rport(engine: Engine, call: ast.Call) -> Fn:
    def force_rport(ctx: MessageContext) -> int:
        # Kamailio's FL_FORCE_RPORT: read when a reply is built and when the request is forwarded
        if ctx.msg.is_request:
            ctx.force_rport = True
        return 1
    return force_rport


def _reply_send_flag(flag: int) -> Callable[[Engine, ast.Call], Fn]:
    """set_reply_no_connect()/set_reply_close(): a send flag of the local reply (rpl_send_flags)."""
    def builder(engine: Engine, call: ast.Call) -> Fn:
        def set_flag(ctx: MessageContext) -> int:
            ctx.reply_send_flags |= flag
            return 1
        return set_flag
    return builder


def _local_flag(key: str, value: Any = True) -> Callable[[Engine, ast.Call], Fn]:
    def builder(engine: Engine, call: ast.Call) -> Fn:
        def set_local(ctx: MessageContext) -> int:
            ctx.local[key] = value
            return 1
        return set_local
    return builder


def _mark(field: str) -> Callable[[Engine, ast.Call], Fn]:
    """An action that sets the flag `field` of the message context (its arguments are checked, unused)."""
    def builder(engine: Engine, call: ast.Call) -> Fn:
        _args(engine, call)

        def mark(ctx: MessageContext) -> int:
            setattr(ctx, field, True)
            return 1
        return mark
    return builder


def _assign(field: str, convert: Callable[[Any], Any]) -> Callable[[Engine, ast.Call], Fn]:
    """An action that sets `field` of the message context to its argument's value."""
    def builder(engine: Engine, call: ast.Call) -> Fn:
        (arg,) = _args(engine, call)

        def assign(ctx: MessageContext) -> int:
            setattr(ctx, field, convert(arg(ctx)))
            return 1
        return assign
    return builder


def _force_send_socket(engine: Engine, call: ast.Call) -> Fn:
    """Like Kamailio (route.c fix_actions, find_si()) the socket a literal argument names is found
    when the config loads, and none is a load error; a computed argument is looked up per message."""
    (arg,) = _args(engine, call)

    def lookup(text: str) -> Socket | None:
        host, port, proto = _host_port(text, None)
        return grep_socket(engine.core.sockets, host, port, proto, advertised_port=False)

    node = call.args[0]
    literal = node.name if isinstance(node, ast.Ident) else node.value if isinstance(node, ast.Str) else None
    if literal is not None and engine.core.sockets:
        sock = lookup(literal)
        if sock is None:
            raise _error(call, f"bad force_send_socket argument: {literal} (kampy doesn't listen on it)")

        def force_socket(ctx: MessageContext) -> int:
            ctx.force_socket = sock
            return 1
        return force_socket

    def force_send_socket(ctx: MessageContext) -> int:
        text = to_str(arg(ctx))
        found = lookup(text)
        if found is None:
            log.error("force_send_socket(%s): no such local socket", text)
            return -1
        ctx.force_socket = found
        return 1
    return force_send_socket


def _cfg_group(engine: Engine, call: ast.Call) -> str:
    node = call.args[0]
    if not isinstance(node, ast.Str):
        raise _error(call, f"{call.name}(): bad arguments, string expected")
    if node.value not in engine.core.cfg.groups:
        raise _error(call, f'configuration group "{node.value}" not found')
    return node.value


def _cfg_select(engine: Engine, call: ast.Call) -> Fn:
    """cfg_select("group", id): the rest of the message reads instance `id` of the group."""
    group = _cfg_group(engine, call)
    gid = engine.expr(call.args[1], RouteType.ANY)
    cfg = engine.core.cfg

    def cfg_select(ctx: MessageContext) -> int:
        return 1 if cfg.select(group, to_int(gid(ctx))) else -1
    return cfg_select


def _cfg_reset(engine: Engine, call: ast.Call) -> Fn:
    """cfg_reset("group"): back to the group's default values."""
    group = _cfg_group(engine, call)
    cfg = engine.core.cfg

    def cfg_reset(ctx: MessageContext) -> int:
        cfg.reset(group)
        return 1
    return cfg_reset


BUILDERS: dict[str, Callable[[Engine, ast.Call], Fn]] = {
    "log": _log, "error": _error_action, "exec": _exec,
    "setflag": _setflag, "resetflag": _resetflag, "isflagset": _isflagset,
    "udp_mtu_try_proto": _udp_mtu_try_proto,
    "rewriteuri": _rewriteuri, "seturi": _rewriteuri, "revert_uri": _revert_uri,
    **{n: _uri_edit(_set_host) for n in ("rewritehost", "sethost", "seth")},
    **{n: _uri_edit(_set_hostport) for n in ("rewritehostport", "sethostport", "sethp")},
    **{n: _uri_edit(_set_hostporttrans) for n in ("rewritehostporttrans", "sethostporttrans", "sethpt")},
    **{n: _uri_edit(_set_user) for n in ("rewriteuser", "setuser", "setu")},
    **{n: _uri_edit(_set_userpass) for n in ("rewriteuserpass", "setuserpass", "setup")},
    **{n: _uri_edit(_set_port) for n in ("rewriteport", "setport", "setp")},
    "prefix": _uri_edit(_prefix), "strip": _uri_edit(_strip), "strip_tail": _uri_edit(_strip_tail),
    "userphone": _uri_edit(_userphone, needs_arg=False),
    "remove_branch": _remove_branch, "clear_branches": _clear_branches,
    **{n: _forward for n in ("forward", "forward_udp", "forward_tcp", "forward_tls")},
    "force_rport": _force_rport, "add_rport": _force_rport,
    "add_local_rport": _mark("add_local_rport"),
    # replies and requests to a TCP source already reuse its connection in kampy's net layer
    "force_tcp_alias": _mark("tcp_alias"), "add_tcp_alias": _mark("tcp_alias"),
    "set_advertised_address": _assign("advertised_address", to_str),
    "set_advertised_port": _assign("advertised_port", to_int),
    "force_send_socket": _force_send_socket,
    "set_forward_no_connect": _local_flag("forward_no_connect"),
    "set_reply_no_connect": _reply_send_flag(SND_F_FORCE_CON_REUSE),
    "set_forward_close": _local_flag("forward_close"),
    "set_reply_close": _reply_send_flag(SND_F_CON_CLOSE),
    "cfg_select": _cfg_select, "cfg_reset": _cfg_reset,
    **avpflags.BUILDERS,
}
