"""``floor: true`` on conv2d, max_pool2d and avg_pool2d drops the rows and columns no window reaches, exactly as
PyTorch does by default (floor mode): values and gradients, against torch (float64, CPU), with windows that do not
tile the input. Skipped when torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")
import torch.nn.functional as torch_f  # noqa: E402

from grader.engine import Tensor  # noqa: E402
from grader.quantities import OPS  # noqa: E402


def _torch(array: np.ndarray, axes: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(array.transpose(axes)), dtype=torch.float64, requires_grad=True)


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 9), width=st.integers(1, 9), channels=st.integers(1, 3), filters=st.integers(1, 3),
    fh=st.integers(1, 4), fw=st.integers(1, 4), sh=st.integers(1, 4), sw=st.integers(1, 4),
    ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_floor_matches_torch(height: int, width: int, channels: int, filters: int, fh: int, fw: int, sh: int,
                                    sw: int, ph: int, pw: int, seed: int) -> None:
    if fh > height + 2 * ph or fw > width + 2 * pw:
        return  # the filter does not fit: an error either way
    rng = np.random.default_rng(seed)
    x_np, w_np = rng.standard_normal((height, width, channels)), rng.standard_normal((fh, fw, channels, filters))
    x, w = Tensor(x_np), Tensor(w_np)
    out = OPS["conv2d"].fn(x, w, stride=[sh, sw], padding=[ph, pw], floor=True)
    seed_grad = rng.standard_normal(out.shape)
    out.backward(seed_grad)
    xt, wt = _torch(x_np[None], (0, 3, 1, 2)), _torch(w_np, (3, 2, 0, 1))
    out_t = torch_f.conv2d(xt, wt, stride=(sh, sw), padding=(ph, pw))
    out_t.backward(torch.tensor(seed_grad.transpose(2, 0, 1)[None]))
    np.testing.assert_allclose(out.value, out_t.detach().numpy()[0].transpose(1, 2, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, xt.grad.numpy()[0].transpose(1, 2, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad, wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name, torch_pool", [("max_pool2d", torch_f.max_pool2d), ("avg_pool2d", torch_f.avg_pool2d)])
@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(1, 9), width=st.integers(1, 9), channels=st.integers(1, 3), kh=st.integers(1, 4),
    kw=st.integers(1, 4), sh=st.integers(1, 4), sw=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
)
def test_pool2d_floor_matches_torch(name: str, torch_pool: object, height: int, width: int, channels: int, kh: int,
                                    kw: int, sh: int, sw: int, seed: int) -> None:
    if kh > height or kw > width:
        return
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((height, width, channels))  # continuous: no ties
    x = Tensor(x_np)
    out = OPS[name].fn(x, [kh, kw], stride=[sh, sw], floor=True)
    seed_grad = rng.standard_normal(out.shape)
    out.backward(seed_grad)
    xt = _torch(x_np, (2, 0, 1))
    out_t = torch_pool(xt, kernel_size=(kh, kw), stride=(sh, sw))  # type: ignore[operator]
    out_t.backward(torch.tensor(seed_grad.transpose(2, 0, 1)))
    np.testing.assert_allclose(out.value, out_t.detach().numpy().transpose(1, 2, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, xt.grad.numpy().transpose(1, 2, 0), rtol=1e-10, atol=1e-10)
