"""The pseudo-variables the core itself offers (src/core/pv_core.c): `$rc $retcode $? $env() $envn()
$def() $defn() $defv() $defs() $iuid`, and the wrapper that chains transformations onto any PV."""
from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from typing import Any

from kampy.config.ast import PVar
from kampy.runtime.values import to_int

Getter = Callable[[Any], Any]


class Reader:
    __slots__ = ("get",)

    def __init__(self, get: Getter) -> None:
        self.get = get


class Constant:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, ctx: Any) -> Any:
        return self.value


class Transformed:
    """A PV whose value goes through a chain of transformations; writing goes to the PV itself."""

    __slots__ = ("base", "chain")

    def __init__(self, base: Any, chain: list[Callable[[Any, Any], Any]]) -> None:
        self.base = base
        self.chain = chain

    def get(self, ctx: Any) -> Any:
        value = self.base.get(ctx)
        for tr in self.chain:
            value = tr(ctx, value)
        return value

    def set(self, ctx: Any, value: Any) -> None:
        self.base.set(ctx, value)


def _retcode(ctx: Any) -> int:
    return ctx.retcode


_iuid_counter = itertools.count(1)


def _iuid(ctx: Any) -> str:
    uid = ctx.local.get("$iuid")
    if uid is None:
        uid = ctx.local["$iuid"] = f"{os.getpid()}.{next(_iuid_counter)}"
    return uid


def core_pv(spec: PVar, defines: Mapping[str, str | None]) -> Any:
    """The accessor of a core PV, or None if `spec.cls` is not one."""
    cls, arg = spec.cls, spec.arg or ""
    if cls in ("rc", "retcode", "?"):
        return Reader(_retcode)
    if cls == "iuid":
        return Reader(_iuid)
    if cls == "env":
        return Reader(lambda ctx: os.environ.get(arg))
    if cls == "envn":
        return Reader(lambda ctx: None if arg not in os.environ else to_int(os.environ[arg]))
    if cls in ("def", "defn", "defv", "defs"):
        return Constant(_define_value(cls, defines, arg))
    return None


def _define_value(cls: str, defines: Mapping[str, str | None], name: str) -> Any:
    if name not in defines:
        return None
    value = defines[name]
    if cls == "defn":
        return to_int(value or "")
    if cls == "defs":
        return f'"{value or ""}"'
    if cls == "defv":
        return value if value is not None else ""
    return value if value is not None else ""
