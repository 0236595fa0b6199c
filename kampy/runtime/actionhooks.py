"""Hooks around each action of the config's routes: Kamailio's SREV_CFG_RUN_ACTION event (the
debugger module's cfgtrace) and its log_assign callback.

A module asks for them with `core.trace_actions(before, after)` in its `__init__` (the routes are
built after the modules); the engine then calls `before(ctx, action)` before each action runs and
`after(ctx, action)` once it has run (not when it ended the script or failed). `Action` describes
the action as it is written in the config. Without a hook the engine builds its routes as if hooks
did not exist: they cost nothing when no module asks.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kampy.config import ast

if TYPE_CHECKING:
    from kampy.runtime.context import MessageContext

log = logging.getLogger("kampy.runtime")

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
    target: ast.PVar | None = None  # ASSIGN/ADD: the pseudo-variable assigned
    end_line: int = 0    # IF/SWITCH/WHILE: the line it ends on (its last `}`)
    string_cases: bool = False  # SWITCH: its cases are strings (Kamailio matches them, not jumps)
    int_cases: tuple[int, ...] = ()  # SWITCH: the values of its integer cases


ActionHook = Callable[["MessageContext", Action], None]


_KINDS = {"If": IF, "Switch": SWITCH, "While": WHILE, "Return": RETURN, "Exit": EXIT, "Drop": DROP,
          "Break": BREAK, "RouteCall": ROUTE, "Block": BLOCK, "ExprStmt": EVAL}


def action_of(s: ast.Node, route: tuple[str, str | None], next_line: int = 0) -> Action | None:
    """The action a statement of block `route` (kind, name) is; None for a call (`call_action`).
    `next_line`: where the statement after it starts (0: it is the last of its block)."""
    if isinstance(s, ast.Call) or (isinstance(s, ast.ExprStmt) and isinstance(s.expr, ast.Call)):
        return None
    route_kind, route_name = route
    if isinstance(s, ast.Assign):
        kind = ADD if s.op == "+=" else ASSIGN
        return Action(kind, kind, s.pos.file, s.pos.line, route_kind, route_name, target=s.target)
    kind = _KINDS.get(type(s).__name__, type(s).__name__.lower())
    values = [c.value for c in s.cases if c.value is not None] if isinstance(s, ast.Switch) else []
    strings = any(not isinstance(v, ast.Int) for v in values)
    ints = () if strings else tuple(v.value for v in values if isinstance(v, ast.Int))
    end = getattr(s, "end_line", 0)
    if isinstance(s, ast.If) and s.orelse is None and next_line:
        end = next_line  # Kamailio's parser reduces such an `if` once it has read the next token
    return Action(kind, kind, s.pos.file, s.pos.line, route_kind, route_name, end_line=end,
                  string_cases=strings, int_cases=ints)


def call_action(c: ast.Call, owner: str, route: tuple[str, str | None]) -> Action:
    """The action a call of function `c` of module `owner` ("core" for the core's) is."""
    dynamic = any(not isinstance(a, (ast.Str, ast.Int)) for a in c.args)
    return Action(CALL, c.name, c.pos.file, c.pos.line, route[0], route[1], args=len(c.args),
                  dynamic=dynamic, owner=owner)


def hooked(fn: Callable[[MessageContext], Any], action: Action, befores: tuple[ActionHook, ...],
           afters: tuple[ActionHook, ...]) -> Callable[[MessageContext], Any]:
    """`fn` with the hooks run around it."""
    def run(ctx: MessageContext) -> Any:
        for before in befores:
            _run_hook(before, ctx, action)
        ret = fn(ctx)
        for after in afters:
            _run_hook(after, ctx, action)
        return ret
    return run


def _run_hook(hook: ActionHook, ctx: MessageContext, action: Action) -> None:
    """A hook's failure is a bug of its module: logged, the route goes on."""
    try:
        hook(ctx, action)
    except Exception:
        log.exception("action hook %r failed at %s:%d", hook, action.file, action.line)
