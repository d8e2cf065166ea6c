"""Batch grading with a fake grading function: discovery, skipping, regrading, and failures that stay local."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.batch import GRADER_FAULT, BatchSummary, find_submissions, run_batch
from grader.errors import GraderError
from grader.gradebook import Gradebook
from tests.batch.helpers import fake_grade, make_fake_cohort, write_fake_spec, write_fake_submission


def test_find_submissions_is_recursive_sorted_and_skips_hidden_and_foreign_files(tmp_path: Path) -> None:
    for name in [
        "b.yaml", "a.json", "sub/c.py", "sub/d.ipynb", "sub/e.yml", "Z.JSON",
        ".hidden.yaml", ".git/x.json", "sub/.ipynb_checkpoints/d.ipynb", "notes.txt", "gb.sqlite",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "folder.yaml").mkdir()
    found = find_submissions(tmp_path, exclude=[tmp_path / "gb.sqlite"])
    assert [f.path.relative_to(tmp_path).as_posix() for f in found] == [
        "Z.JSON", "a.json", "b.yaml", "sub/c.py", "sub/d.ipynb", "sub/e.yml",
    ]
    with pytest.raises(GraderError, match="does not exist"):
        find_submissions(tmp_path / "nowhere")


def test_a_batch_grades_everything_once_then_skips_what_did_not_change(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    paths = make_fake_cohort(folder, 40)
    gradebook_path = tmp_path / "gb.sqlite"

    first = run_batch(spec, folder, jobs=2, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade)
    assert (first.total, first.graded, first.skipped, first.failed) == (40, 40, 0, 0)
    assert first.sheet_id == "fake-sheet" and first.rate > 0
    assert sorted(first.graded_paths) == sorted(str(p.resolve()) for p in paths)
    assert sorted(r.student_id for r in first.results()) == [f"s{i:04d}" for i in range(40)]

    again = run_batch(spec, folder, jobs=2, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade)
    assert (again.graded, again.skipped) == (0, 40)

    write_fake_submission(paths[7], "s0007", {"ex1.a": 1.0})
    changed = run_batch(spec, folder, jobs=1, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade)
    assert (changed.graded, changed.skipped) == (1, 39)
    with Gradebook(gradebook_path) as gradebook:
        assert gradebook.count() == 40
        assert [p.part_key for p in gradebook.part_rows("fake-sheet") if p.path == str(paths[7].resolve())] == ["ex1.a"]

    forced = run_batch(
        spec, folder, jobs=2, gradebook_path=gradebook_path, regrade=True, progress=False, grade_fn=fake_grade
    )
    assert (forced.graded, forced.skipped) == (40, 0)
    spec.write_text(spec.read_text() + "# a comment changes the spec's hash\n")
    new_spec = run_batch(spec, folder, jobs=2, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade)
    assert new_spec.graded == 40
    with Gradebook(gradebook_path) as gradebook:
        rows = list(gradebook.rows())
        assert len(rows) == 40 and {r.spec_hash for r in rows} == {new_spec.spec_hash}


def test_a_grader_exception_is_recorded_as_failed_and_graded_again_next_time(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    make_fake_cohort(folder, 20)
    buggy = write_fake_submission(folder / "buggy.json", "bug", {"ex1.a": 1.0}, crash=True)
    gradebook_path = tmp_path / "gb.sqlite"

    summary = run_batch(spec, folder, jobs=2, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade)
    assert (summary.graded, summary.failed, summary.grader_failures) == (21, 1, 1)
    [(failed_path, message)] = summary.failures
    assert failed_path == str(buggy.resolve())
    assert "RuntimeError: fake grader bug on bug" in message and "helpers.py" in message
    with Gradebook(gradebook_path) as gradebook:
        stored = gradebook.result(failed_path, "fake-sheet")
        # The student hears a fixed sentence; the exception, with the grader's file and line, is the instructor's.
        assert stored is not None and stored.error == GRADER_FAULT and stored.points_earned == 0
        assert stored.submission == "buggy.json"

    retry = run_batch(spec, folder, jobs=2, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade)
    assert (retry.graded, retry.skipped, retry.grader_failures) == (1, 20, 1)


def test_a_worker_that_dies_costs_only_its_own_submission(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    paths = make_fake_cohort(folder, 30)
    killer = write_fake_submission(folder / "group1" / "s0010-killer.json", "killer", {}, die=True)
    gradebook_path = tmp_path / "gb.sqlite"

    summary = run_batch(
        spec, folder, jobs=2, gradebook_path=gradebook_path, progress=False, grade_fn=fake_grade, chunk_size=4
    )
    assert (summary.graded, summary.failed) == (31, 1)
    assert [path for path, _ in summary.failures] == [str(killer.resolve())]
    assert "process died" in summary.failures[0][1]
    with Gradebook(gradebook_path) as gradebook:
        rows = {row.path: row for row in gradebook.rows()}
        assert len(rows) == 31
        assert all(rows[str(p.resolve())].error is None for p in paths)
        stored = [json.loads(p.read_text())["fractions"] for p in paths]
        assert [rows[str(p.resolve())].points_earned for p in paths] == [
            pytest.approx(sum({"ex1.a": 2.0, "ex1.b": 1.0, "ex2.a": 3.0}[k] * f for k, f in s.items())) for s in stored
        ]


def test_misuse_is_a_grader_error_naming_the_argument(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    with pytest.raises(GraderError, match="nowhere"):
        run_batch(spec, tmp_path / "nowhere", gradebook_path=tmp_path / "gb.sqlite", grade_fn=fake_grade)
    with pytest.raises(GraderError, match="missing.yaml"):
        run_batch(tmp_path / "missing.yaml", tmp_path, gradebook_path=tmp_path / "gb.sqlite", grade_fn=fake_grade)
    with pytest.raises(GraderError, match="jobs"):
        run_batch(spec, tmp_path, jobs=0, grade_fn=fake_grade)
    with pytest.raises(GraderError, match="scheduler"):
        run_batch(spec, tmp_path, scheduler="tcp://localhost:1", grade_fn=fake_grade)


def test_an_empty_folder_grades_nothing(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    (tmp_path / "empty").mkdir()
    summary = run_batch(
        spec, tmp_path / "empty", gradebook_path=tmp_path / "gb.sqlite", progress=False, grade_fn=fake_grade
    )
    assert (summary.total, summary.graded, summary.rate) == (0, 0, 0.0)


@pytest.mark.parametrize(("graded", "elapsed", "shown"), [(9, 13.5, "s, 0.7/s on 1 local worker"), (3000, 12.0, "s, 250/s on 1 local worker"), (0, 1.0, "unchanged; 1.0 s\n")])
def test_the_summary_shows_slow_rates_with_a_decimal(graded: int, elapsed: float, shown: str) -> None:
    """... and names no rate and no workers when nothing was graded (no worker was started or reached)."""
    summary = BatchSummary(Path("s.yaml"), Path("gb.sqlite"), "week7", "hash", total=graded, graded=graded, elapsed=elapsed)
    assert shown in summary.describe()


def test_the_summary_describes_itself_and_knows_scores_below_a_threshold(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    write_fake_submission(folder / "a.json", "a", {"ex1.a": 1.0, "ex1.b": 1.0})
    write_fake_submission(folder / "b.json", "b", {"ex1.a": 1.0, "ex1.b": 0.0})  # 2 of 3 points
    write_fake_submission(folder / "c.json", "c", {}, crash=True)
    summary = run_batch(spec, folder, jobs=1, gradebook_path=tmp_path / "gb.sqlite", progress=False, grade_fn=fake_grade)
    text = summary.describe()
    assert "3 submissions found; graded 3 (1 could not be graded), skipped 0" in text
    assert "the grader itself failed on 1" in text and "c.json" in text and str(tmp_path / "gb.sqlite") in text
    assert summary.below(0.01) and not summary.below(0.0)  # the failed one scores 0
    write_fake_submission(folder / "c.json", "c", {"ex1.a": 1.0})
    rerun = run_batch(spec, folder, jobs=1, gradebook_path=tmp_path / "gb.sqlite", progress=False, grade_fn=fake_grade)
    assert (rerun.graded, rerun.skipped) == (1, 2)
    # Scores now 1, 2/3 and 1; the skipped submissions count too.
    assert rerun.below(0.7) and not rerun.below(0.6)


def test_gradebook_keys_are_resolved_paths_without_resolving_every_file(tmp_path: Path) -> None:
    """A file's key is its resolved absolute path (a symbolic link's, its target's, unless the link leads out of the
    folder: then its own path, marked outside); folders behind links are not
    entered, as before the discovery stopped resolving each file."""
    from grader.batch import _discover

    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "target.json").write_text("x")
    (outside / "deep" / "hidden-by-link.json").write_text("x")
    folder = tmp_path / "subs"
    (folder / "week" / "a").mkdir(parents=True)
    (folder / "week" / "a" / "plain.yaml").write_text("x")
    (folder / "linked.json").symlink_to(outside / "target.json")
    (folder / "linked-folder").symlink_to(outside / "deep", target_is_directory=True)
    (tmp_path / "alias").symlink_to(folder, target_is_directory=True)
    (folder / "inner-link.yaml").symlink_to(folder / "week" / "a" / "plain.yaml")  # the same submission again
    (folder / "week" / "also.json").symlink_to(folder / "linked.json")  # leads out through the other link
    discovered = _discover(tmp_path / "alias", [])
    # A link out of the folder is its own submission, marked outside (graded unread); inside, a link is its target.
    assert [(f.path.relative_to(tmp_path / "alias").as_posix(), f.key, f.outside) for f in discovered] == [
        ("linked.json", str(folder.resolve() / "linked.json"), True),
        ("week/a/plain.yaml", str((folder / "week" / "a" / "plain.yaml").resolve()), False),
        ("week/also.json", str(folder.resolve() / "week" / "also.json"), True),
    ]


def test_the_summary_shows_students_file_names_as_text_not_markup(tmp_path: Path) -> None:
    """A file name with a newline, a Markdown fence and a terminal escape stays one escaped line, and the fence
    the step summary puts around the summary outgrows any backticks in it."""
    from grader.batch import BatchSummary
    from grader.report.markdown import code_block

    name = str(tmp_path / "x\n```\n<img src=x>\x1b]0;PWNED\x07.py")
    summary = BatchSummary(spec_path=tmp_path / "s.yaml", gradebook_path=tmp_path / "gb.sqlite", sheet_id="s", spec_hash="h")
    summary.failures.append((name, "boom \x1b[31mred"))
    summary.grader_failures = 1
    text = summary.describe()
    assert "\x1b" not in text and "\x07" not in text
    (line,) = [line for line in text.splitlines() if "PWNED" in line]
    assert "x\\n```\\n<img src=x>" in line
    fenced = code_block(text.split("\n"))
    assert fenced[0] == "````text" and fenced[-1] == "````"


SHEET_WITH_A_BAD_VARIANT = """\
id: sizes
exercises:
  - id: size
    inputs:
      L: {value: 20, random: {low: 10, high: 40}}
    quantities:
      out: {op: conv_output_size, n: $L, f: 4, stride: 2, padding: 0}
    parts:
      - id: out
        prompt: The output length.
        points: 1
        answer: {type: integer}
        expected: $out
