"""grad through ``shift`` and ``shifted``. ``shift`` had returned a plain array and ``shifted`` recomputed its quantity
on copies of all the inputs, so a loss with a translation-consistency term got the gradient of its other term only
(validate said ok). Now ``shift`` passes the gradient back, ``shifted``'s quantity shares the inputs it does not move
(so grad follows them), and grad refuses to follow the moved copy itself, naming ``shift`` as the way to write it. The
expected gradients here are central differences of the same loss written with numpy loops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.spec.conftest import Grader, solved_key

RNG = np.random.default_rng(7)
X = np.round(RNG.normal(size=(4, 5, 1)), 3)
W = np.round(RNG.normal(size=(2, 2, 1, 1)), 3)
T = np.round(RNG.normal(size=(3, 4, 1)), 3)

SHEET = f"""\
id: grad-through-shifts
exercises:
  - id: e
    inputs:
      x: {{value: {X.tolist()}}}
      w: {{value: {W.tolist()}}}
      t: {{value: {T.tolist()}}}
    quantities:
      c: {{op: conv2d, x: $x, w: $w}}
      fit: {{op: mse_loss, y: $c, target: $t}}
      consistency: {{op: sum, x: {{op: square, x: {{op: sub, a: {{op: shifted, of: $c, input: $x, dx: 1}}, b: {{op: shift, x: $c, dx: 1}}}}}}}}
      written_with_shift: {{op: sum, x: {{op: square, x: {{op: sub, a: {{op: conv2d, x: {{op: shift, x: $x, dx: 1}}, w: $w}}, b: {{op: shift, x: $c, dx: 1}}}}}}}}
      moved: {{op: sum, x: {{op: square, x: {{op: shift, x: $c, dy: 1, dx: -1}}}}}}
      loss: {{op: add, a: $fit, b: $consistency}}
      loss_shift: {{op: add, a: $fit, b: $written_with_shift}}
      loss_moved: {{op: add, a: $fit, b: $moved}}
    parts:
      - {{id: loss_w, prompt: dL/dw, points: 1, answer: {{type: array}}, expected: {{op: grad, of: $loss, wrt: $w}}}}
      - {{id: loss_x, prompt: dL/dx, points: 1, answer: {{type: array}}, expected: {{op: grad, of: $loss_shift, wrt: $x}}}}
      - {{id: loss_shift_w, prompt: dL/dw, points: 1, answer: {{type: array}}, expected: {{op: grad, of: $loss_shift, wrt: $w}}}}
      - {{id: moved_w, prompt: dL/dw, points: 1, answer: {{type: array}}, expected: {{op: grad, of: $loss_moved, wrt: $w}}}}
      - {{id: moved_x, prompt: dL/dx, points: 1, answer: {{type: array}}, expected: {{op: grad, of: $loss_moved, wrt: $x}}}}
"""


def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x (H, W, C), w (f, f, C, K) -> (H - f + 1, W - f + 1, K), cross-correlation by loops."""
    f, k = w.shape[0], w.shape[3]
    out = np.zeros((x.shape[0] - f + 1, x.shape[1] - f + 1, k))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for kk in range(k):
                out[i, j, kk] = np.sum(x[i:i + f, j:j + f, :] * w[:, :, :, kk])
    return out


def shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """a (H, W, ...) moved dy rows down and dx columns right, zero-filled, by loops."""
    out = np.zeros_like(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if 0 <= i - dy < a.shape[0] and 0 <= j - dx < a.shape[1]:
                out[i, j] = a[i - dy, j - dx]
    return out


def loss(x: np.ndarray, w: np.ndarray) -> float:
    c = conv(x, w)
    return 0.5 * float(np.sum((T - c) ** 2)) + float(np.sum((conv(shift(x, 0, 1), w) - shift(c, 0, 1)) ** 2))


def loss_moved(x: np.ndarray, w: np.ndarray) -> float:
    c = conv(x, w)
    return 0.5 * float(np.sum((T - c) ** 2)) + float(np.sum(shift(c, 1, -1) ** 2))


def central_differences(function, x: np.ndarray, w: np.ndarray, wrt: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """d function / d (x or w) by central differences, shaped like it."""
    point = {"x": x, "w": w}
    gradient = np.zeros_like(point[wrt])
    for index in np.ndindex(gradient.shape):
        up, down = {k: v.copy() for k, v in point.items()}, {k: v.copy() for k, v in point.items()}
        up[wrt][index] += 1e-6
        down[wrt][index] -= 1e-6
        gradient[index] = (function(up["x"], up["w"]) - function(down["x"], down["w"])) / 2e-6
    return gradient


@pytest.mark.parametrize(("part", "function", "wrt"), [
    ("loss_w", loss, "w"), ("loss_x", loss, "x"), ("loss_shift_w", loss, "w"), ("moved_w", loss_moved, "w"),
    ("moved_x", loss_moved, "x"),
])
def test_grad_counts_the_paths_through_shift_and_shifted(tmp_path: Path, grader: Grader, part: str, function, wrt: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sheet.yaml"
    path.write_text(SHEET, encoding="utf-8")
    key = np.array(solved_key(grader, path)["e"][part])
    reference = central_differences(function, X, W, wrt)
    assert np.allclose(key, reference, rtol=1e-6, atol=1e-6), (key.ravel(), reference.ravel())


def test_grad_refuses_to_follow_a_moved_copy_of_its_input(tmp_path: Path, grader: Grader) -> None:
    """dL/dx through ``shifted`` would need the gradient through the moved copy of x: refused at the part, naming
    ``shift``, where it had been left out of the key."""
    path = tmp_path / "sheet.yaml"
    path.write_text(SHEET.replace("{op: grad, of: $loss_shift, wrt: $x}", "{op: grad, of: $loss, wrt: $x}"), encoding="utf-8")
    run = grader("validate", path)
    assert run.code == 2 and "exercises[0].parts[1].expected: grad: part of 'of' is computed again with x moved (shifted)" in run.err
    assert "write the moved computation with {op: shift, x: $x, ...} as its input instead" in run.err
