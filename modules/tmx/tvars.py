"""$T(name), $T_branch(name) and $T_reply_ruid: the transaction at hand, as Kamailio 5.6's t_var.c
reads it."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kampy.api import MessageContext, PVar, RouteType, TmAPI

log = logging.getLogger("kampy.tmx")

# the names $T and $T_branch accept (pv_parse_t_name)
T_NAMES = ("id_label", "id_index", "reply_code", "reply_type", "id_label_n", "id_index_n",
           "branch_index", "reply_reason", "flags", "uri", "ruid")

Reader = Callable[[MessageContext], Any]


def t_name(spec: PVar) -> str:
    name = spec.arg or ""
    if name not in T_NAMES:
        raise ValueError(f"unknown PV name {name}")
    return name


class TVars:
    def __init__(self, tm: TmAPI) -> None:
        self.tm = tm

    def t_reader(self, name: str) -> Reader:
        aliases: dict[str, Reader] = {"reply_code": self.tm.reply_code, "branch_index": self.tm.branch_index,
                                      "reply_reason": self.tm.reply_reason}
        if name in aliases:
            return aliases[name]
        return lambda ctx: self._t(ctx, name)

    def _t(self, ctx: MessageContext, name: str) -> int | None:
        t = self.tm.t_gett(ctx)
        if t is None and name in ("id_label_n", "id_index_n"):
            if self.tm.t_newtran(ctx) < 0:
                log.error("cannot create the transaction")
                return None
            t = self.tm.t_gett(ctx)
        if t is None:
            return None
        if name in ("id_index", "id_index_n"):
            return t.hash_index
        if name == "reply_type":
            if not ctx.route_type & RouteType.FAILURE or t.picked_branch < 0:
                return 0
            br = t.branches[t.picked_branch]
            return 1 if br.reply is None and br.status >= 200 else 0
        return t.label  # id_label, id_label_n and the names of $T_branch

    def branch_reader(self, name: str) -> Reader:
        if name == "flags":
            return self._branch_flags
        if name == "uri":
            return self._branch_uri
        if name == "ruid":
            return self._branch_ruid
        return lambda ctx: None

    def _branch_flags(self, ctx: MessageContext) -> int | None:
        if self.tm.t_gett(ctx) is None:
            return None
        if ctx.route_type & (RouteType.FAILURE | RouteType.BRANCH_FAILURE):
            found = self.tm.branch_at_hand(ctx, picked=True)
            if found is None:
                log.critical("no picked branch (-1) for a final response in MODE_ONFAILURE")
                return None
        elif ctx.route_type & RouteType.TM_ONREPLY:
            found = self.tm.branch_at_hand(ctx, picked=False)
        else:
            log.error("unsupported route_type %d", int(ctx.route_type))
            return None
        return None if found is None else found[0]

    def _branch_uri(self, ctx: MessageContext) -> str | None:
        t = self.tm.t_gett(ctx)
        if t is None:
            return None
        if not ctx.route_type & RouteType.TM_ONREPLY:
            log.error("$T_branch(uri) - unsupported route_type %d", int(ctx.route_type))
            return None
        index = self.tm.branch_index(ctx)
        return t.branches[index].uri if 0 <= index < len(t.branches) else None

    def _branch_ruid(self, ctx: MessageContext) -> str | None:
        if self.tm.t_gett(ctx) is None:
            return None
        if ctx.route_type & RouteType.BRANCH:
            return ctx.ruid or ""
        return self.reply_ruid(ctx)

    def reply_ruid(self, ctx: MessageContext) -> str:
        if self.tm.t_gett(ctx) is None:
            return ""
        if ctx.route_type & (RouteType.FAILURE | RouteType.BRANCH_FAILURE):
            found = self.tm.branch_at_hand(ctx, picked=True)
            if found is None:
                log.critical("no picked branch (-1) for a final response in MODE_ONFAILURE")
                return ""
        elif ctx.route_type & RouteType.TM_ONREPLY:
            found = self.tm.branch_at_hand(ctx, picked=False)
        else:
            log.error("unsupported route_type %d", int(ctx.route_type))
            return ""
        return (found[1] or "") if found is not None else ""
