"""A formula answer written as an equation (``p = (f-1)/2``, ``p=(f-1)/2``, ``p == (f-1)/2``, ``(f-1)/2 = p``) is
told to keep only the expression and what to drop, instead of "it is not a valid formula"; one that is the
reference with its sign flipped, or a whole factor times it, is told so. Through real answer files and the real
``grader grade``, and as a property of the parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.answers.formula import FormulaAnswer

from .test_hints_support import ROOT, WEEK7, answer_file, grade

RIGHT = "cannot read the formula: it is an equation; write only its right-hand side (the expression), without '{}'"
LEFT = "cannot read the formula: it is an equation; write only its left-hand side (the expression), without '{}'"


@pytest.fixture(scope="module")
def padding() -> str:
    """The right b_formula (the padding p in f) of the sample correct answer file."""
    correct = yaml.safe_load((ROOT / "submissions" / "week7" / "correct.yaml").read_text(encoding="utf-8"))
    return str(correct["answers"]["ex2"]["b_formula"])


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("p = {}", RIGHT.format("p =")),
        ("p={}", RIGHT.format("p =")),
        ("p == {}", RIGHT.format("p ==")),
        ("p(f) = {}", RIGHT.format("p(f) =")),
        ("{} = p", LEFT.format("= p")),
    ],
)
def test_an_equation_is_told_what_to_drop(tmp_path: Path, padding: str, written: str, message: str) -> None:
    text = written.format(padding)
    part = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": f"'{text}'"}))["ex2.b_formula"]
    assert part["status"] == "invalid" and part["points_earned"] == 0
    assert part["feedback"] == message
    assert part["answer_error"] == message


def test_an_equation_between_two_expressions(tmp_path: Path, padding: str) -> None:
    part = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": f"'2*({padding}) = 2*p'"}))["ex2.b_formula"]
    assert part["feedback"] == (
        "cannot read the formula: it is an equation ('=' between two expressions); write only the expression that "
        "is the answer, solved for the quantity asked, without '='"
    )


def test_an_equation_whose_expression_cannot_be_read_says_both(tmp_path: Path) -> None:
    part = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": "'p = (f - 1/2'"}))["ex2.b_formula"]
    assert part["feedback"].startswith(RIGHT.format("p =") + "; the expression itself cannot be read either: ")


def test_formulas_that_are_no_equation_keep_their_messages(tmp_path: Path, padding: str) -> None:
    right = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": f"'{padding}'"}))["ex2.b_formula"]
    assert right["status"] == "correct"
    wrong = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": f"'({padding}) * 3'"}))["ex2.b_formula"]
    assert wrong["status"] == "incorrect" and "equation" not in wrong["feedback"]
    compared = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": "'p <= f'"}))["ex2.b_formula"]
    assert compared["feedback"].startswith("cannot read the formula: a comparison (< > == ...) at column 1 is not allowed")
    keyword = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": "'max(f, p=1)'"}))["ex2.b_formula"]
    assert "equation" not in keyword["feedback"]


@settings(max_examples=200, deadline=None)
@given(name=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,5}", fullmatch=True), spaces=st.sampled_from(["", " ", "  "]),
       sign=st.sampled_from(["=", "=="]))
def test_any_name_set_equal_to_a_readable_formula_keeps_the_formula(name: str, spaces: str, sign: str) -> None:
    answer = FormulaAnswer(variables={"f": {"low": 1, "high": 9}})
    _, verdict = answer.read(f"{name}{spaces}{sign}{spaces}(f - 1)/2")
    assert verdict is not None
    assert verdict.feedback == RIGHT.format(f"{name} {sign}")


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("-({})", "your formula is the reference with its sign flipped at every point (the size is right)"),
        ("3*({})", "your formula is 3 times the correct value (a factor counted twice or left out, or a mean where a sum is meant, or the reverse?)"),
        ("({})/4", "your formula is the correct value divided by 4 (a factor counted twice or left out, or a mean where a sum is meant, or the reverse?)"),
    ],
)
def test_a_formula_off_by_its_sign_or_a_whole_factor_is_told_so(tmp_path: Path, padding: str, written: str, hint: str) -> None:
    """A formula that is the reference negated, or a whole factor times it, at every random point is told which
    (after where it differs), as a number or an array answer is; 2 times is the sheet's own known mistake."""
    part = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": f"'{written.format(padding)}'"}))["ex2.b_formula"]
    assert part["status"] == "incorrect" and part["mistake"] is None
    assert part["feedback"].endswith("which is not the expected value; " + hint), part["feedback"]


@pytest.mark.parametrize("written", ["f", "({}) + 1", "-({}) + 0.5", "2*({})"])
def test_a_formula_wrong_otherwise_gets_no_sign_or_factor_hint(tmp_path: Path, padding: str, written: str) -> None:
    part = grade(WEEK7, answer_file(tmp_path, "ex2", {"b_formula": f"'{written.format(padding)}'"}))["ex2.b_formula"]
    assert part["status"] == "incorrect"
    assert "sign" not in part["feedback"] and "times the correct value" not in part["feedback"], part["feedback"]
