"""An array answer rounded to 4 significant digits used to show the very grid of the key it missed under "Your
answer" and "Expected" (both printed to 4 digits): every human format now prints as many digits as it takes to tell
each entry that differs apart, and no more than 4 when nothing needs them. Through the real command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader.key import compute_key
from grader.report.common import GRID_DIGITS, digits_telling_apart, fmt_number
from grader.result import PartResult
from grader.spec import load_sheet
from tests.conftest import Grader, write

SHEET = """\
id: rounded
exercises:
  - id: e
    inputs:
      x: {value: [[0.123456, 1.234567], [2.345678, -0.456789]]}
    quantities:
      y: {op: tanh, x: $x}
    parts:
      - id: y
        prompt: tanh of x
        points: 1
        answer: {type: array}
        expected: $y
"""


def _rounded_answer(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    sheet = write(tmp_path, SHEET)
    key = np.asarray(compute_key(load_sheet(sheet)).part("e", "y").expected)
    rounded = [[float(fmt_number(float(v), 4)) for v in row] for row in key]
    answers = write(tmp_path, "student: s1\nanswers:\n  e:\n    y: " + json.dumps(rounded) + "\n", "answers.yaml")
    return sheet, answers, key


@pytest.mark.parametrize("fmt", ["text", "md", "html", "junit", "gradescope"])
def test_a_rounded_answer_and_the_key_print_differently(grader: Grader, tmp_path: Path, fmt: str) -> None:
    sheet, answers, key = _rounded_answer(tmp_path)
    out = tmp_path / f"report.{fmt}"
    run = grader("grade", sheet, answers, "--format", fmt, "-o", out)
    assert run.code == 0, run.err
    text = out.read_text(encoding="utf-8")
    answer = [float(fmt_number(float(v), 4)) for v in key.reshape(-1)]
    digits = next(d for d in range(5, 13) if all(fmt_number(float(e), d) != fmt_number(a, d) for e, a in zip(key.reshape(-1), answer)))
    for expected, rounded in zip(key.reshape(-1), answer):
        assert fmt_number(float(expected), digits) in text, (fmt, digits, expected)
        assert fmt_number(rounded, digits) in text, (fmt, digits, rounded)
        assert fmt_number(float(expected), digits) != fmt_number(rounded, digits)


def test_four_digits_stay_when_they_tell_the_entries_apart() -> None:
    part = PartResult.model_validate({
        "exercise_id": "e", "part_id": "y", "title": "", "answer_type": "array", "visibility": "visible",
        "points_possible": 1.0, "points_earned": 0.0, "status": "incorrect",
    })
    assert digits_telling_apart([[1.5, 2.0]], [[1.5, 2.5]], part) == GRID_DIGITS
    assert digits_telling_apart([[0.1234]], [[0.12344]], part) == 5
    assert digits_telling_apart([[0.1 + 2e-17]], [[0.1]], part) == GRID_DIGITS  # within the tolerance: no difference
    assert digits_telling_apart([1.0, 2.0], [[1.0, 2.0]], part) == GRID_DIGITS  # other shapes
    assert digits_telling_apart(0.5, 0.25, part) == GRID_DIGITS  # single numbers have their own 12 digits
    assert re.fullmatch(r"\d+", str(digits_telling_apart([[1.0000000000001]], [[1.0]], part)))
