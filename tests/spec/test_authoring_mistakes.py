"""An instructor's slips while writing a sheet: each one is a clear ``file:line field: message [code]`` from every
command (exit 2), never an internal error, and the sheet's other files and parts are still reported.

Every test writes real YAML in a temporary folder and runs the real command line (``grader.cli.main``, so the
exit codes are the ones a user sees).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.spec import load_sheet
from grader.validate import validate_sheet

from .conftest import Run, line_of, write

ROOT = Path(__file__).resolve().parents[2]


def graded_json(run: Run) -> dict:  # type: ignore[type-arg]
    """The result of ``grade --format json`` (one submission)."""
    assert run.code == 0, run.err
    return json.loads(run.out)["result"]


def the_error(run: Run, path: Path, code: str) -> re.Match[str]:
    found = [m for m in run.errors if m["code"] == code]
    assert found, run.err
    assert found[0]["file"] == str(path)
    return found[0]


# ---- 1. literal input values --------------------------------------------------------------------------------
VALUE_SHEET = """\
id: s
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      w: {value: [[1, 0], [0, 1]]}
      x: {value: VALUE}
    quantities:
      y: {op: sum, x: $x}
    parts:
      - {id: a, prompt: The sum., points: 1, answer: {type: number}, expected: $y}
"""

BAD_VALUES = [
    ("[[1, 2], [3]]", "rows have different lengths (row 2 has 1 entry, row 1 has 2)"),
    ("[1, 2, three]", "not a number: 'three' (at value[2])"),
    ("{a: 1}", "expected a number or a (nested) list of numbers, got a mapping"),
    ("$w", "a literal value cannot refer to $w"),
    ("[[1, 2], [3, [4, 5]]]", "rows are of different kinds in value[1] (row 2 is a list of 2 entries, row 1 is a number)"),
    ("[1, true]", "not a number: true (at value[1])"),
]


@pytest.mark.parametrize(("value", "message"), BAD_VALUES)
def test_a_bad_literal_value_is_named_by_validate(tmp_path: Path, grader, value: str, message: str) -> None:  # noqa: ANN001
    text = VALUE_SHEET.replace("VALUE", value)
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 2
    error = the_error(run, path, "spec-invalid")
    assert int(error["line"]) == line_of(text, "x: {value:")
    assert error["path"] == "exercises[0].inputs.x.value"
    assert message in error["message"], error.string
    assert len(run.errors) == 1, run.err


@pytest.mark.parametrize("command", ["solve", "sheet", "template", "data"])
def test_every_command_names_a_ragged_value_and_exits_2(tmp_path: Path, grader, command: str) -> None:  # noqa: ANN001
    path = write(tmp_path, VALUE_SHEET.replace("VALUE", "[[1, 2], [3]]"))
    run = grader(command, path)
    assert run.code == 2
    assert "exercises[0].inputs.x.value: rows have different lengths (row 2 has 1 entry, row 1 has 2)" in run.err


def test_validate_of_a_folder_reports_every_sheet_when_one_is_ragged(tmp_path: Path, grader) -> None:  # noqa: ANN001
    ok = write(tmp_path, VALUE_SHEET.replace("VALUE", "[1, 2]"), "a_ok.yaml")
    typo = write(tmp_path, VALUE_SHEET.replace("VALUE", "[1, 2]").replace("op: sum", "op: summ"), "b_typo.yaml")
    ragged = write(tmp_path, VALUE_SHEET.replace("VALUE", "[[1, 2], [3]]"), "c_ragged.yaml")
    run = grader("validate", tmp_path)
    assert run.code == 2
    assert f"{ok}: ok" in run.out
    assert {m["file"] for m in run.errors} == {str(typo), str(ragged)}
    assert run.err.strip().splitlines()[-1] == "2 of 3 sheet(s) have errors"


# ---- 2. formula and graph domains ---------------------------------------------------------------------------
FORMULA_SHEET = """\
id: s
exercises:
  - id: e
    inputs:
      n: {value: 5}
      f: {value: 3}
    quantities:
      o: {op: conv_output_size, n: $n, f: $f}
    parts:
      - id: a
        prompt: The output size as a formula.
        points: 2
        visibility: hidden
        answer:
          type: formula
          variables:
            n: {low: 3, high: 30, integer: true}
        expected: {op: function, of: $o, variables: {n: $n, f: $f}}
