"""A formula key (``{op: function, of: $q, ...}``) is the quantity at each random point on its own, whatever ops it
uses: a ``sum`` or ``mean`` over the formula's quantity is not a sum over the points, a loss or a softmax of a stack
works, and a quantity that is no single number, or a variable that is no single number, is refused by every command
that computes the key (found by an authoring review: ``sum`` gave one wrong constant at every point and validate
said ok)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import Grader, line_of, write

from .conftest import one_error, solved_key

SHEET = """\
id: formula-keys
exercises:
  - id: e
    inputs:
      w: {value: 0.5}
      x: {value: 2.0}
      t: {value: 1.0}
      v: {value: [1.0, 2.0]}
    quantities:
      square_sum: {op: sum, x: {op: square, x: $w}}
      product_mean: {op: mean, x: {op: mul, a: $w, b: $x}}
      loss: {op: mse_loss, y: {op: mul, a: $w, b: $x}, target: $t}
      pair: {op: mul, a: $w, b: $v}
      gated: {op: add, a: $w, b: {op: mul, a: {op: relu, x: {op: sub, a: $w, b: 1.5}}, b: {op: mean, x: $w}}}
    parts:
      - id: s
        prompt: sum of w^2
        points: 1
        answer: {type: formula, variables: {w: {low: -2, high: 2}}}
        expected: {op: function, of: $square_sum, variables: {w: $w}}
      - id: m
        prompt: mean of w x
        points: 1
        answer: {type: formula, variables: {w: {low: -2, high: 2}}}
        expected: {op: function, of: $product_mean, variables: {w: $w}}
      - id: l
        prompt: the loss
        points: 1
        answer: {type: formula, variables: {w: {low: -2, high: 2}}}
        expected: {op: function, of: $loss, variables: {w: $w}}
      - id: g
        prompt: a mean behind a relu
        points: 1
        answer: {type: formula, variables: {w: {low: -2, high: 2}}}
        expected: {op: function, of: $gated, variables: {w: $w}}
"""

RIGHT = {"s": "w**2", "m": "2*w", "l": "(2*w - 1)**2 / 2", "g": "w + relu(w - 1.5) * w"}
"""Each part's right formula, written by hand (mse_loss is half the squared error, as the sheet's Exercise 1)."""


def test_each_point_of_a_formula_key_is_its_quantity_there(tmp_path: Path, grader: Grader) -> None:
    key = solved_key(grader, write(tmp_path, SHEET))["e"]
    for part, examples in key.items():
        formula = RIGHT[part].replace("**", "^")
        assert len(examples) >= 3, (part, examples)
        for point in examples:
            w = point["at"]["w"]
            expected = {"s": w**2, "m": 2 * w, "l": (2 * w - 1) ** 2 / 2, "g": w + max(w - 1.5, 0) * w}[part]
            assert np.isclose(point["value"], expected, rtol=1e-12, atol=1e-12), (formula, point)


def test_the_right_formulas_score_full_marks_and_a_constant_none(tmp_path: Path, grader: Grader) -> None:
    sheet = write(tmp_path, SHEET)
    for name, answers, expected_score in [("right", RIGHT, 4), ("constant", {part: "1" for part in RIGHT}, 0)]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"student": "s", "answers": {"e": answers}}), encoding="utf-8")
        run = grader("grade", sheet, path, "--format", "json")
        assert run.code == 0, run.err
        assert json.loads(run.out)["result"]["points_earned"] == expected_score, run.out


PAIR_PART = """\
      - id: p
        prompt: w v
        points: 1
        answer: {type: formula, variables: {w: {low: -2, high: 2}}}
        expected: {op: function, of: $pair, variables: {w: $w}}
