"""The dialog module's pseudo-variables: $dlg(...), $dlg_ctx(...), $dlg_var(...), $DLG_count,
$DLG_status, $DLG_lifetime."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.api import DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA, MessageContext, PVar

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")


class Accessor:
    __slots__ = ("get", "set")

    def __init__(
        self, get: Callable[[MessageContext], Any], set: Callable[[MessageContext, Any], None] | None = None
    ) -> None:
        self.get = get
        if set is not None:
            self.set = set


def _field(name: str) -> Callable[[Dialog], Any]:
    legs = {"from": CALLER, "to": CALLEE}
    simple = {
        "h_id": lambda d: d.h_id,
        "h_entry": lambda d: d.h_entry,
        "state": lambda d: d.state,
        "ref": lambda d: d.ref,
        "dflags": lambda d: d.dflags,
        "sflags": lambda d: d.sflags,
        "callid": lambda d: d.callid,
        "to_uri": lambda d: d.to_uri,
        "from_uri": lambda d: d.from_uri,
        "lifetime": lambda d: d.lifetime,
        "start_ts": lambda d: d.start_ts,
        "toroute": lambda d: d.toroute_name or None,
    }
    if name in simple:
        return simple[name]
    side, _, what = name.partition("_")
    if side in legs and what in ("tag", "cseq", "rs", "contact", "bindaddr"):
        leg = legs[side]
        attr = {
            "tag": "tag",
            "cseq": "cseq",
            "rs": "route_set",
            "contact": "contact",
            "bindaddr": "bind_addr",
        }[what]
        return lambda d: getattr(d, attr)[leg] or None
    raise ValueError(f"unknown PV name {name}")


_CTX_NAMES = ("on", "flags", "timeout", "timeout_bye", "timeout_route", "set", "dir", "timeout_route_id")


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class DialogPVs:
    """Mixed into DialogModule."""

    def pv_dlg(self: DialogModule, spec: PVar) -> Accessor:
        read = _field(str(spec.arg or "").strip())

        def get(ctx: MessageContext) -> Any:
            dlg = self.dialog_of(ctx)
            if dlg is None:
                return None
            value = read(dlg)
            return value if value != "" else None

        return Accessor(get)

    def pv_dlg_ctx(self: DialogModule, spec: PVar) -> Accessor:
        name = str(spec.arg or "").strip()
        if name not in _CTX_NAMES:
            raise ValueError(f"unknown PV name {name}")

        def get(ctx: MessageContext) -> Any:
            values = self.ctx_values(ctx)
            if name == "set":
                return 1 if ctx.local.get("dialog") else 0
            if name == "dir":
                return ctx.local.get("dialog_dir", 0) if ctx.local.get("dialog") else 0
            if name == "timeout_route":
                return values.get("timeout_route") or None
            if name == "timeout_route_id":
                return -1 if not values.get("timeout_route") else 0
            return values.get(name, 0)

        def set_(ctx: MessageContext, value: Any) -> None:
            values = self.ctx_values(ctx)
            if name == "timeout_route":
                values[name] = None if value is None else str(value)
                return
            if name in ("set", "dir", "timeout_route_id"):
                return
            values[name] = _as_int(value)  # applied when the dialog is created, as Kamailio

        return Accessor(get, set_)

    def pv_dlg_var(self: DialogModule, spec: PVar) -> Accessor:
        name = str(spec.arg or "").strip()
        if not name:
            raise ValueError("$dlg_var needs a name")

        def get(ctx: MessageContext) -> Any:
            dlg = self.dialog_of(ctx)
            if dlg is not None:
                return dlg.vars.get(name)
            return ctx.local.get("dialog_vars", {}).get(name)

        def set_(ctx: MessageContext, value: Any) -> None:
            dlg = self.dialog_of(ctx)
            text = None if value is None else str(value)
            if dlg is None:
                pending = ctx.local.setdefault("dialog_vars", {})
                if text is None:
                    pending.pop(name, None)
                else:
                    pending[name] = text
                return
            self.set_dlg_var(dlg.info(), name, text)

        return Accessor(get, set_)

    def pv_DLG_count(self: DialogModule, spec: PVar) -> Accessor:
        return Accessor(lambda ctx: self.core.stats.get(self.stat["active_dialogs"]))

    def pv_DLG_status(self: DialogModule, spec: PVar) -> Accessor:
        def get(ctx: MessageContext) -> Any:
            dlg = self.dialog_of(ctx, lookup=False)
            return dlg.state if dlg is not None else None

        return Accessor(get)

    def pv_DLG_lifetime(self: DialogModule, spec: PVar) -> Accessor:
        def get(ctx: MessageContext) -> Any:
            dlg = self.dialog_of(ctx, lookup=False)
            if dlg is None:
                return None
            if dlg.state in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA) and dlg.start_ts:
                return int(self.core.clock.time()) - dlg.start_ts
            return 0

        return Accessor(get)
