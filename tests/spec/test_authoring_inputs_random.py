"""An author's slips in inputs and random draws: each is one located ``file:line field: message [code]`` from every
command (exit 2), never an internal error and never a silent empty, rounded or all-zero input.

Covers: random-case shapes that are not whole numbers >= 1 (they used to be clamped to empty arrays), a literal
value whose shape differs from its random draw's, a zero border that blanks or misses the input, random settings
no draw can use (NaN, inf, empty or too wide ranges), and the small ones: NaN points, a negative validation seed,
an empty value, a null entry, an integer beyond 2**53 and the folder without sheets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Grader, line_of, one_error, write

# ---- 1. random-case shapes of code parts --------------------------------------------------------------------
CODE_SHEET = """\
id: code
exercises:
  - id: ex
    inputs:
      x: {value: [[1, -2], [3, 4]]}
    parts:
      - id: c
        prompt: Write f(x) returning relu(x).
        points: 1
        answer:
          type: code
          function: f
          cases:
            - {name: one, inputs: {x: $x}}
          random_cases:
            count: 5
            dims: DIMS
            args:
              x: ARG
        expected: {op: relu, x: $x}
"""

WRONG_RELU = "def f(x):\n    return x\n"
"""Wrong on every case with a negative entry; it passes only cases that test nothing (an empty array)."""


def code_sheet(dims: str = "{n: {low: 1, high: 3}}", arg: str = "{shape: [n, n], dist: normal}") -> str:
    return CODE_SHEET.replace("DIMS", dims).replace("ARG", arg)


@pytest.mark.parametrize(
    ("dims", "shape", "message"),
    [
        ("{n: {low: 1, high: 3}}", '[n, "n - 4"]', "the shape of 'x': 'n - 4' is -"),
        ("{n: {low: 3, high: 3}}", '[n, "n/2"]', "the shape of 'x': 'n/2' is 1.5 in random case 1 (n = 3)"),
    ],
)
def test_a_random_size_below_1_or_not_whole_is_refused(tmp_path: Path, grader: Grader, dims: str, shape: str, message: str) -> None:
    text = code_sheet(dims, f"{{shape: {shape}, dist: normal}}")
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"] == "exercises[0].parts[0].answer.random_cases.args.x.shape[1]"
    assert int(error["line"]) == line_of(text, "x: {shape:")
    assert message in error["message"] and "every size must be a whole number >= 1" in error["message"]


def test_grading_never_tests_an_empty_array(tmp_path: Path, grader: Grader) -> None:
    """The red team's sheet: hidden cases of shape (n, n - 4) were all empty, so a wrong relu scored 1/1."""
    path = write(tmp_path, code_sheet(arg='{shape: [n, "n - 4"], dist: normal}'))
    submission = write(tmp_path, WRONG_RELU, "wrong.py")
    run = grader("grade", path, submission)
    assert run.code == 2
    assert "exercises[0].parts[0].answer.random_cases.args.x.shape[1]" in run.err
    assert "Total: 1/1" not in run.out


