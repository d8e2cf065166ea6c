"""``shifted``, ``translation`` and ``every_unit_has_invariant_shift`` refuse an 'of' that does not depend on the
image they move (as ``grad`` refuses an 'of' that does not depend on wrt): such a key would say nothing about the
image. An 'of' computed from the image, also through an op that returns a plain array (``shift``), is kept, and its
key is checked against a loop twin written in the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import ERROR_LINE, Grader, line_of, write

SHEET = """\
id: shift-dependence
exercises:
  - id: ex
    inputs:
      image: {value: [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 1, 0], [0, 0, 0, 0]]}
      other: {value: [[1, 2], [3, 4]]}
    quantities:
      x: {op: reshape, x: $image, shape: [4, 4, 1]}
      o: {op: reshape, x: $other, shape: [2, 2, 1]}
      moved: {op: reshape, x: {op: shift, x: $image, dx: 1}, shape: [4, 4, 1]}
      pooled: {op: max_pool2d, x: POOLED_OF, size: 2}
    parts:
      - id: count
        prompt: how many pooled units change when the image moves right?
        points: 1
        answer: {type: integer}
        expected: {op: count_changed, before: $pooled, after: {op: shifted, of: $pooled, input: $image, dx: 1}}
      - id: inv
        prompt: an invariant shift for each unit
        points: 1
        answer: {type: translation}
        expected: {op: translation, of: $pooled, input: $image, max_shift: 1}
      - id: exists
        prompt: is there one for every unit?
        points: 1
        answer: {type: boolean}
        expected: {op: every_unit_has_invariant_shift, of: $pooled, input: $image, max_shift: 1}
"""


def test_an_of_that_does_not_depend_on_the_image_is_refused_by_each_op(grader: Grader, tmp_path: Path) -> None:
    text = SHEET.replace("POOLED_OF", "$o")
    run = grader("validate", write(tmp_path, text))
    assert run.code == 2, run.err
    errors = [m for m in map(ERROR_LINE.match, run.err.splitlines()) if m]
    assert [(int(e["line"]), e["path"], e["code"]) for e in errors] == [
        (line_of(text, "op: count_changed"), "exercises[0].parts[0].expected.after", "spec-op-failed"),
        (line_of(text, "op: translation"), "exercises[0].parts[1].expected", "spec-op-failed"),
        (line_of(text, "op: every_unit_has_invariant_shift"), "exercises[0].parts[2].expected", "spec-op-failed"),
    ]
    for error, op in zip(errors, ["shifted", "translation", "every_unit_has_invariant_shift"], strict=True):
        assert error["message"].startswith(f"{op}: 'of' does not depend on image: moving image cannot change it")
        assert error["message"].endswith("use a quantity computed from $image")
    assert grader("solve", write(tmp_path, text)).code == 2


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            if 0 <= i - dy < image.shape[0] and 0 <= j - dx < image.shape[1]:
                out[i, j] = image[i - dy, j - dx]
    return out


def _pool(image: np.ndarray) -> np.ndarray:
    return np.array([[image[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max() for j in range(2)] for i in range(2)])


@pytest.mark.parametrize(("of", "layer"), [("$x", lambda img: img), ("$moved", lambda img: _shift(img, 0, 1))])
def test_an_of_computed_from_the_image_is_kept(grader: Grader, tmp_path: Path, of: str, layer: object) -> None:
    """``$moved`` reaches the image through ``shift``, an op that records no link: it still depends on it."""
    path = write(tmp_path, SHEET.replace("POOLED_OF", of))
    assert grader("validate", path).code == 0, grader("validate", path).err
    key = json.loads(grader("solve", path, "--format", "json").out)["ex"]
    image = np.array([[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 1, 0], [0, 0, 0, 0]], dtype=float)
    before = _pool(layer(image))  # type: ignore[operator]
    assert key["count"] == int(np.count_nonzero(_pool(layer(_shift(image, 0, 1))) != before))  # type: ignore[operator]
    moves = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    invariant = {
        (i, j): [m for m in moves if _pool(layer(_shift(image, *m)))[i, j] == before[i, j]]  # type: ignore[operator]
        for i in range(2) for j in range(2)
    }
    assert key["exists"] == all(invariant.values())
    for unit, shift in key["inv"].items():
        if shift is not None:
            i, j, _ = (int(k) for k in unit.split(","))
            assert tuple(shift) in invariant[(i, j)]
