"""softmax, log_softmax, cross_entropy, matmul, sum_over and mean: properties that need no reference library.

Rows of a softmax sum to 1 and ignore a constant shift; log_softmax is the log of softmax; extreme but finite
logits stay finite; the cross-entropy gradient is softmax - onehot; every gradient agrees with central
differences; hostile inputs raise a ValueError naming the op and the problem; backward leaves every node its
own gradient array. The cross-check against PyTorch is in test_classification_torch.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine import Tensor, cross_entropy, log_softmax, matmul, mean, mul, softmax, sum_all, sum_over
from grader.engine.gradcheck import check_gradients

TOLERANCE = 1e-6  # central differences (eps 1e-6) against autodiff
REDUCTIONS = ("mean", "sum", "none")
SEEDS = st.integers(0, 2**32 - 1)


# ---- strategies and helpers (the torch cross-check imports these too) ------------------------------------
@st.composite
def shape_and_axis(draw: st.DrawFn, max_dims: int = 4, max_len: int = 4) -> tuple[tuple[int, ...], int]:
    """A shape with 1..max_dims axes and one of its axes, negative about half of the time."""
    shape = tuple(draw(st.lists(st.integers(1, max_len), min_size=1, max_size=max_dims)))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@st.composite
def matmul_shapes(draw: st.DrawFn, max_batch_dims: int = 3) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes a, b that numpy's matmul accepts: a vector on either side (or both), matrices, batch axes that
    broadcast (some dropped, some stretched from 1)."""
    m, n, p = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batch = draw(st.lists(st.integers(1, 3), max_size=max_batch_dims))

    def batch_of_one_operand() -> tuple[int, ...]:
        kept = batch[len(batch) - draw(st.integers(0, len(batch))) :]
        return tuple(1 if draw(st.booleans()) else d for d in kept)

    a_shape = (n,) if draw(st.booleans()) else (*batch_of_one_operand(), m, n)
    b_shape = (n,) if draw(st.booleans()) else (*batch_of_one_operand(), n, p)
    return a_shape, b_shape


@st.composite
def reduction_case(
    draw: st.DrawFn, max_dims: int = 4
) -> tuple[tuple[int, ...], int | list[int] | None, bool]:
    """A shape (0-d included), an axis (None, one axis, or a non-empty list of distinct axes, each negative
    about half of the time) and keepdims."""
    shape = tuple(draw(st.lists(st.integers(1, 4), max_size=max_dims)))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "list"] if ndim else ["none"]))
    axis: int | list[int] | None
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = [a - ndim if draw(st.booleans()) else a for a in chosen]
    return shape, axis, draw(st.booleans())


def make_target(rng: np.random.Generator, shape: tuple[int, ...], axis: int, kind: str) -> np.ndarray:
    """A cross_entropy target for logits of ``shape``: class indices (``index``, stored as float), one-hot
    rows (``onehot``) or soft probabilities with near-zero entries (``soft``) along ``axis``."""
    along = axis % len(shape)
    classes = shape[along]
    sample_shape = shape[:along] + shape[along + 1 :]
    index = rng.integers(0, classes, size=sample_shape)
    if kind == "index":
        return index.astype(np.float64)
    if kind == "onehot":
        return np.moveaxis(np.eye(classes)[index], -1, along)
    raw = rng.random(shape) ** 3
    return raw / raw.sum(axis=along, keepdims=True)


def numpy_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def probed(out: Tensor, probe: np.ndarray) -> Tensor:
    """``sum(out * probe)``: a scalar whose gradient sends the random adjoint ``probe`` into ``out``."""
    return sum_all(mul(out, probe))