"""


def test_a_formula_variable_without_a_domain_is_named_by_validate(tmp_path: Path, grader) -> None:  # noqa: ANN001
    path = write(tmp_path, FORMULA_SHEET)
    run = grader("validate", path)
    assert run.code == 2
    error = the_error(run, path, "spec-domain")
    assert error["path"] == "exercises[0].parts[0].answer.variables"
    assert int(error["line"]) == line_of(FORMULA_SHEET, "variables:")
    assert "answer.variables has no domain for f" in error["message"]
    assert len(run.errors) == 1, run.err


@pytest.mark.parametrize("command", ["solve", "grade"])
def test_grade_and_solve_give_the_same_domain_error(tmp_path: Path, grader, command: str) -> None:  # noqa: ANN001
    """The part is hidden: before, grade scored the right formula 'invalid' 0/2 without a word."""
    path = write(tmp_path, FORMULA_SHEET)
    answers = write(tmp_path, "student: s\nanswers:\n  e:\n    a: n - f + 1\n", "answers.yaml")
    run = grader(command, path, answers) if command == "grade" else grader(command, path)
    assert run.code == 2
    assert "exercises[0].parts[0].answer.variables: answer.variables has no domain for f" in run.err + run.out


def test_a_graph_input_without_a_domain_is_named(tmp_path: Path, grader) -> None:  # noqa: ANN001
    text = """\
id: s
exercises:
  - id: e
    inputs:
      x: {value: 1.5}
      t: {value: 1}
    quantities:
      g: {op: graph, nodes: {z: t*x, L: z*z}, inputs: {x: $x, t: $t}}
    parts:
      - id: graph
        prompt: The graph of L.
        points: 2
        answer:
          type: graph
          inputs:
            x: {low: -2, high: 2}
          allowed: [mul]
        expected: {op: function, of: {op: graph_output, graph: $g}, variables: {x: $x, t: $t}}
"""
    path = write(tmp_path, text)
    run = grader("validate", path)
    error = the_error(run, path, "spec-domain")
    assert error["path"] == "exercises[0].parts[0].answer.inputs"
    assert "answer.inputs has no domain for t" in error["message"]
    fixed = write(tmp_path, text.replace("variables: {x: $x, t: $t}", "variables: {x: $x}"), "fixed.yaml")
    assert grader("validate", fixed).code == 0


# ---- 3. choice parts ----------------------------------------------------------------------------------------
def readme_choice_sheet() -> str:
    """The README's choice example, as printed there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    return next(block for block in blocks if "type: choice" in block)


def test_the_readme_choice_sheet_is_authored_and_graded_end_to_end(tmp_path: Path, grader) -> None:  # noqa: ANN001
    sheet = write(tmp_path, readme_choice_sheet(), "winner.yaml")
    assert grader("validate", sheet).code == 0
    key = json.loads(grader("solve", sheet, "--format", "json").out)
    assert key == {"dense": {"winner": "y3", "positive": False}}  # y = h v = [-1.5, -2, 3]
    template = grader("template", sheet).out
    assert "one of 'y1', 'y2', 'y3'" in template
    right = write(tmp_path, "student: s\nanswers:\n  dense:\n    winner: Y3\n    positive: no\n", "right.yaml")
    graded = graded_json(grader("grade", sheet, right, "--format", "json"))
    assert graded["points_earned"] == graded["points_possible"] == 2
    wrong = write(tmp_path, "student: s\nanswers:\n  dense:\n    winner: y2\n    positive: yes\n", "wrong.yaml")
    graded = graded_json(grader("grade", sheet, wrong, "--format", "json"))
    assert graded["points_earned"] == 0
    winner = next(p for p in graded["parts"] if p["part_id"] == "winner")
    assert winner["mistake"] == "smallest" and winner["expected"] == "y3"


