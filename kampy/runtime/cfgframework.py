"""The cfg framework (Kamailio's src/core/cfg): configuration variables changed at run time.

A group (`core`, `tcp`, a module's such as `tm`, or one the config declares with `my.x = 5 desc
"..."`) holds variables of type int, string or str. Each group has its default values and may have
instances (`my[2].x = 7`, `cfg.add_group_inst my[3]`) whose variables either follow the default or
hold a value of their own. A worker reads the values of its *local* copy, which it refreshes at the
start of each message and timer run (Kamailio's `cfg_update()`): a change applies to the next
message in every worker, never in the middle of one. `cfg_select("my", 2)` makes the rest of the
message read instance 2 of a group.

The global values live in a shared table (`cfg`, key `state`, counter 0 the version), written only
when something changes; every process starts from the same values computed from the config, so an
unchanged server never reads the table beyond the version. The changes a control context (cfg_rpc)
has prepared but not committed (`cfg.set_delayed_*`) are kept there too, under `ctx:<name>`, as
Kamailio keeps them in shared memory.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kampy.runtime.shmtable import ShmTable

log = logging.getLogger("kampy.cfg")

Value = int | str | None
STATE_KEY = b"state"
VERSION = 0  # the shared table's counter holding the version of the global values
_INT = re.compile(r"\s*[+-]?\d+\Z")


class CfgError(Exception):
    """A change or read the framework refuses; the text is Kamailio's log line."""


class CfgNotFound(CfgError):
    """No such group or variable (Kamailio's return code 1)."""


class CfgUnreadable(CfgError):
    """The variable exists but its value cannot be read back: a fix-up converts what is set."""


@dataclass
class VarDef:
    """One variable (Kamailio's cfg_def_t and cfg_mapping_t)."""

    name: str
    type: str                     # "int" | "string" | "str": how the value is kept
    input: str                    # the type a new value is converted to first
    doc: str | None = None
    min: int = 0
    max: int = 0
    fixup: Callable[[Any], Any] | None = None    # on_change: check/convert a new value
    on_set: Callable[[Any], None] | None = None  # per-worker callback when the default changes
    only_once: bool = False
    readonly: bool = False
    inert: bool = False  # kept and shown, but nothing in kampy acts on it

    @property
    def readable(self) -> bool:
        return self.fixup is None


@dataclass
class GroupDef:
    name: str
    vars: dict[str, VarDef] = field(default_factory=dict)
    script: bool = False  # declared by the config (a dynamic group)


