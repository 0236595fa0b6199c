"""The cfg_rpc methods over the core's cfg framework (`core.cfg`), with Kamailio 5.6's replies and
faults (src/modules/cfg_rpc/cfg_rpc.c)."""
from __future__ import annotations

from typing import Any

from kampy.api import (
    CfgError,
    CfgNotFound,
    CfgUnreadable,
    CoreAPI,
    Module,
    RpcFault,
    module_logger,
    parse_group_id,
)

log = module_logger("cfg_rpc")

WRONG_GROUP = 'Wrong group syntax. Use either "group", or "group[id]"'
WRONG_INSTANCE = 'Wrong group syntax. Use "group[id]"'
TYPE_WORDS = {"int": "(parameter type is integer)", "string": "(parameter type is string)",
              "str": "(parameter type is string)"}


def _group(text: str) -> tuple[str, int | None]:
    try:
        return parse_group_id(text)
    except ValueError:
        raise RpcFault(400, WRONG_GROUP) from None


def _instance(text: str) -> tuple[str, int]:
    try:
        name, gid = parse_group_id(text)
    except ValueError:
        gid = None
    if gid is None:
        raise RpcFault(400, WRONG_INSTANCE)
    return name, gid


def _failed(delete: bool) -> str:
    return "Failed to delete the value" if delete else "Failed to set the variable"


class CfgRpc(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.cfg = core.cfg
        self.ctx = core.cfg.context("cfg_rpc")  # cfg_register_ctx(): the module's one context

    # ------------------------------------------------------------ changing at once

    def _set_now(self, group: str, var: str, value: int | str | None, delete: bool = False) -> None:
        name, gid = _instance(group) if delete else _group(group)
        try:
            self.cfg.set_now(name, gid, var, value, delete)
        except CfgError as exc:
            log.error("failed to set the variable: %s.%s: %s", name, var, exc)
            raise RpcFault(400, _failed(delete)) from None

    def rpc_set_now_int(self, group: str, var: str, value: int) -> None:
        self._set_now(group, var, value)

    def rpc_set_now_string(self, group: str, var: str, value: str) -> None:
        self._set_now(group, var, value)

    def rpc_set(self, group: str, var: str, value: int | str) -> None:
        self._set_now(group, var, value)

    def rpc_del(self, group: str, var: str) -> None:
        self._set_now(group, var, None, delete=True)

    # ------------------------------------------------------------ prepared changes

    def _set_delayed(self, group: str, var: str, value: int | str | None, delete: bool = False) -> None:
        name, gid = _instance(group) if delete else _group(group)
        try:
            self.ctx.set_delayed(name, gid, var, value, delete)
        except CfgError as exc:
            log.error("failed to set the variable: %s.%s: %s", name, var, exc)
            raise RpcFault(400, _failed(delete)) from None

    def rpc_set_delayed_int(self, group: str, var: str, value: int) -> None:
        self._set_delayed(group, var, value)

    def rpc_set_delayed_string(self, group: str, var: str, value: str) -> None:
        self._set_delayed(group, var, value)

    def rpc_set_delayed(self, group: str, var: str, value: int | str) -> None:
        self._set_delayed(group, var, value)

    def rpc_del_delayed(self, group: str, var: str) -> None:
        self._set_delayed(group, var, None, delete=True)

    def rpc_commit(self) -> None:
        try:
            self.ctx.commit()
        except CfgError as exc:
            log.error("commit failed: %s", exc)
            raise RpcFault(400, "Failed to commit the changes") from None

    def rpc_rollback(self) -> None:
        self.ctx.rollback()

    def rpc_diff(self) -> list[dict[str, Any]]:
        try:
            entries = list(self.ctx.diff())
        except (CfgError, KeyError):
            raise RpcFault(400, "Failed to get the changes") from None
        out = []
        for e in entries:
            entry: dict[str, Any] = {"group name": e.group}
            if e.gid is not None:
                entry["group id"] = e.gid
            out.append({**entry, "variable name": e.var, "old value": e.old, "new value": e.new})
        return out

    # ------------------------------------------------------------ reading

    def rpc_get(self, group: str, var: str | None = None) -> Any:
        name, gid = _group(group)
        if var:
            try:
                return self.cfg.read(name, gid, var)
            except CfgUnreadable:
                raise RpcFault(400, "Variable exists, but it is not readable via RPC interface") from None
            except CfgError:
                raise RpcFault(400, "Failed to get the variable") from None
        values: dict[str, Any] = {}
        for g in self.cfg.list_order():
            if g.name != name:
                continue
            for vname, vdef in g.vars.items():
                if not vdef.readable:
                    continue
                try:
                    values[vname] = self.cfg.read(name, gid, vname)
                except CfgError:
                    raise RpcFault(400, "Failed to get the variable") from None
        return values

    def rpc_help(self, group: str, var: str) -> list[Any]:
        try:
            doc, input_type = self.cfg.help(group, var)
        except CfgError:
            raise RpcFault(400, "Failed to get the variable description") from None
        return [doc, TYPE_WORDS[input_type]]

    def rpc_list(self, group: str | None = None) -> list[str]:
        return [f"{g.name}: {var}" for g in self.cfg.list_order() if not group or g.name == group
                for var in g.vars]

    def rpc_reset(self, group: str) -> None:
        """Every variable of the group (instance) back to the value the config gave it, in order;
        read-only ones and those with a fix-up are left alone, and a variable given as a str (not a
        C string) stops it with Kamailio's "Unsupported input type"."""
        name, gid = _group(group)
        for g in self.cfg.list_order():
            if g.name != name:
                continue
            for vname, vdef in g.vars.items():
                try:
                    value = self.cfg.start_value(name, vname)
                except CfgError:
                    continue
                if vdef.input == "str":
                    raise RpcFault(500, "Unsupported input type")
                try:
                    self.cfg.set_now(name, gid, vname, value)
                except CfgNotFound:
                    log.warning("unexpected situation - variable not found")
                except CfgError:
                    raise RpcFault(500, "Reset failed") from None

    # ------------------------------------------------------------ group instances

    def rpc_add_group_inst(self, group: str) -> None:
        name, gid = _instance(group)
        try:
            self.cfg.add_instance(name, gid)
        except CfgError:
            raise RpcFault(400, "Failed to add the group instance") from None

    def rpc_del_group_inst(self, group: str) -> None:
        name, gid = _instance(group)
        try:
            self.cfg.delete_instance(name, gid)
        except CfgError:
            raise RpcFault(400, "Failed to delete the group instance") from None
