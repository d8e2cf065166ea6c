"""Cross-check against PyTorch (float64, CPU): conv2d, conv1d, max_pool2d, avg_pool2d, values and gradients.

Layouts differ: torch is channels-first, x (N, C, H, W) with weights (K, C, fh, fw); the engine is
channels-last, x (N, H, W, C) with w (fh, fw, C, K). torch's conv2d is also a cross-correlation, so only the
axes move. Skipped when torch is not installed: it is a test-only tool, never a dependency of the grader.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")
import torch.nn.functional as torch_f  # noqa: E402

from grader.engine import Tensor, avg_pool2d, conv1d, conv2d, max_pool2d  # noqa: E402


def to_torch(array: np.ndarray, axes: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(array.transpose(axes)), dtype=torch.float64, requires_grad=True)


def back(tensor: torch.Tensor, axes: tuple[int, ...]) -> np.ndarray:
    return tensor.detach().numpy().transpose(axes)


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 3), channels=st.integers(1, 4), filters=st.integers(1, 4),
    fh=st.integers(1, 4), fw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
    ph=st.integers(0, 2), pw=st.integers(0, 2), out_h=st.integers(1, 4), out_w=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_matches_torch(batch: int, channels: int, filters: int, fh: int, fw: int, sh: int, sw: int,
                              ph: int, pw: int, out_h: int, out_w: int, seed: int) -> None:
    height, width = (out_h - 1) * sh + fh - 2 * ph, (out_w - 1) * sw + fw - 2 * pw
    if height < 1 or width < 1:
        height, width, ph, pw = height + 2 * ph, width + 2 * pw, 0, 0
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((batch, height, width, channels))
    w_np, b_np = rng.standard_normal((fh, fw, channels, filters)), rng.standard_normal(filters)
    x, w, b = Tensor(x_np), Tensor(w_np), Tensor(b_np)
    out = conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw))
    seed_grad = rng.standard_normal(out.shape)
    out.backward(seed_grad)

    xt, wt = to_torch(x_np, (0, 3, 1, 2)), to_torch(w_np, (3, 2, 0, 1))
    bt = torch.tensor(b_np, requires_grad=True)
    out_t = torch_f.conv2d(xt, wt, bt, stride=(sh, sw), padding=(ph, pw))
    out_t.backward(torch.tensor(seed_grad.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out.value, back(out_t, (0, 2, 3, 1)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, back(xt.grad, (0, 2, 3, 1)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad, back(wt.grad, (2, 3, 1, 0)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3), channels=st.integers(1, 4), filters=st.integers(1, 4), f=st.integers(1, 5),
    s=st.integers(1, 3), p=st.integers(0, 2), out_len=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
)
def test_conv1d_matches_torch(batch: int, channels: int, filters: int, f: int, s: int, p: int, out_len: int,
                              seed: int) -> None:
    length = (out_len - 1) * s + f - 2 * p
    if length < 1:
        length, p = length + 2 * p, 0
    rng = np.random.default_rng(seed)
    x_np, w_np = rng.standard_normal((batch, length, channels)), rng.standard_normal((f, channels, filters))
    x, w = Tensor(x_np), Tensor(w_np)
    out = conv1d(x, w, stride=s, padding=p)
    seed_grad = rng.standard_normal(out.shape)
    out.backward(seed_grad)

    xt, wt = to_torch(x_np, (0, 2, 1)), to_torch(w_np, (2, 1, 0))
    out_t = torch_f.conv1d(xt, wt, stride=s, padding=p)
    out_t.backward(torch.tensor(seed_grad.transpose(0, 2, 1)))
    np.testing.assert_allclose(out.value, back(out_t, (0, 2, 1)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, back(xt.grad, (0, 2, 1)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad, back(wt.grad, (2, 1, 0)), rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 3), channels=st.integers(1, 3), fh=st.integers(1, 3), fw=st.integers(1, 3),
    sh=st.integers(1, 3), sw=st.integers(1, 3), out_h=st.integers(1, 4), out_w=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_pools_match_torch(batch: int, channels: int, fh: int, fw: int, sh: int, sw: int, out_h: int, out_w: int,
                           seed: int) -> None:
    shape = (batch, (out_h - 1) * sh + fh, (out_w - 1) * sw + fw, channels)
    rng = np.random.default_rng(seed)
    # Distinct values: with ties the two libraries may legitimately route max-pool gradients differently.
    x_np = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)
    for ours, theirs in ((max_pool2d, torch_f.max_pool2d), (avg_pool2d, torch_f.avg_pool2d)):
        x = Tensor(x_np)
        out = ours(x, (fh, fw), stride=(sh, sw))
        seed_grad = rng.standard_normal(out.shape)
        out.backward(seed_grad)
        xt = to_torch(x_np, (0, 3, 1, 2))
        out_t = theirs(xt, (fh, fw), stride=(sh, sw))
        out_t.backward(torch.tensor(seed_grad.transpose(0, 3, 1, 2)))
        np.testing.assert_allclose(out.value, back(out_t, (0, 2, 3, 1)), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x.grad, back(xt.grad, (0, 2, 3, 1)), rtol=1e-12, atol=1e-12)
