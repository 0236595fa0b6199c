"""A request's parameters checked against the method's, as Kamailio's rpc->scan() reads them.

A kampy RPC handler declares its parameters as a Python signature. Where a parameter is annotated
`str`, `int` or `float`, the value must have that type, as the format characters "s", "d" and "f"
of rpc->scan() require; with ctl's `autoconversion` (or from the FIFO protocol, where every
parameter is a line of text) a value of another type is converted when it can be, as Kamailio's
binrpc_val_conv_*() do. Parameters beyond those the handler takes are ignored (rpc->scan() reads
only what it asks for); a missing one is the fault rpc->scan() leaves behind.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import RpcFault, handler_shape

TYPE_WORDS = {str: "string", int: "integer", float: "float"}
MISMATCH = "record doesn't match type"
END = "end of packet encountered"
BUG = "bug -- internal error"
# what ctl's rpc_scan() leaves in a string parameter it could not read (a method that goes on past
# the failure, as tm.t_uac_start past its optional body, uses it)
UNREAD_STRING = "if you get this string, you don'tcheck rpc_scan return code !!! (very bad)"


class ScanFault(RpcFault):
    """A failed rpc->scan(): `index` is the parameter it failed at (rpc->scan() returns -index),
    `optional` whether that parameter was an optional one, `args` those read before it."""

    def __init__(self, message: str, index: int, optional: bool, args: list[Any]) -> None:
        super().__init__(400, message)
        self.index = index
        self.optional = optional
        self.args = args


def scan(fn: Callable[..., Any], params: list[Any], autoconvert: bool,
         scanned_with_dot: tuple[int, ...] = ()) -> list[Any]:
    """The arguments to call `fn` with; raises ScanFault as a failed rpc->scan(). The parameters
    in `scanned_with_dot` are converted even without `autoconvert` (the method scans them with
    ".", as htable.sets its value)."""
    shape = handler_shape(fn)
    if shape is None:
        return list(params)
    declared, varargs = shape
    args: list[Any] = []
    for index, (kind, required) in enumerate(declared):
        if index >= len(params):
            if required:
                raise ScanFault(_message(index, kind or str, END), index, False, args)
            break
        try:
            args.append(convert(params[index], kind, index, autoconvert or index in scanned_with_dot))
        except RpcFault as fault:
            raise ScanFault(fault.message, index, not required, args) from None
    if varargs:
        args += params[len(declared):]
    return args


def convert(value: Any, kind: type | None, index: int, autoconvert: bool) -> Any:
    if kind is None or type(value) is kind:
        return value
    if kind is str:
        if isinstance(value, float):
            raise _fault(index, kind, BUG if autoconvert else MISMATCH)
        if autoconvert and isinstance(value, int):
            return str(value)
    elif kind is int:
        if autoconvert and isinstance(value, float):
            return int(value)
        if autoconvert and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif kind is float:
        if autoconvert and isinstance(value, int):
            return float(value)
        if autoconvert and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    raise _fault(index, kind, MISMATCH)


def _fault(index: int, kind: type, why: str) -> RpcFault:
    return RpcFault(400, _message(index, kind, why))


def _message(index: int, kind: type, why: str) -> str:
    return f"error at parameter {index}: expected {TYPE_WORDS[kind]} type but {why}"


def text_value(line: str, kind: type | None) -> Any:
    """A FIFO parameter line for a parameter of type `kind` (strtol/strtod, as the FIFO's scan)."""
    if kind is int:
        return _strtol(line)
    if kind is float:
        try:
            return float(line)
        except ValueError:
            return 0.0
    return line


def _strtol(text: str) -> int:
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    base = 16 if text[:2].lower() == "0x" else 8 if text.startswith("0") and len(text) > 1 else 10
    digits = text[2:] if base == 16 else text
    valid = "0123456789abcdef"[:base]
    end = 0
    while end < len(digits) and digits[end].lower() in valid:
        end += 1
    return sign * int(digits[:end], base) if end else 0


def declared_types(fn: Callable[..., Any]) -> list[type | None]:
    shape = handler_shape(fn)
    return [kind for kind, _ in shape[0]] if shape else []
