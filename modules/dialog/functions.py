"""The dialog module's config functions (dialog.c's w_* wrappers)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import (
    DLG_DIR_DOWNSTREAM,
    DLG_STATE_CONFIRMED,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_DELETED,
    MessageContext,
    PVAccessor,
    Request,
)

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

PROPERTIES = {"ka-src": 1 << 1, "ka-dst": 1 << 2, "timeout-noreset": 1 << 3}


class DialogFunctions:
    """Mixed into DialogModule."""

    def init_functions(self: DialogModule) -> None:
        pass

    # ------------------------------------------------------------ fix-ups
    def fix_profile(self: DialogModule, name: str) -> str:
        name = name.strip()
        if name not in self.profiles_with_value and name not in self.profiles_no_value:
            raise ValueError(f"profile <{name}> not defined")
        return name

    def fix_flag(self, value: int) -> int:
        if not 0 <= int(value) <= 31:
            raise ValueError(f"invalid flag {value}")
        return int(value)

    def fix_side(self, value: str) -> str:
        side = value.strip().lower()
        if side not in ("caller", "callee", "all"):
            raise ValueError(f"invalid side '{value}' (caller, callee or all)")
        return side

    def fix_refer_side(self, value: str) -> str:
        side = value.strip().lower()
        if side not in ("caller", "callee"):
            raise ValueError(f'invalid param "{value}"')
        return side

    def fix_property(self, value: str) -> str:
        prop = value.strip()
        if prop not in PROPERTIES:
            raise ValueError(f"unknown property value '{prop}'")
        return prop

    def _value_needed(self: DialogModule, profile: str, value: str | None) -> str | None:
        """The value to link with: "" for a profile without value (a value given is ignored)."""
        if profile in self.profiles_with_value:
            if value is None:
                log.error("profile %s requires a value", profile)
                return None
            return value
        return ""

    # ------------------------------------------------------------ dlg_manage
    def dlg_manage(self: DialogModule, ctx: MessageContext) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        if msg.to is not None and msg.to.tag:
            if self.dialog_of(ctx, lookup=False) is not None:
                return 1
            found = self._by_tags(msg)  # Kamailio: dlg_onroute with SEQ_MATCH_NO_ID, and 1 anyway
            if found is not None:
                self.within(ctx, found[0], found[1])
            return 1
        if msg.method != "INVITE":
            return -1
        if self.dialog_of(ctx, lookup=False) is not None:
            return 1
        t = self.tm.t_gett(ctx)
        return 1 if self.new_dialog(ctx, t, self.initial_cbs_inscript) is not None else -1

    def post_script(self: DialogModule, ctx: MessageContext) -> bool:
        """dlg_cfg_cb: a dialog this request created that got no transaction goes."""
        dlg = ctx.local.get("dialog")
        if dlg is not None and ctx.local.get("dialog_created") and not self.tm.has_transaction(ctx):
            cur = self.store.get(*dlg)
            if cur is not None and cur.state == 1:
                log.debug("new dialog with no transaction after config execution")
                self.store.remove(cur)
        return False

    # ------------------------------------------------------------ flags and properties
    def dlg_setflag(self: DialogModule, ctx: MessageContext, flag: int) -> int:
        return self._flag(ctx, flag, True)

    def dlg_resetflag(self: DialogModule, ctx: MessageContext, flag: int) -> int:
        return self._flag(ctx, flag, False)

    def _flag(self: DialogModule, ctx: MessageContext, flag: int, on: bool) -> int:
        values = self.ctx_values(ctx)
        mask = 1 << flag
        values["flags"] = (values.get("flags", 0) | mask) if on else (values.get("flags", 0) & ~mask)
        dlg = self.dialog_of(ctx, lookup=False)
        if dlg is not None:

            def change(d: Dialog) -> None:
                d.sflags = (d.sflags | mask) if on else (d.sflags & ~mask)
                d.db_dirty = True

            self.store.update(dlg.h_entry, dlg.h_id, change)
        return 1

    def dlg_isflagset(self: DialogModule, ctx: MessageContext, flag: int) -> int:
        dlg = self.dialog_of(ctx, lookup=False)
        flags = dlg.sflags if dlg is not None else self.ctx_values(ctx).get("flags", 0)
        return 1 if flags & (1 << flag) else -1

    def dlg_set_property(self: DialogModule, ctx: MessageContext, prop: str) -> int:
        return self._property(ctx, prop, True)

    def dlg_reset_property(self: DialogModule, ctx: MessageContext, prop: str) -> int:
        return self._property(ctx, prop, False)

    def _property(self: DialogModule, ctx: MessageContext, prop: str, on: bool) -> int:
        mask = PROPERTIES[prop]
        values = self.ctx_values(ctx)
        values["iflags"] = (values.get("iflags", 0) | mask) if on else (values.get("iflags", 0) & ~mask)
        dlg = self.dialog_of(ctx, lookup=False)
        if dlg is not None:
            self.store.update(
                dlg.h_entry,
                dlg.h_id,
                lambda d: setattr(d, "iflags", (d.iflags | mask) if on else (d.iflags & ~mask)),
            )
        return 1

    # ------------------------------------------------------------ profiles
    def set_dlg_profile(
        self: DialogModule, ctx: MessageContext, profile: str, value: str | None = None
    ) -> int:
        val = self._value_needed(profile, value)
        if val is None:
            return -1
        dlg = self.dialog_of(ctx, lookup=False)
        if dlg is None:
            pending = ctx.local.setdefault("dialog_pending_profiles", [])
            if (profile, val) not in pending:
                pending.append((profile, val))
            return 1

        def change(d: Dialog) -> Any:
            if [profile, val] in d.profiles:
                return False
            d.profiles.append([profile, val])
            d.dflags |= 1 << 10  # DLG_FLAG_CHANGED_PROF
            self.store.link(d, profile, val)
            return True

        with self.store.table.transaction():
            found, _ = self.store.update(dlg.h_entry, dlg.h_id, change)
        return 1 if found is not None else -1

    def unset_dlg_profile(
        self: DialogModule, ctx: MessageContext, profile: str, value: str | None = None
    ) -> int:
        val = self._value_needed(profile, value)
        if val is None:
            return -1
        dlg = self.dialog_of(ctx, lookup=False)
        if dlg is None:
            return -1

        def change(d: Dialog) -> Any:
            if [profile, val] not in d.profiles:
                return False
            d.profiles.remove([profile, val])
            d.dflags |= 1 << 10  # DLG_FLAG_CHANGED_PROF
            self.store.unlink(d, profile, val)
            return True

        with self.store.table.transaction():
            _, done = self.store.update(dlg.h_entry, dlg.h_id, change)
        return 1 if done else -1

    def is_in_profile(self: DialogModule, ctx: MessageContext, profile: str, value: str | None = None) -> int:
        dlg = self.dialog_of(ctx, lookup=False)
        if dlg is None:
            pending = ctx.local.get("dialog_pending_profiles", [])
            links = [list(p) for p in pending]
        else:
            links = dlg.profiles
        for name, val in links:
            if name == profile and (value is None or profile not in self.profiles_with_value or val == value):
                return 1
        return -1

    def get_profile_size(
        self: DialogModule, ctx: MessageContext, profile: str, value_or_var: str, var: str | None = None
    ) -> int:
        """get_profile_size(profile, [value,] size): the arguments are kept as written (the value
        is formatted per call, the size is a variable), since the second is either."""
        spec = value_or_var if var is None else var
        try:
            target = self._pvar(spec)
            value = None if var is None else self._format(value_or_var, ctx)
        except (LookupError, ValueError) as exc:
            log.error("get_profile_size: bad argument '%s': %s", spec, exc)
            return -1
        if not hasattr(target, "set"):
            log.error("get_profile_size: return must be a writable pseudo-variable: %s", spec)
            return -1
        if profile not in self.profiles_with_value:
            value = None
        target.set(ctx, self.store.profile_size(profile, value))
        return 1

    def _pvar(self: DialogModule, text: str) -> PVAccessor:
        cache = self.__dict__.setdefault("_pvars", {})
        if text not in cache:
            cache[text] = self.core.pv_accessor(text.strip())
        return cache[text]

    def _format(self: DialogModule, text: str, ctx: MessageContext) -> str:
        cache = self.__dict__.setdefault("_formats", {})
        if text not in cache:
            cache[text] = self.core.formatter(text)
        return cache[text](ctx)

    def fix_pvar(self: DialogModule, text: str) -> str:
        return text

    def dlg_set_timeout_by_profile(
        self: DialogModule,
        ctx: MessageContext,
        profile: str,
        value_or_timeout: str,
        timeout: str | None = None,
    ) -> int:
        if timeout is None:
            value, seconds = None, self._format(value_or_timeout, ctx)
        else:
            value, seconds = self._format(value_or_timeout, ctx), self._format(timeout, ctx)
        try:
            secs = int(seconds)
        except ValueError:
            log.error("invalid timeout '%s'", seconds)
            return -1
        if profile not in self.profiles_with_value:
            value = None
        for dlg, _ in self.store.profile_dialogs(profile, value):
            self.update_timeout(dlg, secs)
        return 1

    # ------------------------------------------------------------ timeouts
    def update_timeout(self: DialogModule, dlg: Dialog, seconds: int) -> bool:
        now = int(self.core.clock.time())

        def change(d: Dialog) -> None:
            d.lifetime = seconds
            if d.state in (DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA):
                d.timeout = now + seconds
            d.dflags |= 1 << 1  # DLG_FLAG_CHANGED
            d.db_dirty = True

        found, _ = self.store.update(dlg.h_entry, dlg.h_id, change)
        return found is not None

    def dlg_set_timeout(
        self: DialogModule,
        ctx: MessageContext,
        timeout: int,
        h_entry: int | None = None,
        h_id: int | None = None,
    ) -> int:
        if h_entry is not None and h_id is not None:
            dlg = self.store.get(int(h_entry), int(h_id))
        else:
            dlg = self.dialog_of(ctx)
        if dlg is None:
            log.error("no dialog found for dlg_set_timeout")
            return -1
        return 1 if self.update_timeout(dlg, int(timeout)) else -1

    # ------------------------------------------------------------ finding a dialog
    def is_known_dlg(self: DialogModule, ctx: MessageContext) -> int:
        return 1 if self.dialog_of(ctx) is not None else -1

    def dlg_get(self: DialogModule, ctx: MessageContext, callid: str, ftag: str, ttag: str) -> int:
        found = self.store.find(callid, ftag, ttag)
        if found is None:
            return -1
        self.attach(ctx, found[0], found[1])
        return 1

    def dlg_set_ruri(self: DialogModule, ctx: MessageContext) -> int:
        dlg = self.dialog_of(ctx)
        if dlg is None:
            return -1
        leg = CALLEE if ctx.local.get("dialog_dir", DLG_DIR_DOWNSTREAM) == DLG_DIR_DOWNSTREAM else CALLER
        if not dlg.contact[leg]:
            return -1
        ctx.new_ruri = dlg.contact[leg]
        return 1

    # ------------------------------------------------------------ sending within the dialog
    def dlg_bye(self: DialogModule, ctx: MessageContext, side: str) -> int:
        dlg = self.dialog_of(ctx)
        if dlg is None or dlg.state >= DLG_STATE_DELETED:
            return -1
        return self.bye(dlg, side, "")

    # ------------------------------------------------------------ the database
    def dlg_db_load_callid(self: DialogModule, ctx: MessageContext, callid: str) -> int:
        if self.db is None:
            log.error("dlg_db_load_callid: no database (db_mode 0)")
            return -1
        return 1 if self.db.load(callid=callid) > 0 else -1

    def dlg_db_load_extra(self: DialogModule, ctx: MessageContext) -> int:
        if self.db is None:
            log.error("dlg_db_load_extra: no database (db_mode 0)")
            return -1
        self.db.load(extra=True)
        return 1

    # ------------------------------------------------------------ remote profiles
    def dlg_remote_profile(
        self: DialogModule, ctx: MessageContext, cmd: str, profile: str, value: str, uid: str, expires: int
    ) -> int:
        """dlg_cmd_remote_profile: "add" or "rm" an entry of another server to a profile."""
        if not cmd or not profile or not uid:
            log.error("invalid parameters")
            return -1
        if profile not in self.profiles_with_value and profile not in self.profiles_no_value:
            log.error("profile [%s] not found", profile)
            return -1
        has_value = profile in self.profiles_with_value
        if has_value and not value:
            log.error("profile [%s] requires a value", profile)
            return -1
        if cmd == "add":
            self.store.link_remote(profile, value if has_value else "", uid, int(expires))
            return 1
        if cmd == "rm":
            return 1 if self.store.unlink_remote(profile, value if has_value else None, uid) > 0 else -1
        log.error("unknown command [%s]", cmd)
        return -1
