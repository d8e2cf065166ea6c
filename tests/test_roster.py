"""``--roster``: a course's list of which variant each student was given. An answer file is graded against its
student's variant there, whatever ``seed:`` it names, so a classmate's file with the id changed no longer scores
full marks; a student the roster does not list scores 0 with why. Real roster files and answer files through the
real ``grader grade`` and ``grader batch`` (and the gradebook they write), and rosters that cannot be read."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from grader.batch import run_batch
from grader.cli import app
from grader.errors import InputFileError
from grader.notes import roster_seed_note, wrong_variant_note
from grader.roster import load_roster

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"

runner = CliRunner()


def _roster(folder: Path, text: str, name: str = "roster.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _answer_file(folder: Path, student: str | None, seed: int | None, name: str = "answers.yaml") -> Path:
    """The sample file right for variant 17 (``correct-seed-17.yaml``), naming ``student`` and ``seed`` (None: no line)."""
    data = yaml.safe_load((SAMPLES / "correct-seed-17.yaml").read_text(encoding="utf-8"))
    data.pop("student"), data.pop("seed")
    head = ({"student": student} if student is not None else {}) | ({"seed": seed} if seed is not None else {})
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(head | data, sort_keys=False), encoding="utf-8")
    return path


def _graded(*args: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, ["grade", str(WEEK7), *args, "--format", "json"])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return json.loads(result.stdout)["result"]


def test_each_file_is_graded_against_its_students_variant(tmp_path: Path) -> None:
    """The right answers of variant 17 earn full marks for the student the roster gives 17; the same file under a
    classmate's id (the roster gives them 5) is graded against 5, whatever seed it names, and is told so."""
    roster = _roster(tmp_path, "student,seed,name\ns-17,17,Ada\ns-copy,5,Alan\n")
    own = _graded(str(_answer_file(tmp_path, "s-17", 17)), "--roster", str(roster))
    assert (own["seed"], own["score"], own["error"]) == (17, 1.0, None)
    assert not [note for note in own["notes"] if note.startswith("seed:")]

    copied = _graded(str(_answer_file(tmp_path, "s-copy", 17, "copy.yaml")), "--roster", str(roster), code=0)
    assert copied["seed"] == 5 and copied["score"] < 0.5, copied["score"]
    assert roster_seed_note(5, 17) in copied["notes"]
    unseeded = _graded(str(_answer_file(tmp_path, "s-copy", None, "unseeded.yaml")), "--roster", str(roster))
    assert unseeded["seed"] == 5 and roster_seed_note(5, None) in unseeded["notes"]
    assert "your file has no 'seed:' line" in roster_seed_note(5, None)

    without = _graded(str(_answer_file(tmp_path, "s-copy", 17, "copy.yaml")))  # no roster: the seed the file names
    assert (without["seed"], without["score"]) == (17, 1.0)


def test_answers_for_the_printed_numbers_are_told_to_use_the_students_variant(tmp_path: Path) -> None:
    """The sample file right for the sheet's printed numbers, of a student the roster gives 17: graded against 17,
    and told its answers fit the printed numbers, in the roster's words."""
    roster = _roster(tmp_path, "student,seed\ns-correct,17\n")
    result = _graded(str(SAMPLES / "correct.yaml"), "--roster", str(roster))
    assert result["seed"] == 17 and result["score"] < 0.5
    assert wrong_variant_note(17, from_roster=True) in result["notes"]
    assert "not your variant, 17, which the course's roster gives you" in wrong_variant_note(17, from_roster=True)


@pytest.mark.parametrize(
    ("student", "reason"),
    [
        ("s-unknown", "answers.yaml: the student id 's-unknown' is not on the course's roster, so the variant to grade your answers against is unknown; check the id your file gives ('student')"),
        (None, "answers.yaml: the file names no student, and the course grades each student's answers against their own variant: add your id ('student')"),
    ],
)
def test_a_student_the_roster_does_not_list_scores_0_with_why(tmp_path: Path, student: str | None, reason: str) -> None:
    roster = _roster(tmp_path, "student,seed\ns-17,17\n")
    result = _graded(str(_answer_file(tmp_path, student, 17)), "--roster", str(roster), code=2)
    assert (result["error"], result["score"], result["seed"]) == (reason, 0.0, None)
    assert "roster.csv" not in result["error"] and str(tmp_path) not in result["error"]  # the student's view


