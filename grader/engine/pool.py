"""Pooling layers (max and average, 2-d and 1-d) with their vector-Jacobian products, and max-pool winners.

Layout: ``(H, W, C)`` or ``(N, H, W, C)`` (1-d: ``(L, C)`` or ``(N, L, C)``); each channel is pooled on its
own; no padding; the stride defaults to the window size; ``H' = (H - fh)/s + 1`` must be a whole number.

Max-pool tie rule: when several entries of a window share the maximum, the FIRST one in row-major window
order (row offset, then column offset -- as ``numpy.argmax`` over the flattened window) wins and alone
receives that window's gradient. Overlapping windows (stride < size) add their gradients up.

The rule is a convention, so a key must not depend on it. :func:`max_pool2d_ties` lists the windows whose
maximum is tied (up to a tolerance); inside ``with max_pool_tie_audit(...)`` the max-pool VJPs record the tied
windows they send a gradient through and, if asked, share it among the window's tied entries with random
positive weights or give it to one chosen tied entry, so that a caller (the ``grad`` op) can tell whether a
gradient depends on the rule. Outside an audit the VJPs only read one context variable more.

All loops run over the window offsets (fh*fw of them), never over pixels, channels or batch entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from grader.engine.audit import number_text
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

    def routed(g4: np.ndarray) -> np.ndarray:
        dx = np.zeros(x4.shape)
        for flat, (_, _, (rows, cols)) in enumerate(offsets):
            dx[:, rows, cols, :] += g4 * (winner == flat)  # overlapping windows: adjoints add up
        return dx.reshape(xt.shape)

    vjp = _max_pool_vjp(op, xt, x4, best, window, strides, out_size, routed)
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

    def routed(g4: np.ndarray) -> np.ndarray:
        won = tiles == best[:, :, None, :, None, :]
        if np.count_nonzero(won) != best.size:  # some window holds its maximum twice: apply the tie rule
            _, winner, offsets = _max_pool_arrays(x4, window, window, out_size)
            for flat, (a, b, _) in enumerate(offsets):
                np.equal(winner, flat, out=won[:, :, a, :, b, :])
        dx = np.empty(x4.shape)
        np.multiply(won, g4[:, :, None, :, None, :], out=dx.reshape(tiles.shape))
        return dx.reshape(xt.shape)

    vjp = _max_pool_vjp(op, xt, x4, best, window, window, out_size, routed)
    return Tensor.from_op(best.reshape(out_shape), op, (xt,), vjp, fresh_grads=True)


def _max_pool_vjp(
    op: str, xt: Tensor, x4: np.ndarray, best: np.ndarray, window: tuple[int, int], strides: tuple[int, int],
    out_size: tuple[int, int], routed: Callable[[np.ndarray], np.ndarray],
) -> Callable[[np.ndarray], tuple[np.ndarray]]:
    """The VJP of a max pool: ``routed(g4)`` (g4: the output's adjoint as ``(N, H', W', C)``, result shaped like
    x) sends each window's adjoint to its winner by the tie rule; inside a :func:`max_pool_tie_audit` the audit
    sees it first (:func:`_audited_vjp`). Outside an audit this costs one context-variable read."""

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        g4 = g.reshape(best.shape)
        audit = _AUDIT.get()
        if audit is not None:
            return (_audited_vjp(audit, op, xt, x4, best, window, strides, out_size, g4, routed),)
        return (routed(g4),)

    return vjp


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
        no window at all (possible when stride > size), are False. A key must not rest on the tie rule: see
        :func:`max_pool2d_ties` (the ``max_pool_winners`` op refuses tied windows; report drawings do not).
    """
    xt, x4, window, strides, out_size = _prepare_2d("max_pool2d_winners", x, size, stride)
    _, winner, offsets = _max_pool_arrays(x4, window, strides, out_size)
    mask = np.zeros(x4.shape, dtype=bool)
    for flat, (_, _, (rows, cols)) in enumerate(offsets):
        mask[:, rows, cols, :] |= winner == flat
    return mask.reshape(xt.shape)


