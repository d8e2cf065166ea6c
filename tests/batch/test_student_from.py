"""``grader batch --student-from REGEX`` (the patterns of docs/batch.md are tested here): who handed a file in comes from its place in the submissions folder (one
folder per student, as Moodle and GitHub Classroom export them, or a name prefix, as Canvas does), not from the id the
file gives, so that nobody can hand in under a classmate's id."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.batch import owner_of, run_batch, student_pattern
from grader.cli import app
from grader.errors import GraderError

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
PER_FOLDER = "^([^/]+)/"
MISTAKE_ID = "student: s-no-pooling"

runner = CliRunner()


def _ids(book: Path) -> dict[str, tuple[str, float, str]]:
    """``{path relative to the folder's parent: (student id, score, notes JSON)}``."""
    with sqlite3.connect(book) as connection:
        rows = connection.execute("SELECT path, student_id, score, result_json FROM submissions").fetchall()
    return {"/".join(Path(path).parts[-2:]): (student, score, result) for path, student, score, result in rows}


def _cohort(folder: Path) -> Path:
    """alice hands in a correct file under bob's id; bob a wrong one under his own; carol code without STUDENT;
    a loose file at the top matches no folder."""
    for name in ("alice", "bob", "carol"):
        (folder / name).mkdir(parents=True)
    (folder / "alice" / "answers.yaml").write_text(
        (SAMPLES / "correct.yaml").read_text(encoding="utf-8").replace("student: s-correct", "student: bob"), encoding="utf-8"
    )
    (folder / "bob" / "answers.yaml").write_text(
        (SAMPLES / "mistake-no-pooling--ex1-c_grad.yaml").read_text(encoding="utf-8").replace(MISTAKE_ID, "student: bob"),
        encoding="utf-8",
    )
    code = (SAMPLES / "code" / "correct.py").read_text(encoding="utf-8")
    (folder / "carol" / "mine.py").write_text("\n".join(line for line in code.splitlines() if not line.startswith("STUDENT")) + "\n", encoding="utf-8")
    shutil.copy(SAMPLES / "correct.yaml", folder / "loose.yaml")
    return folder


def test_the_folder_names_the_student_and_the_instructor_hears_of_other_ids(tmp_path: Path) -> None:
    folder = _cohort(tmp_path / "subs")
    book = tmp_path / "gb.sqlite"
    result = runner.invoke(app, ["batch", str(SHEET), str(folder), "--jobs", "2", "--gradebook", str(book), "--student-from", PER_FOLDER])
    assert result.exit_code == 0, result.output

    ids = _ids(book)
    assert {key: student for key, (student, _, _) in ids.items()} == {
        "alice/answers.yaml": "alice", "bob/answers.yaml": "bob", "carol/mine.py": "carol", "subs/loose.yaml": "s-correct",
    }
    assert ids["alice/answers.yaml"][1] == 1.0 > ids["bob/answers.yaml"][1]  # bob keeps his own grade
    assert "STUDENT:" not in ids["carol/mine.py"][2]  # the folder says who carol is: no request for an id
    assert "credited 1 file(s) to another student than the one they name" in result.output
    assert "alice/answers.yaml: says 'bob', handed in by 'alice'" in result.output
    assert "bob/answers.yaml: says 'bob'" not in result.output
    assert "matched no student id in 1 file path(s)" in result.output and "loose.yaml" in result.output

    csv = tmp_path / "grades.csv"
    report = runner.invoke(app, ["report", str(SHEET), "--gradebook", str(book), "--format", "md", "--out-dir", str(tmp_path / "r"), "--csv", str(csv)])
    assert report.exit_code == 0, report.output
    rows = csv.read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["alice", "bob", "carol", "s-correct"]
    assert "several files" not in report.output  # no student has two files any more


def test_without_it_the_files_own_ids_count_and_a_changed_pattern_regrades(tmp_path: Path) -> None:
    folder = _cohort(tmp_path / "subs")
    book = tmp_path / "gb.sqlite"
    first = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert first.reassigned == [] and first.unmatched == []
    assert _ids(book)["alice/answers.yaml"][0] == "bob"  # what the file says: the impersonation works
    # ... but not in silence: the summary names the files giving bob's id and points to --student-from.
    [conflict] = first.conflicts
    assert conflict.startswith("student 'bob' handed in several files grading the same parts; the one graded last counts")
    described = first.describe()
    assert "1 student id(s) are given by several files grading the same parts" in described
    assert "--student-from" in described and conflict in described
    second = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, student_from=PER_FOLDER)
    assert second.conflicts == []
    # Regraded: the files now credited by their folder (a changed way of crediting, even where the id stays
    # bob's); the loose file matches no folder, as before: unchanged, skipped.
    assert (second.graded, second.skipped) == (3, 1)
    assert _ids(book)["alice/answers.yaml"][0] == "alice"
    third = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, student_from=PER_FOLDER)
    assert (third.graded, third.skipped) == (0, 4)
    assert third.reassigned == [(str((folder / "alice" / "answers.yaml").resolve()), "bob", "alice")]  # still told
    # A pattern that no longer names bob, then none at all: the files concerned go back to the id they give.
    fourth = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, student_from="^(alice|carol)/")
    assert (fourth.graded, fourth.skipped) == (1, 3) and _ids(book)["bob/answers.yaml"][0] == "bob"
    fifth = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (fifth.graded, fifth.skipped) == (2, 2)  # alice's and carol's
    assert {key: student for key, (student, _, _) in _ids(book).items()} == {
        "alice/answers.yaml": "bob", "bob/answers.yaml": "bob", "carol/mine.py": "mine", "subs/loose.yaml": "s-correct",
    }


