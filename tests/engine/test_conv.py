"""conv2d and conv1d: the vectorized forward and VJP against loop twins and central differences; bad inputs."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine import Tensor, conv1d, conv2d
from grader.engine.gradcheck import check_gradients
from tests.engine.naive import conv1d_naive, conv2d_backward_naive, conv2d_naive

TOLERANCE = 1e-6


@st.composite
def conv2d_cases(draw: st.DrawFn) -> dict:
    """A random conv2d problem: batched or not, non-square filters, per-axis stride and padding."""
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    out_h, out_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # Pick the output size first and derive the input size, so that (n + 2p - f)/s + 1 is whole by construction.
    height, width = (out_h - 1) * sh + fh - 2 * ph, (out_w - 1) * sw + fw - 2 * pw
    if height < 1 or width < 1:
        height, width = height + 2 * ph, width + 2 * pw
        ph = pw = 0
    batch = draw(st.sampled_from([None, 1, 2]))
    channels, filters = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x_shape = (height, width, channels) if batch is None else (batch, height, width, channels)
    square = draw(st.booleans())
    return {
        "x": rng.standard_normal(x_shape),
        "w": rng.standard_normal((fh, fw, channels, filters)),
        "b": rng.standard_normal(filters) if draw(st.booleans()) else None,
        "stride": sh if square and sh == sw else (sh, sw),
        "padding": ph if square and ph == pw else (ph, pw),
        "rng": rng,
    }


@settings(max_examples=40, deadline=None)
@given(conv2d_cases())
def test_conv2d_forward_matches_loops(case: dict) -> None:
    actual = conv2d(case["x"], case["w"], case["b"], stride=case["stride"], padding=case["padding"]).value
    expected = conv2d_naive(case["x"], case["w"], case["b"], case["stride"], case["padding"])
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(conv2d_cases())
def test_conv2d_backward_matches_loops(case: dict) -> None:
    x, w, b = Tensor(case["x"]), Tensor(case["w"]), Tensor(case["b"]) if case["b"] is not None else None
    out = conv2d(x, w, b, stride=case["stride"], padding=case["padding"])
    seed = case["rng"].standard_normal(out.shape)
    out.backward(seed)
    dx, dw, db = conv2d_backward_naive(case["x"], case["w"], seed, case["stride"], case["padding"])
    np.testing.assert_allclose(x.grad, dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad, dw, rtol=1e-12, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(b.grad, db, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(conv2d_cases())
def test_conv2d_gradients_match_central_differences(case: dict) -> None:
    probe = case["rng"].standard_normal(
        conv2d(case["x"], case["w"], stride=case["stride"], padding=case["padding"]).shape
    )
    inputs = {"x": case["x"], "w": case["w"]}
    if case["b"] is not None:
        inputs["b"] = case["b"]

    def build(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
        return (conv2d(x, w, b, stride=case["stride"], padding=case["padding"]) * probe).sum()

    errors = check_gradients(build, inputs)
    assert max(errors.values()) < TOLERANCE, errors


@st.composite
def conv1d_cases(draw: st.DrawFn) -> dict:
    f, s, p = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    out_len = draw(st.integers(1, 4))
    length = (out_len - 1) * s + f - 2 * p
    if length < 1:
        length, p = length + 2 * p, 0
    batch = draw(st.sampled_from([None, 1, 3]))
    channels, filters = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return {
        "x": rng.standard_normal((length, channels) if batch is None else (batch, length, channels)),
        "w": rng.standard_normal((f, channels, filters)),
        "b": rng.standard_normal(filters) if draw(st.booleans()) else None,
        "stride": s,
        "padding": p,
        "rng": rng,
    }


@settings(max_examples=30, deadline=None)
@given(conv1d_cases())
def test_conv1d_forward_and_gradients(case: dict) -> None:
    out = conv1d(case["x"], case["w"], case["b"], stride=case["stride"], padding=case["padding"])
    expected = conv1d_naive(case["x"], case["w"], case["b"], case["stride"], case["padding"])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.value, expected, rtol=1e-12, atol=1e-12)
    probe = case["rng"].standard_normal(out.shape)
    inputs = {"x": case["x"], "w": case["w"]} | ({"b": case["b"]} if case["b"] is not None else {})

    def build(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
        return (conv1d(x, w, b, stride=case["stride"], padding=case["padding"]) * probe).sum()

    errors = check_gradients(build, inputs)
    assert max(errors.values()) < TOLERANCE, errors


def test_conv2d_is_cross_correlation_on_the_sheets_indexing() -> None:
    # Eq. 1 with 0-based indices: a[i, j, k] = b[k] + sum_xyc I[i + x, j + y, c] w[x, y, c, k]. A filter with a
    # single 1 at offset (x, y) = (0, 1) must pick I[i, j + 1] (a flipped kernel would pick I[i + 1, j]).
    image = np.arange(20.0).reshape(4, 5, 1)
    w = np.zeros((2, 2, 1, 1))
    w[0, 1, 0, 0] = 1.0
    out = conv2d(image, w, np.array([0.5])).value
    np.testing.assert_array_equal(out[..., 0], image[:3, 1:5, 0] + 0.5)


def test_conv2d_zero_padding_on_a_non_square_input() -> None:
    image = np.ones((3, 5, 1))
    out = conv2d(image, np.ones((3, 3, 1, 1)), padding=1).value[..., 0]
    assert out.shape == (3, 5)
    # Corners see 2x2 real pixels, edges 2x3 or 3x2, the interior 3x3: the zeros count for nothing.
    np.testing.assert_array_equal(out, [[4, 6, 6, 6, 4], [6, 9, 9, 9, 6], [4, 6, 6, 6, 4]])


def test_conv2d_padding_gradient_excludes_the_padding() -> None:
    x = Tensor(np.ones((2, 2, 1)))
    conv2d(x, np.ones((3, 3, 1, 1)), padding=1).sum().backward()
    # Every input pixel is read by all 4 output positions of the 2x2 output.
    np.testing.assert_array_equal(x.grad[..., 0], [[4, 4], [4, 4]])


# ---- bad inputs ------------------------------------------------------------------------------------------
X6 = np.zeros((6, 6, 3))
W3 = np.zeros((3, 3, 3, 2))


@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda: conv2d(np.zeros((6, 6)), W3), ["conv2d: x", "(H, W, C)", "(6, 6)", "rank 2"]),
        (lambda: conv2d(X6, np.zeros((3, 3, 3))), ["conv2d: w", "(fh, fw, C, K)", "(3, 3, 3)"]),
        (lambda: conv2d(np.zeros((6, 6, 2)), W3), ["conv2d", "x has 2 channels", "w expects 3", "(3, 3, 3, 2)"]),
        (lambda: conv2d(X6, W3, np.zeros(3)), ["conv2d: b", "(2,)", "(3,)"]),
        (lambda: conv2d(X6, W3, stride=0), ["conv2d: stride", ">= 1", "0"]),
        (lambda: conv2d(X6, W3, stride=(1, -2)), ["conv2d: stride", ">= 1", "(1, -2)"]),
        (lambda: conv2d(X6, W3, padding=-1), ["conv2d: padding", ">= 0", "-1"]),
        (lambda: conv2d(X6, W3, stride=1.5), ["conv2d: stride", "int", "1.5"]),
        (lambda: conv2d(X6, W3, padding=(1, 2, 3)), ["conv2d: padding", "pair", "(1, 2, 3)"]),
        (lambda: conv2d(np.zeros((2, 2, 3)), W3), ["conv2d", "w", "larger than the padded input", "2 + 0 = 2"]),
        (lambda: conv2d(np.zeros((6, 2, 3)), W3, padding=(0, 0)), ["width", "2 + 0 = 2"]),
        (
            lambda: conv2d(X6, W3, stride=2),
            ["conv2d: (n + 2p - f)/s + 1 = (6 + 0 - 3)/2 + 1 = 2.5 is not a whole number (height"],
        ),
        (
            lambda: conv2d(np.zeros((7, 6, 3)), W3, stride=(2, 3), padding=1),
            ["(6 + 2 - 3)/3 + 1 = 2.66667 is not a whole number (width"],
        ),
        (lambda: conv1d(np.zeros((5, 2)), np.zeros((3, 3, 1))), ["conv1d", "x has 2 channels", "w expects 3"]),
        (lambda: conv1d(np.zeros((5,)), np.zeros((3, 1, 1))), ["conv1d: x", "(L, C)", "(5,)"]),
        (lambda: conv1d(np.zeros((5, 1)), np.zeros((3, 1))), ["conv1d: w", "(f, C, K)", "(3, 1)"]),
        (lambda: conv1d(np.zeros((6, 1)), np.zeros((3, 1, 1)), stride=2), ["(6 + 0 - 3)/2 + 1 = 2.5", "(length"]),
        (lambda: conv1d(np.zeros((6, 1)), np.zeros((3, 1, 2)), np.zeros(1)), ["conv1d: b", "(2,)", "(1,)"]),
        (lambda: conv1d(np.zeros((6, 1)), np.zeros((3, 1, 1)), stride=(1, 1)), ["conv1d: stride", "int"]),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(call: Callable[[], object], fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_non_finite_inputs_are_refused_with_their_position() -> None:
    x = X6.copy()
    x[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape("conv2d: x: 1 non-finite entry")):
        conv2d(x, W3)
    w = W3.copy()
    w[0, 0, 0, 1] = np.inf
    with pytest.raises(ValueError, match=re.escape("conv2d: w")) as info:
        conv2d(X6, w)
    assert "[0, 0, 0, 1]" in str(info.value)
    with pytest.raises(ValueError, match="conv1d: b"):
        conv1d(np.zeros((4, 1)), np.zeros((2, 1, 1)), np.array([np.nan]))