@pytest.mark.parametrize(
    ("dims", "shape", "message"),
    [
        ("{n: {low: 0, high: 3}}", "[n, 2]", "uses dim 'n' as a size, but its range 0..3 reaches below 1"),
        ("{n: {low: 1, high: 3}}", "[n, 0]", "has the size 0"),
    ],
)
def test_a_size_that_can_be_0_is_refused_whatever_is_drawn(tmp_path: Path, grader: Grader, dims: str, shape: str, message: str) -> None:
    text = code_sheet(dims, f"{{shape: {shape}, dist: normal}}")
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"].startswith("exercises[0].parts[0].answer.random_cases.args.x.shape[")
    assert message in error["message"]


def test_a_dim_that_can_be_0_inside_a_size_of_at_least_1_is_fine(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, code_sheet("{n: {low: 1, high: 3}, p: {low: 0, high: 2}}", '{shape: [n, "n + p"], dist: normal}'))
    assert grader("validate", path).code == 0


# ---- 2. a literal value against its random draw; zero borders ------------------------------------------------
INPUT_SHEET = """\
id: s
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      x: INPUT
    parts:
      - {id: a, prompt: The sum., points: 1, answer: {type: number}, expected: {op: sum, x: $x}}
"""


@pytest.mark.parametrize(
    ("spec", "path_suffix", "code", "message"),
    [
        ("{value: [1, 2, 3, 4], random: {low: -3, high: 3, shape: [3]}}", "", "spec-invalid", "value has shape [4] but random.shape is [3]"),
        ("{value: 5, random: {low: 0, high: 3, shape: [1]}}", "", "spec-invalid", "value is a single number but random.shape is [1]"),
        ("{value: [5], random: {low: 0, high: 3}}", "", "spec-invalid", "value has shape [1] but random has no shape"),
        ("{value: [[1, 2], [3, 4]], random: {low: 0, high: 3, shape: [2, 2], zero_border: 2}}", ".random.zero_border", "spec-range", "zero_border 2 on shape [2, 2] sets every entry to 0"),
        ("{random: {low: 1, high: 3, shape: [3, 3], zero_border: 2}}", ".random.zero_border", "spec-range", "use zero_border: 1 or less"),
        ("{value: [1, 2, 3], random: {low: 0, high: 3, shape: [3], zero_border: 1}}", ".random.zero_border", "spec-invalid", "but shape [3] has one axis"),
    ],
)
def test_an_input_whose_draw_does_not_fit_is_refused(tmp_path: Path, grader: Grader, spec: str, path_suffix: str, code: str, message: str) -> None:
    text = INPUT_SHEET.replace("INPUT", spec)
    path = write(tmp_path, text)
    for command in ("validate", "data"):
        error = one_error(grader(command, path, *(["--seed", "1"] if command == "data" else [])), path, code)
        assert error["path"] == f"exercises[0].inputs.x{path_suffix}"
        assert int(error["line"]) == line_of(text, "x: {")
        assert message in error["message"], error.string


def test_a_fitting_value_and_draw_and_a_small_zero_border_are_fine(tmp_path: Path, grader: Grader) -> None:
    text = INPUT_SHEET.replace("INPUT", "{value: [[1, 2, 3], [4, 5, 6], [7, 8, 9]], random: {low: 1, high: 3, shape: [3, 3], zero_border: 1}}")
    path = write(tmp_path, text)
    assert grader("validate", path).code == 0


# ---- 3. random settings no draw can use ---------------------------------------------------------------------
BAD_RANDOM = [
    ("{dist: integers, low: 0.5, high: 0.7}", "high", "spec-range", "there is no whole number from low (0.5) to high (0.7)"),
    ("{dist: uniform, low: 0, high: .inf}", "high", "spec-invalid", "must be a finite number, not inf"),
    ("{dist: uniform, low: -1.0e308, high: 1.0e308}", "high", "spec-range", "wider than a float64 number can hold"),
    ("{dist: uniform, low: 2, high: 2}", "high", "spec-range", "high (2) must be > low (2)"),
    ("{dist: integers, low: 0, high: 1.0e30}", "high", "spec-range", "must lie within +-2**53"),
    ("{dist: integers, low: 3, high: 1}", "high", "spec-range", "high (1) must be >= low (3)"),
    ("{dist: normal, std: .inf}", "std", "spec-invalid", "must be a finite number, not inf"),
    ("{dist: normal, std: .nan}", "std", "spec-invalid", "must be a finite number, not nan"),
    ("{dist: normal, mean: .nan}", "mean", "spec-invalid", "must be a finite number, not nan"),
    ("{dist: uniform, low: 0, high: inf}", "high", "spec-invalid", "must be a finite number, not inf"),  # text in YAML 1.2
    ("{dist: uniform, low: nan, high: 1}", "low", "spec-invalid", "must be a finite number, not nan"),
    ("{dist: normal, std: Infinity}", "std", "spec-invalid", "must be a finite number, not inf"),
    ("{dist: normal, mean: 1.0e300, std: 1.0e307}", "std", "spec-range", "the draws would overflow float64"),
]


@pytest.mark.parametrize(("random", "field", "code", "message"), BAD_RANDOM)
def test_a_random_setting_no_draw_can_use_is_located(tmp_path: Path, grader: Grader, random: str, field: str, code: str, message: str) -> None:
    text = INPUT_SHEET.replace("INPUT", f"{{random: {random}}}")
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, code)
    assert error["path"] == f"exercises[0].inputs.x.random.{field}"
    assert int(error["line"]) == line_of(text, "x: {")
    assert message in error["message"], error.string


@pytest.mark.parametrize("command", ["solve", "sheet", "data", "template", "grade", "check"])
def test_every_command_names_a_random_setting_instead_of_an_internal_error(tmp_path: Path, grader: Grader, command: str) -> None:
    path = write(tmp_path, INPUT_SHEET.replace("INPUT", "{random: {dist: integers, low: 0.5, high: 0.7}}"))
    answers = write(tmp_path, "student: s\nanswers:\n  e:\n    a: 1\n", "answers.yaml")
    run = grader(command, path, answers) if command in ("grade", "check") else grader(command, path)
    assert run.code == 2
    assert "exercises[0].inputs.x.random.high: there is no whole number from low (0.5) to high (0.7)" in run.err


def test_whole_number_ranges_of_one_value_and_fractional_ends_are_fine(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, INPUT_SHEET.replace("INPUT", "{random: {dist: integers, low: 2.5, high: 3.5, shape: [2]}}"))
    assert grader("validate", path).code == 0
    assert '"x": [3.0, 3.0]' in grader("data", path, "--seed", "4").out


