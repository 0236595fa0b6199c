"""The module API: how a kampy module declares everything it offers, in one place.

A module is a package under `modules/` (or found on `loadpath`/`mpath`, or through the `kampy.modules`
entry point group) whose `__init__.py` defines `EXPORTS`, an `Exports` value. The compiler, `kampy check`,
the statistics and RPC registries and the module docs all read this one declaration, as Kamailio's core
reads a module's `cmd_export_t`/`param_export_t` tables.

Handlers are named by attribute: a function's `handler` is the name of a method on the module instance
that `Exports.factory` builds once the module's parameters are known.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kampy.apis import CoreAPI
    from kampy.runtime.context import MessageContext, Outgoing, Source


class RouteType(enum.IntFlag):
    """Route block types, with Kamailio's bit values (src/core/route.h)."""

    REQUEST = 1 << 0
    FAILURE = 1 << 1
    TM_ONREPLY = 1 << 2
    BRANCH = 1 << 3
    ONSEND = 1 << 4
    ERROR = 1 << 5
    LOCAL = 1 << 6
    CORE_ONREPLY = 1 << 7
    BRANCH_FAILURE = 1 << 8
    ONEVENT = 1 << 9
    ONREPLY = TM_ONREPLY | CORE_ONREPLY
    EVENT = REQUEST | ONEVENT
    ANY = 0xFFFFFFFF


ROUTE_KIND_TYPES: dict[str, RouteType] = {
    "request": RouteType.REQUEST,
    "route": RouteType.REQUEST,
    "failure": RouteType.FAILURE,
    "onreply": RouteType.TM_ONREPLY,
    "reply": RouteType.CORE_ONREPLY,
    "branch": RouteType.BRANCH,
    "onsend": RouteType.ONSEND,
    "event": RouteType.EVENT,
    "error": RouteType.ERROR,
    "local": RouteType.LOCAL,
}

ROUTE_KIND_NAMES: dict[str, str] = {
    "request": "request_route",
    "route": "route",
    "failure": "failure_route",
    "onreply": "onreply_route",
    "reply": "reply_route",
    "branch": "branch_route",
    "onsend": "onsend_route",
    "event": "event_route",
    "error": "error_route",
    "local": "local_route",
}


def route_type_of(kind: str, name: str | None) -> RouteType:
    """The type Kamailio checks a block's functions against (an unnamed onreply_route is a core one)."""
    if kind == "onreply" and (name is None or name == "0"):
        return RouteType.CORE_ONREPLY
    return ROUTE_KIND_TYPES[kind]


def allowed_in(flags: RouteType, block: RouteType) -> bool:
    """Kamailio's sr_cmd_flags_match: every bit of the block type must be allowed, except that an
    event route accepts a function allowed in either of its two bits."""
    if flags & block == block:
        return True
    return block == RouteType.EVENT and bool(flags & RouteType.EVENT)


class ArgKind(enum.Enum):
    """How a function argument is prepared once at load time (Kamailio's fixups)."""

    STR = "string"            # a literal string, used as it is
    FMT = "format"            # a string that may hold pseudo-variables, formatted per message
    INT = "int"               # an integer, or a pseudo-variable giving one
    PVAR = "pvar"             # a pseudo-variable the function writes to
    REGEX = "regex"           # a regular expression, compiled once
    ROUTE = "route"           # the name of a route block of `route_kind` ("failure", "onreply",
                              # "branch", "route", or "branch_failure" for event_route[tm:branch-failure:X])
    EXPR = "expr"             # any expression, evaluated per message (core actions)