"""


def test_a_variant_the_sheet_cannot_key_is_the_sheets_fault_not_the_graders(tmp_path: Path) -> None:
    """(L - 4)/2 + 1 is not whole for odd L: a student with such a seed is told the sheet failed (no grader internals),
    the instructor gets the sheet's error, and the submission is graded again next run."""
    from grader.errors import SpecErrors
    from grader.grading import grade_file
    from grader.key import compute_key
    from grader.spec import load_sheet

    spec = tmp_path / "sizes.yaml"
    spec.write_text(SHEET_WITH_A_BAD_VARIANT)
    sheet = load_sheet(spec)

    def fails(seed: int) -> bool:
        try:
            compute_key(sheet, seed)
        except SpecErrors:
            return True
        return False

    bad_seed = next(seed for seed in range(100) if fails(seed))
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "odd.yaml").write_text(f"student: s1\nseed: {bad_seed}\nanswers:\n  size:\n    out: 3\n")
    summary = run_batch(spec, folder, jobs=1, gradebook_path=tmp_path / "gb.sqlite", progress=False, grade_fn=grade_file)
    assert summary.grader_failures == 1
    [(_, told_instructor)] = summary.failures
    assert "is not a whole number" in told_instructor and "sizes.yaml" in told_instructor
    [result] = list(summary.results())
    assert result.error is not None and "fault of the sheet, not of the submission" in result.error
    assert ".py" not in result.error and "sizes.yaml" not in result.error
    assert (result.student_id, result.seed) == ("s1", bad_seed)  # the file was read: its row can be matched later