BAD_CODE_RANDOM = [
    ("{shape: [n, n], dist: integers, low: 0.2, high: 0.8}", "high", "spec-range", "there is no whole number from low (0.2) to high (0.8)"),
    ("{shape: [n, n], dist: uniform, low: 0, high: .inf}", "high", "spec-invalid", "high must be a finite number, not inf"),
    ("{shape: [n, n], dist: normal, mean: .nan}", "mean", "spec-invalid", "mean must be a finite number, not nan"),
    ("{shape: [n, n], dist: uniform, low: -1.0e308, high: 1.0e308}", "high", "spec-range", "wider than a float64 number"),
    ("{shape: [n, n], dist: integers, low: 0, high: 1.0e30}", "high", "spec-range", "must lie within +-2**53"),
]


@pytest.mark.parametrize(("arg", "field", "code", "message"), BAD_CODE_RANDOM)
def test_a_code_random_setting_no_draw_can_use_is_located(tmp_path: Path, grader: Grader, arg: str, field: str, code: str, message: str) -> None:
    text = code_sheet(arg=arg)
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, code)
    assert error["path"] == f"exercises[0].parts[0].answer.random_cases.args.x.{field}"
    assert int(error["line"]) == line_of(text, "x: {shape:")
    assert message in error["message"], error.string


def test_a_dim_beyond_2_53_is_located(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, code_sheet(dims="{n: {low: 1, high: 3}, m: {low: 0, high: 100000000000000000000}}"))
    error = one_error(grader("validate", path), path, "spec-range")
    assert error["path"] == "exercises[0].parts[0].answer.random_cases.dims.m"
    assert "dim 'm' must stay within +-2**53" in error["message"]


# ---- 6. small ones ------------------------------------------------------------------------------------------
POINTS_SHEET = """\
id: s
validation_seeds: SEEDS
exercises:
  - id: e
    inputs:
      x: VALUE
    parts:
      - {id: a, prompt: The sum., points: POINTS, answer: {type: number}, expected: {op: sum, x: $x}}
"""


def small_sheet(seeds: str = "[1]", value: str = "{value: [1, 2]}", points: str = "1") -> str:
    return POINTS_SHEET.replace("SEEDS", seeds).replace("VALUE", value).replace("POINTS", points)


@pytest.mark.parametrize(
    ("seeds", "value", "points", "path_", "code", "message"),
    [
        ("[1]", "{value: [1, 2]}", ".nan", "exercises[0].parts[0].points", "spec-invalid", "must be a number, not NaN"),
        ("[-1]", "{value: [1, 2]}", "1", "validation_seeds", "spec-range", f"a seed is a whole number from 0 to {2**63 - 1} (as --seed and answer files take), got -1"),
        (f"[{2**63}]", "{value: [1, 2]}", "1", "validation_seeds", "spec-range", f"got {2**63}"),
        ("[true]", "{value: [1, 2]}", "1", "validation_seeds[0]", "spec-invalid", "true is yes/no, not a number"),
        ("[1]", "{value: []}", "1", "exercises[0].inputs.x.value", "spec-invalid", "an empty list: an input needs at least one number"),
        ("[1]", "{value: [[1], []]}", "1", "exercises[0].inputs.x.value", "spec-invalid", "an empty list at value[1]"),
        ("[1]", "{value: [1, ~, 3]}", "1", "exercises[0].inputs.x.value", "spec-invalid", "an empty entry (~ or null) (at value[1])"),
        ("[1]", "{value: [1, 9007199254740993]}", "1", "exercises[0].inputs.x.value", "spec-invalid", "9007199254740993 cannot be held exactly"),
        ("[1]", "{value: -9007199254740993}", "1", "exercises[0].inputs.x.value", "spec-invalid", "-9007199254740993 cannot be held exactly"),
        ("[1]", "{value: ['9007199254740993']}", "1", "exercises[0].inputs.x.value", "spec-invalid", "'9007199254740993' cannot be held exactly"),
    ],
)
def test_small_slips_are_named(tmp_path: Path, grader: Grader, seeds: str, value: str, points: str, path_: str, code: str, message: str) -> None:
    text = small_sheet(seeds, value, points)
    path = write(tmp_path, text)
    error = one_error(grader("validate", path), path, code)
    assert error["path"] == path_
    assert message in error["message"], error.string


def test_integers_up_to_2_53_are_held_exactly(tmp_path: Path, grader: Grader) -> None:
    path = write(tmp_path, small_sheet(value="{value: [9007199254740992, -9007199254740992, 1]}"))
    assert grader("validate", path).code == 0


def test_no_sheets_found_names_the_folder(tmp_path: Path, grader: Grader) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = grader("validate", empty)
    assert run.code == 2
    assert f"no exercise sheets found in {empty} (expected .yaml/.yml files)" in run.err