# ---- softmax and log_softmax --------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(case=shape_and_axis(), scale=st.sampled_from([0.1, 1.0, 30.0]), seed=SEEDS)
def test_softmax_slices_sum_to_one_and_ignore_a_constant_shift(
    case: tuple[tuple[int, ...], int], scale: float, seed: int
) -> None:
    shape, axis = case
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal(shape)
    s = softmax(x, axis=axis).value
    assert s.shape == shape
    assert np.all(s >= 0) and np.all(s <= 1)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=0, atol=1e-12)
    # A different constant for every slice along axis (the shape of x with axis of length 1).
    shift_shape = tuple(1 if i == axis % len(shape) else n for i, n in enumerate(shape))
    shift = rng.uniform(-500, 500, size=shift_shape)
    np.testing.assert_allclose(softmax(x + shift, axis=axis).value, s, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(s, numpy_softmax(x, axis), rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(case=shape_and_axis(), seed=SEEDS)
def test_log_softmax_is_the_log_of_softmax(case: tuple[tuple[int, ...], int], seed: int) -> None:
    shape, axis = case
    x = 3.0 * np.random.default_rng(seed).standard_normal(shape)  # moderate: softmax does not underflow
    s, ls = softmax(x, axis=axis).value, log_softmax(x, axis=axis).value
    np.testing.assert_allclose(ls, np.log(s), rtol=1e-12, atol=1e-12)
    assert np.all(ls <= 0)
    expected = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(ls, expected, rtol=1e-12, atol=1e-12)


E = np.e


@pytest.mark.parametrize(
    ("logits", "probabilities", "log_probabilities"),
    [
        ([1000.0, 1001.0], [1 / (1 + E), E / (1 + E)], [-np.log1p(E), -np.log1p(1 / E)]),
        ([-1e4, 0.0, 1e4], [0.0, 0.0, 1.0], [-2e4, -1e4, 0.0]),
        ([7.0, 7.0, 7.0, 7.0], [0.25] * 4, [-np.log(4)] * 4),
        ([1e300, 1e300, 1e300], [1 / 3] * 3, [-np.log(3)] * 3),
        ([-1e300, -1e300], [0.5, 0.5], [-np.log(2)] * 2),
        ([-800.0, -801.0], [E / (1 + E), 1 / (1 + E)], [-np.log1p(1 / E), -np.log1p(E)]),
    ],
)
def test_extreme_but_finite_logits_give_finite_exact_values(
    logits: list[float], probabilities: list[float], log_probabilities: list[float]
) -> None:
    s, ls = softmax(np.array(logits)), log_softmax(np.array(logits))
    assert np.all(np.isfinite(s.value)) and np.all(np.isfinite(ls.value))
    np.testing.assert_allclose(s.value, probabilities, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ls.value, log_probabilities, rtol=1e-12, atol=1e-12)
    # The same logits as a batch of two identical rows, and along axis 0 of the transpose.
    batch = np.array([logits, logits])
    np.testing.assert_allclose(softmax(batch.T, axis=0).value.T, [probabilities] * 2, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(log_softmax(batch, axis=1).value, [log_probabilities] * 2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("logits", "label"),
    [([1000.0, 1001.0], 0), ([-1e4, 0.0, 1e4], 0), ([-1e4, 0.0, 1e4], 2), ([5.0, 5.0, 5.0], 1), ([1e300, 1e300], 1)],
)
def test_extreme_logits_give_a_finite_cross_entropy_and_finite_gradients(logits: list[float], label: int) -> None:
    x = np.array(logits)
    expected_p = numpy_softmax(x, 0)
    expected_loss = -(x[label] - x.max()) + np.log(np.exp(x - x.max()).sum())
    onehot = np.eye(len(logits))[label]
    for target in (np.array(float(label)), onehot):
        leaf = Tensor(x)
        loss = cross_entropy(leaf, target)
        np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-12, atol=1e-12)
        loss.backward()
        np.testing.assert_allclose(leaf.grad, expected_p - onehot, rtol=1e-12, atol=1e-12)
    for op in (softmax, log_softmax):
        leaf = Tensor(x)
        out = op(leaf)
        out.backward(np.arange(len(logits), dtype=np.float64))
        assert np.all(np.isfinite(leaf.grad)), (op.__name__, leaf.grad)


def test_a_zero_probability_never_meets_an_infinite_log_probability() -> None:
    logits = np.array([-1e308, 1e308])  # finite; softmax is [0, 1]; the true loss for class 1 is 0
    assert cross_entropy(logits, np.array(1.0)).item() == 0.0
    assert cross_entropy(logits, np.array([0.0, 1.0])).item() == 0.0


# ---- cross_entropy ------------------------------------------------------------------------------------
@st.composite
def cross_entropy_case(draw: st.DrawFn, max_dims: int = 4, max_len: int = 4) -> tuple:
    shape, axis = draw(shape_and_axis(max_dims=max_dims, max_len=max_len))
    return shape, axis, draw(st.sampled_from(REDUCTIONS)), draw(SEEDS)


def adjoint_scale(rng: np.random.Generator, shape: tuple[int, ...], axis: int, reduction: str):
    """A random seed for backward and what it does per sample: (seed, scale broadcastable against logits)."""
    along = axis % len(shape)
    sample_shape = shape[:along] + shape[along + 1 :]
    if reduction == "none":
        seed = rng.standard_normal(sample_shape)
        return seed, np.expand_dims(seed, along)
    seed = np.asarray(rng.standard_normal())
    samples = int(np.prod(sample_shape))
    return seed, seed / (samples if reduction == "mean" else 1)


@settings(max_examples=50, deadline=None)
@given(case=cross_entropy_case())
def test_cross_entropy_with_class_indices_is_minus_log_softmax_and_its_gradient_softmax_minus_onehot(
    case: tuple,
) -> None:
    shape, axis, reduction, seed = case
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal(shape)
    target = make_target(rng, shape, axis, "index")
    along = axis % len(shape)
    onehot = np.moveaxis(np.eye(shape[along])[target.astype(int)], -1, along)
    p = numpy_softmax(x, along)
    per_sample = -np.sum(onehot * np.log(p), axis=along)
    expected = {"none": per_sample, "sum": per_sample.sum(), "mean": per_sample.mean()}[reduction]
    logits = Tensor(x)
    loss = cross_entropy(logits, target, axis=axis, reduction=reduction)
    assert loss.shape == np.shape(expected)
    np.testing.assert_allclose(loss.value, expected, rtol=1e-12, atol=1e-12)
    seed_grad, scale = adjoint_scale(rng, shape, axis, reduction)
    loss.backward(seed_grad)
    np.testing.assert_allclose(logits.grad, (p - onehot) * scale, rtol=1e-10, atol=1e-12)


def test_cross_entropy_mean_gradient_is_divided_by_the_number_of_samples() -> None:
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 5.0, 2.0], [4.0, 4.0, -4.0]])
    target = np.array([2.0, 0.0, 1.0, 1.0])
    onehot = np.eye(3)[target.astype(int)]
    for reduction, divisor in (("mean", 4.0), ("sum", 1.0)):
        logits = Tensor(x)
        cross_entropy(logits, target, reduction=reduction).backward()
        np.testing.assert_allclose(logits.grad, (numpy_softmax(x, 1) - onehot) / divisor, rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(case=cross_entropy_case(), kind=st.sampled_from(["onehot", "soft"]))
def test_cross_entropy_with_probabilities_has_both_gradients(case: tuple, kind: str) -> None:
    shape, axis, reduction, seed = case
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal(shape)
    t = make_target(rng, shape, axis, kind)
    along = axis % len(shape)
    log_p = np.log(numpy_softmax(x, along))
    per_sample = -np.sum(t * log_p, axis=along)
    expected = {"none": per_sample, "sum": per_sample.sum(), "mean": per_sample.mean()}[reduction]
    logits, target = Tensor(x), Tensor(t)
    loss = cross_entropy(logits, target, axis=axis, reduction=reduction)
    np.testing.assert_allclose(loss.value, expected, rtol=1e-12, atol=1e-12)
    seed_grad, scale = adjoint_scale(rng, shape, axis, reduction)
    loss.backward(seed_grad)
    np.testing.assert_allclose(logits.grad, (np.exp(log_p) - t) * scale, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(target.grad, -log_p * scale, rtol=1e-10, atol=1e-12)


def test_index_targets_are_not_parents_and_get_no_gradient_but_probability_targets_do() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 0.0]])
    logits, index = Tensor(x, "logits"), Tensor(np.array([2.0, 0.0]), "index")
    loss = cross_entropy(logits, index)
    assert loss.parents == (logits,)
    loss.backward()
    assert index.grad is None
    assert logits.grad is not None and np.any(logits.grad != 0)

    logits, probabilities = Tensor(x, "logits"), Tensor(np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]), "p")
    loss = cross_entropy(logits, probabilities)
    assert loss.parents == (logits, probabilities)
    loss.backward()
    np.testing.assert_allclose(probabilities.grad, -np.log(numpy_softmax(x, 1)) / 2, rtol=1e-12)


