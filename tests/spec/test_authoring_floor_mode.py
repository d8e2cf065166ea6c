"""Sheets may ask PyTorch-style sizes: ``floor: true`` on conv_output_size, pool_output_size, conv2d, max_pool2d and
avg_pool2d rounds the number of window positions down (the rows no window reaches are dropped); without it a size
that is not whole stays an error, which now names the option. Expected values here are computed independently with
numpy loops from the sheet's literal inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.spec.conftest import Grader, one_error, solved_key

IMAGE = np.arange(1.0, 26.0).reshape(5, 5) * np.array([[1, -1, 1, -1, 1]] * 5)  # 5x5, no ties within a window

SHEET = f"""\
id: floor-mode
exercises:
  - id: cnn
    inputs:
      x: {{value: {np.round(IMAGE, 6).reshape(5, 5, 1).tolist()}}}
      n: {{value: 55}}
      ones: {{value: [[[[1.0]], [[1.0]]], [[[1.0]], [[1.0]]]], description: "a 2x2 filter of ones"}}
    quantities:
      pooled: {{op: max_pool2d, x: $x, size: 2, floor: true}}
      loss: {{op: sum, x: {{op: mul, a: $pooled, b: $pooled}}}}
    parts:
      - id: pool_size
        prompt: the width after 3x3 max pooling with stride 2 on 55 (PyTorch)
        points: 1
        answer: {{type: integer}}
        expected: {{op: pool_output_size, n: $n, size: 3, stride: 2, floor: true}}
      - id: conv_size
        prompt: the width after a 3x3 convolution with stride 2 on 6, no padding (PyTorch)
        points: 1
        answer: {{type: integer}}
        expected: {{op: conv_output_size, n: 6, f: 3, stride: 2, floor: true}}
      - id: pooled
        prompt: 2x2 max pooling of the 5x5 image (the last row and column are dropped)
        points: 1
        answer: {{type: array}}
        expected: $pooled
      - id: grad
        prompt: dL/dx for L = the sum of the squared pooled values
        points: 1
        answer: {{type: array}}
        expected: {{op: grad, of: $loss, wrt: $x}}
      - id: conv
        prompt: the 5x5 image convolved with a 2x2 filter of ones at stride 2
        points: 1
        answer: {{type: array}}
        expected: {{op: conv2d, x: $x, w: $ones, stride: 2, floor: true}}
"""


def test_floor_mode_keys_match_numpy_loops(tmp_path: Path, grader: Grader) -> None:
    path = tmp_path / "sheet.yaml"
    path.write_text(SHEET, encoding="utf-8")
    key = solved_key(grader, path)["cnn"]
    assert key["pool_size"] == (55 - 3) // 2 + 1 == 27
    assert key["conv_size"] == (6 - 3) // 2 + 1 == 2
    image = np.round(IMAGE, 6)
    pooled = np.array([[image[2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(np.array(key["pooled"])[:, :, 0], pooled)
    grad = np.zeros((5, 5))
    for i in range(2):
        for j in range(2):
            window = image[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            r, c = np.unravel_index(np.argmax(window), (2, 2))
            grad[2 * i + r, 2 * j + c] = 2 * pooled[i, j]
    np.testing.assert_allclose(np.array(key["grad"])[:, :, 0], grad)
    assert not grad[4].any() and not grad[:, 4].any()  # the dropped row and column get no gradient
    conv = np.array([[image[2 * i:2 * i + 2, 2 * j:2 * j + 2].sum() for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(np.array(key["conv"])[:, :, 0], conv)


def test_without_floor_a_size_that_is_not_whole_names_the_option(tmp_path: Path, grader: Grader) -> None:
    path = tmp_path / "sheet.yaml"
    path.write_text(SHEET.replace("size: 3, stride: 2, floor: true", "size: 3, stride: 2"), encoding="utf-8")
    path.write_text(path.read_text().replace("n: $n, size: 3", "n: 56, size: 3"), encoding="utf-8")
    error = one_error(grader("validate", path), path, "spec-op-failed")
    assert error["message"].endswith(
        "pool_output_size: (n - size)/s + 1 = (56 - 3)/2 + 1 = 27.5 is not a whole number (floor: true rounds it "
        "down, dropping the rows the last window cannot reach, as PyTorch does)"
    ), error.string


def test_floor_must_be_true_or_false(tmp_path: Path, grader: Grader) -> None:
    path = tmp_path / "sheet.yaml"
    path.write_text(SHEET.replace("stride: 2, floor: true}", "stride: 2, floor: 1}", 1), encoding="utf-8")
    error = one_error(grader("validate", path), path, "spec-op-failed")
    assert "floor must be true or false, got 1" in error["message"], error.string
