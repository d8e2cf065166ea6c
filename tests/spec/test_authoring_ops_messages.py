"""Messages an author reads: a gradient of a gradient says second-order gradients are not supported (not "'of' does
not depend on x"), and ``max_pool_winners`` speaks under its own name only (not the engine's max_pool2d_ties).
Each through the real command line, one located line per fault.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import Grader, line_of, write

SECOND_ORDER = """\
id: second-order
exercises:
  - id: ex
    inputs:
      x: {value: [1, -2, 3], random: {dist: normal, shape: [3]}}
      y: {value: [0.5, 0.5, 0.5]}
    quantities:
      h: {op: tanh, x: $x}
      loss: {op: sum, x: {op: square, x: $h}}
      g: {op: grad, of: $loss, wrt: $x}
    parts:
      - {id: p, prompt: q, points: 1, answer: {type: array}, expected: EXPECTED}
"""


@pytest.mark.parametrize(
    "expected",
    [
        "{op: grad, of: {op: sum, x: $g}, wrt: $x}",  # only through the gradient: it looked independent of x
        "{op: grad, of: {op: sum, x: {op: mul, a: $g, b: $x}}, wrt: $x}",  # also directly: a silently wrong key
        "{op: grad, of: {op: sum, x: {op: index, x: {op: grad, of: $loss, wrt: $x}, at: [null]}}, wrt: $x}",
    ],
)
def test_a_gradient_of_a_gradient_is_refused_as_second_order(grader: Grader, tmp_path: Path, expected: str) -> None:
    text = SECOND_ORDER.replace("EXPECTED", expected)
    run = grader("validate", write(tmp_path, text))
    assert run.code == 2, run.err
    (error,) = run.errors
    assert int(error["line"]) == line_of(text, "id: p") and error["path"] == "exercises[0].parts[0].expected"
    assert error["code"] == "spec-op-failed"
    assert error["message"].startswith("grad: second-order gradients are not supported: 'of' is computed from a gradient")
    assert "depends on x" in error["message"] and "does not depend" not in error["message"]


def test_a_gradient_used_as_a_constant_for_another_input_is_kept(grader: Grader, tmp_path: Path) -> None:
    """d/dy sum(g * y) = g when g does not depend on y: first order, the derivative written out in the test."""
    path = write(tmp_path, SECOND_ORDER.replace("EXPECTED", "{op: grad, of: {op: sum, x: {op: mul, a: $g, b: $y}}, wrt: $y}"))
    assert grader("validate", path).code == 0
    key = json.loads(grader("solve", path, "--format", "json").out)["ex"]["p"]
    x = np.array([1.0, -2.0, 3.0])
    assert key == pytest.approx(2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rel=1e-12)  # d/dx sum(tanh(x)^2)


def test_an_unrelated_of_still_says_it_does_not_depend(grader: Grader, tmp_path: Path) -> None:
    text = SECOND_ORDER.replace("EXPECTED", "{op: grad, of: {op: sum, x: $y}, wrt: $x}")
    (error,) = grader("validate", write(tmp_path, text)).errors
    assert error["message"] == (
        "grad: 'of' does not depend on x through any differentiable path (an input used only as a class index, a "
        "position or in a comparison has no gradient)"
    )


WINNERS = """\
id: winners
exercises:
  - id: ex
    inputs:
      x: {value: [[1.5, 2, 0, 3], [4, 1, 1.25, 2.5], [0.5, 0, 2, 1], [3, 1, 0.25, 0.75]]}
    parts:
      - {id: a, prompt: q, points: 1, answer: {type: array}, expected: {op: max_pool_winners, X}}
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("x: $x, size: 2", "max_pool_winners: x must be (H, W, C) or (N, H, W, C), got shape (4, 4) (rank 2)"),
        ("x: {op: reshape, x: $x, shape: [4, 4, 1]}, size: 0", "max_pool_winners: size must be >= 1, got 0"),
        ("x: {op: reshape, x: $x, shape: [4, 4, 1]}, size: 2, stride: 0", "max_pool_winners: stride must be >= 1, got 0"),
    ],
)
def test_max_pool_winners_speaks_under_its_own_name(grader: Grader, tmp_path: Path, args: str, message: str) -> None:
    (error,) = grader("validate", write(tmp_path, WINNERS.replace("X", args))).errors
    assert error["message"] == message and "max_pool2d_ties" not in error["message"]


def test_grad_of_an_argmax_says_a_position_has_no_derivative(grader: Grader, tmp_path: Path) -> None:
    """An argmax is a whole-number position: grad of it is refused for that reason, not as "not a scalar, got
    shape ()" (review)."""
    text = SECOND_ORDER.replace("EXPECTED", "{op: grad, of: {op: argmax, x: $x}, wrt: $x}")
    (error,) = grader("validate", write(tmp_path, text)).errors
    assert error["message"] == (
        "grad: 'of' must be a scalar quantity of the graph (a loss); it is a position (argmax's or argmin's "
        "whole-number index), which has no derivative"
    )


NAMED_OP_AND_CREDIT = """\
id: named-op
exercises:
  - id: ex
    inputs:
      n: {value: 3}
    quantities:
      q: {op: OP, x: $n}
    parts:
      - id: p
        prompt: q
        points: 1
        answer: {type: number}
        expected: $q
        mistakes:
          - {id: m, expected: {op: add, a: $n, b: 1}, feedback: m, credit: CREDIT}
"""


@pytest.mark.parametrize(("op", "meant"), [("ReLU", "'relu'"), ("Sigmoid", "'sigmoid'"), ("maxpool2d", "'max_pool2d'")])
def test_an_operation_in_other_letters_names_the_one_meant(grader: Grader, tmp_path: Path, op: str, meant: str) -> None:
    sheet = write(tmp_path, NAMED_OP_AND_CREDIT.replace("OP", op).replace("CREDIT", "0.5"))
    run = grader("validate", sheet)
    assert run.code == 2 and len(run.errors) == 1, run.err
    assert run.errors[0]["message"].startswith(f"unknown operation {op!r} (did you mean {meant}")


@pytest.mark.parametrize(("credit", "tail"), [("1", "make it the expected answer"), ("-0.5", "got -0.5"), ("2", "got 2")])
def test_a_credit_outside_its_range_says_what_credit_is(grader: Grader, tmp_path: Path, credit: str, tail: str) -> None:
    sheet = write(tmp_path, NAMED_OP_AND_CREDIT.replace("OP", "relu").replace("CREDIT", credit))
    run = grader("validate", sheet)
    assert run.code == 2 and [e["code"] for e in run.errors] == ["spec-range"], run.err
    error = run.errors[0]
    assert error["path"] == "exercises[0].parts[0].mistakes[0].credit" and int(error["line"]) == line_of(sheet.read_text(), "credit:")
    assert error["message"].startswith("credit is the share of the part's points this mistake still earns") and tail in error["message"]
