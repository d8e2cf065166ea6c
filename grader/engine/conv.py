"""Convolution layers (conv2d, conv1d): vectorized forward passes and their vector-Jacobian products.

Layout follows the week-7 sheet's Eq. 1, ``a_ijk = b_k + sum_xyc I_{i+x-1, j+y-1, c} w_xyck`` (1-based there,
0-based here): images ``(H, W, C)`` or ``(N, H, W, C)``, filter banks ``(fh, fw, C, K)`` indexed
``w[x, y, c, k]`` (x = row offset, y = column offset), outputs ``(H', W', K)`` or ``(N, H', W', K)``.
Cross-correlation (no kernel flip), zero padding on each side, ``H' = (H + 2p - fh)/s + 1``.

The forward pass gathers every receptive field into one contiguous im2col matrix ``(N*H'*W', fh*fw*C)`` and
multiplies it by the filter bank seen as ``(fh*fw*C, K)`` -- one GEMM, no Python loop over pixels or batch
entries. The backward pass is two more GEMMs (filter adjoint, and the im2col matrix's adjoint), and the input's
adjoint is scattered back with one strided slice-add per filter offset (fh*fw of them). Speed against PyTorch
and against plain loops is measured by ``benchmarks/engine.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from grader.engine.tensor import ArrayLike, Tensor, as_tensor, check_finite

IntOrPair = int | Sequence[int]


# ---- argument checks shared with pool.py ------------------------------------------------------------------
def _pair(value: IntOrPair, name: str, op: str, *, minimum: int) -> tuple[int, int]:
    """``value`` as (rows, columns): an int means the same for both; ValueError naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        shown = pair[0] if isinstance(value, (int, np.integer)) else tuple(value)
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {shown}")
    return pair


def _single(value: int, name: str, op: str, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (1-d ops take one number, not a pair)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{op}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _output_size(op: str, axis: str, n: int, f: int, stride: int, padding: int, window: str) -> int:
    """``(n + 2p - f)/s + 1`` for one axis; ValueError when the window does not fit or the size is fractional.

    ``axis`` names the axis (``"height"``), ``window`` the argument that set ``f`` (``"w"``, ``"size"``).
    """
    padded = n + 2 * padding
    if f > padded:
        raise ValueError(
            f"{op}: the window of {window} ({axis} {f}) is larger than the padded input "
            f"({axis} n + 2p = {n} + {2 * padding} = {padded})"
        )
    span = padded - f
    if span % stride:
        size = span / stride + 1
        raise ValueError(
            f"{op}: (n + 2p - f)/s + 1 = ({n} + {2 * padding} - {f})/{stride} + 1 = {size:g} is not a whole "
            f"number ({axis}: n = {n} from x, f = {f} from {window}, s = {stride} from stride, p = {padding}); "
            + ("choose stride and padding so that s divides n + 2p - f" if window == "w"
               else "choose size and stride so that s divides n - f")
        )
    return span // stride + 1


def _checked(value: ArrayLike, name: str) -> Tensor:
    """``value`` as a Tensor whose array is finite; ValueError naming ``name`` otherwise.

    Raw arrays are checked on the way in (by ``as_tensor``), leaves when they were made (``Tensor(...)``);
    op results are checked here, once, since an earlier op may have overflowed.
    """
    tensor = as_tensor(value, name)
    if tensor.op not in ("leaf", "const"):
        check_finite(tensor.value, name)
    return tensor


def _windows(x: np.ndarray, size: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]) -> np.ndarray:
    """Read-only view ``(N, H', W', fh, fw, C)`` of ``x: (N, H, W, C)``: entry [n, i, j, a, b] is the
    window element at row ``i*sh + a``, column ``j*sw + b``. No copy."""
    n, _, _, c = x.shape
    s_n, s_h, s_w, s_c = x.strides
    return as_strided(
        x,
        shape=(n, out[0], out[1], size[0], size[1], c),
        strides=(s_n, s_h * stride[0], s_w * stride[1], s_h, s_w, s_c),
        writeable=False,
    )