def test_a_batch_grades_against_the_roster_and_regrades_whom_a_changed_roster_moves(tmp_path: Path) -> None:
    """A folder graded with a roster stores each file's roster variant; the same command again skips every file;
    after the roster gives one student another variant (and lists one it did not), only their files are graded
    again. With ``--student-from`` the folder names the student whose variant counts."""
    folder = tmp_path / "subs"
    _answer_file(folder, "s-17", 17, "a.yaml")
    _answer_file(folder, "s-copy", 17, "b.yaml")
    _answer_file(folder, "s-late", 17, "c.yaml")
    roster = _roster(tmp_path, "student,seed\ns-17,17\ns-copy,5\n")
    book = tmp_path / "gb.sqlite"

    def rows() -> dict[str, tuple[int | None, float, str | None]]:
        with sqlite3.connect(book) as connection:
            found = connection.execute("SELECT path, seed, score, error FROM submissions").fetchall()
        return {Path(path).name: (seed, score, error) for path, seed, score, error in found}

    first = run_batch(WEEK7, folder, jobs=2, gradebook_path=book, progress=False, roster=load_roster(roster))
    assert (first.graded, first.failed) == (3, 1)  # the student not on the roster: listed as not graded
    stored = rows()
    assert stored["a.yaml"][:2] == (17, 1.0) and stored["b.yaml"][0] == 5 and stored["b.yaml"][1] < 0.5
    assert stored["c.yaml"][:2] == (None, 0.0) and "not on the course's roster" in str(stored["c.yaml"][2])

    again = run_batch(WEEK7, folder, jobs=2, gradebook_path=book, progress=False, roster=load_roster(roster))
    assert (again.graded, again.skipped) == (0, 3)

    _roster(tmp_path, "student,seed\ns-17,17\ns-copy,17\ns-late,17\n")
    moved = run_batch(WEEK7, folder, jobs=2, gradebook_path=book, progress=False, roster=load_roster(roster))
    assert (moved.graded, moved.skipped) == (2, 1)
    assert {name: row[:2] for name, row in rows().items()} == {"a.yaml": (17, 1.0), "b.yaml": (17, 1.0), "c.yaml": (17, 1.0)}

    owned = tmp_path / "owned"
    _answer_file(owned / "alice", "s-17", 17)  # alice hands in s-17's file under s-17's id
    by_folder = _roster(tmp_path, "student,seed\nalice,5\ns-17,17\n", "by-folder.csv")
    result = runner.invoke(app, ["batch", str(WEEK7), str(owned), "--gradebook", str(tmp_path / "owned.sqlite"),
                                 "--student-from", "^([^/]+)/", "--roster", str(by_folder)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "owned.sqlite") as connection:
        [(student, seed, score)] = connection.execute("SELECT student_id, seed, score FROM submissions").fetchall()
    assert (student, seed) == ("alice", 5) and score < 0.5


def test_the_roster_reads_what_course_exports_write(tmp_path: Path) -> None:
    """Columns in any order and case among others, a byte-order mark, semicolons (a European spreadsheet's CSV),
    quoted cells, blank lines and spaces around cells."""
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeffName;SEED ; Student\n\n\"Lovelace; Ada\"; 17 ; s1 \nTuring;+3;s2\n".encode())
    assert dict(load_roster(path).seeds) == {"s1": 17, "s2": 3}
    assert load_roster(path).seed_of(" s1 ") == 17 and load_roster(path).seed_of("s3") is None
    for text in ['"Name, full";student;seed\n"Lovelace, Ada";s1;4\n', "student;seed;name, first\ns1;4;Ada, A\n",
                 "name, first\tstudent\tseed\nAda, A\ts1\t4\n"]:  # the separator that finds both columns counts
        path.write_text(text, encoding="utf-8")
        assert dict(load_roster(path).seeds) == {"s1": 4}, text
    path.write_text("student,seed\r\nJos\u00e9,5\r\n", encoding="utf-8")  # NFC in the roster, NFD in a file (macOS)
    assert load_roster(path).seed_of("Jose\u0301") == 5


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "the roster is empty; expected a header row naming the columns student and seed"),
        ("student,seed\n", None, "the roster lists no student: expected a row (student, seed) after the header"),
        ("name,seed\nx,1\n", 1, "the header row has no column student; expected one column named student and one named seed (found: 'name', 'seed')"),
        ("student,name\nx,1\n", 1, "the header row has no column seed; expected one column named student and one named seed (found: 'student', 'name')"),
        ("student,seed,Seed\nx,1,2\n", 1, "the header row names the column seed twice; expected one column named student and one named seed (found: 'student', 'seed', 'Seed')"),
        ("student,seed\n,4\n", 2, "the row has no student id"),
        ("student,seed\ns1\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got nothing"),
        ("student,seed\ns1,x\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got 'x'"),
        ("student,seed\ns1,-1\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got '-1'"),
        ("student,seed\ns1,1.5\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got '1.5'"),
        ("student,seed\ns1,9223372036854775808\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got '9223372036854775808'"),
        ("student,seed\ns1,١٢\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got '١٢'"),
        ("student,seed\ns1,1\n\ns1,2\n", 4, "the student 's1' is listed twice (first on line 2); keep one"),
        ('student,seed\n"s1\nx",1\n', 2, "the student id 's1\\nx' is not an id (at most 200 characters on one line)"),
        ('student,seed,name\ns1,17,Ada\ns2,3,"Alan Turing\ns3,5,Grace Hopper\n', 3, 'a quote (") opened in this row is never closed'),
        ("student,seed\ns1," + "9" * 5000 + "\n", 2, "the seed of 's1' must be a whole number from 0 to 9223372036854775807, got '" + "9" * 40 + "...'"),
        ("student,seed\nJos\u00e9,1\nJose\u0301,2\n", 3, "the student 'Jos\u00e9' is listed twice (first on line 2); keep one"),
    ],
)
def test_a_roster_that_cannot_be_read_says_where_and_why(tmp_path: Path, text: str, line: int | None, message: str) -> None:
    path = _roster(tmp_path, text)
    with pytest.raises(InputFileError) as caught:
        load_roster(path)
    assert (caught.value.file, caught.value.line, caught.value.message) == (str(path), line, message)


