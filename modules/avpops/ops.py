"""avpops' functions on the AVPs of the message (avpops_impl.c): avp_delete(), avp_copy(),
avp_pushto(), avp_check(), avp_op(), avp_subst(), avp_subst_pv(), is_avp_set(), avp_print()."""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampy.api import (L_DBG, L_ERR, L_INFO, REGEX_FLAGS, Branch, CoreAPI, MessageContext, PVSyntaxError,
                       SubstError, SubstExpr, compile_posix, log_at, module_logger, parse_pv, parse_pv_at,
                       parse_subst)

from . import names
from .names import AvpName
from .params import (CHECK_OPS, MATH_OPS, ParamError, parse_flags, parse_op_value, parse_typed_value,
                     split_flags)

log = module_logger("avpops")

STR_BUF_SIZE = 1024
INT_MASK = 0xFFFFFFFF


def int32(value: int) -> int:
    value &= INT_MASK
    return value - (1 << 32) if value & 0x80000000 else value


def str2int(text: str) -> int | None:
    """Kamailio's str2int(): unsigned decimal digits only."""
    return int(text) if text and text.isascii() and text.isdigit() else None


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@dataclass(frozen=True)
class Operand:
    """A pseudo-variable argument: an AVP (all its values), an xavp (a field, `[*]` for all its
    values), or any other pseudo-variable (its one value)."""

    text: str
    avp: AvpName | None = None
    xavp: tuple[Any, ...] | None = None     # (root, root index, field, field index)
    accessor: Any = None


@dataclass(frozen=True)
class Check:
    """avp_check()'s second argument."""

    op: str
    constant: int | str | re.Pattern[str] | None
    operand: Operand | None
    all: bool
    ci: bool


@dataclass(frozen=True)
class MathOp:
    """avp_op()'s second argument."""

    op: str
    constant: int | None
    operand: Operand | None
    delete: bool


