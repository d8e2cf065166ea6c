"""Week-7 sheet, Exercise 1 (backprop in a convnet): the engine's gradients against central differences, and
the sheet's printed formulas (Eq. 4, 5, 6) tested literally as printed and as corrected.

Sheet indices are 1-based; here they are 0-based (the sheet's w_1111 is w[0, 0, 0, 0], I_ij1 is I[i, j, 0]).
Findings are written up in exercises/week7-notes.md: as printed, Eq. 4, 5 and 6 sum over the filter (or
hidden-unit) index k although w_1111 only feeds filter k = 1; only the k = 1 terms belong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from grader.engine import Tensor, conv2d, dense, max_pool2d, max_pool2d_winners, mse_loss, sigmoid
from grader.engine.gradcheck import check_gradients, numerical_gradient, relative_error

TOLERANCE = 1e-6
IMAGE, FILTER, FILTERS, OUTPUTS = (8, 8, 3), 5, 2, 2
HIDDEN = IMAGE[0] - FILTER + 1  # 4: stride 1, no padding


@dataclass
class Instance:
    image: np.ndarray  # I: (8, 8, 3)
    w: np.ndarray  # (5, 5, 3, K)
    b: np.ndarray  # (K,)
    v: np.ndarray  # (4, 4, K, O) for the conv net; reshaped per variant
    target: np.ndarray  # yhat: (O,)


def instance(seed: int = 7) -> Instance:
    rng = np.random.default_rng(seed)
    # Small weights keep sigma' away from 0, so that every term of the formulas matters.
    return Instance(
        image=rng.uniform(0.0, 1.0, IMAGE),
        w=0.2 * rng.standard_normal((FILTER, FILTER, IMAGE[2], FILTERS)),
        b=0.1 * rng.standard_normal(FILTERS),
        v=rng.standard_normal((HIDDEN, HIDDEN, FILTERS, OUTPUTS)),
        target=rng.standard_normal(OUTPUTS),
    )


def sigmoid_prime(a: np.ndarray) -> np.ndarray:
    s = 1.0 / (1.0 + np.exp(-a))
    return s * (1.0 - s)


# ---- a. the convolutional net -------------------------------------------------------------------------------
def conv_net(image: Tensor, w: Tensor, b: Tensor, v: Tensor, target: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 1-3 and the loss: returns (a: (4, 4, K), y: (O,), L: ())."""
    a = conv2d(image, w, b)
    y = dense(sigmoid(a), v)
    return a, y, mse_loss(y, target)


def test_a_dL_dw1111_by_autodiff_equals_central_differences() -> None:
    case = instance()
    w = Tensor(case.w)
    _, _, loss = conv_net(Tensor(case.image), w, Tensor(case.b), Tensor(case.v), case.target)
    loss.backward()

    def loss_of_w1111(value: np.ndarray) -> float:
        trial = case.w.copy()
        trial[0, 0, 0, 0] = value[0]
        return conv_net(Tensor(case.image), Tensor(trial), Tensor(case.b), Tensor(case.v), case.target)[2].item()

    numeric = numerical_gradient(loss_of_w1111, np.array([case.w[0, 0, 0, 0]]))[0]
    assert abs(w.grad[0, 0, 0, 0] - numeric) / max(1.0, abs(numeric)) < TOLERANCE
    assert abs(numeric) > 1e-3  # a real derivative, not a vacuous 0 = 0


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_a_every_weight_and_bias_matches_central_differences(seed: int) -> None:
    case = instance(seed)
    errors = check_gradients(
        lambda image, w, b, v: conv_net(image, w, b, v, case.target)[2],
        {"image": case.image, "w": case.w, "b": case.b, "v": case.v},
    )
    assert max(errors.values()) < TOLERANCE, errors