def _grade_failing_on_its_path(spec_path: Path, submission_path: Path) -> object:
    """A grading function whose bug message names the submission's full path (as an OSError's would)."""
    raise RuntimeError(f"cannot handle {submission_path}")


def test_a_grader_failure_names_the_full_path_to_the_instructor_and_the_file_name_to_the_student(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    folder = (tmp_path / "instructor-home" / "submissions").resolve()
    target = write_fake_submission(folder / "alice" / "answers.json", "alice", {"ex1.a": 1.0})
    gradebook_path = tmp_path / "gb.sqlite"
    summary = run_batch(spec, folder, jobs=1, gradebook_path=gradebook_path, progress=False,
                        grade_fn=_grade_failing_on_its_path)  # type: ignore[arg-type]
    [(failed_path, message)] = summary.failures
    assert failed_path == str(target) and f"cannot handle {target}" in message  # the batch's summary: full paths
    assert str(target) in summary.describe()
    with Gradebook(gradebook_path) as gradebook:
        stored = gradebook.result(failed_path, "fake-sheet")
    assert stored is not None and stored.error is not None
    assert stored.error == GRADER_FAULT  # the student's Result: neither the exception nor any path
    assert "instructor-home" not in stored.model_dump_json()


def test_code_files_travel_in_small_chunks_so_their_results_reach_the_gradebook_soon() -> None:
    """A worker's results are saved a chunk at a time; 16 code files, each allowed minutes, in one chunk held back
    every result of a batch that was killed and resumed every few minutes (it never got further)."""
    from grader.batch import SubmissionTask, _chunks

    names = ["a.yaml", "b.py", "c.ipynb", "d.py", "e.json", "f.yaml", "g.yaml", "h.PY", "i.yaml"]
    tasks = [SubmissionTask(name, Path(name), "") for name in names]
    chunks = [[task.key for task in chunk] for chunk in _chunks(tasks, 2, 2)]
    assert chunks == [["a.yaml"], ["b.py", "c.ipynb"], ["d.py"], ["e.json", "f.yaml"], ["g.yaml"], ["h.PY"], ["i.yaml"]]
    assert [len(chunk) for chunk in _chunks(tasks, 16)] == [1, 1, 1, 1, 3, 1, 1]
