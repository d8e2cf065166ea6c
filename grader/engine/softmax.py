"""Softmax and log-softmax along one axis, with their vector-Jacobian products.

Both subtract the maximum along the axis before exponentiating, so any finite logits work (``softmax([1000,
1001])`` is ``[0.269, 0.731]``, not NaN). The axis defaults to the last one, the class axis of logits shaped
``(C,)`` or ``(N, C)``.
"""

from __future__ import annotations

import numpy as np

from grader.engine.conv import _checked
from grader.engine.reduce import normalized_axes
from grader.engine.tensor import ArrayLike, Tensor


def class_axis(x: Tensor, axis: int, op: str, name: str = "x") -> int:
    """``axis`` of ``x`` as a non-negative axis; ValueError naming ``op`` when ``x`` is a single number (it has
    no axis to normalize over), the axis does not exist or it is empty (no classes)."""
    if x.ndim == 0:
        raise ValueError(f"{op}: {name} is a single number; it needs an axis of classes (e.g. shape (C,) or (N, C))")
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"{op}: axis must be one whole number, got {axis!r}")
    along = normalized_axes(axis, x.ndim, op)[0]
    if x.shape[along] == 0:
        raise ValueError(f"{op}: axis {axis} of {name} (shape {x.shape}) has no entries; there must be at least one class")
    return along


def log_softmax_array(logits: np.ndarray, axis: int) -> np.ndarray:
    """``log softmax(logits)`` along ``axis`` on a plain array: ``logits - logsumexp(logits)``, shifted by the
    maximum so that no exponential overflows; the result has the shape of ``logits``."""
    with np.errstate(over="ignore"):  # logits more than ~1.8e308 apart: the smaller ones' log p is -inf
        shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    """softmax along axis: e^x_i / sum_j e^x_j, each slice along axis summing to 1; d s_i/d x_j = s_i (delta_ij - s_j).

    Args:
        x: logits, any shape with at least one axis, e.g. (C,) or (N, C).
        axis: the axis of classes (default the last).

    Returns:
        probabilities, the shape of x.
    """
    t = _checked(x, "softmax: x")
    along = class_axis(t, axis, "softmax")
    value = np.exp(log_softmax_array(t.value, along))

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (value * (g - (g * value).sum(axis=along, keepdims=True)),)

    return Tensor.from_op(value, "softmax", (t,), vjp, fresh_grads=True)


def log_softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    """log softmax along axis: x_i - log sum_j e^x_j (computed without overflow); d/dx_j = delta_ij - softmax_j.

    Args:
        x: logits, any shape with at least one axis, e.g. (C,) or (N, C).
        axis: the axis of classes (default the last).

    Returns:
        log-probabilities, the shape of x.
    """
    t = _checked(x, "log_softmax: x")
    along = class_axis(t, axis, "log_softmax")
    value = log_softmax_array(t.value, along)
    probabilities = np.exp(value)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (g - probabilities * g.sum(axis=along, keepdims=True),)

    return Tensor.from_op(value, "log_softmax", (t,), vjp, fresh_grads=True)
