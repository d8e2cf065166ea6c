"""Generic hints for a wrong number or array when no known mistake matched: the opposite sign, or the right value
rounded to the decimal places the student wrote (read from the answer file's text: ``0.120`` has three). Points
are unchanged; a known mistake the sheet names keeps its own feedback. Through real answer files and the real
``grader grade``, and as properties of the checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.answers import ArrayAnswer, CheckContext, NumberAnswer
from grader.answers.base import format_pair
from grader.result import Status
from grader.spec import load_sheet

from .test_hints_support import WEEK7, answer_file, flow, grade, solve, write_sheet

CTX = CheckContext.from_seed(0)
NOT_WITHIN = "your value {} is not within the tolerance of the expected value"
SIGN = "it has the opposite sign of the correct value (the size is right)"


def rounded_hint(places: str, needed: int) -> str:
    return f"it matches the correct value rounded to {places}, but this part needs more digits: give at least {needed} decimal places"


# ---------------------------------------------------------------------------------------------- numbers, CLI


def test_a_number_with_the_opposite_sign(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = solve(sheet)["ex"]["num"]
    part = grade(sheet, answer_file(tmp_path, "ex", {"num": repr(-key)}))["ex.num"]
    assert part["points_earned"] == 0 and part["status"] == "incorrect"
    assert part["feedback"] == f"{NOT_WITHIN.format(format_pair(-key, key)[0])}; {SIGN}"


def test_a_number_rounded_too_early(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = solve(sheet)["ex"]["num"]
    two, four = f"{key:.2f}", f"{key:.4f}"  # 0.12, 0.1178
    parts = grade(sheet, answer_file(tmp_path, "ex", {"num": two}))
    assert parts["ex.num"]["points_earned"] == 0
    assert parts["ex.num"]["feedback"] == f"{NOT_WITHIN.format(two)}; {rounded_hint('2 decimal places', 6)}"
    quoted = grade(sheet, answer_file(tmp_path, "ex", {"num": f"'{four}'"}))["ex.num"]
    assert quoted["feedback"] == f"{NOT_WITHIN.format(four)}; {rounded_hint('4 decimal places', 6)}"
    path = tmp_path / "answers.json"
    path.write_text(f'{{"student": "s1", "answers": {{"ex": {{"num": {four}}}}}}}', encoding="utf-8")
    assert grade(sheet, path)["ex.num"]["feedback"] == quoted["feedback"]


def test_the_decimal_places_come_from_the_text_written(tmp_path: Path) -> None:
    """``0.120`` claims three places, and the key rounded to three is not 0.120: no rounding hint (its float's
    shortest form, 0.12, would have matched the key rounded to two)."""
    sheet = write_sheet(tmp_path)
    key = solve(sheet)["ex"]["num"]
    written = f"{key:.2f}0"
    assert abs(float(written) - key) > 0.0005
    part = grade(sheet, answer_file(tmp_path, "ex", {"num": written}))["ex.num"]
    assert part["feedback"] == NOT_WITHIN.format(format_pair(float(written), key)[0])


def test_right_and_unrelated_numbers_get_no_hint(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = solve(sheet)["ex"]["num"]
    right = grade(sheet, answer_file(tmp_path, "ex", {"num": repr(key), "zero": "0"}))
    assert right["ex.num"]["status"] == "correct" and right["ex.num"]["feedback"] == ""
    assert right["ex.zero"]["status"] == "correct"
    wrong = grade(sheet, answer_file(tmp_path, "ex", {"num": repr(3.7 * key), "zero": "-0.5"}))
    assert wrong["ex.num"]["feedback"] == NOT_WITHIN.format(format_pair(3.7 * key, key)[0])
    assert wrong["ex.zero"]["feedback"] == NOT_WITHIN.format("-0.5")


def test_a_known_mistake_keeps_its_own_feedback(tmp_path: Path) -> None:
    """week7 ex1.a names the sign error: its feedback, not the generic hint."""
    key = solve(WEEK7)["ex1"]["a"]
    part_spec = next(p for e, p in load_sheet(WEEK7).parts() if (e.id, p.id) == ("ex1", "a"))
    named = next(m for m in part_spec.mistakes if m.id == "sign-error")
    part = grade(WEEK7, answer_file(tmp_path, "ex1", {"a": repr(-key)}))["ex1.a"]
    assert part["mistake"] == "sign-error" and part["feedback"] == named.feedback


def test_the_walkthrough_numbers(tmp_path: Path) -> None:
    """week7 ex4: t_x1 written 0.5753 (rounded) and t_f6 written with the other sign, as a student handed in."""
    key = solve(WEEK7)["ex4"]
    needed = math.ceil(math.log10(0.5 / (1e-6 + 1e-6 * abs(key["t_x1"]))))
    parts = grade(WEEK7, answer_file(tmp_path, "ex4", {"t_x1": f"{key['t_x1']:.4f}", "t_f6": repr(-key["t_f6"])}))
    assert parts["ex4.t_x1"]["feedback"].endswith(f"; {rounded_hint('4 decimal places', needed)}")
    assert parts["ex4.t_f6"]["feedback"].endswith(f"; {SIGN}")


# ---------------------------------------------------------------------------------------------- arrays, CLI


def test_arrays_with_the_opposite_sign(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = np.array(solve(sheet)["ex"]["vol"])
    parts = grade(sheet, answer_file(tmp_path, "ex", {"vol": flow((-key).tolist())}))
    assert parts["ex.vol"]["feedback"] == "8 of 8 entries differ from the expected values; your array is the correct one with every sign flipped"
    some = key.copy()
    some[0, 1, 0] *= -1
    some[1, 1, 1] *= -1
    parts = grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(some.tolist())}))
    assert parts["ex.vol"]["feedback"] == (
        "2 of 8 entries differ from the expected values; each of them has the opposite sign of the correct value (the size is right)"
    )


def test_arrays_rounded_too_early(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = np.array(solve(sheet)["ex"]["vol"])
    rounded = "[" + ", ".join("[" + ", ".join("[" + ", ".join(f"{v:.3f}" for v in row) + "]" for row in plane) + "]" for plane in key) + "]"
    differ = int(np.count_nonzero(np.abs(np.round(key, 3) - key) > 1e-6 + 1e-6 * np.abs(key)))
    parts = grade(sheet, answer_file(tmp_path, "ex", {"vol": rounded}))
    assert parts["ex.vol"]["points_earned"] == 0
    assert parts["ex.vol"]["feedback"] == (
        f"{differ} of 8 entries differ from the expected values; each of them matches the correct value rounded to "
        "3 decimal places, but this part needs more digits: give at least 6 decimal places"
    )
    mixed = key.tolist()
    mixed[0][0][0], mixed[1][1][1] = round(mixed[0][0][0], 2), round(mixed[1][1][1], 4)
    parts = grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(mixed)}))
    assert parts["ex.vol"]["feedback"] == (
        "2 of 8 entries differ from the expected values; each of them matches the correct value rounded to the "
        "decimal places you wrote, but this part needs more digits: give at least 6 decimal places"
    )


def test_right_and_unrelated_arrays_get_no_hint(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path)
    key = np.array(solve(sheet)["ex"]["vol"])
    assert grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(key.tolist())}))["ex.vol"]["status"] == "correct"
    wrong = key.copy()
    wrong[0, 0, 1] += 0.25
    wrong[1, 0, 0] = -2 * wrong[1, 0, 0]
    feedback = grade(sheet, answer_file(tmp_path, "ex", {"vol": flow(wrong.tolist())}))["ex.vol"]["feedback"]
    assert feedback == "2 of 8 entries differ from the expected values"


def test_a_bare_zero_is_no_rounding_of_its_own(tmp_path: Path) -> None:
    """``0`` alone may mean "zero": no hint. Among entries rounded to 3 places it counts when the key's entry rounds
    to 0.000 too; ``0.0`` (written with a place) is a rounding."""
    path = tmp_path / "answers.json"
    answer = ArrayAnswer()
    key = np.array([0.11775, 0.0003, -0.3185])
    with_zero = answer.check(answer.parse([0.118, 0, -0.319]), key, CTX)
    assert with_zero.feedback == (
        "3 of 3 entries differ from the expected values; each of them matches the correct value rounded to 3 decimal "
        "places, but this part needs more digits: give at least 6 decimal places"
    )
    assert answer.check(answer.parse([0.118, 0, -0.319]), key * [1, 10, 1], CTX).feedback == "3 of 3 entries differ from the expected values"
    assert answer.check(answer.parse([0, 0]), np.array([0.3, 0.1]), CTX).feedback == "2 of 2 entries differ from the expected values"
    number = NumberAnswer()
    assert number.check(number.parse(0), 0.3, CTX).feedback == NOT_WITHIN.format("0")
    path.write_text('{"student": "s1", "answers": {"ex": {"num": 0.0}}}', encoding="utf-8")
    sheet = write_sheet(tmp_path)
    key_num = solve(sheet)["ex"]["num"]
    assert abs(key_num) > 0.05  # 0.0 is no rounding of it to 1 place
    assert grade(sheet, path)["ex.num"]["feedback"] == NOT_WITHIN.format("0")



def test_an_entry_with_one_significant_digit_counts_among_rounded_ones() -> None:
    """-0.02 for -0.0243 alone is no rounding (one digit: as likely a slip); next to entries rounded to 2 places
    with two digits or more it is one of them (it suppressed the hint for the whole array)."""
    answer = ArrayAnswer()
    key = np.array([0.9312, -0.3287, 0.1149, -0.0243])
    rounded = answer.check(answer.parse([0.93, -0.33, 0.11, -0.02]), key, CTX)
    assert rounded.feedback == (
        "4 of 4 entries differ from the expected values; each of them matches the correct value rounded to 2 decimal "
        "places, but this part needs more digits: give at least 6 decimal places"
    )
    alone = answer.check(answer.parse([0.9312, -0.3287, 0.1149, -0.02]), key, CTX)
    assert alone.feedback == "1 of 4 entries differ from the expected values"
    other_places = answer.check(answer.parse([0.93, -0.33, 0.11, -0.024]), key, CTX)
    assert "each of them matches the correct value rounded to the decimal places you wrote" in other_places.feedback

# ---------------------------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(
    magnitude=st.floats(min_value=1e-3, max_value=1e3),
    negative=st.booleans(),
    places=st.integers(min_value=0, max_value=9),
)
def test_a_rounded_number_gets_the_hint_exactly_when_it_fails(magnitude: float, negative: bool, places: int) -> None:
    expected = -magnitude if negative else magnitude
    answer = NumberAnswer()
    text = f"{expected:.{places}f}"
    verdict = answer.check(answer.parse(text), expected, CTX)
    significant = len(text.lstrip("-").replace(".", "").lstrip("0"))  # digits from the first one that is not 0
    if verdict.status is Status.correct:
        assert verdict.feedback == ""  # never a hint for an answer within the tolerance
    elif significant >= 2:  # "1" for 0.71 or "0.0" for 0.017 more likely is another slip than a rounding
        shown = "a whole number" if places == 0 else f"{places} decimal place{'s' if places != 1 else ''}"
        assert f"; it matches the correct value rounded to {shown}, but this part needs more digits: give at least " in verdict.feedback
        needed = int(verdict.feedback.rsplit("give at least ", 1)[1].split()[0])
        assert needed > places and abs(round(expected, needed) - expected) <= answer.tolerance_for(expected)
    else:
        assert "rounded" not in verdict.feedback


@settings(max_examples=300, deadline=None)
@given(actual=st.floats(allow_nan=False, allow_infinity=False, width=64), abs_tol=st.sampled_from([0.0, 1e-9, 1e-6, 0.1]))
def test_the_sign_hint_never_fires_when_the_key_is_zero(actual: float, abs_tol: float) -> None:
    number = NumberAnswer(abs_tol=abs_tol).check(actual, 0.0, CTX)
    array = ArrayAnswer(abs_tol=abs_tol).check(np.array([actual, -actual]), np.zeros(2), CTX)
    for feedback in (number.feedback, array.feedback):
        assert "opposite sign" not in feedback and "sign flipped" not in feedback


@settings(max_examples=200, deadline=None)
@given(expected=st.floats(min_value=-1e6, max_value=1e6).filter(lambda x: abs(x) > 1e-5))
def test_the_negated_key_gets_the_sign_hint(expected: float) -> None:
    verdict = NumberAnswer().check(-expected, expected, CTX)
    assert verdict.status is Status.incorrect and verdict.feedback.endswith(f"; {SIGN}")


@pytest.mark.parametrize(("written", "key"), [("1", 0.7136), ("3", 3.4369), ("0.0", 0.0172), ("0.000", 0.0004)])
def test_a_number_with_fewer_than_two_significant_digits_is_not_called_rounded(written: str, key: float) -> None:
    """``t_f2: 1`` for 0.7136 is more likely a factor left out than a rounding; a 0 tells nothing (re-check)."""
    answer = NumberAnswer()
    verdict = answer.check(answer.parse(written), key, CTX)
    assert verdict.status is not Status.correct and "rounded" not in verdict.feedback, verdict.feedback


def test_a_whole_number_with_two_significant_digits_still_is() -> None:
    answer = NumberAnswer()
    verdict = answer.check(answer.parse("12"), 12.4, CTX)
    assert "it matches the correct value rounded to a whole number" in verdict.feedback


def test_a_number_with_the_opposite_sign_and_rounded_is_told_both() -> None:
    answer = NumberAnswer()
    verdict = answer.check(answer.parse("-0.44"), 0.44292827, CTX)
    assert verdict.feedback.endswith(
        "; it has the opposite sign of the correct value, and apart from the sign it matches the correct value rounded "
        "to 2 decimal places, but this part needs more digits: give at least 6 decimal places"
    ), verdict.feedback
    assert "rounded" not in answer.check(answer.parse("-0.5"), 0.44292827, CTX).feedback  # not a rounding of it


def test_values_computed_by_code_that_rounds_are_told_not_to_round() -> None:
    """A plain array (a code submission's output) rounded to 3 places is told its code rounds, not to give more
    digits; the same numbers read from an answer file keep the answer-file advice (re-check)."""
    answer = ArrayAnswer()
    expected = np.array([[0.12345678, 0.98765432], [0.5555555, 0.333333]])
    computed = answer.check(np.round(expected, 3), expected, CTX).feedback
    assert computed.endswith("; each of them matches the correct value rounded to 3 decimal places, but your code "
                             "rounds: return the values unrounded"), computed
    written = answer.check(answer.parse([[0.123, 0.988], [0.556, 0.333]]), expected, CTX).feedback
    assert written.endswith("; each of them matches the correct value rounded to 3 decimal places, but this part "
                            "needs more digits: give at least 6 decimal places"), written


def test_a_known_mistake_rounded_too_early_is_named_without_credit(tmp_path: Path) -> None:
    """ex1.a's sum over every k, written to 4 places as most students write it, had got only "not within the
    tolerance": the slip's feedback is now given, saying how it was rounded, with no credit (the key rounded too
    early earns none either). The key rounded too early is still told as that."""
    from grader.key import compute_key

    key = compute_key(load_sheet(WEEK7), None).part("ex1", "a")
    [(slip, value)] = [(slip, value) for slip, value in key.mistakes.items() if abs(float(value) - float(key.expected)) > 1e-3][:1]
    parts = grade(WEEK7, answer_file(tmp_path, "ex1", {"a": f"{float(value):.4f}"}))
    part = parts["ex1.a"]
    assert (part["points_earned"], part["status"], part["mistake"]) == (0, "incorrect", slip)
    assert part["feedback"].endswith("(Your value is that slip's value rounded to 4 decimal places; this part needs at least 6 decimal places.)")
    rounded_key = grade(WEEK7, answer_file(tmp_path, "ex1", {"a": f"{float(key.expected):.4f}"}))["ex1.a"]
    assert rounded_key["mistake"] is None and "matches the correct value rounded to 4 decimal places" in rounded_key["feedback"]


FACTOR = "(a factor counted twice or left out, or a mean where a sum is meant, or the reverse?)"


@pytest.mark.parametrize(("factor", "said"), [(2.0, "it is 2 times the correct value"), (1 / 16, "it is the correct value divided by 16"), (-3.0, "it is -3 times the correct value")])
def test_a_number_a_whole_factor_off_is_told_the_factor(factor: float, said: str) -> None:
    expected = 0.5430586
    verdict = NumberAnswer().check(float(f"{expected * factor:.7f}"), expected, CTX)
    assert verdict.feedback.endswith(f"; {said} {FACTOR}"), verdict.feedback


def test_an_array_a_whole_factor_off_is_told_the_factor_and_a_near_miss_is_not() -> None:
    expected = np.array([[0.25, -1.5], [0.0, 3.125]])
    verdict = ArrayAnswer().check(expected / 16, expected, CTX)
    assert verdict.feedback == f"3 of 4 entries differ from the expected values; every entry is the correct value divided by 16 {FACTOR}"
    almost = expected / 16
    almost[1, 1] += 0.01  # one entry off the factor: no factor to name
    assert "divided by" not in ArrayAnswer().check(almost, expected, CTX).feedback
    assert "times" not in NumberAnswer().check(1.5 * 0.5430586, 0.5430586, CTX).feedback  # 1.5 is no whole factor
    for tiny_or_huge in (1e-310, -5e-324, 1e308):  # 1/ratio overflowed: an internal error
        assert "factor" not in NumberAnswer().check(tiny_or_huge, 0.4429, CTX).feedback


def test_an_array_shifted_by_one_constant_is_told_the_shift_and_a_near_miss_is_not() -> None:
    """A bias added twice or left out moves every entry by one amount: the feedback had said only "4 of 4 entries
    differ"."""
    expected = np.array([[0.25, -1.5], [0.0, 3.125]])
    shifted = ArrayAnswer().check(expected + 0.5, expected, CTX)
    assert shifted.feedback == (
        "4 of 4 entries differ from the expected values; every entry is the correct value plus 0.5 (a term, such as "
        "a bias, added to every entry or left out of it?)"
    )
    assert "minus 2" in ArrayAnswer().check(expected - 2, expected, CTX).feedback
    almost = expected + 0.5
    almost[0, 1] += 0.01  # one entry off the shift: no shift to name
    assert "plus" not in ArrayAnswer().check(almost, expected, CTX).feedback
    partly = expected.copy()
    partly[0, 0] += 0.5  # one entry wrong: it is no shift of every entry
    assert "plus" not in ArrayAnswer().check(partly, expected, CTX).feedback
    assert "plus" not in NumberAnswer().check(0.5430586 + 0.5, 0.5430586, CTX).feedback  # a number is its own shift


