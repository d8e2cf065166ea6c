"""A submissions folder as students and archives leave it: odd names, odd strings, links, pipes, unreadable and
changing files. Whatever is in it, a batch grades every real submission once and never stops."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from grader import batch as batch_module
from grader import gradebook as gradebook_module
from grader.batch import run_batch
from grader.errors import GraderError, InputFileError
from grader.gradebook import Gradebook
from grader.submission.answer_file import read_bytes

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
CORRECT = ROOT / "submissions" / "week7" / "correct.yaml"


def _rows(book: Path) -> dict[str, tuple[str, str | None]]:
    with Gradebook(book, read_only=True) as gradebook:
        return {row.submission: (row.student_id, row.error) for row in gradebook.rows("week7")}


def test_odd_strings_names_links_and_pipes_do_not_stop_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "ok.yaml")
    # A lone surrogate, spelled in JSON: neither a gradebook row nor a report can hold it as such.
    (folder / "surrogate.json").write_text('{"student": "s-\\ud800", "answers": {"ex9\\ud800": {"a": 1}}}')
    # A file name that is not UTF-8, as unzip leaves names from other systems.
    os.rename(shutil.copy(CORRECT, folder / "latin.yaml"), os.fsencode(folder) + b"/caf\xe9.yaml")
    os.symlink("loop-b.yaml", folder / "loop-a.yaml")
    os.symlink("loop-a.yaml", folder / "loop-b.yaml")
    os.symlink("ok.yaml", folder / "alias.yaml")  # the same submission through a link: graded once, as ok.yaml
    os.symlink("/proc/self/mem", folder / "outside.yaml")  # out of the folder: graded unread
    shutil.copy(CORRECT, folder / "vanishing.yaml")  # found, but gone when the batch reads it
    os.mkfifo(folder / "pipe.yaml")  # never opened
    book = tmp_path / "gb.sqlite"
    real_sha256 = batch_module.file_sha256

    def vanished(path: Path) -> str:
        if path.name == "vanishing.yaml":
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_sha256(path)

    monkeypatch.setattr(batch_module, "file_sha256", vanished)
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)

    rows = _rows(book)
    assert sorted(rows) == sorted(["ok.yaml", "surrogate.json", "caf\ufffd.yaml", "outside.yaml", "vanishing.yaml"])
    assert (summary.graded, summary.grader_failures) == (5, 0)
    assert rows["ok.yaml"] == ("s-correct", None)
    assert rows["surrogate.json"][0] == "s-\ufffd"
    assert rows["caf\ufffd.yaml"][0] == "s-correct"
    assert rows["outside.yaml"][1] == (
        "outside.yaml: a symbolic link to a file outside the submissions folder; it was not read (hand in the file itself)"
    )
    assert "could not be read" in (rows["vanishing.yaml"][1] or "")
    # the entries that are no files are said, not graded (a broken upload must not go unnoticed)
    assert [Path(key).name for key in summary.not_files] == ["loop-a.yaml", "loop-b.yaml", "pipe.yaml"]
    assert "3 entries named like submissions are not files (a dangling link, a link loop, a FIFO?) and not graded:" in summary.describe()
    again = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (again.skipped, again.grader_failures) == (3, 0)  # the link and the vanished file again, nothing else


def test_a_file_the_batch_could_not_read_fails_every_part_it_answers(tmp_path: Path) -> None:
    """A link out of the folder, or a code file that cannot be read, is a zero on every part a file of its kind
    answers, as any unusable file is: a CI's JUnit report lists each part as failed (it was an empty suite with
    no failures, which a CI reads as passing), and its total is out of the parts' points (it was 0/0)."""
    import xml.etree.ElementTree as ElementTree

    from typer.testing import CliRunner

    from grader.cli import app
    from grader.spec import load_sheet

    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "ok.yaml")
    outside = tmp_path / "host" / "answers.yaml"
    outside.parent.mkdir()
    shutil.copy(CORRECT, outside)
    os.symlink(outside, folder / "outside.yaml")
    os.symlink(outside, folder / "outside.py")  # a code file's link: the code parts
    book, reports = tmp_path / "gb.sqlite", tmp_path / "junit"
    run = CliRunner().invoke(
        app, ["batch", str(SHEET), str(folder), "--jobs", "1", "--gradebook", str(book), "--format", "junit", "--out-dir", str(reports)]
    )
    assert run.exit_code == 0, run.output
    sheet = load_sheet(SHEET)
    code_parts = {f"{e.id}.{p.id}" for e, p in sheet.parts() if p.answer.type == "code"}
    answer_parts = {f"{e.id}.{p.id}" for e, p in sheet.parts()} - code_parts
    failed_suites = []  # the case names of each report all of whose cases failed
    for report in reports.iterdir():
        root = ElementTree.parse(report).getroot()
        cases = (root if root.tag == "testsuite" else root.find("testsuite")).findall("testcase")
        if all(case.find("failure") is not None or case.find("error") is not None for case in cases):
            # classname is <student>.<exercise>
            failed_suites.append({f"{case.get('classname').rsplit('.', 1)[1]}.{case.get('name')}" for case in cases})
    assert len(failed_suites) == 2, failed_suites
    assert any(suite >= answer_parts for suite in failed_suites) and any(suite >= code_parts for suite in failed_suites)
    with Gradebook(book, read_only=True) as gradebook:
        totals = {row.submission: row.points_possible for row in gradebook.rows("week7")}
    assert totals["outside.yaml"] == totals["ok.yaml"] > 0 and totals["outside.py"] > 0