def test_every_seed_of_the_choice_key_is_the_option_of_the_engines_argmax(tmp_path: Path, grader) -> None:  # noqa: ANN001
    sheet = write(tmp_path, readme_choice_sheet(), "winner.yaml")
    for seed in range(1, 6):
        data = json.loads(grader("data", sheet, "--seed", str(seed)).out)["inputs"]["dense"]
        import numpy as np

        y = np.asarray(data["h"]) @ np.asarray(data["v"])
        key = json.loads(grader("solve", sheet, "--seed", str(seed), "--format", "json").out)["dense"]
        assert key["winner"] == f"y{int(np.argmax(y)) + 1}"
        assert key["positive"] is bool(y[0] > 0)


CHOICE_SHEET = """\
id: s
exercises:
  - id: c
    inputs:
      k: {value: 2}
      scores: {value: [0.5, 2.5, 1.0]}
      tied: {value: [3, 1, 3]}
    parts:
      - id: q
        prompt: Which option?
        points: 1
        answer: {type: choice, options: ["1", "2", "3"]}
        expected: EXPECTED
"""


@pytest.mark.parametrize(
    ("expected", "code", "message"),
    [
        ('"2"', "spec-invalid", "'2' is typed by hand"),
        ("$k", "spec-answer-type", "expected is a plain number (2), not an option"),
        ("{op: option, at: 1}", "spec-op-failed", "'at' is written in the sheet (1): that types the key by hand"),
        ("{op: option, at: {op: add, a: $k, b: 3}}", "spec-answer-type", "picks the option at position 5, but there are only 3"),
        ("{op: option, at: {op: argmax, x: $tied}}", "spec-op-failed", "entries 0, 2 tie for the largest value"),
        ("{op: option, at: {op: sub, a: 1, b: $k}}", "spec-op-failed", "'at' must be a 0-based position"),
        ("{op: option, at: {op: argmax, x: $k}}", "spec-op-failed", "x has 1 entry: there is nothing to choose from"),
        (
            "{op: option, at: {op: greater, a: {op: add, a: 0.1, b: 0.2}, b: 0.3}}", "spec-op-failed",
            "a and b are equal up to rounding (0.30000000000000004 and 0.29999999999999999)",
        ),
    ],
)
def test_choice_misuse_is_a_spec_error(tmp_path: Path, grader, expected: str, code: str, message: str) -> None:  # noqa: ANN001
    text = CHOICE_SHEET.replace("EXPECTED", expected)
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 2
    error = the_error(run, path, code)
    assert error["path"].startswith("exercises[0].parts[0].expected"), error.string
    assert message in error["message"], error.string


def test_a_choice_key_by_argmax_picks_that_option(tmp_path: Path, grader) -> None:  # noqa: ANN001
    path = write(tmp_path, CHOICE_SHEET.replace("EXPECTED", "{op: option, at: {op: argmax, x: $scores}}"))
    assert grader("validate", path).code == 0
    assert json.loads(grader("solve", path, "--format", "json").out) == {"c": {"q": "2"}}


# ---- 4. report.pool_winners on a key that is not (H, W, C) ---------------------------------------------------
POOL_SHEET = """\
id: s
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      a: {value: [[1, 2], [3, 4], [5, 6], [7, 8]], random: {shape: [4, 2]}}
    quantities:
      b: {op: mul, a: $a, b: 2}
    parts:
      - id: p
        prompt: Twice a.
        points: 1
        report: {pool_winners: {size: 2}}
        answer: {type: array, abs_tol: 0}
        expected: $b
"""


