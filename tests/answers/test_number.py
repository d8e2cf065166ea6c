"""number and integer answers: every documented raw form, rejections with their messages, tolerances."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.answers import AnswerError, CheckContext, IntegerAnswer, NumberAnswer
from grader.result import Status

CTX = CheckContext.from_seed(0)


@pytest.mark.parametrize(
    ("raw", "value"),
    [(3, 3.0), (-2.5, -2.5), ("0.25", 0.25), (" 1e-3 ", 1e-3), ("1/3", 1 / 3), ("2*pi", 2 * math.pi),
     ("cos(0.5)", math.cos(0.5)), ("-(2 + 3)**2", -25.0), ("e", math.e)],
)
def test_number_reads_every_documented_form(raw: object, value: float) -> None:
    assert NumberAnswer().parse(raw) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (True, "expected a number, got true (a boolean)"),
        ("seven", "unknown name 'seven'"),
        ("__import__('os')", "unknown function '__import__'"),
        ("().__class__", "not allowed"),
        ("x + 1", "unknown name 'x'"),
        ([1, 2], "expected a number, got a list of 2 items"),
        ({"a": 1}, "expected a number, got a mapping"),
        (10**400, "too large for a floating-point number"),
        ("1" * 20_000, "at most 10000 are read"),
        (None, "no answer given"),
        ("0,5431", "write decimals with a point: 0.5431, not 0,5431"),
        ("1,000", "write 1000 without a thousands separator, or 1.000 with a decimal point"),
    ],
)
def test_number_rejects_bad_forms_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(AnswerError, match=None) as caught:
        NumberAnswer().parse(raw)
    assert message in str(caught.value)


def test_number_division_by_zero_in_text_is_unreadable_not_a_crash() -> None:
    with pytest.raises(AnswerError, match="division by zero"):
        NumberAnswer().parse("1/0")


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), "nan", "-inf", "1e400"])
def test_number_non_finite_is_invalid_at_check(raw: object) -> None:
    answer = NumberAnswer()
    verdict = answer.check(answer.parse(raw), 1.0, CTX)
    assert verdict.status is Status.invalid and verdict.fraction == 0
    assert "give a finite number" in verdict.feedback


def test_number_tolerance_is_abs_plus_rel_times_expected() -> None:
    answer = NumberAnswer(abs_tol=0.01, rel_tol=0.1)
    assert answer.check(109.0, 100.0, CTX).status is Status.correct  # 9 <= 0.01 + 10
    wrong = answer.check(111.0, 100.0, CTX)
    assert wrong.status is Status.incorrect and wrong.fraction == 0
    assert "111" in wrong.feedback and "100" not in wrong.feedback  # feedback never states the key
    assert "expected 100" in wrong.details[0] and "difference 11" in wrong.details[0]


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_number_equals_itself_and_misses_by_more_than_tolerance(value: float) -> None:
    answer = NumberAnswer()
    assert answer.check(value, value, CTX).status is Status.correct
    off = value + 2 * answer.tolerance_for(value) + 1e-300
    assert answer.check(off, value, CTX).status is Status.incorrect


def test_number_json() -> None:
    answer = NumberAnswer()
    assert answer.to_json(4.0) == 4 and isinstance(answer.to_json(4.0), int)
    assert answer.to_json(0.5) == 0.5
    assert answer.to_json(float("nan")) == "nan"
    assert answer.expected_json(2.0) == 2


@pytest.mark.parametrize(("raw", "value"), [(4, 4), (4.0, 4), ("4", 4), (" -3 ", -3), ("(4 + 2*1 - 3)/1 + 1", 4)])
def test_integer_reads_whole_numbers(raw: object, value: int) -> None:
    parsed = IntegerAnswer().parse(raw)
    assert parsed == value and isinstance(parsed, int)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (4.5, "expected a whole number, got 4.5"),
        ("9/2", "expected a whole number, got 4.5"),
        (False, "expected a whole number, got false (a boolean)"),
        (float("nan"), "expected a whole number, got NaN"),
        (float("inf"), "expected a whole number, got inf"),  # YAML .inf, not "too large"
        ("1e400", "too large"),
        (10**400, "too large"),
        ("9" * 5000, "too large"),
        ("four", "unknown name 'four'"),
    ],
)
def test_integer_rejects(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        IntegerAnswer().parse(raw)
    assert message in str(caught.value)


def test_integer_check_is_exact() -> None:
    answer = IntegerAnswer()
    assert answer.check(4, 4, CTX).status is Status.correct
    wrong = answer.check(5, 4, CTX)
    assert wrong.status is Status.incorrect and wrong.details == ["yours 5, expected 4 (off by +1)"]
    assert "4" not in wrong.feedback.replace("5", "")


def test_huge_integer_text_is_rejected() -> None:
    with pytest.raises(AnswerError, match="too large"):
        IntegerAnswer().parse("1" * 9_999)


def test_a_wrong_number_never_reads_like_the_key() -> None:
    """0.5431 against 0.54305859... differs at the 5th digit: the message shows enough digits to see it."""
    wrong = NumberAnswer().check(0.5431, 0.5430585900614894, CTX)
    assert "yours 0.5431, expected 0.543059" in wrong.details[0]
    close = NumberAnswer(abs_tol=0, rel_tol=1e-12).check(0.54305859, 0.5430585900614894, CTX)
    yours, expected = close.details[0].split(":")[0].removeprefix("yours ").split(", expected ")
    assert yours != expected and float(yours) == 0.54305859


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_format_pair_tells_different_numbers_apart(actual: float, expected: float) -> None:
    from grader.answers.base import format_pair

    yours, key = format_pair(actual, expected)
    assert (yours == key) == (actual == expected)


@pytest.mark.parametrize(
    ("abs_tol", "rel_tol", "hint"),
    [(1e-6, 1e-6, "give 7 significant digits or more"), (0.0, 1e-4, "give 5 significant digits"),
     (0.0, 0.0, "exact"), (0.01, 0.0, "within 0.01")],
)
def test_the_answer_format_states_the_precision_needed(abs_tol: float, rel_tol: float, hint: str) -> None:
    assert hint in NumberAnswer(abs_tol=abs_tol, rel_tol=rel_tol).format_hint
