"""Cross-check against PyTorch (float64, CPU): softmax, log_softmax, cross_entropy, matmul, sum_over, mean.

Values and gradients with respect to every differentiable argument, each under a random upstream adjoint.
torch's cross_entropy wants the classes on axis 1 of ``(N, C, d1, ...)`` (axis 0 of an unbatched ``(C,)``),
so the engine's class axis is moved there; the sample axes keep their order. Skipped when torch is not
installed: it is a test-only tool, never a dependency of the grader.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")
import torch.nn.functional as torch_f  # noqa: E402

from grader.engine import Tensor, cross_entropy, log_softmax, matmul, mean, softmax, sum_over  # noqa: E402
from tests.engine.test_classification import (  # noqa: E402
    REDUCTIONS,
    SEEDS,
    make_target,
    matmul_shapes,
    reduction_case,
    shape_and_axis,
)

CLOSE = {"rtol": 1e-10, "atol": 1e-12}


def leaf(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(array), dtype=torch.float64, requires_grad=True)


def numpy_of(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy()


# ---- softmax and log_softmax --------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    case=shape_and_axis(),
    which=st.sampled_from(["softmax", "log_softmax"]),
    scale=st.sampled_from([0.1, 1.0, 50.0]),
    offset=st.sampled_from([0.0, 1000.0, -1e4]),
    seed=SEEDS,
)
def test_softmax_and_log_softmax_match_torch(
    case: tuple[tuple[int, ...], int], which: str, scale: float, offset: float, seed: int
) -> None:
    shape, axis = case
    ours, theirs = {"softmax": (softmax, torch.softmax), "log_softmax": (log_softmax, torch.log_softmax)}[which]
    rng = np.random.default_rng(seed)
    x_np = offset + scale * rng.standard_normal(shape)
    x = Tensor(x_np)
    out = ours(x, axis=axis)
    seed_grad = rng.standard_normal(shape)
    out.backward(seed_grad)

    xt = leaf(x_np)
    out_t = theirs(xt, dim=axis)
    out_t.backward(torch.tensor(seed_grad))
    np.testing.assert_allclose(out.value, numpy_of(out_t), **CLOSE)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **CLOSE)


# ---- cross_entropy ------------------------------------------------------------------------------------
def torch_cross_entropy(
    logits: np.ndarray, target: np.ndarray, axis: int, reduction: str, index: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """torch's loss for the engine's arguments: (loss, logits leaf, target leaf or None), class axis moved to
    torch's place (1, or 0 for unbatched 1-D logits)."""
    along = axis % logits.ndim
    torch_axis = 0 if logits.ndim == 1 else 1
    logits_t = leaf(np.moveaxis(logits, along, torch_axis))
    if index:
        target_t = torch.tensor(target.astype(np.int64))  # sample axes keep their order
        return torch_f.cross_entropy(logits_t, target_t, reduction=reduction), logits_t, None
    target_t = leaf(np.moveaxis(target, along, torch_axis))
    return torch_f.cross_entropy(logits_t, target_t, reduction=reduction), logits_t, target_t


def back_from_torch(grad: torch.Tensor, ndim: int, axis: int) -> np.ndarray:
    return np.moveaxis(grad.numpy(), 0 if ndim == 1 else 1, axis % ndim)


@settings(max_examples=60, deadline=None)
@given(
    case=shape_and_axis(),
    reduction=st.sampled_from(REDUCTIONS),
    kind=st.sampled_from(["index", "onehot", "soft"]),
    scale=st.sampled_from([0.5, 3.0, 40.0]),
    seed=SEEDS,
)
def test_cross_entropy_matches_torch(
    case: tuple[tuple[int, ...], int], reduction: str, kind: str, scale: float, seed: int
) -> None:
    shape, axis = case
    rng = np.random.default_rng(seed)
    logits_np = scale * rng.standard_normal(shape)
    target_np = make_target(rng, shape, axis, kind)
    logits, target = Tensor(logits_np), Tensor(target_np)
    loss = cross_entropy(logits, target, axis=axis, reduction=reduction)
    seed_grad = rng.standard_normal(loss.shape)
    loss.backward(seed_grad)

    index = kind == "index"
    loss_t, logits_t, target_t = torch_cross_entropy(logits_np, target_np, axis, reduction, index)
    assert loss.shape == tuple(loss_t.shape)
    loss_t.backward(torch.tensor(seed_grad))
    np.testing.assert_allclose(loss.value, numpy_of(loss_t), **CLOSE)
    np.testing.assert_allclose(logits.grad, back_from_torch(logits_t.grad, len(shape), axis), **CLOSE)
    if index:
        assert target.grad is None  # not a parent: class indices have no gradient
    else:
        assert target_t is not None
        np.testing.assert_allclose(target.grad, back_from_torch(target_t.grad, len(shape), axis), **CLOSE)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label", [0, 2, 3])
def test_cross_entropy_of_1d_logits_and_a_0d_index_matches_torch(reduction: str, label: int) -> None:
    logits_np = np.array([0.3, -1.2, 2.5, 0.0])
    logits = Tensor(logits_np)
    loss = cross_entropy(logits, np.array(float(label)), reduction=reduction)
    assert loss.shape == ()
    loss.backward(np.array(-1.7))
    logits_t = leaf(logits_np)
    loss_t = torch_f.cross_entropy(logits_t, torch.tensor(label), reduction=reduction)
    loss_t.backward(torch.tensor(-1.7, dtype=torch.float64))
    np.testing.assert_allclose(loss.value, numpy_of(loss_t), **CLOSE)
    np.testing.assert_allclose(logits.grad, logits_t.grad.numpy(), **CLOSE)


