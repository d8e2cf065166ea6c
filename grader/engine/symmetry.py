"""Translations of images and the analyses of the sheet's Exercise 3: equivariance, changed units, invariance.

A *layer* here is any function from an image ``(H, W, C)`` (or ``(H, W)``) to an output whose first two axes
are spatial (``(H', W', K)``, e.g. conv -> relu -> max-pool); it may return a numpy array or an engine
Tensor. Shifts are ``(dy, dx)``: dy rows down, dx columns right, negative = up / left, zero fill. "Move the
image one pixel to the left" is ``(0, -1)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from grader.engine.tensor import Tensor

Layer = Callable[[np.ndarray], object]
Shift = tuple[int, int]
Unit = tuple[int, ...]


def _check_image(x: object, where: str) -> np.ndarray:
    try:
        image = np.asarray(x.value if isinstance(x, Tensor) else x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: x must be an array of numbers, got {type(x).__name__}") from None
    if image.ndim not in (2, 3):
        raise ValueError(f"{where}: x must be an image (H, W) or (H, W, C), got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{where}: x has an empty spatial axis, shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{where}: x has non-finite entries (NaN or inf)")
    return image


def _check_shift(dy: object, dx: object, where: str) -> Shift:
    for name, value in (("dy", dy), ("dx", dx)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{where}: {name} must be a whole number of pixels, got {value!r}")
    return int(dy), int(dx)  # type: ignore[call-overload]


def _run(layer: Layer, x: np.ndarray, where: str) -> np.ndarray:
    """``layer(x)`` as a float64 array with at least 2 (spatial) axes."""
    if not callable(layer):
        raise ValueError(f"{where}: layer must be a function of an image, got {type(layer).__name__}")
    result = layer(x)
    array = np.asarray(result.value if isinstance(result, Tensor) else result, dtype=np.float64)
    if array.ndim < 2:
        raise ValueError(f"{where}: the layer must return an array with 2 spatial axes first, got shape {array.shape}")
    return array


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``x`` moved ``dy`` rows down and ``dx`` columns right (negative: up / left), zero-filled, same shape.

    Args:
        x: (H, W) or (H, W, C); other axes after the first two move along unchanged.
        dy, dx: whole numbers of pixels; a shift by the full size or more leaves only zeros.

    Returns:
        float64 array shaped like x: ``out[i, j] = x[i - dy, j - dx]`` where that index exists, else 0.
    """
    image = _check_image(x, "shift")
    dy, dx = _check_shift(dy, dx, "shift")
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_rows = slice(max(0, -dy), h - max(0, dy))
    dst_rows = slice(max(0, dy), h - max(0, -dy))
    src_cols = slice(max(0, -dx), w - max(0, dx))
    dst_cols = slice(max(0, dx), w - max(0, -dx))
    out[dst_rows, dst_cols] = image[src_rows, src_cols]
    return out


def _positions(mask: np.ndarray) -> list[Unit]:
    return [tuple(int(i) for i in index) for index in np.argwhere(mask)]


@dataclass(frozen=True)
class EquivarianceReport:
    """``layer(shift(x))`` against ``shift(layer(x))``, the latter shifted in the output's own grid.

    Attributes:
        equivariant: True when the two agree everywhere.
        shift: the input shift (dy, dx); output_shift: the same in output cells (input shift / stride).
        shifted_then_layer: layer(shift(x)), the output's shape.
        layer_then_shifted: shift(layer(x)), the output's shape.
        mismatches: full indices into the output where they differ (for a valid conv: the border cells that
            the zero fill invents or that new image content reaches), row-major order.
        cells: the distinct spatial cells (i, j) among ``mismatches``.
        count: len(mismatches); total: the output's size.
    """

    equivariant: bool
    shift: Shift
    output_shift: Shift
    shifted_then_layer: np.ndarray
    layer_then_shifted: np.ndarray
    mismatches: list[Unit]
    cells: list[tuple[int, int]]
    count: int
    total: int


def equivariance(
    layer: Layer, x: np.ndarray, dy: int, dx: int, *, stride: int = 1, atol: float = 1e-12
) -> EquivarianceReport:
    """Does shifting the input by (dy, dx) shift the output by (dy, dx)/stride? Where does it not?

    Args:
        layer: image (H, W[, C]) -> output (H', W'[, K]).
        x: the image.
        dy, dx: the input shift; each must be a multiple of ``stride``.
        stride: the layer's total stride (1 for a stride-1 conv: the output moves as far as the input).
        atol: entries closer than this count as equal.
    """
    where = "equivariance"
    image = _check_image(x, where)
    dy, dx = _check_shift(dy, dx, where)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"{where}: stride must be a whole number >= 1, got {stride!r}")
    if dy % stride or dx % stride:
        raise ValueError(
            f"{where}: the shift ({dy}, {dx}) is not a multiple of the stride {stride}, so it does not move the "
            "output by whole cells"
        )
    before = _run(layer, image, where)
    after = _run(layer, shift(image, dy, dx), where)
    if after.shape != before.shape:
        raise ValueError(f"{where}: the layer's output shape changed with the shift: {before.shape} -> {after.shape}")
    out_dy, out_dx = dy // stride, dx // stride
    expected = shift(before, out_dy, out_dx)
    differs = ~np.isclose(after, expected, rtol=0.0, atol=atol)
    mismatches = _positions(differs)
    cells = sorted({(index[0], index[1]) for index in mismatches})
    return EquivarianceReport(
        equivariant=not mismatches,
        shift=(dy, dx),
        output_shift=(out_dy, out_dx),
        shifted_then_layer=after,
        layer_then_shifted=expected,
        mismatches=mismatches,
        cells=cells,
        count=len(mismatches),
        total=int(after.size),
    )


