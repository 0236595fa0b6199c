"""Hooks around each action of the config's routes: Kamailio's SREV_CFG_RUN_ACTION event (the
debugger module's cfgtrace) and its log_assign callback.

A module asks for them with `core.trace_actions(before, after)` in its `__init__` (the routes are
built after the modules); the engine then calls `before(ctx, action)` before each action runs and
`after(ctx, action)` once it has run (not when it ended the script or failed). `Action` describes
the action as it is written in the config. Without a hook the engine builds its routes as if hooks
did not exist: they cost nothing when no module asks.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kampy.config.ast import PVar
    from kampy.runtime.context import MessageContext

# what an Action is (`kind`)
CALL = "call"          # a function of a module or of the core (`name`, `args`, `owner`)
ROUTE = "route"        # route(NAME)
IF, SWITCH, WHILE = "if", "switch", "while"
ASSIGN = "assign"      # `$x = ...` (`target`), `add` for `$x += ...`
ADD = "add"
RETURN, EXIT, DROP, BREAK = "return", "exit", "drop", "break"
BLOCK = "block"        # a bare `{ ... }`
EVAL = "eval"          # an expression used as a statement


@dataclass(frozen=True)
class Action:
    """One action of the config: where it is written and what it is."""

    kind: str
    name: str            # the function's name for CALL, else the kind
    file: str
    line: int
    route_kind: str      # the block it is written in: "request", "route", "failure", "onreply",
    route_name: str | None  # "reply", "branch", "onsend", "event", ... and that block's name
    args: int = 0        # CALL: how many arguments
    dynamic: bool = False  # CALL: an argument is an expression or a pseudo-variable, not a literal
    owner: str = ""      # CALL: the module providing the function ("core" for the core's own)
    target: PVar | None = None  # ASSIGN/ADD: the pseudo-variable assigned
    end_line: int = 0    # IF/SWITCH/WHILE: the line it ends on (its last `}`)
    string_cases: bool = False  # SWITCH: its cases are strings (Kamailio matches them, not jumps)
    int_cases: tuple[int, ...] = ()  # SWITCH: the values of its integer cases


ActionHook = Callable[["MessageContext", Action], None]
