"""Shifts, equivariance, changed units and invariant shifts, against loop versions and the conv's geometry."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.engine.activations import relu
from grader.engine.conv import conv2d
from grader.engine.pool import max_pool2d
from grader.engine.symmetry import changed_units, equivariance, invariant_shifts, invariant_shifts_all, shift

SETTINGS = settings(max_examples=40, deadline=None)


def shift_naive(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(x, dtype=np.float64)
    h, w = x.shape[:2]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[i, j] = x[i - dy, j - dx]
    return out


images = hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6).flatmap(
    lambda s: hnp.arrays(np.float64, s, elements=st.integers(-5, 5).map(float))
)


@SETTINGS
@given(x=images, dy=st.integers(-7, 7), dx=st.integers(-7, 7))
def test_shift_matches_the_loop_version(x: np.ndarray, dy: int, dx: int) -> None:
    np.testing.assert_array_equal(shift(x, dy, dx), shift_naive(x, dy, dx))


def test_one_pixel_to_the_left_is_dx_minus_one() -> None:
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(shift(x, 0, -1), [[1, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0]])
    np.testing.assert_array_equal(shift(x, 1, 0)[0], [0, 0, 0, 0])


def filter_bank(seed: int, f: int, c: int, k: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, size=(f, f, c, k)).astype(np.float64)


@SETTINGS
@given(
    x=hnp.arrays(np.float64, st.tuples(st.integers(3, 7), st.integers(3, 7), st.integers(1, 2)),
                 elements=st.integers(0, 4).map(float)),  # fmt: skip
    f=st.integers(1, 3),
    seed=st.integers(0, 1000),
    dy=st.integers(-2, 2),
    dx=st.integers(-2, 2),
)
def test_stride_1_conv_breaks_equivariance_only_where_the_shifted_cell_leaves_the_grid(
    x: np.ndarray, f: int, seed: int, dy: int, dx: int
) -> None:
    w = filter_bank(seed, f, x.shape[2], 2)
    report = equivariance(lambda image: conv2d(image, w), x, dy, dx)
    out_h, out_w = x.shape[0] - f + 1, x.shape[1] - f + 1
    for i, j in report.cells:
        assert not (0 <= i - dy < out_h and 0 <= j - dx < out_w), (i, j)
    assert report.equivariant == (report.count == 0)
    assert report.total == out_h * out_w * 2 and report.output_shift == (dy, dx)
    np.testing.assert_array_equal(report.shifted_then_layer, conv2d(shift(x, dy, dx), w).value)


def test_equivariance_with_a_stride_compares_in_the_output_grid() -> None:
    x = np.zeros((8, 8, 1))
    x[2:4, 2:4, 0] = 1.0
    w = np.ones((2, 2, 1, 1))
    report = equivariance(lambda image: conv2d(image, w, stride=2), x, 2, 2, stride=2)
    assert report.output_shift == (1, 1) and report.equivariant
    with pytest.raises(ValueError, match=r"the shift \(1, 0\) is not a multiple of the stride 2"):
        equivariance(lambda image: conv2d(image, w, stride=2), x, 1, 0, stride=2)


@SETTINGS
@given(x=images, dy=st.integers(-3, 3), dx=st.integers(-3, 3))
def test_changed_units_of_the_identity_are_the_entries_that_move(x: np.ndarray, dy: int, dx: int) -> None:
    report = changed_units(lambda image: image, x, dy, dx)
    moved = shift_naive(x, dy, dx)
    assert report.positions == [tuple(int(i) for i in p) for p in np.argwhere(moved != x)]
    assert report.count == len(report.positions) and report.total == x.size
    np.testing.assert_array_equal(report.after, moved)


def conv_relu_pool(w: np.ndarray):
    return lambda image: max_pool2d(relu(conv2d(image, w)), 2, stride=2)


@settings(max_examples=15, deadline=None)
@given(
    x=hnp.arrays(np.float64, (6, 6, 1), elements=st.integers(0, 4).map(float)),
    seed=st.integers(0, 1000),
    reach=st.integers(1, 2),
)
def test_invariant_shifts_agree_with_changed_units(x: np.ndarray, seed: int, reach: int) -> None:
    layer = conv_relu_pool(filter_bank(seed, 3, 1, 2))
    table = invariant_shifts_all(layer, x, reach)
    assert len(table) == 8
    for unit, kept in table.items():
        assert invariant_shifts(layer, x, unit, reach) == kept
    tried = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1) if (dy, dx) != (0, 0)]
    for dy, dx in tried:
        changed = set(changed_units(layer, x, dy, dx).positions)
        for unit, kept in table.items():
            assert ((dy, dx) in kept) == (unit not in changed)


def test_invariant_shifts_with_an_explicit_list() -> None:
    x = np.zeros((4, 4))
    x[1, 1] = 1.0
    total = lambda image: np.array([[image.sum()]])  # noqa: E731 -- a layer whose only unit is the total
    assert invariant_shifts(total, x, (0, 0), [(0, 1), (0, 3), (2, 2), (-2, 0)]) == [(0, 1), (2, 2)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: shift(np.zeros(4), 0, 1), "shift: x must be an image (H, W) or (H, W, C), got shape (4,)"),
        (lambda: shift(np.zeros((2, 2)), 0.5, 1), "shift: dy must be a whole number of pixels, got 0.5"),
        (lambda: shift(np.full((2, 2), np.nan), 0, 1), "shift: x has non-finite entries"),
        (lambda: shift("abc", 0, 1), "shift: x must be an array of numbers"),
        (lambda: changed_units(lambda i: i.sum(), np.zeros((2, 2)), 0, 1), "2 spatial axes first, got shape ()"),
        (lambda: changed_units(3, np.zeros((2, 2)), 0, 1), "layer must be a function of an image, got int"),
        (lambda: invariant_shifts(lambda i: i, np.zeros((2, 2)), (2, 0)), "unit (2, 0) is not an index into the layer's output of shape (2, 2)"),
        (lambda: invariant_shifts(lambda i: i, np.zeros((2, 2)), (0, 0), 0), "the largest shift must be >= 1, got 0"),
        (lambda: invariant_shifts(lambda i: i, np.zeros((2, 2)), (0, 0), [(1,)]), "each shift must be a pair (dy, dx), got (1,)"),
        (lambda: equivariance(lambda i: i[:-1] if i[0, 0] else i, np.eye(3), 1, 0), "output shape changed with the shift"),
    ],
)
def test_inputs_are_validated(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    assert message in str(caught.value)
