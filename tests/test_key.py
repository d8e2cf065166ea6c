"""The answer key: Exercise 1's keys against independent autodiff and central differences; variants by seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.engine.activations import sigmoid
from grader.engine.conv import conv2d
from grader.engine.gradcheck import numerical_gradient
from grader.engine.linear import dense
from grader.engine.loss import mse_loss
from grader.engine.pool import max_pool2d
from grader.engine.tensor import Tensor
from grader.grading import check_context
from grader.key import AnswerKey, compute_key
from grader.spec import load_sheet
from grader.spec.loader import Sheet

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CONV1D = ROOT / "exercises" / "conv1d_avgpool.yaml"


@pytest.fixture(scope="module")
def sheet() -> Sheet:
    return load_sheet(WEEK7)


@pytest.fixture(scope="module")
def key(sheet: Sheet) -> AnswerKey:
    return compute_key(sheet, 7)


def _conv_loss(inputs: dict[str, np.ndarray], w: np.ndarray, *, pooled: bool = False) -> Tensor:
    """Exercise 1a/1c built from engine ops: image (8, 8, 3), w (5, 5, 3, 2) -> h (4, 4, 2) -> y (2,) -> loss."""
    h = sigmoid(conv2d(inputs["image"], Tensor(w, name="w") if not isinstance(w, Tensor) else w, inputs["b"]))
    if pooled:
        return mse_loss(dense(max_pool2d(h, 2), inputs["vp"]), inputs["target"])
    return mse_loss(dense(h, inputs["v"]), inputs["target"])


def _dense_loss(inputs: dict[str, np.ndarray], wd: np.ndarray | Tensor) -> Tensor:
    """Exercise 1b: image (8, 8, 3) contracted with wd (8, 8, 3, 2) -> sigmoid -> vd (2, 2) -> loss."""
    return mse_loss(dense(sigmoid(dense(inputs["image"], wd, inputs["bd"])), inputs["vd"]), inputs["target"])


def _autodiff(loss_of: object, weights: np.ndarray) -> np.ndarray:
    w = Tensor(weights.copy(), name="w")
    loss = loss_of(w)  # type: ignore[operator]
    loss.backward()
    assert w.grad is not None
    return w.grad


@pytest.mark.parametrize("pooled", [False, True], ids=["a", "c_grad"])
def test_exercise_1_conv_keys_agree_with_autodiff_and_central_differences(key: AnswerKey, pooled: bool) -> None:
    inputs = key.inputs["ex1"]
    part = "c_grad" if pooled else "a"
    grad = _autodiff(lambda w: _conv_loss(inputs, w, pooled=pooled), inputs["w"])
    assert key.part("ex1", part).expected == pytest.approx(grad[0, 0, 0, 0], rel=1e-12, abs=1e-15)
    numeric = numerical_gradient(lambda w: _conv_loss(inputs, w, pooled=pooled).item(), inputs["w"])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    if not pooled:
        mistakes = key.part("ex1", "a").mistakes
        assert mistakes["sign-error"] == pytest.approx(-grad[0, 0, 0, 0])
        assert mistakes["sum-over-k"] == pytest.approx(grad[0, 0, 0, :].sum())


def test_exercise_1_dense_key_agrees_with_autodiff_and_central_differences(key: AnswerKey) -> None:
    inputs = key.inputs["ex1"]
    grad = _autodiff(lambda wd: _dense_loss(inputs, wd), inputs["wd"])
    assert key.part("ex1", "b_dense").expected == pytest.approx(grad[0, 0, 0, 0], rel=1e-12, abs=1e-15)
    numeric = numerical_gradient(lambda wd: _dense_loss(inputs, wd).item(), inputs["wd"])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_exercise_1_winners_are_the_window_maxima(key: AnswerKey) -> None:
    inputs = key.inputs["ex1"]
    h = sigmoid(conv2d(inputs["image"], inputs["w"], inputs["b"])).value  # (4, 4, 2)
    windows = h.reshape(2, 2, 2, 2, 2).transpose(0, 2, 1, 3, 4)  # (i', j', di, dj, k)
    winners = (windows == windows.max(axis=(2, 3), keepdims=True)).transpose(0, 2, 1, 3, 4).reshape(4, 4, 2)
    np.testing.assert_array_equal(key.part("ex1", "c_winners").expected, winners.astype(np.float64))


def test_keys_are_deterministic_per_seed_and_differ_across_seeds(sheet: Sheet) -> None:
    first, again, other = compute_key(sheet, 11), compute_key(sheet, 11), compute_key(sheet, 12)
    for exercise_id, values in first.inputs.items():
        for name, value in values.items():
            np.testing.assert_array_equal(value, again.inputs[exercise_id][name])
    assert first.as_json() == again.as_json()
    for name in ("image", "w", "v", "target"):
        assert not np.array_equal(first.inputs["ex1"][name], other.inputs["ex1"][name]), name
    assert first.part("ex1", "a").expected != other.part("ex1", "a").expected
    assert first.inputs["ex2"]["n3"] == other.inputs["ex2"]["n3"] == 7  # literal-only inputs stay put


@pytest.mark.parametrize("path", sorted((ROOT / "exercises").glob("*.yaml")), ids=lambda path: path.stem)
@pytest.mark.parametrize("seed", [None, 0, 5])
def test_a_key_shares_its_quantities_across_parts_without_changing_any(
    path: Path, seed: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key evaluates each quantity once for all its parts and mistakes (and each layer once per shifted image for
    translation checks); every part's key is what evaluating the part on its own gives."""
    import grader.key as key_module

    sheet = load_sheet(path)
    shared = compute_key(sheet, seed).as_json()

    class OnItsOwn(key_module.Evaluator):
        def __init__(self, *args: object, shared: bool = False, **kwargs: object) -> None:
            super().__init__(*args, shared=False, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(key_module, "Evaluator", OnItsOwn)
    # nor from the formula values every variant shares (grader.quantities._VARIANT_FREE_VALUES)
    monkeypatch.setattr(key_module._Env, "every_variant_scope", lambda self, expression, columns: None)
    assert compute_key(sheet, seed).as_json() == shared

def test_the_seedless_variant_uses_the_literal_inputs(sheet: Sheet) -> None:
    key = compute_key(sheet)
    exercise = next(e for e in sheet.spec.exercises if e.id == "ex3")
    for name in ("image", "filter_planes"):
        np.testing.assert_array_equal(key.inputs["ex3"][name], np.asarray(exercise.inputs[name].value, dtype=np.float64))
    assert key.inputs["ex2"]["n1"] == 32 and key.inputs["ex2"]["f1"] == 5
    assert compute_key(sheet, 3).inputs["ex3"]["image"].tolist() != key.inputs["ex3"]["image"].tolist()


_SHEETS = {path: load_sheet(path) for path in (WEEK7, CONV1D)}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**31), path=st.sampled_from(sorted(_SHEETS)))
def test_every_plain_reference_round_trips_with_full_marks(seed: int, path: Path) -> None:
    sheet = _SHEETS[path]
    key = compute_key(sheet, seed)
    checked = 0
    for exercise, part in sheet.parts():
        written = key.answer_json(exercise.id, part.id)
        if written is None:
            continue
        answer = part.answer
        verdict = answer.check(answer.parse(written), key.part(exercise.id, part.id).expected, check_context(sheet, exercise.id, part.id))
        assert verdict.fraction == 1.0, (exercise.id, part.id, seed, verdict)
        checked += 1
    assert checked >= 5


