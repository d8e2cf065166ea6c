"""``grader report --csv``: one row per student for an LMS import, on real week-7 files and the real command.

A student hands in an answer file (its Result covers the answer parts) and a code file (the code parts); the CSV
has one row for them with the total of both, its part columns in the sheet's order.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.spec import load_sheet

ROOT = Path(__file__).resolve().parents[2]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
SHEET = load_sheet(WEEK7)
SHEET_POINTS = sum(part.points for _, part in SHEET.parts())  # 52 answer-file points + 14 code points
CODE_POINTS = sum(part.points for _, part in SHEET.parts() if part.answer.type == "code")


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed program as a user runs it (``python -m grader``)."""
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=environment
    )


def answer_file(folder: Path, name: str, student: str, sample: str = "correct.yaml") -> Path:
    """A copy of a week-7 sample answer file handed in by ``student``."""
    text = (SAMPLES / sample).read_text(encoding="utf-8")
    lines = [f"student: {student}" if line.startswith("student:") else line for line in text.splitlines()]
    assert lines != text.splitlines(), "the sample names no student"
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def code_file(folder: Path, name: str, student: str) -> Path:
    """A copy of the correct week-7 code file (every code part right) declaring ``STUDENT = student``."""
    text = (SAMPLES / "code" / "correct.py").read_text(encoding="utf-8")
    changed = text.replace('STUDENT = "s-code-correct"', f'STUDENT = "{student}"')
    assert changed != text
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(changed, encoding="utf-8")
    return path


def batch(folder: Path, book: Path) -> None:
    result = grader("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book))
    assert result.returncode == 0, result.stderr


def report_csv(tmp_path: Path, book: Path) -> tuple[list[str], list[dict[str, str]], str]:
    """Run ``grader report --csv``: the header, the rows and the command's stderr."""
    out = tmp_path / "grades.csv"
    reports = tmp_path / "reports"
    result = grader("report", str(WEEK7), "--gradebook", str(book), "--out-dir", str(reports), "--csv", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    raw = out.read_bytes().decode("utf-8")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")  # CRLF throughout
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    header = rows[0]
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]], result.stderr


def rewind(book: Path, file_name: str, graded_at: str) -> None:
    """Pretend ``file_name`` was graded at ``graded_at`` (an earlier batch), as the gradebook would record it."""
    with sqlite3.connect(book) as connection:
        changed = connection.execute(
            "UPDATE submissions SET graded_at = ? WHERE path LIKE ?", (graded_at, f"%{os.sep}{file_name}")
        ).rowcount
    assert changed == 1


def part_total(row: dict[str, str]) -> float:
    return sum(float(row[key]) for key in SHEET.part_keys() if row[key] != "")


@pytest.mark.parametrize("first", ["code", "answers"])
def test_an_answer_file_and_a_code_file_of_one_student_make_one_row_in_sheet_order(tmp_path: Path, first: str) -> None:
    folder, book = tmp_path / "submissions", tmp_path / "gb.sqlite"
    # Two batches, so that either file is the one graded first.
    makers = {
        "code": lambda: code_file(folder, "code/alice.py", "s-alice"),
        "answers": lambda: answer_file(folder, "alice.yaml", "s-alice"),
    }
    makers[first]()
    batch(folder, book)
    makers["answers" if first == "code" else "code"]()
    batch(folder, book)

    header, rows, stderr = report_csv(tmp_path, book)
    assert header == ["student_id", "seed", "submission", *SHEET.part_keys(), "total", "score"]
    assert len(rows) == 1, rows
    [row] = rows
    assert row["student_id"] == "s-alice"
    assert sorted(row["submission"].split("; ")) == ["alice.py", "alice.yaml"]
    assert all(row[key] != "" for key in SHEET.part_keys())  # answer parts and code parts
    assert float(row["total"]) == pytest.approx(SHEET_POINTS) == pytest.approx(part_total(row))
    assert float(row["score"]) == pytest.approx(1.0)
    assert row["seed"] == ""  # the sample answer file uses the sheet's own numbers
    assert "warning" not in stderr  # different parts: nothing to choose between


def test_a_student_without_a_code_file_scores_out_of_the_whole_sheet(tmp_path: Path) -> None:
    folder, book = tmp_path / "submissions", tmp_path / "gb.sqlite"
    answer_file(folder, "bob.yaml", "s-bob")
    batch(folder, book)
    header, [row], _ = report_csv(tmp_path, book)
    assert header[3:-2] == SHEET.part_keys()  # the code columns are there, empty
    assert all(row[key] == "" for key, (_, part) in zip(SHEET.part_keys(), SHEET.parts(), strict=True)
               if part.answer.type == "code")
    assert float(row["total"]) == pytest.approx(SHEET_POINTS - CODE_POINTS)
    assert float(row["score"]) == pytest.approx((SHEET_POINTS - CODE_POINTS) / SHEET_POINTS)


