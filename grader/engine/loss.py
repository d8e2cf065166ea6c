"""Loss functions: the sheet's squared error ``L = 1/2 sum_o (yhat_o - y_o)^2``, with its gradient."""

from __future__ import annotations

import numpy as np

from grader.engine.conv import _checked
from grader.engine.tensor import ArrayLike, Tensor


def mse_loss(y: ArrayLike, target: ArrayLike) -> Tensor:
    """``1/2 * sum (target - y)^2`` over every entry: a scalar Tensor (shape ``()``), not a mean.

    Args:
        y: the network's output, any shape.
        target: the desired output (the sheet's yhat), the same shape as y; an array or a Tensor (then it
            receives a gradient too).

    Returns:
        () scalar; dL/dy = y - target and dL/dtarget = target - y.
    """
    op = "mse_loss"
    yt, tt = _checked(y, f"{op}: y"), _checked(target, f"{op}: target")
    if yt.shape != tt.shape:
        raise ValueError(f"{op}: y and target must have the same shape, got y {yt.shape} and target {tt.shape}")
    residual = tt.value - yt.value
    value = np.asarray(0.5 * np.sum(residual * residual))
    return Tensor.from_op(value, op, (yt, tt), lambda g: (-g * residual, g * residual))
