"""A code file without ``STUDENT = "..."`` is graded under its file name: its report asks for the line, and
``grader report --csv`` and ``grader stats`` name it on stderr (it is not added up with the student's answer file).
Real files through the real commands."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from grader.notes import MISSING_CODE_STUDENT_NOTE

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
DECLARED = 'STUDENT = "s-code-correct"'


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed program as a user runs it (``python -m grader``)."""
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment
    )


def cohort(folder: Path, *, student_line: str) -> Path:
    """An answer file of s-alice and her code file, whose STUDENT line is ``student_line`` ("" for none)."""
    (folder / "code").mkdir(parents=True)
    answers = (SAMPLES / "correct.yaml").read_text(encoding="utf-8").replace("student: s-correct", "student: s-alice")
    (folder / "alice.yaml").write_text(answers, encoding="utf-8")
    code = (SAMPLES / "code" / "correct.py").read_text(encoding="utf-8")
    assert DECLARED in code
    path = folder / "code" / "alice-conv.py"
    path.write_text(code.replace(DECLARED, student_line), encoding="utf-8")
    return path


def batch_and_report(tmp_path: Path, folder: Path) -> tuple[list[dict[str, str]], str, dict[str, dict]]:
    """Batch the folder, then ``grader report --csv`` with JSON reports: the CSV rows, the report's stderr, and the
    reports by file name."""
    book = tmp_path / "gb.sqlite"
    done = grader("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book))
    assert done.returncode == 0, done.stderr
    out, reports = tmp_path / "grades.csv", tmp_path / "reports"
    result = grader("report", str(WEEK7), "--gradebook", str(book), "--format", "json", "--out-dir", str(reports),
                    "--csv", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    shown = {path.name: json.loads(path.read_text(encoding="utf-8"))["result"] for path in reports.iterdir()}
    return rows, result.stderr, shown


def test_a_code_file_without_student_is_named_on_stderr_and_its_report_asks_for_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    code = cohort(folder, student_line="")
    rows, stderr, reports = batch_and_report(tmp_path, folder)

    assert sorted(row["student_id"] for row in rows) == ["alice-conv", "s-alice"]  # two rows: not merged
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f'warning: {code.resolve()} has no usable STUDENT = "..." line (none, or one whose value is not one plain id), so its student id is its file name \'alice-conv\' '
        "and it is not added up with the student's answer file (unless that says student: alice-conv); its report "
        "asks for the line"
    ], stderr
    assert reports["alice-conv.json"]["notes"] == [MISSING_CODE_STUDENT_NOTE]
    assert reports["alice.json"]["notes"] == []

    stats = grader("stats", str(WEEK7), "--gradebook", str(tmp_path / "gb.sqlite"))
    assert stats.returncode == 0, stats.stderr
    assert [line for line in stats.stderr.splitlines() if line.startswith("warning:")] == warnings  # the same lines


def test_a_code_file_with_student_merges_and_nothing_is_said(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    cohort(folder, student_line='STUDENT = "s-alice"')
    rows, stderr, reports = batch_and_report(tmp_path, folder)
    assert [row["student_id"] for row in rows] == ["s-alice"]
    assert "warning" not in stderr
    assert reports["alice-conv.json"]["notes"] == []


def test_grade_shows_the_note_to_the_student(tmp_path: Path) -> None:
    code = cohort(tmp_path / "submissions", student_line="")
    result = grader("check", str(WEEK7), str(code))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert 'STUDENT: no student id given: add the line STUDENT = "your id" to your code' in text


def test_a_student_line_that_gives_no_usable_id_says_why(tmp_path: Path) -> None:
    """An id too long for one is not read as "no line": the report asks for the id and says what is wrong with the
    line found."""
    code = cohort(tmp_path / "submissions", student_line=f'STUDENT = "{"s" * 280}"')
    result = grader("check", str(WEEK7), str(code), "--format", "json")
    assert result.returncode == 0, result.stderr
    notes = json.loads(result.stdout)["result"]["notes"]
    assert notes == [
        "STUDENT: the id on your STUDENT line is 280 characters long; a student id has at most 200: write just your "
        'id there, e.g. STUDENT = "s123456", so that this grade is credited to you and added to your answer file '
        "(graded all the same, under the file's name for now)"
    ]