# ---- ties: windows whose maximum is held more than once -------------------------------------------------------
@dataclass(frozen=True)
class PoolTie:
    """One max-pooling window that holds its maximum more than once (up to a tolerance).

    Attributes:
        op: the pooling op that met it (``max_pool2d``, ``max_pool1d`` or ``max_pool2d_ties``).
        serial: its number among the tied windows met in one pass: in an audit, in the order the VJPs run and
            then row-major over the pool's output ``(N, H', W', C)``; the same for every backward pass over one
            graph (it depends on the forward values only), so a later pass can name it in ``only``.
        batch: the window's index along N when x is batched (``(N, H, W, C)`` or ``(N, L, C)``), else None.
        rows, cols: first and last row and column of the window in x (0-based, inclusive); for a 1-d pool
            ``rows`` is ``(0, 0)`` and ``cols`` are the window's first and last position.
        channel: the channel (last axis of x).
        entries: the tied entries as indices into x, in x's own layout, in row-major window order.
        values: x at those entries.
        adjoint: the gradient the window's output received (None outside a backward pass).
    """

    op: str
    serial: int
    batch: int | None
    rows: tuple[int, int]
    cols: tuple[int, int]
    channel: int
    entries: tuple[tuple[int, ...], ...]
    values: tuple[float, ...]
    adjoint: float | None = None

    @property
    def one_d(self) -> bool:
        return self.op == "max_pool1d"

    def where(self) -> str:
        """``the window at rows 0-1, columns 2-3 of channel 0 (0-based)`` (1-d: ``at positions 4-5``)."""
        if self.one_d:
            place = f"positions {self.cols[0]}-{self.cols[1]}"
        else:
            place = f"rows {self.rows[0]}-{self.rows[1]}, columns {self.cols[0]}-{self.cols[1]}"
        batch = f" of batch entry {self.batch}" if self.batch is not None else ""
        return f"the window at {place} of channel {self.channel}{batch} (0-based)"

    def tied_text(self, name: str = "x", shown: int = 4) -> str:
        """``x[0, 2, 0] = 5 and x[1, 3, 0] = 5`` (at most ``shown`` entries, then how many more)."""
        items = [f"{name}{list(index)} = {number_text(value)}" for index, value in zip(self.entries, self.values, strict=True)]
        if len(items) > shown:
            items = [*items[:shown], f"{len(items) - shown} more"]
        return ", ".join(items[:-1]) + f" and {items[-1]}"


class TieScan(NamedTuple):
    """What :func:`max_pool2d_ties` found: the first ``limit`` tied windows, how many tie, how many there are."""

    ties: list[PoolTie]
    tied: int
    windows: int