def test_the_arrays_a_key_remembers_stay_within_their_budget(monkeypatch: pytest.MonkeyPatch, sheet: Sheet) -> None:
    """Translation checks remember the layer's output per shifted image (LAZY_ARRAY_BYTES): past the budget they
    are computed again, never kept, and the key is the same (a review's 1000 x 1000 image kept 1.3 GB before); once
    the key is computed, nothing is kept (a cached key's formula functions hold its evaluator)."""
    import grader.key as key_module
    import grader.quantities as quantities

    seen: list[tuple[int, int]] = []  # (arrays kept, their bytes) of each exercise's evaluator, before release
    release = key_module.Evaluator.release

    def watched(evaluator: key_module.Evaluator) -> None:
        assert evaluator.lazy_arrays is not None
        seen.append((len(evaluator.lazy_arrays.kept), evaluator.lazy_arrays.bytes))
        release(evaluator)
        assert not evaluator.lazy_arrays.kept and evaluator.lazy_arrays.bytes == 0
        assert evaluator.shared_env is not None and not evaluator.shared_env.memo

    expected = compute_key(sheet, 4).as_json()
    monkeypatch.setattr(key_module.Evaluator, "release", watched)
    monkeypatch.setattr(quantities, "LAZY_ARRAY_BYTES", 200)
    assert compute_key(sheet, 4).as_json() == expected
    assert seen and all(used <= 200 for _, used in seen) and any(count for count, _ in seen)


def test_a_translation_key_counts_its_python_objects_for_the_key_cache(key: AnswerKey) -> None:
    """A translation key is sets of shifts per unit, not an array: the key cache (KEY_CACHE_NUMBERS) had counted it
    as 1 number, and a big one held about 19 MB per cached variant uncounted."""
    reference = key.part("ex3", "d_shifts").expected
    moves = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)]
    invariant = sum(reference.is_invariant(unit, move) for unit in reference.units for move in moves)
    assert invariant > 0
    assert reference.held == 22 * len(reference.units) + 11 * invariant
    assert key.numbers >= reference.held