"""
"""A part whose key is w * v: one number per point only if v is one number."""


@pytest.mark.parametrize("command", ["validate", "solve", "grade"])
def test_a_formula_key_of_an_array_quantity_is_refused_by_every_command(tmp_path: Path, grader: Grader, command: str) -> None:
    text = SHEET + PAIR_PART
    sheet = write(tmp_path, text)
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"student": "s", "answers": {"e": {"p": "w"}}}), encoding="utf-8")
    run = grader(command, sheet, *([answers] if command == "grade" else []))
    where = f"{sheet}:{line_of(text, 'of: $pair')} exercises[0].parts[4].expected: the expected function cannot be checked"
    if command == "grade":  # graded as a fault of the sheet, naming the sheet's line
        assert run.code == 2 and f"answers.yaml: the sheet failed on this variant: {where}" in run.err, run.err
    else:
        error = one_error(run, sheet, "spec-key-unusable")
        assert error.string.startswith(where), run.err
    assert "'of' must be one number for each value of the formula's variables" in run.err
    assert "has shape (2,)" in run.err and "(50,)" not in run.err


def test_a_formula_variable_that_is_an_array_input_is_refused(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("of: $square_sum, variables: {w: $w}", "of: $pair, variables: {w: $v}")
    sheet = write(tmp_path, text)
    error = one_error(grader("validate", sheet), sheet, "spec-op-failed")
    assert "variables.w: $v has shape (2,), but a formula's variable stands for one number" in error["message"]


def test_an_array_input_as_long_as_the_points_is_not_paired_with_them(tmp_path: Path, grader: Grader) -> None:
    """w * v with v of 50 entries: evaluated for all 50 points at once it would pair point i with v[i] and look like
    one number per point; the key is refused as no single number."""
    fifty = "[" + ", ".join(str(i) for i in range(1, 51)) + "]"
    text = SHEET.replace("v: {value: [1.0, 2.0]}", f"v: {{value: {fifty}}}") + PAIR_PART
    sheet = write(tmp_path, text)
    error = one_error(grader("validate", sheet), sheet, "spec-key-unusable")
    assert "'of' must be one number for each value of the formula's variables" in error.string and "has shape (50,)" in error.string


ADJOINT_AT_A_FIXED_INPUT = """\
id: adjoint-key
exercises:
  - id: e
    inputs:
      w: {value: 0.5}
      b: {value: 2.0}
    quantities:
      g: {op: graph, nodes: {L: w*b}, inputs: {w: $w, b: $b}}
      t_b: {op: adjoint, graph: $g, node: b}
    parts:
      - id: p
        prompt: dL/db as a formula in w
        points: 1
        answer: {type: formula, variables: {w: {low: -2, high: 2}}}
        expected: {op: function, of: $t_b, variables: {w: $w}}
"""


def test_an_adjoint_at_an_input_the_points_share_is_each_point_s_own(tmp_path: Path, grader: Grader) -> None:
    """dL/db of L = w b is w at each point: with all points at once, the adjoint at b (one number for all of them)
    added up every point's w, one wrong constant (a review's sheet; validate said ok)."""
    sheet = write(tmp_path, ADJOINT_AT_A_FIXED_INPUT)
    examples = solved_key(grader, sheet)["e"]["p"]
    assert len(examples) >= 3 and all(np.isclose(point["value"], point["at"]["w"]) for point in examples), examples
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"student": "s", "answers": {"e": {"p": "w"}}}), encoding="utf-8")
    run = grader("grade", sheet, answers, "--format", "json")
    assert run.code == 0 and json.loads(run.out)["result"]["points_earned"] == 1, run.out


def test_a_kink_at_one_point_is_judged_at_that_point_alone(tmp_path: Path, grader: Grader) -> None:
    """relu(w) + exp(3w) at whole w in [-10, 10]: at w = 0 the derivative of relu is a convention, so that point is
    undefined and skipped. With all points at once, the kink audit scaled its tolerance by exp(30) of another point
    and let the convention's value stand there (a review found), failing the right formula."""
    text = ADJOINT_AT_A_FIXED_INPUT.replace("nodes: {L: w*b}, inputs: {w: $w, b: $b}", "nodes: {L: relu(w) + exp(3*w)}, inputs: {w: $w}")
    text = text.replace("node: b}", "node: w}").replace("{w: {low: -2, high: 2}}", "{w: {low: -10, high: 10, integer: true}}")
    sheet = write(tmp_path, text)
    examples = solved_key(grader, sheet)["e"]["p"]
    assert examples and all(point["at"]["w"] != 0 for point in examples), examples
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"student": "s", "answers": {"e": {"p": "relu(w)/w + 3*exp(3*w)"}}}), encoding="utf-8")
    run = grader("grade", sheet, answers, "--format", "json")
    assert run.code == 0 and json.loads(run.out)["result"]["points_earned"] == 1, run.out
