"""`#!ifexp` / `#!defexp` expressions, parsed and evaluated as Kamailio's snexpr does."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from kampy.config.pp_state import Define

_EXPR_LEVELS: tuple[tuple[str, ...], ...] = (
    (",",),
    ("||",),
    ("&&",),
    ("^",),
    ("|",),
    ("&",),
    ("<", "<=", ">", ">=", "==", "!="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)  # fmt: skip  (Kamailio's snexpr precedence: note | binds tighter than ^)
_EXPR_OPS = ("**", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||") + tuple("*/%+-<>&|^!=,")
_EXPR_TOKEN = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)|(?P<num>[0-9][0-9.]*)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<word>(?:[$@-Z\[\\\]_`a-{}~\x7f-\U0010ffff])[$#0-9@-Z\[\\\]_`a-{}~\x7f-\U0010ffff]*)
    |(?P<paren>[()])""",
    re.X | re.S,
)
Value = float | str


class ExprError(Exception):
    pass


def _number(text: str) -> float:
    """snexpr_parse_number: digits with at most one dot, anything else is NaN."""
    if text.count(".") > 1 or not re.fullmatch(r"[0-9.]*[0-9][0-9.]*", text):
        return math.nan
    return float(text)


def _format_number(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{value:.4g}"


class Expr:
    """Parses and evaluates a #!ifexp / #!defexp expression like Kamailio's snexpr: a name is a
    define (undefined -> 0, defined without value -> 1, with a value -> that value as a string)."""

    def __init__(self, text: str, defines: Mapping[str, Define]):
        self.tokens = self._tokenize(text)
        self.i = 0
        self.defines = defines

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        i = 0
        while i < len(text):
            m = _EXPR_TOKEN.match(text, i)
            if m is not None:
                if m.lastgroup != "space":
                    tokens.append((m.lastgroup or "", m.group(0)))
                i = m.end()
                continue
            op = next((o for o in _EXPR_OPS if text.startswith(o, i)), None)
            if op is None:
                raise ExprError(f"unexpected character {text[i]!r}")
            tokens.append(("op", op))
            i += len(op)
        return tokens

    def evaluate(self) -> Value:
        if not self.tokens:
            raise ExprError("the expression is empty")
        tree = self._level(0)
        if self.i < len(self.tokens):
            raise ExprError(f"unexpected {self.tokens[self.i][1]!r}")
        return self._eval(tree)

    # parsing: trees are tuples ("num"|"str"|"var", value) / ("un", op, a) / ("bin", op, a, b)
    def _peek_op(self, ops: tuple[str, ...]) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "op" and self.tokens[self.i][1] in ops:
            return self.tokens[self.i][1]
        return None

    def _level(self, n: int) -> tuple:
        if n == len(_EXPR_LEVELS):
            return self._power()
        left = self._level(n + 1)
        while (op := self._peek_op(_EXPR_LEVELS[n])) is not None:
            self.i += 1
            left = ("bin", op, left, self._level(n + 1))
        if self._peek_op(("=",)):
            raise ExprError("assignments are not supported")
        return left

    def _power(self) -> tuple:
        base = self._unary()
        if self._peek_op(("**",)):
            self.i += 1
            return ("bin", "**", base, self._power())
        return base

    def _unary(self) -> tuple:
        op = self._peek_op(("-", "!", "^"))
        if op is not None:
            self.i += 1
            return ("un", op, self._unary())
        return self._primary()

    def _primary(self) -> tuple:
        if self.i >= len(self.tokens):
            raise ExprError("the expression ends where a value is expected")
        kind, text = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            value = _number(text)
            if math.isnan(value):
                raise ExprError(f"bad number {text!r}")
            return ("num", value)
        if kind == "str":
            return (
                "str",
                re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), text[1:-1]),
            )
        if kind == "word":
            if self.i < len(self.tokens) and self.tokens[self.i] == ("paren", "("):
                raise ExprError(f"{text}(...): functions are not supported")
            return ("var", text)
        if (kind, text) == ("paren", "("):
            inner = self._level(0)
            if self.i >= len(self.tokens) or self.tokens[self.i] != ("paren", ")"):
                raise ExprError("missing ')'")
            self.i += 1
            return inner
        raise ExprError(f"unexpected {text!r} where a value is expected")

    # evaluation
    def _eval(self, node: tuple) -> Value:
        kind = node[0]
        if kind in ("num", "str"):
            return node[1]
        if kind == "var":
            define = self.defines.get(node[1])
            if define is None:
                return 0.0
            if define.value is None:
                return 1.0
            value = define.value
            if len(value) >= 2 and value[0] in "\"'" and value[0] == value[-1]:
                return value[1:-1]
            return value
        if kind == "un":
            value = self._numeric(self._eval(node[2]), node[1])
            if node[1] == "-":
                return -value
            if node[1] == "!":
                return 1.0 if value == 0 else 0.0
            return float(~self._int(value))
        return self._binary(node[1], node[2], node[3])

    @staticmethod
    def _numeric(value: Value, op: str) -> float:
        if isinstance(value, str):
            raise ExprError(f"'{op}' needs numbers, got the string {value!r}")
        return value

    @staticmethod
    def _int(value: float) -> int:
        if not math.isfinite(value):
            raise ExprError("not a finite number")
        return int(value)

    @staticmethod
    def _truth(value: Value) -> float:
        # snexpr reads a string's number slot here: a string is always "non-zero"
        return 1.0 if isinstance(value, str) else value

    def _binary(self, op: str, a_node: tuple, b_node: tuple) -> Value:
        if op == "&&":
            a = self._truth(self._eval(a_node))
            if a != 0:
                b = self._truth(self._eval(b_node))
                if b != 0:
                    return b
            return 0.0
        if op == "||":
            a = self._truth(self._eval(a_node))
            if a != 0 and not math.isnan(a):
                return a
            b = self._truth(self._eval(b_node))
            return b if b != 0 else 0.0
        a, b = self._eval(a_node), self._eval(b_node)
        if op == ",":
            return b
        if op in ("<", "<=", ">", ">=", "==", "!="):
            return self._compare(op, a, b)
        if op == "+":
            if isinstance(a, str):
                return a + (_format_number(b) if isinstance(b, float) else b)
            return a + (_number(b) if isinstance(b, str) else b)
        x, y = self._numeric(a, op), self._numeric(b, op)
        return self._arith(op, x, y)

    @staticmethod
    def _compare(op: str, a: Value, b: Value) -> float:
        if isinstance(a, str):
            b = _format_number(b) if isinstance(b, float) else b
        elif isinstance(b, str):
            b = _number(b)
        result = {
            "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b,
        }[op]  # fmt: skip
        return 1.0 if result else 0.0

    def _arith(self, op: str, x: float, y: float) -> float:
        try:
            if op == "**":
                return math.pow(x, y)
            if op == "*":
                return x * y
            if op == "/":
                return x / y if y else (math.nan if x == 0 else math.copysign(math.inf, x))
            if op == "%":
                return math.fmod(x, y) if y else math.nan
            if op == "-":
                return x - y
        except (OverflowError, ValueError):
            return math.nan
        xi, yi = self._int(x), self._int(y)
        return float({"<<": lambda: xi << yi, ">>": lambda: xi >> yi, "&": lambda: xi & yi,
                      "|": lambda: xi | yi, "^": lambda: xi ^ yi}[op]())  # fmt: skip

