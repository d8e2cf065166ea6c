"""An array whose entries are the key's with the axes in another order -- of the same shape (a 2x2x2 answer laid out
[filter, row, column]) or not (a 2x6 answer for a 6x2 key) -- is named by its layout, with the part's axis names
when it has them. A key symmetric under some reordering has no single explanation: no hint then. Through real
answer files and the real ``grader grade``, and as properties of the check."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.answers import ArrayAnswer, CheckContext

from .test_hints_support import CONV1D, WEEK7, answer_file, flow, grade, solve, write_sheet

CTX = CheckContext.from_seed(0)
SHEET_AXES = "[row, column, filter]"


def differ(answer: np.ndarray, key: np.ndarray) -> int:
    return int(np.count_nonzero(np.abs(answer - key) > 1e-6 + 1e-6 * np.abs(key)))


def test_a_same_shape_array_laid_out_filter_first(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = np.array(solve(sheet)["ex"]["vol"])
    answer = key.transpose(2, 0, 1)
    part = grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(answer.tolist())}))["ex.vol"]
    assert part["points_earned"] == 0
    assert part["feedback"] == (
        f"{differ(answer, key)} of 8 entries differ from the expected values; "
        f"your array is laid out [filter, row, column] but the sheet asks for {SHEET_AXES}"
    )


def test_the_walkthrough_pool_answer_laid_out_filter_first(tmp_path: Path) -> None:
    key = np.array(solve(WEEK7)["ex3"]["b_pool"], dtype=float)
    answer = key.transpose(2, 0, 1)
    part = grade(WEEK7, answer_file(tmp_path, "ex3", {"b_pool": flow(answer.tolist())}))["ex3.b_pool"]
    count = int(np.count_nonzero(np.abs(answer - key) > 1e-9))
    assert part["feedback"] == (
        f"{count} of 8 entries differ from the expected values; "
        f"your array is laid out [filter, row, column] but the sheet asks for {SHEET_AXES}"
    )


def test_a_transposed_array_of_another_shape_is_named_by_its_axes(tmp_path: Path) -> None:
    solved = solve(CONV1D)
    exercise = next(e for e, parts in solved.items() if "conv_out" in parts)
    key = np.array(solved[exercise]["conv_out"], dtype=float)
    assert key.shape == (6, 2)
    part = grade(CONV1D, answer_file(tmp_path, exercise, {"conv_out": flow(key.T.tolist())}))[f"{exercise}.conv_out"]
    assert part["status"] == "invalid"
    assert part["feedback"] == (
        "expected shape (6, 2), got (2, 6); your array is laid out [filter, position] but the sheet asks for [position, filter]"
    )


def test_a_key_symmetric_under_a_reordering_gets_no_layout_hint(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = np.array(solve(sheet)["ex"]["sym"])
    assert np.array_equal(key, key.transpose(1, 0, 2))  # laid out [filter, row, column] or [filter, column, row]?
    answer = key.transpose(2, 0, 1)
    part = grade(sheet, answer_file(tmp_path, "ex", {"sym": flow(answer.tolist())}))["ex.sym"]
    assert part["feedback"] == f"{differ(answer, key)} of 8 entries differ from the expected values"


def test_right_and_unrelated_arrays_get_no_layout_hint(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = np.array(solve(sheet)["ex"]["vol"])
    assert grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(key.tolist())}))["ex.vol"]["status"] == "correct"
    wrong = key.transpose(2, 0, 1).copy()
    wrong[0, 0, 0] += 1
    part = grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(wrong.tolist())}))["ex.vol"]
    assert part["feedback"] == f"{differ(wrong, key)} of 8 entries differ from the expected values"


def test_layouts_without_axis_names() -> None:
    key = np.arange(1.0, 9.0).reshape(2, 2, 2) ** 1.5
    answer = ArrayAnswer()
    swapped = answer.check(key.transpose(1, 0, 2).copy(), key, CTX)
    assert swapped.feedback.endswith("; your array is the correct one with rows and columns swapped (transposed)")
    other = answer.check(key.transpose(2, 0, 1).copy(), key, CTX)
    assert other.feedback.endswith(
        "; your array holds the correct values with the axes in another order: your axes 0, 1, 2 are the sheet's axes 2, 0, 1"
    )


def test_a_rank_4_filter_bank_laid_out_out_channels_first() -> None:
    key = np.random.default_rng(3).normal(size=(3, 3, 2, 4))
    answer = ArrayAnswer(axes=["x", "y", "channel", "filter"])
    same_shape = np.random.default_rng(4).normal(size=(2, 2, 2, 2))
    verdict = answer.check(same_shape.transpose(3, 2, 0, 1).copy(), same_shape, CTX)
    assert verdict.feedback.endswith("; your array is laid out [filter, channel, x, y] but the sheet asks for [x, y, channel, filter]")
    shaped = answer.check(key.transpose(3, 2, 0, 1).copy(), key, CTX)
    assert shaped.feedback == (
        "expected shape (3, 3, 2, 4), got (4, 2, 3, 3); your array is laid out [filter, channel, x, y] but the sheet "
        "asks for [x, y, channel, filter]"
    )


# ---------------------------------------------------------------------------------------------- properties

ORDERS = {rank: list(itertools.permutations(range(rank))) for rank in (2, 3, 4)}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), rank=st.integers(min_value=2, max_value=4))
def test_a_reordered_key_with_distinct_entries_is_named(data: st.DataObject, rank: int) -> None:
    shape = tuple(data.draw(st.lists(st.integers(2, 3), min_size=rank, max_size=rank)))
    key = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-1000, 1000).map(lambda n: n / 8), unique=True))
    order = data.draw(st.sampled_from(ORDERS[rank][1:]))
    names = [f"a{axis}" for axis in range(rank)]
    verdict = ArrayAnswer(axes=names).check(key.transpose(order).copy(), key, CTX)
    assert verdict.feedback.endswith(
        f"your array is laid out [{', '.join(names[axis] for axis in order)}] but the sheet asks for [{', '.join(names)}]"
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), rank=st.integers(min_value=2, max_value=4))
def test_a_layout_hint_is_never_wrong_for_symmetric_keys(data: st.DataObject, rank: int) -> None:
    """Keys symmetric under a reordering (x + x reordered): any order the hint names gives the answer, and it is
    the only one that does."""
    size = data.draw(st.integers(1, 3))
    base = data.draw(hnp.arrays(np.float64, (size,) * rank, elements=st.integers(-3, 3).map(float)))
    symmetry = data.draw(st.sampled_from(ORDERS[rank]))
    key = base + base.transpose(symmetry)
    order = data.draw(st.sampled_from(ORDERS[rank]))
    actual = key.transpose(order).copy()
    names = [f"a{axis}" for axis in range(rank)]
    feedback = ArrayAnswer(axes=names).check(actual, key, CTX).feedback
    if "laid out" not in feedback:
        return
    named = feedback.split("laid out [", 1)[1].split("]", 1)[0].split(", ")
    shown = tuple(names.index(name) for name in named)
    matching = [o for o in ORDERS[rank][1:] if np.allclose(key.transpose(o), actual, rtol=1e-6, atol=1e-6)]
    assert np.allclose(key.transpose(shown), actual, rtol=1e-6, atol=1e-6)
    assert not np.allclose(key, actual, rtol=1e-6, atol=1e-6)
    assert len(matching) == 1, matching


@pytest.mark.parametrize("shape", [(4, 4, 2), (2, 1, 3, 3)])
def test_shape_hints_from_sizes_alone_are_kept_when_values_decide_nothing(shape: tuple[int, ...]) -> None:
    """All-zero arrays fit several orders: the hint guessed from the sizes stays."""
    key = np.zeros(shape)
    actual = np.zeros(tuple(reversed(shape)))
    feedback = ArrayAnswer().check(actual, key, CTX).feedback
    assert feedback.startswith(f"expected shape {shape}, got {tuple(reversed(shape))}")
    assert "laid out" not in feedback
