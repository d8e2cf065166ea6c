"""greater, less, argmax and argmin refuse a key that rounding decides, also when the rounding error was made before
the last op: s = (a + b) - c is 0 in decimal and 1.8e-12 in float64, and the comparison of s (or -s) with 0 had
compared it with an absolute tolerance of 1e-12 only, giving keys true, true and 'y1' where the answers are false,
false and a tie (found by a review; the relu kink check already refused the same value)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.engine import Tensor, add, div, exp, mul, neg, sum_all
from grader.engine.graph import rounding_error_units
from tests.spec.conftest import Grader, solved_key, validate_errors

SHEET = """\
id: rounding-decided
exercises:
  - id: e
    inputs: {a: {value: 3333.3}, b: {value: 6666.6}, c: {value: 9999.9}, small: {value: 1.0e-6}}
    quantities:
      s: {op: sub, a: {op: add, a: $a, b: $b}, b: $c}
      y: {op: stack, items: [$s, 0, -1], axis: 0}
    parts:
      - {id: pos, prompt: "s > 0", points: 1, answer: {type: boolean}, expected: {op: greater, a: $s, b: 0}}
      - {id: neg, prompt: "-s < 0", points: 1, answer: {type: boolean}, expected: {op: less, a: {op: neg, x: $s}, b: 0}}
      - {id: w, prompt: "the largest", points: 1, answer: {type: choice, options: [y1, y2, y3]}, expected: {op: option, at: {op: argmax, x: $y}}}
"""


def test_each_comparison_that_rounding_decides_is_refused_at_its_part(tmp_path: Path, grader: Grader) -> None:
    path = tmp_path / "sheet.yaml"
    path.write_text(SHEET, encoding="utf-8")
    errors = validate_errors(grader, path)
    assert [(e["path"], e["code"]) for e in errors] == [
        ("exercises[0].parts[0].expected", "spec-op-failed"),
        ("exercises[0].parts[1].expected", "spec-op-failed"),
        ("exercises[0].parts[2].expected.at", "spec-op-failed"),
    ]
    assert "would be decided by rounding error" in errors[1]["message"]
    assert "entries 0, 1 tie for the largest value" in errors[2]["message"]


def test_small_numbers_given_as_they_are_are_still_compared(tmp_path: Path, grader: Grader) -> None:
    """An input is exact: 1e-6 > 0, and its negation < 0, are decided by the numbers, not by rounding."""
    path = tmp_path / "sheet.yaml"
    path.write_text(
        SHEET.replace("{op: greater, a: $s, b: 0}", "{op: greater, a: $small, b: 0}")
        .replace("{op: less, a: {op: neg, x: $s}, b: 0}", "{op: less, a: {op: neg, x: $small}, b: 0}")
        .replace("items: [$s, 0, -1]", "items: [$small, 0, -1]"),
        encoding="utf-8",
    )
    assert solved_key(grader, path)["e"] == {"pos": True, "neg": True, "w": "y1"}


def test_rounding_errors_are_carried_to_first_order_entry_by_entry_and_spread_by_a_sum() -> None:
    """In units of float64's precision: an input is exact; a + b rounds by |a + b| and carries its operands' errors;
    a negation is exact; a product scales them by the other factor; a sum of n terms may round each of them and
    carry each one's error; exp(z)/sum(exp(z)) stays a few units however large exp(z) is (the largest number of the
    computation had been taken as its error: 0.62 tied 1.3e-9)."""
    a, b = Tensor(np.array([1000.0, 1.0]), name="a"), Tensor(np.array([-999.0, 2.0]), name="b")
    total = add(a, b)  # [1, 3]
    assert rounding_error_units(a).tolist() == [0.0, 0.0]
    assert rounding_error_units(total).tolist() == [1.0, 3.0]
    assert rounding_error_units(neg(total)).tolist() == [1.0, 3.0]
    assert rounding_error_units(mul(total, Tensor(np.array([10.0, 10.0])))).tolist() == [20.0, 60.0]
    assert float(rounding_error_units(sum_all(total))) == 2 * (3.0 + 3.0) + 4.0  # 2 terms, each up to 3 and 3 off
    z = Tensor(np.array([20.0, 19.5, 0.0]), name="z")
    ez = exp(z)
    p = div(ez, sum_all(ez))
    assert np.all(rounding_error_units(p) < 10)


SOFTMAX = """\
id: softmax-written-out
exercises:
  - id: e
    inputs: {z: {value: [20.0, 19.5, 0.0]}}
    quantities:
      ez: {op: exp, x: $z}
      p: {op: div, a: $ez, b: {op: sum, x: $ez}}
    parts:
      - {id: top, prompt: "most probable class", points: 1, answer: {type: choice, options: [c0, c1, c2]}, expected: {op: option, at: {op: argmax, x: $p}}}
      - {id: p01, prompt: "p0 > p1", points: 1, answer: {type: boolean}, expected: {op: greater, a: {op: index, x: $p, at: [0]}, b: {op: index, x: $p, at: [1]}}}
"""


def test_a_softmax_written_out_is_compared_by_its_values(tmp_path: Path, grader: Grader) -> None:
    path = tmp_path / "sheet.yaml"
    path.write_text(SOFTMAX, encoding="utf-8")
    assert solved_key(grader, path)["e"] == {"top": "c0", "p01": True}


REVIEWED = """\
id: reviewed-comparisons
exercises:
  - id: e
    inputs:
      x: {value: [3333.3, 6666.6, -9999.9]}
      r: {value: [0.0, 3.0, 4.0]}
      z: {value: [-29.5, -25.0]}
    quantities:
      sq: {op: pow, a: $r, b: 2}
      lls: {op: log, x: {op: sigmoid, x: $z}}
    parts:
      - {id: summed, prompt: "sum > 0", points: 1, answer: {type: boolean}, expected: {op: greater, a: {op: sum, x: $x}, b: 0}}
      - {id: squares, prompt: "sum of squares > 20", points: 1, answer: {type: boolean}, expected: {op: greater, a: {op: sum, x: $sq}, b: 20}}
      - {id: largest, prompt: "largest square", points: 1, answer: {type: choice, options: [r0, r1, r2]}, expected: {op: option, at: {op: argmax, x: $sq}}}
      - {id: likely, prompt: "more likely", points: 1, answer: {type: choice, options: [z0, z1]}, expected: {op: option, at: {op: argmax, x: $lls}}}
"""


def test_a_cancelling_sum_is_refused_and_zeros_and_saturated_sigmoids_are_not_ties(tmp_path: Path, grader: Grader) -> None:
    """A review's cases: 3333.3 + 6666.6 - 9999.9 summed by ``sum`` is rounding (a sum carries its terms' rounding);
    squares of [0, 3, 4] and log(sigmoid(-29.5)) against log(sigmoid(-25)) are clear (a slope at 0 or a saturated
    sigmoid had made the estimate infinite or huge)."""
    path = tmp_path / "sheet.yaml"
    path.write_text(REVIEWED, encoding="utf-8")
    errors = validate_errors(grader, path)
    assert [e["path"] for e in errors] == ["exercises[0].parts[0].expected"], errors
    path.write_text(REVIEWED.replace("      - {id: summed,", "      - {id: summed_out,").replace("{op: greater, a: {op: sum, x: $x}, b: 0}", "{op: greater, a: 1, b: 0}"), encoding="utf-8")
    assert solved_key(grader, path)["e"] == {"summed_out": True, "squares": True, "largest": "r2", "likely": "z1"}
