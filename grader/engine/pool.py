"""Pooling layers (max and average, 2-d and 1-d) with their vector-Jacobian products, and max-pool winners.

Layout: ``(H, W, C)`` or ``(N, H, W, C)`` (1-d: ``(L, C)`` or ``(N, L, C)``); each channel is pooled on its
own; no padding; the stride defaults to the window size; ``H' = (H - fh)/s + 1`` must be a whole number.

Max-pool tie rule: when several entries of a window share the maximum, the FIRST one in row-major window
order (row offset, then column offset -- as ``numpy.argmax`` over the flattened window) wins and alone
receives that window's gradient. Overlapping windows (stride < size) add their gradients up.

All loops run over the window offsets (fh*fw of them), never over pixels, channels or batch entries.
"""

from __future__ import annotations

import numpy as np

from grader.engine.conv import IntOrPair, _checked, _offset_slices, _output_size, _pair, _single
from grader.engine.tensor import ArrayLike, Tensor


def _prepare_2d(
    op: str, x: ArrayLike, size: IntOrPair, stride: IntOrPair | None
) -> tuple[Tensor, np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Checked ``(tensor, x4: (N, H, W, C), window, stride, output size (H', W'))`` for a 2-d pool."""
    xt = _checked(x, f"{op}: x")
    if xt.ndim not in (3, 4):
        raise ValueError(f"{op}: x must be (H, W, C) or (N, H, W, C), got shape {xt.shape} (rank {xt.ndim})")
    window = _pair(size, "size", op, minimum=1)
    strides = window if stride is None else _pair(stride, "stride", op, minimum=1)
    x4 = xt.value if xt.ndim == 4 else xt.value[None]
    out_size = (
        _output_size(op, "height", x4.shape[1], window[0], strides[0], 0, "size"),
        _output_size(op, "width", x4.shape[2], window[1], strides[1], 0, "size"),
    )
    return xt, x4, window, strides, out_size


def _prepare_1d(
    op: str, x: ArrayLike, size: int, stride: int | None
) -> tuple[Tensor, np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """As :func:`_prepare_2d` for ``x: (L, C)`` or ``(N, L, C)``, seen as an image of height 1."""
    xt = _checked(x, f"{op}: x")
    if xt.ndim not in (2, 3):
        raise ValueError(f"{op}: x must be (L, C) or (N, L, C), got shape {xt.shape} (rank {xt.ndim})")
    f = _single(size, "size", op, minimum=1)
    s = f if stride is None else _single(stride, "stride", op, minimum=1)
    x3 = xt.value if xt.ndim == 3 else xt.value[None]
    length = _output_size(op, "length", x3.shape[1], f, s, 0, "size")
    return xt, x3[:, None], (1, f), (1, s), (1, length)


def _out_shape_2d(xt: Tensor, out_size: tuple[int, int]) -> tuple[int, ...]:
    """(H', W', C) or (N, H', W', C) matching x's batching."""
    return (*xt.shape[:-3], *out_size, xt.shape[-1])


def _out_shape_1d(xt: Tensor, out_size: tuple[int, int]) -> tuple[int, ...]:
    """(L', C) or (N, L', C) matching x's batching (out_size is (1, L'))."""
    return (*xt.shape[:-2], out_size[1], xt.shape[-1])


def _max_pool_arrays(
    x4: np.ndarray, window: tuple[int, int], strides: tuple[int, int], out_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, tuple[slice, slice]]]]:
    """``(maximum: (N, H', W', C), winner: (N, H', W', C) flat window offset, offset slices)``.

    Offsets are visited in row-major order and a later one replaces the current best only when STRICTLY
    greater, so the first maximum wins (the documented tie rule).
    """
    offsets = _offset_slices(window, strides, out_size)
    _, _, (rows0, cols0) = offsets[0]
    best = x4[:, rows0, cols0, :].copy()
    winner = np.zeros(best.shape, dtype=np.min_scalar_type(len(offsets) - 1))  # uint8 for windows up to 16x16
    better = np.empty(best.shape, dtype=bool)
    for flat, (_, _, (rows, cols)) in enumerate(offsets[1:], start=1):
        candidate = x4[:, rows, cols, :]
        np.greater(candidate, best, out=better)
        np.maximum(best, candidate, out=best)
        winner[better] = flat
    return best, winner, offsets