def test_two_answer_files_of_one_student_make_one_row_from_the_one_graded_last(tmp_path: Path) -> None:
    folder, book = tmp_path / "submissions", tmp_path / "gb.sqlite"
    # z-first.yaml (all correct) is graded first; a-later.yaml (partly correct) later, although its path sorts first.
    answer_file(folder, "z-first.yaml", "s-carol", "correct.yaml")
    batch(folder, book)
    rewind(book, "z-first.yaml", "2000-01-01T00:00:00+00:00")
    answer_file(folder, "a-later.yaml", "s-carol", "partly-correct.yaml")
    code_file(folder, "code/carol.py", "s-carol")
    batch(folder, book)

    _, rows, stderr = report_csv(tmp_path, book)
    assert len(rows) == 1, rows
    [row] = rows
    assert row["student_id"] == "s-carol"
    # a-later.yaml leaves one part unanswered: that part comes from z-first.yaml, every other from a-later.yaml
    assert row["submission"] == "a-later.yaml; carol.py; z-first.yaml"
    later = json.loads(grader("grade", str(WEEK7), str(folder / "a-later.yaml"), "--format", "json").stdout)["result"]
    left_out = [part for part in later["parts"] if part["status"] == "missing"]
    assert len(left_out) == 1 and later["points_earned"] + left_out[0]["points_possible"] < SHEET_POINTS - CODE_POINTS
    expected_total = later["points_earned"] + left_out[0]["points_possible"] + CODE_POINTS  # z-first's is right
    assert float(row["total"]) == pytest.approx(expected_total) == pytest.approx(part_total(row))
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, stderr
    assert "s-carol" in warnings[0] and "used a-later.yaml, carol.py, z-first.yaml; ignored the parts ex1.a, " in warnings[0]


def test_unreadable_files_are_rows_of_their_own_without_a_student_id(tmp_path: Path) -> None:
    folder, book = tmp_path / "submissions", tmp_path / "gb.sqlite"
    answer_file(folder, "dave.yaml", "s-dave")
    code_file(folder, "code/dave.py", "s-dave")
    for broken in (folder / "broken.yaml", folder / "other" / "broken.yaml"):  # one name, two files
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_text("student: [unclosed\n", encoding="utf-8")
    batch(folder, book)

    _, rows, stderr = report_csv(tmp_path, book)
    assert len(rows) == 3, rows
    unreadable = [row for row in rows if row["student_id"] == ""]
    assert [row["submission"] for row in unreadable] == ["broken.yaml", "broken.yaml"]
    for row in unreadable:
        assert float(row["total"]) == 0 and float(row["score"]) == 0
    [dave] = [row for row in rows if row["student_id"] == "s-dave"]
    assert float(dave["total"]) == pytest.approx(SHEET_POINTS)
    assert "warning" not in stderr


def test_an_unreadable_file_that_plainly_names_its_student_is_that_students_zero(tmp_path: Path) -> None:
    """A broken answer file whose first line says student: s-erin scores 0 in s-erin's row (the LMS matches it),
    not in a row without an id; a later readable file of hers still replaces it only by the usual rule."""
    folder, book = tmp_path / "submissions", tmp_path / "gb.sqlite"
    answer_file(folder, "dave.yaml", "s-dave")
    folder.joinpath("erin.yaml").write_text("student: s-erin\nseed: 3\nanswers:\n  ex1: {a: [1, 2\n", encoding="utf-8")
    batch(folder, book)

    _, rows, _ = report_csv(tmp_path, book)
    assert sorted(row["student_id"] for row in rows) == ["s-dave", "s-erin"], rows
    [erin] = [row for row in rows if row["student_id"] == "s-erin"]
    assert erin["submission"] == "erin.yaml" and float(erin["total"]) == 0


def test_merged_rows_keep_the_formula_defusing_and_the_columns_given() -> None:
    from grader.cohort import by_student, graded_file
    from grader.report import render_csv
    from tests.report.sample_results import code_part, mixed

    answers = mixed().model_copy(update={"student_id": "=cmd|x", "parts": mixed().parts[:-1]})
    code = mixed().model_copy(update={"student_id": "=cmd|x", "seed": None, "submission": "=code.py",
                                      "parts": [code_part()]})
    students = by_student([graded_file(code), graded_file(answers)])
    keys = ["ex5.conv2d", *(part.key for part in answers.parts)]
    rows = list(csv.reader(io.StringIO(render_csv(students, part_keys=keys, points_possible=30), newline="")))
    assert rows[0][3:-2] == keys
    [row] = rows[1:]
    assert row[0] == "'=cmd|x" and row[1] == "4242" and row[2] == "'=code.py; week7-answers.yaml"
    assert float(row[-2]) == pytest.approx(answers.points_earned + code.points_earned)
    assert float(row[-1]) == pytest.approx((answers.points_earned + code.points_earned) / 30)