def _offset_slices(
    size: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]
) -> list[tuple[int, int, tuple[slice, slice]]]:
    """For each window offset (a, b) in row-major order: (a, b, (rows, cols)) selecting, from an input
    ``(N, H, W, C)``, the ``(N, H', W', C)`` entries that sit at that offset of every window."""
    return [
        (
            a,
            b,
            (
                slice(a, a + stride[0] * (out[0] - 1) + 1, stride[0]),
                slice(b, b + stride[1] * (out[1] - 1) + 1, stride[1]),
            ),
        )
        for a in range(size[0])
        for b in range(size[1])
    ]


# ---- the shared kernel ---------------------------------------------------------------------------------
def _conv2d_arrays(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int], padding: tuple[int, int],
    out_size: tuple[int, int],
) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray | None]]]:
    """Checked arrays in, ``(output, backward)`` out.

    x: (N, H, W, C); w: (fh, fw, C, K); b: (K,) or None; returns output (N, H', W', K) and
    ``backward(g: (N, H', W', K)) -> (dx: (N, H, W, C), dw: (fh, fw, C, K), db: (K,) or None)``.
    """
    n, height, width, channels = x.shape
    fh, fw, _, k = w.shape
    ph, pw = padding
    out_h, out_w = out_size
    padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0))) if ph or pw else x
    rows = n * out_h * out_w
    cols = np.ascontiguousarray(_windows(padded, (fh, fw), stride, out_size)).reshape(rows, fh * fw * channels)
    w2 = w.reshape(fh * fw * channels, k)
    out = cols @ w2
    if b is not None:
        out += b
    out = out.reshape(n, out_h, out_w, k)

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        g2 = np.ascontiguousarray(g).reshape(rows, k)
        dw = (cols.T @ g2).reshape(w.shape)
        db = g2.sum(axis=0) if b is not None else None
        # The scatter runs in a channels-first layout (C, N, H, W): each strided slice-add then moves runs of
        # W' contiguous numbers instead of C (often 1 or 3), which is several times faster.
        dcols = (w2 @ g2.T).reshape(fh, fw, channels, n, out_h, out_w)
        dpadded = np.zeros((channels, n, padded.shape[1], padded.shape[2]))
        for a, c, (row_slice, col_slice) in _offset_slices((fh, fw), stride, out_size):
            dpadded[:, :, row_slice, col_slice] += dcols[a, c]
        dx = np.ascontiguousarray(dpadded[:, :, ph : ph + height, pw : pw + width].transpose(1, 2, 3, 0))
        return dx, dw, db

    return out, backward


def _check_bias(op: str, b: ArrayLike | None, k: int, w_shape: tuple[int, ...]) -> Tensor | None:
    if b is None:
        return None
    bias = _checked(b, f"{op}: b")
    if bias.shape != (k,):
        raise ValueError(
            f"{op}: b must have shape ({k},) (one bias per filter; w has shape {w_shape}), got {bias.shape}"
        )
    return bias


