"""Ops that move entries around without arithmetic: flip, index, stack, transpose, pad, crop (each with its VJP)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grader.engine import symmetry
from grader.engine.tensor import ArrayLike, Tensor, as_tensor


def _axes(axes: Sequence[int], ndim: int, op: str) -> tuple[int, ...]:
    normalized = []
    for axis in axes:
        if not isinstance(axis, int | np.integer) or not -ndim <= axis < ndim:
            raise ValueError(f"{op}: axis {axis!r} does not exist for an array with {ndim} axes")
        normalized.append(int(axis) % ndim)
    return tuple(normalized)


def flip(x: ArrayLike, axes: Sequence[int] = (0, 1)) -> Tensor:
    """``x`` reversed along ``axes`` (default the two spatial axes of a filter bank ``(f, f, C, K)``).

    ``conv2d(image, flip(w))`` is the convolution textbooks write with a flipped kernel -- the known mistake
    of computing a true convolution where the sheet's Eq. 1 is a cross-correlation.
    """
    t = as_tensor(x, "flip: x")
    flipped_axes = _axes(axes, t.ndim, "flip")
    return Tensor.from_op(np.flip(t.value, flipped_axes), "flip", (t,), lambda g: (np.flip(g, flipped_axes),))


def index(x: ArrayLike, at: Sequence[int | None]) -> Tensor:
    """``x[at]`` where each entry of ``at`` is an index (0-based, negative counts from the end) or None (all).

    ``index(w, [0, 0, 0, 0])`` is the sheet's ``w_1111``; ``index(g, [0, 0, 0, None])`` is ``w_111k`` for all k.
    """
    t = as_tensor(x, "index: x")
    if len(at) != t.ndim:
        raise ValueError(f"index: 'at' has {len(at)} entries but x has {t.ndim} axes (shape {t.shape})")
    key: list[int | slice] = []
    for axis, (i, n) in enumerate(zip(at, t.shape, strict=True)):
        if i is None:
            key.append(slice(None))
        elif isinstance(i, bool) or not isinstance(i, int | np.integer) or not -n <= i < n:
            raise ValueError(f"index: position {i!r} on axis {axis} is outside 0..{n - 1} (x has shape {t.shape})")
        else:
            key.append(int(i))
    selection = tuple(key)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros_like(t.value)
        grad[selection] = g
        return (grad,)

    return Tensor.from_op(np.array(t.value[selection]), "index", (t,), vjp)


def stack(items: Sequence[ArrayLike], axis: int = -1) -> Tensor:
    """The items (all of one shape) stacked along a new axis (default last): n items of shape S -> S + (n,)."""
    if not items:
        raise ValueError("stack: needs at least one item")
    tensors = [as_tensor(item, f"stack: item {i}") for i, item in enumerate(items)]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: items must have one shape, got {sorted(shapes)}")
    value = np.stack([t.value for t in tensors], axis=axis)
    new_axis = axis % value.ndim
    return Tensor.from_op(
        value, "stack", tensors, lambda g: tuple(np.take(g, i, axis=new_axis) for i in range(len(tensors)))
    )


def transpose(x: ArrayLike, axes: Sequence[int]) -> Tensor:
    """``x`` with its axes permuted (numpy's ``transpose``); ``axes`` must be a permutation of 0..ndim-1."""
    t = as_tensor(x, "transpose: x")
    order = _axes(axes, t.ndim, "transpose")
    if sorted(order) != list(range(t.ndim)):
        raise ValueError(f"transpose: axes {list(axes)} are not a permutation of 0..{t.ndim - 1}")
    inverse = tuple(np.argsort(order))
    return Tensor.from_op(np.transpose(t.value, order), "transpose", (t,), lambda g: (np.transpose(g, inverse),))


def pad(x: ArrayLike, width: int, axes: Sequence[int] = (0, 1)) -> Tensor:
    """``x`` with ``width`` zeros added on both sides of each axis in ``axes`` (default the two spatial axes)."""
    t = as_tensor(x, "pad: x")
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 0:
        raise ValueError(f"pad: width must be a whole number >= 0, got {width!r}")
    padded_axes = _axes(axes, t.ndim, "pad")
    widths = [(int(width), int(width)) if a in padded_axes else (0, 0) for a in range(t.ndim)]
    inner = tuple(slice(w, n + w) for (w, _), n in zip(widths, t.shape, strict=True))
    return Tensor.from_op(np.pad(t.value, widths), "pad", (t,), lambda g: (g[inner],))


def moved(x: ArrayLike, dy: int, dx: int) -> Tensor:
    """``x`` (H, W) or (H, W, C) moved ``dy`` rows down and ``dx`` columns right, zero-filled, as
    :func:`symmetry.shift`; its gradient moves back (``-dy``, ``-dx``), the entries pushed out getting 0."""
    t = as_tensor(x, "shift: x")
    return Tensor.from_op(
        symmetry.shift(t.value, dy, dx), "shift", (t,), lambda g: (symmetry.shift(g, -dy, -dx),)
    )


def crop(x: ArrayLike, keep: Sequence[int], axes: Sequence[int]) -> Tensor:
    """The first ``keep[i]`` entries of ``x`` along each axis ``axes[i]`` (the rest dropped; their gradient is 0)."""
    t = as_tensor(x, "crop: x")
    cropped = _axes(axes, t.ndim, "crop")
    stops = dict(zip(cropped, keep, strict=True))
    if any(not 0 < stop <= t.shape[axis] for axis, stop in stops.items()):
        raise ValueError(f"crop: cannot keep {list(keep)} entries of axes {list(axes)} of x of shape {t.shape}")
    kept = tuple(slice(0, stops[a]) if a in stops else slice(None) for a in range(t.ndim))

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros_like(t.value)
        grad[kept] = g
        return (grad,)

    return Tensor.from_op(t.value[kept], "crop", (t,), vjp)


def reshape(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    """``x`` with a new shape of the same size (row-major, numpy's ``reshape``; one entry may be -1)."""
    t = as_tensor(x, "reshape: x")
    if any(isinstance(n, bool | np.bool_) or not (isinstance(n, int | np.integer) or (isinstance(n, float) and n.is_integer())) for n in shape):
        # int() had read true as 1 and 2.5 as 2
        written = ", ".join(str(n).lower() if isinstance(n, bool | np.bool_) else repr(n) for n in shape)
        raise ValueError(f"reshape: shape must hold whole numbers, got [{written}]")
    try:
        value = np.reshape(t.value, tuple(int(n) for n in shape))
    except ValueError:
        raise ValueError(f"reshape: cannot reshape x of shape {t.shape} ({t.value.size} entries) to {list(shape)}") from None
    return Tensor.from_op(value, "reshape", (t,), lambda g: (np.reshape(g, t.shape),))
