"""A JSON-RPC request's parameters read as Kamailio 5.6's jsonrpcs reads them (`jsonrpc_scan`).

A handler declares its parameters as a Python signature; a parameter annotated `str`, `int` or
`float` is what rpc->scan()'s "s"/"S", "d" (and "u", "b", "l", ...) and "f" ask for:

- "d", "u" and "f" take the node's number whatever the node is: a JSON number (truncated towards zero
  for "d", -2147483648 beyond a C int as x86 converts; modulo 2**32 for "u", the parameters a
  method declares `unsigned`), `true` 1, and a string, `false`, `null`,
  an object or an array 0 (srjson keeps no number for them);
- "s" takes a JSON string; a parameter the method scans with "." (`autoconvert`, as ".S") also
  takes a number, as the text of its (unsigned long) integer. Anything else fails the scan at that
  parameter, and the method
  answers its own fault (`params_fault`, "{scanned}" being what rpc->scan() returned) or, by
  default, `-32602 Invalid Parameters`; a method that goes on past an optional string it cannot
  read (`past_unread_optional`) gets "" there.

A parameter without one of these annotations reaches the handler as JSON gave it.
"""
from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from kampy.module import RpcFault

INVALID_PARAMS = (-32602, "Invalid Parameters")

SCALARS = {"str": str, "int": int, "float": float}
Shape = tuple[tuple[tuple[type | None, bool], ...], bool]


@functools.lru_cache(maxsize=1024)
def handler_shape(fn: Callable[..., Any]) -> Shape | None:
    """((type or None, required) per positional parameter, takes *args), or None when unknown."""
    try:
        sig = inspect.signature(fn, eval_str=True)
    except NameError:  # an annotation naming what only type checkers import: read the text
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params: list[tuple[type | None, bool]] = []
    varargs = False
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            varargs = True
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            params.append((scalar_type(p.annotation), p.default is p.empty))
    return tuple(params), varargs


def scalar_type(annotation: Any) -> type | None:
    """str, int or float for an annotation naming exactly one of them (`str | None` is str)."""
    if annotation in (str, int, float):
        return annotation  # type: ignore[no-any-return]
    if isinstance(annotation, str):
        names = {part.strip() for part in annotation.split("|")} - {"None"}
        found = [SCALARS[n] for n in names if n in SCALARS]
        return found[0] if len(found) == 1 and len(names) == 1 else None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(annotation) if a in (str, int, float)]
        return found[0] if len(found) == 1 else None
    return None


def json_number(value: Any) -> float:
    """srjson's `valuedouble` of a node: its number, 1 for true, 0 for anything else."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return 0.0


def c_int(number: float) -> int:
    """C's (int) of a double on x86: truncated, INT_MIN when it does not fit."""
    value = int(number)
    return value if -2**31 <= value < 2**31 else -2**31


def c_uint(number: float) -> int:
    """C's (unsigned int) of a double on x86-64: truncated, taken modulo 2**32 (through a 64-bit
    integer), 0 when it does not fit one."""
    value = int(number)
    return value % 2**32 if -2**63 <= value < 2**63 else 0


def ulong_text(number: float) -> str:
    """int2str((unsigned long) number): a negative one wraps, one too large is 0 (as on x86)."""
    value = int(number)
    return str(value % 2**64) if -2**64 < value < 2**64 else "0"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_scan(fn: Callable[..., Any], params: list[Any], params_fault: tuple[int, str] | None = None,
              past_unread_optional: bool = False, autoconvert: tuple[int, ...] = (),
              unsigned: tuple[int, ...] = ()) -> list[Any]:
    """The arguments jsonrpc_scan gives a handler from `params`; raises the method's RpcFault."""
    shape = handler_shape(fn)
    if shape is None:
        return list(params)
    declared, _varargs = shape
    args = list(params)
    for index, (kind, required) in enumerate(declared[:len(params)]):
        value = params[index]
        if kind is int:
            args[index] = (c_uint if index in unsigned else c_int)(json_number(value))
        elif kind is float:
            args[index] = json_number(value)
        elif kind is str and index in autoconvert and _is_number(value):
            args[index] = ulong_text(value)
        elif kind is str and not isinstance(value, str):
            if not required and past_unread_optional:
                args[index] = ""
                continue
            code, text = params_fault or INVALID_PARAMS
            raise RpcFault(code, text.replace("{scanned}", str(-index)))
    return args
