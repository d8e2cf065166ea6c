"""``fraction``/``matches``: the credit ``check`` gives, without its feedback, for known mistakes and other variants.

Matching a known mistake, or judging a file against another variant's key, needs only the fraction ``check``
would give; number, array and code answers compute it without the hints and details a student reads. These tests
hold the shortcut to ``check`` itself, on random answers and keys, and ``judged_fraction`` to ``judge`` on every
part of the shipped week-7 sheet.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.answers import ArrayAnswer, CheckContext, NumberAnswer
from grader.answers.code import CodeAnswer
from grader.grading import check_context, judge, judged_fraction
from grader.key import answer_key
from grader.spec import load_sheet

CTX = CheckContext.from_seed(0)
REPO = Path(__file__).resolve().parents[2]
CASES = [{"name": "given", "inputs": {"x": 1.0}}]

tolerances = st.sampled_from([(0.0, 0.0), (1e-6, 1e-6), (1e-3, 0.0), (0.0, 1e-2), (0.5, 0.1), (5e-324, 0.0), (1e-310, 0.0)])
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
any_float = st.one_of(finite, st.floats(), st.sampled_from([1.7e308, -1.7e308, math.inf, math.nan]))


def nearby(expected: float, tolerance: tuple[float, float]) -> st.SearchStrategy[float]:
    """Answers at, inside, on and just beyond the tolerance around ``expected``, or anything."""
    allowed = tolerance[0] + tolerance[1] * abs(expected)
    return st.one_of(
        st.just(expected),
        st.sampled_from([-1.0, -0.5, 0.5, 0.999999, 1.0, 1.000001, 2.0]).map(lambda k: expected + k * allowed),
        st.just(-expected),
        any_float,
    )


@settings(max_examples=400)
@given(tolerance=tolerances, data=st.data())
def test_number_fraction_is_checks(tolerance: tuple[float, float], data: st.DataObject) -> None:
    answer = NumberAnswer(abs_tol=tolerance[0], rel_tol=tolerance[1])
    expected = data.draw(finite)
    actual = data.draw(nearby(expected, tolerance))
    assert answer.fraction(actual, expected, CTX) == answer.check(actual, expected, CTX).fraction
    assert answer.matches(actual, expected, CTX) == (answer.check(actual, expected, CTX).fraction >= 1.0)


@pytest.mark.parametrize("key", [math.nan, math.inf, -math.inf])
def test_number_fraction_refuses_a_broken_key_as_check_does(key: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        NumberAnswer().check(1.0, key, CTX)
    with pytest.raises(ValueError, match="not a finite number"):
        NumberAnswer().fraction(1.0, key, CTX)


@st.composite
def array_cases(draw: st.DrawFn) -> tuple[ArrayAnswer, np.ndarray, np.ndarray]:
    """An array answer type, a finite key, and an answer: the key with some entries moved (in, on and beyond the
    tolerance, to NaN or inf), or of another shape."""
    tolerance = draw(tolerances)
    answer = ArrayAnswer(abs_tol=tolerance[0], rel_tol=tolerance[1], partial=draw(st.booleans()))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    expected = np.array(draw(st.lists(finite, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))), dtype=np.float64).reshape(shape)
    actual = expected.copy()
    for index in np.ndindex(shape):
        if draw(st.booleans()):
            actual[index] = draw(nearby(float(expected[index]), tolerance))
    if draw(st.integers(0, 9)) == 0:
        actual = actual.reshape(-1) if actual.ndim > 1 else actual.reshape(*actual.shape, 1)
    return answer, actual, expected


@settings(max_examples=400)
@given(case=array_cases())
def test_array_fraction_is_checks(case: tuple[ArrayAnswer, np.ndarray, np.ndarray]) -> None:
    answer, actual, expected = case
    assert answer.fraction(actual, expected, CTX) == answer.check(actual, expected, CTX).fraction
    code = CodeAnswer(function="f", cases=CASES, abs_tol=answer.abs_tol, rel_tol=answer.rel_tol)
    assert code.fraction(actual, expected, CTX) == code.check(actual, expected, CTX).fraction


def test_array_fraction_counts_the_entries_right_with_partial_credit() -> None:
    expected = np.arange(4.0)
    actual = np.array([0.0, 1.0, 5.0, 3.0])
    assert ArrayAnswer(partial=True).fraction(actual, expected, CTX) == 0.75
    assert ArrayAnswer().fraction(actual, expected, CTX) == 0.0
    assert ArrayAnswer().matches(expected + 1e-9, expected, CTX)


def test_array_fraction_refuses_a_broken_key_as_check_does() -> None:
    for answer, key in [(ArrayAnswer(), np.array([1.0, np.nan])), (ArrayAnswer(axes=["H", "W"]), np.zeros(3))]:
        for method in (answer.check, answer.fraction):
            with pytest.raises(ValueError, match="array answer"):
                method(np.zeros(key.shape), key, CTX)


def test_code_fraction_of_mappings_and_dicts_is_checks() -> None:
    mapping = CodeAnswer(function="f", cases=CASES, output="mapping")
    expected = {"dx": np.ones(2), "dw": np.zeros(2)}
    for actual in [{"dx": np.ones(2), "dw": np.zeros(2)}, {"dx": np.ones(2), "dw": np.ones(2)}, {"dx": np.ones(2)}, np.ones(2)]:
        assert mapping.fraction(actual, expected, CTX) == mapping.check(actual, expected, CTX).fraction
    array = CodeAnswer(function="f", cases=CASES)
    assert array.fraction({"dx": 1.0}, np.ones(2), CTX) == array.check({"dx": 1.0}, np.ones(2), CTX).fraction == 0.0


def _week7_answers(value: object) -> list[object]:
    """Answers a student could write for a part whose key (or known mistake) reads ``value`` as JSON: the value,
    rounded to 2 and 4 decimals, negated, and nonsense."""
    def mapped(x: object, f) -> object:
        if isinstance(x, list):
            return [mapped(v, f) for v in x]
        return f(x) if isinstance(x, float) and not isinstance(x, bool) else x

    return [value, mapped(value, lambda x: round(x, 2)), mapped(value, lambda x: round(x, 4)),
            mapped(value, lambda x: -x), mapped(value, lambda x: x + 1.0), "nonsense", None]


@pytest.mark.parametrize("seed", [None, 3])
def test_judged_fraction_is_judges_on_every_week7_part(seed: int | None) -> None:
    """For every answer-file part of week 7, every answer written from its key and its known mistakes (exact,
    rounded, negated, shifted, unreadable, missing) gets from ``judged_fraction`` the fraction ``judge`` gives,
    against this variant's key and the printed one."""
    sheet = load_sheet(REPO / "exercises" / "week7.yaml")
    keys = [answer_key(sheet, seed), answer_key(sheet, None)]
    compared = mistaken = 0
    for exercise, part in sheet.parts():
        if part.answer.type == "code":
            continue
        ctx = check_context(sheet, exercise.id, part.id)
        own = keys[0].part(exercise.id, part.id)
        values = [own.expected, *own.mistakes.values()]
        for value in values:
            for raw in _week7_answers(part.answer.expected_json(value)):
                for key in keys:
                    part_key = key.part(exercise.id, part.id)
                    verdict = judge(part.answer, part, raw, part_key, ctx)[1]
                    assert judged_fraction(part.answer, part, raw, part_key, ctx) == verdict.fraction, (exercise.id, part.id, raw)
                    compared += 1
                    mistaken += verdict.mistake is not None
    assert compared > 500 and mistaken > 20  # the known mistakes, rounded ones included, were met