def test_a_probability_target_may_miss_1_by_at_most_1e_9() -> None:
    logits = np.zeros((2, 2))
    within = np.array([[0.5, 0.5 + 5e-10], [0.25, 0.75 - 5e-10]])
    np.testing.assert_allclose(cross_entropy(logits, within).item(), np.log(2), rtol=1e-9)
    beyond = np.array([[0.5, 0.5], [0.25, 0.75 + 2e-9]])
    with pytest.raises(ValueError, match=r"cross_entropy: .*sample \[1\] sum to 1\.000000002, not 1"):
        cross_entropy(logits, beyond)


# ---- central differences for every new op -------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(case=shape_and_axis(max_dims=3, max_len=3), which=st.sampled_from(["softmax", "log_softmax"]), seed=SEEDS)
def test_softmax_gradients_match_central_differences(case: tuple, which: str, seed: int) -> None:
    shape, axis = case
    op = {"softmax": softmax, "log_softmax": log_softmax}[which]
    rng = np.random.default_rng(seed)
    x, probe = 2.0 * rng.standard_normal(shape), rng.standard_normal(shape)
    errors = check_gradients(lambda x: probed(op(x, axis=axis), probe), {"x": x})
    assert errors["x"] < TOLERANCE, errors


@settings(max_examples=30, deadline=None)
@given(case=cross_entropy_case(max_dims=3, max_len=3), kind=st.sampled_from(["index", "onehot", "soft"]))
def test_cross_entropy_logit_gradients_match_central_differences(case: tuple, kind: str) -> None:
    shape, axis, reduction, seed = case
    rng = np.random.default_rng(seed)
    x, target = 2.0 * rng.standard_normal(shape), make_target(rng, shape, axis, kind)
    probe = rng.standard_normal(cross_entropy(x, target, axis=axis, reduction=reduction).shape)
    errors = check_gradients(
        lambda logits: probed(cross_entropy(logits, target, axis=axis, reduction=reduction), probe), {"logits": x}
    )
    assert errors["logits"] < TOLERANCE, errors