def test_the_command_line_names_the_roster_and_its_line_and_grades_nothing(tmp_path: Path) -> None:
    """A bad roster, a missing one or one that is not UTF-8: one message naming the file (and line), exit 2, no
    traceback, from ``grade`` and ``batch`` alike (a real process, as a course's script runs it)."""
    bad = _roster(tmp_path, "student,seed\ns1,one\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("student,seed\nJos\xe9,1\n".encode("latin-1"))
    answers = _answer_file(tmp_path / "subs", "s1", 1)
    for roster, expected in [
        (bad, f"{bad}:2: the seed of 's1' must be a whole number from 0 to 9223372036854775807, got 'one'"),
        (tmp_path / "missing.csv", f"{tmp_path / 'missing.csv'}: roster: no such file"),
        (latin, f"{latin}:2: roster: not UTF-8 text"),
        (tmp_path, f"{tmp_path}: roster: expected a file, got a folder"),
        (Path("/dev/zero"), "/dev/zero: roster: expected a file, got a device or socket"),
    ]:
        for command in (["grade", str(WEEK7), str(answers)], ["batch", str(WEEK7), str(answers.parent), "--gradebook", str(tmp_path / "gb.sqlite")]):
            completed = subprocess.run(
                [sys.executable, "-m", "grader", *command, "--roster", str(roster)], capture_output=True, text=True, cwd=tmp_path
            )
            assert completed.returncode == 2, completed.stderr
            assert completed.stderr.startswith(f"error: {expected}"), completed.stderr
            assert "Traceback" not in completed.stderr and completed.stdout == ""
    assert not (tmp_path / "gb.sqlite").exists()


def test_output_never_overwrites_the_roster(tmp_path: Path) -> None:
    roster = _roster(tmp_path, "student,seed\ns1,17\n")
    before = roster.read_bytes()
    result = runner.invoke(app, ["grade", str(WEEK7), str(_answer_file(tmp_path, "s1", 17)), "--roster", str(roster), "-o", str(roster)])
    assert result.exit_code != 0 and roster.read_bytes() == before, result.output
    assert f"-o {roster}: is the roster {roster}; choose another file name" in str(result.exception)


def test_code_files_have_no_variant_and_keep_their_grade(tmp_path: Path) -> None:
    """A code file (no variant) is not graded again because of a roster, whatever it lists."""
    from grader.batch import same_variant
    from grader.gradebook import GradedKey
    from grader.roster import Roster

    roster = Roster(path=tmp_path / "r.csv", seeds={"s1": 4})
    stored = GradedKey("hash", None, None, "s1", None)  # graded without a roster
    assert same_variant(stored, tmp_path / "mine.py", roster) and same_variant(stored, tmp_path / "nb.ipynb", roster)
    assert not same_variant(stored, tmp_path / "answers.yaml", roster)
    assert same_variant(stored._replace(roster_variant="4"), tmp_path / "answers.yaml", roster)
    assert not same_variant(stored._replace(roster_variant="5"), tmp_path / "answers.yaml", roster)
    assert same_variant(stored._replace(student_id="s9", roster_variant="unlisted"), tmp_path / "answers.yaml", roster)
    assert same_variant(stored, tmp_path / "answers.yaml", None)


def test_a_roster_given_later_regrades_what_it_changes_and_skips_what_it_does_not(tmp_path: Path) -> None:
    """A folder graded without a roster, then with one: a file whose student the roster does not list loses the
    marks it had for the printed numbers (0, with why); an unreadable file is graded once and then skipped like any
    unchanged file; a folder's owner the roster does not list is told to ask, not to fix the file."""
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", folder / "printed.yaml")  # s-correct, right for the printed numbers, no seed
    (folder / "broken.yaml").write_text("student: s-17\nanswers: [\n", encoding="utf-8")
    _answer_file(folder, "s-17", 17, "own.yaml")
    roster = _roster(tmp_path, "student,seed\ns-17,17\n")
    book = tmp_path / "gb.sqlite"

    def rows() -> dict[str, tuple[float, str | None]]:
        with sqlite3.connect(book) as connection:
            found = connection.execute("SELECT path, score, error FROM submissions").fetchall()
        return {Path(path).name: (score, error) for path, score, error in found}

    before = run_batch(WEEK7, folder, jobs=1, gradebook_path=book, progress=False)
    assert before.graded == 3 and rows()["printed.yaml"][0] == 1.0
    listed = run_batch(WEEK7, folder, jobs=1, gradebook_path=book, progress=False, roster=load_roster(roster))
    assert (listed.graded, listed.skipped) == (3, 0)  # none was graded with this roster before
    score, error = rows()["printed.yaml"]
    assert score == 0.0 and "'s-correct' is not on the course's roster" in str(error)
    again = run_batch(WEEK7, folder, jobs=1, gradebook_path=book, progress=False, roster=load_roster(roster))
    assert (again.graded, again.skipped) == (0, 3)  # the unreadable file too

    owned = tmp_path / "owned"
    _answer_file(owned / "dave", "s-17", 17)
    result = runner.invoke(app, ["batch", str(WEEK7), str(owned), "--gradebook", str(tmp_path / "owned.sqlite"),
                                 "--student-from", "^([^/]+)/", "--roster", str(roster)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "owned.sqlite") as connection:
        [(error,)] = connection.execute("SELECT error FROM submissions").fetchall()
    assert error == (
        "answers.yaml: the student 'dave' is not on the course's roster, so the variant to grade your answers against "
        "is unknown; ask your instructor"
    )