def _tie_floor(best: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """The least value that ties with a window maximum ``best``: ``best - (atol + rtol * |best|)`` (any shape)."""
    return best - (atol + rtol * np.abs(best))


def _near_counts(
    x4: np.ndarray, floor: np.ndarray, offsets: list[tuple[int, int, tuple[slice, slice]]]
) -> np.ndarray:
    """``(N, H', W', C)``: how many entries of each window reach its :func:`_tie_floor` ``floor`` (at least 1,
    the maximum itself). One comparison and one addition per window offset."""
    count = np.zeros(floor.shape, dtype=np.intp)
    near = np.empty(floor.shape, dtype=bool)
    for _, _, (rows, cols) in offsets:
        np.greater_equal(x4[:, rows, cols, :], floor, out=near)
        count += near
    return count


def _tie_at(
    op: str, x_ndim: int, x4: np.ndarray, best: np.ndarray, position: int, serial: int,
    window: tuple[int, int], strides: tuple[int, int], rtol: float, atol: float, adjoint: float | None,
) -> PoolTie:
    """The :class:`PoolTie` of the window at flat ``position`` of the output ``(N, H', W', C)``.

    ``x4`` is x as ``(N, H, W, C)`` (a 1-d x as ``(N, 1, L, C)``); ``x_ndim`` is x's own rank, which says whether
    x is batched and how to write its indices.
    """
    one_d = op == "max_pool1d"
    n, i, j, c = (int(k) for k in np.unravel_index(position, best.shape))
    top, left = i * strides[0], j * strides[1]
    batched = x_ndim == (3 if one_d else 4)
    floor = float(_tie_floor(best[n, i, j, c], rtol, atol))
    entries: list[tuple[int, ...]] = []
    values: list[float] = []
    for a in range(window[0]):
        for b in range(window[1]):
            value = float(x4[n, top + a, left + b, c])
            if value >= floor:
                spatial = (left + b,) if one_d else (top + a, left + b)
                entries.append(((n,) if batched else ()) + spatial + (c,))
                values.append(value)
    return PoolTie(
        op=op, serial=serial, batch=n if batched else None, rows=(top, top + window[0] - 1),
        cols=(left, left + window[1] - 1), channel=c, entries=tuple(entries), values=tuple(values), adjoint=adjoint,
    )


def max_pool2d_ties(
    x: ArrayLike, size: IntOrPair, *, stride: IntOrPair | None = None, rtol: float, atol: float, limit: int = 1,
    op: str = "max_pool2d_ties",
) -> TieScan:
    """The max-pooling windows of ``x`` that hold their maximum more than once.

    Args:
        x: (H, W, C) or (N, H, W, C). size, stride: as for :func:`max_pool2d`.
        rtol, atol: an entry ties with its window's maximum m when ``|entry - m| <= atol + rtol * |m|``.
        limit: how many tied windows to describe (row-major over the output ``(N, H', W', C)``).
        op: the name a bad x, size or stride is reported under (``max_pool_winners: size must be >= 1``): the
            caller's, so that an author reads the op they wrote, never this function's name.

    Returns:
        a :class:`TieScan`: the first ``limit`` tied windows, the number of tied windows and of all windows.
    """
    xt, x4, window, strides, out_size = _prepare_2d(op, x, size, stride)
    best, _, offsets = _max_pool_arrays(x4, window, strides, out_size)
    positions = np.flatnonzero(_near_counts(x4, _tie_floor(best, rtol, atol), offsets) > 1)
    ties = [
        _tie_at("max_pool2d_ties", xt.ndim, x4, best, int(p), k, window, strides, rtol, atol, None)
        for k, p in enumerate(positions[:limit])
    ]
    return TieScan(ties=ties, tied=int(positions.size), windows=int(best.size))


SPLIT_LOW, SPLIT_HIGH = 0.5, 1.5
"""A split draws each tied entry's weight uniformly from [SPLIT_LOW, SPLIT_HIGH), then normalizes over the window."""


@dataclass
class TieAudit:
    """The tied max-pooling windows met by the VJPs of one backward pass, and what those VJPs do about them.

    Attributes:
        rtol, atol: an entry ties with its window's maximum m when ``|entry - m| <= atol + rtol * |m|``.
        split: None keeps the tie rule (the gradient goes exactly where it goes without an audit); a seed shares
            each tied window's gradient among its tied entries with random positive weights summing to 1 (each
            drawn uniformly from [SPLIT_LOW, SPLIT_HIGH) by ``numpy.random.default_rng(split)``, then normalized).
            The weights are drawn for every tied window met, in serial order, whatever ``only`` says: one seed
            gives a window the same weights in every pass over one graph.
        entry: instead of ``split``, give each tied window's whole gradient to its tied entry of this rank
            (0-based, row-major window order among the tied entries); a window with fewer keeps the tie rule.
        only: with ``split`` or ``entry``, reroute only the tied windows of these serials (None: all of them).
        limit: how many tied windows ``ties`` describes at most.
        ties: the tied windows that received a non-zero gradient, up to ``limit`` of them, in serial order.
        receiving: how many tied windows received a non-zero gradient (all of them, beyond ``limit`` too).
        met: how many tied windows the VJPs met, with or without a gradient (the next one's serial).
    """

    rtol: float
    atol: float
    split: int | None = None
    entry: int | None = None
    only: frozenset[int] | None = None
    limit: int = 64
    ties: list[PoolTie] = field(default_factory=list)
    receiving: int = 0
    met: int = 0
    rng: np.random.Generator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.split is not None and self.entry is not None:
            raise ValueError("a tie audit splits tied windows' gradients or gives them to one entry, not both")
        if self.split is not None and self.rng is None:
            self.rng = np.random.default_rng(self.split)

    @property
    def reroutes(self) -> bool:
        """Whether the VJPs send some tied window's gradient elsewhere than the tie rule does."""
        return self.split is not None or self.entry is not None


_AUDIT: ContextVar[TieAudit | None] = ContextVar("max_pool_tie_audit", default=None)


@contextmanager
def max_pool_tie_audit(
    *, rtol: float, atol: float, split: int | None = None, entry: int | None = None,
    only: frozenset[int] | None = None, limit: int = 64,
) -> Iterator[TieAudit]:
    """Audit the max-pool VJPs run inside the block (see :class:`TieAudit`); yields the audit to read after.

    Only the VJPs are affected: a forward pass inside the block is the same as outside.
    """
    audit = TieAudit(rtol=rtol, atol=atol, split=split, entry=entry, only=only, limit=limit)
    token = _AUDIT.set(audit)
    try:
        yield audit
    finally:
        _AUDIT.reset(token)


def _audited_vjp(
    audit: TieAudit, op: str, xt: Tensor, x4: np.ndarray, best: np.ndarray, window: tuple[int, int],
    strides: tuple[int, int], out_size: tuple[int, int], g4: np.ndarray, routed: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """A max pool's VJP under ``audit``: record the tied windows ``g4`` sends gradient through, then route it.

    ``x4``: x as (N, H, W, C) (1-d: (N, 1, L, C)); ``best``, ``g4``: the maxima and the output's adjoint, both
    (N, H', W', C); ``routed(g4)``: the VJP's usual result, shaped like x (the tie rule). A rerouted tied window's
    adjoint is taken out of ``g4`` before ``routed`` and added back at its tied entries with the audit's weights.
    """
    offsets = _offset_slices(window, strides, out_size)
    floor = _tie_floor(best, audit.rtol, audit.atol)
    positions = np.flatnonzero(_near_counts(x4, floor, offsets) > 1)
    serials = audit.met + np.arange(positions.size)
    audit.met += int(positions.size)
    if not positions.size:
        return routed(g4)
    adjoints = g4.reshape(-1)[positions]
    receiving = adjoints != 0
    audit.receiving += int(np.count_nonzero(receiving))
    for position, serial, adjoint in zip(positions[receiving], serials[receiving], adjoints[receiving], strict=True):
        if len(audit.ties) >= audit.limit:
            break
        audit.ties.append(
            _tie_at(op, xt.ndim, x4, best, int(position), int(serial), window, strides, audit.rtol, audit.atol, float(adjoint))
        )
    if not audit.reroutes:
        return routed(g4)
    # (F, P) for the F window offsets and the P tied windows: drawn for all of them (see TieAudit.split)
    draws = None if audit.rng is None else audit.rng.uniform(SPLIT_LOW, SPLIT_HIGH, size=(len(offsets), positions.size))
    chosen = np.ones(positions.size, dtype=bool) if audit.only is None else np.isin(serials, sorted(audit.only))
    chosen &= receiving
    if not chosen.any():
        return routed(g4)
    n, i, j, c = np.unravel_index(positions[chosen], best.shape)  # each (P',)
    a = np.array([a for a, _, _ in offsets])[:, None]  # (F, 1): each offset's row and column in its window
    b = np.array([b for _, b, _ in offsets])[:, None]
    index = np.broadcast_arrays(n[None], i[None] * strides[0] + a, j[None] * strides[1] + b, c[None])  # 4 x (F, P')
    near = x4[tuple(index)] >= floor[n, i, j, c][None]  # (F, P'): the tied entries of each chosen window
    if draws is not None:
        weights = draws[:, chosen] * near
    else:
        weights = (near & (np.cumsum(near, axis=0) - 1 == audit.entry)).astype(np.float64)
    given = weights.any(axis=0)  # (P',): False where a window has no tied entry of rank ``entry``: the rule stays
    weights, index = weights[:, given], tuple(k[:, given] for k in index)
    weights /= weights.sum(axis=0)
    kept = g4.copy()
    kept.reshape(-1)[positions[chosen][given]] = 0.0
    dx4 = routed(kept).reshape(x4.shape)  # a view: routed returns a fresh contiguous array
    np.add.at(dx4, index, weights * g4.reshape(-1)[positions[chosen][given]][None])  # overlapping windows add up
    return dx4.reshape(xt.shape)