def test_a_link_out_of_the_folder_never_shows_its_target(tmp_path: Path) -> None:
    """A link to a host file (an archive can carry one) is never read: not by batch, report, or grade on the folder,
    even when its target would be a Python file with a syntax error, whose line a report would quote."""
    from typer.testing import CliRunner

    from grader.cli import app

    secret = tmp_path / "host" / "secret.py"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:secret-8c1e:/root:/bin/bash\n")
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "ok.yaml")
    os.symlink(secret, folder / "passwd.py")
    runner = CliRunner()
    book = tmp_path / "gb.sqlite"
    batch = runner.invoke(app, ["batch", str(SHEET), str(folder), "--jobs", "1", "--gradebook", str(book)])
    assert batch.exit_code == 0, batch.output
    report = runner.invoke(app, ["report", str(SHEET), "--gradebook", str(book), "--format", "md", "--out-dir", str(tmp_path / "r")])
    assert report.exit_code == 0, report.output
    texts = [path.read_text(encoding="utf-8") for path in (tmp_path / "r").iterdir()]
    assert len(texts) == 2 and any("outside the submissions folder" in text for text in texts)
    graded = runner.invoke(app, ["grade", str(SHEET), str(folder), "--format", "md"])
    assert graded.exit_code == 0, graded.output
    assert "outside the submissions folder" in graded.output
    for text in [*texts, graded.output, batch.output, report.output, book.read_bytes().decode("utf-8", "replace")]:
        assert "secret-8c1e" not in text


def test_a_file_changed_while_the_batch_runs_keeps_the_hash_of_what_was_graded(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    target = folder / "late.yaml"
    shutil.copy(CORRECT, target)
    book = tmp_path / "gb.sqlite"
    original = target.read_bytes()
    edited = original.replace(b"student: s-correct", b"student: s-edited")
    assert edited != original

    def edit_then_grade(spec: Path, path: Path):  # noqa: ANN202 -- the student saves again after the batch hashed
        from grader.grading import grade_file

        path.write_bytes(edited)
        return grade_file(spec, path)

    run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, grade_fn=edit_then_grade)
    assert _rows(book)["late.yaml"][0] == "s-edited"
    target.write_bytes(original)  # back to what the batch hashed first: not what was graded, so graded again
    again = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (again.graded, again.skipped) == (1, 0)
    assert _rows(book)["late.yaml"][0] == "s-correct"


@pytest.mark.parametrize("replaced_by", ["nothing", "a folder"])
def test_a_file_gone_while_the_batch_grades_it_is_graded_again_when_it_is_back(tmp_path: Path, replaced_by: str) -> None:
    """A file moved away (an rsync or LMS sync, say) after the batch hashed it scores 0 with the reason; its row
    kept the hash of the bytes it no longer held, so the next run took it, back unchanged, for graded and kept 0."""
    folder = tmp_path / "subs"
    folder.mkdir()
    target = folder / "synced.yaml"
    shutil.copy(CORRECT, target)
    saved = tmp_path / "saved.yaml"
    book = tmp_path / "gb.sqlite"

    def move_away_then_grade(spec: Path, path: Path):  # noqa: ANN202 -- the file leaves after the batch hashed it
        from grader.grading import grade_file

        path.rename(saved)
        if replaced_by == "a folder":
            path.mkdir()
        return grade_file(spec, path)

    first = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, grade_fn=move_away_then_grade)
    assert (first.graded, first.failed) == (1, 1)
    assert "synced.yaml" in (_rows(book)["synced.yaml"][1] or "")
    if replaced_by == "a folder":
        target.rmdir()
    saved.rename(target)  # back, byte for byte
    again = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (again.graded, again.skipped, again.failed) == (1, 0, 0)
    assert _rows(book)["synced.yaml"] == ("s-correct", None)


