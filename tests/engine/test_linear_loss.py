"""dense (the sheet's Eq. 3 over a whole volume) and mse_loss: loop twins, central differences, bad inputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine import Tensor, dense, mse_loss
from grader.engine.gradcheck import check_gradients
from tests.engine.naive import dense_naive

TOLERANCE = 1e-6


@settings(max_examples=30, deadline=None)
@given(
    volume=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
    outputs=st.integers(1, 3),
    batch=st.sampled_from([None, 1, 2]),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_dense_matches_loops_and_central_differences(
    volume: tuple[int, ...], outputs: int, batch: int | None, with_bias: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    h = rng.standard_normal(volume if batch is None else (batch, *volume))
    v = rng.standard_normal((*volume, outputs))
    b = rng.standard_normal(outputs) if with_bias else None
    out = dense(h, v, b)
    expected = dense_naive(h, v, b)
    assert out.shape == expected.shape == ((outputs,) if batch is None else (batch, outputs))
    np.testing.assert_allclose(out.value, expected, rtol=1e-12, atol=1e-12)
    probe = rng.standard_normal(out.shape)
    inputs = {"h": h, "v": v} | ({"b": b} if b is not None else {})
    errors = check_gradients(lambda h, v, b=None: (dense(h, v, b) * probe).sum(), inputs)
    assert max(errors.values()) < TOLERANCE, errors


def test_dense_on_a_volume_is_the_sheets_sum_over_ijk() -> None:
    rng = np.random.default_rng(7)
    h, v = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2, 4))
    y = dense(h, v).value
    np.testing.assert_allclose(y, np.einsum("ijko,ijk->o", v, h), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 3), max_size=3).map(tuple), seed=st.integers(0, 2**32 - 1))
def test_mse_loss_value_and_gradients(shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, target = rng.standard_normal(shape), rng.standard_normal(shape)
    loss = mse_loss(y, target)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), 0.5 * np.sum((target - y) ** 2), rtol=1e-12)
    errors = check_gradients(lambda y, target: mse_loss(y, target), {"y": y, "target": target})
    assert max(errors.values()) < TOLERANCE, errors


def test_mse_loss_gradient_is_y_minus_target() -> None:
    y = Tensor(np.array([1.0, -2.0, 0.5]))
    mse_loss(y, np.array([0.0, 1.0, 0.5])).backward()
    np.testing.assert_array_equal(y.grad, [1.0, -3.0, 0.0])


@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda: dense(np.zeros((2, 3)), np.zeros((3, 2, 4))), ["dense", "leading axes of v (3, 2)", "h (2, 3)"]),
        (lambda: dense(np.zeros((5, 2, 3)), np.zeros((2, 4, 1))), ["dense", "batch axis (2, 3)", "(2, 4, 1)"]),
        (lambda: dense(np.zeros((2, 3)), np.zeros((2, 3, 4, 5))), ["dense", "rank 2", "rank 4"]),
        (lambda: dense(np.zeros(3), np.zeros(3)), ["dense: v", "at least 2 axes", "(3,)"]),
        (lambda: dense(np.zeros(3), np.zeros((3, 2)), np.zeros(3)), ["dense: b", "(2,)", "(3,)"]),
        (lambda: dense(np.array([1.0, np.nan]), np.zeros((2, 2))), ["dense: h", "non-finite", "[1]"]),
        (lambda: mse_loss(np.zeros(3), np.zeros((3, 1))), ["mse_loss", "y (3,)", "target (3, 1)"]),
        (lambda: mse_loss(np.zeros(2), np.array([0.0, np.inf])), ["mse_loss: target", "non-finite"]),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(call: Callable[[], object], fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
