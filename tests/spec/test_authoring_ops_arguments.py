"""Arguments of the ops that an author writes wrong: each is one located error naming the argument, never a number
made of ``true`` or of text, never a traceback or an internal error (review of the classification ops)."""

from __future__ import annotations

from pathlib import Path

import pytest

import numpy as np

from .conftest import Grader, line_of, solved_key, validate_errors, write

Z = [[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]
"""The input z of SHEET, from which the tests compute the values they expect."""
SHEET = """\
id: args
exercises:
  - id: e
    inputs:
      z: {value: Z_VALUES}
      k: {value: 1}
      s: {value: 0.5}
      img: {value: [[1.0, 2.0, 0.5, 0.1], [0.3, -1.0, 2.0, 0.4], [0.0, 1.0, -2.0, 0.7], [1.1, 1.2, 1.3, 1.4]]}
    quantities:
      x: {op: reshape, x: $img, shape: [4, 4, 1]}
      w: {op: reshape, x: [[1, 0], [0, -1]], shape: [2, 2, 1, 1]}
    parts:
      - {id: q, prompt: q, points: 1, answer: {type: ANSWER}, expected: EXPRESSION}
""".replace("Z_VALUES", str(Z))


def _sheet(tmp_path: Path, expression: str, answer: str = "array") -> tuple[Path, str]:
    text = SHEET.replace("EXPRESSION", expression).replace("ANSWER", answer)
    return write(tmp_path, text), text


@pytest.mark.parametrize(
    ("expression", "fragments"),
    [
        ("{op: sum, x: $z, axis: true}", ["sum: axis must be a whole number, got true"]),
        ("{op: sum, x: $z, axis: []}", ["sum: axis: [] names no axis; leave axis out to use every axis"]),
        ("{op: sum, x: $z, axis: [[0]]}", ["each entry of axis must be a single whole number, got the list [0]"]),
        ("{op: sum, x: $z, axis: one}", ["sum: axis must be a whole number, got 'one'"]),
        ("{op: softmax, x: $z, axis: [0]}", ["softmax: axis must be a single whole number, got the list [0]"]),
        ("{op: softmax, x: $z, axis: 2}", ["softmax: axis 2 does not exist: the array has 2 axes"]),
        ("{op: cross_entropy, logits: $z, target: [0, 1], reduction: avg}", ["reduction must be one of mean, sum, none, got 'avg'"]),
        ("{op: cross_entropy, logits: $z, target: [0, 3]}", ["target[1] = 3 is not a class: a whole number from 0 to 2"]),
        ("{op: cross_entropy, logits: $z, target: [0, 1, 2]}", ["target must have the shape of logits without axis 1 (2,)"]),
        ("{op: matmul, a: $z, b: $z}", ["matmul: the inner lengths differ: a (2, 3) has 3 columns but b (2, 3) has 2 rows"]),
        ("{op: conv2d, x: $x, w: $w, stride: true}", ["stride must be a whole number, got true"]),
        ("{op: stack, items: [$z, $z], axis: zero}", ["stack: axis must be a whole number, got 'zero'"]),
        ("{op: changed_mask, before: $z, after: $z, atol: yes}", ["changed_mask: atol must be a number, got 'yes'"]),
    ],
)
def test_a_wrong_argument_is_one_located_error(tmp_path: Path, grader: Grader, expression: str, fragments: list[str]) -> None:
    path, text = _sheet(tmp_path, expression)
    [error] = validate_errors(grader, path)
    assert error["line"] == str(line_of(text, "{id: q,")), error
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


def test_scalar_quantities_are_fine_as_axis_and_atol(tmp_path: Path, grader: Grader) -> None:
    """$k (1) as stack's and sum's axis and $s (0.5) as count_changed's atol: inputs that are single numbers."""
    path, _ = _sheet(tmp_path, "{op: stack, items: [{op: sum, x: $z, axis: $k}, {op: sum, x: $z, axis: [$k]}], axis: $k}")
    row_sums = np.asarray(Z).sum(axis=1)
    np.testing.assert_allclose(solved_key(grader, path)["e"]["q"], np.stack([row_sums, row_sums], axis=1), rtol=1e-12)
    path, _ = _sheet(tmp_path, "{op: count_changed, before: $z, after: {op: mul, a: $z, b: 2}, atol: $s}", "integer")
    z = np.asarray(Z)
    assert solved_key(grader, path)["e"]["q"] == np.count_nonzero(np.abs(z - 2 * z) > 0.5)


def test_an_overflowing_matmul_is_one_error_without_numpy_warnings(tmp_path: Path, grader: Grader) -> None:
    path, _ = _sheet(tmp_path, "{op: matmul, a: [[1.0e200, 1.0e200]], b: [[1.0e200], [1.0e200]]}")
    run = grader("validate", path)
    assert run.code == 2 and "RuntimeWarning" not in run.err, run.err
    assert "matmul: the result is not finite" in run.err


def test_a_translation_reach_beyond_the_image_is_refused(tmp_path: Path, grader: Grader) -> None:
    """A shift of 4 moves a 4x4 image out of view: larger reaches cost (2r + 1)^2 runs for nothing (a student's
    number flowing into max_shift through a follow_through could make it millions)."""
    conv = "{op: conv2d, x: $x, w: $w}"
    path, _ = _sheet(tmp_path, f"{{op: every_unit_has_invariant_shift, of: {conv}, input: $img, max_shift: 5}}", "boolean")
    [error] = validate_errors(grader, path)
    assert "the largest shift 5 moves the 4x4 image out of view (so does 4); use at most 4" in error["message"]
    path, _ = _sheet(tmp_path, f"{{op: every_unit_has_invariant_shift, of: {conv}, input: $img, max_shift: 4}}", "boolean")
    assert grader("validate", path).code == 0


def test_a_number_written_with_a_leading_zero_is_still_a_number(tmp_path: Path, grader: Grader) -> None:
    """YAML 1.2 keeps 010 as text (ids like 0123 stay ids); numeric arguments read decimal text as its number."""
    path, _ = _sheet(tmp_path, "{op: sum, x: $z, axis: 01}")
    np.testing.assert_allclose(solved_key(grader, path)["e"]["q"], np.asarray(Z).sum(axis=1), rtol=1e-12)


def test_a_negative_position_of_the_sheets_own_counts_from_the_end(tmp_path: Path, grader: Grader) -> None:
    """``at: [1, -1]`` and ``at: [1, 0 - k]`` (k = 1, a quantity: an off-by-one mistake ``pred - 1`` at pred = 0 is
    one) are the last entry of row 1, as in Python; only a position computed from a student's answer followed
    through must be a place (tests/test_follow_through.py)."""
    for position in ("-1", "{op: sub, a: 0, b: $k}"):
        path, _ = _sheet(tmp_path, f"{{op: index, x: $z, at: [1, {position}]}}", "number")
        assert solved_key(grader, path)["e"]["q"] == Z[1][-1]