@pytest.mark.parametrize(
    ("pattern", "relative", "owner"),
    [
        (PER_FOLDER, "alice/answers.yaml", "alice"),
        (PER_FOLDER, "answers.yaml", None),
        # Moodle: "Full Name_12345_assignsubmission_file_/answers.yaml"
        (r"^[^/]*_(?P<id>\d+)_assignsubmission", "Ada Lovelace_81234_assignsubmission_file_/answers.yaml", "81234"),
        # Canvas: "lovelaceada_81234_5550001_answers.yaml", late: "lovelaceada_late_81234_5550001_answers.yaml"
        (r"^[a-z]+_(?:late_)?(\d+)_", "lovelaceada_81234_5550001_answers.yaml", "81234"),
        (r"^[a-z]+_(?:late_)?(\d+)_", "lovelaceada_late_81234_5550001_answers.yaml", "81234"),
        (r"^(?P<id>[^/]*)/", "/answers.yaml", None),  # an empty id is no id
    ],
)
def test_owner_patterns_of_common_exports(pattern: str, relative: str, owner: str | None) -> None:
    assert owner_of(student_pattern(pattern), relative) == owner


@pytest.mark.parametrize(("pattern", "fragment"), [("^([^/]+", "not a regular expression"), ("^[^/]+/", "needs a group"), ("(a)(b)", "needs a group")])
def test_a_pattern_without_one_group_is_refused_before_grading(tmp_path: Path, pattern: str, fragment: str) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    with pytest.raises(GraderError, match=fragment):
        run_batch(SHEET, folder, gradebook_path=tmp_path / "gb.sqlite", progress=False, student_from=pattern)
    command = [sys.executable, "-m", "grader", "batch", str(SHEET), str(folder), "--gradebook", str(tmp_path / "gb.sqlite"), "--student-from", pattern]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 2 and fragment in completed.stderr and "Traceback" not in completed.stderr, completed.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a file system that takes any bytes in names")
def test_folders_named_in_latin_1_stay_two_students(tmp_path: Path) -> None:
    """An old archive's 'Müller' and 'Möller' (Latin-1 bytes, not UTF-8) are two students, as their folders are; each
    byte that is not UTF-8 is kept as \\xNN (replacing both by U+FFFD made them one student, and one grade lost)."""
    import os

    folder = tmp_path / "subs"
    for raw, student in ((b"M\xfcller", "s-a"), (b"M\xf6ller", "s-b")):
        owner = folder / os.fsdecode(raw)
        owner.mkdir(parents=True)
        (owner / "answers.yaml").write_text(
            (SAMPLES / "correct.yaml").read_text(encoding="utf-8").replace("student: s-correct", f"student: {student}"), encoding="utf-8"
        )
    book = tmp_path / "gb.sqlite"
    run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, student_from=PER_FOLDER)
    with sqlite3.connect(book) as connection:
        owners = sorted(row[0] for row in connection.execute("SELECT student_id FROM submissions"))
    assert owners == ["M\\xf6ller", "M\\xfcller"]
    csv = tmp_path / "grades.csv"
    result = runner.invoke(app, ["report", str(SHEET), "--gradebook", str(book), "--out-dir", str(tmp_path / "r"), "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in csv.read_text(encoding="utf-8").splitlines()[1:]] == ["M\\xf6ller", "M\\xfcller"]


def test_a_folder_name_that_is_no_student_id_is_not_one(tmp_path: Path) -> None:
    """Folder names can hold what a student id cannot: a line break, a tab, 250 characters. Such a file keeps the
    id it gives, and the instructor hears of it, as for a path the pattern does not match."""
    folder = tmp_path / "subs"
    for name in ("new\nline", "tab\there", "x" * 250, "dana"):
        (folder / name).mkdir(parents=True)
        shutil.copy(SAMPLES / "correct.yaml", folder / name / "answers.yaml")
    book = tmp_path / "gb.sqlite"
    result = runner.invoke(app, ["batch", str(SHEET), str(folder), "--jobs", "1", "--gradebook", str(book), "--student-from", PER_FOLDER])
    assert result.exit_code == 0, result.output
    assert sorted(student for student, _, _ in _ids(book).values()) == ["dana", "s-correct", "s-correct", "s-correct"]
    assert "matched no student id in 3 file path(s) (or one longer than 200 characters" in result.output
