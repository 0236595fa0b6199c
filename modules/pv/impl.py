"""The pv module: pseudo-variable classes, their helper functions and the core transformations.

Kamailio 5.6 semantics (src/modules/pv/pv_core.c, pv_svar.c, pv_shv.c, pv_xavp.c, pv_trans.c).
Every PV class handler takes the parsed spec once at load time and returns an accessor with
`get(ctx)` and, for writable classes, `set(ctx, value)`.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, MutableMapping
from typing import Any

from kampy.api import (
    Branch,
    CoreAPI,
    KAMAILIO_VERSION_TEXT,
    MessageContext,
    Module,
    PVar,
    RpcFault,
    RpcStruct,
    Transform,
    source_id,
    version_string,
)

from . import msgvars, othervars, storage, timevars, transforms
from .common import (
    NO_INDEX,
    Dyn,
    Index,
    PVError,
    Reader,
    ReadWrite,
    Value,
    make_dyn,
    parse_index,
    pick,
    to_int,
)
from .morefuncs import MoreFunctions
from .shared_vars import SharedVars
from .msgvars import MSG_GETTERS, header_bodies
from .writers import WRITERS, get_fs, get_fsp

log = logging.getLogger("kampy.pv")

_XNAME = re.compile(r"^(?P<root>[^\[=]+)(?:\[(?P<ri>[^\]]*)\])?"
                    r"(?:=>(?P<field>[^\[]+)(?:\[(?P<fi>[^\]]*)\])?)?$")

# Kamailio's num, full and hash: the Kamailio version kampy behaves as, kampy's full version, its revision
VERSION = {"num": KAMAILIO_VERSION_TEXT, "full": version_string(), "hash": source_id()}


class PvModule(MoreFunctions, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.vars: dict[str, Any] = {}        # $var(...): per process, kept across messages
        self.shvars = SharedVars(core)        # $shv(...): seen by every worker
        self.null_vars: dict[str, Any] = {}   # $vn: a separate store, as Kamailio's script_vars_null
        self.script_flags = 0                  # $sf: per process
        self.started = int(core.clock.time())
        self.static_branch = Branch("")  # $sbranch: per process, kept across messages
        self.avp_aliases = self._aliases(params["avp_aliases"])
        self._init_vars(params["varset"], self.vars)
        initial: dict[str, Any] = {}
        self._init_vars(params["shvset"], initial)
        self.shvars.setdefault_all(initial)

    # ------------------------------------------------------------ parameters

    @staticmethod
    def _values(param: Any) -> list[str]:
        if param is None:
            return []
        return [param] if isinstance(param, str) else [str(p) for p in param]

    def _init_vars(self, param: Any, store: MutableMapping[str, Any]) -> None:
        for text in self._values(param):
            name, value = storage.parse_var_init(text)
            store[name] = value

    def _aliases(self, param: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for text in self._values(param):
            for item in text.split(";"):
                alias, eq, target = item.partition("=")
                if eq:
                    out[alias.strip()] = target.strip()
        return out

    def avp_alias(self, name: str) -> str | None:
        """PvAPI: what an alias of avp_aliases stands for."""
        return self.avp_aliases.get(name.strip())

    # ------------------------------------------------------------ nested PVs in names

    def resolve(self, spec: PVar) -> Any:
        """An accessor for a PV written inside a name, index or transformation parameter."""
        return self.core.pv_accessor(spec)

    def transformation(self, tr: Transform) -> Callable[[MessageContext, Value], Value]:
        handler = transforms.HANDLERS.get(tr.cls)
        if handler is None:
            raise PVError(f"unknown transformation class '{tr.cls}'")
        return handler(tr, self.resolve)  # type: ignore[no-any-return]

    def dyn(self, text: str) -> Dyn:
        return make_dyn(text, self.resolve)

    def index(self, spec: PVar) -> Index:
        return parse_index(spec.index, self.resolve)

    # ------------------------------------------------------------ message PVs (table driven)

    def pv_msg(self, spec: PVar) -> Any:
        cls = othervars.DOTTED_ALIASES.get(spec.cls, spec.cls)
        getter = MSG_GETTERS.get(cls) or _EXTRA_GETTERS.get(cls) or othervars.OTHER_GETTERS.get(cls)
        if getter is None:
            raise PVError(f"unknown pseudo-variable ${spec.cls}")
        setter = WRITERS.get(cls) or (othervars.set_fsn if cls == "fsn" else None)
        if setter is not None:
            return ReadWrite(getter, setter)
        return Reader(getter)

    def pv_sel(self, spec: PVar) -> Any:
        """`$sel(cfg_get.my.x)`: a select of the core or of a module, as `@cfg_get.my.x`."""
        try:
            return Reader(self.core.select(_required(spec)))
        except LookupError as exc:
            raise PVError(str(exc)) from None

    def pv_null(self, spec: PVar) -> Any:
        return Reader(lambda ctx: None)

    def pv_Tb(self, spec: PVar) -> Any:
        """`$Tb`: when this process started (Kamailio: the server's start time)."""
        return Reader(lambda ctx: self.started)

    def pv_true(self, spec: PVar) -> Any:
        return Reader(lambda ctx: 1)

    # ------------------------------------------------------------ headers

    def pv_hdr(self, spec: PVar) -> Any:
        name = self.dyn(_required(spec))
        index = self.index(spec)
        return Reader(lambda ctx: pick(header_bodies(ctx, name.render(ctx)), index, ctx))

    def pv_hdrc(self, spec: PVar) -> Any:
        name = self.dyn(_required(spec))
        return Reader(lambda ctx: len(ctx.msg.get_all_raw(name.render(ctx))))

    def pv_hfl(self, spec: PVar) -> Any:
        """Like $hdr, but list headers (Via, Contact, Record-Route, Route...) give one value per element."""
        name = self.dyn(_required(spec))
        index = self.index(spec)
        return Reader(lambda ctx: pick(ctx.msg.headers_named(name.render(ctx)), index, ctx))

    def pv_hflc(self, spec: PVar) -> Any:
        name = self.dyn(_required(spec))
        return Reader(lambda ctx: len(ctx.msg.headers_named(name.render(ctx))))

    # ------------------------------------------------------------ variables

    def pv_var(self, spec: PVar) -> Any:
        return storage.script_var(self.vars, _required(spec), nullable=False)

    pv_vz = pv_var

    def pv_vn(self, spec: PVar) -> Any:
        return storage.script_var(self.null_vars, _required(spec), nullable=True)

    def pv_shv(self, spec: PVar) -> Any:
        return storage.shared_var(self.shvars, _required(spec))

    def pv_avp(self, spec: PVar) -> Any:
        return storage.avp_accessor(self.dyn(_required(spec)), self.index(spec), self.avp_aliases)

    def pv_cnt(self, spec: PVar) -> Any:
        """`$cnt($avp(x))` / `$cnt($xavp(r))`: how many values."""
        inner = _required(spec).strip()
        m = re.fullmatch(r"\$(avp|xavp)\((.+)\)", inner)
        if m is None:
            raise PVError(f"$cnt() takes an $avp or $xavp, not {inner!r}")
        if m.group(1) == "avp":
            name = self.dyn(m.group(2))
            return Reader(lambda ctx: len(ctx.avps.get(storage.avp_key(name.render(ctx),
                                                                      self.avp_aliases), [])))
        x = self._xname(m.group(2))
        return Reader(lambda ctx: _xavp_count(ctx, x))

    def _xname(self, text: str, index: str | None = None, fold: bool = False) -> storage.XName:
        m = _XNAME.match(text.strip())
        if m is None:
            raise PVError(f"invalid xavp name {text!r}")
        field = m.group("field")
        rindex = parse_index(m.group("ri"), self.resolve) if m.group("ri") is not None else NO_INDEX
        findex = parse_index(m.group("fi"), self.resolve) if m.group("fi") is not None else NO_INDEX
        outer = parse_index(index, self.resolve) if index is not None else NO_INDEX
        if field is None and outer.kind != "none":
            rindex = outer
        elif field is not None and outer.kind != "none":
            findex = outer
        root: Any = self.dyn(m.group("root"))
        child: Any = self.dyn(field) if field else None
        if fold:
            root, child = storage.Folded(root), (storage.Folded(child) if child else None)
        return storage.XName(root, rindex, child, findex)

    def pv_xavp(self, spec: PVar) -> Any:
        return storage.xavp_accessor(self._xname(_required(spec), spec.index))

    def pv_xavi(self, spec: PVar) -> Any:
        """$xavi: $xavp whose root and child names match without regard to case."""
        return storage.xavp_accessor(self._xname(_required(spec), spec.index, fold=True), "xavis")

    # ------------------------------------------------------------ flags

    def pv_Mf(self, spec: PVar) -> Any:
        return _flag_accessor(_flag_number(spec), "flags")

    def pv_Bf(self, spec: PVar) -> Any:
        return _flag_accessor(_flag_number(spec), "bflags")

    def pv_sf(self, spec: PVar) -> Any:
        hexa = spec.cls == "sF"

        def get(ctx: MessageContext) -> Value:
            return f"0x{self.script_flags:08X}" if hexa else self.script_flags

        def set_(ctx: MessageContext, value: Value) -> None:
            n = 0 if value is None else to_int(value)
            if n is None:
                log.error("integer value required to set script flags")
                return
            self.script_flags = n & 0xFFFFFFFF
        return ReadWrite(get, set_)

    def pv_Sf(self, spec: PVar) -> Any:
        bit = 1 << _flag_number(spec)

        def get(ctx: MessageContext) -> Value:
            return 1 if self.script_flags & bit else 0

        def set_(ctx: MessageContext, value: Value) -> None:
            if value and value != "0":
                self.script_flags |= bit
            else:
                self.script_flags &= ~bit
        return ReadWrite(get, set_)

    # ------------------------------------------------------------ branches

    def pv_br(self, spec: PVar) -> Any:
        def get(ctx: MessageContext) -> Value:
            return ctx.branches[0].uri if ctx.branches else None

        def set_(ctx: MessageContext, value: Value) -> None:
            from kampy.api import Branch
            if value is None:
                log.error("str value required to set the branch")
                return
            if ctx.branches:
                ctx.branches[0].uri = str(value)
            else:
                ctx.branches.append(Branch(str(value)))
        return ReadWrite(get, set_)

    def pv_bR(self, spec: PVar) -> Any:
        return Reader(lambda ctx: ", ".join(b.uri for b in ctx.branches) if ctx.branches else None)

    def pv_branch(self, spec: PVar) -> Any:
        from .branch import branch_accessor
        return branch_accessor(_required(spec), self.index(spec))

    # ------------------------------------------------------------ time, version, misc

    def pv_time(self, spec: PVar) -> Any:
        return timevars.broken_down(_required(spec), utc=spec.cls == "utime")

    pv_utime = pv_time

    def pv_timef(self, spec: PVar) -> Any:
        return timevars.strftime(_required(spec), utc=spec.cls == "utimef")

    pv_utimef = pv_timef

    def pv_TV(self, spec: PVar) -> Any:
        return timevars.timeval(_required(spec))

    def pv_version(self, spec: PVar) -> Any:
        key = _required(spec)
        if key not in VERSION:
            raise PVError(f"$version() takes num, full or hash, not {key!r}")
        return Reader(lambda ctx: VERSION[key])

    def pv__s(self, spec: PVar) -> Any:
        """`$_s(fmt)`: the format evaluated per message."""
        fmt = self.dyn(_required(spec))
        return Reader(fmt.render)

    def pv_af(self, spec: PVar) -> Any:
        key = _required(spec)
        if key != "id" and key != "name":
            raise PVError(f"$af() takes id or name, not {key!r}")
        if key == "name":
            return Reader(lambda ctx: ctx.src.local.af)
        return Reader(lambda ctx: 10 if ctx.src.local.af == "INET6" else 2)

    def pv_stat(self, spec: PVar) -> Any:
        name = _required(spec)
        return Reader(lambda ctx: _stat(ctx, name))

    def pv_via(self, spec: PVar) -> Any:
        from .vias import via_accessor
        return via_accessor(spec.cls, _required(spec))

    pv_via0 = pv_via1 = pv_viaZ = pv_via

    def pv_msg_attrs(self, spec: PVar) -> Any:
        return _msg_attr(_required(spec))

    def pv_K(self, spec: PVar) -> Any:
        key = _required(spec)
        values = {"IPv4": 2, "IPv6": 10, "UDP": 1, "TCP": 2, "TLS": 3, "SCTP": 4, "WS": 5, "WSS": 6}
        if key not in values:
            raise PVError(f"unknown $K({key})")
        return Reader(lambda ctx: values[key])

    # ------------------------------------------------------------ transformations

    def tr_handler(self, tr: Transform) -> Callable[[MessageContext, Value], Value]:
        return self.transformation(tr)

    # ------------------------------------------------------------ functions

    def pv_isset(self, ctx: MessageContext, pv: Any) -> int:
        return 1 if pv.get(ctx) is not None else -1

    def pv_unset(self, ctx: MessageContext, pv: Any) -> int:
        setter = getattr(pv, "set", None)
        if setter is None:
            log.error("pv_unset: the pseudo-variable is read-only")
            return -1
        setter(ctx, None)
        return 1

    def is_int(self, ctx: MessageContext, pv: Any) -> int:
        value = pv.get(ctx)
        if isinstance(value, int):
            return 1
        if isinstance(value, str) and to_int(value) is not None and value.strip() == value:
            return 1
        return -1

    def typeof(self, ctx: MessageContext, pv: Any, vtype: Any) -> int:
        want = vtype if isinstance(vtype, str) else vtype.get(ctx)
        value = pv.get(ctx)
        kind = "null" if value is None else "int" if isinstance(value, int) else "str"
        return 1 if str(want).lower().startswith(kind) else -1

    def not_empty(self, ctx: MessageContext, pv: Any) -> int:
        value = pv.get(ctx)
        return 1 if isinstance(value, str) and value != "" else -1

    def pv_xavp_print(self, ctx: MessageContext) -> int:
        return _print_lists("XAVP", ctx.xavps)

    def pv_xavi_print(self, ctx: MessageContext) -> int:
        return _print_lists("XAVI", ctx.xavis)

    def xavp_rm(self, ctx: MessageContext, rname: str) -> int:
        ctx.xavps.pop(rname, None)
        return 1

    def xavi_rm(self, ctx: MessageContext, rname: str) -> int:
        ctx.xavis.pop(rname.lower(), None)
        return 1

    def xavp_child_seti(self, ctx: MessageContext, rname: str, cname: str, ival: str) -> int:
        return _child_seti(ctx.xavps, rname, cname, ival)

    def xavi_child_seti(self, ctx: MessageContext, rname: str, cname: str, ival: str) -> int:
        return _child_seti(ctx.xavis, rname.lower(), cname.lower(), ival)

    def xavp_child_sets(self, ctx: MessageContext, rname: str, cname: str, sval: str) -> int:
        return _child_set(ctx.xavps, rname, cname, sval)

    def xavi_child_sets(self, ctx: MessageContext, rname: str, cname: str, sval: str) -> int:
        return _child_set(ctx.xavis, rname.lower(), cname.lower(), sval)

    def xavp_child_rm(self, ctx: MessageContext, rname: str, cname: str) -> int:
        return _child_rm(ctx.xavps, rname, cname)

    def xavi_child_rm(self, ctx: MessageContext, rname: str, cname: str) -> int:
        return _child_rm(ctx.xavis, rname.lower(), cname.lower())

    def xavp_params_explode(self, ctx: MessageContext, sparams: str, xname: str) -> int:
        item: dict[str, list[Any]] = {}
        for part in sparams.split(";"):
            name, _, value = part.partition("=")
            if name.strip():
                item.setdefault(name.strip(), []).insert(0, value.strip())
        ctx.xavps.setdefault(xname, []).insert(0, item)
        return 1

    def xavp_copy(self, ctx: MessageContext, src: str, sidx: int, dst: str, didx: int | None = None) -> int:
        items = ctx.xavps.get(src, [])
        if not 0 <= sidx < len(items):
            return -1
        item = items[sidx]
        copy = {k: list(v) for k, v in item.items()} if isinstance(item, dict) else item
        target = ctx.xavps.setdefault(dst, [])
        if didx is None:
            target.append(copy)
        elif 0 <= didx < len(target):
            target[didx] = copy
        else:
            return -1
        return 1

    def pv_var_to_xavp(self, ctx: MessageContext, varname: str, xname: str) -> int:
        names = list(self.vars) if varname == "*" else [varname]
        item = {n: [self.vars[n]] for n in names if n in self.vars}
        if not item:
            return -1
        ctx.xavps.setdefault(xname, []).insert(0, item)
        return 1

    def pv_xavp_to_var(self, ctx: MessageContext, xname: str) -> int:
        items = ctx.xavps.get(xname)
        if not items or not isinstance(items[0], dict):
            return -1
        for name, values in items[0].items():
            if values:
                self.vars[name] = values[0]
        return 1

    def pv_evalx(self, ctx: MessageContext, dst: str, fmt: str) -> int:
        """`fmt` arrives formatted once; evaluate it again and store it in `dst`."""
        from kampy.api import parse_pv
        try:
            target = self.resolve(parse_pv(dst))
            value = self.dyn(fmt).render(ctx)
        except (PVError, ValueError) as exc:
            log.error("pv_evalx: %s", exc)
            return -1
        target.set(ctx, value)
        return 1

    # ------------------------------------------------------------ RPC

    def rpc_shvSet(self, *params: Any) -> str:  # noqa: N802 (Kamailio's name)
        """Set a shared variable (args: name type value)"""
        usage = "(Parameters: varname type value)"
        if not params or not isinstance(params[0], str):
            raise RpcFault(500, f"Missing parameter varname {usage}")
        if len(params) < 2 or not isinstance(params[1], str):
            raise RpcFault(500, f"Missing parameter type {usage}")
        name, vtype = params[0], params[1].lower()
        if vtype == "int":
            if len(params) < 3 or not isinstance(params[2], int):
                raise RpcFault(500, f"Missing integer parameter value {usage}")
            value: int | str = params[2]
        elif vtype == "str":
            if len(params) < 3 or not isinstance(params[2], str):
                raise RpcFault(500, f"Missing parameter value {usage}")
            value = params[2]
        else:
            raise RpcFault(500, "Unknown parameter type (Types: int or str)")
        if name not in self.shvars:
            raise RpcFault(404, "Variable not found")
        self.shvars[name] = value
        return "Ok. Variable set to new value."

    def rpc_shvGet(self, name: str | None = None) -> dict[str, Any]:  # noqa: N802
        """Get the value of a shared variable. If no argument, dumps all"""
        if name is not None:
            if name not in self.shvars:
                raise RpcFault(404, "Variable not found")
            return self._shv_item(name)
        return {"items": RpcStruct([("shv", self._shv_item(n)) for n in self.shvars])}

    def _shv_item(self, name: str) -> dict[str, Any]:
        value = self.shvars[name]
        return {"name": name, "type": "int" if isinstance(value, int) else "string", "value": value}


def _required(spec: PVar) -> str:
    if spec.arg is None or spec.arg == "":
        raise PVError(f"${spec.cls} needs a name in parentheses")
    return spec.arg


def _flag_number(spec: PVar) -> int:
    n = to_int(_required(spec))
    if n is None or not 0 <= n < 32:
        raise PVError(f"invalid flag {spec.arg!r} (0..31)")
    return n


def _flag_accessor(n: int, attr: str) -> ReadWrite:
    bit = 1 << n

    def get(ctx: MessageContext) -> Value:
        return 1 if getattr(ctx, attr) & bit else 0

    def set_(ctx: MessageContext, value: Value) -> None:
        current = getattr(ctx, attr)
        setattr(ctx, attr, current | bit if value and value != "0" else current & ~bit)
    return ReadWrite(get, set_)


def _print_lists(kind: str, store: dict[str, list[Any]]) -> int:
    for name, items in store.items():
        log.info("%s %s: %r", kind, name, items)
    return 1


def _child_seti(store: dict[str, list[Any]], rname: str, cname: str, ival: str) -> int:
    n = to_int(ival)
    if n is None:
        log.error("child_seti: %r is not an integer", ival)
        return -1
    return _child_set(store, rname, cname, n)


def _child_set(store: dict[str, list[Any]], rname: str, cname: str, value: Value) -> int:
    """Set (replace) the child value in the first item of `rname`, creating it if needed."""
    items = store.setdefault(rname, [])
    if not items or not isinstance(items[0], dict):
        items.insert(0, {})
    items[0][cname] = [value]
    return 1


def _child_rm(store: dict[str, list[Any]], rname: str, cname: str) -> int:
    items = store.get(rname)
    if not items or not isinstance(items[0], dict) or cname not in items[0]:
        return -1
    del items[0][cname]
    return 1


def _xavp_count(ctx: MessageContext, x: storage.XName) -> int:
    items = ctx.xavps.get(x.root.render(ctx), [])
    if x.field is None:
        return len(items)
    if not items or not isinstance(items[0], dict):
        return 0
    return len(items[0].get(x.field.render(ctx), []))


def _stat(ctx: MessageContext, name: str) -> Value:
    stats = ctx.core.stats
    for key in (name, *(k for k, _ in stats.items() if k.endswith(":" + name))):
        try:
            return stats.get(key)  # type: ignore[no-any-return]
        except KeyError:
            continue
    return None


def _msg_attr(key: str) -> Reader:
    getters: dict[str, Callable[[MessageContext], Value]] = {
        "len": msgvars.get_ml, "buf": msgvars.get_mb, "body": msgvars.get_rb,
        "body_len": msgvars.get_bs, "hdrs_len": lambda ctx: len(ctx.msg.raw) - len(ctx.msg.body),
        "fline": lambda ctx: ctx.msg.start_line,
        "fline_len": lambda ctx: len(ctx.msg.start_line) + 2,
    }
    if key not in getters:
        raise PVError(f"unknown $msg({key})")
    return Reader(getters[key])


def _flags_hex(attr: str) -> Callable[[MessageContext], Value]:
    return lambda ctx: f"0x{getattr(ctx, attr):08X}"


_EXTRA_GETTERS: dict[str, Callable[[MessageContext], Value]] = {
    "du": lambda ctx: ctx.dst_uri, "duri": lambda ctx: ctx.dst_uri,
    "dd": lambda ctx: msgvars.uri_host(msgvars._uri(ctx.dst_uri)),
    "dp": lambda ctx: msgvars.uri_port(msgvars._uri(ctx.dst_uri)),
    "dP": lambda ctx: msgvars.uri_transport(msgvars._uri(ctx.dst_uri)),
    "fs": get_fs, "fsp": get_fsp,
    "mf": lambda ctx: ctx.flags, "mF": _flags_hex("flags"),
    "bf": lambda ctx: ctx.bflags, "bF": _flags_hex("bflags"),
    # $Ts/$Tf: the time the message's processing began (cached, as Kamailio caches it per
    # message); $TS/$TF: the time now. Both from the core's clock.
    "Ts": lambda ctx: int(timevars.message_time(ctx)),
    "TS": lambda ctx: int(ctx.core.clock.time()),
    "Tf": lambda ctx: timevars.ctime(timevars.message_time(ctx)),
    "TF": lambda ctx: timevars.ctime(ctx.core.clock.time()),
    "sid": lambda ctx: ctx.core.server_id,
}
