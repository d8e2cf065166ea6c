"""An exercise's ``require`` conditions: a seeded variant whose inputs fail one is drawn again (an MLP whose every
ReLU is dead in some variants, where answering zeros scored full marks), variants that meet them on the first draw
keep their numbers, and an author learns at the condition when no draw, or the sheet's own numbers, meet it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .conftest import Grader, line_of, validate_errors, write

MLP = """\
id: mlp
validation_seeds: [1, 2, 3, 4, 5, 6, 7, 8]
exercises:
  - id: e
    inputs:
      x: {value: [1.0, -0.5], random: {dist: normal, shape: [2]}}
      W: {value: [[0.5, -0.3], [0.2, 0.8]], random: {dist: normal, shape: [2, 2]}}
      b: {value: [0.1, 0.1], random: {dist: normal, shape: [2], mean: -1.5}}
      t: {value: [1.0]}
      v: {value: [[1.0], [-1.0]]}
    quantities:
      h: {op: relu, x: {op: add, a: {op: matmul, a: $x, b: $W}, b: $b}}
      loss: {op: mse_loss, y: {op: matmul, a: $h, b: $v}, target: $t}
      dW: {op: grad, of: $loss, wrt: $W}
    parts:
      - {id: dW, prompt: dL/dW, points: 1, answer: {type: array}, expected: $dW}
"""
REQUIRE = "    require:\n      - CONDITION\n    parts:\n"
ALIVE = "{op: greater, a: {op: sum, x: $h}, b: 0}"


def _with(condition: str, text: str = MLP) -> str:
    return text.replace("    parts:\n", REQUIRE.replace("CONDITION", condition))


def _variant(grader: Grader, sheet: Path, seed: int) -> tuple[dict[str, np.ndarray], list[list[float]]]:
    data, solved = grader("data", sheet, "--seed", str(seed)), grader("solve", sheet, "--seed", str(seed), "--format", "json")
    assert data.code == 0 and solved.code == 0, data.err + solved.err
    inputs = {name: np.asarray(value) for name, value in json.loads(data.out)["inputs"]["e"].items()}
    return inputs, json.loads(solved.out)["e"]["dW"]


def _alive(inputs: dict[str, np.ndarray]) -> bool:
    return bool(np.maximum(inputs["x"] @ inputs["W"] + inputs["b"], 0).sum() > 0)


def test_dead_variants_are_drawn_again_and_the_others_keep_their_numbers(grader: Grader, tmp_path: Path) -> None:
    plain, required = write(tmp_path, MLP), write(tmp_path, _with(ALIVE), "required.yaml")
    warned = grader("validate", plain)
    assert warned.code == 0 and "[spec-degenerate-key]" in warned.err  # without it: dead variants, zeros score
    checked = grader("validate", required)
    assert checked.code == 0 and "warning" not in checked.err, checked.err
    kept = redrawn = 0
    for seed in range(1, 13):
        first, first_key = _variant(grader, plain, seed)
        inputs, key = _variant(grader, required, seed)
        assert _alive(inputs), seed
        if _alive(first):  # met on the first draw: the same numbers and key as without the condition
            assert key == first_key and all(np.array_equal(inputs[n], first[n]) for n in inputs), seed
            kept += 1
        else:
            assert np.abs(np.asarray(key)).max() > 0, seed
            redrawn += 1
    assert kept and redrawn  # both kinds occur among these seeds (b is drawn around -1.5)


def test_a_student_of_a_redrawn_variant_is_graded_against_its_numbers(grader: Grader, tmp_path: Path) -> None:
    required = write(tmp_path, _with(ALIVE))
    inputs, key = _variant(grader, required, 1)
    h = np.maximum(inputs["x"] @ inputs["W"] + inputs["b"], 0)
    dy = (h @ inputs["v"] - inputs["t"])  # dL/dy of 1/2 (t - y)^2
    dW = np.outer(inputs["x"], (dy @ inputs["v"].T) * (h > 0))  # computed by hand from what `grader data` printed
    np.testing.assert_allclose(key, dW, rtol=1e-12)
    answers = write(tmp_path, json.dumps({"student": "s", "seed": 1, "answers": {"e": {"dW": dW.tolist()}}}), "a.json")
    graded = grader("grade", required, answers, "--format", "json")
    assert json.loads(graded.out)["result"]["score"] == 1.0


def test_a_condition_no_draw_meets_is_an_error_at_it(grader: Grader, tmp_path: Path) -> None:
    """k within 0.1 of 0.5: the sheet's own k (0.5) meets it, no whole number drawn does."""
    text = _with("{op: less, a: {op: square, x: {op: sub, a: $k, b: 0.5}}, b: 0.01}").replace(
        "      t: {value: [1.0]}\n", "      t: {value: [1.0]}\n      k: {value: 0.5, random: {dist: integers, low: 0, high: 3, shape: []}}\n"
    )
    [error] = validate_errors(grader, write(tmp_path, text))
    assert (error["line"], error["path"], error["code"]) == (str(line_of(text, "- {op: less")), "exercises[0].require[0]", "spec-require")
    assert error["message"].startswith(
        "seeds 1, 2, 3, 4, 5, 6, 7, 8: require[0]: no draw of the inputs met it in 100 tries; relax the condition"
    ), error["message"]
    assert grader("solve", write(tmp_path, text)).code == 0  # the sheet's own numbers still have a key


def test_the_sheets_own_numbers_must_meet_the_conditions(grader: Grader, tmp_path: Path) -> None:
    literal = MLP.replace("      b: {value: [0.1, 0.1], random: {dist: normal, shape: [2], mean: -1.5}}", "      b: {value: [-9.0, -9.0]}")
    literal = literal.replace(", random: {dist: normal, shape: [2]}}", "}").replace(", random: {dist: normal, shape: [2, 2]}}", "}")
    [error, *_] = validate_errors(grader, write(tmp_path, _with(ALIVE, literal)))
    assert error["code"] == "spec-require" and "require[0]: the numbers written in the sheet do not meet it" in error["message"]


def test_a_condition_that_is_no_yes_or_no_is_an_error(grader: Grader, tmp_path: Path) -> None:
    [error] = validate_errors(grader, write(tmp_path, _with("$h")))
    assert error["code"] == "spec-require" and "a condition must be a comparison" in error["message"]


def test_a_condition_naming_nothing_known_is_that_error_not_a_redraw(grader: Grader, tmp_path: Path) -> None:
    [error] = validate_errors(grader, write(tmp_path, _with("{op: greater, a: $hh, b: 0}")))
    assert error["code"] == "spec-unknown-ref" and "$hh is neither an input nor a quantity" in error["message"]
