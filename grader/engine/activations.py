"""Elementwise functions with their derivatives: sin, cos, exp, log, tanh, sigmoid, relu, abs, floor, ceil, maximum,
minimum."""

from __future__ import annotations

import numpy as np

from grader.engine.graph import rounding_error_units
from grader.engine.tensor import ArrayLike, Tensor, as_tensor, at_index, unbroadcast


def sin(x: ArrayLike) -> Tensor:
    """sin(x), elementwise (the sheet's f3); d/dx = cos(x)."""
    t = as_tensor(x, "sin: x")
    return Tensor.from_op(np.sin(t.value), "sin", (t,), lambda g: (g * np.cos(t.value),))


def cos(x: ArrayLike) -> Tensor:
    """cos(x), elementwise; d/dx = -sin(x)."""
    t = as_tensor(x, "cos: x")
    return Tensor.from_op(np.cos(t.value), "cos", (t,), lambda g: (-g * np.sin(t.value),))


def exp(x: ArrayLike) -> Tensor:
    """exp(x), elementwise; ValueError when it overflows float64 (x > ~709)."""
    t = as_tensor(x, "exp: x")
    with np.errstate(over="ignore"):
        value = np.exp(t.value)
    if not np.isfinite(value).all():
        raise ValueError(f"exp: x has entries up to {t.value.max():g}; exp overflows float64 above ~709.78")
    return Tensor.from_op(value, "exp", (t,), lambda g: (g * value,))


def log(x: ArrayLike) -> Tensor:
    """Natural log, elementwise; ValueError unless every entry is > 0."""
    t = as_tensor(x, "log: x")
    if np.any(t.value <= 0):
        index = [int(i) for i in np.argwhere(t.value <= 0)[0]]
        raise ValueError(f"log: x must be > 0 everywhere, got {t.value[tuple(index)]:g}{at_index(index)}")
    return Tensor.from_op(np.log(t.value), "log", (t,), lambda g: (g / t.value,))


def tanh(x: ArrayLike) -> Tensor:
    """tanh(x), elementwise; d/dx = 1 - tanh(x)^2."""
    t = as_tensor(x, "tanh: x")
    value = np.tanh(t.value)
    return Tensor.from_op(value, "tanh", (t,), lambda g: (g * (1.0 - value * value),))


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^-x) on a plain array, without overflow for large |x|."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid(x: ArrayLike) -> Tensor:
    """sigma(x) = 1 / (1 + e^-x), elementwise; sigma' = sigma (1 - sigma)."""
    t = as_tensor(x, "sigmoid: x")
    value = sigmoid_array(t.value)
    return Tensor.from_op(value, "sigmoid", (t,), lambda g: (g * value * (1.0 - value),))


def relu(x: ArrayLike) -> Tensor:
    """max(x, 0), elementwise. The derivative at exactly 0 is taken as 0 (as in PyTorch and TensorFlow).

    relu has no derivative at 0, so that is a convention: the grad, adjoint and adjoints ops refuse a key that
    changes when it is 1 instead (see :func:`grader.engine.graph.kink_dependence`).
    """
    t = as_tensor(x, "relu: x")
    positive = t.value > 0
    return Tensor.from_op(np.where(positive, t.value, 0.0), "relu", (t,), lambda g: (g * positive,))


def absolute(x: ArrayLike) -> Tensor:
    """|x|, elementwise. The derivative at exactly 0 is taken as 0 (as for relu, and as in PyTorch and TensorFlow).

    A convention, as for relu: the grad, adjoint and adjoints ops refuse a key that changes when it is +1 or -1.
    """
    t = as_tensor(x, "abs: x")
    sign = np.sign(t.value)
    return Tensor.from_op(np.abs(t.value), "abs", (t,), lambda g: (g * sign,))