@pytest.mark.parametrize("command", ["validate", "grade"])
def test_pool_winners_on_a_2d_key_is_refused_before_grading(tmp_path: Path, grader, command: str) -> None:  # noqa: ANN001
    path = write(tmp_path, POOL_SHEET)
    answers = write(tmp_path, "student: s\nanswers:\n  e:\n    p: [[1, 2], [3, 4], [5, 6], [7, 8]]\n", "answers.yaml")
    run = grader("validate", path) if command == "validate" else grader("grade", path, answers)
    assert run.code == 2
    text = run.err + run.out
    assert f"{path}:{line_of(POOL_SHEET, 'report:')} exercises[0].parts[0].report: report.pool_winners: max_pool2d_winners" in text
    assert "[spec-report]" in text
    if command == "validate":
        assert len(run.errors) == 1, run.err  # once, not once per seed


# ---- 5. sets and schedules of a graph speak of its named nodes ----------------------------------------------
COMPOUND_SHEET = """\
id: compound
exercises:
  - id: g
    inputs:
      x: {value: 2}
      w: {value: 3}
      b: {value: 1}
    quantities:
      g: {op: graph, nodes: {z: w*x + b, L: z*z}, inputs: {x: $x, w: $w, b: $b}}
    parts:
      - {id: ch, prompt: "All nodes that depend on w.", points: 1, answer: {type: set}, expected: {op: children_of, graph: $g, node: w}}
      - {id: dch, prompt: "Direct children of w.", points: 1, answer: {type: set}, expected: {op: direct_children, graph: $g, node: w}}
      - {id: sch, prompt: "Reverse schedule for w.", points: 1, answer: {type: schedule}, expected: {op: schedule, graph: $g, wrt: [w]}}
      - {id: all, prompt: "A reverse schedule of the graph.", points: 1, answer: {type: schedule}, expected: {op: schedule, graph: $g}}
"""


def test_graph_keys_hold_only_named_nodes_and_natural_answers_score_full(tmp_path: Path, grader) -> None:  # noqa: ANN001
    sheet = write(tmp_path, COMPOUND_SHEET)
    assert grader("validate", sheet).code == 0
    key = json.loads(grader("solve", sheet, "--format", "json").out)["g"]
    assert sorted(key["ch"]) == ["L", "z"] and key["dch"] == ["z"] and key["sch"] == ["L", "z", "w"]
    assert not any("*" in name for names in key.values() for name in names)
    answers = write(tmp_path, "student: s\nanswers:\n  g:\n    ch: z, L\n    dch: z\n    sch: L, z, w\n    all: L, z, b, w, x\n", "a.yaml")
    graded = graded_json(grader("grade", sheet, answers, "--format", "json"))
    assert graded["points_earned"] == 4, graded
    wrong = write(tmp_path, "student: s\nanswers:\n  g:\n    ch: z\n    dch: z, L\n    sch: z, L, w\n    all: L, w, z, b, x\n", "w.yaml")
    graded = graded_json(grader("grade", sheet, wrong, "--format", "json"))
    by_id = {p["part_id"]: p for p in graded["parts"]}
    assert by_id["sch"]["points_earned"] == 0 and "z comes before its child L" in by_id["sch"]["feedback"]
    assert by_id["all"]["points_earned"] == 0
    assert by_id["ch"]["points_earned"] < 1 and by_id["dch"]["points_earned"] < 1


def test_a_named_sub_expression_is_a_node_of_the_keys(tmp_path: Path, grader) -> None:  # noqa: ANN001
    sheet = write(tmp_path, COMPOUND_SHEET.replace("nodes: {z: w*x + b, L: z*z}", "nodes: {u: w*x, z: u + b, L: z*z}"))
    key = json.loads(grader("solve", sheet, "--format", "json").out)["g"]
    assert sorted(key["ch"]) == ["L", "u", "z"] and key["dch"] == ["u"] and key["sch"] == ["L", "z", "u", "w"]


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "exercises").glob("*.yaml")))
def test_the_course_sheets_still_validate(name: str) -> None:
    validation = validate_sheet(ROOT / "exercises" / name)
    assert validation == [] and validation.warnings == []


# ---- 6. boolean keys ----------------------------------------------------------------------------------------
BOOLEAN_SHEET = """\
id: s
validation_seeds: [1, 2]
exercises:
  - id: e
    inputs:
      dz: {value: [-0.0105, 0.3], random: {dist: normal, shape: [2]}}
      mask: {value: [1, 0]}
    parts:
      - id: any_positive
        prompt: Is dL/dz_0 positive?
        points: 1
        answer: {type: boolean}
        expected: EXPECTED
"""