class MemoryOps:
    """The functions on the message's AVPs (a mixin of the module)."""

    core: CoreAPI
    avp_alias: names.Aliases

    # ------------------------------------------------------------ argument parsing

    def _spec(self, text: str) -> Any:
        """A pseudo-variable written at the start of `text` (pv_cache_get() takes the spec and
        ignores what follows)."""
        try:
            spec, _ = parse_pv_at(text, 0)
        except PVSyntaxError:
            raise ParamError(f"unable to get pseudo-variable in [{text}]") from None
        return spec

    def _avp(self, text: str, what: str = "bad attribute name") -> AvpName:
        spec = self._spec(text)
        if spec.cls != "avp":
            raise ParamError(f"{what} <{text}>")
        return names.avp_name(spec, self.core.formatter, self.avp_alias)

    def _operand(self, text: str) -> Operand:
        spec = self._spec(text)
        if spec.cls == "avp":
            return Operand(text, avp=names.avp_name(spec, self.core.formatter, self.avp_alias))
        if spec.cls == "xavp":
            return Operand(text, xavp=self._xavp_name(spec.arg or ""))
        return Operand(text, accessor=self.core.pv_accessor(spec))

    def _xavp_name(self, arg: str) -> tuple[Any, ...]:
        m = re.fullmatch(r"\s*([^\[=\s]+)(?:\[([^\]]*)\])?\s*(?:=>\s*([^\[\s]+)(?:\[([^\]]*)\])?)?\s*", arg)
        if m is None:
            raise ParamError(f"invalid xavp name [{arg}]")
        return (m.group(1), self._index(m.group(2)), m.group(3), self._index(m.group(4)))

    def _index(self, text: str | None) -> Any:
        if text is None:
            return 0
        text = text.strip()
        if text == "*":
            return "*"
        if text.startswith("$"):
            return self.core.pv_accessor(text)
        try:
            return int(text)
        except ValueError:
            raise ParamError(f"bad index [{text}]") from None

    # ------------------------------------------------------------ reading operands

    def _values(self, ctx: MessageContext, operand: Operand) -> tuple[list[Any], bool] | None:
        """The values of the operand and whether to go through all of them; None when the
        operand has no value (an AVP without values, an xavp not found)."""
        if operand.avp is not None:
            found = names.values(ctx, operand.avp.key(ctx))
            return (list(found), True) if found else None
        if operand.xavp is not None:
            return self._xavp_values(ctx, operand.xavp)
        value = operand.accessor.get(ctx)
        return ["<null>" if value is None else value], False

    def _resolve_index(self, ctx: MessageContext, index: Any) -> int | str:
        if index == "*" or isinstance(index, int):
            return index
        value = index.get(ctx)
        return value if isinstance(value, int) else 0

    def _xavp_values(self, ctx: MessageContext, x: tuple[Any, ...]) -> tuple[list[Any], bool] | None:
        """get_xavp(): the root item at its index (`*` is taken as 0), then the field's value at
        its index, or every value of the field with `[*]`."""
        root, rindex, fieldname, findex = x
        items = ctx.xavps.get(root, [])
        i = self._resolve_index(ctx, rindex)
        if i == "*":
            log_at(log, L_ERR, "idx:* at first key not implemented. Using idx:0")
            i = 0
        assert isinstance(i, int)
        if i < 0:
            i += len(items)
        if not 0 <= i < len(items) or not isinstance(items[i], dict):
            log_at(log, L_DBG, "no dst xavp found")
            return None
        if fieldname is None:
            log_at(log, L_ERR, "xavp has to have key2")
            return None
        found = items[i].get(fieldname, [])
        j = self._resolve_index(ctx, findex)
        every = j == "*"
        j = 0 if every else j
        assert isinstance(j, int)
        if j < 0:
            j += len(found)
        if not 0 <= j < len(found):
            return None
        return list(found[j:]) if every else [found[j]], every

    # ------------------------------------------------------------ avp_delete

    def fix_delete(self, text: str) -> tuple[AvpName | str, bool]:
        name, flags = split_flags(text)
        every = "g" in parse_flags(flags, "g")
        if name.startswith("$"):
            return self._avp(name, "bad param; expected : $avp(name)"), every
        if not name:
            raise ParamError("bad param - expected : $avp(name), *, s or i value")
        kind = {"s": "str", "i": "int", "*": "any", "a": "any"}.get(name[0].lower())
        if kind is None:
            raise ParamError("bad param - expected : *, s or i AVP flag")
        if name[1:] and str2int(name[1:]) is None:
            raise ParamError("bad avp flags")
        return kind, True  # every AVP of the type

    def avp_delete(self, ctx: MessageContext, target: tuple[AvpName | str, bool]) -> int:
        what, every = target
        removed = 0
        if isinstance(what, AvpName):
            key = what.key(ctx)
            found = names.values(ctx, key)
            removed = len(found) if every else min(1, len(found))
            names.remove_at(ctx, key, set(range(removed)))
        else:
            for key in [k for k in ctx.avps if _name_type_matches(k, what)]:
                removed += len(ctx.avps.pop(key))
        log_at(log, L_DBG, "%d avps were removed", removed)
        return 1 if removed else -1

    # ------------------------------------------------------------ avp_copy

    def fix_copy_src(self, text: str) -> AvpName:
        return self._avp(text, "you must specify only AVP as parameter")

    def fix_copy_dst(self, text: str) -> tuple[AvpName, frozenset[str]]:
        name, flags = split_flags(text)
        return self._avp(name, "you must specify only AVP as parameter"), parse_flags(flags, "gdns")

    def avp_copy(self, ctx: MessageContext, src: AvpName, dst: tuple[AvpName, frozenset[str]]) -> int:
        """Each value (the newest only without `g`) added to the destination, converted with
        `n`/`s`, removed from the source with `d`: a list copied comes out reversed."""
        target, flags = dst
        skey, dkey = src.key(ctx), target.key(ctx)
        sources = names.values(ctx, skey)
        copies: list[Any] = []
        for value in sources if "g" in flags else sources[:1]:
            if isinstance(value, str) and "n" in flags:
                number = str2int(value)
                if number is None:
                    log_at(log, L_ERR, "cannot convert str to int")
                    return -1
                value = number
            elif isinstance(value, int) and "s" in flags:
                value = str(value)
            copies.append(value)
        if "d" in flags:
            names.remove_at(ctx, skey, set(range(len(copies))))
        for value in copies:
            names.add(ctx, dkey, value)
        return 1 if copies else -1

    # ------------------------------------------------------------ avp_pushto

    def fix_push_dst(self, text: str) -> tuple[str, str | None]:
        if not text.startswith("$"):
            raise ParamError("bad param 1; expected : $ru $du ...")
        name, part = split_flags(text)
        cls = self._spec(name).cls
        if cls in ("ru", "ruri"):
            if part is not None and part.lower() not in ("username", "domain"):
                raise ParamError(f'unknown ruri flag "{part}"!')
            return "ruri", part.lower() if part else None
        if part is not None:
            raise ParamError(f'unknown {"duri" if cls == "du" else "branch"} flag "{part}"!')
        if cls == "du":
            return "duri", None
        if cls == "hdr":
            raise ParamError("push to header  is obsoleted - use append_hf() or append_to_reply() "
                             "from textops module!")
        if cls == "br":
            return "branch", None
        raise ParamError(f'unsupported destination "{text}"; expected $ru,$du,$br')

    def fix_push_src(self, text: str) -> tuple[Operand, bool]:
        if not text.startswith("$"):
            raise ParamError("bad param 2; expected: $pseudo-variable ...")
        name, flags = split_flags(text)
        return self._operand(name), "g" in parse_flags(flags, "g")

    def avp_pushto(self, ctx: MessageContext, dst: tuple[str, str | None], src: tuple[Operand, bool]) -> int:
        where, part = dst
        operand, every = src
        found = self._values(ctx, operand)
        if found is None:
            log_at(log, L_DBG, " no src avp found")
            return -1
        pushed, from_avp = found
        if not (every and from_avp):
            pushed = pushed[:1]
        for n, value in enumerate(pushed):
            if where == "ruri":
                if n:
                    ctx.branches.append(Branch(ctx.ruri, dst_uri=ctx.dst_uri, path=ctx.path_vec, q=ctx.ruri_q,
                                               flags=ctx.bflags, socket=ctx.force_socket))
                pv = {"username": "$rU", "domain": "$rd"}.get(part or "", "$ru")
                self.core.pv_accessor(pv).set(ctx, str(value))
            elif not isinstance(value, str):
                return -1
            elif where == "duri":
                self.core.pv_accessor("$du").set(ctx, value)
            else:
                ctx.branches.append(Branch(value, socket=ctx.force_socket))
        log_at(log, L_DBG, "%d avps were processed", len(pushed))
        return 1

    # ------------------------------------------------------------ avp_check

    def fix_check_src(self, text: str) -> Operand:
        return self._operand(text)

    def fix_check(self, text: str) -> Check:
        op, value_text, flags_text = parse_op_value(text, CHECK_OPS)
        flags = parse_flags(flags_text, "gi")
        operand = None
        constant: int | str | re.Pattern[str] | None = None
        if value_text.startswith("$"):
            operand = self._operand(value_text)
        else:
            constant = parse_typed_value(value_text)
            if op == "re" and isinstance(constant, str):
                try:
                    constant = compile_posix(constant, REGEX_FLAGS)
                except re.error:
                    raise ParamError(f"bad re <{value_text}>") from None
            if op == "fm" and not isinstance(constant, str):
                raise ParamError("fast_match operation requires string value or avp name/alias")
        return Check(op, constant, operand, "g" in flags, "i" in flags)

    def avp_check(self, ctx: MessageContext, src: Operand, check: Check) -> int:
        found = self._values(ctx, src)
        if found is None:
            log_at(log, L_DBG, "no src avp found")
            return -1
        sources, every = found
        if src.avp is not None and not check.all:
            sources = sources[:1]
        for value in sources:
            if isinstance(value, str) and len(value) >= STR_BUF_SIZE:
                log_at(log, L_ERR, "src value too long")
                return -1
            if not isinstance(value, int | str):
                log_at(log, L_ERR, "src value is not INT or STR")
                continue
            if check.operand is not None:
                against = self._values(ctx, check.operand)
                if against is None:
                    log_at(log, L_DBG, "no dst avp found")
                    return -1
                checks = against[0]
            else:
                checks = [check.constant]
            if any(_compares(check, value, other) for other in checks):
                return 1
        log_at(log, L_DBG, "no match")
        return -1

    # ------------------------------------------------------------ avp_op

    def fix_op_avps(self, text: str) -> tuple[AvpName, AvpName | None]:
        src, dst = split_flags(text)
        source = self._avp(src)
        return source, self._avp(dst, "bad attribute name/alias") if dst else None

    def fix_op(self, text: str) -> MathOp:
        op, value_text, flags_text = parse_op_value(text, MATH_OPS)
        flags = parse_flags(flags_text, "gd")
        if value_text.startswith("$"):
            return MathOp(op, None, self._operand(value_text), "d" in flags)
        constant = parse_typed_value(value_text)
        if not isinstance(constant, int) or not value_text[:2].lower() == "i:":
            raise ParamError("value must be int")
        return MathOp(op, constant, None, "d" in flags)

    def avp_op(self, ctx: MessageContext, avps: tuple[AvpName, AvpName | None], op: MathOp) -> int:
        src, dst = avps
        skey = src.key(ctx)
        dkey = dst.key(ctx) if dst is not None else skey
        found = names.values(ctx, skey)
        if not found:
            log_at(log, L_DBG, " no src avp found")
            return -1
        sources = [(i, v) for i, v in enumerate(found) if isinstance(v, int)]
        if not sources and op.op != "not":
            log_at(log, L_DBG, "no proper avp found")
            return -1
        results: list[int] = []
        for _, value in sources or [(-1, 0)]:
            operands = self._math_operands(ctx, op)
            if operands is None:
                return -1
            results += [_compute(op.op, value, other) for other in operands]
        for result in results:
            names.add(ctx, dkey, result)
        if op.delete and sources:
            shift = len(results) if dkey == skey else 0
            names.remove_at(ctx, skey, {i + shift for i, _ in sources})
        return 1

    def _math_operands(self, ctx: MessageContext, op: MathOp) -> list[int] | None:
        if op.operand is None:
            return [op.constant or 0]
        if op.operand.avp is not None:
            ints = [v for v in names.values(ctx, op.operand.avp.key(ctx)) if isinstance(v, int)]
            if not ints:
                log_at(log, L_DBG, "no dst avp found")
                return None
            return ints
        found = self._values(ctx, op.operand)
        value = found[0][0] if found else None
        if not isinstance(value, int):
            log_at(log, L_ERR, "dst value is str")
            return None
        return [value]

    # ------------------------------------------------------------ avp_subst, avp_subst_pv

    def fix_subst_avps(self, text: str) -> tuple[AvpName, AvpName | None, frozenset[str]]:
        src, rest = split_flags(text)
        source = self._avp(src)
        if not rest:
            return source, None, frozenset()
        dst = None
        flags_text: str | None = rest
        if rest.startswith("$"):
            dst_text, flags_text = split_flags(rest)
            dst = self._avp(dst_text)
        return source, dst, parse_flags(flags_text, "gd")

    def fix_subst(self, text: str) -> SubstExpr:
        try:
            return parse_subst(text, self.core.pv_accessor)
        except SubstError as exc:
            raise ParamError(f"avpops: bad subst re {text}: {exc}") from None

    def avp_subst(self, ctx: MessageContext, avps: tuple[AvpName, AvpName | None, frozenset[str]],
                  subst: SubstExpr) -> int:
        src, dst, flags = avps
        skey = src.key(ctx)
        dkey = dst.key(ctx) if dst is not None else skey
        found = list(names.values(ctx, skey))
        if not found:
            return -1
        results: list[str] = []
        removed: set[int] = set()
        for position, value in enumerate(found):
            if not isinstance(value, str):
                continue
            result, _count = subst.run(ctx, value, _ruri)
            if result is None:
                continue
            results.append(result)
            if "d" in flags or dst is None:
                removed.add(position)
            if "g" not in flags:
                break
        if removed:
            names.remove_at(ctx, skey, removed)
        for result in results:
            names.add(ctx, dkey, result)
        log_at(log, L_DBG, "subst to %d avps", len(results))
        return 1 if results else -1

    def avp_subst_pv(self, ctx: MessageContext, avps: tuple[AvpName, AvpName | None, frozenset[str]],
                     expression: str) -> int:
        text = self._evaluate(ctx, expression)
        try:
            subst = parse_subst(text, self.core.pv_accessor)
        except SubstError as exc:
            log_at(log, L_ERR, "bad subst re %s: %s", text, exc)
            return -1
        return self.avp_subst(ctx, avps, subst)

    def _evaluate(self, ctx: MessageContext, text: str) -> str:
        """pv_eval_str(): the text formatted once more (it may hold variables), or as it is."""
        if "$" not in text:
            return text
        cache: dict[str, Callable[[MessageContext], str]] = self.__dict__.setdefault("_formats", {})
        fmt = cache.get(text)
        if fmt is None:
            try:
                fmt = self.core.formatter(text)
            except LookupError:
                return text
            if len(cache) < 256:
                cache[text] = fmt
        return fmt(ctx)

    # ------------------------------------------------------------ is_avp_set, avp_print

    def fix_is_set(self, text: str) -> tuple[AvpName, frozenset[str]]:
        name, flags_text = split_flags(text)
        avp = self._avp(name)
        flags = parse_flags(flags_text, "ens")
        if "n" in flags and "s" in flags:
            raise ParamError("invalid flag combination <n> and 's|S'")
        return avp, flags or frozenset({"all"})

    def is_avp_set(self, ctx: MessageContext, target: tuple[AvpName, frozenset[str]]) -> int:
        avp, flags = target
        found = names.values(ctx, avp.key(ctx))
        index = _index_of(avp.index, ctx, self.core)
        for position, value in enumerate(found):
            if position < max(index, 0):
                continue
            if "all" in flags:
                return 1
            if ("s" in flags and not isinstance(value, str)) or ("n" in flags and isinstance(value, str)):
                return -1
            if "e" in flags:
                return 1 if (value == "" if isinstance(value, str) else value == 0) else -1
            return 1
        return -1

    def avp_print(self, ctx: MessageContext) -> int:
        # Kamailio's one list holds the newest AVP first: here the names last added come first
        for key, found in reversed(ctx.avps.items()):
            marks = names.in_db(ctx, key)
            for i, value in enumerate(found):
                flags = names.flags_of(key, value, marks.get(i))
                log_at(log, L_INFO, "p=%#x, flags=0x%04X", id(value), flags)
                if names.is_int_name(key):
                    log_at(log, L_INFO, "\t\t\tid=<%s>", key[2:])
                else:
                    log_at(log, L_INFO, "\t\t\tname=<%s>", key)
                if isinstance(value, str):
                    log_at(log, L_INFO, "\t\t\tval_str=<%s / %d>", value, len(value.encode()))
                else:
                    log_at(log, L_INFO, "\t\t\tval_int=<%d>", value)
        return 1