def _max_pool(op: str, xt: Tensor, x4: np.ndarray, window: tuple[int, int], strides: tuple[int, int],
              out_size: tuple[int, int], out_shape: tuple[int, ...]) -> Tensor:
    if strides == window:
        return _max_pool_tiled(op, xt, x4, window, out_size, out_shape)
    best, winner, offsets = _max_pool_arrays(x4, window, strides, out_size)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        g4 = g.reshape(best.shape)
        dx = np.zeros(x4.shape)
        for flat, (_, _, (rows, cols)) in enumerate(offsets):
            dx[:, rows, cols, :] += g4 * (winner == flat)  # overlapping windows: adjoints add up
        return (dx.reshape(xt.shape),)

    return Tensor.from_op(best.reshape(out_shape), op, (xt,), vjp, fresh_grads=True)


def _max_pool_tiled(op: str, xt: Tensor, x4: np.ndarray, window: tuple[int, int], out_size: tuple[int, int],
                    out_shape: tuple[int, ...]) -> Tensor:
    """stride == size: the windows tile x exactly, so x4 (N, H, W, C) is viewed as (N, H', fh, W', fw, C) and
    reduced without copying x (memory traffic, not arithmetic, is what costs here). The VJP finds the winners
    again from x and the stored maxima, so the forward pass keeps no winner array."""
    n, _, _, channels = x4.shape
    tiles = x4.reshape(n, out_size[0], window[0], out_size[1], window[1], channels)
    # One in-place np.maximum per window offset: about 3x faster than tiles.max(axis=(2, 4)), a reduction
    # over two non-adjacent short axes that numpy runs slowly.
    best = tiles[:, :, 0, :, 0, :].copy()
    for a in range(window[0]):
        for b in range(window[1]):
            if a or b:
                np.maximum(best, tiles[:, :, a, :, b, :], out=best)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        won = tiles == best[:, :, None, :, None, :]
        if np.count_nonzero(won) != best.size:  # some window holds its maximum twice: apply the tie rule
            _, winner, offsets = _max_pool_arrays(x4, window, window, out_size)
            for flat, (a, b, _) in enumerate(offsets):
                np.equal(winner, flat, out=won[:, :, a, :, b, :])
        dx = np.empty(x4.shape)
        np.multiply(won, g.reshape(best.shape)[:, :, None, :, None, :], out=dx.reshape(tiles.shape))
        return (dx.reshape(xt.shape),)

    return Tensor.from_op(best.reshape(out_shape), op, (xt,), vjp, fresh_grads=True)


def _avg_pool(op: str, xt: Tensor, x4: np.ndarray, window: tuple[int, int], strides: tuple[int, int],
              out_size: tuple[int, int], out_shape: tuple[int, ...]) -> Tensor:
    offsets = _offset_slices(window, strides, out_size)
    scale = 1.0 / (window[0] * window[1])
    _, _, (rows0, cols0) = offsets[0]
    total = x4[:, rows0, cols0, :].copy()
    for _, _, (rows, cols) in offsets[1:]:
        total += x4[:, rows, cols, :]
    total *= scale

    tiles = strides == window

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        share = g.reshape(total.shape) * scale
        dx = np.empty(x4.shape) if tiles else np.zeros(x4.shape)
        for _, _, (rows, cols) in offsets:
            if tiles:
                dx[:, rows, cols, :] = share
            else:
                dx[:, rows, cols, :] += share
        return (dx.reshape(xt.shape),)

    return Tensor.from_op(total.reshape(out_shape), op, (xt,), vjp, fresh_grads=True)


