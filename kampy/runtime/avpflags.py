"""AVP flags: the `avpflags NAME, ...` declaration and setavpflag()/resetavpflag()/isavpflagset(),
as Kamailio's cfg.y (AVPFLAG_OPER_T in action.c) and usr_avp.c do them.

Kamailio keeps the flags on each AVP item; kampy keeps them beside `ctx.avps`, in `ctx.avp_flags`
(AVP key -> {position counted from the oldest value: flags}), so adding newer values keeps them.
"""
from __future__ import annotations

from collections.abc import Callable, Container
from typing import TYPE_CHECKING

from kampy.config import ast
from kampy.errors import ConfigError
from kampy.runtime.context import MessageContext
from kampy.runtime.flow import LoadError
from kampy.services import avp_key

if TYPE_CHECKING:
    from kampy.runtime.engine import Engine

# usr_avp.h: 32-bit avp_flags_t, the first 13 bits for the core's own use
AVP_CUSTOM_FLAGS = 13
MAX_AVPFLAG = 32 - 1 - AVP_CUSTOM_FLAGS

_OPERS = {"setavpflag": 1, "resetavpflag": 0, "isavpflagset": -1}


def declared_names(config: ast.Config) -> dict[str, int]:
    """The `avpflags` names (lower case: Kamailio compares them without case) -> their bit."""
    bits: dict[str, int] = {}
    for item in config.items:
        if isinstance(item, ast.FlagDecl) and item.avp:
            for name, _ in item.names:
                if name.lower() in bits:
                    continue
                if len(bits) >= MAX_AVPFLAG:
                    raise ConfigError.at(item.pos, f"cannot declare avpflag '{name}': at most "
                                                   f"{MAX_AVPFLAG} avp flags")
                bits[name.lower()] = 1 << (AVP_CUSTOM_FLAGS + len(bits))
    return bits


def avp_name(call: ast.Call, pv_classes: Container[str]) -> str:
    """The AVP the call's first argument names; LoadError when it names none."""
    node = call.args[0]
    if isinstance(node, ast.PVar) and node.arg is None and node.index is None and not node.transforms \
            and node.cls not in pv_classes:
        return avp_key(node.cls)  # `$name`: an AVP when no pseudo-variable has that name
    if isinstance(node, ast.Str) and node.value.lstrip("$"):
        return avp_key(node.value.removeprefix("$"))
    raise LoadError(node.pos, f"{call.name}(): error parsing first parameter (avp or string): "
                              "an AVP as $name or \"name\" is expected")


def flag_bit(call: ast.Call, bits: dict[str, int]) -> int:
    """The bit of the declared avpflag the call's second argument names; LoadError when undeclared."""
    node = call.args[1]
    name = node.name if isinstance(node, ast.Ident) else node.value if isinstance(node, ast.Str) else None
    bit = bits.get(str(name).lower()) if name is not None else None
    if bit is None:
        raise LoadError(node.pos, f"{call.name}(): avpflag not declared (declare it with 'avpflags NAME;')")
    return bit


def build(engine: Engine, call: ast.Call) -> Callable[[MessageContext], int]:
    name = avp_name(call, engine.pv_owners)
    bit = flag_bit(call, engine.avp_flag_names)
    oper = _OPERS[call.name]

    def avpflag_oper(ctx: MessageContext) -> int:
        values = ctx.avps.get(name)
        if not values or len(values) != 1:  # search_avp_by_index() without an index: the only value
            return -1
        flags = ctx.avp_flags.setdefault(name, {})
        for stale in [p for p in flags if p >= len(values)]:
            del flags[stale]
        current = flags.get(0, 0)
        if oper == 1:
            current |= bit
        elif oper == 0:
            current &= ~bit
        flags[0] = current
        return 1 if current & bit else -1
    return avpflag_oper


BUILDERS = {name: build for name in _OPERS}
