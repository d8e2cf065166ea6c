"""Volume sizes: conv and pooling output sizes (the sheet's (n + 2p - f)/s + 1), same padding, pipelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np


def _check_int(value: object, name: str, where: str, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; ValueError naming ``where`` and ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{where}: {name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def conv_output_size(n: int, f: int, stride: int = 1, padding: int = 0, *, floor: bool = False) -> int:
    """Width (or height) after a convolution: ``(n + 2p - f)/s + 1``, the sheet's Eq. 7.

    ``n``: input width; ``f``: filter width; ``stride`` s >= 1; ``padding`` p >= 0 zeros on each side.
    ValueError naming the numbers when the filter does not fit (f > n + 2p) or, unless ``floor``, when the filter
    positions do not come out whole (the stride does not divide n + 2p - f). With ``floor`` the division is
    rounded down, as PyTorch and TensorFlow's VALID padding do: the last rows the filter cannot reach are dropped.
    """
    where = "conv_output_size"
    n = _check_int(n, "n (input size)", where, minimum=1)
    f = _check_int(f, "f (filter size)", where, minimum=1)
    stride = _check_int(stride, "stride", where, minimum=1)
    padding = _check_int(padding, "padding", where, minimum=0)
    span = n + 2 * padding - f
    formula = f"(n + 2p - f)/s + 1 = ({n} + 2*{padding} - {f})/{stride} + 1"
    if span < 0:
        raise ValueError(
            f"{where}: the filter (f = {f}) is larger than the padded input (n + 2p = {n + 2 * padding}), "
            f"so {formula} = {span / stride + 1:g} < 1"
        )
    if span % stride and not floor:
        raise ValueError(f"{where}: {formula} = {span / stride + 1:g} is not a whole number{_FLOOR_HINT}")
    return span // stride + 1


_FLOOR_HINT = " (floor: true rounds it down, dropping the rows the last window cannot reach, as PyTorch does)"


def same_padding(f: int) -> int:
    """The padding p that keeps the size at stride 1: (n + 2p - f) + 1 = n gives p = (f - 1)/2.

    ValueError for an even ``f``: then no whole p keeps the size; the message names the two nearest paddings.
    """
    f = _check_int(f, "f (filter size)", "same_padding", minimum=1)
    if f % 2 == 0:
        low, high = (f - 2) // 2, f // 2
        raise ValueError(
            f"same_padding: no whole padding keeps the size for an even filter size f = {f}: p = (f - 1)/2 = "
            f"{(f - 1) / 2:g}; p = {low} shrinks the output by 1, p = {high} grows it by 1"
        )
    return (f - 1) // 2


def pool_output_size(n: int, size: int, stride: int | None = None, *, floor: bool = False) -> int:
    """Width after pooling windows of ``size`` with ``stride`` (default: ``size``, non-overlapping): (n - size)/s + 1.

    Strict like :func:`conv_output_size`: ValueError when the windows do not tile the input exactly (no
    silent flooring that would drop a row or column), unless ``floor`` asks for exactly that.
    """
    where = "pool_output_size"
    n = _check_int(n, "n (input size)", where, minimum=1)
    size = _check_int(size, "size (window)", where, minimum=1)
    stride = size if stride is None else _check_int(stride, "stride", where, minimum=1)
    span = n - size
    formula = f"(n - size)/s + 1 = ({n} - {size})/{stride} + 1"
    if span < 0:
        raise ValueError(f"{where}: the window (size = {size}) is larger than the input (n = {n})")
    if span % stride and not floor:
        raise ValueError(f"{where}: {formula} = {span / stride + 1:g} is not a whole number{_FLOOR_HINT}")
    return span // stride + 1


# ---- layers and pipelines -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conv:
    """A convolution with ``k`` filters of size ``f x f x C`` (C: the input's depth)."""

    f: int
    k: int
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class Pool:
    """A pooling layer (max or average: the shape is the same) with ``size x size`` windows."""

    size: int
    stride: int | None = None


@dataclass(frozen=True)
class Dense:
    """A fully connected layer over the whole input volume, with ``units`` outputs."""

    units: int


@dataclass(frozen=True)
class Flatten:
    """Reshape a volume to a vector (H * W * C,)."""


@dataclass(frozen=True)
class Activation:
    """An elementwise non-linearity (relu, sigmoid ...): the shape does not change."""

    name: str = "relu"


Layer = Conv | Pool | Dense | Flatten | Activation
_KINDS: dict[str, type] = {
    "conv": Conv, "pool": Pool, "max_pool": Pool, "avg_pool": Pool, "dense": Dense, "flatten": Flatten,
    "activation": Activation, "relu": Activation,
}  # fmt: skip


def layer_from_dict(spec: Mapping[str, Any], where: str = "layer") -> Layer:
    """A Layer from ``{"type": "conv", "f": 3, "k": 2, "stride": 1, "padding": 0}`` and the like.

    Types: conv (f, k, stride, padding), pool / max_pool / avg_pool (size, stride), dense (units), flatten,
    activation (name) / relu.
    """
    kind = spec.get("type")
    if kind not in _KINDS:
        raise ValueError(f"{where}: unknown layer type {kind!r}; known: {', '.join(_KINDS)}")
    fields = {k: v for k, v in spec.items() if k != "type"}
    if kind == "relu":
        fields.setdefault("name", "relu")
    try:
        return _KINDS[kind](**fields)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ValueError(f"{where}: bad fields for a {kind} layer: {exc}") from None


def layer_output_shape(shape: tuple[int, ...], layer: Layer, where: str = "layer") -> tuple[int, ...]:
    """The shape after ``layer`` of an input shaped ``shape`` (``(H, W, C)`` for conv and pool)."""
    if isinstance(layer, Conv | Pool):
        if len(shape) != 3:
            kind = "conv" if isinstance(layer, Conv) else "pool"
            raise ValueError(f"{where}: a {kind} layer needs an (H, W, C) volume, got shape {shape}")
        h, w, c = shape
        try:
            if isinstance(layer, Conv):
                k = _check_int(layer.k, "k (number of filters)", where, minimum=1)
                return (
                    conv_output_size(h, layer.f, layer.stride, layer.padding),
                    conv_output_size(w, layer.f, layer.stride, layer.padding),
                    k,
                )
            return pool_output_size(h, layer.size, layer.stride), pool_output_size(w, layer.size, layer.stride), c
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if isinstance(layer, Dense):
        return (_check_int(layer.units, "units", where, minimum=1),)
    if isinstance(layer, Flatten):
        return (prod(shape),)
    if isinstance(layer, Activation):
        return shape
    raise ValueError(f"{where}: not a layer: {layer!r}")


def pipeline_shapes(
    input_shape: tuple[int, ...], layers: Sequence[Layer | Mapping[str, Any]]
) -> list[tuple[int, ...]]:
    """The shape of every stage: ``[input_shape, after layer 0, after layer 1, ...]``.

    The sheet's Exercise 3a: ``(6, 6, 1)`` -> ``Conv(f=3, k=2)`` -> ``(4, 4, 2)`` -> ``Pool(2, 2)`` -> ``(2, 2, 2)``.
    Layers may be given as dicts (see :func:`layer_from_dict`). Errors name the layer's 0-based index.
    """
    shape = tuple(input_shape)
    for axis, n in enumerate(shape):
        _check_int(n, f"input_shape[{axis}]", "pipeline_shapes", minimum=1)
    shapes = [shape]
    for index, layer in enumerate(layers):
        where = f"pipeline_shapes: layer {index}"
        if isinstance(layer, Mapping):
            layer = layer_from_dict(layer, where)
        if isinstance(layer, Conv | Pool):
            where = f"{where} ({'conv' if isinstance(layer, Conv) else 'pool'})"
        shape = layer_output_shape(shape, layer, where)
        shapes.append(shape)
    return shapes
