"""The pv classes of Kamailio 5.6's second table with a name, and the functions over xavus,
parameter strings and the static branch (a mixin of PvModule, kept apart to keep impl.py small)."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import (
    Branch,
    CfgError,
    CfgNotFound,
    CfgUnreadable,
    CoreAPI,
    MessageContext,
    PVar,
    parse_group_id,
)

from . import branch, othervars, xavu
from .common import PVError, Reader, ReadWrite, Value, make_dyn

log = logging.getLogger("kampy.pv")


def _name(spec: PVar) -> str:
    if not spec.arg:
        raise PVError(f"${spec.cls} needs a name")
    return spec.arg


def _ccp_name(name: str) -> tuple[str, int | None, str] | None:
    """group, instance and variable of `group.var` / `group[id].var`."""
    group, _, var = name.rpartition(".")
    try:
        gname, gid = parse_group_id(group)
    except ValueError:
        log.error("wrong group syntax. Use either 'group', or 'group[id]'")
        return None
    return gname, gid, var


class MoreFunctions:
    """$snd/$sndto/$sndfrom, $rcv, $nh, $rpl, $expires, $msgbuf, $ccp, $xavu, $sbranch and
    pv_xavu_print, xavu_params_explode/implode, xavp_params_implode, xavp_slist_explode,
    sbranch_set_ruri/append/reset."""

    static_branch: Branch
    core: CoreAPI

    def pv_snd(self, spec: PVar) -> Any:
        """`$snd(...)`/`$sndto(...)`: where the message being sent goes; `$sndfrom(...)`: from where."""
        return Reader(othervars.snd_getter(_name(spec), spec.cls != "sndfrom"))

    pv_sndto = pv_sndfrom = pv_snd

    def pv_rcv(self, spec: PVar) -> Any:
        return Reader(othervars.rcv_getter(_name(spec)))

    def pv_nh(self, spec: PVar) -> Any:
        return Reader(othervars.nh_getter(_name(spec)))

    def pv_rpl(self, spec: PVar) -> Any:
        return Reader(othervars.rpl_getter(_name(spec)))

    def pv_expires(self, spec: PVar) -> Any:
        return Reader(othervars.expires_getter(_name(spec)))

    def pv_msgbuf(self, spec: PVar) -> Any:
        index = make_dyn(_name(spec), self.core.pv_accessor)
        return Reader(othervars.msgbuf_getter(index.render))

    def pv_ccp(self, spec: PVar) -> Any:
        """`$ccp(group.var)` / `$ccp(group[id].var)`: a cfg variable as this process sees it now;
        an assignment changes it for every worker at once (Kamailio's cfg_get_by_name and
        cfg_set_now on pv's own cfg context)."""
        name = _name(spec)
        if "." not in name.strip("."):
            raise PVError(f"invalid PV ccp key: {name}")

        def get(ctx: MessageContext) -> Value:
            where = _ccp_name(name)
            if where is None:
                return None
            try:
                return self.core.cfg.read(*where)
            except CfgNotFound:
                log.error("failed to get the variable [%s]", name)
            except CfgUnreadable:
                log.error("variable exists, but it is not readable: %s", name)
            return None

        return ReadWrite(get, lambda ctx, value: self._set_ccp(name, value))

    def _set_ccp(self, name: str, value: Value) -> None:
        if value is None:
            log.warning("ignoring null asignment")
            return
        where = _ccp_name(name)
        if where is None:
            return
        try:
            self.core.cfg.set_now(where[0], where[1], where[2], value)
        except (CfgError, CfgNotFound) as exc:
            kind = "int" if isinstance(value, int) else "str"
            log.error("failed to set %s to the variable: [%s]: %s", kind, name, exc)

    def pv_xavu(self, spec: PVar) -> Any:
        return xavu.accessor(_name(spec))

    def pv_sbranch(self, spec: PVar) -> Any:
        return branch.sbranch_accessor(_name(spec), lambda: self.static_branch)

    def pv_xavu_print(self, ctx: MessageContext) -> int:
        return xavu.print_all(ctx)

    def xavu_params_explode(self, ctx: MessageContext, sparams: str, xname: str) -> int:
        return xavu.params_explode_xavu(ctx, sparams, xname)

    def xavp_params_implode(self, ctx: MessageContext, xname: str, pv: Any) -> int:
        return self._implode(ctx, xavu.xavp_fields(ctx, xname), pv)

    def xavu_params_implode(self, ctx: MessageContext, xname: str, pv: Any) -> int:
        return self._implode(ctx, xavu.xavu_fields(ctx, xname), pv)

    @staticmethod
    def _implode(ctx: MessageContext, fields: list[tuple[str, Any]] | None, pv: Any) -> int:
        setter = getattr(pv, "set", None)
        if setter is None:
            log.error("read only output variable")
            return -1
        text = xavu.serialize(fields) if fields else ""
        if not text:
            return -1
        setter(ctx, text)
        return 1

    def xavp_slist_explode(self, ctx: MessageContext, slist: str, sep: str, mode: str, xname: str) -> int:
        return xavu.slist_explode(ctx, slist, sep, mode, xname)

    def sbranch_set_ruri(self, ctx: MessageContext) -> int:
        return branch.sbranch_set_ruri(ctx, self.static_branch)

    def sbranch_append(self, ctx: MessageContext) -> int:
        return branch.sbranch_append(ctx, self.static_branch)

    def sbranch_reset(self, ctx: MessageContext) -> int:
        self.static_branch = Branch("")
        return 1