def max_pool2d(x: ArrayLike, size: IntOrPair, *, stride: IntOrPair | None = None) -> Tensor:
    """Maximum over each (fh, fw) window of each channel.

    Args:
        x: (H, W, C) or (N, H, W, C).
        size: window (fh, fw), an int or a pair, each >= 1.
        stride: an int or a pair >= 1; defaults to ``size`` (non-overlapping windows).

    Returns:
        (H', W', C) or (N, H', W', C), ``H' = (H - fh)/s + 1``. The gradient goes only to each window's
        winning entry (first maximum in row-major window order; see the module docstring).
    """
    xt, x4, window, strides, out_size = _prepare_2d("max_pool2d", x, size, stride)
    return _max_pool("max_pool2d", xt, x4, window, strides, out_size, _out_shape_2d(xt, out_size))


def avg_pool2d(x: ArrayLike, size: IntOrPair, *, stride: IntOrPair | None = None) -> Tensor:
    """Mean over each (fh, fw) window of each channel.

    Args:
        x: (H, W, C) or (N, H, W, C). size: (fh, fw), an int or a pair. stride: defaults to ``size``.

    Returns:
        (H', W', C) or (N, H', W', C), ``H' = (H - fh)/s + 1``; every window entry gets 1/(fh*fw) of the
        window's gradient.
    """
    xt, x4, window, strides, out_size = _prepare_2d("avg_pool2d", x, size, stride)
    return _avg_pool("avg_pool2d", xt, x4, window, strides, out_size, _out_shape_2d(xt, out_size))


def max_pool1d(x: ArrayLike, size: int, *, stride: int | None = None) -> Tensor:
    """Maximum over each window of ``size`` steps of each channel.

    Args:
        x: (L, C) or (N, L, C). size: f >= 1. stride: defaults to ``size``.

    Returns:
        (L', C) or (N, L', C), ``L' = (L - f)/s + 1``; ties go to the first (leftmost) maximum.
    """
    xt, x4, window, strides, out_size = _prepare_1d("max_pool1d", x, size, stride)
    return _max_pool("max_pool1d", xt, x4, window, strides, out_size, _out_shape_1d(xt, out_size))


def avg_pool1d(x: ArrayLike, size: int, *, stride: int | None = None) -> Tensor:
    """Mean over each window of ``size`` steps of each channel.

    Args:
        x: (L, C) or (N, L, C). size: f >= 1. stride: defaults to ``size``.

    Returns:
        (L', C) or (N, L', C), ``L' = (L - f)/s + 1``.
    """
    xt, x4, window, strides, out_size = _prepare_1d("avg_pool1d", x, size, stride)
    return _avg_pool("avg_pool1d", xt, x4, window, strides, out_size, _out_shape_1d(xt, out_size))


def max_pool2d_winners(x: ArrayLike, size: IntOrPair, *, stride: IntOrPair | None = None) -> np.ndarray:
    """Which entries of ``x`` win at least one max-pooling window (and so receive gradient through it).

    Args:
        x: (H, W, C) or (N, H, W, C). size, stride: as for :func:`max_pool2d`.

    Returns:
        bool array shaped like x; True where the entry is its window's maximum under the tie rule (first
        maximum in row-major window order). Entries that lose every window they belong to, and entries in
        no window at all (possible when stride > size), are False.
    """
    xt, x4, window, strides, out_size = _prepare_2d("max_pool2d_winners", x, size, stride)
    _, winner, offsets = _max_pool_arrays(x4, window, strides, out_size)
    mask = np.zeros(x4.shape, dtype=bool)
    for flat, (_, _, (rows, cols)) in enumerate(offsets):
        mask[:, rows, cols, :] |= winner == flat
    return mask.reshape(xt.shape)
