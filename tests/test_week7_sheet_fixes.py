"""The week-7 sheet fixes from a student walkthrough (exercises/week7.yaml, exercises/week7-notes.md).

1. Exercise 3's code parts: a conv2d that flips the kernel, and a max_pool that always pools 2x2 windows, each
   fail a VISIBLE case, so ``grader check`` shows them before submission (the printed filters survive a
   180-degree turn, and the visible pooling cases all had 2x2 windows).
2. Exercise 1 b: the prompt, the table and the key agree on the output weights' layout v_ko (outputs last), and
   reading the table as v_ok (the printed sheet's order) is a known mistake naming the layout.
3. Exercise 2: the classic volume-size slips (padding ignored, no +1, p instead of 2p) are named where they
   differ from the answer, in every variant checked.

Every expected value here is recomputed independently with numpy from ``grader data``-style inputs (the key's
inputs), never typed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.code_key import code_part_key
from grader.grading import check_context, grade_submission
from grader.key import compute_key
from grader.spec import load_sheet
from grader.validate import validate_sheet

ROOT = Path(__file__).resolve().parents[1]
SHEET = ROOT / "exercises" / "week7.yaml"
NOTES = ROOT / "exercises" / "week7-notes.md"
SAMPLES = ROOT / "submissions" / "week7"
CODE = SAMPLES / "code"
SEEDS: list[int | None] = [None, 1, 2, 3, 17, *range(20, 60)]
runner = CliRunner()


@pytest.fixture(scope="module")
def sheet() -> Any:
    return load_sheet(SHEET)


@pytest.fixture(scope="module")
def keys(sheet: Any) -> dict[int | None, Any]:
    return {seed: compute_key(sheet, seed) for seed in SEEDS}


def _inputs(seed: int | None) -> dict[str, dict[str, np.ndarray]]:
    args = ["data", str(SHEET)] + ([] if seed is None else ["--seed", str(seed)])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["inputs"]
    return {ex: {name: np.asarray(value, dtype=np.float64) for name, value in inputs.items()} for ex, inputs in data.items()}


def _parts(sheet: Any) -> dict[tuple[str, str], Any]:
    return {(e.id, p.id): p for e in sheet.spec.exercises for p in e.parts}


def _same(sheet: Any, ex: str, part_id: str, a: Any, b: Any) -> bool:
    """Would a student who hands in ``a`` score full marks against ``b``?"""
    answer = _parts(sheet)[(ex, part_id)].answer
    return answer.check(answer.parse(answer.expected_json(a)), b, check_context(sheet, ex, part_id)).fraction >= 1.0


def test_the_sheet_validates() -> None:
    assert validate_sheet(SHEET) == []


# --- 1. Exercise 3: visible cases that catch a flipped kernel and fixed 2x2 pooling windows -------------------


def _check(path: Path) -> dict[str, Any]:
    """``grader check`` on a code file, as JSON: the student-side run before submission."""
    result = runner.invoke(app, ["check", str(SHEET), str(path), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return {p["key"]: p for p in json.loads(result.stdout)["result"]["parts"]}


def _visible(part: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in part["cases"] if c["visibility"] == "visible"}


def test_the_asymmetric_test_filters_are_changed_by_a_180_degree_turn(sheet: Any) -> None:
    key = code_part_key(sheet, "ex3", "code_conv2d")
    sheet_filters = key.case("sheet-image").kwargs["filters"]
    test_filters = key.case("asymmetric-filters").kwargs["filters"]
    assert np.array_equal(sheet_filters, sheet_filters[::-1, ::-1])  # why the printed filters cannot tell
    assert test_filters.shape == sheet_filters.shape
    for changed in (test_filters[::-1, ::-1], test_filters[::-1], test_filters[:, ::-1], test_filters.transpose(1, 0, 2, 3)):
        for k in range(test_filters.shape[3]):
            assert not np.array_equal(changed[..., k], test_filters[..., k])


def test_the_asymmetric_case_key_is_a_cross_correlation(sheet: Any) -> None:
    case = code_part_key(sheet, "ex3", "code_conv2d").case("asymmetric-filters")
    image, filters = case.kwargs["image"], case.kwargs["filters"]
    f = filters.shape[0]
    rows, cols = image.shape[0] - f + 1, image.shape[1] - f + 1
    naive = np.array([[np.tensordot(image[i : i + f, j : j + f], filters, axes=3) for j in range(cols)] for i in range(rows)])
    np.testing.assert_allclose(case.expected, naive, rtol=0, atol=1e-12)
    flipped = np.array([[np.tensordot(image[i : i + f, j : j + f], filters[::-1, ::-1], axes=3) for j in range(cols)] for i in range(rows)])
    np.testing.assert_allclose(case.mistakes["flipped-kernel"], flipped, rtol=0, atol=1e-12)
    assert not np.allclose(naive, flipped)
    assert case.visibility.value == "visible"


def test_check_catches_the_flipped_kernel_sample_on_a_visible_case() -> None:
    conv = _check(CODE / "mistake-flipped-kernel.py")["ex3.code_conv2d"]
    visible = _visible(conv)
    assert not visible["asymmetric-filters"]["passed"]
    assert all(case["passed"] for name, case in visible.items() if name != "asymmetric-filters")  # the printed filters still pass
    assert conv["mistake"] == "flipped-kernel" and "flipped" in conv["feedback"]


def test_check_passes_every_visible_case_of_the_correct_sample() -> None:
    for part in _check(CODE / "correct.py").values():
        assert all(case["passed"] for case in _visible(part).values()), part["key"]


def test_check_catches_a_max_pool_that_always_pools_2x2_windows(tmp_path: Path) -> None:
    source = (CODE / "correct.py").read_text(encoding="utf-8")
    fixed = source.replace("def max_pool(x, size, stride):\n", "def max_pool(x, size, stride):\n    size = 2  # the slip\n", 1)
    assert fixed != source
    path = tmp_path / "pool-always-2x2.py"
    path.write_text(fixed, encoding="utf-8")
    pool = _visible(_check(path)["ex3.code_max_pool"])
    assert not pool["window-3"]["passed"]
    assert pool["sheet-feature-maps"]["passed"] and pool["overlapping-windows"]["passed"]  # the 2x2 cases cannot tell


def test_code_that_takes_the_height_for_the_width_fails_hidden_cases(tmp_path: Path, sheet: Any) -> None:
    """The visible cases are the sheet's square images; the random cases draw height and width apart, so code that
    sizes both output axes by the height passes every visible case and still loses points (it had scored full
    marks on conv2d and max_pool: a review's find)."""
    source = (CODE / "correct.py").read_text(encoding="utf-8")
    square = source.replace("cols = (image.shape[1] - f)", "cols = (image.shape[0] - f)").replace(
        "cols = (x.shape[1] - size)", "cols = (x.shape[0] - size)"
    )
    assert square.count("shape[0] -") == 4, square
    path = tmp_path / "square.py"
    path.write_text(square, encoding="utf-8")
    parts = {f"{p.exercise_id}.{p.part_id}": p for p in grade_submission(sheet, path, mode="full").parts}
    for key in ("ex1.code_grad_w", "ex3.code_conv2d", "ex3.code_max_pool"):
        visible = [c.passed for c in parts[key].cases if c.visibility == "visible"]
        hidden = [c.passed for c in parts[key].cases if c.visibility == "hidden"]
        assert all(visible) and not all(hidden), (key, visible, hidden)
        assert parts[key].points_earned < parts[key].points_possible


def test_the_window_3_case_key_is_a_3x3_max_pool(sheet: Any) -> None:
    case = code_part_key(sheet, "ex3", "code_max_pool").case("window-3")
    x = case.kwargs["x"]
    assert case.kwargs["size"] == 3 and case.kwargs["stride"] == 1
    naive = np.array([[x[i : i + 3, j : j + 3].max(axis=(0, 1)) for j in range(x.shape[1] - 2)] for i in range(x.shape[0] - 2)])
    np.testing.assert_array_equal(case.expected, naive)


# --- 2. Exercise 1 b: the output weights are v_ko everywhere ----------------------------------------------------


def _dense_grad(inputs: dict[str, np.ndarray], v_ko: np.ndarray) -> float:
    """dL/dw_1111 of part b's dense net with output weights v_ko[k, o] (y_o = sum_k v_ko h_k), by hand."""
    image, w, b, target = inputs["image"], inputs["wd"], inputs["bd"], inputs["target"]
    a = b + np.einsum("xyc,xyck->k", image, w)
    h = 1 / (1 + np.exp(-a))
    y = h @ v_ko
    error = target - y  # e_o = yhat_o - y_o
    return float(-np.sum(error * v_ko[0, :]) * h[0] * (1 - h[0]) * image[0, 0, 0])


@pytest.mark.parametrize("seed", [None, 1, 17])
def test_b_dense_key_uses_v_ko_and_the_transposed_reading_is_a_mistake(keys: dict[int | None, Any], seed: int | None) -> None:
    inputs = _inputs(seed)["ex1"]
    part = keys[seed].part("ex1", "b_dense")
    assert part.expected == pytest.approx(_dense_grad(inputs, inputs["vd"]), rel=1e-9, abs=1e-12)
    assert part.mistakes["v-transposed"] == pytest.approx(_dense_grad(inputs, inputs["vd"].T), rel=1e-9, abs=1e-12)


def test_b_dense_prompt_and_table_name_the_same_layout(sheet: Any) -> None:
    ex1 = next(e for e in sheet.spec.exercises if e.id == "ex1")
    prompt = _parts(sheet)[("ex1", "b_dense")].prompt
    assert "sum_k v_ko h_k" in prompt and "v_ok" not in prompt
    description = ex1.inputs["vd"].description
    assert "v_ko" in description and "row k" in description and "column o" in description
    mistake = next(m for m in _parts(sheet)[("ex1", "b_dense")].mistakes if m.id == "v-transposed")
    assert "v_ok" in mistake.feedback and "v_ko" in mistake.feedback
    assert "v_ok" in NOTES.read_text(encoding="utf-8") and "v-transposed" in NOTES.read_text(encoding="utf-8")


def test_v_transposed_differs_from_the_answer_and_the_other_mistakes(sheet: Any, keys: dict[int | None, Any]) -> None:
    for seed, key in keys.items():
        part = key.part("ex1", "b_dense")
        others = [part.expected, *(value for name, value in part.mistakes.items() if name != "v-transposed")]
        assert not any(_same(sheet, "ex1", "b_dense", part.mistakes["v-transposed"], other) for other in others), seed


# --- 3. Exercise 2: the classic volume-size slips ---------------------------------------------------------------


def _width(n: float, f: float, s: float, p: float) -> int:
    span = n + 2 * p - f
    assert span % s == 0
    return int(span // s + 1)


def _slips(ex2: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """part -> mistake -> the slip's number, worked out by hand from the variant's inputs."""
    n1, f1, k1 = ex2["n1"], ex2["f1"], ex2["k1"]
    n2, f2, p2 = ex2["n2"], ex2["f2"], ex2["p2"]
    n3, f3, s3 = ex2["n3"], ex2["f3"], ex2["s3"]
    n4, f4, s4 = ex2["n4"], ex2["f4"], ex2["s4"]
    nb, fb = ex2["nb"], ex2["fb"]
    a = _width(n1, f1, 1, 0)
    return {
        "a_volume": {"no-plus-one": (a - 1, a - 1, int(k1))},
        "a_set_b": {
            "p-not-2p": int(n2 + p2 - f2 + 1),
            "no-plus-one": _width(n2, f2, 1, p2) - 1,
            "padding-ignored": _width(n2, f2, 1, 0),
        },
        "a_set_c": {"no-plus-one": _width(n3, f3, s3, 0) - 1},
        "a_set_d": {"no-plus-one": _width(n4, f4, s4, 0) - 1, "ignored-stride": _width(n4, f4, 1, 0)},
        "b_check_p": {"p-not-halved": int(fb - 1)},
        "b_check_size": {"padding-ignored": _width(nb, fb, 1, 0), "no-plus-one-or-p-not-2p": _width(nb, fb, 1, (fb - 1) // 2) - 1},
    }


@pytest.mark.parametrize("seed", [None, 1, 2, 17])
def test_volume_slips_are_the_classic_formulas(sheet: Any, keys: dict[int | None, Any], seed: int | None) -> None:
    for part_id, slips in _slips(_inputs(seed)["ex2"]).items():
        part = keys[seed].part("ex2", part_id)
        for mistake, value in slips.items():
            answer = _parts(sheet)[("ex2", part_id)].answer
            assert answer.expected_json(part.mistakes[mistake]) == answer.expected_json(value), (seed, part_id, mistake)


def test_every_named_volume_slip_differs_from_the_answer(sheet: Any, keys: dict[int | None, Any]) -> None:
    for (ex, part_id), part in _parts(sheet).items():
        if ex != "ex2" or part.answer.type in ("formula", "code"):
            continue
        for mistake in part.mistakes:
            coincide = [seed for seed, key in keys.items() if _same(sheet, ex, part_id, key.part(ex, part_id).mistakes[mistake.id], key.part(ex, part_id).expected)]
            if mistake.may_coincide:
                assert len(coincide) < len(keys), (part_id, mistake.id)
            else:
                assert not coincide, (part_id, mistake.id, coincide)


def test_depth_is_c_is_marked_as_able_to_coincide(sheet: Any, keys: dict[int | None, Any]) -> None:
    """k is drawn from 2..16 and c = 3: in some variants the depth-is-c volume is the right one."""
    part = _parts(sheet)[("ex2", "a_volume")]
    assert next(m for m in part.mistakes if m.id == "depth-is-c").may_coincide
    assert any(_same(sheet, "ex2", "a_volume", k.part("ex2", "a_volume").mistakes["depth-is-c"], k.part("ex2", "a_volume").expected) for k in keys.values())


def test_set_b_slips_that_coincide_for_p_1_get_feedback_naming_both(sheet: Any, keys: dict[int | None, Any]) -> None:
    part = _parts(sheet)[("ex2", "a_set_b")]
    order = [m.id for m in part.mistakes]
    assert order.index("p-not-2p") < order.index("no-plus-one")  # the first match is shown
    assert "+1" in part.mistakes[order.index("p-not-2p")].feedback
    p_one = [seed for seed in (None, 2, 3) if _inputs(seed)["ex2"]["p2"] == 1]
    assert p_one  # seeds 2 and 3 have p = 1
    for seed in p_one:
        mistakes = keys[seed].part("ex2", "a_set_b").mistakes
        assert mistakes["p-not-2p"] == mistakes["no-plus-one"]


def test_the_formula_slip_padding_ignored_is_named(sheet: Any) -> None:
    graded = grade_submission(sheet, SAMPLES / "mistake-padding-ignored--ex2-a_formula.yaml")
    part = next(p for p in graded.parts if (p.exercise_id, p.part_id) == ("ex2", "a_formula"))
    assert part.mistake == "padding-ignored" and "padding" in part.feedback


NEW_SAMPLES = [
    "mistake-v-transposed--ex1-b_dense.yaml",
    "mistake-no-plus-one--ex2-a_volume.yaml",
    "mistake-no-plus-one--ex2-a_set_b.yaml",
    "mistake-padding-ignored--ex2-a_set_b.yaml",
    "mistake-no-plus-one--ex2-a_set_c.yaml",
    "mistake-no-plus-one--ex2-a_set_d.yaml",
    "mistake-ignored-stride--ex2-a_set_d.yaml",
    "mistake-padding-ignored--ex2-a_formula.yaml",
    "mistake-p-not-halved--ex2-b_check_p.yaml",
    "mistake-padding-ignored--ex2-b_check_size.yaml",
    "mistake-no-plus-one-or-p-not-2p--ex2-b_check_size.yaml",
]


@pytest.mark.parametrize("name", NEW_SAMPLES)
def test_each_new_mistake_has_a_sample_that_gets_it(sheet: Any, name: str) -> None:
    mistake, place = name.removeprefix("mistake-").removesuffix(".yaml").split("--")
    exercise, part_id = place.split("-", 1)
    graded = grade_submission(sheet, SAMPLES / name)
    wrong = [p for p in graded.parts if p.status.value != "correct"]
    assert [(p.exercise_id, p.part_id) for p in wrong] == [(exercise, part_id)]
    assert wrong[0].mistake == mistake and wrong[0].feedback.strip()


def test_b_check_size_follows_through_from_the_students_own_p(sheet: Any, tmp_path: Path) -> None:
    """Error carried forward (follow_through, week7-notes.md): a width consistent with the student's own wrong
    p = f - 1 = 2 earns b_check_size's point, with no known mistake; b_check_p keeps its own."""
    key = compute_key(sheet, None)
    text = (SAMPLES / "mistake-p-not-halved--ex2-b_check_p.yaml").read_text(encoding="utf-8")
    right_size = key.part("ex2", "b_check_size").expected
    carried = _width(4, 3, 1, 2)
    assert f"b_check_size: {right_size}" in text
    path = tmp_path / "carried.yaml"
    path.write_text(text.replace(f"b_check_size: {right_size}", f"b_check_size: {carried}"), encoding="utf-8")
    parts = {p.part_id: p for p in grade_submission(sheet, path).parts}
    part = parts["b_check_size"]
    assert part.status.value == "correct" and part.mistake is None and part.points_earned == part.points_possible
    assert part.feedback.startswith("Right for your own answer to b_check_p (2), which was not right")
    assert parts["b_check_p"].mistake == "p-not-halved" and parts["b_check_p"].points_earned == 0