@dataclass(frozen=True)
class ChangeReport:
    """Which output units change when the input is shifted.

    Attributes:
        count: how many units changed; total: how many there are.
        positions: their indices into the output (row-major order).
        before: layer(x); after: layer(shift(x)); both the output's shape.
    """

    count: int
    total: int
    positions: list[Unit]
    before: np.ndarray
    after: np.ndarray


def changed_units(layer: Layer, x: np.ndarray, dy: int, dx: int, *, atol: float = 1e-12) -> ChangeReport:
    """Compare layer(x) with layer(shift(x, dy, dx)) unit by unit (the sheet's "how many pooled units change")."""
    where = "changed_units"
    image = _check_image(x, where)
    dy, dx = _check_shift(dy, dx, where)
    before = _run(layer, image, where)
    after = _run(layer, shift(image, dy, dx), where)
    if after.shape != before.shape:
        raise ValueError(f"{where}: the layer's output shape changed with the shift: {before.shape} -> {after.shape}")
    changed = ~np.isclose(after, before, rtol=0.0, atol=atol)
    positions = _positions(changed)
    return ChangeReport(count=len(positions), total=int(before.size), positions=positions, before=before, after=after)


def _shift_list(shifts: Iterable[Shift] | int, where: str, image: np.ndarray) -> list[Shift]:
    """The shifts to try: the given pairs, or for a whole number r every non-zero shift with |dy|, |dx| <= r, where r
    may be at most the image's larger side (a shift that far leaves nothing of it in view: every larger r tries only
    all-zero images more, at a cost growing with r squared)."""
    if isinstance(shifts, int | np.integer) and not isinstance(shifts, bool):
        reach = int(shifts)
        if reach < 1:
            raise ValueError(f"{where}: the largest shift must be >= 1, got {reach}")
        side = max(image.shape[0], image.shape[1])
        if reach > side:
            raise ValueError(
                f"{where}: the largest shift {reach} moves the {image.shape[0]}x{image.shape[1]} image out of view "
                f"(so does {side}); use at most {side}"
            )
        return [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1) if (dy, dx) != (0, 0)]
    result: list[Shift] = []
    for item in shifts:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise ValueError(f"{where}: each shift must be a pair (dy, dx), got {item!r}")
        result.append(_check_shift(item[0], item[1], where))
    return result


def invariant_shifts(
    layer: Layer,
    x: np.ndarray,
    unit: Unit,
    shifts: Iterable[Shift] | int = 2,
    *,
    atol: float = 1e-12,
) -> list[Shift]:
    """The non-zero shifts that leave one output unit's value unchanged.

    Args:
        layer, x: as for :func:`changed_units`.
        unit: an index into layer(x), e.g. (i, j, k) for a pooled volume (H', W', K).
        shifts: the shifts to try: a list of (dy, dx), or an int r for every shift with |dy|, |dx| <= r
            except (0, 0) (default r = 2).

    Returns:
        the shifts (dy, dx) under which ``layer(shift(x))[unit] == layer(x)[unit]``, in the order tried.
    """
    where = "invariant_shifts"
    image = _check_image(x, where)
    candidates = _shift_list(shifts, where, image)
    before = _run(layer, image, where)
    index = tuple(unit)
    if len(index) != before.ndim or any(
        isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < n
        for i, n in zip(index, before.shape, strict=False)
    ):
        raise ValueError(f"{where}: unit {unit!r} is not an index into the layer's output of shape {before.shape}")
    found: list[Shift] = []
    for dy, dx in candidates:
        after = _run(layer, shift(image, dy, dx), where)
        if after.shape != before.shape:
            raise ValueError(f"{where}: the layer's output shape changed with the shift ({dy}, {dx})")
        if abs(after[index] - before[index]) <= atol:
            found.append((dy, dx))
    return found


def invariant_shifts_all(
    layer: Layer, x: np.ndarray, max_shift: int = 2, *, atol: float = 1e-12
) -> dict[Unit, list[Shift]]:
    """For every output unit, the non-zero shifts with |dy|, |dx| <= max_shift that leave it unchanged.

    The layer runs once per shift (at most (2 max_shift + 1)^2 - 1 times); all units are compared at once.
    The sheet's Exercise 3d asks whether every pooled unit has at least one such shift.
    """
    where = "invariant_shifts_all"
    image = _check_image(x, where)
    candidates = _shift_list(max_shift, where, image)
    before = _run(layer, image, where)
    kept = np.zeros((len(candidates),) + before.shape, dtype=bool)
    for n, (dy, dx) in enumerate(candidates):
        after = _run(layer, shift(image, dy, dx), where)
        if after.shape != before.shape:
            raise ValueError(f"{where}: the layer's output shape changed with the shift ({dy}, {dx})")
        kept[n] = np.abs(after - before) <= atol
    return {
        tuple(int(i) for i in index): [candidates[n] for n in np.flatnonzero(kept[(slice(None), *index)])]
        for index in np.ndindex(before.shape)
    }
