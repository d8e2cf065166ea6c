"""array_shape and summarize_array read an answer's nested lists level by level (a report asks for its shape several
times, and the recursive walk took seconds for a 3.6 MB answer); the reference here is that recursive walk."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.report.common import array_shape, as_number, rectangular, summarize_array

_leaves = st.sampled_from([1, 2.5, -0.0, "nan", "inf", True, "x", None, [], {"a": 1}])
_nested = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=3) | inner.flatmap(lambda x: st.integers(1, 3).map(lambda n: [x] * n)), max_leaves=30)


def walked_shape(value: Any) -> tuple[int, ...] | None:
    if as_number(value) is not None:
        return ()
    if not isinstance(value, list) or not value:
        return None
    shapes = {walked_shape(item) for item in value}
    if len(shapes) != 1:
        return None
    (inner,) = shapes
    return None if inner is None else (len(value), *inner)


def walked_leaves(value: Any) -> list[float]:
    return [x for item in value for x in walked_leaves(item)] if isinstance(value, list) else [float(as_number(value))]  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(_nested)
def test_the_shape_is_the_recursive_walks(value: Any) -> None:
    assert array_shape(value) == walked_shape(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([1, -2.5, 3, "nan", "-inf"]), min_size=2, max_size=2), min_size=1, max_size=4))
def test_the_summary_uses_the_leaves_in_row_major_order(value: list[list[Any]]) -> None:
    numbers = walked_leaves(value)
    finite = [x for x in numbers if x == x and abs(x) != float("inf")]
    found = rectangular(value)
    assert found is not None and found[0] == (len(value), 2)
    text = summarize_array(*found)
    assert text.startswith(f"array ({len(value)}, 2)")
    assert (f"{len(numbers) - len(finite)} non-finite" in text) == (len(finite) != len(numbers))


def test_a_list_nested_deeper_than_numpy_allows_still_has_its_shape() -> None:
    deep: Any = [1.0]
    for _ in range(70):
        deep = [deep]
    assert array_shape(deep) == (1,) * 71