def test_a_eq4_as_printed_sums_over_k_and_disagrees_the_k1_terms_agree() -> None:
    case = instance()
    w = Tensor(case.w)
    a, y, loss = conv_net(Tensor(case.image), w, Tensor(case.b), Tensor(case.v), case.target)
    loss.backward()
    error = case.target - y.value  # (yhat_o - y_o)
    # delta[i, j, k] = sum_o (yhat_o - y_o) v_ijko sigma'(a_ijk); the printed formula multiplies by I_ij1.
    delta = np.einsum("o,ijko->ijk", error, case.v) * sigmoid_prime(a.value)
    i_ij1 = case.image[:HIDDEN, :HIDDEN, 0]
    printed = -np.sum(delta * i_ij1[:, :, None])  # Eq. 4: sum over i, j AND k
    corrected = -np.sum(delta[:, :, 0] * i_ij1)  # only filter k = 1 (index 0) uses w_1111
    autodiff = w.grad[0, 0, 0, 0]
    assert abs(corrected - autodiff) < 1e-12 * max(1.0, abs(autodiff))
    assert abs(printed - autodiff) > 1e-2 * max(1.0, abs(autodiff))
    # The surplus is exactly the k = 2 terms, which belong to dL/dw_1112 with the same I_ij1.
    assert printed - autodiff == pytest.approx(w.grad[0, 0, 0, 1], rel=1e-12)


def test_a_the_corrected_eq4_gives_every_weight() -> None:
    # dL/dw_xyck = -sum_o (yhat_o - y_o) sum_ij v_ijko sigma'(a_ijk) I_{i+x-1, j+y-1, c}, for all x, y, c, k.
    case = instance(11)
    w = Tensor(case.w)
    a, y, loss = conv_net(Tensor(case.image), w, Tensor(case.b), Tensor(case.v), case.target)
    loss.backward()
    delta = np.einsum("o,ijko->ijk", case.target - y.value, case.v) * sigmoid_prime(a.value)
    formula = np.zeros_like(case.w)
    for x in range(FILTER):
        for yy in range(FILTER):
            formula[x, yy] = -np.einsum("ijk,ijc->ck", delta, case.image[x : x + HIDDEN, yy : yy + HIDDEN])
    assert relative_error(w.grad, formula) < 1e-12


