"""shape, boolean, choice and set answers: documented forms, rejections, verdicts and fractions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from grader.answers import AnswerError, BooleanAnswer, CheckContext, ChoiceAnswer, SetAnswer, ShapeAnswer
from grader.result import Status

CTX = CheckContext.from_seed(0)


# ---- shape -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    ["2x2x2", "2 x 2 x 2", "2×2×2", "2X2X2", "(2, 2, 2)", "[2,2,2]", [2, 2, 2], "2*2*2", "(2, 2, 2,)", "torch.Size([2, 2, 2])"],
)
def test_shape_reads_every_documented_form(raw: object) -> None:
    assert ShapeAnswer().parse(raw) == (2, 2, 2)


def test_shape_single_dimension() -> None:
    """Also as numpy's ``.shape`` and PyTorch print one: ``(3,)`` had been refused ("cannot read '(3,)' as a shape")."""
    for raw in (4, "4", "(4,)", "[4,]", "torch.Size([4])"):
        assert ShapeAnswer().parse(raw) == (4,), raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2x2xtwo", "dimension 3 is 'two', expected a whole number"),
        ("2xx2", "write the sizes like 4x4x2"),
        ([2, 0, 2], "dimension 2 is 0; sizes are at least 1"),
        ([2, True], "dimension 2 is true (a boolean)"),
        ([2, 2.5], "dimension 2 is the number 2.5"),
        ("", "got empty text"),
        ("(,)", "got no sizes in '(,)'"),
        ("torch.Size([])", "got no sizes in 'torch.Size([])'"),
        ([], "got an empty list"),
        ({"h": 2}, "got a mapping"),
        ([1] * 40, "at most 32 are read"),
        ("2x-2", "expected a whole number"),
    ],
)
def test_shape_rejects(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        ShapeAnswer().parse(raw)
    assert message in str(caught.value)


def test_shape_feedback_names_the_dimensions_that_differ() -> None:
    answer = ShapeAnswer(axes=["height", "width", "depth"])
    assert answer.check((2, 2, 2), (2, 2, 2), CTX).status is Status.correct
    verdict = answer.check((2, 2, 3), (2, 2, 2), CTX)
    assert verdict.status is Status.incorrect and verdict.feedback == "your shape 2x2x3 differs in depth"
    assert verdict.details == ["depth: yours 3, expected 2"]
    rank = answer.check((4, 4), (2, 2, 2), CTX)
    assert rank.feedback == "your shape 4x4 has 2 dimensions; the expected shape has 3"
    swapped = ShapeAnswer(partial=True).check((2, 4, 4), (4, 4, 2), CTX)
    assert swapped.feedback == "your shape 2x4x4 differs in dimension 1, dimension 3"
    assert swapped.fraction == pytest.approx(1 / 3) and swapped.status is Status.partial
    assert "your sizes are right but in another order" in swapped.details
    assert ShapeAnswer().to_json((4, 4, 2)) == "4x4x2"


# ---- boolean -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "value"), [(True, True), (False, False), ("Yes", True), ("NO", False), (" true ", True), ("False", False), ("y", True), ("N", False)])
def test_boolean_forms(raw: object, value: bool) -> None:
    assert BooleanAnswer().parse(raw) is value


@pytest.mark.parametrize(("raw", "message"), [(1, "expected yes or no, got the whole number 1"), ("maybe", "got the text 'maybe'"), ([True], "a list")])
def test_boolean_rejects(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        BooleanAnswer().parse(raw)
    assert message in str(caught.value)


def test_boolean_check() -> None:
    assert BooleanAnswer().check(True, True, CTX).fraction == 1
    wrong = BooleanAnswer().check(False, True, CTX)
    assert wrong.status is Status.incorrect and wrong.feedback == "your answer 'no' is not right"


# ---- choice ------------------------------------------------------------------------------------------------
def test_choice_matches_ignoring_case_and_spacing() -> None:
    answer = ChoiceAnswer(options=["Max pooling", "Average pooling"])
    assert answer.parse("  max   POOLING ") == "Max pooling"
    assert answer.check("Max pooling", "Max pooling", CTX).status is Status.correct
    assert answer.check("Average pooling", "Max pooling", CTX).status is Status.incorrect
    with pytest.raises(AnswerError, match="is not one of the options: 'Max pooling', 'Average pooling'"):
        answer.parse("min pooling")
    with pytest.raises(AnswerError, match="got a list"):
        answer.parse(["Max pooling"])


def test_choice_yaml_booleans_match_yes_no_options() -> None:
    answer = ChoiceAnswer(options=["yes", "no", "only with padding"])
    assert answer.parse(True) == "yes" and answer.parse(False) == "no"
    assert ChoiceAnswer(options=["1", "2"]).parse(2) == "2"


def test_choice_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="at least 2"):
        ChoiceAnswer(options=["only"])
    with pytest.raises(ValidationError, match="the same ignoring case"):
        ChoiceAnswer(options=["A b", "a  B"])
    with pytest.raises(ValueError, match="not one of the options"):
        ChoiceAnswer(options=["a", "b"]).check("a", "c", CTX)


# ---- set ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [["f1", "f2", "f3", "f5", "f6"], "f1, f2, f3, f5, f6", "{f6, f5, f3, f2, f1}", "f1 f2 f3 f5 f6",
     {"f1": None, "f2": None, "f3": None, "f5": None, "f6": None}, "f1,f2,f3,f5,f6,f1"],
)
def test_set_forms(raw: object) -> None:
    assert SetAnswer().parse(raw) == frozenset({"f1", "f2", "f3", "f5", "f6"})