@dataclass
class CfgState:
    """Values of every group: the defaults, and per instance the variables set explicitly."""

    defaults: dict[str, dict[str, Value]] = field(default_factory=dict)
    instances: dict[str, dict[int, dict[str, Value]]] = field(default_factory=dict)

    def copy(self) -> CfgState:
        return CfgState({g: dict(v) for g, v in self.defaults.items()},
                        {g: {i: dict(v) for i, v in insts.items()} for g, insts in self.instances.items()})

    def value(self, group: str, gid: int | None, var: str) -> Value:
        if gid is not None:
            inst = self.instances[group][gid]
            if var in inst:
                return inst[var]
        return self.defaults[group][var]

    def dumps(self) -> bytes:
        instances = {g: {str(i): v for i, v in insts.items()} for g, insts in self.instances.items()}
        return json.dumps({"d": self.defaults, "i": instances}, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> CfgState:
        raw = json.loads(data)
        return cls(raw["d"], {g: {int(i): v for i, v in insts.items()} for g, insts in raw["i"].items()})


@dataclass
class Change:
    """A change prepared in a context and not committed yet (Kamailio's cfg_changed_var_t)."""

    group: str
    var: str
    gid: int | None
    value: Value = None
    delete: bool = False

    def dump(self) -> dict[str, Any]:
        return {"g": self.group, "v": self.var, "i": self.gid, "x": self.value, "d": self.delete}

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Change:
        return cls(raw["g"], raw["v"], raw["i"], raw["x"], raw["d"])


@dataclass(frozen=True)
class DiffEntry:
    """One line of `cfg.diff`: the value the variable has now and the one it will get."""

    group: str
    gid: int | None
    var: str
    old: Value
    new: Value


def parse_group_id(text: str) -> tuple[str, int | None]:
    """`"my"` -> ("my", None), `"my[2]"` -> ("my", 2) (Kamailio's cfg_get_group_id); ValueError for
    a bad instance number."""
    if not text.endswith("]"):
        return text, None
    start = text.rfind("[")
    if start <= 0 or start == len(text) - 2 or not text[start + 1:-1].isdigit():
        raise ValueError(text)
    number = int(text[start + 1:-1])
    if number > 0xFFFFFFFF:
        raise ValueError(text)
    return text[:start], number


def int32(value: int) -> int:
    """A C int: what Kamailio keeps of a wider number."""
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def convert(value: Value, input_type: str) -> Value:
    """Kamailio's convert_val(): a value given as int or string to the variable's input type."""
    if input_type == "int":
        if isinstance(value, int):
            return int32(value)
        if not value or not _INT.match(value):
            raise CfgError(f"cannot convert string to integer '{value or ''}'")
        return int32(int(value))
    return value if value is None or isinstance(value, str) else str(value)


class CfgFramework:
    """The cfg groups and values of one process (`core.cfg`)."""

    def __init__(self, table: Callable[[], ShmTable]) -> None:
        self._table_of = table
        self._table: ShmTable | None = None
        self.groups: dict[str, GroupDef] = {}   # in declaration order
        self.start = CfgState()                 # what the config gives, the same in every process
        self.local = self.start                 # what this process reads
        self.version = 0
        self.selected: dict[str, int] = {}      # cfg_select() for the message at hand

    # ------------------------------------------------------------ declaring

    def declare(self, group: GroupDef, values: dict[str, Value]) -> None:
        if group.name in self.groups:
            raise CfgError(f"configuration group has been already declared: {group.name}")
        self.groups[group.name] = group
        self.start.defaults[group.name] = {name: values.get(name) for name in group.vars}
        self.start.instances.setdefault(group.name, {})

    def reorder(self, names: list[str]) -> None:
        """Put the groups in Kamailio's declaration order (those not named keep theirs, after)."""
        ordered = {n: self.groups[n] for n in names if n in self.groups}
        ordered.update(self.groups)
        self.groups = ordered

    def add_start_instance(self, group: str, gid: int, var: str | None, value: Value) -> None:
        """A `group[N].var = value` line of the config (applied before any worker starts)."""
        if group not in self.groups:
            raise CfgNotFound(f"group not found: {group}")
        inst = self.start.instances[group].setdefault(gid, {})
        if var is None:
            return
        vdef = self._var(group, var)
        if vdef.readonly:
            raise CfgError("variable is read-only")
        if vdef.on_set is not None and vdef.only_once:
            raise CfgError("This variable does not support muliple values.")
        inst[var] = self._checked(vdef, value)

    def list_order(self) -> list[GroupDef]:
        """The groups as Kamailio lists them (the last declared first)."""
        return list(reversed(self.groups.values()))

    # ------------------------------------------------------------ the local copy

    @property
    def table(self) -> ShmTable:
        if self._table is None:
            self._table = self._table_of()
        return self._table

    def update(self) -> None:
        """At the start of a message or timer run: forget cfg_select(), take the newest values."""
        if self.selected:
            self.selected.clear()
        version = self.table.counter(VERSION)
        if version != self.version:
            self._load(version)

    def _load(self, version: int) -> None:
        got = self.table.get(STATE_KEY)
        state = CfgState.loads(got[0]) if got is not None else self.start
        old, self.local, self.version = self.local, state, version
        self._run_callbacks(old, state)

    def _run_callbacks(self, old: CfgState, new: CfgState) -> None:
        for group in self.groups.values():
            for vdef in group.vars.values():
                if vdef.on_set is None:
                    continue
                value = new.defaults[group.name][vdef.name]
                if old.defaults[group.name][vdef.name] != value:
                    try:
                        vdef.on_set(value)
                    except Exception:
                        log.exception("cfg: the callback of %s.%s failed", group.name, vdef.name)

    def get(self, group: str, var: str) -> Value:
        """The value the message at hand sees (the selected instance's, else the default)."""
        gid = self.selected.get(group) if self.selected else None
        if gid is not None:
            inst = self.local.instances[group].get(gid)
            if inst is not None and var in inst:
                return inst[var]
        return self.local.defaults[group][var]

    # what selects ask (`@cfg_get.group.var`, `@cfg_selected.group`)
    def lookup_var(self, group: str, var: str) -> VarDef | None:
        found = self.groups.get(group)
        return found.vars.get(var) if found is not None else None

    def has_group(self, group: str) -> bool:
        return group in self.groups

    def selected_instance(self, group: str) -> int | None:
        return self.selected.get(group)

    def select(self, group: str, gid: int) -> bool:
        """cfg_select(): read instance `gid` of `group` for the rest of the message."""
        if gid not in self.local.instances.get(group, {}):
            log.error("group instance '%s[%d]' does not exist", group, gid)
            return False
        self.selected[group] = gid
        return True

    def reset(self, group: str) -> None:
        """cfg_reset(): back to the default values of `group`."""
        self.selected.pop(group, None)

    # ------------------------------------------------------------ reading (RPC)

    def _group(self, group: str) -> GroupDef:
        found = self.groups.get(group)
        if found is None:
            raise CfgNotFound(f"group not found: {group}")
        return found

    def _var(self, group: str, var: str) -> VarDef:
        found = self._group(group).vars.get(var)
        if found is None:
            raise CfgNotFound(f"variable not found: {group}.{var}")
        return found

    def read(self, group: str, gid: int | None, var: str) -> Value:
        """cfg_get_by_name(): the value in this process's copy."""
        vdef = self._var(group, var)
        if not vdef.readable:
            raise CfgUnreadable(f"{group}.{var} cannot be read: a fix-up converts its values")
        if gid is not None and gid not in self.local.instances[group]:
            raise CfgError(f"local group instance {group}[{gid}] is not found")
        return self.local.value(group, gid, var)

    def start_value(self, group: str, var: str) -> Value:
        """cfg_get_default_value_by_name(): the value the config gave."""
        vdef = self._var(group, var)
        if vdef.readonly:
            raise CfgError("variable is read-only")
        if not vdef.readable:
            raise CfgUnreadable(f"{group}.{var} cannot be read: a fix-up converts its values")
        return self.start.defaults[group][var]

    def help(self, group: str, var: str) -> tuple[str | None, str]:
        """The description and the input type ("int", "string" or "str") of a variable."""
        vdef = self._var(group, var)
        return vdef.doc, vdef.input

    # ------------------------------------------------------------ changing

    def _checked(self, vdef: VarDef, value: Value) -> Value:
        """A new value converted, range-checked and fixed up as Kamailio's cfg_set_now() does."""
        value = convert(value, vdef.input)
        if vdef.input == "int" and (vdef.min or vdef.max) and not vdef.min <= value <= vdef.max:  # type: ignore[operator]
            raise CfgError("integer value is out of range")
        if vdef.fixup is not None:
            try:
                value = vdef.fixup(value)
            except ValueError as exc:
                raise CfgError(f"fixup failed: {exc}") from None
        if vdef.type == "int":
            return int32(int(value))  # type: ignore[arg-type]
        return value if value is None else str(value)

    def _changeable(self, group: str, gid: int | None, var: str, delete: bool) -> VarDef:
        if delete and gid is None:
            raise CfgError("Only group instance values can be deleted")
        vdef = self._var(group, var)
        if vdef.readonly:
            raise CfgError("variable is read-only")
        if gid is not None and vdef.on_set is not None and vdef.only_once:
            raise CfgError("This variable does not support muliple values.")
        if vdef.inert:
            log.warning("%s.%s: kampy keeps the value but does not act on it", group, var)
        return vdef

    def set_now(self, group: str, gid: int | None, var: str, value: Value, delete: bool = False) -> None:
        """cfg_set_now(): change a value for every worker at once."""
        vdef = self._changeable(group, gid, var, delete)
        new = None if delete else self._checked(vdef, value)
        with self._writing() as state:
            insts = state.instances[group]
            if gid is None:
                state.defaults[group][var] = new
            elif gid not in insts:
                raise CfgError(f"global group instance {group}[{gid}] is not found")
            elif delete:
                insts[gid].pop(var, None)
            else:
                insts[gid][var] = new
        what = "deleted" if delete else f"changed to {value!r}"
        log.info("%s.%s has been %s%s", group, var, what, f" (group id = {gid})" if gid is not None else "")

    def add_instance(self, group: str, gid: int) -> None:
        self._group(group)
        with self._writing() as state:
            state.instances[group].setdefault(gid, {})
        log.info("group instance is added: %s[%d]", group, gid)

    def delete_instance(self, group: str, gid: int) -> None:
        self._group(group)
        with self._writing() as state:
            if gid not in state.instances[group]:
                raise CfgError(f"Failed to delete the group instance: {group}[{gid}]")
            del state.instances[group][gid]
        log.info("group instance is deleted: %s[%d]", group, gid)

    def _writing(self) -> _Write:
        return _Write(self)

    def _global(self) -> CfgState:
        got = self.table.get(STATE_KEY)
        return CfgState.loads(got[0]) if got is not None else self.start.copy()

    def _store(self, state: CfgState) -> None:
        table = self.table
        table.put(STATE_KEY, state.dumps())
        table.add(VERSION, 1)

    # ------------------------------------------------------------ prepared changes (a context)

    def context(self, name: str) -> CfgContext:
        return CfgContext(self, name)


class _Write:
    """Read-modify-write of the global values under the table's lock; this process's copy is
    refreshed at once (the writer sees its change, as Kamailio's cfg_update() after a change)."""

    def __init__(self, fw: CfgFramework) -> None:
        self.fw = fw
        self.state: CfgState | None = None
        self._tx: Any = None

    def __enter__(self) -> CfgState:
        self._tx = self.fw.table.transaction()
        self._tx.__enter__()
        self.state = self.fw._global()
        return self.state

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if kind is None:
            assert self.state is not None
            self.fw._store(self.state)
        self._tx.__exit__(kind, exc, tb)
        if kind is None:
            self.fw._load(self.fw.table.counter(VERSION))


class CfgContext:
    """A control context (Kamailio's cfg_ctx_t): the changes it prepares with `set_delayed` wait
    for its `commit`; kept in the shared table, so every worker serving RPC sees the same ones."""

    def __init__(self, fw: CfgFramework, name: str) -> None:
        self.fw = fw
        self.key = f"ctx:{name}".encode()

    def changes(self) -> list[Change]:
        got = self.fw.table.get(self.key)
        return [Change.load(raw) for raw in json.loads(got[0])] if got is not None else []

    def _put(self, changes: list[Change]) -> None:
        self.fw.table.put(self.key, json.dumps([c.dump() for c in changes]).encode())

    def set_delayed(self, group: str, gid: int | None, var: str, value: Value, delete: bool = False) -> None:
        """cfg_set_delayed(): prepare a change; ordered by group, then instance, then arrival."""
        fw = self.fw
        vdef = fw._changeable(group, gid, var, delete)
        new = Change(group, var, gid, None if delete else fw._checked(vdef, value), delete)
        with fw.table.transaction():
            changes = self.changes()
            changes.insert(_position(changes, new), new)
            self._put(changes)
        log.info("%s.%s is going to be %s", group, var, "deleted" if delete else f"changed to {value!r}")

    def commit(self) -> None:
        """Apply every prepared change at once; on a failure, nothing is applied and they stay."""
        fw = self.fw
        with fw.table.transaction():
            changes = self.changes()
            if not changes:
                return
            with fw._writing() as state:
                for change in changes:
                    _apply(state, change)
            fw.table.delete(self.key)
        log.info("config changes have been applied")

    def rollback(self) -> None:
        with self.fw.table.transaction():
            self.fw.table.delete(self.key)

    def diff(self) -> Iterator[DiffEntry]:
        """The prepared changes with the value each variable has now in this process's copy."""
        local = self.fw.local
        for change in self.changes():
            if change.gid is not None and change.gid not in local.instances[change.group]:
                raise CfgError(f"local group instance {change.group}[{change.gid}] is not found")
            old = local.value(change.group, change.gid, change.var)
            new = local.defaults[change.group][change.var] if change.delete else change.value
            yield DiffEntry(change.group, change.gid, change.var, old, new)


def _position(changes: list[Change], new: Change) -> int:
    """Where Kamailio's cfg_set_delayed() links a change: after those of its group's default and of
    lower or equal instance numbers, the first group of its name's changes found first."""
    i = 0
    while i < len(changes) and changes[i].group != new.group:
        i += 1
    while i < len(changes) and changes[i].group == new.group and (
            changes[i].gid is None or (new.gid is not None and changes[i].gid <= new.gid)):  # type: ignore[operator]
        i += 1
    return i


def _apply(state: CfgState, change: Change) -> None:
    if change.gid is None:
        state.defaults[change.group][change.var] = change.value
        return
    inst = state.instances[change.group].get(change.gid)
    if inst is None:
        raise CfgError(f"global group instance {change.group}[{change.gid}] is not found")
    if change.delete:
        inst.pop(change.var, None)
    else:
        inst[change.var] = change.value