@settings(max_examples=30, deadline=None)
@given(case=cross_entropy_case(max_dims=3, max_len=3))
def test_cross_entropy_target_gradient_matches_central_differences_along_the_simplex(case: tuple) -> None:
    """The target must keep summing to 1, so differentiate along a direction that sums to 0 per sample."""
    shape, axis, reduction, seed = case
    rng = np.random.default_rng(seed)
    along = axis % len(shape)
    x = 2.0 * rng.standard_normal(shape)
    raw = rng.random(shape) + 0.1  # every entry > 0.02: t +- eps * direction stays >= 0
    t = raw / raw.sum(axis=along, keepdims=True)
    direction = rng.standard_normal(shape)
    direction -= direction.mean(axis=along, keepdims=True)
    probe = rng.standard_normal(cross_entropy(x, t, axis=axis, reduction=reduction).shape)

    def loss(target: np.ndarray) -> Tensor:
        return probed(cross_entropy(x, target, axis=axis, reduction=reduction), probe)

    target = Tensor(t)
    loss(target).backward()
    eps = 1e-6
    central = (loss(t + eps * direction).item() - loss(t - eps * direction).item()) / (2 * eps)
    analytic = float(np.sum(target.grad * direction))
    assert abs(analytic - central) <= TOLERANCE * max(1.0, abs(central)), (analytic, central)


@settings(max_examples=30, deadline=None)
@given(shapes=matmul_shapes(max_batch_dims=2), seed=SEEDS)
def test_matmul_matches_numpy_and_central_differences(shapes: tuple, seed: int) -> None:
    a_shape, b_shape = shapes
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = matmul(a, b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.value, expected, rtol=1e-12, atol=1e-12)
    probe = rng.standard_normal(expected.shape)
    errors = check_gradients(lambda a, b: probed(matmul(a, b), probe), {"a": a, "b": b})
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 6))],
)
def test_matmul_on_vectors_and_broadcast_batches(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(a_shape) * 31 + sum(b_shape))
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = matmul(a, b)
    np.testing.assert_allclose(out.value, a @ b, rtol=1e-12, atol=1e-12)
    probe = rng.standard_normal(out.shape)
    errors = check_gradients(lambda a, b: probed(matmul(a, b), probe), {"a": a, "b": b})
    assert max(errors.values()) < TOLERANCE, errors