def test_set_aliases_and_case() -> None:
    answer = SetAnswer(aliases={"θ": "theta", "f_1": "f1"})
    assert answer.parse("θ, F_1") == frozenset({"theta", "f1"})
    assert answer.check(frozenset({"Theta", "F1"}), frozenset({"theta", "f1"}), CTX).status is Status.correct
    strict = SetAnswer(case_sensitive=True)
    assert strict.check(frozenset({"F1"}), frozenset({"f1"}), CTX).status is Status.incorrect


@pytest.mark.parametrize(
    ("raw", "message"),
    [("f1,,f2", "empty name between two separators"), ([["f1"]], "item 1 is a list of 1 item"),
     ([True], "item 1 is true (a boolean)"), (5, "as a list of names, got the whole number 5"),
     (["x" * 200], "names have at most 100"), (["a"] * 2000, "at most 1000 are read")],
)
def test_set_rejects(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        SetAnswer().parse(raw)
    assert message in str(caught.value)


def test_set_partial_credit_is_jaccard_with_missing_and_extra_listed() -> None:
    expected = frozenset({"f1", "f2", "f3", "f5", "f6"})
    verdict = SetAnswer().check(frozenset({"f1", "f2", "f3", "x1"}), expected, CTX)
    assert verdict.status is Status.partial and verdict.fraction == pytest.approx(3 / 6)
    assert verdict.feedback == "2 names are missing and 1 name does not belong"
    assert verdict.details == ["missing: f5, f6", "should not be there: x1"]
    assert SetAnswer(partial=False).check(frozenset({"f1"}), expected, CTX).fraction == 0
    assert SetAnswer().check(frozenset(), frozenset(), CTX).status is Status.correct
    assert SetAnswer().check(frozenset({"a"}), frozenset({"b"}), CTX).status is Status.incorrect


@settings(max_examples=50, deadline=None)
@given(st.frozensets(st.sampled_from(["a", "b", "c", "d", "e"])), st.frozensets(st.sampled_from(["a", "b", "c", "d", "e"])))
def test_set_fraction_is_symmetric_and_one_only_when_equal(a: frozenset[str], b: frozenset[str]) -> None:
    forward = SetAnswer().check(a, b, CTX).fraction
    assert forward == SetAnswer().check(b, a, CTX).fraction
    assert (forward == 1.0) == (a == b)


def test_set_names_written_otherwise_are_named_with_the_sheets_spelling() -> None:
    """f_1 for f1 had counted as one name missing and one that does not belong, with no word on why."""
    verdict = SetAnswer().check(SetAnswer().parse("f_1, F-2, f3, x9"), frozenset({"f1", "f2", "f3", "f5"}), CTX)
    assert verdict.feedback == (
        "3 names are missing and 3 names do not belong; write the names as the sheet does: f1 (not f_1), f2 (not F-2)"
    )
