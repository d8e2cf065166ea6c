"""Elementwise functions: values against numpy, adjoints against central differences, tie rules, domains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.engine.activations import absolute, cos, exp, log, maximum, minimum, relu, sigmoid, sin, tanh
from grader.engine.gradcheck import numerical_gradient
from grader.engine.tensor import Tensor, mul, sum_all

SETTINGS = settings(max_examples=30, deadline=None)


def grid_arrays(shape: tuple[int, ...], low: int, high: int, offset: float) -> st.SearchStrategy[np.ndarray]:
    """Entries k/4 + offset for whole k in [low, high]: with offset 0.1 never exactly 0, and two arrays with
    different offsets never tie (so relu, abs, max and min are differentiable at every drawn point)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(low, high)).map(lambda k: k / 4.0 + offset)


UNARY: dict[str, tuple[Callable, Callable, int, int]] = {
    # name: (engine op, numpy oracle, domain as k range for k/4 + 0.1)
    "sin": (sin, np.sin, -16, 16),
    "cos": (cos, np.cos, -16, 16),
    "exp": (exp, np.exp, -12, 12),
    "log": (log, np.log, 0, 20),  # x > 0
    "tanh": (tanh, np.tanh, -16, 16),
    "sigmoid": (sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), -16, 16),
    "relu": (relu, lambda x: np.maximum(x, 0.0), -16, 16),
    "abs": (absolute, np.abs, -16, 16),
}


def adjoint_and_central(op: Callable, oracle: Callable, arrays: list[np.ndarray], weights: np.ndarray):
    leaves = [Tensor(a) for a in arrays]
    out = op(*leaves)
    sum_all(mul(out, weights)).backward()
    central = []
    for i in range(len(arrays)):

        def f(point: np.ndarray, i: int = i) -> float:
            return float((oracle(*[point if j == i else a for j, a in enumerate(arrays)]) * weights).sum())

        central.append(numerical_gradient(f, arrays[i]))
    return out, [leaf.grad for leaf in leaves], central


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary_value_and_adjoint(name: str, data: st.DataObject) -> None:
    op, oracle, low, high = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    x = data.draw(grid_arrays(shape, low, high, 0.1))
    weights = np.linspace(-1.0, 1.5, x.size).reshape(shape)
    out, (actual,), (expected,) = adjoint_and_central(op, oracle, [x], weights)
    assert out.op == name and out.shape == shape
    np.testing.assert_allclose(out.value, oracle(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "op", "oracle"), [("maximum", maximum, np.maximum), ("minimum", minimum, np.minimum)])
@SETTINGS
@given(data=st.data())
def test_max_min_with_broadcasting(name: str, op: Callable, oracle: Callable, data: st.DataObject) -> None:
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    a = data.draw(grid_arrays(shapes.input_shapes[0], -8, 8, 0.1))
    b = data.draw(grid_arrays(shapes.input_shapes[1], -8, 8, 0.0))
    weights = np.linspace(-1.0, 1.5, int(np.prod(shapes.result_shape))).reshape(shapes.result_shape)
    out, actual, expected = adjoint_and_central(op, oracle, [a, b], weights)
    assert out.op == name
    np.testing.assert_array_equal(out.value, oracle(a, b))
    for got, want in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_ties_send_the_adjoint_to_the_first_argument() -> None:
    for op in (maximum, minimum):
        first, second = Tensor([1.0, 2.0, 5.0], name="first"), Tensor([1.0, 3.0, 5.0], name="second")
        op(first, second).backward(seed=np.ones(3))
        winner_is_first = [True, op is minimum, True]  # index 1: 2 < 3, so only min picks the first
        np.testing.assert_array_equal(first.grad, np.where(winner_is_first, 1.0, 0.0))
        np.testing.assert_array_equal(second.grad, np.where(winner_is_first, 0.0, 1.0))


def test_max_pooling_drawn_as_max_nodes_sends_the_adjoint_to_one_winner() -> None:
    h = [Tensor(v, name=f"h{i}") for i, v in enumerate([0.3, 0.9, 0.9, -1.0])]
    pooled = maximum(maximum(h[0], h[1]), maximum(h[2], h[3]))
    pooled.backward()
    assert [float(n.grad) for n in h] == [0.0, 1.0, 0.0, 0.0]  # tie between h1 and h2: the first wins


def test_relu_and_abs_take_derivative_zero_at_zero() -> None:
    x = Tensor(np.array([-1.0, 0.0, 2.0]))
    relu(x).backward(seed=np.ones(3))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])
    absolute(x).backward(seed=np.ones(3))
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])


def test_sigmoid_does_not_overflow_for_large_inputs() -> None:
    out = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(out.value, [0.0, 0.5, 1.0])


def test_domain_errors_name_the_function_and_the_value() -> None:
    with pytest.raises(ValueError, match=r"log: x must be > 0 everywhere, got -1 at index \[1\]"):
        log(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"log: x must be > 0 everywhere, got 0$"):
        log(0.0)
    with pytest.raises(ValueError, match="exp overflows float64"):
        exp(800.0)
    with pytest.raises(ValueError, match=r"maximum: argument shapes \(2,\) and \(3,\) do not broadcast"):
        maximum(np.ones(2), np.ones(3))
