"""Sheets read YAML scalars as YAML 1.2 does, as answer files do: ``010`` is ten (or the text an id says), ``1e-6``
a number, ``yes``/``on`` text, ``1:30`` and ``0x1F`` no numbers; tags that build anything else are refused at their
line. PyYAML's default (YAML 1.1) read ``010`` as 8, ``1:30`` as 90 and ``on`` as true, silently.

Every test runs the real command line on real files (the ``grader`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Grader, line_of, write

ZERO_PADDED = """\
id: padded
exercises:
  - id: ex
    inputs:
      x: {value: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
      n: {value: 010}
    parts:
      - {id: tenth, prompt: "x at position 010", points: 1, answer: {type: number}, expected: {op: index, x: $x, at: [010]}}
      - {id: n, prompt: "n, printed as 010", points: 1, answer: {type: number, abs_tol: 1e-6}, expected: {op: add, a: $n, b: 0}}
"""


def test_zero_padded_numbers_are_decimal_as_in_answer_files(tmp_path: Path, grader: Grader) -> None:
    sheet = write(tmp_path, ZERO_PADDED)
    solved = grader("solve", sheet, "--format", "json")
    assert solved.code == 0, solved.err
    assert json.loads(solved.out) == {"ex": {"tenth": 10, "n": 10}}  # YAML 1.1: 8 and 8
    answers = write(tmp_path, "student: s1\nanswers:\n  ex: {tenth: 010, n: 010}\n", "answers.yaml")
    graded = grader("grade", sheet, answers, "--format", "json")
    assert graded.code == 0, graded.err
    assert json.loads(graded.out)["result"]["score"] == 1.0  # the student copies the sheet's 010 and is right


@pytest.mark.parametrize("word", ["on", "yes", "no", "off", "y", "n"])
def test_yes_no_on_off_are_names_not_booleans(tmp_path: Path, grader: Grader, word: str) -> None:
    sheet = write(tmp_path, f"""\
id: words
exercises:
  - id: {word}
    inputs:
      {word}: {{value: 3}}
    parts:
      - {{id: {word}, prompt: "The input.", points: 1, answer: {{type: number}}, expected: {{op: add, a: ${word}, b: 0}}}}
      - {{id: pick, prompt: "Which?", points: 1, answer: {{type: choice, options: [{word}, maybe]}}, expected: {{op: option, at: {{op: argmax, x: [1, 0]}}}}}}
""")
    solved = grader("solve", sheet, "--format", "json")
    assert solved.code == 0, solved.err
    assert json.loads(solved.out) == {word: {word: 3, "pick": word}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1:30", "not a number: '1:30'"),
        ("0x1F", "not a number: '0x1F'"),
        ("2024-01-01", "not a number: '2024-01-01'"),
    ],
)
def test_yaml_1_1_number_forms_are_refused_at_their_line(tmp_path: Path, grader: Grader, value: str, message: str) -> None:
    text = ZERO_PADDED.replace("n: {value: 010}", f"n: {{value: {value}}}")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    [error] = run.errors
    assert error["line"] == str(line_of(text, f"n: {{value: {value}}}")) and error["path"] == "exercises[0].inputs.n.value"
    assert message in error["message"], run.err


@pytest.mark.parametrize(
    ("tagged", "shown"),
    [
        ("!!python/object/apply:os.system [echo hi]", "!!python/object/apply:os.system"),
        ("!!python/name:os.system x", "!!python/name:os.system"),
        ("!custom 3", "!custom"),
        ("!!set {a, b}", "!!set"),
        ("!!binary aGk=", "!!binary"),
        ("!!timestamp 2024-01-01", "!!timestamp"),
    ],
)
def test_tags_that_build_anything_else_are_refused_at_their_line(tmp_path: Path, grader: Grader, tagged: str, shown: str) -> None:
    text = ZERO_PADDED.replace("n: {value: 010}", f"n: {{value: {tagged}}}")
    sheet = write(tmp_path, text)
    for command in ("validate", "solve"):
        run = grader(command, sheet)
        assert run.code == 2, run.err
        [line] = [line.removeprefix("error: ") for line in run.err.splitlines() if str(sheet) in line]
        assert line.startswith(f"{sheet}:{line_of(text, tagged)} exercises[0].inputs.n.value: the tag {shown} is not supported"), line


@pytest.mark.parametrize(("tagged", "message"), [("!!int 010", None), ("!!int x", "!!int 'x' is not a decimal whole number")])
def test_explicit_int_tags_are_decimal(tmp_path: Path, grader: Grader, tagged: str, message: str | None) -> None:
    sheet = write(tmp_path, ZERO_PADDED.replace("n: {value: 010}", f"n: {{value: {tagged}}}"))
    run = grader("solve", sheet, "--format", "json")
    if message is None:
        assert run.code == 0 and json.loads(run.out)["ex"]["n"] == 10, run.err
    else:
        assert run.code == 2 and message in run.err, run.err


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("{!!python/name:os.system x: 1, value: 10}", "the tag !!python/name:os.system is not supported"),
        ("{value: 10, !!binary aGk=: 1}", "the tag !!binary is not supported"),
        ("{<<: {value: 10}}", "merge keys (<<) are not supported"),
    ],
    ids=["python-tag-on-a-key", "binary-tag-on-a-key", "merge-key"],
)
def test_tags_on_keys_and_merge_keys_are_one_located_line(tmp_path: Path, grader: Grader, mapping: str, message: str) -> None:
    text = ZERO_PADDED.replace("n: {value: 010}", f"n: {mapping}")
    sheet = write(tmp_path, text)
    run = grader("validate", sheet)
    assert run.code == 2
    [line] = [line for line in run.err.splitlines() if str(sheet) in line]
    assert line.startswith(f"{sheet}:{line_of(text, mapping)} exercises[0].inputs.n: {message}"), line
