"""Obviously-right loop versions of the engine's layers (the slow twins the vectorized ops are tested against).

Loops over every pixel, channel and batch entry, reading the sheet's formulas directly. 0-based indices.
Inputs are plain numpy arrays; batched ``(N, ...)`` and unbatched shapes are both accepted.
"""

from __future__ import annotations

import numpy as np


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _batched(x: np.ndarray, rank: int) -> tuple[np.ndarray, bool]:
    """x with a leading batch axis, and whether one was added (x has rank ``rank`` without a batch)."""
    return (x[None], True) if x.ndim == rank else (x, False)


def pad2d(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """x: (N, H, W, C) -> (N, H + 2ph, W + 2pw, C), zeros around, written out with loops."""
    n, h, w, c = x.shape
    ph, pw = padding
    out = np.zeros((n, h + 2 * ph, w + 2 * pw, c))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                for ch in range(c):
                    out[b, i + ph, j + pw, ch] = x[b, i, j, ch]
    return out


def conv2d_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> np.ndarray:
    """x: (H, W, C) or (N, H, W, C); w: (fh, fw, C, K); b: (K,); returns (H', W', K) or (N, H', W', K).

    ``out[n, i, j, k] = b[k] + sum_{x, y, c} xpad[n, i*s + x, j*s + y, c] * w[x, y, c, k]`` (sheet Eq. 1).
    """
    xb, added = _batched(np.asarray(x, dtype=float), 3)
    sh, sw = _pair(stride)
    xp = pad2d(xb, _pair(padding))
    n, hp, wp, c = xp.shape
    fh, fw, _, k = w.shape
    out_h, out_w = (hp - fh) // sh + 1, (wp - fw) // sw + 1
    out = np.zeros((n, out_h, out_w, k))
    for bi in range(n):
        for i in range(out_h):
            for j in range(out_w):
                for kk in range(k):
                    total = 0.0 if b is None else float(b[kk])
                    for dx in range(fh):
                        for dy in range(fw):
                            for ch in range(c):
                                total += xp[bi, i * sh + dx, j * sw + dy, ch] * w[dx, dy, ch, kk]
                    out[bi, i, j, kk] = total
    return out[0] if added else out


def conv2d_backward_naive(
    x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjoints of conv2d given the output's adjoint ``g`` (shaped like the output): (dx, dw, db).

    Every output entry sends ``g[n, i, j, k] * w[x, y, c, k]`` to the input entry it read and
    ``g[n, i, j, k] * xpad[...]`` to the weight it used.
    """
    xb, added = _batched(np.asarray(x, dtype=float), 3)
    gb = g[None] if added else g
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    xp = pad2d(xb, (ph, pw))
    n, _, _, c = xp.shape
    fh, fw, _, k = w.shape
    _, out_h, out_w, _ = gb.shape
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w, dtype=float)
    db = np.zeros(k)
    for bi in range(n):
        for i in range(out_h):
            for j in range(out_w):
                for kk in range(k):
                    upstream = gb[bi, i, j, kk]
                    db[kk] += upstream
                    for dx in range(fh):
                        for dy in range(fw):
                            for ch in range(c):
                                dxp[bi, i * sh + dx, j * sw + dy, ch] += upstream * w[dx, dy, ch, kk]
                                dw[dx, dy, ch, kk] += upstream * xp[bi, i * sh + dx, j * sw + dy, ch]
    dx_out = dxp[:, ph : dxp.shape[1] - ph, pw : dxp.shape[2] - pw, :]
    return (dx_out[0] if added else dx_out), dw, db


def conv1d_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """x: (L, C) or (N, L, C); w: (f, C, K); returns (L', K) or (N, L', K).

    ``out[n, i, k] = b[k] + sum_{x, c} xpad[n, i*s + x, c] * w[x, c, k]``.
    """
    xb, added = _batched(np.asarray(x, dtype=float), 2)
    n, length, c = xb.shape
    f, _, k = w.shape
    xp = np.zeros((n, length + 2 * padding, c))
    for bi in range(n):
        for i in range(length):
            for ch in range(c):
                xp[bi, i + padding, ch] = xb[bi, i, ch]
    out_len = (length + 2 * padding - f) // stride + 1
    out = np.zeros((n, out_len, k))
    for bi in range(n):
        for i in range(out_len):
            for kk in range(k):
                total = 0.0 if b is None else float(b[kk])
                for dx in range(f):
                    for ch in range(c):
                        total += xp[bi, i * stride + dx, ch] * w[dx, ch, kk]
                out[bi, i, kk] = total
    return out[0] if added else out


def _window_positions(
    h: int, w: int, size: tuple[int, int], stride: tuple[int, int]
) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """(i, j, [input positions of window (i, j) in row-major order]) for every pooling window."""
    fh, fw = size
    sh, sw = stride
    out_h, out_w = (h - fh) // sh + 1, (w - fw) // sw + 1
    return [
        (i, j, [(i * sh + a, j * sw + bb) for a in range(fh) for bb in range(fw)])
        for i in range(out_h)
        for j in range(out_w)
    ]


def max_pool2d_naive(
    x: np.ndarray, size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    """x: (H, W, C) or (N, H, W, C); returns the maximum of every window, (H', W', C) or (N, H', W', C)."""
    return _pool_naive(x, size, stride, max)


def avg_pool2d_naive(
    x: np.ndarray, size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    """x: (H, W, C) or (N, H, W, C); returns the mean of every window."""
    return _pool_naive(x, size, stride, lambda values: sum(values) / len(values))


def _pool_naive(x, size, stride, reduce) -> np.ndarray:  # type: ignore[no-untyped-def]
    xb, added = _batched(np.asarray(x, dtype=float), 3)
    window = _pair(size)
    strides = window if stride is None else _pair(stride)
    n, h, w, c = xb.shape
    positions = _window_positions(h, w, window, strides)
    out_h, out_w = (h - window[0]) // strides[0] + 1, (w - window[1]) // strides[1] + 1
    out = np.zeros((n, out_h, out_w, c))
    for bi in range(n):
        for ch in range(c):
            for i, j, cells in positions:
                out[bi, i, j, ch] = reduce([xb[bi, r, col, ch] for r, col in cells])
    return out[0] if added else out


def max_pool2d_backward_naive(
    x: np.ndarray, g: np.ndarray, size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    """dx for max pooling: each window's adjoint goes to its first maximum in row-major window order."""
    xb, added = _batched(np.asarray(x, dtype=float), 3)
    gb = g[None] if added else g
    window = _pair(size)
    strides = window if stride is None else _pair(stride)
    n, h, w, c = xb.shape
    dx = np.zeros_like(xb)
    for bi in range(n):
        for ch in range(c):
            for i, j, cells in _window_positions(h, w, window, strides):
                best = cells[0]
                for r, col in cells[1:]:
                    if xb[bi, r, col, ch] > xb[bi, best[0], best[1], ch]:
                        best = (r, col)
                dx[bi, best[0], best[1], ch] += gb[bi, i, j, ch]
    return dx[0] if added else dx


def max_pool1d_naive(x: np.ndarray, size: int, stride: int | None = None) -> np.ndarray:
    """x: (L, C) or (N, L, C); the maximum of every window of ``size`` steps."""
    xb = np.asarray(x, dtype=float)
    return max_pool2d_naive(xb[..., None, :, :], (1, size), (1, size if stride is None else stride))[..., 0, :, :]


def avg_pool1d_naive(x: np.ndarray, size: int, stride: int | None = None) -> np.ndarray:
    """x: (L, C) or (N, L, C); the mean of every window of ``size`` steps."""
    xb = np.asarray(x, dtype=float)
    return avg_pool2d_naive(xb[..., None, :, :], (1, size), (1, size if stride is None else stride))[..., 0, :, :]


def dense_naive(h: np.ndarray, v: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``y[o] = b[o] + sum_index v[index, o] h[index]``; h is S or (N,) + S (batched when v.ndim == h.ndim)."""
    batched = v.ndim == h.ndim
    hb = h if batched else h[None]
    outputs = v.shape[-1]
    y = np.zeros((hb.shape[0], outputs))
    for bi in range(hb.shape[0]):
        for o in range(outputs):
            total = 0.0 if b is None else float(b[o])
            for index in np.ndindex(*hb.shape[1:]):
                total += v[index + (o,)] * hb[(bi, *index)]
            y[bi, o] = total
    return y if batched else y[0]