@settings(max_examples=40, deadline=None)
@given(case=reduction_case(max_dims=3), which=st.sampled_from(["sum", "mean"]), seed=SEEDS)
def test_reductions_match_numpy_and_central_differences(case: tuple, which: str, seed: int) -> None:
    shape, axis, keepdims = case
    op, reference = {"sum": (sum_over, np.sum), "mean": (mean, np.mean)}[which]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    out = op(x, axis=axis, keepdims=keepdims)
    expected = reference(x, axis=None if axis is None else tuple(np.atleast_1d(axis)), keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.value, expected, rtol=1e-12, atol=1e-12)
    probe = rng.standard_normal(out.shape)
    errors = check_gradients(lambda x: probed(op(x, axis=axis, keepdims=keepdims), probe), {"x": x})
    assert errors["x"] < TOLERANCE, errors


def test_mean_gradient_is_one_over_the_count() -> None:
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    mean(x, axis=[0, -1]).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, np.broadcast_to(np.array([1.0, 2.0, 3.0])[None, :, None] / 8, (2, 3, 4)))


# ---- hostile inputs -----------------------------------------------------------------------------------
LOGITS = np.zeros((2, 3))

BAD_CALLS = [
    # cross_entropy: class indices
    (lambda: cross_entropy(LOGITS, np.array([0.0, 3.0])), ["cross_entropy", "target[1] = 3", "not a class", "0 to 2"]),
    (lambda: cross_entropy(LOGITS, np.array([1.5, 0.0])), ["cross_entropy", "target[0] = 1.5", "not a class"]),
    (lambda: cross_entropy(LOGITS, np.array([0.0, -1.0])), ["cross_entropy", "target[1] = -1", "not a class"]),
    (lambda: cross_entropy(np.zeros(3), np.array(0.5)), ["cross_entropy", "target = 0.5", "not a class"]),
    (lambda: cross_entropy(np.zeros((3, 2)), np.array([1.0, 3.0]), axis=0), ["cross_entropy", "= 3", "0 to 2"]),
    # cross_entropy: probabilities
    (
        lambda: cross_entropy(LOGITS, np.array([[1.5, -0.5, 0.0], [0.2, 0.3, 0.5]])),
        ["cross_entropy", "target[0, 1] = -0.5", "negative"],
    ),
    (
        lambda: cross_entropy(LOGITS, np.array([[0.2, 0.3, 0.5], [0.2, 0.2, 0.2]])),
        ["cross_entropy", "sample [1]", "sum to 0.6", "not 1"],
    ),
    (lambda: cross_entropy(np.zeros(3), np.array([0.5, 0.6, 0.0])), ["cross_entropy", "sum to 1.1", "not 1"]),
    # cross_entropy: shapes, reduction, axis
    (lambda: cross_entropy(LOGITS, np.zeros(3)), ["cross_entropy", "target", "(2,)", "(2, 3)", "got (3,)"]),
    (lambda: cross_entropy(LOGITS, np.zeros((2, 3, 1))), ["cross_entropy", "target", "got (2, 3, 1)"]),
    (lambda: cross_entropy(LOGITS, np.zeros(2), reduction="avg"), ["cross_entropy", "reduction", "'avg'"]),
    (lambda: cross_entropy(LOGITS, np.zeros(2), axis=2), ["cross_entropy", "axis 2 does not exist"]),
    (lambda: cross_entropy(LOGITS, np.zeros(2), axis=True), ["cross_entropy", "axis", "True"]),
    (lambda: cross_entropy(np.array(1.0), np.array(0.0)), ["cross_entropy", "single number"]),
    # softmax / log_softmax
    (lambda: softmax(np.array(2.0)), ["softmax", "single number"]),
    (lambda: log_softmax(np.array(2.0)), ["log_softmax", "single number"]),
    (lambda: softmax(LOGITS, axis=2), ["softmax", "axis 2 does not exist"]),
    (lambda: log_softmax(LOGITS, axis=-3), ["log_softmax", "axis -3 does not exist"]),
    (lambda: softmax(LOGITS, axis=True), ["softmax", "axis", "True"]),
    (lambda: log_softmax(LOGITS, axis=[0, 0]), ["log_softmax", "axis", "one whole number"]),
    (lambda: softmax(np.array([1.0, np.nan])), ["softmax", "non-finite"]),
    # matmul
    (lambda: matmul(np.zeros((2, 3)), np.zeros(4)), ["matmul", "inner lengths differ", "(2, 3)", "(4,)"]),
    (lambda: matmul(np.zeros(3), np.zeros(4)), ["matmul", "inner lengths differ", "(3,)", "(4,)"]),
    (lambda: matmul(np.zeros((2, 3)), np.zeros((2, 3))), ["matmul", "inner lengths differ"]),
    (
        lambda: matmul(np.zeros((2, 2, 3)), np.zeros((3, 3, 2))),
        ["matmul", "batch axes", "(2, 2, 3)", "(3, 3, 2)", "do not broadcast"],
    ),
    (lambda: matmul(np.array(2.0), np.zeros((2, 2))), ["matmul", "a is a single number"]),
    (lambda: matmul(np.zeros(2), np.array(2.0)), ["matmul", "b is a single number"]),
    # sum_over / mean
    (lambda: mean(np.zeros((0, 3)), axis=0), ["mean", "(0, 3)", "no entries"]),
    (lambda: mean(np.zeros(0)), ["mean", "no entries"]),
    (lambda: mean(np.zeros((2, 0)), axis=[0, 1]), ["mean", "no entries"]),
    (lambda: sum_over(LOGITS, axis=2), ["sum", "axis 2 does not exist"]),
    (lambda: mean(LOGITS, axis=-3), ["mean", "axis -3 does not exist"]),
    (lambda: sum_over(np.array(1.0), axis=0), ["sum", "axis 0 does not exist", "single number"]),
    (lambda: sum_over(LOGITS, axis=[1, -1]), ["sum", "names an axis twice"]),
    (lambda: mean(LOGITS, axis=[0, 0]), ["mean", "names an axis twice"]),
    (lambda: mean(LOGITS, axis=[0, True]), ["mean", "axis", "True"]),
    (lambda: sum_over(LOGITS, axis=["0"]), ["sum", "axis", "'0'"]),
    (lambda: sum_over(LOGITS, axis=True), ["sum", "axis", "True"]),
    (lambda: mean(LOGITS, axis=False), ["mean", "axis", "False"]),
    (lambda: sum_over(LOGITS, axis=1.0), ["sum", "axis", "1.0"]),
    (lambda: softmax(np.zeros((2, 0))), ["softmax", "axis -1", "(2, 0)", "no entries", "at least one class"]),
    (lambda: log_softmax(np.zeros((0, 3)), axis=0), ["log_softmax", "axis 0", "(0, 3)", "no entries"]),
    (lambda: cross_entropy(np.zeros((2, 0)), np.zeros(2)), ["cross_entropy", "logits", "(2, 0)", "no entries"]),
]


