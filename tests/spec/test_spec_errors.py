"""Broken sheets: ``grader validate`` exits 2 and names the file, the line, the field and a stable code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app

runner = CliRunner()

BASE = """\
id: broken
validation_seeds: [1]
exercises:
  - id: e
    inputs:
      a: {value: 2, random: {low: 1, high: 5}}
      img: {value: [[[1], [2], [3]], [[4], [5], [6]], [[7], [8], [9]]]}
      w: {random: {dist: normal, shape: [2, 2, 2, 1]}}
    quantities:
      double: {op: mul, a: $a, b: 2}
    parts:
      - id: p
        prompt: "Twice a."
        points: 1
        answer: {type: number}
        expected: $double
"""


def write(tmp_path: Path, text: str, name: str = "sheet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not in the sheet"
    return hits[occurrence - 1]


def validate(path: Path) -> list[str]:
    """The error lines ``grader validate`` prints; asserts exit 2 and no traceback."""
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "1 of 1 sheet(s) have errors"
    return lines[:-1]


ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+) (?P<path>\S+): (?P<message>.+) \[(?P<code>spec-[a-z-]+)\]$")


def assert_error(lines: list[str], path: Path, *, line: int, code: str, field: str | None = None, message: str = "") -> str:
    parsed = [ERROR_LINE.match(text) for text in lines]
    matching = [m for m in parsed if m and m["code"] == code]
    assert matching, f"no [{code}] error in {lines}"
    found = matching[0]
    assert found["file"] == str(path)
    assert int(found["line"]) == line, f"line {found['line']} != {line}: {found.string}"
    if field is not None:
        assert found["path"] == field, found.string
    assert message.lower() in found["message"].lower(), found.string
    return found.string


def test_the_base_sheet_is_valid(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write(tmp_path, BASE))])
    assert result.exit_code == 0, result.output


def test_unknown_field(tmp_path: Path) -> None:
    text = BASE.replace('        points: 1\n', '        points: 1\n        colour: red\n')
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "colour:"), code="spec-unknown-field",
                 field="exercises[0].parts[0].colour", message="colour")


def test_unknown_answer_type(tmp_path: Path) -> None:
    text = BASE.replace("answer: {type: number}", "answer: {type: numbr}")
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "numbr"), code="spec-unknown-type", message="numbr")


def test_negative_points(tmp_path: Path) -> None:
    text = BASE.replace("points: 1", "points: -1")
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "points: -1"), code="spec-range", field="exercises[0].parts[0].points")


def test_unknown_op(tmp_path: Path) -> None:
    text = BASE.replace("double: {op: mul,", "double: {op: frobnicate,")
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "frobnicate"), code="spec-unknown-op", message="frobnicate")


def test_unknown_reference(tmp_path: Path) -> None:
    text = BASE.replace("expected: $double", "expected: $tripple")
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "$tripple"), code="spec-unknown-ref",
                 field="exercises[0].parts[0].expected", message="$tripple")


def test_cycle_between_quantities(tmp_path: Path) -> None:
    text = BASE.replace(
        "      double: {op: mul, a: $a, b: 2}\n",
        "      double: {op: mul, a: $a, b: $half}\n      half: {op: neg, x: $double}\n",
    )
    path = write(tmp_path, text)
    found = assert_error(validate(path), path, line=line_of(text, "double: {op"), code="spec-cycle",
                         field="exercises[0].quantities.double")
    assert "double -> half -> double" in found


def test_op_failing_names_the_shapes(tmp_path: Path) -> None:
    text = BASE.replace(
        "      double: {op: mul, a: $a, b: 2}\n",
        "      double: {op: mul, a: $a, b: 2}\n      conv: {op: conv2d, x: $img, w: $w}\n",
    ).replace("expected: $double", "expected: {op: sum, x: $conv}")
    path = write(tmp_path, text)
    found = assert_error(validate(path), path, line=line_of(text, "conv: {op: conv2d"), code="spec-op-failed", message="conv2d")
    assert "(3, 3, 1)" in found and "(2, 2, 2, 1)" in found


def test_mistake_equal_to_the_reference(tmp_path: Path) -> None:
    text = BASE + (
        "        mistakes:\n"
        "          - id: same-thing\n"
        "            expected: {op: add, a: $a, b: $a}\n"
        "            feedback: Never shown.\n"
    )
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "- id: same-thing"), code="spec-mistake-full", message="may_coincide: true on the mistake")


def test_key_of_the_wrong_kind_for_the_answer_type(tmp_path: Path) -> None:
    text = BASE.replace("answer: {type: number}", "answer: {type: shape}")
    path = write(tmp_path, text)
    assert_error(validate(path), path, line=line_of(text, "expected: $double"), code="spec-answer-type", message="shape")


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    text = BASE.replace("points: 1", "points: [1, 2")
    path = write(tmp_path, text)
    lines = validate(path)
    assert len(lines) == 1
    match = re.match(rf"^{re.escape(str(path))}:(\d+): not valid YAML", lines[0])
    assert match, lines
    assert line_of(text, "points: [1") <= int(match[1]) <= line_of(text, "points: [1") + 2


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = BASE.replace("        points: 1\n", "        points: 1\n        points: 2\n")
    path = write(tmp_path, text)
    lines = validate(path)
    assert lines == [f"{path}:{line_of(text, 'points: 2')} exercises[0].parts[0]: duplicate key 'points'"]


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    text = BASE.replace("      a: {value: 2, random", "      a: &two {value: 2, random").replace(
        "      img:", "      b: *two\n      img:"
    )
    path = write(tmp_path, text)
    lines = validate(path)
    assert lines == [f"{path}:{line_of(text, 'b: *two')}: YAML aliases (*name) are not allowed in sheets: write the value out at each place (answer files accept them)"]


def test_every_schema_error_is_listed_in_one_run(tmp_path: Path) -> None:
    text = BASE.replace("points: 1", "points: -1").replace('        prompt: "Twice a."\n', '        prompt: "Twice a."\n        colour: red\n')
    text = text.replace("answer: {type: number}", "answer: {type: number, abs_tol: -1}")
    path = write(tmp_path, text)
    lines = validate(path)
    assert_error(lines, path, line=line_of(text, "colour"), code="spec-unknown-field")
    assert_error(lines, path, line=line_of(text, "points: -1"), code="spec-range", field="exercises[0].parts[0].points")
    assert len(lines) == 3, lines


def test_every_key_error_is_listed_in_one_run(tmp_path: Path) -> None:
    text = BASE.replace("double: {op: mul,", "double: {op: frobnicate,") + (
        "      - id: q\n"
        "        prompt: Something else.\n"
        "        points: 1\n"
        "        answer: {type: number}\n"
        "        expected: $nowhere\n"
    )
    path = write(tmp_path, text)
    lines = validate(path)
    assert_error(lines, path, line=line_of(text, "frobnicate"), code="spec-unknown-op")
    assert_error(lines, path, line=line_of(text, "$nowhere"), code="spec-unknown-ref", field="exercises[0].parts[1].expected")
    assert len(lines) == 2, lines


def test_several_sheets_each_with_their_errors(tmp_path: Path) -> None:
    good = write(tmp_path, BASE, "good.yaml")
    bad = write(tmp_path, BASE.replace("points: 1", "points: 0"), "bad.yaml")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{good}: ok" in result.stdout
    assert f"{bad}:" in result.stderr and "[spec-range]" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "1 of 2 sheet(s) have errors"


@pytest.mark.parametrize("content", ["", "just a string\n", "- 1\n- 2\n"])
def test_not_a_sheet_at_all(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, content)
    lines = validate(path)
    assert len(lines) == 1 and lines[0].startswith(f"{path}")


@pytest.mark.parametrize(
    ("old", "new", "at", "hint"),
    [
        ('prompt: "Twice a."', "prompt: Twice a: the double", "prompt: Twice a", "a value holding ': ' must be in quotes: prompt: 'Twice a: the double'"),
        ("      - id: p\n", "      -id: p\n", "prompt:", "a list item needs a space after '-': write '- id: p', not '-id: p'"),
        ("    quantities:", "   quantities:", "   quantities:", "is line 9 indented differently from the lines above it?"),
        ("shape: [2, 2, 2, 1]}}", "shape: [2, 2, 2, 1}}", "shape: [2, 2, 2, 1}}", "is the '[' at line 8, column 41 closed?"),
    ],
)
def test_the_yaml_slips_authors_make_most_get_a_hint(tmp_path: Path, old: str, new: str, at: str, hint: str) -> None:
    """PyYAML's words alone ("mapping values are not allowed here", "expected <block end>, but found ...") named no
    way out, and an unclosed '[' was reported on a later line with no word of where it opened."""
    assert old in BASE
    text = BASE.replace(old, new)
    [line] = validate(write(tmp_path, text))
    assert line.startswith(f"{tmp_path / 'sheet.yaml'}:{line_of(text, at)}: not valid YAML: "), line
    assert hint in line, line


@pytest.mark.parametrize(
    ("old", "new", "at", "message"),
    [
        ("        prompt:", "        promt:", "promt:", "unknown field 'promt'; did you mean 'prompt'? (it is required here)"),
        ("answer: {type: number}", "answer: {type: number, abstol: 0.1}", "answer:", "unknown field 'abstol'; did you mean 'abs_tol'?"),
        ("random: {dist: normal, shape:", "random: {dist: normal, shap:", "shap:", "unknown field 'shap'; did you mean 'shape'?"),
        ("    quantities:", "    quantites:", "quantites:", "unknown field 'quantites'; did you mean 'quantities'?"),
        ("    quantities:", "    frobnicate:", "frobnicate:", "unknown field 'frobnicate'"),
    ],
)
def test_a_misspelled_field_is_one_error_naming_the_field_meant(tmp_path: Path, old: str, new: str, at: str, message: str) -> None:
    """``promt:`` gave two errors ("'prompt' is required here" and "unknown field 'promt'") and no suggestion."""
    assert old in BASE
    text = BASE.replace(old, new, 1)
    lines = validate(write(tmp_path, text))
    [line] = [line for line in lines if "unknown field" in line]
    match = ERROR_LINE.match(line)
    assert match is not None, line
    assert (int(match["line"]), match["message"], match["code"]) == (line_of(text, at), message, "spec-unknown-field")
    if at == "promt:":
        assert lines == [line]  # the missing 'prompt' is said by this error, not by one of its own


def test_a_suggestion_needs_a_close_likeness_and_prefers_the_closest_field(tmp_path: Path) -> None:
    """``reprot`` had been taken for the missing ``prompt`` (difflib 0.6), though parts have a ``report`` field it is
    closer to, and ``hint`` for the missing ``points``, hiding the real "required" errors."""
    text = BASE.replace('        prompt: "Twice a."\n', "        reprot: {}\n").replace("        points: 1\n", "        hint: h\n")
    lines = validate(write(tmp_path, text))
    messages = sorted(ERROR_LINE.match(line)["message"] for line in lines)  # type: ignore[index]
    assert messages == [
        "'points' is required here", "'prompt' is required here", "unknown field 'hint'",
        "unknown field 'reprot'; did you mean 'report'?",
    ]


@pytest.mark.parametrize("comment", ["", "  # TODO check"])
def test_the_quoting_a_hint_suggests_is_itself_yaml(tmp_path: Path, comment: str) -> None:
    """Quotes in the value are kept as written, and a comment after it stays outside the quotes."""
    import yaml

    text = BASE.replace('prompt: "Twice a."', "prompt: The \"x\": it's \\sigma" + comment)
    [line] = validate(write(tmp_path, text))
    suggested = line.split("must be in quotes: ", 1)[1]
    assert yaml.safe_load(suggested) == {"prompt": "The \"x\": it's \\sigma"}, suggested
    assert suggested.endswith(comment), suggested
