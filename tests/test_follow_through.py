"""Error carried forward (``follow_through``): a part answered right for the student's own wrong answer to an
earlier part earns its credit, with feedback saying so; the sheet's author is told when a follow_through entry
cannot work. Everything runs through the real command line on real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.conftest import ERROR_LINE, Grader, line_of, write

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SOFTMAX = ROOT / "exercises" / "softmax_regression.yaml"


def _graded(grader: Grader, sheet: Path, folder: Path, answers: dict[str, Any], *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The parts of ``grade --format json`` (or of ``check`` when args start with it) for these answers."""
    path = folder / "answers.yaml"
    path.write_text(yaml.safe_dump({"student": "s", "answers": answers}), encoding="utf-8")
    command = args[0] if args else "grade"
    run = grader(command, sheet, path, "--format", "json", *args[1:])
    assert run.code in (0, 1), run.err
    return {(p["exercise_id"], p["part_id"]): p for p in json.loads(run.out)["result"]["parts"]}


# ---- week 7: the width for the student's own padding ------------------------------------------------------------
@pytest.mark.parametrize("command", ["grade", "check"])
def test_a_width_right_for_the_students_own_padding_earns_the_point(grader: Grader, tmp_path: Path, command: str) -> None:
    """p-not-halved gives p = 2 (the key is 1); with p = 2 the width is (4 + 4 - 3) + 1 = 6 (the key is 4)."""
    parts = _graded(grader, WEEK7, tmp_path, {"ex2": {"b_check_p": 2, "b_check_size": 6}}, command)
    p, size = parts[("ex2", "b_check_p")], parts[("ex2", "b_check_size")]
    assert (p["points_earned"], p["mistake"]) == (0.0, "p-not-halved")  # the slip itself still costs its point
    assert (size["points_earned"], size["status"], size["mistake"]) == (1.0, "correct", None)
    assert size["feedback"] == (
        "Right for your own answer to b_check_p (2), which was not right: this part uses that answer, so it earns all "
        "its points. With the right b_check_p it is 4"
    )
    assert size["details"] == []  # no "yours 6, expected 4" beside a part judged by the student's own p


@pytest.mark.parametrize(
    ("answers", "points", "status"),
    [
        ({"b_check_p": 1, "b_check_size": 6}, 0.0, "incorrect"),  # p is right: the key's width is the only right one
        ({"b_check_p": 2, "b_check_size": 4}, 1.0, "correct"),  # right anyway
        ({"b_check_p": 2, "b_check_size": 5}, 0.0, "incorrect"),  # right for neither p
        ({"b_check_p": "two", "b_check_size": 6}, 0.0, "incorrect"),  # p unreadable: nothing to follow
        ({"b_check_size": 6}, 0.0, "incorrect"),  # p missing
        ({"b_check_p": -3, "b_check_size": 6}, 0.0, "incorrect"),  # no width exists for p = -3 (the key fails)
    ],
)
def test_no_credit_without_a_wrong_readable_answer_that_the_width_fits(
    grader: Grader, tmp_path: Path, answers: dict[str, Any], points: float, status: str
) -> None:
    size = _graded(grader, WEEK7, tmp_path, {"ex2": answers})[("ex2", "b_check_size")]
    assert (size["points_earned"], size["status"]) == (points, status)
    assert "your own answer" not in size["feedback"]


def test_the_student_sheet_says_which_answers_a_part_follows(grader: Grader) -> None:
    run = grader("sheet", WEEK7)
    assert run.code == 0
    line = next(line for line in run.out.splitlines() if "If your b_check_p is wrong" in line)
    assert "an answer right for your own b_check_p still earns its points" in line
    assert sum("If your" in line for line in run.out.splitlines()) == 1  # only b_check_size follows another part


# ---- softmax regression: probabilities, loss and dL/dz for the student's own logits -------------------------------
def test_a_consistent_chain_from_wrong_logits_earns_the_later_parts(grader: Grader, tmp_path: Path) -> None:
    """A student who forgot the bias computes z = x W and then, correctly for that z, p, L and dL/dz."""
    inputs = {name: np.asarray(value) for name, value in json.loads(grader("data", SOFTMAX).out)["inputs"]["single"].items()}
    z = inputs["x"] @ inputs["W"]  # no + b
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    label = int(inputs["label"])
    answers = {"single": {
        "a_logits": z.tolist(), "b_probabilities": p.tolist(), "c_loss": float(-np.log(p[label])),
        "d_dz": (p - np.eye(3)[label]).tolist(), "e_dW": np.outer(inputs["x"], p - np.eye(3)[label]).tolist(),
    }}
    parts = _graded(grader, SOFTMAX, tmp_path, answers)
    assert parts[("single", "a_logits")]["points_earned"] == 0
    for part_id in ("b_probabilities", "c_loss", "d_dz"):
        part = parts[("single", part_id)]
        assert (part["status"], part["points_earned"]) == ("correct", part["points_possible"]), part_id
        assert part["feedback"].startswith("Right for your own answer to a_logits, which was not right"), part["feedback"]
    # dL/dW has no follow_through (it is the gradient with respect to W, which the student's z does not carry)
    assert parts[("single", "e_dW")]["points_earned"] == 0