# ---- c. with a max-pooling layer after the conv layer ---------------------------------------------------------
def pooled_net(
    image: Tensor, w: Tensor, b: Tensor, v: Tensor, target: np.ndarray
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """conv -> sigma -> 2x2 max pool (stride 2) -> dense: returns (a: (4, 4, K), h, y, L); v: (2, 2, K, O)."""
    a = conv2d(image, w, b)
    h = sigmoid(a)
    y = dense(max_pool2d(h, 2), v)
    return a, h, y, mse_loss(y, target)


@pytest.mark.parametrize("seed", [7, 12])
def test_c_max_pool_net_gradients_match_central_differences_and_only_winners_count(seed: int) -> None:
    case = instance(seed)
    v = case.v[:2, :2]  # (2, 2, K, O): one weight per pooled unit
    errors = check_gradients(
        lambda image, w, b, v: pooled_net(image, w, b, v, case.target)[3],
        {"image": case.image, "w": case.w, "b": case.b, "v": v},
    )
    assert max(errors.values()) < TOLERANCE, errors

    w = Tensor(case.w)
    a, h, y, loss = pooled_net(Tensor(case.image), w, Tensor(case.b), Tensor(v), case.target)
    loss.backward()
    winners = max_pool2d_winners(h.value, 2)  # (4, 4, K): one True per 2x2 window and filter
    assert winners.sum() == 2 * 2 * FILTERS
    v_up = np.repeat(np.repeat(v, 2, axis=0), 2, axis=1)  # v of the window each hidden unit (i, j) lies in
    delta_all = np.einsum("o,ijko->ijk", case.target - y.value, v_up) * sigmoid_prime(a.value)

    def dw_summing_over(mask: np.ndarray) -> np.ndarray:
        delta = delta_all * mask
        return np.stack(
            [
                np.stack([-np.einsum("ijk,ijc->ck", delta, case.image[x : x + HIDDEN, yy : yy + HIDDEN]) for yy in range(FILTER)])
                for x in range(FILTER)
            ]
        )

    # The sheet's answer c: the sum runs only over the winning (i, j) ...
    assert relative_error(w.grad, dw_summing_over(winners)) < 1e-12
    # ... and summing over every (i, j), as without pooling, would be wrong.
    assert relative_error(w.grad, dw_summing_over(np.ones_like(winners))) > 1e-3


# ---- b. the dense (fully connected) variant -------------------------------------------------------------------
def dense_net(image: Tensor, w: Tensor, b: Tensor, v_ko: Tensor, target: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    """a_k = b_k + sum_xyc I_xyc w_xyck, h_k = sigma(a_k), y_o = sum_k v_ok h_k (v passed as (K, O) = v_ok^T)."""
    a = dense(image, w, b)
    y = dense(sigmoid(a), v_ko)
    return a, y, mse_loss(y, target)


def test_b_dense_net_gradients_and_eq5() -> None:
    rng = np.random.default_rng(21)
    case = instance(21)
    w = 0.05 * rng.standard_normal((*IMAGE, FILTERS))  # (8, 8, 3, K)
    v_ok = rng.standard_normal((OUTPUTS, FILTERS))  # the sheet's v_ok
    errors = check_gradients(
        lambda image, w, b, v: dense_net(image, w, b, v, case.target)[2],
        {"image": case.image, "w": w, "b": case.b, "v": v_ok.T},
    )
    assert max(errors.values()) < TOLERANCE, errors

    wt = Tensor(w)
    a, y, loss = dense_net(Tensor(case.image), wt, Tensor(case.b), Tensor(v_ok.T), case.target)
    loss.backward()
    error = case.target - y.value
    terms = np.einsum("o,ok->k", error, v_ok) * sigmoid_prime(a.value)  # sum_o (yhat_o - y_o) v_ok sigma'(a_k)
    printed = -np.sum(terms) * case.image[0, 0, 0]  # Eq. 5: sum over k
    corrected = -terms[0] * case.image[0, 0, 0]  # only hidden unit k = 1 uses w_1111
    autodiff = wt.grad[0, 0, 0, 0]
    assert abs(corrected - autodiff) < 1e-12 * max(1.0, abs(autodiff))
    assert abs(printed - autodiff) > 1e-2 * max(1.0, abs(autodiff))
    assert printed - autodiff == pytest.approx(wt.grad[0, 0, 0, 1], rel=1e-12)


def test_b_unusual_indexing_gradients_and_eq6() -> None:
    # a_ijk = b_ijk + sum_xyc I_xyc w_xycijk with 2 x 2 x 2 hidden units (111, 112, 121, ...), y_o = sum v_ijko h_ijk.
    rng = np.random.default_rng(31)
    case = instance(31)
    w6 = 0.05 * rng.standard_normal((*IMAGE, 2, 2, 2))
    b3 = 0.1 * rng.standard_normal((2, 2, 2))
    v4 = rng.standard_normal((2, 2, 2, OUTPUTS))
    # The engine's dense takes one output axis: the hidden units (i, j, k) are flattened in row-major order,
    # so unit 111 (1-based) is index 0; the reshapes are views of the same numbers.
    inputs = {"image": case.image, "w": w6.reshape(*IMAGE, 8), "b": b3.reshape(8), "v": v4.reshape(8, OUTPUTS)}

    def net(image: Tensor, w: Tensor, b: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a = dense(image, w, b)
        y = dense(sigmoid(a), v)
        return a, y, mse_loss(y, case.target)

    errors = check_gradients(lambda **t: net(**t)[2], inputs)
    assert max(errors.values()) < TOLERANCE, errors

    wt = Tensor(inputs["w"])
    a, y, loss = net(Tensor(case.image), wt, Tensor(inputs["b"]), Tensor(inputs["v"]))
    loss.backward()
    a3 = a.value.reshape(2, 2, 2)
    error = case.target - y.value
    autodiff = wt.grad.reshape(w6.shape)[0, 0, 0, 0, 0, 0]  # the sheet's w_111111
    # Eq. 6 as printed, -sum_o (yhat_o - y_o) sum_k v_111ko sigma'(a_111k) I_111, gives a four-index a_111k to a
    # three-index a; read as the sum over the units (1, 1, k), k = 1, 2:
    printed = -sum(error @ v4[0, 0, k] * sigmoid_prime(a3[0, 0, k]) for k in range(2)) * case.image[0, 0, 0]
    corrected = -(error @ v4[0, 0, 0]) * sigmoid_prime(a3[0, 0, 0]) * case.image[0, 0, 0]  # unit 111 only
    assert abs(corrected - autodiff) < 1e-12 * max(1.0, abs(autodiff))
    assert abs(printed - autodiff) > 1e-2 * max(1.0, abs(autodiff))
    # The correction has Eq. 5's shape: w_111111 feeds only unit 111, as w_1111 feeds only unit k = 1.
    assert printed - autodiff == pytest.approx(wt.grad.reshape(w6.shape)[0, 0, 0, 0, 0, 1], rel=1e-12)