ROUNDING_ERRORS_ALLOWED = 8
"""How many times its estimated rounding error (:func:`grader.engine.graph.rounding_error_units`, itself an upper
estimate: each op counts a whole rounding) a value may be from a whole number and still be taken as that number by
:func:`floor` and :func:`ceil`. 64 had taken 100000000.9999995 (computed as n*1000 + m, off by 2e-8) for 100000001."""
WHOLE_TOLERANCE_CAP = 1e-6
"""The farthest from a whole number a value is ever taken as it: a large computed value's rounding error can
exceed the gap to the next whole number, and floor must not become round there."""


def _whole_where_close(t: Tensor) -> np.ndarray:
    """``t``'s value (any shape) with each entry that is a whole number but for rounding replaced by it: within
    :data:`ROUNDING_ERRORS_ALLOWED` times its estimated rounding error (and at most :data:`WHOLE_TOLERANCE_CAP`).

    Rounding down is the one function here whose result moves by a whole 1 under a rounding error: n/s - f/s + 2p/s
    is the whole number (n + 2p - f)/s, yet comes out as 2.9999999999999996 at 1 in 20 integer points, and a
    student's equivalent formula then scored 0 against the key. An input, which holds its value exactly, is rounded
    as it is: floor(2.99999999999999) is 2.
    """
    value = t.value
    error = ROUNDING_ERRORS_ALLOWED * np.finfo(np.float64).eps * rounding_error_units(t)
    nearest = np.round(value)
    close = np.abs(value - nearest) <= np.minimum(error, WHOLE_TOLERANCE_CAP)
    return np.where(close, nearest, value)


def floor(x: ArrayLike) -> Tensor:
    """Rounded down, elementwise (a pooled width with a partial window dropped: floor((n + 1)/4)); d/dx = 0. A value
    a rounding error away from a whole number counts as that number (:func:`_whole_where_close`).

    Piecewise constant: the derivative is 0 wherever there is one. At a whole number it jumps, so there is no pair
    of finite one-sided derivatives to choose between as for relu at 0, and the convention audits do not look at it.
    """
    t = as_tensor(x, "floor: x")
    return Tensor.from_op(np.floor(_whole_where_close(t)), "floor", (t,), lambda g: (np.zeros_like(t.value),))


def ceil(x: ArrayLike) -> Tensor:
    """Rounded up, elementwise; d/dx = 0; a value a rounding error away from a whole number counts as that number
    (see :func:`floor`)."""
    t = as_tensor(x, "ceil: x")
    return Tensor.from_op(np.ceil(_whole_where_close(t)), "ceil", (t,), lambda g: (np.zeros_like(t.value),))


def _select(op: str, x: Tensor, y: Tensor, first_wins: np.ndarray) -> Tensor:
    """x where ``first_wins`` else y (broadcast shape); the adjoint follows the same choice."""
    value = np.where(first_wins, x.value, y.value)
    return Tensor.from_op(
        value,
        op,
        (x, y),
        lambda g: (
            unbroadcast(np.where(first_wins, g, 0.0), x.shape),
            unbroadcast(np.where(first_wins, 0.0, g), y.shape),
        ),
    )


def _pair(op: str, a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    x, y = as_tensor(a, f"{op}: first argument"), as_tensor(b, f"{op}: second argument")
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"{op}: argument shapes {x.shape} and {y.shape} do not broadcast together") from None
    return x, y


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """The larger of a and b, elementwise with broadcasting (a max node, as in max pooling drawn as a graph).

    The adjoint goes to the argument that won; on a tie (a == b) it all goes to the FIRST argument ``a``,
    so exactly one input receives it (the convention of a max-pooling winner).
    """
    x, y = _pair("maximum", a, b)
    return _select("maximum", x, y, x.value >= y.value)


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """The smaller of a and b, elementwise with broadcasting; on a tie the adjoint goes to the FIRST argument."""
    x, y = _pair("minimum", a, b)
    return _select("minimum", x, y, x.value <= y.value)
