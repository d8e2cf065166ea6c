"""Loss functions: the sheet's squared error ``L = 1/2 sum_o (yhat_o - y_o)^2`` and the cross-entropy of logits
against class labels, with their gradients."""

from __future__ import annotations

from typing import Literal

import numpy as np

from grader.engine.conv import _checked
from grader.engine.softmax import class_axis, log_softmax_array
from grader.engine.tensor import ArrayLike, Tensor

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")

TARGET_SUM_ATOL = 1e-9
"""How far a probability target's sum along the class axis may be from 1 (softmax outputs are within ~1e-15)."""


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


def cross_entropy(logits: ArrayLike, target: ArrayLike, axis: int = -1, reduction: Reduction = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against target: -sum_i t_i log softmax(logits)_i per sample; target holds class indices or probabilities; reduction mean (default, as PyTorch), sum or none.

    The form of ``target`` is read from its shape, so it is never ambiguous:

    - the shape of ``logits`` without ``axis``: a 0-based class index per sample (whole numbers in [0, C));
      the loss of a sample is ``-log softmax(logits)[index]``; target gets no gradient;
    - the shape of ``logits``: a probability distribution along ``axis`` per sample (entries >= 0 summing to 1,
      one-hot or soft labels); target gets the gradient ``-log softmax(logits)``.

    Args:
        logits: any shape ``S`` with at least one axis; ``S[axis]`` = C classes, e.g. (C,) or (N, C).
        target: ``S`` without ``axis`` (indices) or ``S`` (probabilities).
        axis: the class axis (default the last).
        reduction: ``mean`` over the samples (every position of the other axes), ``sum``, or ``none`` (the
            per-sample losses, shaped ``S`` without ``axis``).

    Returns:
        () for mean and sum, else ``S`` without ``axis``. dL/dlogits = (softmax(logits) - t) per sample (one-hot t
        for indices; ``softmax * sum(t) - t`` in general), divided by the number of samples for mean.

    Raises:
        ValueError naming the argument: a target of another shape, an index that is not a class, probabilities
        that are negative or do not sum to 1, an unknown reduction.
    """
    op = "cross_entropy"
    lt = _checked(logits, f"{op}: logits")
    along = class_axis(lt, axis, op, "logits")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    tt = _checked(target, f"{op}: target")
    classes = lt.shape[along]
    sample_shape = lt.shape[:along] + lt.shape[along + 1 :]
    log_p = log_softmax_array(lt.value, along)
    if tt.shape == lt.shape:
        labels = tt.value
        _check_probabilities(labels, along)
        # 0 * log p is 0 even where p underflowed to 0 (log p = -inf: logits more than ~1.8e308 apart)
        with np.errstate(invalid="ignore"):
            per_sample = -np.where(labels > 0, labels * log_p, 0.0).sum(axis=along)
        parents: tuple[Tensor, ...] = (lt, tt)
    elif tt.shape == sample_shape:
        index = _class_indices(tt.value, classes)
        labels = np.zeros(lt.shape)
        np.put_along_axis(labels, np.expand_dims(index, along), 1.0, axis=along)
        per_sample = -np.take_along_axis(log_p, np.expand_dims(index, along), axis=along).squeeze(along)
        parents = (lt,)
    else:
        raise ValueError(
            f"{op}: target must have the shape of logits without axis {along} {sample_shape} (class indices) or the "
            f"shape of logits {lt.shape} (probabilities), got {tt.shape}"
        )
    samples = int(np.prod(sample_shape, dtype=np.int64))
    if samples == 0 and reduction == "mean":
        raise ValueError(f"{op}: logits {lt.shape} hold no samples; the mean over no samples is undefined")
    if reduction == "none":
        value = per_sample
    else:
        value = np.asarray(per_sample.sum() / (samples if reduction == "mean" else 1))
    probabilities = np.exp(log_p)
    label_sums = labels.sum(axis=along, keepdims=True)

    def vjp(g: np.ndarray) -> tuple[np.ndarray, ...]:
        scale = np.expand_dims(g, along) if reduction == "none" else g / (samples if reduction == "mean" else 1)
        d_logits = (probabilities * label_sums - labels) * scale
        return (d_logits, -log_p * scale) if len(parents) == 2 else (d_logits,)

    return Tensor.from_op(value, op, parents, vjp, fresh_grads=True)


def _check_probabilities(labels: np.ndarray, axis: int) -> None:
    """ValueError unless ``labels`` are >= 0 and sum to 1 along ``axis`` (within TARGET_SUM_ATOL)."""
    op = "cross_entropy"
    if np.any(labels < 0):
        where = [int(i) for i in np.argwhere(labels < 0)[0]]
        raise ValueError(f"{op}: target holds probabilities (it has the shape of logits), but target{where} = {labels[tuple(where)]:g} is negative")
    sums = labels.sum(axis=axis)
    off = np.abs(sums - 1.0) > TARGET_SUM_ATOL
    if np.any(off):
        where = [int(i) for i in np.argwhere(off)[0]] if sums.ndim else []
        sample = f" of sample {where}" if where else ""
        raise ValueError(
            f"{op}: target holds probabilities (it has the shape of logits), but those{sample} sum to "
            f"{float(sums[tuple(where)]):.12g}, not 1; give class indices (the shape of logits without axis {axis}) "
            "or a distribution per sample, e.g. {op: softmax, x: ...}"
        )


def _class_indices(target: np.ndarray, classes: int) -> np.ndarray:
    """``target`` as int64 class indices; ValueError unless every entry is a whole number in [0, classes)."""
    bad = (target != np.round(target)) | (target < 0) | (target >= classes)
    if np.any(bad):
        where = [int(i) for i in np.argwhere(bad)[0]] if target.ndim else []
        raise ValueError(
            f"cross_entropy: target holds class indices (it has the shape of logits without the class axis), but "
            f"target{where if where else ''} = {float(target[tuple(where)]):g} is not a class: a whole number from 0 to "
            f"{classes - 1}"
        )
    return target.astype(np.int64)