# Kamailio compiles REGEX arguments (fixup_regexp_*, FPARAM_REGEX) with REG_EXTENDED | REG_ICASE |
# REG_NEWLINE: case-insensitive, `^`/`$` at line ends, `.` not matching a newline.
REGEX_FLAGS = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class Arg:
    """One argument of a config function. `kind` says how the core prepares it once at load time;
    `fixup` names a method of the module (Kamailio's fixup function) that turns the prepared value
    into what the handler receives: `fixup(value) -> value`, run once at load time for a constant
    argument and on each call for one holding pseudo-variables. It raises ValueError to refuse a
    value: at load time that is a config error at the argument; on a call, the function logs it
    and returns -1 without running its handler."""

    name: str
    kind: ArgKind = ArgKind.FMT
    route_kind: str | None = None  # for ROUTE: "failure", "onreply", "branch", "route"
    doc: str = ""
    regex_flags: int = REGEX_FLAGS  # for REGEX: Python `re` flags matching the module's regcomp()
    fixup: str = ""
    # Kamailio's "var" fixups for a string argument (FMT kind): "pve" (fixup_var_pve_str_12, as
    # sl_send_reply's reason) and "str" (fixup_var_str_12, as t_reply's): a value that starts with a
    # pseudo-variable is that pseudo-variable alone (the rest ignored), one that starts with `$` and
    # no pseudo-variable names an AVP (`$x y`: the AVP "x y"), one that starts with `@` a select;
    # else "pve" formats the text and "str" takes it as it is. An unset pseudo-variable or AVP is
    # None, as get_str_fparam fails on it: the handler takes its default. For an INT argument
    # (fixup_var_int_1/_12) the same lone pseudo-variable or AVP counts only when its value is an
    # integer (an AVP's string of digits counts); when it is not, with "int" the function fails
    # (returns -1, as t_set_fr()), with "int_or_default" the handler gets None and takes its default
    # (sl_send_reply()'s code).
    var_fixup: str = ""


@dataclass(frozen=True)
class Function:
    """A function callable from the config. `args` lists every argument; the last
    `len(args) - min_args` are optional, and each count in between is a valid call
    (Kamailio declares one export per count). `varargs` accepts any count from min_args up.
    `continuation`: while the handler runs, `ctx.continuation` runs the statements after the call
    in its block (None when it is the last one), as Kamailio's fixups that keep the next action
    (async_sleep() suspends the message and runs them later)."""

    name: str
    handler: str = ""  # method name on the module instance; "" means the same as `name`
    args: tuple[Arg, ...] = ()
    min_args: int | None = None
    routes: RouteType = RouteType.ANY
    varargs: bool = False
    doc: str = ""
    returns: str = ""
    continuation: bool = False
    # a module method called with no argument once for each call of the function in the config, at
    # load (Kamailio's fixup of a function without parameters): a ValueError refuses the config
    fixup: str = ""

    @property
    def required(self) -> int:
        return len(self.args) if self.min_args is None else self.min_args

    def accepts_count(self, n: int) -> bool:
        if self.varargs:
            return n >= self.required
        return self.required <= n <= len(self.args)

    @property
    def handler_name(self) -> str:
        return self.handler or self.name

    def arg_kind(self, index: int) -> ArgKind:
        if index < len(self.args):
            return self.args[index].kind
        return self.args[-1].kind if self.args else ArgKind.FMT

    def arg_var_fixup(self, index: int) -> str:
        """The Kamailio "var" fixup of argument `index` (Arg.var_fixup), "" for none."""
        if index < len(self.args):
            return self.args[index].var_fixup
        return self.args[-1].var_fixup if self.args else ""


@dataclass(frozen=True)
class Param:
    """A module parameter. `types` are the value types `modparam` may give (Kamailio refuses a
    string for an int parameter and the other way round); `validate` raises ValueError with
    words for the user."""

    name: str
    types: tuple[type, ...]
    default: Any = None
    doc: str = ""
    validate: Callable[[Any], None] | None = None
    multi: bool = False  # may be set several times (the values accumulate)
    # Deprecated: list an ignored parameter in Exports.not_implemented with its reason instead
    # (tests/test_module_completeness.py refuses implemented=False in kampy's own modules). False:
    # declared so Kamailio configs load, but ignored; a value other than the default is a warning.
    implemented: bool = True

    def ignored_warning(self, module: str) -> str:
        return f"parameter '{self.name}' of module '{module}' is not implemented in kampy and is ignored"

    def type_names(self) -> str:
        return " or ".join("integer" if t is int else "string" for t in self.types)


