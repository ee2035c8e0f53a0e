"""Record, the core's value class: a dataclass's constructor rules, without dataclasses."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import pytest

from cognito_raw._core.record import Record


def _upper(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value.upper()


class Point(Record):
    x: int
    y: int = 0


class Pair(Record, kw_only=False):
    left: str
    right: str = "-"


class Shouting(Record):
    first: str
    second: str
    flag: bool = False

    _rules: ClassVar[dict[str, Any]] = {"first": _upper, "second": _upper}


class Checked(Record):
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low > high")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Point(x=1), (1, 0)),
        (lambda: Point(x=1, y=2), (1, 2)),
        (lambda: Pair("a"), ("a", "-")),
        (lambda: Pair("a", "b"), ("a", "b")),
        (lambda: Pair("a", right="b"), ("a", "b")),
        (lambda: Pair(left="a", right="b"), ("a", "b")),
        (lambda: Shouting(first="a", second="b"), ("A", "B", False)),
        (lambda: Checked(low=1, high=2), (1, 2)),
    ],
)
def test_a_good_call_builds_the_value(make: Any, expected: tuple[object, ...]) -> None:
    assert make()._values() == expected


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Point(1), "positional"),  # keyword-only
        (Point, "missing"),
        (lambda: Point(x=1, z=2), "unexpected keyword argument 'z'"),
        (lambda: Pair("a", left="b"), "multiple values"),
        (lambda: Pair("a", "b", "c"), "positional"),
        (Pair, "missing"),
    ],
)
def test_a_wrong_call_raises_the_interpreters_type_error(make: Any, words: str) -> None:
    with pytest.raises(TypeError, match=words):
        make()


def test_rules_run_in_field_order_and_the_first_bad_field_raises() -> None:
    with pytest.raises(ValueError, match="not a string"):
        Shouting(first=1, second="b")
    calls: list[str] = []

    def note(name: str) -> Any:
        def rule(value: object) -> object:
            calls.append(name)
            return value

        return rule

    class Ordered(Record):
        b: int
        a: int
        _rules: ClassVar[dict[str, Any]] = {"a": note("a"), "b": note("b")}

    Ordered(a=1, b=2)
    assert calls == ["b", "a"]


def test_post_init_refuses_and_raw_skips_rules_and_post_init() -> None:
    with pytest.raises(ValueError, match="low > high"):
        Checked(low=3, high=2)
    raw = Checked._make({"low": 3, "high": 2}, check=False)
    assert (raw.low, raw.high) == (3, 2)
    assert Shouting._make({"first": "a", "second": "b"}, check=False).first == "a"
    with pytest.raises(TypeError, match=r"^Checked\(\) got an unexpected keyword argument 'z'"):
        Checked._make({"low": 1, "high": 2, "z": 3}, check=False)


def test_values_are_frozen_compare_hash_pickle_and_show_their_fields() -> None:
    point = Point(x=1, y=2)
    with pytest.raises(AttributeError, match="immutable"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del point.y  # type: ignore[misc]
    assert point == Point(x=1, y=2) != Point(x=1, y=3)
    assert hash(point) == hash(Point(x=1, y=2))
    assert point != Pair("1", "2")
    assert pickle.loads(pickle.dumps(point)) == point
    assert repr(point) == "Point(x=1, y=2)"
    # Unpickling skips the rules: a normalised value is not normalised twice.
    shout = Shouting(first="a", second="b")
    assert pickle.loads(pickle.dumps(shout)) == shout


def test_a_positional_field_without_a_default_may_not_follow_one_with() -> None:
    with pytest.raises(TypeError, match="without a default follows one with"):

        class Bad(Record, kw_only=False):
            a: int = 0
            b: int


def test_the_base_class_itself_cannot_be_built() -> None:
    with pytest.raises(TypeError, match="base class"):
        Record()


class Empty(Record):
    """A value with no fields (a marker)."""


def test_a_record_without_fields_builds_and_compares() -> None:
    assert Empty() == Empty()
    assert repr(Empty()) == "Empty()"
    assert pickle.loads(pickle.dumps(Empty())) == Empty()
    with pytest.raises(TypeError):
        Empty(1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("namespace", "words"),
    [
        # What reaches the written constructor's source must be a field name.
        ({"__annotations__": {"x, y: print('no')": "int"}}, "cannot be a field"),
        ({"__annotations__": {"_set": "int"}}, "cannot be a field"),
        ({"__annotations__": {"_rule_x": "int", "x": "int"}}, "cannot be a field"),
        ({"__annotations__": {"class": "int"}}, "cannot be a field"),
        # A rule for no field would check nothing.
        ({"__annotations__": {"count": "int"}, "_rules": {"cuont": abs}}, "names no field"),
        # The constructor is Record's: checks go in __post_init__.
        ({"__annotations__": {"x": "int"}, "__init__": lambda self, x=5: None}, "own __init__"),
    ],
)
def test_a_class_the_written_constructor_cannot_serve_is_refused(
    namespace: dict[str, Any], words: str
) -> None:
    with pytest.raises(TypeError, match=words):
        type("Odd", (Record,), dict(namespace))


def test_the_written_functions_belong_to_the_class_module() -> None:
    assert Point.__init__.__module__ == __name__
    assert Point.__init__.__qualname__ == "Point.__init__"
