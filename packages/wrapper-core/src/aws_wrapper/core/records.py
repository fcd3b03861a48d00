"""Value classes without ``exec``: what ``@dataclass`` gives core and the plugin distributions, at a fraction of the
import cost.

``@dataclasses.dataclass`` writes the source of ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and the frozen
``__setattr__`` / ``__delattr__`` and compiles each one when the class is defined: about 1 ms per class here, paid by
every process start (Lambda functions, CLIs) for every value class on the import path — 23 of them on the way to a
first ``plugins="failover"`` connect, a quarter of the wrapper's cold start. :func:`record` builds the same methods
from shared closures instead (type checkers see it as a dataclass through ``dataclass_transform``).

Supported: fields from the class annotations in order (``ClassVar`` excluded), inherited record fields first,
defaults, :func:`field` with ``default`` / ``default_factory`` / ``compare`` / ``repr`` / ``kw_only``, ``frozen``,
``eq`` (frozen + eq: hashable by the compared fields; eq without frozen: unhashable, as dataclasses), ``repr``,
``kw_only``, ``__post_init__``, :func:`replace` and :func:`fields`. Instances are plain objects with a ``__dict__``.
Instance creation costs about a microsecond more than a dataclass: use it for configuration and values, not for
per-call objects.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["record", "field", "replace", "fields", "RecordField", "FrozenInstanceError"]

C = TypeVar("C", bound=type)
R = TypeVar("R")
_MISSING: Any = object()


class RecordField:
    """One field of a record (what :func:`fields` returns)."""

    __slots__ = ("compare", "default", "default_factory", "kw_only", "name", "repr")

    def __init__(
        self,
        default: Any = _MISSING,
        default_factory: Callable[[], Any] | None = None,
        compare: bool = True,
        repr: bool = True,
        kw_only: bool = False,
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr
        self.kw_only = kw_only

    def value(self, owner: str) -> Any:
        if self.default is not _MISSING:
            return self.default
        if self.default_factory is not None:
            return self.default_factory()
        raise TypeError(f"{owner}() missing required argument: {self.name!r}")

    def __repr__(self) -> str:
        return f"RecordField({self.name!r})"


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    compare: bool = True,
    repr: bool = True,
    kw_only: bool = False,
) -> Any:
    """Options of one field, as ``dataclasses.field``."""
    return RecordField(default, default_factory, compare, repr, kw_only)


@overload
def record(cls: C, /) -> C: ...


@overload
def record(
    *, frozen: bool = False, eq: bool = True, repr: bool = True, kw_only: bool = False
) -> Callable[[C], C]: ...


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: C | None = None,
    /,
    *,
    frozen: bool = False,
    eq: bool = True,
    repr: bool = True,
    kw_only: bool = False,
) -> C | Callable[[C], C]:
    """Make ``cls`` a value class, as ``@dataclass`` with the same options would (see the module docstring)."""

    def wrap(klass: C) -> C:
        return _build(klass, frozen=frozen, eq=eq, with_repr=repr, kw_only=kw_only)

    return wrap if cls is None else wrap(cls)


def fields(obj: object) -> tuple[RecordField, ...]:
    """The fields of a record class or instance, in order."""
    found: tuple[RecordField, ...] | None = getattr(obj, "__record_fields__", None)
    if found is None:
        raise TypeError(f"{obj!r} is not a record")
    return found


def replace(obj: R, /, **changes: Any) -> R:
    """A copy of the record ``obj`` with ``changes`` (as ``dataclasses.replace``)."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    for name in changes:
        if name not in values:
            raise TypeError(f"{type(obj).__name__} has no field {name!r}")
    values.update(changes)
    return type(obj)(**values)


def _is_class_var(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
    return str(text).startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _build(cls: C, *, frozen: bool, eq: bool, with_repr: bool, kw_only: bool) -> C:
    inherited: tuple[RecordField, ...] = ()
    for base in reversed(cls.__mro__[1:]):
        inherited = getattr(base, "__record_fields__", inherited)
    by_name = {f.name: f for f in inherited}
    for name, annotation in inspect.get_annotations(cls).items():
        if _is_class_var(annotation):
            continue
        raw = cls.__dict__.get(name, _MISSING)
        spec = raw if isinstance(raw, RecordField) else RecordField(default=raw)
        spec.name = name
        spec.kw_only = spec.kw_only or kw_only
        by_name[name] = spec
        if isinstance(raw, RecordField):
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    all_fields = tuple(by_name.values())
    positional = tuple(f for f in all_fields if not f.kw_only)
    positional_names = tuple(f.name for f in positional)
    names = frozenset(by_name)
    owner = cls.__name__
    setter = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(positional):
            raise TypeError(
                f"{owner}() takes {len(positional)} positional arguments but {len(args)} were given"
            )
        given = dict(zip(positional_names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
            if name in given:
                raise TypeError(f"{owner}() got multiple values for argument {name!r}")
            given[name] = value
        for spec in all_fields:
            name = spec.name
            setter(self, name, given[name] if name in given else spec.value(owner))
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    namespace: dict[str, Any] = {"__init__": __init__, "__record_fields__": all_fields}
    namespace["__match_args__"] = positional_names
    if with_repr and "__repr__" not in cls.__dict__:
        shown = tuple(f.name for f in all_fields if f.repr)

        def __repr__(self: Any) -> str:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
            return f"{type(self).__qualname__}({inner})"

        namespace["__repr__"] = __repr__
    if eq and "__eq__" not in cls.__dict__:
        compared = tuple(f.name for f in all_fields if f.compare)

        def key(self: Any) -> tuple[Any, ...]:
            return tuple(getattr(self, name) for name in compared)

        def __eq__(self: Any, other: object) -> Any:
            if other.__class__ is not self.__class__:
                return NotImplemented
            return key(self) == key(other)

        namespace["__eq__"] = __eq__
        if frozen:

            def __hash__(self: Any) -> int:
                return hash(key(self))

            namespace["__hash__"] = __hash__
        elif "__hash__" not in cls.__dict__:
            namespace["__hash__"] = None
    if frozen:

        def __setattr__(self: Any, name: str, value: Any) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self: Any, name: str) -> None:
            raise FrozenInstanceError(f"cannot delete field {name!r}")

        namespace["__setattr__"] = __setattr__
        namespace["__delattr__"] = __delattr__
    for name, value in namespace.items():
        if callable(value) and hasattr(value, "__qualname__"):
            value.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, value)
    return cls
