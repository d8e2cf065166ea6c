"""Hostile and malformed answer files: each is graded to a Result with a clear error or invalid parts, never a hang."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.grading import grade_submission
from grader.result import Result, Status
from grader.spec import load_sheet
from grader.spec.loader import Sheet
from grader.spec.yaml_lines import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sheet() -> Sheet:
    return load_sheet(ROOT / "exercises" / "week7.yaml")


def grade(sheet: Sheet, path: Path, content: str | bytes) -> Result:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    result = grade_submission(sheet, path)
    assert result.score < 1.0
    return result


def part(result: Result, exercise_id: str, part_id: str):  # noqa: ANN201 -- a PartResult
    return next(p for p in result.parts if (p.exercise_id, p.part_id) == (exercise_id, part_id))


def assert_error(result: Result, path: Path, *words: str) -> None:
    assert result.error, "expected the submission to be refused"
    assert path.name in result.error and "\n" not in result.error
    for word in words:
        assert word.lower() in result.error.lower(), result.error
    assert all(p.points_earned == 0 for p in result.parts)
    assert all(p.status is Status.missing for p in result.parts)


def bomb(levels: int = 8, width: int = 9) -> list[str]:
    """Anchor definitions a: [1 x9], b: [*a x9], ... : the last one stands for width**levels entries."""
    lines, previous = [], None
    for name in "abcdefghij"[:levels]:
        body = ", ".join(["1"] * width) if previous is None else ", ".join([f"*{previous}"] * width)
        lines.append(f"{name}: &{name} [{body}]")
        previous = name
    return lines


def test_a_file_over_the_size_limit_is_refused_unread(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    result = grade(sheet, path, "student: s\nanswers: {}\n# " + "x" * (5 << 20) + "\n")
    assert_error(result, path, "bytes", str(MAX_FILE_BYTES))


def test_a_large_yaml_file_is_refused_before_parsing_with_a_way_out(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "large.yaml"
    result = grade(sheet, path, "student: s\nanswers:\n  ex3:\n    b_pool: [" + ",".join(["0.5"] * 300_000) + "]\n")
    assert_error(result, path, "at most 1 MiB", "as JSON")


@pytest.mark.parametrize(
    ("suffix", "content", "line"),
    [
        (".yaml", "student: s1\nseed: 3\nstudent: s2\nanswers: {}\n", 3),
        (".yaml", "student: s\nanswers:\n  ex2:\n    a_set_a: 4\n    a_set_a: 5\n", 5),
        (".yaml", "student: s\nanswers:\n  ex2: {a_set_a: 4, a_set_a: 5}\n", 3),
        (".json", '{"student": "s", "answers": {"ex2": {"a_set_a": 4, "a_set_a": 5}}}', None),
    ],
)
def test_a_key_given_twice_is_refused_not_guessed(sheet: Sheet, tmp_path: Path, suffix: str, content: str, line: int | None) -> None:
    path = tmp_path / f"twice{suffix}"
    result = grade(sheet, path, content)
    assert_error(result, path, "given twice", "keep one")
    if line is not None:
        assert f":{line}:" in result.error  # type: ignore[operator]


def test_a_million_entry_array_under_the_cap_is_graded_invalid(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "million.json"
    text = json.dumps({"student": "s", "answers": {"ex3": {"b_pool": [0] * 1_000_000}}}, separators=(",", ":"))
    assert len(text) < MAX_FILE_BYTES
    result = grade(sheet, path, text)
    assert result.error is None
    pooled = part(result, "ex3", "b_pool")
    assert pooled.status is Status.invalid and "(2, 2, 2)" in pooled.feedback


def test_a_long_yaml_flow_list_is_graded_invalid(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    result = grade(sheet, path, "student: s\nanswers:\n  ex3:\n    b_pool: [" + ",".join(["0"] * 100_000) + "]\n")
    assert result.error is None and part(result, "ex3", "b_pool").status is Status.invalid


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deeply_nested_lists_are_refused_with_the_line(sheet: Sheet, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    if suffix == ".json":
        content = '{"student": "s", "answers": {"ex3": {"b_pool": ' + "[" * 10_000 + "]" * 10_000 + "}}}"
    else:
        content = "student: s\nanswers:\n  ex3:\n    b_pool: " + "[" * 10_000 + "]" * 10_000 + "\n"
    result = grade(sheet, path, content)
    assert_error(result, path, "nested")


def test_binary_garbage_is_not_utf8(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    result = grade(sheet, path, bytes(range(128, 256)) * 64)
    assert_error(result, path, "UTF-8")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_number_too_long_for_python_is_refused_at_its_line(sheet: Sheet, tmp_path: Path, suffix: str) -> None:
    """Python refuses to read an int of more than 4300 digits (a ValueError inside the YAML/JSON loader)."""
    path = tmp_path / f"long{suffix}"
    digits = "9" * 5000
    text = (
        f'{{"student": "s",\n "answers": {{"ex2": {{"a_set_a": {digits}}}}}}}' if suffix == ".json"
        else f"student: s\nanswers:\n  ex2:\n    a_set_a: {digits}\n"
    )
    assert_error(grade(sheet, path, text), path, f"long{suffix}:{2 if suffix == '.json' else 4}:", "more than 4300 digits")


def test_a_latin1_answer_file_names_the_line_column_and_byte(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    result = grade(sheet, path, "student: s\nanswers:\n  ex3:\n    d_exists: 'oui, c'est \xe9vident'\n".encode("latin-1"))
    assert_error(result, path, "latin1.yaml:4:", "column 27 has the byte 0xE9 (233)", "save it as UTF-8")


@pytest.mark.parametrize("content", ["", "\n\n# only a comment\n"], ids=["empty", "comment-only"])
def test_an_empty_file_is_refused(sheet: Sheet, tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.yaml"
    result = grade(sheet, path, content)
    assert_error(result, path, "mapping")


def test_a_billion_laughs_outside_the_answers_is_refused(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    result = grade(sheet, path, "\n".join([*bomb(), "student: s", "answers:", "  ex3:", "    b_pool: *h", ""]))
    assert_error(result, path, "unknown top-level field")


@pytest.mark.parametrize(
    ("exercise_id", "part_id"),
    [("ex3", "b_pool"), ("ex1", "c_winners"), ("ex1", "a"), ("ex2", "a_volume"), ("ex4", "children"),
     ("ex4", "schedule"), ("ex4", "b_graph"), ("ex2", "a_formula"), ("ex3", "d_shifts")],
)
def test_a_billion_laughs_inside_an_answer_is_invalid_not_a_hang(sheet: Sheet, tmp_path: Path, exercise_id: str, part_id: str) -> None:
    """9**9 entries by aliases: expanding them would take minutes and gigabytes; the answer is refused."""
    anchors = ["    " + line for line in bomb()]
    text = "\n".join(["student: s", "answers:", "  ex9:", *anchors, f"  {exercise_id}:", f"    {part_id}: [{', '.join(['*h'] * 9)}]", ""])
    path = tmp_path / "laughs.yaml"
    result = grade(sheet, path, text)
    assert result.error is None
    graded = part(result, exercise_id, part_id)
    assert graded.status is Status.invalid and graded.feedback
    assert any("ex9" in note for note in result.notes)


@pytest.mark.parametrize("student_line", ["", 'student: ""\n', "student:\n"])
def test_a_file_without_a_student_id_is_graded_and_asks_for_it(sheet: Sheet, tmp_path: Path, student_line: str) -> None:
    """The template starts with student: "": a student who forgets it still gets feedback (and the batch a row)."""
    path = tmp_path / "anonymous.yaml"
    result = grade(sheet, path, student_line + "answers:\n  ex3:\n    c_count: 3\n")
    assert result.error is None and result.student_id == ""
    assert result.notes and result.notes[0].startswith("student: no student id given")
    assert part(result, "ex3", "c_count").status is not Status.missing


@pytest.mark.parametrize("student", ["[s1, s2]", "true", "{id: s1}"])
def test_a_student_id_that_is_not_text_is_refused(sheet: Sheet, tmp_path: Path, student: str) -> None:
    path = tmp_path / "odd.yaml"
    assert_error(grade(sheet, path, f"student: {student}\nanswers: {{}}\n"), path, "student")


@pytest.mark.parametrize("student", ['"a,b \\"c\\"\\nnewline"', '"s1\\tx"', '"s\\u202e1"'])
def test_a_student_id_on_several_lines_or_with_controls_is_refused(sheet: Sheet, tmp_path: Path, student: str) -> None:
    """An id becomes a CSV cell and a gradebook key: one printable line (LMS importers reject the rest)."""
    path = tmp_path / "id.yaml"
    assert_error(grade(sheet, path, f"student: {student}\nanswers: {{}}\n"), path, "student")


@pytest.mark.parametrize("seed", ["-1", "'seventeen'", "1.5", "true", "[1]"])
def test_a_bad_seed_is_refused(sheet: Sheet, tmp_path: Path, seed: str) -> None:
    path = tmp_path / "seed.yaml"
    assert_error(grade(sheet, path, f"student: s\nseed: {seed}\nanswers: {{}}\n"), path, "seed")


@pytest.mark.parametrize("answers", ["[1, 2]", "'all of them'", "7"])
def test_answers_not_a_mapping(sheet: Sheet, tmp_path: Path, answers: str) -> None:
    path = tmp_path / "answers.yaml"
    assert_error(grade(sheet, path, f"student: s\nanswers: {answers}\n"), path, "answers")


def test_an_exercise_not_a_mapping(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "exercise.yaml"
    assert_error(grade(sheet, path, "student: s\nanswers:\n  ex3: [1, 2]\n"), path, "ex3")


def test_a_folder_named_like_an_answer_file(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "folder.yaml"
    path.mkdir()
    result = grade_submission(sheet, path)
    assert_error(result, path, "folder")


def test_malformed_json_names_the_line(sheet: Sheet, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    result = grade(sheet, path, '{"student": "s",\n "answers": {"ex3": {"c_count": 3,}}}\n')
    assert_error(result, path, "JSON")
    assert f"{path.name}:2" in result.error


@pytest.mark.parametrize(
    ("line", "student", "problem"),
    [
        ('STUDENT = "s42"', "s42", None),
        ('STUDENT: str = "s42"', "s42", None),
        ("STUDENT = \"O'Neill\"", "O'Neill", None),
        ('STUDENT = """s42"""', "s42", None),  # as Python reads it
        ('STUDENT = "s4\\"2"', 's4"2', None),
        ('STUDENT = "s42"; x = "y"', "s42", None),
        ('STUDENT = "your id"\nSTUDENT = "s43"', "s43", None),  # the last assignment counts, as in Python
        ('STUDENT = "s42"\n"""A template says: write\nSTUDENT = "your id"\n"""', "s42", None),  # inside a string
        ('STUDENT = "s1" + "23"', None, "is not one string in quotes"),  # an expression, not an id
        ('STUDENT = "s1", "s2"', None, "is not one string in quotes"),
        ('STUDENT = f"s{42}"', None, "is not one string in quotes"),
        ('STUDENT = "s42"\nSTUDENT = None', None, "is not one string in quotes"),  # the last assignment counts
        ('STUDENT = "s42"\nSTUDENT += "x"', None, "is not one string in quotes"),
        ('STUDENT = None\nSTUDENT = "s42"', "s42", None),
        ('STUDENT = X = "s42"', "s42", None),
        ('STUDENT = "s42"\nSTUDENT: str', "s42", None),  # an annotation alone assigns nothing
        ('def f():\n    STUDENT = "s9"', None, None),  # not at the top level
        ('%matplotlib inline\nSTUDENT = "s42"', "s42", None),  # a notebook's magic: read line by line
        ('STUDENT = "s\x1b[2J42"', None, "holds a tab, a control character or an invisible space"),
        ("STUDENT = 's\t1'", None, "holds a tab"),
        ('STUDENT = "Jan\u00a0Novak"', None, "(a non-breaking or zero-width space, as text pasted from a PDF has)"),
        (f'STUDENT = "{"x" * 201}"', None, "is 201 characters long; a student id has at most 200"),
        ('STUDENT = "  "', None, "is empty"),
        ('\ufeffSTUDENT = "s42"\r\ndef f():\r\n    return 1\r', "s42", None),  # a byte-order mark, Windows line ends
        ('%matplotlib inline\r\nSTUDENT = "s42"  # me\r', "s42", None),  # not Python: read line by line, \r and all
    ],
)
def test_a_code_files_declared_student_is_one_plain_string(line: str, student: str | None, problem: str | None) -> None:
    from grader.submission.student_line import student_line

    found = student_line(line if line.startswith("\ufeff") else f"import numpy as np\n{line}\n")
    assert found.student == student
    assert (found.problem is None) if problem is None else (found.problem is not None and problem in found.problem)


def test_a_long_code_file_is_searched_line_by_line_not_parsed() -> None:
    """A file longer than the parser is given (its syntax tree would hold hundreds of MB in the grader's process
    for a hostile literal) still names its student by a plain STUDENT line."""
    from grader.submission.student_line import MAX_PARSED_CHARS, student_line

    literal = "x = [" + ", ".join(["1"] * (MAX_PARSED_CHARS // 3)) + "]\n"
    assert len(literal) > MAX_PARSED_CHARS
    assert student_line(f'STUDENT = "s42"\n{literal}').student == "s42"
    assert student_line(f'{literal}STUDENT = "s1" + "2"\n').student is None  # no plain line: no id
