"""What ``batch``, ``report`` and ``stats`` write, and what they must never overwrite or mix up: the gradebook, a
student's file, results of another version of the sheet; and what a course's log must name (files that could not
be graded, scores below ``--fail-under``). Real sheets, real files, the real command line (in this process)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.batch.helpers import run_grader

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def graded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """(submissions folder, gradebook): three week-7 samples, one of them unreadable, graded by ``grader batch``."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in ("correct.yaml", "partly-correct.yaml", "invalid-wrong-types.json"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "answers.json").write_bytes((SAMPLES / "correct.yaml").read_bytes().replace(b"s-correct", b"s-json"))
    book = tmp_path / "book.sqlite"
    code, _, err = run_grader(monkeypatch, capsys, "batch", SHEET, folder, "--jobs", "1", "--gradebook", book)
    assert code == 0, err
    return folder, book


@pytest.mark.parametrize(
    "command",
    [["report", "--csv", "{book}"], ["report", "--csv", "{book}-wal"], ["stats", "--html", "{book}"]],
    ids=["report-csv-onto-the-gradebook", "report-csv-onto-its-wal", "stats-html-onto-the-gradebook"],
)
def test_an_output_option_never_overwrites_the_gradebook(
    graded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    _, book = graded
    before = _digest(book)
    args = [part.format(book=book) for part in command]
    code, _, err = run_grader(monkeypatch, capsys, args[0], SHEET, "--gradebook", book, "--out-dir", tmp_path / "r", *args[1:]) \
        if args[0] == "report" else run_grader(monkeypatch, capsys, args[0], SHEET, "--gradebook", book, *args[1:])
    assert code == 2 and "is the gradebook" in err, err
    assert _digest(book) == before
    with sqlite3.connect(book) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 4


def test_report_never_replaces_a_student_s_file(
    graded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, book = graded
    before = {path.name: _digest(path) for path in folder.iterdir()}
    code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", folder)
    assert code == 2 and "would replace the submission" in err and "answers.json" in err, err
    assert {path.name: _digest(path) for path in folder.iterdir()} == before  # nothing written at all


def test_report_refuses_an_out_dir_inside_the_submissions_folder(
    graded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As batch refuses it: the next batch would grade the reports as submissions (an empty id and 0 points each)."""
    folder, book = graded
    code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", folder / "reports")
    assert code == 2 and f"--out-dir {folder / 'reports'}: is inside the folder of the submissions ({folder})" in err, err
    assert not (folder / "reports").exists()
    code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", folder.parent / "reports")
    assert code == 0, err

@pytest.mark.parametrize("inside", [".", "reports"], ids=["the-folder-itself", "a-folder-inside-it"])
def test_batch_refuses_an_out_dir_inside_the_submissions_before_grading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", folder / "answers.json")
    before = _digest(folder / "answers.json")
    book = tmp_path / "book.sqlite"
    code, _, err = run_grader(
        monkeypatch, capsys, "batch", SHEET, folder, "--gradebook", book, "--format", "json", "--out-dir", folder / inside
    )
    assert code == 2 and "is inside the submissions folder" in err, err
    assert _digest(folder / "answers.json") == before and not book.exists()
    assert sorted(path.name for path in folder.iterdir()) == ["answers.json"]


def test_batch_names_the_files_that_could_not_be_graded_and_those_below_fail_under(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in ("correct.yaml", "partly-correct.yaml"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "broken.yaml").write_text("student: s-broken\nanswers: [\n", encoding="utf-8")
    code, out, err = run_grader(monkeypatch, capsys, "batch", SHEET, folder, "--jobs", "1", "--gradebook", tmp_path / "b.sqlite", "--fail-under", "0.9")
    assert code == 1, err
    unreadable = out.split("1 could not be graded (0 points, with the reason in their report):\n", 1)[1].splitlines()[0]
    assert unreadable.startswith(f"  {folder.resolve() / 'broken.yaml'}: broken.yaml:") and "not valid YAML" in unreadable
    below = [line for line in err.splitlines() if "is below --fail-under 0.9" in line]
    assert sorted(line.split(": score ")[0] for line in below) == sorted(
        str(folder.resolve() / name) for name in ("partly-correct.yaml", "broken.yaml")
    )
    assert "2 score(s) below --fail-under 0.9" in err


def test_stats_counts_only_results_of_this_version_of_the_sheet(
    graded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As ``report`` does: an edited sheet's stats never divide old points by the new total."""
    folder, book = graded
    edited = tmp_path / "week7.yaml"
    text = SHEET.read_text(encoding="utf-8")
    edited.write_text(text + "\n# edited\n", encoding="utf-8")
    code, _, err = run_grader(monkeypatch, capsys, "stats", edited, "--gradebook", book)
    assert code == 2 and "graded with another version of the sheet" in err, err

    newer = tmp_path / "newer"
    newer.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", newer / "again.yaml")
    code, _, err = run_grader(monkeypatch, capsys, "batch", edited, newer, "--jobs", "1", "--gradebook", book)
    assert code == 0, err
    code, out, err = run_grader(monkeypatch, capsys, "stats", edited, "--gradebook", book)
    assert code == 0, err
    assert "4 result(s) for sheet 'week7' were graded with another version of the sheet" in err
    assert out.splitlines()[0].endswith(" -- 1 submission"), out  # the newer one only


def test_report_csv_leaves_out_what_the_grader_failed_on_and_says_so(
    graded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, book = graded
    with sqlite3.connect(book) as conn:  # as a dead worker leaves it: no student, no parts, graded again next run
        conn.execute("UPDATE submissions SET grader_failed = 1 WHERE path LIKE '%partly-correct.yaml'")
    csv = tmp_path / "grades.csv"
    code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--out-dir", tmp_path / "r", "--csv", csv)
    assert code == 0, err
    assert "1 file(s) left out of" in err and "the grader itself failed on them" in err
    rows = csv.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 3 and not any("partly-correct.yaml" in row for row in rows)  # header, the 3 others


def test_a_rerun_forgets_files_deleted_or_renamed_in_the_folder_and_keeps_other_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, other = tmp_path / "submissions", tmp_path / "code"
    folder.mkdir()
    other.mkdir()
    for name in ("correct.yaml", "partly-correct.yaml", "missing-parts.yaml"):
        shutil.copy(SAMPLES / name, folder / name)
    shutil.copy(SAMPLES / "code" / "correct.py", other / "correct.py")
    book = tmp_path / "book.sqlite"
    for graded in (folder, other):
        code, _, err = run_grader(monkeypatch, capsys, "batch", SHEET, graded, "--jobs", "1", "--gradebook", book)
        assert code == 0, err
    (folder / "missing-parts.yaml").unlink()
    (folder / "partly-correct.yaml").rename(folder / "renamed.yaml")

    code, out, err = run_grader(monkeypatch, capsys, "batch", SHEET, folder, "--jobs", "1", "--gradebook", book)
    assert code == 0, err
    listed = out.split("forgot the results of 2 file(s) no longer in the folder (deleted or renamed since):\n", 1)[1].splitlines()[:2]
    assert sorted(listed) == sorted(f"  {folder.resolve() / name}" for name in ("missing-parts.yaml", "partly-correct.yaml"))
    with sqlite3.connect(book) as conn:
        paths = sorted(Path(row[0]).name for row in conn.execute("SELECT path FROM submissions"))
        orphans = conn.execute("SELECT COUNT(*) FROM parts WHERE submission_id NOT IN (SELECT id FROM submissions)").fetchone()[0]
    assert paths == ["correct.py", "correct.yaml", "renamed.yaml"] and orphans == 0
    code, out, err = run_grader(monkeypatch, capsys, "stats", SHEET, "--gradebook", book)
    assert code == 0 and out.splitlines()[0].endswith(" -- 3 submissions"), out


def test_stats_lists_the_parts_no_file_graded_with_n_0(
    graded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No code was handed in yet: the code parts are in the table (n 0, n/a), not missing from it."""
    _, book = graded
    code, out, err = run_grader(monkeypatch, capsys, "stats", SHEET, "--gradebook", book)
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("ex3.code_conv2d "))
    assert row.split()[1:] == ["4", "0", "n/a", "n/a", "n/a", "n/a"], row
    assert "ex3.code_conv2d: discrimination undefined: no file graded this part" in out


def test_a_folder_that_cannot_be_listed_is_neither_graded_nor_forgotten_and_an_empty_folder_forgets_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from grader.batch import run_batch

    folder = tmp_path / "subs"
    for student, sample in (("alice", "correct.yaml"), ("bob", "missing-parts.yaml")):
        (folder / student).mkdir(parents=True)
        shutil.copy(SAMPLES / sample, folder / student / sample)
    book = tmp_path / "book.sqlite"
    assert run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False).graded == 2

    real_scandir = os.scandir

    def bob_is_unreadable(path: object) -> object:  # as `chmod 000 subs/bob` is for anyone but root
        if str(path).endswith("bob"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", bob_is_unreadable)
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    monkeypatch.undo()
    assert summary.forgotten == [] and summary.unlisted == [str(folder.resolve() / "bob")]
    assert "could not be read (no permission?); what they hold was neither graded nor forgotten" in summary.describe()
    with sqlite3.connect(book) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 2

    shutil.rmtree(folder)
    folder.mkdir()  # an unmounted drive looks like this: no submission at all
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert summary.total == 0 and summary.forgotten == []
    with sqlite3.connect(book) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 2


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="needs a file system that takes any bytes in names")
def test_a_name_with_a_non_utf8_byte_and_one_spelling_it_out_are_two_submissions(tmp_path: Path) -> None:
    import os

    from grader.batch import run_batch

    folder = tmp_path / "subs"
    folder.mkdir()
    text = (SAMPLES / "correct.yaml").read_text(encoding="utf-8")
    (folder / os.fsdecode(b"caf\xe9.yaml")).write_text(text.replace("s-correct", "s-byte"), encoding="utf-8")
    (folder / "caf\\xe9.yaml").write_text(text.replace("s-correct", "s-spelled"), encoding="utf-8")
    book = tmp_path / "book.sqlite"
    for _ in range(2):  # the second run skips both: nothing overwrites the other
        summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (summary.total, summary.skipped) == (2, 2)
    with sqlite3.connect(book) as conn:
        rows = dict(conn.execute("SELECT path, student_id FROM submissions"))
    base = str(folder.resolve())
    assert rows == {f"{base}/caf\\xe9.yaml": "s-byte", f"{base}/caf\\x5cxe9.yaml": "s-spelled"}


def test_report_pairs_names_and_reports_from_one_state_while_a_batch_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch commits a late file between the report's reading of the rows (for the names) and of the Results: each
    report still goes under its own student's name (it went under the next student's), from one snapshot."""
    import grader.gradebook
    from grader.batch import run_batch

    folder = tmp_path / "subs"
    for student, sample in (("bob", "correct.yaml"), ("carol", "missing-parts.yaml")):
        (folder / student).mkdir(parents=True)
        shutil.copy(SAMPLES / sample, folder / student / "answers.yaml")
    book = tmp_path / "book.sqlite"
    run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    (folder / "aaron").mkdir()
    shutil.copy(SAMPLES / "mistake-average-pooling--ex3-b_pool.yaml", folder / "aaron" / "answers.yaml")
    read_results = grader.gradebook.Gradebook.results

    def a_batch_commits_first(self: grader.gradebook.Gradebook, sheet: str):  # type: ignore[no-untyped-def]
        if self.read_only:
            run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
        return read_results(self, sheet)

    monkeypatch.setattr(grader.gradebook.Gradebook, "results", a_batch_commits_first)
    out_dir = tmp_path / "reports"
    code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", out_dir)
    assert code == 0, err
    import json

    written = {path.name: json.loads(path.read_text(encoding="utf-8"))["result"]["student_id"] for path in out_dir.iterdir()}
    assert written == {"s-correct--answers.json": "s-correct", "s-missing--answers.json": "s-missing"}


def test_report_refuses_only_the_folders_batches_graded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two sections graded into one gradebook: a report folder next to them is fine (the common folder of their
    files held it, a review found), one inside a section is not; in a folder of one student's files too."""
    course = tmp_path / "course"
    book = tmp_path / "book.sqlite"
    for section in ("secA", "secB"):
        (course / section / "alice").mkdir(parents=True)
        shutil.copy(SAMPLES / "correct.yaml", course / section / "alice" / "answers.yaml")
        code, _, err = run_grader(monkeypatch, capsys, "batch", SHEET, course / section, "--jobs", "1", "--gradebook", book)
        assert code == 0, err
    code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", course / "reports")
    assert code == 0, err
    for inside in (course / "secA" / "reports", course / "secB" / "alice" / "reports"):
        code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", inside)
        assert code == 2 and "is inside the folder of the submissions" in err, err


def test_report_guards_the_files_of_a_gradebook_from_before_folders_were_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """secA graded before the gradebook kept its folders, secB after: secA's files still guard their folder (the
    recorded secB alone let a report into secA, a review found); and a folder with a backslash in its name."""
    course = tmp_path / "course"
    book = tmp_path / "book.sqlite"
    for section in ("secA", "sec\\B"):
        (course / section).mkdir(parents=True)
        shutil.copy(SAMPLES / "correct.yaml", course / section / "answers.yaml")
        code, _, err = run_grader(monkeypatch, capsys, "batch", SHEET, course / section, "--jobs", "1", "--gradebook", book)
        assert code == 0, err
        if section == "secA":  # as a grader from before wrote it
            with sqlite3.connect(book) as connection:
                connection.execute("DELETE FROM meta WHERE key = 'submission_folders'")
    for inside in (course / "secA" / "reports", course / "sec\\B" / "reports"):
        code, _, err = run_grader(monkeypatch, capsys, "report", SHEET, "--gradebook", book, "--format", "json", "--out-dir", inside)
        assert code == 2 and "is inside the folder of the submissions" in err, err
