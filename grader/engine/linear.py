"""Dense (fully connected) layer over a whole volume, with its vector-Jacobian product.

The sheet's Eq. 3, ``y_o = sum_ijk v_ijko h_ijk``: the weights have shape ``h.shape + (O,)`` and every axis of
``h`` is contracted with the matching leading axis of ``v``. A vector ``h: (D,)`` with ``v: (D, O)`` is the
ordinary case. Note the sheet's Exercise 1b writes ``y_o = sum_k v_ok h_k``, i.e. v as (O, D); here v is
always (D, O) (inputs first, outputs last), so pass that v transposed.
"""

from __future__ import annotations

import numpy as np

from grader.engine.conv import _checked
from grader.engine.tensor import ArrayLike, Tensor


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
