"""exercises/softmax_regression.yaml: its keys, for the sheet's numbers and several seeds, against the textbook
formulas (dL/dz = softmax(z) - onehot(y), dL/dW = x^T dL/dz) and, when it is installed, PyTorch's autograd.

Inputs and keys come from the real CLI (``grader data`` and ``grader solve --format json``), as an instructor
sees them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import Grader

SHEET = Path(__file__).resolve().parents[1] / "exercises" / "softmax_regression.yaml"
SEEDS = [None, 1, 2, 3, 5, 17, 42]


def _variant(grader: Grader, seed: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, key) of one variant, each by exercise id."""
    extra = [] if seed is None else ["--seed", str(seed)]
    data, solved = grader("data", SHEET, *extra), grader("solve", SHEET, "--format", "json", *extra)
    assert data.code == 0 and solved.code == 0, data.err + solved.err
    inputs = {exercise: {name: np.asarray(value) for name, value in values.items()} for exercise, values in json.loads(data.out)["inputs"].items()}
    return inputs, json.loads(solved.out)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_keys_follow_the_textbook_formulas(grader: Grader, seed: int | None) -> None:
    inputs, key = _variant(grader, seed)
    one = inputs["single"]
    z = one["x"] @ one["W"] + one["b"]
    p = _softmax(z)
    label = int(one["label"])
    onehot = np.eye(3)[label]
    np.testing.assert_allclose(key["single"]["a_logits"], z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(key["single"]["b_probabilities"], p, rtol=1e-12, atol=1e-12)
    assert key["single"]["c_loss"] == pytest.approx(-np.log(p[label]), rel=1e-12)
    np.testing.assert_allclose(key["single"]["d_dz"], p - onehot, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(key["single"]["e_dW"], np.outer(one["x"], p - onehot), rtol=1e-12, atol=1e-12)

    batch = inputs["batch"]
    probabilities = _softmax(batch["X"] @ batch["W"])
    labels = batch["labels"].astype(int)
    targets = np.eye(3)[labels]
    assert key["batch"]["a_loss"] == pytest.approx(-np.log(probabilities[np.arange(3), labels]).mean(), rel=1e-12)
    np.testing.assert_allclose(key["batch"]["b_dW"], batch["X"].T @ (probabilities - targets) / 3, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_keys_match_pytorch_autograd(grader: Grader, seed: int | None) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")
    functional = torch.nn.functional
    inputs, key = _variant(grader, seed)
    one = {name: torch.tensor(value, dtype=torch.float64, requires_grad=name == "W") for name, value in inputs["single"].items()}
    z = one["x"] @ one["W"] + one["b"]
    z.retain_grad()
    loss = functional.cross_entropy(z[None], one["label"].long()[None])
    loss.backward()
    assert key["single"]["c_loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(key["single"]["b_probabilities"], torch.softmax(z, -1).detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(key["single"]["d_dz"], z.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(key["single"]["e_dW"], one["W"].grad.numpy(), rtol=1e-12, atol=1e-15)

    batch = inputs["batch"]
    weights = torch.tensor(batch["W"], dtype=torch.float64, requires_grad=True)
    logits = torch.tensor(batch["X"], dtype=torch.float64) @ weights
    labels = torch.tensor(batch["labels"]).long()
    mean_loss = functional.cross_entropy(logits, labels)
    mean_loss.backward()
    assert key["batch"]["a_loss"] == pytest.approx(mean_loss.item(), rel=1e-12)
    np.testing.assert_allclose(key["batch"]["b_dW"], weights.grad.numpy(), rtol=1e-10, atol=1e-15)
    summed = functional.cross_entropy(logits.detach(), labels, reduction="sum")
    mistakes = _mistakes(grader, seed)
    assert mistakes[("batch", "a_loss", "sum-not-mean")] == pytest.approx(summed.item(), rel=1e-12)
    np.testing.assert_allclose(mistakes[("batch", "b_dW", "sum-not-mean")], 3 * weights.grad.numpy(), rtol=1e-10, atol=1e-15)


def _mistakes(grader: Grader, seed: int | None) -> dict[tuple[str, str, str], Any]:
    """The engine's value of every known mistake of the variant, from the sheet's own key (grader.key)."""
    from grader.key import compute_key
    from grader.spec import load_sheet

    sheet = load_sheet(SHEET)
    key = compute_key(sheet, seed)
    return {
        (exercise.id, part.id, mistake.id): key.mistake_json(exercise.id, part.id, mistake.id)
        for exercise, part in sheet.parts()
        for mistake in part.mistakes
    }