def test_a_number_is_not_a_boolean_key(tmp_path: Path, grader) -> None:  # noqa: ANN001
    text = BOOLEAN_SHEET.replace("EXPECTED", "{op: index, x: $dz, at: [0]}")
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 2
    error = the_error(run, path, "spec-answer-type")
    assert error["path"] == "exercises[0].parts[0].expected"
    assert "expected is -0.0105, not a yes/no value" in error["message"]
    assert "{op: greater" in error["message"]
    assert len(run.errors) == 1, run.err  # once for all variants, not once per seed


@pytest.mark.parametrize(
    ("expected", "key"),
    [
        ("{op: greater, a: {op: index, x: $dz, at: [0]}, b: 0}", False),
        ("{op: less, a: {op: index, x: $dz, at: [0]}, b: 0}", True),
        ("{op: index, x: $mask, at: [0]}", True),
    ],
)
def test_comparisons_and_exact_0_or_1_are_boolean_keys(tmp_path: Path, grader, expected: str, key: bool) -> None:  # noqa: ANN001
    path = write(tmp_path, BOOLEAN_SHEET.replace("EXPECTED", expected))
    assert grader("validate", path).code == 0
    assert json.loads(grader("solve", path, "--format", "json").out) == {"e": {"any_positive": key}}


def test_grader_ops_lists_the_comparison_and_choice_ops(grader) -> None:  # noqa: ANN001
    listed = grader("ops").out
    for name in ("greater(a", "less(a", "argmax(x", "argmin(x", "option(at"):
        assert name in listed


# ---- 7. messages that say what to do ------------------------------------------------------------------------
def test_a_code_case_argument_missing_from_random_cases_is_named(tmp_path: Path, grader) -> None:  # noqa: ANN001
    text = """\
id: e
exercises:
  - id: ex
    inputs:
      x: {value: [[1, 2], [3, 4]]}
    parts:
      - id: c
        prompt: Scale x by k.
        points: 1
        answer:
          type: code
          function: scale
          cases:
            - {name: one, inputs: {x: $x, k: 2}}
          random_cases:
            count: 2
            dims: {n: {low: 1, high: 3}}
            args:
              x: {shape: [n, n]}
        expected: {op: mul, a: $x, b: $k}
"""
    path = write(tmp_path, text)
    run = grader("validate", path)
    error = the_error(run, path, "spec-random-cases")
    assert error["path"] == "exercises[0].parts[0].answer.random_cases.args"
    assert "random_cases.args has no 'k', which case 'one' passes to scale" in error["message"]
    assert "narrow" not in error["message"]


def test_a_quantity_as_a_formula_variable_is_named_once_in_words(tmp_path: Path, grader) -> None:  # noqa: ANN001
    text = FORMULA_SHEET.replace("variables: {n: $n, f: $f}", "variables: {n: $m, f: $f}").replace(
        "      o: {op", "      m: {op: add, a: $n, b: 0}\n      o: {op"
    )
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert len(run.errors) == 1, run.err
    message = the_error(run, path, "spec-op-failed")["message"]
    assert "variables.n must be a $reference to an input" in message and "$m is a quantity (computed by add)" in message
    assert "Tensor(" not in run.err


def test_a_sheet_that_is_not_utf8_names_line_column_and_byte(tmp_path: Path, grader) -> None:  # noqa: ANN001
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALUE_SHEET.replace("VALUE", "[1, 2]").replace("The sum.", "Caf\xe9 sum.").encode("latin-1"))
    run = grader("validate", path)
    assert run.code == 2
    line = line_of(VALUE_SHEET, "The sum.")
    column = VALUE_SHEET.splitlines()[line - 1].index("The sum.") + len("Caf") + 1
    assert f"{path}:{line}: exercise sheet: not UTF-8 text: column {column} has the byte 0xE9 (233)" in run.err


