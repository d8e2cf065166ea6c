"""Dense (fully connected) layer over a whole volume, with its vector-Jacobian product.

The sheet's Eq. 3, ``y_o = sum_ijk v_ijko h_ijk``: the weights have shape ``h.shape + (O,)`` and every axis of
``h`` is contracted with the matching leading axis of ``v``. A vector ``h: (D,)`` with ``v: (D, O)`` is the
ordinary case. Note the sheet's Exercise 1b writes ``y_o = sum_k v_ok h_k``, i.e. v as (O, D); here v is
always (D, O) (inputs first, outputs last), so pass that v transposed.
"""

from __future__ import annotations

import numpy as np

from grader.engine.conv import _checked
from grader.engine.tensor import ArrayLike, Tensor, unbroadcast


def dense(h: ArrayLike, v: ArrayLike, b: ArrayLike | None = None) -> Tensor:
    """``y[o] = b[o] + sum over every index of h of v[index, o] * h[index]``.

    Batching is decided by the ranks alone, so it is never ambiguous:

    - ``v.ndim == h.ndim + 1``: no batch; h is one volume ``S`` (any shape, e.g. (H', W', K) or (D,)), v is
      ``S + (O,)``; returns (O,).
    - ``v.ndim == h.ndim``: h's first axis is a batch; h is ``(N,) + S``, v is ``S + (O,)``; returns (N, O).

    Args:
        h: ``S`` or ``(N,) + S``.
        v: ``S + (O,)``.
        b: (O,) biases, or None.

    Raises:
        ValueError naming h, v or b and their shapes when they do not fit together, or an input is not finite.
    """
    op = "dense"
    ht, vt = _checked(h, f"{op}: h"), _checked(v, f"{op}: v")
    if vt.ndim < 2:
        raise ValueError(f"{op}: v must have at least 2 axes (inputs..., O), got shape {vt.shape}")
    if vt.ndim == ht.ndim + 1:
        batched = False
        volume = ht.shape
    elif vt.ndim == ht.ndim:
        batched = True
        volume = ht.shape[1:]
    else:
        raise ValueError(
            f"{op}: v must have shape h.shape + (O,) (or h.shape[1:] + (O,) when h has a leading batch axis); "
            f"got h {ht.shape} (rank {ht.ndim}) and v {vt.shape} (rank {vt.ndim})"
        )
    if vt.shape[:-1] != volume:
        expected = f"{volume} + (O,)"
        what = f"h without its batch axis {volume}" if batched else f"h {ht.shape}"
        raise ValueError(
            f"{op}: the leading axes of v {vt.shape[:-1]} must equal the shape of {what}; v must be {expected}, "
            f"got v {vt.shape}"
        )
    outputs = vt.shape[-1]
    bt = None
    if b is not None:
        bt = _checked(b, f"{op}: b")
        if bt.shape != (outputs,):
            raise ValueError(
                f"{op}: b must have shape ({outputs},) (one bias per output; v has shape {vt.shape}), got {bt.shape}"
            )
    size = int(np.prod(volume, dtype=np.int64))
    h2 = ht.value.reshape(-1, size)  # (N, D); N = 1 without a batch
    v2 = vt.value.reshape(size, outputs)
    y2 = h2 @ v2
    if bt is not None:
        y2 += bt.value

    def vjp(g: np.ndarray) -> tuple[np.ndarray, ...]:
        g2 = g.reshape(-1, outputs)
        dh = (g2 @ v2.T).reshape(ht.shape)
        dv = (h2.T @ g2).reshape(vt.shape)
        return (dh, dv, g2.sum(axis=0)) if bt is not None else (dh, dv)

    parents = (ht, vt, bt) if bt is not None else (ht, vt)
    return Tensor.from_op(y2 if batched else y2[0], op, parents, vjp)


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Matrix product a @ b as numpy's matmul: (m, n) @ (n, p) -> (m, p); a vector is a row (on the left) or a column (on the right); leading axes are batches that broadcast.

    Args:
        a: (..., m, n), or (n,) as one row.
        b: (..., n, p), or (n,) as one column.

    Returns:
        (..., m, p) with the batch axes broadcast, the vector's axis dropped (``(n,) @ (n, p)`` is (p,),
        ``(n,) @ (n,)`` a scalar). dL/da = g @ b^T and dL/db = a^T @ g, summed over broadcast batches.

    Raises:
        ValueError naming a and b and their shapes when one is a single number, the inner lengths differ or the
        batch axes do not broadcast.
    """
    op = "matmul"
    at, bt = _checked(a, f"{op}: a"), _checked(b, f"{op}: b")
    if at.ndim == 0 or bt.ndim == 0:
        which = "a" if at.ndim == 0 else "b"
        raise ValueError(f"{op}: {which} is a single number; matmul needs a vector or a matrix (use mul to scale)")
    a2 = at.value[np.newaxis, :] if at.ndim == 1 else at.value  # (..., m, n)
    b2 = bt.value[:, np.newaxis] if bt.ndim == 1 else bt.value  # (..., n, p)
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"{op}: the inner lengths differ: a {at.shape} has {a2.shape[-1]} columns but b {bt.shape} has "
            f"{b2.shape[-2]} rows"
        )
    try:
        np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the batch axes of a {at.shape} and b {bt.shape} do not broadcast together") from None
    with np.errstate(over="ignore", invalid="ignore"):  # from_op reports a non-finite result by name
        product = a2 @ b2  # (..., m, p)
    out_shape = product.shape[:-2] + (() if at.ndim == 1 else product.shape[-2:-1]) + (() if bt.ndim == 1 else product.shape[-1:])

    def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g2 = g.reshape(product.shape)
        with np.errstate(over="ignore", invalid="ignore"):  # backward reports a non-finite adjoint by name
            da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(at.shape)
            db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(bt.shape)
        return da, db

    return Tensor.from_op(product.reshape(out_shape), op, (at, bt), vjp)
