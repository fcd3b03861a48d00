"""``aws_wrapper.core.records``: the dataclass behaviour core and the plugin distributions rely on, without exec."""

from __future__ import annotations

import sys
from typing import ClassVar

import pytest

from aws_wrapper.core.records import FrozenInstanceError, field, fields, record, replace


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    label: str = field(default="", compare=False)
    tags: list[str] = field(default_factory=list, compare=False, repr=False)
    kind: ClassVar[str] = "point"


@record()
class Counter:
    name: str
    value: int = 0
    extra: dict[str, int] = field(default_factory=dict, kw_only=True)


@record(frozen=True, eq=False)
class Base:
    name: str
    flag: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "derived", self.name.upper())


@record(frozen=True)
class Child(Base):
    size: int = 1


def test_init_defaults_factories_and_errors() -> None:
    p = Point(1)
    assert (p.x, p.y, p.label, p.tags) == (1, 0, "", [])
    assert Point(1, 2, "a").label == "a"
    assert Point(x=3, y=4).y == 4
    assert Point(1).tags is not Point(1).tags  # a new list each time
    assert [f.name for f in fields(Point)] == ["x", "y", "label", "tags"]  # no ClassVar
    with pytest.raises(TypeError, match=r"Point\(\) missing required argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, z=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 4 positional arguments but 5 were given"):
        Point(1, 2, "a", [], 5)  # type: ignore[call-arg]


def test_frozen_eq_hash_and_repr() -> None:
    p = Point(1, 2, "a", ["t"])
    assert p == Point(1, 2, "b")  # label and tags are not compared
    assert hash(p) == hash(Point(1, 2, "other"))
    assert p != Point(2, 2)
    assert len({p, Point(1, 2), Point(3)}) == 2
    assert repr(p) == "Point(x=1, y=2, label='a')"
    with pytest.raises(FrozenInstanceError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.y
    assert Point.kind == "point"


def test_mutable_record_is_unhashable_and_kw_only_works() -> None:
    c = Counter("a")
    c.value += 1
    assert c == Counter("a", 1)
    assert getattr(Counter, "__hash__") is None  # noqa: B009 -- mypy would call the rest unreachable
    with pytest.raises(TypeError):
        hash(c)
    with pytest.raises(TypeError, match="takes 2 positional arguments"):
        Counter("a", 1, {})  # type: ignore[call-arg]
    assert Counter("a", extra={"k": 1}).extra == {"k": 1}


def test_inheritance_post_init_and_identity_equality() -> None:
    child = Child("n", 3, flag=False)
    assert [f.name for f in fields(child)] == ["name", "flag", "size"]
    assert (child.name, child.size, child.flag) == ("n", 3, False)
    assert child.derived == "N"  # type: ignore[attr-defined]  # set by __post_init__
    assert Base("n") != Base("n")  # eq=False: identity
    assert child == Child("n", 3, flag=False)


def test_replace_copies_with_changes() -> None:
    p = Point(1, 2, "a")
    q = replace(p, y=5)
    assert (q.x, q.y, q.label) == (1, 5, "a")
    assert p.y == 2
    with pytest.raises(TypeError, match="has no field 'nope'"):
        replace(p, nope=1)


def test_defining_a_record_compiles_nothing() -> None:
    compiled: list[str] = []

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "compile":
            compiled.append(str(args[1]))

    sys.addaudithook(hook)
    compiled.clear()

    @record(frozen=True)
    class Later:
        a: int
        b: str = "x"

    assert Later(1) == Later(1, "x")
    assert compiled == []
