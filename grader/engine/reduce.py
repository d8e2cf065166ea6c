"""Reductions over chosen axes: sum and mean of an array along some of its axes, with their gradients.

``sum_all`` (every entry, in :mod:`grader.engine.tensor`) is the sum over all axes; these take ``axis`` as numpy
does: None (every axis), one axis, or several, negative counting from the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grader.engine.tensor import ArrayLike, Tensor, as_tensor

Axis = int | Sequence[int] | None
"""numpy's ``axis``: None for every axis, one axis, or a list of distinct axes (negative: from the end)."""


def normalized_axes(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` as sorted non-negative axes of an array with ``ndim`` axes (every axis for None).

    ValueError naming ``op`` when an axis is not a whole number, is out of range or is given twice.
    """
    if axis is None:
        return tuple(range(ndim))
    given = list(axis) if isinstance(axis, list | tuple) else [axis]
    axes: list[int] = []
    for item in given:
        if isinstance(item, bool) or not isinstance(item, int | np.integer):
            raise ValueError(f"{op}: axis must be a whole number or a list of whole numbers, got {item!r}")
        if not -ndim <= item < ndim:
            raise ValueError(
                f"{op}: axis {item} does not exist: the array has {ndim} ax{'is' if ndim == 1 else 'es'}"
                f" (0 to {ndim - 1}, or -1 to -{ndim} from the end)" if ndim else f"{op}: axis {item} does not exist: the array is a single number"
            )
        axes.append(int(item) % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: axis {list(given)} names an axis twice")
    return tuple(sorted(axes))


def _expand(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """The adjoint ``g`` of a reduction's output with the reduced axes put back as length 1 (for broadcasting)."""
    return g if keepdims else np.expand_dims(g, axes)


def sum_over(a: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The sum of ``a`` over ``axis`` (numpy's ``a.sum(axis, keepdims=keepdims)``).

    Args:
        a: any shape ``S``.
        axis: None (every axis: a scalar), one axis, or a list of axes.
        keepdims: keep the summed axes with length 1.

    Returns:
        ``S`` without the summed axes (length 1 with keepdims); d/da = 1 for every entry.
    """
    x = as_tensor(a, "sum: x")
    axes = normalized_axes(axis, x.ndim, "sum")
    value = np.asarray(x.value.sum(axis=axes, keepdims=keepdims))
    return Tensor.from_op(
        value, "sum", (x,), lambda g: (np.broadcast_to(_expand(g, axes, keepdims), x.shape).copy(),), fresh_grads=True
    )


def mean(a: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The mean of ``a`` over ``axis`` (numpy's ``a.mean(axis, keepdims=keepdims)``).

    Args:
        a: any shape ``S``; the reduced axes must not be empty (the mean of nothing is undefined).
        axis: None (every axis: a scalar), one axis, or a list of axes.
        keepdims: keep the averaged axes with length 1.

    Returns:
        ``S`` without the averaged axes; d/da = 1/count, count being the number of entries averaged.
    """
    x = as_tensor(a, "mean: x")
    axes = normalized_axes(axis, x.ndim, "mean")
    count = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    if count == 0:
        raise ValueError(f"mean: the axes {list(axes)} of x (shape {x.shape}) hold no entries; the mean of nothing is undefined")
    value = np.asarray(x.value.mean(axis=axes, keepdims=keepdims))
    return Tensor.from_op(
        value, "mean", (x,), lambda g: (np.broadcast_to(_expand(g, axes, keepdims) / count, x.shape).copy(),), fresh_grads=True
    )