@pytest.mark.parametrize(
    ("shape", "axis"), [((4, 3), 0), ((2, 5, 3), 0), ((2, 5, 3), -1), ((2, 3, 4, 2), 2), ((3, 2, 2), -2)]
)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_the_class_axis_anywhere_matches_torch(
    shape: tuple[int, ...], axis: int, reduction: str
) -> None:
    rng = np.random.default_rng(len(shape) * 10 + axis)
    logits_np = rng.standard_normal(shape)
    for kind in ("index", "soft"):
        target_np = make_target(rng, shape, axis, kind)
        logits, target = Tensor(logits_np), Tensor(target_np)
        loss = cross_entropy(logits, target, axis=axis, reduction=reduction)
        seed_grad = rng.standard_normal(loss.shape)
        loss.backward(seed_grad)
        loss_t, logits_t, target_t = torch_cross_entropy(logits_np, target_np, axis, reduction, kind == "index")
        loss_t.backward(torch.tensor(seed_grad))
        np.testing.assert_allclose(loss.value, numpy_of(loss_t), **CLOSE)
        np.testing.assert_allclose(logits.grad, back_from_torch(logits_t.grad, len(shape), axis), **CLOSE)
        if target_t is not None:
            np.testing.assert_allclose(target.grad, back_from_torch(target_t.grad, len(shape), axis), **CLOSE)


@pytest.mark.parametrize("logits_list", [[1000.0, 1001.0], [-1e4, 0.0, 1e4], [3.0, 3.0, 3.0], [-1e300, -1e300]])
def test_extreme_logits_match_torch(logits_list: list[float]) -> None:
    logits_np = np.array(logits_list)
    for ours, theirs in ((softmax, torch.softmax), (log_softmax, torch.log_softmax)):
        x = Tensor(logits_np)
        out = ours(x)
        seed_grad = np.linspace(-1.0, 1.0, len(logits_list))
        out.backward(seed_grad)
        xt = leaf(logits_np)
        out_t = theirs(xt, dim=0)
        out_t.backward(torch.tensor(seed_grad))
        np.testing.assert_allclose(out.value, numpy_of(out_t), rtol=1e-12, atol=0)
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), **CLOSE)
    x = Tensor(logits_np)
    loss = cross_entropy(x, np.array(0.0))
    loss.backward()
    xt = leaf(logits_np)
    loss_t = torch_f.cross_entropy(xt, torch.tensor(0))
    loss_t.backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **CLOSE)


# ---- matmul -------------------------------------------------------------------------------------------
def assert_matmul_matches_torch(a_np: np.ndarray, b_np: np.ndarray, rng: np.random.Generator) -> None:
    a, b = Tensor(a_np), Tensor(b_np)
    out = matmul(a, b)
    seed_grad = rng.standard_normal(out.shape)
    out.backward(seed_grad)
    at, bt = leaf(a_np), leaf(b_np)
    out_t = torch.matmul(at, bt)
    assert out.shape == tuple(out_t.shape)
    out_t.backward(torch.tensor(seed_grad))
    np.testing.assert_allclose(out.value, numpy_of(out_t), **CLOSE)
    np.testing.assert_allclose(a.grad, at.grad.numpy(), **CLOSE)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), **CLOSE)


@settings(max_examples=60, deadline=None)
@given(shapes=matmul_shapes(), seed=SEEDS)
def test_matmul_matches_torch(shapes: tuple[tuple[int, ...], tuple[int, ...]], seed: int) -> None:
    a_shape, b_shape = shapes
    rng = np.random.default_rng(seed)
    assert_matmul_matches_torch(rng.standard_normal(a_shape), rng.standard_normal(b_shape), rng)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [
        ((4,), (4,)),
        ((4,), (4, 3)),
        ((2, 4), (4,)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
        ((3, 4), (4, 2)),
        ((2, 1, 3, 4), (5, 4, 6)),
        ((1, 3, 4), (2, 4, 2)),
        ((2, 3, 4), (1, 4, 2)),
        ((3, 1, 2, 3), (1, 4, 3, 1)),
        ((3, 0), (0, 2)),
        ((0, 4), (4, 2)),
    ],
)
def test_matmul_on_chosen_shapes_matches_torch(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(a_shape) * 97 + sum(b_shape))
    assert_matmul_matches_torch(rng.standard_normal(a_shape), rng.standard_normal(b_shape), rng)


# ---- sum_over and mean --------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(case=reduction_case(), which=st.sampled_from(["sum", "mean"]), seed=SEEDS)
def test_sum_over_and_mean_match_torch(
    case: tuple[tuple[int, ...], int | list[int] | None, bool], which: str, seed: int
) -> None:
    shape, axis, keepdims = case
    ours, theirs = {"sum": (sum_over, torch.sum), "mean": (mean, torch.mean)}[which]
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape)
    x = Tensor(x_np)
    out = ours(x, axis=axis, keepdims=keepdims)
    seed_grad = rng.standard_normal(out.shape)
    out.backward(seed_grad)

    xt = leaf(x_np)
    if axis is None and len(shape) == 0:
        out_t = theirs(xt)
    else:
        dims = tuple(range(len(shape))) if axis is None else tuple(np.atleast_1d(axis).tolist())
        out_t = theirs(xt, dim=dims, keepdim=keepdims)
    assert out.shape == tuple(out_t.shape)
    out_t.backward(torch.tensor(seed_grad))
    np.testing.assert_allclose(out.value, numpy_of(out_t), **CLOSE)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **CLOSE)