# ---- partial credit, hidden parts -------------------------------------------------------------------------------
CHAIN = """\
id: chain
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      x: {value: [1.0, 2.0], random: {dist: normal, shape: [2]}}
    quantities:
      y: {op: mul, a: $x, b: 3}
      s: {op: sum, x: {op: square, x: $y}}
    parts:
      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}
      - id: b
        prompt: the sum of the squares of y
        points: 4
        answer: {type: number}
        expected: $s
        follow_through:
          - {part: a, replaces: y, credit: 0.5}
"""


def test_partial_follow_through_credit(grader: Grader, tmp_path: Path) -> None:
    sheet = write(tmp_path, CHAIN)
    assert grader("validate", sheet).code == 0
    part = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}})[("e", "b")]  # 2^2 + 4^2 for their y
    assert (part["status"], part["points_earned"]) == ("partial", 2.0)
    assert "so it earns 0.5 of its points. With the right a it is 45" in part["feedback"]


def test_a_hidden_part_that_follows_says_only_passed(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace("credit: 0.5}", "credit: 1}").replace("        points: 4\n", "        points: 4\n        visibility: hidden\n")
    sheet = write(tmp_path, text)
    assert grader("validate", sheet).code == 0
    followed = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}})[("e", "b")]
    right = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 45.0}})[("e", "b")]
    assert (followed["points_earned"], followed["status"]) == (4.0, "correct")
    assert followed["feedback"] == right["feedback"] and "your own" not in json.dumps(followed)  # told only "passed"
    instructor = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}}, "grade", "--audience", "instructor")
    assert instructor[("e", "b")]["feedback"] == "passed"
    # in check mode the hidden part is not graded at all
    pending = _graded(grader, sheet, tmp_path, {"e": {"a": [2.0, 4.0], "b": 20.0}}, "check")[("e", "b")]
    assert pending["status"] == "pending" and pending["points_earned"] == 0


# ---- the author's faults ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "field", "fragments"),
    [
        ("{part: zz, replaces: y}", "part", ["follow_through.part names no part 'zz' in exercise 'e'", "the other parts: a"]),
        ("{part: b, replaces: y}", "part", ["follow_through.part names this part itself"]),
        ("{part: a, replaces: yy}", "replaces", ["must name an input or quantity of exercise 'e'", "known: s, x, y"]),
        ("{part: a, replaces: x}", "replaces", ["with x set to the key of a, this part's key would be", "the answer to a is not x"]),
        ("{part: a, replaces: y, credit: 0}", "credit", ["greater than 0"]),
    ],
)
def test_a_follow_through_that_cannot_work_is_an_error_at_its_field(
    grader: Grader, tmp_path: Path, entry: str, field: str, fragments: list[str]
) -> None:
    text = CHAIN.replace("{part: a, replaces: y, credit: 0.5}", entry)
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    [error] = [m for m in map(ERROR_LINE.match, run.err.splitlines()) if m]
    assert error["line"] == str(line_of(text, entry))
    assert error["path"].startswith("exercises[0].parts[1].follow_through[0]")
    assert error["path"].endswith(field)
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


def test_a_follow_through_whose_value_the_key_ignores_is_an_error(grader: Grader, tmp_path: Path) -> None:
    """b's key does not use z (it is a sum of squares of y): setting z to anything changes nothing."""
    text = CHAIN.replace("      s: {op: sum", "      z: {op: mul, a: $x, b: 2}\n      s: {op: sum").replace(
        "{part: a, replaces: y, credit: 0.5}", "{part: a, replaces: z}"
    ).replace("expected: $y}", "expected: $z}")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2, run.out
    assert "this part's key does not change with z" in run.err and "[spec-follow-through]" in run.err


def test_a_visible_part_may_not_follow_a_hidden_one(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace("{id: a, prompt: y = 3x, points: 2,", "{id: a, prompt: y = 3x, points: 2, visibility: hidden,")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    assert "part 'a' is hidden: this visible part's feedback would tell whether the student's answer there was right" in run.err


def test_a_follow_through_from_a_part_that_is_no_value_is_an_error(grader: Grader, tmp_path: Path) -> None:
    text = CHAIN.replace(
        "      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}\n",
        "      - {id: a, prompt: y = 3x, points: 2, answer: {type: array}, expected: $y}\n"
        "      - {id: big, prompt: 'is y_0 > 0?', points: 1, answer: {type: boolean}, expected: {op: greater, a: {op: index, x: $y, at: [0]}, b: 0}}\n",
    ).replace("{part: a, replaces: y, credit: 0.5}", "{part: big, replaces: y}")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    assert "part 'big' has a 'boolean' answer, which cannot stand for a value" in run.err


def test_an_earlier_answer_of_another_shape_is_not_followed(grader: Grader, tmp_path: Path) -> None:
    """y has 2 entries; a y of 3 entries for which b is consistent earns nothing: another layout is no slip in a
    value (and the key is never recomputed for arrays of a size the student chooses)."""
    sheet = write(tmp_path, CHAIN)
    part = _graded(grader, sheet, tmp_path, {"e": {"a": [1.0, 2.0, 2.0], "b": 9.0}})[("e", "b")]
    assert (part["status"], part["points_earned"]) == ("incorrect", 0.0)
    same_shape = _graded(grader, sheet, tmp_path, {"e": {"a": [1.0, 2.0], "b": 5.0}})[("e", "b")]
    assert (same_shape["status"], same_shape["points_earned"]) == ("partial", 2.0)