def bad_call_id(value: object) -> str:
    return re.sub(r"\W+", "_", " ".join(value)).strip("_")[:60] if isinstance(value, list) else "call"


@pytest.mark.parametrize(("call", "fragments"), BAD_CALLS, ids=bad_call_id)
def test_bad_arguments_raise_a_value_error_naming_the_op_and_the_problem(
    call: Callable[[], object], fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


def test_cross_entropy_mean_over_zero_samples_says_there_are_none() -> None:
    np.testing.assert_array_equal(cross_entropy(np.zeros((0, 3)), np.zeros(0), reduction="none").value, np.zeros(0))
    assert cross_entropy(np.zeros((0, 3)), np.zeros(0), reduction="sum").item() == 0.0
    with pytest.raises(ValueError) as info:
        cross_entropy(np.zeros((0, 3)), np.zeros(0))
    message = str(info.value)
    assert "cross_entropy" in message and "1.8e308" not in message, message
    assert any(word in message for word in ("sample", "empty", "no entries", "nothing")), message


# ---- independent gradient arrays ----------------------------------------------------------------------
def assert_gradients_independent(schedule: list[Tensor], seed: np.ndarray | None = None) -> None:
    """No two nodes' .grad share memory (nor with the caller's seed), and writing into one changes no other."""
    nodes = [node for node in schedule if node.grad is not None]
    assert len(nodes) == len(schedule)
    for i, first in enumerate(nodes):
        if seed is not None:
            assert not np.shares_memory(first.grad, seed), f"{first.label}.grad is the caller's seed"
        for second in nodes[i + 1 :]:
            assert not np.shares_memory(first.grad, second.grad), f"{first.label} and {second.label} share .grad"
    before = [node.grad.copy() for node in nodes]
    for i, node in enumerate(nodes):
        node.grad += 1.0
        for j, other in enumerate(nodes):
            if j != i:
                np.testing.assert_array_equal(other.grad, before[j], err_msg=f"{node.label} += 1 changed {other.label}")
        node.grad[...] = before[i]  # restore exactly (x + 1 - 1 need not be x)


NEW_OPS = [
    ("softmax", lambda x: softmax(x, axis=0)),
    ("log_softmax", lambda x: log_softmax(x, axis=-1)),
    ("cross_entropy none", lambda x: cross_entropy(x, np.array([0.0, 2.0]), reduction="none")),
    ("cross_entropy mean", lambda x: cross_entropy(x, np.array([0.0, 2.0]))),
    ("cross_entropy probabilities", lambda x: cross_entropy(x, np.full((2, 3), 1 / 3), reduction="none")),
    ("matmul", lambda x: matmul(x, np.ones(3))),
    ("sum over no axes", lambda x: sum_over(x, axis=[])),
    ("sum keepdims", lambda x: sum_over(x, axis=1, keepdims=True)),
    ("mean over no axes", lambda x: mean(x, axis=[], keepdims=True)),
    ("mean", lambda x: mean(x)),
]


@pytest.mark.parametrize(("name", "op"), NEW_OPS, ids=[name for name, _ in NEW_OPS])
def test_each_new_op_leaves_its_input_a_gradient_of_its_own(name: str, op: Callable[[Tensor], Tensor]) -> None:
    x = Tensor(np.array([[0.5, -1.0, 2.0], [1.0, 1.5, 0.0]]), "x")
    out = op(x)
    seed = np.random.default_rng(3).standard_normal(out.shape)
    schedule = out.backward(seed)
    assert_gradients_independent(schedule, seed)


def test_backward_through_a_graph_of_new_ops_leaves_independent_gradients() -> None:
    rng = np.random.default_rng(11)
    x, w = Tensor(rng.standard_normal((2, 3, 4)), "x"), Tensor(rng.standard_normal((4, 3)), "w")
    h = matmul(x, w)  # (2, 3, 3)
    s, ls = softmax(h, axis=1), log_softmax(h, axis=-1)
    per_sample = cross_entropy(h, np.array([[0.0, 1.0, 2.0], [2.0, 2.0, 0.0]]), reduction="none")
    soft = cross_entropy(h, s, axis=1, reduction="sum")  # a probability target that is itself a node
    kept = sum_over(ls, axis=[0, -1], keepdims=True)  # (1, 3, 1)
    total = mean(per_sample) + sum_over(kept) + sum_over(mean(s, axis=0)) + soft
    schedule = total.backward()
    assert {x, w, h, s, ls, per_sample, soft, kept} <= set(schedule)
    assert_gradients_independent(schedule)
    # and the values are right: compare x's gradient with central differences of the same graph
    def build(x: Tensor, w: Tensor) -> Tensor:
        h = matmul(x, w)
        s, ls = softmax(h, axis=1), log_softmax(h, axis=-1)
        per_sample = cross_entropy(h, np.array([[0.0, 1.0, 2.0], [2.0, 2.0, 0.0]]), reduction="none")
        soft = cross_entropy(h, s, axis=1, reduction="sum")
        return mean(per_sample) + sum_over(sum_over(ls, axis=[0, -1], keepdims=True)) + sum_over(mean(s, axis=0)) + soft

    errors = check_gradients(build, {"x": x.value, "w": w.value})
    assert max(errors.values()) < TOLERANCE, errors