@pytest.mark.parametrize("credit", [0, 0.25, 0.75])
def test_judged_fraction_is_judges_for_a_rounded_slip_with_partial_credit(tmp_path: Path, credit: float) -> None:
    """An array with partial credit that is a known mistake rounded too early earns the lesser of its own share and
    the slip's credit, by ``judged_fraction`` as by ``judge``."""
    from tests.answers.test_hints_sign_rounding import ROUNDED_SLIP_SHEET

    path = tmp_path / "sheet.yaml"
    path.write_text(ROUNDED_SLIP_SHEET.format(partial=", partial: true", credit=credit), encoding="utf-8")
    sheet = load_sheet(path)
    [(exercise, part)] = list(sheet.parts())
    part_key = answer_key(sheet, None).part(exercise.id, part.id)
    ctx = check_context(sheet, exercise.id, part.id)
    for raw in ([0.5, -1.235, 2.25, -0.707], [0.5, -1.23, 2.25, -0.71], [0.5, -1.23456, 2.25, -0.7071067], [0.5, 0, 2.25, 0], [1, 2, 3, 4]):
        verdict = judge(part.answer, part, raw, part_key, ctx)[1]
        assert judged_fraction(part.answer, part, raw, part_key, ctx) == verdict.fraction, raw


@pytest.mark.parametrize("tolerance", [5e-324, 1e-310])
def test_a_tolerance_too_small_for_any_decimal_places_still_checks(tolerance: float) -> None:
    """A rounded answer under an absolute tolerance so small that no number of places meets it (0.5 / tolerance
    overflows) is told it is rounded, without the places needed, and scores what ``fraction`` says."""
    number = NumberAnswer(abs_tol=tolerance, rel_tol=0.0)
    verdict = number.check(number.parse("0.44"), 0.4429, CTX)
    assert verdict.fraction == number.fraction(0.44, 0.4429, CTX) == 0.0
    assert "rounded to 2 decimal places" in verdict.feedback and "give at least" not in verdict.feedback, verdict.feedback
    array = ArrayAnswer(abs_tol=tolerance, rel_tol=0.0)
    verdict = array.check(array.parse([0.44, 0.25]), np.array([0.4429, 0.25]), CTX)
    assert verdict.fraction == array.fraction(np.array([0.44, 0.25]), np.array([0.4429, 0.25]), CTX) == 0.0
