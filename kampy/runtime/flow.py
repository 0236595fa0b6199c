"""What passes between the parts of the route engine besides return codes: the load-time error of a
route being built, a module function's failure, and the `return`/`break` of the script.

Its own module so that the engine and the builders it calls (actions, expressions) share them
without importing each other."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.config import ast
from kampy.sip.errors import SIPProtocolError

if TYPE_CHECKING:
    from kampy.runtime.context import MessageContext

Fn = Callable[["MessageContext"], Any]  # a built statement or expression


def one(ctx: MessageContext) -> int:
    """The statement that does nothing and returns 1 (an empty block, a no-op)."""
    return 1


class LoadError(Exception):
    """A problem found while building routes; collected into a ConfigError with its position."""

    def __init__(self, pos: ast.Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


class ModuleFailure(Exception):
    """An unexpected exception inside a module function: the message is dropped, the server goes on."""

    def __init__(self, pos: ast.Pos, name: str, exc: BaseException) -> None:
        super().__init__(f"{pos.file}:{pos.line}: {name}() failed: {type(exc).__name__}: {exc}")
        self.pos = pos
        self.name = name
        self.exc = exc


class MalformedInput(ModuleFailure):
    """A module function met a header or URI of the message that does not parse (a
    SIPProtocolError): the request is answered with an error reply (400 usually), as Kamailio's
    functions answer when their parser fails, and the script stops; one log line, no traceback."""

    exc: SIPProtocolError

    def __init__(self, pos: ast.Pos, name: str, exc: SIPProtocolError) -> None:
        super().__init__(pos, name, exc)


class Return(Exception):
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class Break(Exception):
    pass
