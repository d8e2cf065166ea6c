"""Sheet errors that once named no place, or the wrong one (the whole list, the file): each now names the file,
the line and the field the author must fix, with a message saying what was expected.

Every test writes real YAML in a temporary folder and runs ``grader validate`` (``grader.cli.main``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Grader, line_of, validate_errors, write

SHEET = """\
id: s
validation_seeds: [1]
exercises:
  - id: e
    inputs:
      x: {value: [[1, 2], [3, 4]]}
    parts:
      - id: total
        prompt: "The sum of x."
        points: 1
        answer: {type: number}
        expected: {op: sum, x: $x}
      - id: code
        prompt: "Code: double(x) returns 2x."
        points: 1
        answer:
          type: code
          function: double
          cases:
            - {name: one, inputs: {x: $x}}
            - name: two
              inputs: {x: $x}
          properties:
            - {kind: equivariance, case: one, input: x}
        expected: {op: mul, a: $x, b: 2}
"""


def test_the_sheet_is_valid(tmp_path: Path, grader: Grader) -> None:
    run = grader("validate", write(tmp_path, SHEET))
    assert run.code == 0, run.err


def test_a_later_case_missing_its_inputs_is_placed_at_that_case(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("            - name: two\n              inputs: {x: $x}\n", "            - name: two\n")
    path = write(tmp_path, text)
    assert validate_errors(grader, path) == [
        {"file": str(path), "line": str(line_of(text, "- name: two")),
         "path": "exercises[0].parts[1].answer.cases[1].inputs", "message": "'inputs' is required here", "code": "spec-missing"}
    ]


def test_a_repeated_case_name_is_placed_at_the_second_case(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("- name: two", "- name: one")
    path = write(tmp_path, text)
    assert validate_errors(grader, path) == [
        {"file": str(path), "line": str(line_of(text, "- name: one")),
         "path": "exercises[0].parts[1].answer.cases[1].name",
         "message": f"case names must be unique, but 'one' is also the name of cases[0] (line {line_of(text, '{name: one')})",
         "code": "spec-invalid"}
    ]


def test_a_property_check_naming_no_case_is_placed_at_its_case(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("case: one", "case: three")
    path = write(tmp_path, text)
    assert validate_errors(grader, path) == [
        {"file": str(path), "line": str(line_of(text, "case: three")),
         "path": "exercises[0].parts[1].answer.properties[0].case",
         "message": "property equivariance: no case named 'three'; expected the name of one of this part's cases: one, two",
         "code": "spec-invalid"}
    ]


def test_a_repeated_exercise_id_is_placed_at_the_second_exercise(tmp_path: Path, grader: Grader) -> None:
    text = SHEET + SHEET[SHEET.index("  - id: e\n"):]
    path = write(tmp_path, text)
    second = line_of(text, "- id: e", after="expected: {op: mul")
    assert validate_errors(grader, path) == [
        {"file": str(path), "line": str(second), "path": "exercises[1].id",
         "message": f"exercise ids must be unique, but 'e' is also the id of exercises[0] (line {line_of(text, '- id: e')})",
         "code": "spec-invalid"}
    ]


def test_a_repeated_part_id_is_placed_at_the_second_part(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("- id: code", "- id: total")
    path = write(tmp_path, text)
    assert validate_errors(grader, path) == [
        {"file": str(path), "line": str(line_of(text, "- id: total", after="expected: {op: sum")),
         "path": "exercises[0].parts[1].id",
         "message": f"part ids must be unique, but 'total' is also the id of parts[0] (line {line_of(text, '- id: total')})",
         "code": "spec-invalid"}
    ]


@pytest.mark.parametrize(("character", "escape"), [("\x07", "\\x07"), ("\x1b", "\\x1b")])
def test_a_control_character_names_its_line_column_and_field(
    tmp_path: Path, grader: Grader, character: str, escape: str
) -> None:
    text = SHEET.replace('"Code: double(x) returns 2x."', f'"Code: double(x){character} returns 2x."')
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 2
    code = ord(character)
    assert run.err.splitlines() == [
        f"{path}:{line_of(text, 'Code: double')} exercises[0].parts[1].prompt: column 33 has the control character "
        f"U+{code:04X}, which YAML text may not contain: delete it, or write it as the escape {escape} inside a "
        "double-quoted string",
        "1 of 1 sheet(s) have errors",
    ]


def test_a_control_character_outside_any_value_names_its_line(tmp_path: Path, grader: Grader) -> None:
    text = SHEET.replace("validation_seeds: [1]", "validation_seeds: [1]  # \x07")
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 2
    assert run.err.splitlines()[0] == (
        f"{path}:2: column 26 has the control character U+0007, which YAML text may not contain: delete it, or write "
        "it as the escape \\x07 inside a double-quoted string"
    )


@pytest.mark.parametrize(("written", "name"), [("α", "α"), ('"{at}"', "{at}")])
def test_a_non_ascii_input_name_says_what_a_name_is(tmp_path: Path, grader: Grader, written: str, name: str) -> None:
    text = SHEET.replace("      x: {value:", f"      x: {{value: 1}}\n      {written}: {{value:")
    path = write(tmp_path, text)
    assert validate_errors(grader, path) == [
        {"file": str(path), "line": str(line_of(text, f"{written}: {{value")), "path": f'exercises[0].inputs["{name}"]',
         "message": f"'{name}' is not a valid name: a name must be ASCII letters (A-Z, a-z), digits and underscores, "
                    "not starting with a digit",
         "code": "spec-name"}
    ]