def _ruri(ctx: MessageContext) -> str:
    return ctx.ruri if ctx.is_request else ""


def _name_type_matches(key: str, kind: str) -> bool:
    if kind == "any":
        return True
    return names.is_int_name(key) == (kind == "int")


def _index_of(text: str | None, ctx: MessageContext, core: CoreAPI) -> int:
    if text is None or text == "*":
        return 0
    if text.startswith("$"):
        value = core.pv_accessor(text).get(ctx)
        return value if isinstance(value, int) else 0
    try:
        return int(text)
    except ValueError:
        return 0


def _compares(check: Check, value: int | str, other: Any) -> bool:
    """One comparison of avp_check(): the types must match (strings, or integers)."""
    if isinstance(other, re.Pattern):
        return isinstance(value, str) and other.search(value) is not None
    if isinstance(value, str) != isinstance(other, str) or not isinstance(other, int | str):
        log_at(log, L_ERR, "value types don't match")
        return False
    op = check.op
    if isinstance(value, str):
        a, b = value, str(other)
        if op == "eq":
            return a.lower() == b.lower() if check.ci else a == b
        if op == "ne":
            return a.lower() != b.lower() if check.ci else a != b
        la, lb = a.lower(), b.lower()
        if op in ("lt", "le", "gt", "ge"):
            return {"lt": la < lb, "le": la <= lb, "gt": la > lb, "ge": la >= lb}[op]
        if op == "re":
            try:
                return compile_posix(b, REGEX_FLAGS).search(a) is not None
            except re.error:
                log_at(log, L_ERR, "bad re <%s>", b)
                return False
        if op == "fm":
            return fnmatch.fnmatchcase(la, lb) if check.ci else fnmatch.fnmatchcase(a, b)
        log_at(log, L_ERR, "unknown operation")
        return False
    x, y = int(value), int(other)
    results = {"eq": x == y, "ne": x != y, "lt": x < y, "le": x <= y, "gt": x > y, "ge": x >= y,
               "and": bool(x & y), "or": bool(x | y), "xor": bool(x ^ y)}
    if op not in results:
        log_at(log, L_ERR, "unknown operation")
        return False
    return results[op]


def _compute(op: str, a: int, b: int) -> int:
    if op in ("div", "mod") and b == 0:
        log_at(log, L_ERR, "division by 0" if op == "div" else "modulo by 0")
        return 0
    result = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
              "div": lambda: c_div(a, b), "mod": lambda: a - b * c_div(a, b), "and": lambda: a & b,
              "or": lambda: a | b, "xor": lambda: a ^ b, "not": lambda: ~b}[op]()
    return int32(result)


def pv_class(text: str) -> str | None:
    try:
        return parse_pv(text).cls
    except PVSyntaxError:
        return None