def conv2d(
    x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, *, stride: IntOrPair = 1, padding: IntOrPair = 0
) -> Tensor:
    """2-d cross-correlation of an image with a filter bank, plus a bias per filter (the sheet's Eq. 1).

    Args:
        x: (H, W, C) or (N, H, W, C) image(s).
        w: (fh, fw, C, K) filter bank, ``w[x, y, c, k]``; usually fh = fw = f.
        b: (K,) biases, or None for none.
        stride: s, an int or a (rows, columns) pair, each >= 1.
        padding: p zeros added on each side, an int or a (rows, columns) pair, each >= 0.

    Returns:
        (H', W', K), or (N, H', W', K) for batched x, with ``H' = (H + 2p - fh)/s + 1`` (likewise W');
        ``out[i, j, k] = b[k] + sum_{x,y,c} xpad[i*s + x, j*s + y, c] * w[x, y, c, k]``.

    Raises:
        ValueError naming the argument and the shapes/numbers when ranks, channels, bias length, stride,
        padding or the output size do not fit, or an input is not finite.
    """
    op = "conv2d"
    xt, wt = _checked(x, f"{op}: x"), _checked(w, f"{op}: w")
    if xt.ndim not in (3, 4):
        raise ValueError(f"{op}: x must be (H, W, C) or (N, H, W, C), got shape {xt.shape} (rank {xt.ndim})")
    if wt.ndim != 4:
        raise ValueError(f"{op}: w must be (fh, fw, C, K), got shape {wt.shape} (rank {wt.ndim})")
    fh, fw, c_w, k = wt.shape
    c_x = xt.shape[-1]
    if c_w != c_x:
        raise ValueError(
            f"{op}: x has {c_x} channels (shape {xt.shape}) but w expects {c_w} (w shape {wt.shape}, axis 2)"
        )
    bt = _check_bias(op, b, k, wt.shape)
    strides = _pair(stride, "stride", op, minimum=1)
    pads = _pair(padding, "padding", op, minimum=0)
    x4 = xt.value if xt.ndim == 4 else xt.value[None]
    out_size = (
        _output_size(op, "height", x4.shape[1], fh, strides[0], pads[0], "w"),
        _output_size(op, "width", x4.shape[2], fw, strides[1], pads[1], "w"),
    )
    out, backward = _conv2d_arrays(x4, wt.value, None if bt is None else bt.value, strides, pads, out_size)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        dx, dw, db = backward(g if xt.ndim == 4 else g[None])
        return (dx.reshape(xt.shape), dw, db) if bt is not None else (dx.reshape(xt.shape), dw)

    parents = (xt, wt, bt) if bt is not None else (xt, wt)
    return Tensor.from_op(out if xt.ndim == 4 else out[0], op, parents, vjp)


def conv1d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, *, stride: int = 1, padding: int = 0) -> Tensor:
    """1-d cross-correlation of a sequence with a filter bank, plus a bias per filter.

    Args:
        x: (L, C) or (N, L, C) sequence(s).
        w: (f, C, K) filter bank, ``w[x, c, k]``.
        b: (K,) biases, or None.
        stride: s >= 1. padding: p >= 0 zeros on each end.

    Returns:
        (L', K) or (N, L', K) with ``L' = (L + 2p - f)/s + 1``;
        ``out[i, k] = b[k] + sum_{x,c} xpad[i*s + x, c] * w[x, c, k]``.
    """
    op = "conv1d"
    xt, wt = _checked(x, f"{op}: x"), _checked(w, f"{op}: w")
    if xt.ndim not in (2, 3):
        raise ValueError(f"{op}: x must be (L, C) or (N, L, C), got shape {xt.shape} (rank {xt.ndim})")
    if wt.ndim != 3:
        raise ValueError(f"{op}: w must be (f, C, K), got shape {wt.shape} (rank {wt.ndim})")
    f, c_w, k = wt.shape
    c_x = xt.shape[-1]
    if c_w != c_x:
        raise ValueError(
            f"{op}: x has {c_x} channels (shape {xt.shape}) but w expects {c_w} (w shape {wt.shape}, axis 1)"
        )
    bt = _check_bias(op, b, k, wt.shape)
    s = _single(stride, "stride", op, minimum=1)
    p = _single(padding, "padding", op, minimum=0)
    x3 = xt.value if xt.ndim == 3 else xt.value[None]
    length = _output_size(op, "length", x3.shape[1], f, s, p, "w")
    # A sequence is an image of height 1: reuse the 2-d kernel with no padding or striding along rows.
    out, backward = _conv2d_arrays(
        x3[:, None], wt.value[None], None if bt is None else bt.value, (1, s), (0, p), (1, length)
    )

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g4 = g[:, None] if xt.ndim == 3 else g[None, None]
        dx, dw, db = backward(g4)
        grads = (dx.reshape(xt.shape), dw.reshape(wt.shape))
        return (*grads, db) if bt is not None else grads

    parents = (xt, wt, bt) if bt is not None else (xt, wt)
    out3 = out[:, 0]
    return Tensor.from_op(out3 if xt.ndim == 3 else out3[0], op, parents, vjp)
