"""The gradient checker itself: central differences are right, and a wrong VJP is caught."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import Tensor, sin
from grader.engine.gradcheck import check_gradients, numerical_gradient, relative_error


def test_numerical_gradient_of_known_functions() -> None:
    x = np.array([[0.3, -1.2], [2.0, 0.0]])
    np.testing.assert_allclose(numerical_gradient(lambda p: float(np.sum(p**2)), x), 2 * x, atol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda p: float(np.sum(np.sin(p))), x), np.cos(x), atol=1e-8)


def test_numerical_gradient_leaves_the_callers_array_alone() -> None:
    x = np.array([1.0, 2.0])
    numerical_gradient(lambda p: float(p @ p), x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_relative_error_is_absolute_below_one_and_relative_above() -> None:
    assert relative_error(np.array([1e-3]), np.array([2e-3])) == pytest.approx(1e-3)
    assert relative_error(np.array([100.0]), np.array([101.0])) == pytest.approx(1 / 101)
    with pytest.raises(ValueError, match=r"actual \(2,\) vs expected \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_check_gradients_passes_a_correct_graph() -> None:
    rng = np.random.default_rng(0)
    inputs = {"a": rng.standard_normal(4), "b": rng.standard_normal(4)}
    errors = check_gradients(lambda a, b: (sin(a * b) + a * a).sum(), inputs)
    assert set(errors) == {"a", "b"}
    assert max(errors.values()) < 1e-8


def test_check_gradients_catches_a_wrong_vjp() -> None:
    def doubled_with_wrong_vjp(x: Tensor) -> Tensor:
        return Tensor.from_op(2.0 * x.value, "double", (x,), lambda g: (3.0 * g,))  # should be 2 g

    errors = check_gradients(lambda x: doubled_with_wrong_vjp(x).sum(), {"x": np.ones(3)})
    assert errors["x"] == pytest.approx(1 / 3, rel=1e-6)  # |3 - 2| / max(1, 3, 2)


def test_check_gradients_needs_a_scalar_output() -> None:
    with pytest.raises(ValueError, match=r"scalar Tensor, got \(3,\)"):
        check_gradients(lambda x: x * 2.0, {"x": np.ones(3)})
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_gradient(lambda p: 0.0, np.ones(2), eps=0.0)


def test_numerical_gradient_of_a_transposed_array() -> None:
    # A non-contiguous input must still be perturbed entry by entry (regression: a flat copy was perturbed).
    x = np.arange(6.0).reshape(2, 3).T
    weights = np.arange(1.0, 7.0).reshape(3, 2)
    np.testing.assert_allclose(numerical_gradient(lambda p: float(np.sum(p * weights)), x), weights, atol=1e-8)
