"""Sheets a hostile review wrote that ``validate`` reported as an internal error (a grader bug) instead of one
located error, or refused although the README says they work: code case inputs that are no numbers, a property
that shifts an argument that is no image, a formula key undefined on part of its domain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import Grader, line_of, write

from .conftest import solved_key, validate_errors

CODE_SHEET = """\
id: code-inputs
exercises:
  - id: e
    inputs:
      image: {value: [[1, 2, 0], [0, 1, 3], [2, 2, 1]]}
      w: {value: [[1, 0], [0, -1]]}
    quantities:
      x: {op: reshape, x: $image, shape: [3, 3, 1]}
      f: {op: reshape, x: $w, shape: [2, 2, 1, 1]}
    parts:
      - id: c
        prompt: conv2d
        points: 1
        answer:
          type: code
          function: conv2d
          cases:
            - {name: s, inputs: {image: INPUT, filters: $f}}
        expected: {op: conv2d, x: $image, w: $filters}
"""


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ('"hello"', "case input 'image': not a number: 'hello'"),
        ("[[1, 2], [3]]", "case input 'image': rows have different lengths"),
        (".nan", "case input 'image': not a finite number: nan"),
        ("null", "case input 'image': an empty entry (~ or null)"),
        ("{a: 1}", "case input 'image' must be a number or an array of numbers, got a mapping"),
    ],
)
def test_a_code_case_input_that_is_no_number_is_one_located_error(
    tmp_path: Path, grader: Grader, given: str, fragment: str
) -> None:
    text = CODE_SHEET.replace("INPUT", given)
    [error] = validate_errors(grader, write(tmp_path, text))
    assert error["line"] == str(line_of(text, "{name: s,")), error
    assert error["path"] == "exercises[0].parts[0].answer.cases[0].inputs.image", error
    assert fragment in error["message"], error["message"]


def test_a_property_that_shifts_an_argument_that_is_no_image_is_one_located_error(tmp_path: Path, grader: Grader) -> None:
    text = CODE_SHEET.replace("INPUT", "$x").replace(
        "        expected:", "          properties:\n            - {kind: equivariance, case: s, input: filters, shift: [1, 1]}\n        expected:"
    )
    [error] = validate_errors(grader, write(tmp_path, text))
    assert error["line"] == str(line_of(text, "{kind: equivariance")), error
    assert "case 's' has no image argument 'filters' (an array (H, W) or (H, W, C) to shift)" in error["message"]


FORMULA_SHEET = """\
id: partly-defined
exercises:
  - id: e
    inputs:
      n: {value: 8}
      f: {value: 3}
    quantities:
      size: {op: formula, text: "log(n - f)", n: $n, f: $f}
    parts:
      - id: a
        prompt: log(n - f) as a formula of f
        points: 1
        answer: {type: formula, variables: {f: {low: 4, high: DOMAIN_HIGH}}}
        expected: {op: function, of: $size, variables: {f: $f}}
"""


def test_a_formula_key_undefined_on_part_of_its_domain_skips_those_points(tmp_path: Path, grader: Grader) -> None:
    """log(8 - f) for f in [4, 9]: undefined for f >= 8, where the engine's log refuses instead of giving NaN.
    Those points are skipped, as the README says: the sheet validates, its key's examples are where it is defined,
    and a right formula scores; a domain where it is nowhere defined is the author's error at the part, saying why."""
    sheet = write(tmp_path, FORMULA_SHEET.replace("DOMAIN_HIGH", "9"))
    examples = solved_key(grader, sheet)["e"]["a"]  # points where the key is defined, with its value there
    assert examples and all(np.isclose(point["value"], np.log(8 - point["at"]["f"])) for point in examples)
    assert all(point["at"]["f"] < 8 for point in examples)
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"student": "s", "answers": {"e": {"a": "log(8 - f)"}}}), encoding="utf-8")
    run = grader("grade", sheet, answers, "--format", "json")
    assert run.code == 0, run.err
    nowhere = FORMULA_SHEET.replace("DOMAIN_HIGH", "9").replace("low: 4", "low: 8.5")
    [error] = validate_errors(grader, write(tmp_path, nowhere, "nowhere.yaml"))
    assert "the reference cannot be evaluated at any of the 50 random points: formula: log(n - f)" in error["message"]
    assert "log: x must be > 0 everywhere" in error["message"]


def test_no_validation_seeds_on_a_sheet_with_random_inputs_is_warned_of(tmp_path: Path, grader: Grader) -> None:
    """``validation_seeds: []`` checks only the sheet's own numbers: fine for a sheet without random inputs, worth a
    warning (the sheet stays usable) when students get drawn variants that nothing checked."""
    random_sheet = FORMULA_SHEET.replace("DOMAIN_HIGH", "7").replace(
        "id: partly-defined\n", "id: partly-defined\nvalidation_seeds: []\n"
    ).replace("      n: {value: 8}", "      n: {value: 8, random: {dist: integers, low: 8, high: 12}}")
    run = grader("validate", write(tmp_path, random_sheet))
    assert run.code == 0, run.err
    assert "validation_seeds is empty: only the sheet's own numbers were checked" in run.err
    assert "[spec-no-variants]" in run.err and f":{line_of(random_sheet, 'validation_seeds')} " in run.err
    fixed = random_sheet.replace(", random: {dist: integers, low: 8, high: 12}", "")
    run = grader("validate", write(tmp_path, fixed, "fixed.yaml"))
    assert run.code == 0 and "spec-no-variants" not in run.err, run.err
