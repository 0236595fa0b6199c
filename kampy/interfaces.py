"""Checking implementations against their declarations, as pluggy checks hook implementations.

Two kinds of declaration are checked when a module loads, each failing with words that name the
module and the member:

* a module's handlers against its `Exports` (`handler_problems`): every `Function` handler accepts
  `(ctx, *args)` for each argument count the declaration allows, every timer `()`, every PV or
  transformation class `(spec)`, every argument fix-up `(value)`;
* an object a module offers other modules against the `typing.Protocol` its `Offer` names
  (`protocol_problems`): every method present and callable the way the Protocol's signature allows,
  every property and attribute present.

`narrow(protocol, impl)` builds the object other modules get: only the Protocol's members of `impl`
(its methods bound, its properties and attributes read through), so nothing else of the
implementation can be reached. The core a module is handed is built the same way from `CoreAPI`.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kampy.module import Exports

METHOD, PROPERTY, ATTRIBUTE = "method", "property", "attribute"
_MISSING = object()


def is_protocol(cls: object) -> bool:
    return isinstance(cls, type) and bool(getattr(cls, "_is_protocol", False))


def protocol_members(protocol: type) -> dict[str, str]:
    """The public members a Protocol declares (its own and its Protocol bases'): name -> METHOD,
    PROPERTY or ATTRIBUTE (annotated only)."""
    members: dict[str, str] = {}
    for cls in reversed(protocol.__mro__):
        if cls in (object, Protocol) or not is_protocol(cls):
            continue
        for name in getattr(cls, "__annotations__", {}):
            if not name.startswith("_"):
                members[name] = ATTRIBUTE
        for name, value in vars(cls).items():
            if name.startswith("_"):
                continue
            if isinstance(value, property):
                members[name] = PROPERTY
            elif inspect.isfunction(value):
                members[name] = METHOD
    return members


# ------------------------------------------------------------------ signatures


def signature_of(fn: Any, bound: bool = True) -> inspect.Signature | None:
    """The signature callers use: without `self` when `fn` is a function defined in a class and
    looked up on the class (`bound=False`). None when Python cannot tell (a builtin)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    if not bound:
        params = list(sig.parameters.values())
        sig = sig.replace(parameters=params[1:])
    return sig


def accepts_positional(sig: inspect.Signature, count: int) -> bool:
    """Whether a call with `count` positional arguments (and nothing else) binds."""
    try:
        sig.bind(*range(count))
    except TypeError:
        return False
    return True


def _calls_of(spec: inspect.Signature) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Representative calls the spec allows: each count of positional arguments, each optional
    or keyword argument by name, extra arguments when the spec takes *args or **kwargs."""
    positional = [p for p in spec.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p for p in spec.parameters.values() if p.kind is p.KEYWORD_ONLY]
    required = [p for p in positional if p.default is p.empty]
    required_kw = {p.name: None for p in keyword_only if p.default is p.empty}
    for count in range(len(required), len(positional) + 1):
        yield tuple(range(count)), dict(required_kw)
    all_kw = {p.name: None for p in keyword_only}
    for p in positional:
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty:
            yield tuple(range(len(required))), {**required_kw, p.name: None}
    named = {p.name: None for p in positional if p.kind is p.POSITIONAL_OR_KEYWORD}
    first_named = next((i for i, p in enumerate(positional) if p.kind is p.POSITIONAL_OR_KEYWORD),
                       len(positional))
    yield tuple(range(first_named)), {**named, **all_kw}
    if any(p.kind is p.VAR_POSITIONAL for p in spec.parameters.values()):
        yield tuple(range(len(positional) + 2)), dict(all_kw)
    if any(p.kind is p.VAR_KEYWORD for p in spec.parameters.values()):
        yield tuple(range(len(required))), {**required_kw, "_extra_keyword": None}


def accepts_calls_of(impl: inspect.Signature, spec: inspect.Signature) -> bool:
    """Whether every call the spec's signature allows also binds to the implementation's."""
    for args, kwargs in _calls_of(spec):
        try:
            impl.bind(*args, **kwargs)
        except TypeError:
            return False
    return True


# ------------------------------------------------------------------ offered APIs


def protocol_problems(obj: Any, protocol: type) -> list[str]:
    """What `obj` lacks to implement `protocol`: missing members, methods that are not callable or
    that do not accept every call the Protocol's signature allows."""
    if not is_protocol(protocol):
        return [f"{getattr(protocol, '__name__', protocol)!s} is not a typing.Protocol"]
    problems = []
    for name, kind in protocol_members(protocol).items():
        value = getattr(obj, name, _MISSING)
        if value is _MISSING:
            problems.append(f"it has no {kind} '{name}'")
            continue
        if kind != METHOD:
            continue
        if not callable(value):
            problems.append(f"its '{name}' is not a method")
            continue
        spec = signature_of(getattr(protocol, name), bound=False)
        impl = signature_of(value)
        if spec is not None and impl is not None and not accepts_calls_of(impl, spec):
            problems.append(f"its method {name}{impl} does not accept the calls of "
                            f"{protocol.__name__}.{name}{spec}")
    return problems


def narrow(protocol: type, impl: Any, *, fixed: Collection[str] = (), **overrides: Any) -> Any:
    """An object with only the members `protocol` declares, taken from `impl`: methods bound once,
    properties and attributes read from `impl` on each access, except those named in `fixed`, read
    once now (values that do not change for the life of `impl`: a plain attribute is faster).
    `overrides` replace members."""
    namespace: dict[str, Any] = {"__slots__": (), "__doc__": protocol.__doc__,
                                 "__repr__": lambda self: f"<{protocol.__name__} of {impl!r}>"}
    for name, kind in protocol_members(protocol).items():
        if name in overrides:
            value = overrides[name]
            namespace[name] = staticmethod(value) if callable(value) else value
        elif kind == METHOD:
            namespace[name] = staticmethod(getattr(impl, name))
        elif name in fixed:
            namespace[name] = getattr(impl, name)
        else:
            namespace[name] = property(_reader(impl, name))
    view_class = type(f"{protocol.__name__}View", (), namespace)
    return view_class()


def _reader(impl: Any, name: str) -> Callable[[Any], Any]:
    def read(self: Any) -> Any:
        return getattr(impl, name)
    return read


# ------------------------------------------------------------------ handlers of a declaration


def _handler(impl: Any, name: str) -> tuple[Any, inspect.Signature | None]:
    """`impl.<name>` (impl: a module instance or its class) and the signature callers use."""
    value = getattr(impl, name, _MISSING)
    if value is _MISSING or not callable(value):
        return None, None
    bound = not isinstance(impl, type) or not inspect.isfunction(inspect.getattr_static(impl, name))
    return value, signature_of(value, bound)


def handler_problems(exports: Exports, impl: Any) -> list[str]:
    """What is wrong with the handlers of `impl` (a module instance, or the class `Exports.factory`
    builds) for the declaration `exports`: a function or timer handler missing, or any declared
    handler that cannot be called the way the core calls it. Each problem names the member."""
    problems: list[str] = []

    def check(what: str, name: str, counts: list[int], required: bool, call: str) -> None:
        fn, sig = _handler(impl, name)
        if fn is None:
            if required:
                problems.append(f"{what}: the module has no method '{name}'")
            return
        if sig is None:
            return
        bad = [n for n in counts if not accepts_positional(sig, n)]
        if bad:
            problems.append(f"{what}: handler {name}{sig} cannot be called as {call}")

    for f in exports.functions:
        counts = [1 + n for n in range(f.required, len(f.args) + 1)]
        if f.varargs:
            counts.append(1 + len(f.args) + 3)
        names = [a.name for a in f.args]
        shape = ", ".join(["ctx", *names[:f.required], *(f"[{n}]" for n in names[f.required:])])
        check(f"function {f.name}()", f.handler_name, counts, True,
              f"{f.handler_name}({shape}{', ...' if f.varargs else ''})")
        if f.fixup:
            check(f"function {f.name}() fixup", f.fixup, [0], True, f"{f.fixup}()")
        for arg in f.args:
            if arg.fixup:
                check(f"function {f.name}() argument '{arg.name}'", arg.fixup, [1], True,
                      f"{arg.fixup}(value)")
    for timer in exports.timers:
        check(f"timer {timer.name}", timer.handler, [0], True, f"{timer.handler}()")
    for pv in exports.pvars:
        name = pv.handler or f"pv_{pv.name}"
        check(f"pseudo-variable ${pv.name}", name, [1], False, f"{name}(spec)")
    for tc in exports.transforms:
        name = tc.handler or f"tr_{tc.name}"
        check(f"transformation class {tc.name}", name, [1], False, f"{name}(tr)")
    for offer in exports.offers:
        if offer.handler:
            check(f"offered API '{offer.name}'", offer.handler, [0], True, f"{offer.handler}()")
    return problems
