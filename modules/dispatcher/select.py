"""Choosing destinations: ds_manage_routes() with every algorithm, the XAVP records of the chosen
destinations and how the first one is pushed to $du or the R-URI."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kampy.api import Branch, MessageContext, Request, SIPProtocolError, module_logger, parse_uri

from .dslist import skip_dst
from .hashing import ds_get_hash, uri_hash_keys
from .store import RWLAST, WLAST

if TYPE_CHECKING:
    from .dispatcher import DispatcherModule

log = module_logger("dispatcher")

ALG_CALLLOAD, ALG_PARALLEL, ALG_LATENCY = 10, 12, 13
SETOP_DSTURI, SETOP_RURI, SETOP_XAVP = 0, 1, 2
XAVP_DST_SKIP_ATTRS, XAVP_DST_ADD_SOCKSTR, XAVP_DST_ADD_SOCKNAME = 1, 2, 4
UNLIMITED = 0xFFFFFFFF


@dataclass
class SelectState:
    """ds_select_state_t."""

    setid: int = 0
    alg: int = 0
    umode: int = SETOP_DSTURI
    limit: int = UNLIMITED
    cnt: int = 0
    emode: int = 0
    pos: int = 0  # where the next XAVP record goes (after the previous one: lxavp)
    records: list[dict[str, list[Any]]] = field(default_factory=list)


def message_hash(mod: DispatcherModule, ctx: MessageContext, alg: int) -> int | None:
    """The hash of algorithms 0, 1, 2, 3, 7 (None: cannot be computed, logged)."""
    msg = ctx.msg
    try:
        if alg == 0:
            return ds_get_hash(msg.call_id.strip())
        if alg == 1:
            return ds_get_hash(*uri_hash_keys(msg.from_.uri, mod.flags))
        if alg == 2:
            return ds_get_hash(*uri_hash_keys(msg.to.uri, mod.flags))
        if alg == 3:
            return ds_get_hash(*uri_hash_keys(ctx.ruri, mod.flags))
        if alg == 7:
            if mod.hash_pvar is None:
                log.error("bad parameters")
                return None
            text = mod.hash_pvar(ctx).strip()
            if not text:
                log.error("String is empty!")
                return None
            return ds_get_hash(text)
    except (SIPProtocolError, AttributeError, ValueError) as exc:
        log.error("can't get the hash of algorithm %d: %s", alg, exc)
        return None
    return 0


def auth_username_hash(ctx: MessageContext) -> int | None:
    """ds_hash_authusername(): the digest username of Proxy-Authorization, else Authorization;
    None when there is none (round robin then)."""
    from kampy.api import DigestSyntaxError, parse_digest_credentials

    for header in ("Proxy-Authorization", "Authorization"):
        value = ctx.msg.header(header)
        if value is None:
            continue
        try:
            creds = parse_digest_credentials(value)
        except DigestSyntaxError:
            continue
        user = (creds.username or "").partition("@")[0].strip()
        if not user:
            log.error("No Authorization-Username or Credentials!")
            return None
        return ds_get_hash(user)
    return None


def manage_routes(mod: DispatcherModule, ctx: MessageContext, rs: SelectState) -> int:
    """ds_manage_routes(): choose from set `rs.setid` by `rs.alg`, push the first, record the rest."""
    data = mod.store.read()
    if not data["sets"]:
        log.error("no destination sets")
        return -1
    if rs.umode == SETOP_DSTURI and not mod.force_dst and ctx.dst_uri:
        log.error("destination already set [%s]", ctx.dst_uri)
        return -1
    if str(rs.setid) not in data["sets"]:
        log.error("destination set [%d] not found", rs.setid)
        return -1
    alg = rs.alg
    xavp_filled = False
    ulast = False
    sorted_idx: list[int] = []
    if alg in (0, 1, 2, 3, 7):
        found = message_hash(mod, ctx, alg)
        if found is None:
            return -1
        hash_ = found
    elif alg == 5:
        found = auth_username_hash(ctx)
        if found is None:
            hash_, ulast = mod.next_round_robin(rs.setid), True
        else:
            hash_ = found
    elif alg == 4:
        hash_, ulast = mod.next_round_robin(rs.setid), True
    elif alg == 6:
        hash_ = random.getrandbits(31)
    elif alg in (8, ALG_PARALLEL):
        hash_ = 0
    elif alg == 9:
        hash_ = mod.next_weight(rs.setid, "wlist", WLAST)
    elif alg == 11:
        hash_ = mod.next_weight(rs.setid, "rwlist", RWLAST)
    elif alg == ALG_CALLLOAD:
        hash_, rs.alg = mod.call_load_pick(ctx, rs.setid)
        if hash_ < 0:
            return -1
    elif alg == ALG_LATENCY:
        hash_, sorted_idx = mod.latency_order(rs.setid)
        if hash_ == -1:  # no active destination sorted first
            return -1
        xavp_filled = True
    else:
        log.warning("algo %d not implemented - using first entry...", alg)
        hash_ = 0
    dlist = mod.store.read()["sets"][str(rs.setid)]["dests"]
    nr = len(dlist)
    modulo = nr - 1 if mod.use_default and nr != 1 else nr
    hash_ %= modulo
    i = hash_
    while not xavp_filled and skip_dst(dlist[i]["flags"]):
        i = (i + 1) % modulo
        if i == hash_:
            if mod.use_default:
                i = nr - 1
                if skip_dst(dlist[i]["flags"]):
                    return -1
                break
            return -1
    hash_ = i
    dest = dlist[hash_]
    if rs.umode != SETOP_XAVP:
        if push_dst(mod, ctx, dest["uri"], dest.get("sock"), rs.umode) != 0:
            log.error("cannot set next hop address with: %s", dest["uri"])
            return -1
        rs.emode = 1
    if ulast:
        mod.settle_round_robin(rs.setid, hash_)
    if rs.alg == ALG_PARALLEL:
        add_branches(mod, ctx, dlist, hash_, rs.umode)
        return 1
    if not mod.flags & 2 or not mod.xavp_dst:
        return 1
    if xavp_filled:
        for j in sorted_idx:
            if rs.cnt >= rs.limit:
                break
            if j < 0 or skip_dst(dlist[j]["flags"]) or (mod.use_default and j == nr - 1):
                continue
            add_xavp_record(mod, ctx, dlist[j], rs)
    else:
        fill_xavp(mod, ctx, dlist, hash_, rs)
    if mod.use_default and hash_ != nr - 1 and rs.cnt < rs.limit:
        add_xavp_record(mod, ctx, dlist[nr - 1], rs)
    return 1


def fill_xavp(
    mod: DispatcherModule, ctx: MessageContext, dlist: list[dict[str, Any]], hash_: int, rs: SelectState
) -> None:
    """ds_manage_routes_fill_xavp(): the chosen one, those after it, then those before it."""
    add_xavp_record(mod, ctx, dlist[hash_], rs)
    nr = len(dlist)
    for i in [*range(hash_ + 1, nr), *range(0, hash_)]:
        if rs.cnt >= rs.limit:
            break
        dest = dlist[i]
        if skip_dst(dest["flags"]) or (mod.use_default and i == nr - 1):
            continue
        maxload = dest["attrs"].get("maxload") or 0
        if rs.alg == ALG_CALLLOAD and maxload and dest["dload"] >= maxload:
            continue
        add_xavp_record(mod, ctx, dest, rs)


def add_xavp_record(
    mod: DispatcherModule, ctx: MessageContext, dest: dict[str, Any], rs: SelectState
) -> None:
    """ds_add_xavp_record(): one destination as an item of $xavp(_dsdst_), after the previous one."""
    attrs = dest["attrs"]
    fields: list[tuple[str, Any]] = [("uri", dest["uri"]), ("grp", rs.setid)]
    if not mod.xavp_dst_mode & XAVP_DST_SKIP_ATTRS and attrs.get("body"):
        fields.append(("attrs", attrs["body"]))
    sock = mod.socket_of(dest.get("sock"))
    if sock is not None:
        fields.append(("sock", sock))
        if mod.xavp_dst_mode & XAVP_DST_ADD_SOCKSTR and attrs.get("socket"):
            fields.append(("socket", attrs["socket"]))
        if mod.xavp_dst_mode & XAVP_DST_ADD_SOCKNAME and attrs.get("sockname"):
            fields.append(("sockname", attrs["sockname"]))
    if rs.alg == ALG_CALLLOAD:
        if not attrs.get("duid"):
            log.error("no uid for destination: %d %s", rs.setid, dest["uri"])
            return
        fields.append(("dstid", attrs["duid"]))
    item = {name: [value] for name, value in reversed(fields)}  # Kamailio prepends each field
    ctx.xavps.setdefault(mod.xavp_dst, []).insert(rs.pos, item)
    rs.pos += 1
    rs.cnt += 1


def push_dst(mod: DispatcherModule, ctx: MessageContext, uri: str, sock_text: str | None, mode: int) -> int:
    """ds_push_dst(): the address as $du, or as the host part (and all after it) of the R-URI."""
    if mode == SETOP_RURI:
        hostall = uri
        for scheme in ("sip:", "sips:"):
            if len(uri) > len(scheme) and uri[: len(scheme)].lower() == scheme:
                hostall = uri[len(scheme) :]
                break
        try:
            current = parse_uri(ctx.ruri)
        except SIPProtocolError:
            log.error("error while setting r-uri domain with: %s", uri)
            return -1
        userinfo = current.user or ""
        if userinfo and current.password is not None:
            userinfo += ":" + current.password
        ctx.new_ruri = f"{current.scheme}:{userinfo + '@' if userinfo else ''}{hostall}"
    elif mode == SETOP_XAVP:
        return 0
    else:
        ctx.dst_uri = uri
        ctx.ruri_new = True  # ruri_mark_new(): the R-URI is forked again with the new $du
    sock = mod.socket_of(sock_text)
    if sock is not None:
        ctx.force_socket = sock
    return 0


def add_branches(
    mod: DispatcherModule, ctx: MessageContext, dlist: list[dict[str, Any]], hash_: int, mode: int
) -> None:
    """ds_add_branches(): algorithm 12 forks to the rest of the set at once."""
    start = hash_ if mode == SETOP_XAVP else hash_ + 1
    if mode != SETOP_XAVP and hash_ + 1 >= len(dlist):
        return
    user = None
    if mode == SETOP_RURI:
        try:
            user = parse_uri(ctx.ruri).user
        except SIPProtocolError:
            return
    for dest in dlist[start:]:
        sock = mod.socket_of(dest.get("sock"))
        uri = dest["uri"]
        if mode == SETOP_RURI:
            if user:
                if len(uri) < 6:
                    continue
                if uri.startswith("sips:"):
                    uri = f"sips:{user}@{uri[5:]}"
                elif uri.startswith("sip:"):
                    uri = f"sip:{user}@{uri[4:]}"
                else:
                    log.warning("unsupported protocol schema - ignoring")
                    continue
            ctx.branches.append(Branch(uri, socket=sock))
        else:
            ctx.branches.append(Branch(ctx.ruri, dst_uri=uri, socket=sock))


def update_dst(mod: DispatcherModule, ctx: MessageContext, use_next: bool, mode: int) -> int:
    """ds_update_dst(): the current (or, dropping it, the next) XAVP record pushed as $du or R-URI."""
    if use_next and (not mod.flags & 2 or not mod.xavp_dst):
        log.warning("failover support disabled")
        return -1
    while True:
        items = ctx.xavps.get(mod.xavp_dst)
        if not items:
            return -1
        if use_next:
            items.pop(0)
            if not items:
                ctx.xavps.pop(mod.xavp_dst, None)
                return -1
        record = items[0]
        uri = (record.get("uri") or [None])[0]
        if not isinstance(uri, str):
            log.warning("no xavp uri field in next destination record")
            return -1
        sock = (record.get("sock") or [None])[0]
        if push_dst(mod, ctx, uri, str(sock) if sock is not None else None, mode) != 0:
            log.error("cannot set dst addr: %s", uri)
            return -1
        dstid = (record.get("dstid") or [None])[0]
        if not isinstance(dstid, str) or not use_next:
            return 1
        ret = mod.load_replace(ctx, dstid)
        if ret == 0:
            return 1
        if ret == -2:
            log.error("cannot update load with %s, skipping dst.", dstid)
            continue
        log.error("cannot update load distribution")
        return -1


def is_request(ctx: MessageContext) -> bool:
    return isinstance(ctx.msg, Request)
