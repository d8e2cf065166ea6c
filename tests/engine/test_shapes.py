"""Volume sizes: the sheet's formula, same padding, pooling, pipelines -- checked against the engine's layers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine.conv import conv2d
from grader.engine.linear import dense
from grader.engine.pool import max_pool2d
from grader.engine.shapes import (
    Activation,
    Conv,
    Dense,
    Flatten,
    Pool,
    conv_output_size,
    pipeline_shapes,
    pool_output_size,
    same_padding,
)


@settings(max_examples=60, deadline=None)
@given(out=st.integers(1, 6), f=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 2))
def test_conv_output_size_matches_conv2d(out: int, f: int, stride: int, padding: int) -> None:
    n = (out - 1) * stride + f - 2 * padding  # the n for which the formula gives `out`
    if n < 1:
        return
    assert conv_output_size(n, f, stride, padding) == out
    y = conv2d(np.ones((n, n, 2)), np.ones((f, f, 2, 3)), stride=stride, padding=padding)
    assert y.shape == (out, out, 3)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), f=st.integers(1, 6), stride=st.integers(2, 4), padding=st.integers(0, 2))
def test_conv_output_size_refuses_what_does_not_fit(n: int, f: int, stride: int, padding: int) -> None:
    span = n + 2 * padding - f
    if span >= 0 and span % stride == 0:
        assert conv_output_size(n, f, stride, padding) == span // stride + 1
        return
    with pytest.raises(ValueError, match=rf"\({n} \+ 2\*{padding} - {f}\)/{stride} \+ 1"):
        conv_output_size(n, f, stride, padding)


def test_conv_output_size_messages_name_the_numbers() -> None:
    with pytest.raises(ValueError, match=r"conv_output_size: \(n \+ 2p - f\)/s \+ 1 = \(6 \+ 2\*0 - 3\)/2 \+ 1 = 2\.5 is not a whole number"):
        conv_output_size(6, 3, stride=2)
    with pytest.raises(ValueError, match=r"the filter \(f = 5\) is larger than the padded input \(n \+ 2p = 4\)"):
        conv_output_size(2, 5, padding=1)
    with pytest.raises(ValueError, match="f \\(filter size\\) must be >= 1, got 0"):
        conv_output_size(6, 0)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        conv_output_size(6, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        conv_output_size(6, 3, padding=-1)
    with pytest.raises(ValueError, match="n \\(input size\\) must be a whole number, got 6.5"):
        conv_output_size(6.5, 3)  # type: ignore[arg-type]
    assert conv_output_size(np.int64(6), 3) == 4


def test_the_sheets_exercise_2b_check() -> None:
    p = same_padding(3)
    assert p == 1 and conv_output_size(4, 3, stride=1, padding=p) == 4


@pytest.mark.parametrize("f", [1, 3, 5, 7, 9])
def test_same_padding_keeps_the_size_for_odd_filters(f: int) -> None:
    p = same_padding(f)
    for n in range(f, f + 6):
        assert conv_output_size(n, f, 1, p) == n
        assert conv2d(np.ones((n, n, 1)), np.ones((f, f, 1, 1)), padding=p).shape == (n, n, 1)


def test_same_padding_for_even_filters_explains_why_and_names_the_two_nearest() -> None:
    with pytest.raises(ValueError, match=r"even filter size f = 4: p = \(f - 1\)/2 = 1\.5; p = 1 shrinks.*p = 2 grows"):
        same_padding(4)
    n = 7  # the two options really do miss by one each way
    assert conv_output_size(n, 4, 1, 1) == n - 1 and conv_output_size(n, 4, 1, 2) == n + 1


@settings(max_examples=40, deadline=None)
@given(out=st.integers(1, 5), size=st.integers(1, 4), stride=st.one_of(st.none(), st.integers(1, 3)))
def test_pool_output_size_matches_max_pool2d(out: int, size: int, stride: int | None) -> None:
    n = (out - 1) * (size if stride is None else stride) + size
    assert pool_output_size(n, size, stride) == out
    assert max_pool2d(np.ones((n, n, 2)), size, stride=stride).shape == (out, out, 2)


def test_pool_output_size_is_strict() -> None:
    with pytest.raises(ValueError, match=r"\(5 - 2\)/2 \+ 1 = 2\.5 is not a whole number"):
        pool_output_size(5, 2)
    with pytest.raises(ValueError, match=r"the window \(size = 3\) is larger than the input \(n = 2\)"):
        pool_output_size(2, 3)


def test_the_sheets_exercise_3a_pipeline() -> None:
    assert pipeline_shapes((6, 6, 1), [Conv(f=3, k=2), Activation("relu"), Pool(size=2, stride=2)]) == [
        (6, 6, 1), (4, 4, 2), (4, 4, 2), (2, 2, 2),
    ]  # fmt: skip


def test_pipeline_shapes_agree_with_running_the_layers() -> None:
    rng = np.random.default_rng(0)
    layers = [Conv(f=3, k=4, stride=1, padding=1), Pool(2), Conv(f=3, k=2, stride=2), Flatten(), Dense(5)]
    shapes = pipeline_shapes((10, 10, 3), layers)
    h = rng.normal(size=(10, 10, 3))
    h = conv2d(h, rng.normal(size=(3, 3, 3, 4)), padding=1)
    assert h.shape == shapes[1]
    h = max_pool2d(h, 2)
    assert h.shape == shapes[2]
    h = conv2d(h, rng.normal(size=(3, 3, 4, 2)), stride=2)
    assert h.shape == shapes[3]
    assert shapes[4] == (int(np.prod(h.shape)),)
    y = dense(h, rng.normal(size=h.shape + (5,)))
    assert y.shape == shapes[5] == (5,)


def test_pipeline_layers_as_dicts() -> None:
    layers = [{"type": "conv", "f": 3, "k": 2}, {"type": "relu"}, {"type": "max_pool", "size": 2, "stride": 2},
              {"type": "flatten"}, {"type": "dense", "units": 3}]  # fmt: skip
    assert pipeline_shapes((6, 6, 1), layers) == [(6, 6, 1), (4, 4, 2), (4, 4, 2), (2, 2, 2), (8,), (3,)]


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([Conv(3, 2), Pool(3)], r"layer 1 \(pool\): pool_output_size: .* = \(4 - 3\)/3 \+ 1 = 1\.33333 is not a whole number"),
        ([Conv(3, 2, stride=2)], r"layer 0 \(conv\): conv_output_size: .* = 2\.5 is not a whole number"),
        ([Flatten(), Conv(3, 2)], r"layer 1 \(conv\): a conv layer needs an \(H, W, C\) volume, got shape \(36,\)"),
        ([Conv(3, 0)], r"layer 0 \(conv\): k \(number of filters\) must be >= 1, got 0"),
        ([Dense(0)], r"layer 0: units must be >= 1, got 0"),
        ([{"type": "convolution", "f": 3}], r"layer 0: unknown layer type 'convolution'; known: conv, pool"),
        ([{"type": "conv", "f": 3, "filters": 2}], r"layer 0: bad fields for a conv layer"),
    ],
)
def test_pipeline_errors_name_the_stage(layers: list, message: str) -> None:
    with pytest.raises(ValueError, match=rf"pipeline_shapes: {message}"):
        pipeline_shapes((6, 6, 1), layers)


def test_pipeline_input_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"input_shape\[1\] must be >= 1, got 0"):
        pipeline_shapes((6, 0, 1), [])
