"""Elementwise functions with their derivatives: sin, cos, exp, log, tanh, sigmoid, relu."""

from __future__ import annotations

import numpy as np

from grader.engine.tensor import ArrayLike, Tensor, as_tensor


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
        raise ValueError(f"log: x must be > 0 everywhere, got {t.value[tuple(index)]:g} at index {index}")
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
    """max(x, 0), elementwise. The derivative at exactly 0 is taken as 0 (as in PyTorch and TensorFlow)."""
    t = as_tensor(x, "relu: x")
    positive = t.value > 0
    return Tensor.from_op(np.where(positive, t.value, 0.0), "relu", (t,), lambda g: (g * positive,))