@dataclass(frozen=True)
class Stat:
    """A statistic; its full name is `group:name`, the group being the module's name unless set. A
    part in angle brackets makes the name a template (`<domain>-expires`): the module registers
    each instance at run time (`core.stats.register`), none is registered at load."""

    name: str
    doc: str = ""
    no_reset: bool = False
    group: str | None = None


class RpcFault(Exception):
    """What an RPC handler raises to answer with an error: Kamailio's rpc->fault(code, text)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class RpcDelayed:
    """What an RPC handler returns to answer later, from the worker's event loop (a reply that a
    SIP transaction brings): the transport answers once `resolve(value)` or `fail(code, text)` is
    called. `then(fn)` is the answer `fn(value, fault)` makes of it, a new RpcDelayed."""

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.fault: RpcFault | None = None
        self._waiters: list[Callable[[], None]] = []

    def resolve(self, value: Any) -> None:
        self._finish(value, None)

    def fail(self, code: int, message: str) -> None:
        self._finish(None, RpcFault(code, message))

    def _finish(self, value: Any, fault: RpcFault | None) -> None:
        if self.done:
            return
        self.done, self.value, self.fault = True, value, fault
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter()

    def then(self, fn: Callable[[Any, RpcFault | None], Any]) -> RpcDelayed:
        out = RpcDelayed()

        def run() -> None:
            try:
                out.resolve(fn(self.value, self.fault))
            except RpcFault as fault:
                out._finish(None, fault)

        if self.done:
            run()
        else:
            self._waiters.append(run)
        return out


@dataclass(frozen=True)
class RpcMethod:
    """An RPC method. A handler returning a list adds several values (rpc->add called once per
    item): over binrpc each is a value of the reply; over JSON-RPC they make an array when `array`
    is set (Kamailio's RET_ARRAY), otherwise the last one is the result, as in Kamailio."""

    name: str
    handler: str = ""  # method name on the module instance; "" means `name` with dots as underscores
    doc: str = ""
    array: bool = False
    # the fault the method answers when its parameters are missing or of the wrong type (Kamailio's
    # handlers answer their own when rpc->scan() fails; "{scanned}" in the text is what rpc->scan()
    # returned, minus the parameter it failed at); None: the transport's generic fault
    params_fault: tuple[int, str] | None = None
    # the method goes on when rpc->scan() fails at an optional string of the wrong type (as
    # Kamailio's tm.t_uac_* do with the body), which then holds what the transport left in it
    past_unread_optional: bool = False
    # the parameters rpc->scan() reads with "." (autoconversion, e.g. ".S"): over JSON-RPC a number
    # there is the text of its integer, where another method's scan fails
    autoconvert: tuple[int, ...] = ()
    # the int parameters rpc->scan() reads as unsigned ("u"): over JSON-RPC a number there is C's
    # (unsigned int) of it (kamctl's ALL_METHODS, 4294967295, stays itself), where "d" gives INT_MIN
    unsigned: tuple[int, ...] = ()


@dataclass(frozen=True)
class Timer:
    """A periodic job; `interval_param` names the parameter holding its period in seconds."""

    name: str
    handler: str
    interval_param: str | None = None
    interval: float | None = None
    doc: str = ""


@dataclass(frozen=True)
class Process:
    """A process of its own a module runs beside the workers (what Kamailio's modules fork in
    child_init(PROC_MAIN) with fork_basic_timer(), as rtimer does): it reads no SIP socket (it
    sends, and its transactions get their replies handed over, as any worker's) and calls
    `handler(*args)` of the module every `interval` seconds, the first time one interval after it
    started. `description` is how core.psx lists it. With `fork=no` (one process) and in the
    pytest plugin the job runs as a timer of the one server instead."""

    description: str
    handler: str
    interval: float
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class PVClass:
    """A pseudo-variable class such as `ru` or `avp`. `arg` says whether it takes a name in
    parentheses: "none", "required" or "optional"."""

    name: str
    handler: str = ""
    arg: str = "none"
    writable: bool = False
    doc: str = ""


@dataclass(frozen=True)
class TransformClass:
    """A transformation class such as `s` with the names it offers (`len`, `substr`, ...)."""

    name: str
    names: tuple[str, ...]
    handler: str = ""


@dataclass(frozen=True)
class EventRoute:
    """An event route the module runs, `event_route[<name>]`. A part in angle brackets is completed
    at run time: `htable:expired:<table>` stands for `htable:expired:` and any table name."""

    name: str
    doc: str = ""

    def matches(self, route_name: str) -> bool:
        pattern = ".+".join(re.escape(part) for part in re.split(r"<[^>]*>", self.name))
        return re.fullmatch(pattern, route_name) is not None


CFG_TYPES = ("int", "string", "str")


@dataclass(frozen=True)
class CfgVar:
    """A variable of a module's cfg group (Kamailio's `cfg_def_t`): readable and changeable at run
    time through the cfg framework (`cfg.set_now_int tm fr_timer 5000`, `@cfg_get.tm.fr_timer`), a
    change applying to the next message in every worker. The module reads the value the message
    at hand sees with `core.cfg.get(group, name)`.

    `type` is Kamailio's storage type: "int", "string" (char*) or "str" (str); `input` the type a
    new value is given as when it differs (log_facility: given as a string, kept as an int). The
    start value is the module parameter `param` (default: the variable's own name), else
    `default`. An int outside `min`..`max` is refused (no check when both are 0). `fixup` names
    a method `fixup(value) -> value` checking or converting a new value (Kamailio's on_change
    callback; ValueError refuses it): such a variable cannot be read through cfg.get or a select,
    as in Kamailio. `on_set` names a method `on_set(value)` run in each worker when the variable's
    default value changes (Kamailio's per-child callback); `only_once` (CFG_CB_ONLY_ONCE): the
    variable has no per-instance values. `readonly` ones cannot be changed. The start value goes
    through the fix-up as a module's mod_init converts it (tm's timers in ticks); `fix_start=False`
    keeps it as given (siputils' `ring_timeout` starts at 0, which its fix-up refuses as a new value).
    `inert`: a variable of Kamailio's group the module does not act on (its parameter is not
    implemented), kept and shown as Kamailio shows it; setting it logs a warning saying so."""

    name: str
    type: str
    doc: str = ""
    param: str | None = ""
    default: Any = None
    min: int = 0
    max: int = 0
    input: str | None = None
    fixup: str = ""
    on_set: str = ""
    only_once: bool = False
    readonly: bool = False
    fix_start: bool = True
    inert: bool = False

    def __post_init__(self) -> None:
        if self.type not in CFG_TYPES or (self.input is not None and self.input not in CFG_TYPES):
            raise ValueError(f"cfg variable {self.name!r}: type is one of {', '.join(CFG_TYPES)}")

    @property
    def param_name(self) -> str | None:
        return self.name if self.param == "" else self.param


@dataclass(frozen=True)
class CfgGroup:
    """A module's cfg group (Kamailio's `cfg_declare(name, ...)`): usually named after the module."""

    name: str
    vars: tuple[CfgVar, ...]


@dataclass(frozen=True)
class Select:
    """A select a module adds (Kamailio's `register_select_table`): `@<name>...` and
    `$sel(<name>...)`, as textopsx's `@hf_value.contact[1].uri` or tm's `@tm.uac.count`.
    `handler(path)` gets the parsed select once at load time (a tuple of its parts, each a str or
    an int, the first being `name`: `("hf_value", "contact", 1, "uri")`) and returns
    `fn(ctx) -> str | None` (None: no value, Kamailio's select returning 1), or raises ValueError
    for a select it does not know. `kampy.api.select_uri(path, level)` and its kin resolve the
    nested selects the core shares (`.uri.host`, `.nameaddr.name`, `.params.x`)."""

    name: str
    handler: str
    doc: str = ""


UNIMPLEMENTED_KINDS = ("param", "function", "pvar", "transform", "stat", "rpc", "event_route")


@dataclass(frozen=True)
class Unimplemented:
    """Something the Kamailio module has that kampy's does not: the one place a module lists what it
    leaves out, with the reason. `kampy doc` renders the list into the README; `kampy check` warns
    (file:line:col) when a config sets such a parameter, calls such a function, uses such a
    pseudo-variable or transformation, or defines such an event route; `kampy run` accepts the
    parameter (ignoring it) and refuses the rest where the config uses it.

    `kind` is one of UNIMPLEMENTED_KINDS. `name` is Kamailio's: a function or parameter name, a PV
    class (`sht`), a transformation class (`s`) or one of its names (`s.fmtlines`), a statistic as
    `group:name`, an RPC method, an event route (`htable:mod-init`). For a function, `args` limits
    the entry to that argument count. For a parameter, `types` are the value types Kamailio takes
    (another is an error, as in Kamailio; empty: any) and a config setting it to `default`
    (Kamailio's default) gets no warning."""

    kind: str
    name: str
    reason: str
    args: int | None = None
    default: Any = None
    types: tuple[type, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in UNIMPLEMENTED_KINDS:
            raise ValueError(f"Unimplemented kind {self.kind!r}: one of {', '.join(UNIMPLEMENTED_KINDS)}")
        if not self.reason.strip():
            raise ValueError(f"Unimplemented {self.kind} {self.name!r} needs a reason")

    def label(self) -> str:
        """How a user sees it: `t_relay()`, `$sht`, `{s.fmtlines}`, `modparam 'x'`, ..."""
        return {"function": f"{self.name}()" + (f" with {self.args} argument{'s' if self.args != 1 else ''}"
                                                 if self.args is not None else ""),
                "pvar": f"${self.name}", "transform": f"{{{self.name}}}", "param": f"parameter '{self.name}'",
                "stat": f"statistic {self.name}", "rpc": f"RPC method {self.name}",
                "event_route": f"event_route[{self.name}]"}[self.kind]

    def warning(self, module: str) -> str:
        verdict = "is ignored by kampy" if self.kind == "param" else "is not available in kampy"
        return f"{self.label()} of module '{module}' {verdict}: {self.reason}"


@dataclass(frozen=True)
class Offer:
    """An API a module offers other modules (Kamailio's bind_xxx / load_xxx_api): `name` is what
    they ask `core.api()` for (usually the module's name), `protocol` the `typing.Protocol` its
    object implements. The object is the module instance narrowed to the Protocol's members (other
    modules reach nothing else of it), or, with `handler`, what that method of the instance returns.
    Checked at load: the object must implement the Protocol (members present, signatures
    compatible)."""

    name: str
    protocol: type
    handler: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Need:
    """An API a module uses, offered by another module (`Offer`). A required one must be offered by
    a loaded module (else a config error at the loadmodule line); an optional one may be missing
    (`core.api(name)` then returns None). With `protocol`, the offered object must implement it too
    (checked when the module binds it). Modules a module needs are built before it, so it binds
    them in `__init__`, where a problem is a load error. `core.api()` of an API not declared here
    fails."""

    name: str
    protocol: type | None = None
    optional: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Exports:
    name: str
    doc: str = ""
    params: tuple[Param, ...] = ()
    functions: tuple[Function, ...] = ()
    stats: tuple[Stat, ...] = ()
    rpc: tuple[RpcMethod, ...] = ()
    timers: tuple[Timer, ...] = ()
    pvars: tuple[PVClass, ...] = ()
    transforms: tuple[TransformClass, ...] = ()
    event_routes: tuple[EventRoute, ...] = ()
    not_implemented: tuple[Unimplemented, ...] = ()
    offers: tuple[Offer, ...] = ()
    needs: tuple[Need, ...] = ()
    cfg: CfgGroup | None = None
    selects: tuple[Select, ...] = ()
    factory: Callable[..., Any] | None = None
    # the processes of its own the module runs, from its parameters (every declared one, as the
    # module gets them): called once before the workers start, so a function of the parameters
    processes: Callable[[dict[str, Any]], Sequence[Process]] | None = None
    # a slow load of read-only data the workers share (copy-on-write): called with the module's
    # parameters once in the first process, after the listeners are bound (requests wait in their
    # queues meanwhile) and before the workers fork; the module must load it on first use too
    preload: Callable[[dict[str, Any]], None] | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def unimplemented(self, kind: str, name: str, args: int | None = None) -> Unimplemented | None:
        """The `not_implemented` entry for an item (a function's entry for any count, or for `args`);
        for an event route, the entry whose name matches `name`, placeholders included."""
        for gap in self.not_implemented:
            if gap.kind != kind:
                continue
            if kind == "event_route" and EventRoute(gap.name).matches(name):
                return gap
            if gap.name == name and (gap.args is None or args is None or gap.args == args):
                return gap
        return None

    def defaults(self) -> dict[str, Any]:
        """Every declared parameter with its default: what a module gets when the config sets none."""
        return {p.name: p.default for p in self.params}

    def functions_named(self, name: str) -> list[Function]:
        return [f for f in self.functions if f.name == name]


class PVAccessor(Protocol):
    """What a PV class handler returns for one spec (`$var(x)`, `$hdr(From)[-1]`), built once at
    load time. `get` returns str, int or None ($null); `set` exists only for writable classes
    (`None` as value means "delete", as assigning `$null` does)."""

    def get(self, ctx: MessageContext) -> str | int | None: ...


class Module:
    """Base class of a module's implementation. `Exports.factory` is usually the subclass itself.

    Life cycle (Kamailio's names in parentheses):

    * `__init__(params, core)` (mod_init): built once per process, after every `modparam` was
      checked against its `Param` (type, `validate`). `params` holds every declared parameter: the
      config's value, else the declared default (read `params["name"]`, never repeat a default).
      `core` is the module's view of the core (`kampy.api.CoreAPI`), the only way to the rest of
      kampy and, through `core.api(name)`, to the APIs of other modules the module declared in
      `Exports.needs` (they are built before it). Raise `ValueError` or `LookupError` to refuse the
      configuration: `kampy run` then stops with the message, pointing at the `loadmodule` line.
    * `child_init(rank)` (child_init): in each worker process after it starts (rank 1..children).
    * `destroy()` (destroy): once at shutdown.

    Handlers are methods named by the declaration, checked against it when the module loads (a
    handler that cannot take the declared arguments is a load error naming module and function):

    * Functions: `handler(ctx, *args) -> int` with the arguments prepared once at load time by kind:
      STR and FMT as `str` (FMT formatted for this message), INT as `int`, PVAR as a `PVAccessor`,
      REGEX as a compiled `re.Pattern`, ROUTE as the route name, EXPR as the evaluated value; then
      through the argument's `fixup` method when it declares one.
      Return Kamailio's codes: positive is true, negative is false, 0 stops the script (as `exit`).
      An exception is a bug: it is logged with the config line, counted (`core:err_internal`) and
      the request is answered 500 (statefully when it has a transaction).
    * Timers: `handler()` with no argument, every `interval` seconds (or the value of the parameter
      `interval_param`); what they send goes through `core.send(...)` or is returned as a list of
      `Outgoing`.
    * RPC methods: `handler(*params)` returning a JSON-able value; raise `RpcFault(code, text)` to
      answer with an error.
    * Pseudo-variable classes: `handler(spec: PVar) -> PVAccessor`, once per spec at load time.
    * Transformation classes: `handler(tr: Transform) -> Callable[[ctx, value], value]`.
    * Argument fix-ups: `fixup(value) -> value` (see `Arg`).
    * Offered APIs (`Offer` with a `handler`): `handler()` returning the object.

    Message hooks (Kamailio's script callbacks and a module's `response_f`), called by the server for
    every module that overrides them, in `loadmodule` order:

    * `pre_script(ctx) -> bool`: before request_route, for every request (also one handed over by
      another worker: `ctx.handed_off`); False stops there (dropped, or consumed: what the
      hook sent through `core.send`, such as a `Handoff`, still goes out).
    * `post_script(ctx) -> bool`: after request_route ended, however it ended (Kamailio's
      POST_SCRIPT callback, where tm's t_unref releases a transaction the script neither replied
      to nor relayed). `ctx.failed` is True when an internal error stopped the route; True returned
      means the module answers the request itself (tm: the request's transaction), so the server
      sends no stateless `500` for the failure.
    * `on_response(ctx) -> bool`: for every reply whose top Via is ours, after the core's
      reply_route and before the core relays it statelessly; False when the module consumed it
      (tm: a reply of one of its transactions, or one handed to the worker that owns it). A reply
      handed over by another worker has had its reply_route there and goes straight to these hooks.
    * `net_data_in(data, src) -> bytes` and `net_data_out(out) -> Outgoing`: the raw bytes of
      every message received (before parsing, once, in the worker that received it) and of every
      message sent (Kamailio's SREV_NET_DATA_IN/OUT); they return what is handled or sent.
    """

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        self.params = params
        self.core = core

    def child_init(self, rank: int) -> None:
        """Runs in each worker process after it starts."""

    def destroy(self) -> None:
        """Runs once at shutdown."""

    def pre_script(self, ctx: MessageContext) -> bool:
        """Runs before request_route for each request; True to go on, False to drop it."""
        return True

    def post_script(self, ctx: MessageContext) -> bool:
        """Runs after request_route for each request; True when this module answers the request."""
        return False

    def on_response(self, ctx: MessageContext) -> bool:
        """Runs for each reply addressed to us before the core relays it; False when consumed."""
        return True

    def net_data_in(self, data: bytes, src: Source) -> bytes:
        """Kamailio's SREV_NET_DATA_IN: every message received, before it is parsed; returns what
        the server handles instead (corex's network io intercept)."""
        return data

    def net_data_out(self, out: Outgoing) -> Outgoing:
        """Kamailio's SREV_NET_DATA_OUT: every message about to be sent; returns what is sent."""
        return out


def overrides_pre_script(instance: Any) -> bool:
    """Whether a module instance has its own `pre_script` hook (the base one does nothing)."""
    hook = getattr(type(instance), "pre_script", None)
    return hook is not None and hook is not Module.pre_script


def overrides_post_script(instance: Any) -> bool:
    """Whether a module instance has its own `post_script` hook (the base one does nothing)."""
    hook = getattr(type(instance), "post_script", None)
    return hook is not None and hook is not Module.post_script


def overrides(instance: Any, hook: str) -> bool:
    """Whether a module instance has its own message hook `hook` (the base one does nothing)."""
    found = getattr(type(instance), hook, None)
    return found is not None and found is not getattr(Module, hook)


def overrides_on_response(instance: Any) -> bool:
    """Whether a module instance has its own `on_response` hook (the base one does nothing)."""
    hook = getattr(type(instance), "on_response", None)
    return hook is not None and hook is not Module.on_response