def test_a_file_over_the_size_limit_is_graded_once_while_it_is_unchanged(tmp_path: Path) -> None:
    """Refused for its size, it is still the same file: the next run skips it (it had been graded again, and listed
    as not gradable, on every run)."""
    import os

    from grader.submission.answer_file import MAX_FILE_BYTES

    folder = tmp_path / "subs"
    folder.mkdir()
    big = folder / "big.yaml"
    big.write_bytes(b"student: s1\n")
    os.truncate(big, MAX_FILE_BYTES + 10)
    book = tmp_path / "gb.sqlite"
    first = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (first.graded, first.failed) == (1, 1)
    again = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert (again.graded, again.skipped) == (0, 1)


def test_a_gradebook_held_by_another_process_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gradebook_module, "LOCK_SECONDS", 0.2)
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "ok.yaml")
    book = tmp_path / "gb.sqlite"
    Gradebook(book).close()
    holder = sqlite3.connect(book, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(GraderError, match="another process has held it"):
            run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_reading_a_gradebook_changes_nothing_and_names_a_damaged_row(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    before = other.read_bytes()
    with pytest.raises(GraderError, match="not a grader gradebook"):
        Gradebook(other, read_only=True)
    assert other.read_bytes() == before and not Path(f"{other}-wal").exists()
    with pytest.raises(GraderError, match="does not exist"):
        Gradebook(tmp_path / "missing.sqlite", read_only=True)

    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "ok.yaml")
    book = tmp_path / "gb.sqlite"
    run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    connection = sqlite3.connect(book)
    connection.execute("UPDATE submissions SET result_json = '{\"unexpected\": 1}'")
    connection.commit()
    connection.close()
    with Gradebook(book, read_only=True) as gradebook, pytest.raises(GraderError, match=r"stored result of .*ok\.yaml cannot be read"):
        list(gradebook.results("week7"))


def test_a_pipe_or_device_given_as_a_submission_is_refused_not_read(tmp_path: Path) -> None:
    pipe = tmp_path / "answers.yaml"
    os.mkfifo(pipe)
    with pytest.raises(InputFileError, match="device, pipe or socket"):
        read_bytes(pipe)
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputFileError, match="device, pipe or socket"):
        read_bytes(link)


def test_a_sheet_edited_while_the_batch_runs_does_not_mix_versions(tmp_path: Path) -> None:
    """Workers load the sheet themselves: one edited meanwhile would grade some files against another version."""
    sheet = tmp_path / "week7.yaml"
    shutil.copy(SHEET, sheet)
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "ok.yaml")
    book = tmp_path / "gb.sqlite"

    def edit_then_grade(spec: Path, path: Path):  # noqa: ANN202
        from grader.grading import grade_file

        spec.write_text(spec.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        return grade_file(spec, path)

    summary = run_batch(sheet, folder, jobs=1, gradebook_path=book, progress=False, grade_fn=edit_then_grade)
    assert summary.grader_failures == 1
    [(_path, message)] = summary.failures
    assert "changed while the batch ran" in message


def test_a_graded_file_replaced_by_a_link_loop_is_forgotten_like_a_dangling_link(tmp_path: Path) -> None:
    """A link loop is no submission, as a dangling link is none: the result of the file it replaced is forgotten
    (it was kept for ever, the loop being listed as unreadable)."""
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        shutil.copy(CORRECT, folder / name)
    book = tmp_path / "gb.sqlite"
    run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    (folder / "a.yaml").unlink()
    os.symlink("a.yaml", folder / "a.yaml")  # a loop
    (folder / "b.yaml").unlink()
    os.symlink("gone.yaml", folder / "b.yaml")  # dangling
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False)
    assert sorted(_rows(book)) == ["c.yaml"]
    assert summary.unlisted == [] and sorted(Path(key).name for key in summary.forgotten) == ["a.yaml", "b.yaml"]
