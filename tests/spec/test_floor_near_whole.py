"""floor and ceil take a value one rounding error away from a whole number as that number: a student's formula
equivalent to the key's (n/s - f/s + 2p/s instead of (n + 2p - f)/s) came out as 2.9999999999999996 at some integer
points, rounded down to 2 and scored 0. Expected values here come from Python's integer floor division."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine import formula
from tests.spec.conftest import Grader

INTEGER_FORMULA = "{type: formula, variables: {n: {low: 1, high: 64, integer: true}, f: {low: 1, high: 11, integer: true}, s: {low: 1, high: 7, integer: true}, p: {low: 0, high: 5, integer: true}}, points: 400}"

SHEET = """\
id: floor-formula
exercises:
  - id: sizes
    inputs:
      n: {value: 7}
      f: {value: 3}
      s: {value: 2}
      p: {value: 1}
    quantities:
      size: {op: formula, text: "floor((n + 2*p - f)/s) + 1", n: $n, f: $f, s: $s, p: $p}
      windows: {op: formula, text: "ceil((n + 2*p - f + 1)/s)", n: $n, f: $f, s: $s, p: $p}
    parts:
      - id: size
        prompt: The output width with the last partial window dropped (PyTorch), as a formula in n, f, s, p.
        points: 1
        answer: {INTEGER_FORMULA}
        expected: {op: function, of: $size, variables: {n: $n, f: $f, s: $s, p: $p}}
      - id: windows
        prompt: The same width written with ceil.
        points: 1
        answer: {INTEGER_FORMULA}
        expected: {op: function, of: $windows, variables: {n: $n, f: $f, s: $s, p: $p}}
""".replace("{INTEGER_FORMULA}", INTEGER_FORMULA)

INTEGERS = {"n": st.integers(1, 200), "f": st.integers(1, 30), "s": st.integers(1, 9), "p": st.integers(0, 9)}


@settings(max_examples=300, deadline=None)
@given(**INTEGERS)
def test_floor_and_ceil_of_a_sum_of_quotients_are_those_of_the_whole_quotient(n: int, f: int, s: int, p: int) -> None:
    values = {"n": float(n), "f": float(f), "s": float(s), "p": float(p)}
    floored = formula.parse_formula("floor(n/s - f/s + 2*p/s)").evaluate(values)
    ceiled = formula.parse_formula("ceil(n/s - f/s + 2*p/s)").evaluate(values)
    assert float(floored) == (n + 2 * p - f) // s
    assert float(ceiled) == -(-(n + 2 * p - f) // s)


def test_a_value_just_off_a_whole_number_is_still_rounded_as_itself() -> None:
    """Only rounding errors are taken back: 2.9999 is rounded down to 2, and large values keep their fraction."""
    assert float(formula.parse_formula("floor(x)").evaluate({"x": 2.9999})) == 2.0
    assert float(formula.parse_formula("ceil(x)").evaluate({"x": 3.0001})) == 4.0
    assert float(formula.parse_formula("floor(x)").evaluate({"x": 1e12 + 0.5})) == 1e12
    # an input holds its value exactly: only computed values are taken back to a whole number (a review's cases)
    assert float(formula.parse_formula("floor(x)").evaluate({"x": 2.99999999999999})) == 2.0
    assert float(formula.parse_formula("floor(x)").evaluate({"x": 100000000000000.7})) == 1e14
    assert float(formula.parse_formula("ceil(x)").evaluate({"x": 1e-15})) == 1.0
    assert float(formula.parse_formula("floor(x + 0)").evaluate({"x": 100000000000000.7})) == 1e14  # capped at 1e-6
    assert float(formula.parse_formula("floor(n*1000 + m)").evaluate({"n": 1e5, "m": 0.9999995})) == 1e8


def test_an_equivalent_formula_with_floor_scores_full_marks(tmp_path: Path, grader: Grader) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(SHEET, encoding="utf-8")
    assert grader("validate", sheet).code == 0
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "student: s1\nanswers:\n  sizes:\n    size: floor(n/s - f/s + 2*p/s) + 1\n    windows: ceil(n/s - f/s + (2*p + 1)/s)\n",
        encoding="utf-8",
    )
    run = grader("grade", sheet, answers, "--format", "json")
    report = json.loads(run.out)
    assert [(part["part_id"], part["points_earned"]) for part in report["result"]["parts"]] == [("size", 1.0), ("windows", 1.0)], run.out