def test_an_op_failing_in_some_seeds_names_them_and_its_name_once(tmp_path: Path, grader) -> None:  # noqa: ANN001
    text = """\
id: s
validation_seeds: [1, 2]
exercises:
  - id: size
    inputs:
      L: {value: 20, random: {low: 21, high: 21}}
    quantities:
      out: {op: conv_output_size, n: $L, f: 4, stride: 2}
    parts:
      - {id: out, prompt: The output length., points: 1, answer: {type: integer}, expected: $out}
"""
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert len(run.errors) == 1, run.err
    message = the_error(run, path, "spec-op-failed")["message"]
    assert message.startswith("seeds 1, 2: conv_output_size: (n + 2p - f)/s + 1 = (21 + 2*0 - 4)/2 + 1 = 9.5 is not a whole number")
    assert "conv_output_size: conv_output_size" not in run.err
    solved = grader("solve", path, "--seed", "2")
    assert solved.code == 2 and "exercises[0].quantities.out: seed 2: conv_output_size: (n" in solved.err
    assert grader("solve", path).code == 0  # the sheet's own numbers are fine


@pytest.mark.parametrize(
    ("expected", "hint"),
    [
        ("y", "'y' is not a reference: write $y to refer to the input or quantity y"),
        ("3", "expected a $reference or an {op: ...} call, got 3"),
        ("{x: $x}", "an {op: ...} call needs 'op'"),
    ],
)
def test_an_expected_that_is_not_an_expression_gets_one_hint(tmp_path: Path, grader, expected: str, hint: str) -> None:  # noqa: ANN001
    text = VALUE_SHEET.replace("VALUE", "[1, 2]").replace("expected: $y}", f"expected: {expected}}}")
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert len(run.errors) == 1, run.err
    error = the_error(run, path, "spec-invalid")
    assert error["path"] == "exercises[0].parts[0].expected"
    assert hint in error["message"]
    assert "constrained-str" not in run.err and "instance of Call" not in run.err


def test_a_mistake_expected_without_dollar_gets_the_hint_too(tmp_path: Path) -> None:
    text = VALUE_SHEET.replace("VALUE", "[1, 2]").replace(
        "expected: $y}", "expected: $y, mistakes: [{id: m, expected: w, feedback: no}]}"
    )
    path = write(tmp_path, text)
    with pytest.raises(Exception) as raised:
        load_sheet(path)
    assert "exercises[0].parts[0].mistakes[0].expected: 'w' is not a reference: write $w" in str(raised.value)


ZERO_TOLERANCE = """\
id: zero
validation_seeds: [1, 2]
exercises:
  - id: dense
    inputs:
      h: {value: [0.3, -1.2, 0.7], random: {dist: normal, shape: [3]}}
      v: {value: [[0.5], [0.25], [-1.5]], random: {dist: normal, shape: [3, 1]}}
    quantities:
      y: {op: dense, h: $h, v: $v}
    parts:
      - id: y
        prompt: y.
        points: 1
        answer: {type: array, abs_tol: 0, rel_tol: 0}
        expected: $y
"""


def test_zero_tolerances_on_a_floating_point_key_are_refused(grader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A right answer computed in another order differs in the last bits: 0/0 tolerances fail it at random."""
    run = grader("validate", write(tmp_path, ZERO_TOLERANCE))
    assert run.code == 2
    [error] = run.errors
    assert error["code"] == "spec-zero-tolerance" and error["path"].endswith("parts[0].answer")
    assert "give a tolerance such as rel_tol: 1e-9" in error["message"]
    whole = (
        ZERO_TOLERANCE.replace("[0.3, -1.2, 0.7], random: {dist: normal,", "[3, -1, 2], random: {dist: integers, low: -4, high: 4,")
        .replace("[[0.5], [0.25], [-1.5]], random: {dist: normal,", "[[1], [2], [-1]], random: {dist: integers, low: -4, high: 4,")
    )
    assert grader("validate", write(tmp_path, whole, "whole.yaml")).code == 0  # whole numbers are exact in float64
