"""Max and average pooling (2-d and 1-d): forward and VJP against loop twins and central differences, the
max-pool tie rule, overlapping windows, winners, and bad inputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine import Tensor, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, max_pool2d_winners
from grader.engine.gradcheck import check_gradients
from tests.engine.naive import (
    avg_pool1d_naive,
    avg_pool2d_naive,
    max_pool1d_naive,
    max_pool2d_backward_naive,
    max_pool2d_naive,
)

TOLERANCE = 1e-6


@st.composite
def pool2d_cases(draw: st.DrawFn) -> dict:
    """Random window (maybe non-square), stride (maybe overlapping, maybe default), batched or not.

    ``ties``: values drawn from {0, 1, 2}, so that windows often hold several maxima; ``distinct``: a shuffled
    range with gaps of 0.5 (central differences need no entry within eps of another).
    """
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([None, 1, 2, 3, (1, 2), (2, 1)]))
    sh, sw = (fh, fw) if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    out_h, out_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = ((out_h - 1) * sh + fh, (out_w - 1) * sw + fw, draw(st.integers(1, 3)))
    batch = draw(st.sampled_from([None, 1, 2]))
    if batch is not None:
        shape = (batch, *shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = fh if fh == fw and draw(st.booleans()) else (fh, fw)
    return {
        "size": size,
        "stride": stride,
        "ties": rng.integers(0, 3, size=shape).astype(float),
        "distinct": rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 3.0,
        "rng": rng,
    }


@settings(max_examples=40, deadline=None)
@given(pool2d_cases())
def test_max_pool2d_forward_and_backward_match_loops_even_with_ties(case: dict) -> None:
    x = Tensor(case["ties"])
    out = max_pool2d(x, case["size"], stride=case["stride"])
    np.testing.assert_array_equal(out.value, max_pool2d_naive(case["ties"], case["size"], case["stride"]))
    seed = case["rng"].standard_normal(out.shape)
    out.backward(seed)
    expected = max_pool2d_backward_naive(case["ties"], seed, case["size"], case["stride"])
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-12)
    winners = max_pool2d_winners(case["ties"], case["size"], stride=case["stride"])
    loop_winners = max_pool2d_backward_naive(case["ties"], np.ones(out.shape), case["size"], case["stride"]) > 0
    np.testing.assert_array_equal(winners, loop_winners)


@settings(max_examples=30, deadline=None)
@given(pool2d_cases())
def test_pool2d_gradients_match_central_differences(case: dict) -> None:
    x = case["distinct"]
    for pool in (max_pool2d, avg_pool2d):
        probe = case["rng"].standard_normal(pool(x, case["size"], stride=case["stride"]).shape)

        def build(x: Tensor, pool=pool, probe=probe) -> Tensor:  # type: ignore[no-untyped-def]
            return (pool(x, case["size"], stride=case["stride"]) * probe).sum()

        errors = check_gradients(build, {"x": x})
        assert errors["x"] < TOLERANCE, (pool.__name__, errors)


@settings(max_examples=30, deadline=None)
@given(pool2d_cases())
def test_avg_pool2d_matches_loops(case: dict) -> None:
    actual = avg_pool2d(case["distinct"], case["size"], stride=case["stride"]).value
    np.testing.assert_allclose(actual, avg_pool2d_naive(case["distinct"], case["size"], case["stride"]), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(1, 4),
    stride=st.sampled_from([None, 1, 2, 3]),
    out_len=st.integers(1, 4),
    channels=st.integers(1, 3),
    batch=st.sampled_from([None, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pool1d_forward_and_gradients(size: int, stride: int | None, out_len: int, channels: int,
                                      batch: int | None, seed: int) -> None:
    length = (out_len - 1) * (size if stride is None else stride) + size
    shape = (length, channels) if batch is None else (batch, length, channels)
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5
    for pool, naive in ((max_pool1d, max_pool1d_naive), (avg_pool1d, avg_pool1d_naive)):
        out = pool(x, size, stride=stride)
        np.testing.assert_allclose(out.value, naive(x, size, stride), rtol=1e-12)
        probe = rng.standard_normal(out.shape)
        errors = check_gradients(
            lambda x, pool=pool, probe=probe: (pool(x, size, stride=stride) * probe).sum(), {"x": x}
        )
        assert errors["x"] < TOLERANCE, (pool.__name__, errors)


def test_tie_rule_first_maximum_in_row_major_window_order_wins() -> None:
    # One 2x2 window holding the maximum 3 twice, at (0, 1) and (1, 0): (0, 1) comes first in row-major order.
    x = Tensor(np.array([[3.0, 3.0], [3.0, 0.0]])[..., None] * np.array([1.0, 1.0]))  # (2, 2, 2): two channels
    x.value[0, 0, 1] = 1.0  # channel 1: maxima at (0, 1) and (1, 0) only
    max_pool2d(x, 2).backward(np.array([[[5.0, 7.0]]]))
    np.testing.assert_array_equal(x.grad[..., 0], [[5.0, 0.0], [0.0, 0.0]])  # (0, 0) is first of three
    np.testing.assert_array_equal(x.grad[..., 1], [[0.0, 7.0], [0.0, 0.0]])
    winners = max_pool2d_winners(x.value, 2)
    np.testing.assert_array_equal(winners[..., 1], [[False, True], [False, False]])
    # Same rule as numpy's argmax over the flattened window.
    assert np.argmax(x.value[..., 1].ravel()) == 1


def test_tie_rule_in_1d_takes_the_leftmost() -> None:
    x = Tensor(np.array([[2.0], [5.0], [5.0], [1.0]]))
    max_pool1d(x, 4).backward(np.array([[1.0]]))
    np.testing.assert_array_equal(x.grad[:, 0], [0.0, 1.0, 0.0, 0.0])


def test_overlapping_windows_accumulate_the_gradient() -> None:
    # 3x3 input whose centre is the maximum of all four 2x2 windows (stride 1): it collects all four adjoints.
    x = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 9.0, 5.0], [6.0, 7.0, 8.0]])[..., None])
    seed = np.array([[1.0, 10.0], [100.0, 1000.0]])[..., None]
    max_pool2d(x, 2, stride=1).backward(seed)
    expected = np.zeros((3, 3))
    expected[1, 1] = 1111.0
    np.testing.assert_array_equal(x.grad[..., 0], expected)
    x_avg = Tensor(x.value)
    avg_pool2d(x_avg, 2, stride=1).backward(seed)
    # Corners are in one window, edges in two, the centre in four; each window gives a quarter of its adjoint.
    np.testing.assert_allclose(x_avg.grad[..., 0], [[0.25, 2.75, 2.5], [25.25, 277.75, 252.5], [25, 275, 250]])


def test_non_square_window_on_a_non_square_input() -> None:
    x = np.arange(24.0).reshape(4, 6, 1)
    out = max_pool2d(x, (2, 3)).value[..., 0]
    np.testing.assert_array_equal(out, [[8.0, 11.0], [20.0, 23.0]])
    np.testing.assert_allclose(avg_pool2d(x, (2, 3)).value[..., 0], [[4.0, 7.0], [16.0, 19.0]])


def test_winners_mark_nothing_outside_every_window() -> None:
    # Stride 3 > size 2 leaves row/column 2 outside every window.
    x = np.arange(25.0).reshape(5, 5, 1)
    winners = max_pool2d_winners(x, 2, stride=3)[..., 0]
    expected = np.zeros((5, 5), dtype=bool)
    expected[[1, 1, 4, 4], [1, 4, 1, 4]] = True
    np.testing.assert_array_equal(winners, expected)


@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda: max_pool2d(np.zeros((4, 4)), 2), ["max_pool2d: x", "(H, W, C)", "(4, 4)"]),
        (lambda: avg_pool2d(np.zeros((1, 1, 4, 4, 1)), 2), ["avg_pool2d: x", "rank 5"]),
        (lambda: max_pool2d(np.zeros((4, 4, 1)), 0), ["max_pool2d: size", ">= 1", "0"]),
        (lambda: max_pool2d(np.zeros((4, 4, 1)), 2, stride=0), ["max_pool2d: stride", ">= 1", "0"]),
        (lambda: max_pool2d(np.zeros((4, 4, 1)), 2.0), ["max_pool2d: size", "int"]),
        (lambda: max_pool2d(np.zeros((5, 4, 1)), 2), ["(5 + 0 - 2)/2 + 1 = 2.5 is not a whole number (height"]),
        (lambda: avg_pool2d(np.zeros((4, 5, 1)), (2, 2)), ["avg_pool2d", "2.5", "(width", "size and stride"]),
        (lambda: max_pool2d(np.zeros((2, 4, 1)), 3), ["max_pool2d", "size", "larger", "height n + 2p = 2 + 0 = 2"]),
        (lambda: max_pool1d(np.zeros((5, 1)), 2), ["max_pool1d", "(5 + 0 - 2)/2 + 1 = 2.5", "(length"]),
        (lambda: avg_pool1d(np.zeros((5,)), 2), ["avg_pool1d: x", "(L, C)", "(5,)"]),
        (lambda: max_pool1d(np.zeros((5, 1)), 6), ["max_pool1d", "larger", "5 + 0 = 5"]),
        (lambda: max_pool2d_winners(np.zeros((3, 3, 1)), 2), ["max_pool2d_winners", "1.5"]),
        (lambda: max_pool2d(np.full((2, 2, 1), np.inf), 2), ["max_pool2d: x", "non-finite", "[0, 0, 0]"]),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(call: Callable[[], object], fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


@pytest.mark.parametrize(
    ("pool", "x_shape"),
    [
        (lambda x: max_pool2d(x, 2), (4, 4, 2)),  # windows tile x
        (lambda x: max_pool2d(x, 2, stride=1), (2, 4, 4, 2)),  # overlapping windows
        (lambda x: avg_pool2d(x, 2), (4, 4, 2)),
        (lambda x: max_pool1d(x, 2), (6, 2)),
        (lambda x: avg_pool1d(x, 2, stride=1), (2, 6, 2)),
    ],
)
def test_pool_vjps_return_new_arrays_as_their_fresh_grads_promise(
    pool: Callable[[Tensor], Tensor], x_shape: tuple[int, ...]
) -> None:
    # backward adopts these results as .grad without a copy (Tensor.from_op(fresh_grads=True)), which is safe
    # only if each call allocates anew and holds on to nothing: check g, x, the output and a second call.
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal(x_shape))
    out = pool(x)
    parent = out.parents[0]
    assert out._fresh_grads
    g = rng.standard_normal(out.shape)
    (first,), (second,) = out._vjp(g), out._vjp(g)  # type: ignore[misc]
    assert first.shape == parent.shape and first.dtype == np.float64 and first.flags.writeable
    for other in (g, second, parent.value, out.value):
        assert not np.shares_memory(first, other)


def test_adopted_pool_gradient_accumulates_with_other_uses_of_x() -> None:
    # x feeds two max pools and a product: its first adjoint is adopted from a pool's VJP without a copy and
    # the others are added to it in place; a second backward must start again from zero.
    rng = np.random.default_rng(5)
    values = rng.permutation(2 * 4 * 4 * 3).reshape(2, 4, 4, 3) * 0.5
    x = Tensor(values)
    probe_a, probe_b = rng.standard_normal((2, 2, 2, 3)), rng.standard_normal((2, 2, 2, 3))
    pooled_a, pooled_b = max_pool2d(x, 2), max_pool2d(x, 2)
    out = (pooled_a * probe_a).sum() + (x * 3.0).sum() + (pooled_b * probe_b).sum()
    expected = (
        max_pool2d_backward_naive(values, probe_a, 2) + 3.0 + max_pool2d_backward_naive(values, probe_b, 2)
    )
    schedule = out.backward()
    np.testing.assert_allclose(x.grad, expected)
    others = [node.grad for node in schedule if node is not x]
    assert not any(np.shares_memory(x.grad, other) for other in others)
    out.backward()
    np.testing.assert_allclose(x.grad, expected)
