"""array answers: reading nested lists (also hostile ones), the shape/finite/value rungs, partial credit."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.answers import AnswerError, ArrayAnswer, CheckContext
from grader.result import Status

CTX = CheckContext.from_seed(0)


def nested(depth: int) -> list:
    """A list nested ``depth`` levels deep, built without recursion."""
    value: list = [1.0]
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "shape"),
    [(5, ()), (2.5, ()), ([1, 2, 3], (3,)), ([[1, 2], [3, 4.5]], (2, 2)), ([[[0] * 2] * 4] * 4, (4, 4, 2)),
     ([], (0,)), ([[], []], (2, 0)), ((1, 2), (2,))],
)
def test_reads_nested_lists_of_any_rank(raw: object, shape: tuple[int, ...]) -> None:
    array = ArrayAnswer().parse(raw)
    assert array.shape == shape and array.dtype == np.float64
    assert np.array_equal(array, np.array(raw, dtype=np.float64).reshape(shape))


def test_reads_numpy_arrays_from_code() -> None:
    assert ArrayAnswer().parse(np.arange(6, dtype=np.int32).reshape(2, 3)).dtype == np.float64
    with pytest.raises(AnswerError, match="array of booleans"):
        ArrayAnswer().parse(np.zeros(3, dtype=bool))
    with pytest.raises(AnswerError, match="dtype <U1"):
        ArrayAnswer().parse(np.array(["a"]))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([[1, 2], [3]], "the list at index [1] has 1 item, the one at index [0] has 2"),
        ([[1, 2], [3, "4"]], "the entry at index [1, 1] is the text '4'; write numbers without quotes"),
        ([[1, True]], "the entry at index [0, 1] is true (a boolean); expected a number"),
        ([[1, None]], "the entry at index [0, 1] is empty (null)"),
        ([[1, 2], 3], "the entry at index [1] is a number, but the entry at index [0] is a list"),
        ([[1, 2], [3, [4]]], "the entry at index [1, 1] is a list of 1 item"),
        ([1, 10**400], "the entry at index [1] is a whole number too large"),
        ("[[1, 2]]", "expected a nested list of numbers, got the text '[[1, 2]]'"),
        (True, "expected a nested list of numbers, got true (a boolean)"),
        ({"a": 1}, "got a mapping"),
    ],
)
def test_rejects_bad_forms_naming_the_index(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        ArrayAnswer().parse(raw)
    assert message in str(caught.value)


def test_deep_nesting_is_rejected_without_recursion() -> None:
    with pytest.raises(AnswerError, match="nested more than 32 levels deep"):
        ArrayAnswer().parse(nested(10_000))
    with pytest.raises(AnswerError, match="nested more than 32 levels deep"):
        ArrayAnswer().parse(nested(33))
    assert ArrayAnswer().parse(nested(32)).shape == (1,) * 32


def test_huge_answers_are_rejected_before_allocating() -> None:
    shared_rows = [[0.0] * 10_000] * 10_000  # 10^8 entries in 80 kB of memory: the rows are shared
    tracemalloc.start()
    try:
        with pytest.raises(AnswerError, match="at least 100000000 entries .* at most 1000000 entries are read"):
            ArrayAnswer().parse(shared_rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # a float64 array of 10^8 entries would take 800 MB
    with pytest.raises(AnswerError, match="at most 10 entries"):
        ArrayAnswer(max_entries=10).parse([[0] * 4] * 3)
    assert ArrayAnswer(max_entries=12).parse([[0] * 4] * 3).shape == (3, 4)


def test_shape_mismatch_is_invalid_with_hints() -> None:
    answer = ArrayAnswer()
    expected = np.zeros((4, 4, 2))
    short = answer.check(np.zeros((4, 4)), expected, CTX)
    assert short.status is Status.invalid and short.feedback.startswith("expected shape (4, 4, 2), got (4, 4)")
    channels = answer.check(np.zeros((2, 4, 4)), expected, CTX)
    assert "channels first (C, H, W); this sheet uses (H, W, C)" in channels.feedback
    transposed = answer.check(np.zeros((3, 2)), np.zeros((2, 3)), CTX)
    assert "transposed" in transposed.feedback
    batch = answer.check(np.zeros((1, 4, 4, 2)), expected, CTX)
    assert "extra axes of size 1" in batch.feedback
    scalar = answer.check(np.float64(3.0).reshape(()), expected, CTX)
    assert "got a single number" in scalar.feedback
    named = ArrayAnswer(axes=["f", "f", "C", "K"]).check(np.zeros((2, 1, 3, 3)), np.zeros((3, 3, 1, 2)), CTX)
    assert "your axes look like (K, C, f, f); this answer uses (f, f, C, K)" in named.feedback


def test_axes_of_the_wrong_length_are_the_authors_fault() -> None:
    with pytest.raises(ValueError, match="name 2 axes"):
        ArrayAnswer(axes=["H", "W"]).check(np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), CTX)


def test_non_finite_entries_are_invalid_after_the_shape_rung() -> None:
    answer = ArrayAnswer()
    actual = answer.parse([[1.0, float("nan")], [float("inf"), 2.0]])
    verdict = answer.check(actual, np.ones((2, 2)), CTX)
    assert verdict.status is Status.invalid
    assert verdict.feedback == "2 entries are not a finite number (first at index [0, 1]: NaN)"
    assert answer.check(actual, np.ones(3), CTX).feedback.startswith("expected shape (3,)")


def test_value_differences_say_where_and_how_much() -> None:
    expected = np.arange(16, dtype=np.float64).reshape(4, 4)
    actual = expected.copy()
    actual[1, 0] += 2
    actual[2, 3] -= 0.5
    actual[3, 3] += 1
    verdict = ArrayAnswer().check(actual, expected, CTX)
    assert verdict.status is Status.incorrect and verdict.fraction == 0
    assert verdict.feedback == "3 of 16 entries differ from the expected values"
    assert verdict.details[0] == "largest difference 2 at [1, 0] (yours 6, expected 4)"
    assert "[2, 3] (yours 10.5, expected 11)" in verdict.details[1]


def test_partial_credit_is_the_share_of_entries_right() -> None:
    expected = np.zeros((4, 4, 2))
    actual = expected.copy()
    actual[0, 0, 0] = actual[3, 3, 1] = 1.0
    verdict = ArrayAnswer(partial=True).check(actual, expected, CTX)
    assert verdict.status is Status.partial and verdict.fraction == pytest.approx(30 / 32)
    assert ArrayAnswer(partial=True).check(expected + 1, expected, CTX).status is Status.incorrect


def test_tolerance_per_entry() -> None:
    answer = ArrayAnswer(abs_tol=0.1, rel_tol=0.0)
    assert answer.check(np.array([1.05, 2.0]), np.array([1.0, 2.0]), CTX).status is Status.correct
    assert answer.check(np.array([1.2, 2.0]), np.array([1.0, 2.0]), CTX).status is Status.incorrect


def test_transposed_values_get_a_hint() -> None:
    expected = np.arange(9.0).reshape(3, 3)
    verdict = ArrayAnswer().check(expected.T.copy(), expected, CTX)
    assert verdict.feedback.endswith("; your array is the correct one with rows and columns swapped (transposed)")
    assert not any("transposed" in line for line in verdict.details)  # said once, in the feedback


def test_json_forms() -> None:
    answer = ArrayAnswer()
    assert answer.to_json(np.array([[1.0, 2.0]])) == [[1, 2]]
    assert answer.to_json(np.array([0.5, 1.0])) == [0.5, 1.0]
    assert answer.to_json(np.array([np.nan, np.inf])) == ["nan", "inf"]
    assert answer.expected_json(np.zeros((2, 1))) == [[0], [0]]


arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None)
@given(arrays)
def test_any_array_matches_itself_through_its_json(expected: np.ndarray) -> None:
    answer = ArrayAnswer()
    actual = answer.parse(expected.tolist())
    assert answer.check(actual, expected, CTX).status is Status.correct


@settings(max_examples=60, deadline=None)
@given(arrays, st.data())
def test_one_perturbed_entry_is_reported_at_its_index(expected: np.ndarray, data: st.DataObject) -> None:
    answer = ArrayAnswer(partial=True)
    flat = data.draw(st.integers(0, expected.size - 1))
    index = tuple(int(i) for i in np.unravel_index(flat, expected.shape))
    actual = expected.copy()
    actual[index] += 3 * answer.tolerance_for(float(expected[index])) + 1e-3
    verdict = answer.check(answer.parse(actual.tolist()), expected, CTX)
    assert verdict.fraction == pytest.approx((expected.size - 1) / expected.size)
    assert f"at {list(index)}" in verdict.details[0]