_FACTORS = st.sampled_from([2.0, -2.0, 3.0, 16.0, 1024.0, 1025.0, 0.5, -0.25, 1 / 16, 1 / 1024, 1.0, -1.0, 1.5, 0.0])


@settings(max_examples=500)
@given(
    expected=st.floats(min_value=-1e300, max_value=1e300, allow_nan=False),
    factor=_FACTORS,
    noise=st.sampled_from([0.0, 1e-9, 1e-6, 1e-3, 0.5]),
    tolerance=st.sampled_from([0.0, 1e-6, 1e-3, 1.0, 1e12]),
    anything=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_a_numbers_scale_factor_is_the_arrays(expected: float, factor: float, noise: float, tolerance: float, anything: float | None) -> None:
    """``number_scale_factor`` (plain floats, for one number) names the factor ``scale_factor`` names for the same
    number as an array of one entry: whole factors, their inverses, near misses and anything at all."""
    from grader.answers.base import number_scale_factor, scale_factor

    actual = anything if anything is not None else factor * expected + noise
    if not math.isfinite(actual):
        return
    as_array = scale_factor(np.array([actual]), np.array([expected]), np.array([tolerance]))
    assert number_scale_factor(actual, expected, tolerance) == as_array


ROUNDED_SLIP_SHEET = """\
id: rounded-slips
exercises:
  - id: ex
    inputs:
      z: {{value: [0.5, -1.23456, 2.25, -0.7071067]}}
    parts:
      - id: act
        prompt: relu(z).
        points: 1
        answer: {{type: array{partial}}}
        expected: {{op: relu, x: $z}}
        mistakes:
          - id: no-relu
            expected: $z
            feedback: "The relu is missing: negative entries become 0."
            credit: {credit}
"""


@pytest.mark.parametrize(
    ("partial", "credit", "points", "status"),
    [("", 0, 0.0, "incorrect"), (", partial: true", 0, 0.0, "incorrect"), (", partial: true", 0.75, 0.5, "partial"),
     (", partial: true", 0.25, 0.25, "partial")],
)
def test_an_array_that_is_a_known_mistake_rounded_too_early_is_named(
    tmp_path: Path, partial: str, credit: float, points: float, status: str
) -> None:
    """An array answer that is a known mistake's array rounded to 3 places (the relu left out) gets that mistake's
    feedback with how it was rounded, as a number does, and no more than the lesser of the slip's credit and what
    its own right entries earn (half of them here, with partial credit). The key itself rounded is still told as
    the key rounded, not as the slip."""
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(ROUNDED_SLIP_SHEET.format(partial=partial, credit=credit), encoding="utf-8")
    part = grade(sheet, answer_file(tmp_path, "ex", {"act": "[0.5, -1.235, 2.25, -0.707]"}))["ex.act"]
    assert (part["mistake"], part["points_earned"], part["status"]) == ("no-relu", points, status), part
    assert part["feedback"] == (
        "The relu is missing: negative entries become 0. (Your values are that slip's values rounded to 3 decimal "
        "places; this part needs at least 6 decimal places.)"
    )
    rounded_key = grade(sheet, answer_file(tmp_path, "ex", {"act": "[0.5, 0, 2.25, 0]"}))["ex.act"]
    assert rounded_key["status"] == "correct"
    near_key = grade(sheet, answer_file(tmp_path, "ex", {"act": "[0.5, 0.0001, 2.2500001, 0]"}))["ex.act"]
    assert near_key["mistake"] is None


def test_an_array_rounded_from_the_key_is_not_taken_for_a_slip(tmp_path: Path) -> None:
    """An answer that is the key rounded too early is told so, and no known mistake is named, even where the slip's
    array rounds to the same numbers in some entries."""
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(ROUNDED_SLIP_SHEET.format(partial="", credit=0).replace("0.5, -1.23456", "0.51234567, -1.23456"), encoding="utf-8")
    part = grade(sheet, answer_file(tmp_path, "ex", {"act": "[0.512, 0, 2.25, 0]"}))["ex.act"]
    assert part["mistake"] is None
    assert "matches the correct value rounded to 3 decimal places" in part["feedback"], part["feedback"]
