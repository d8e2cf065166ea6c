"""Cohort statistics: totals per student over the whole sheet (answer and code parts), part figures per file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.gradebook import Gradebook, prepare_record
from grader.result import Status
from grader.stats import compute_stats
from grader.stats_render import render_stats_html, render_stats_text
from tests.batch.helpers import make_result

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
POINTS = {"ex1.a": 2.0, "ex1.b": 1.0, "ex2.a": 3.0}
DAY1, DAY2 = "2025-01-01T10:00:00+00:00", "2025-01-02T10:00:00+00:00"


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=environment
    )


def _record(book: Gradebook, student: str, fractions: dict[str, float], path: str, graded_at: str = DAY1,
            error: str | None = None, grader_failed: bool = False) -> None:
    result = make_result(student, fractions, points=POINTS, submission=Path(path).name, error=error)
    book.write(prepare_record(result, path, graded_at=graded_at, grader_failed=grader_failed))


def test_totals_are_per_student_over_the_sheets_points_and_parts_per_file(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as book:
        _record(book, "s1", {"ex1.a": 0.0, "ex1.b": 0.0}, "/subs/s1-old.yaml", DAY1)  # superseded by s1.yaml
        _record(book, "s1", {"ex1.a": 1.0, "ex1.b": 0.5}, "/subs/s1.yaml", DAY2)
        _record(book, "s1", {"ex2.a": 1.0}, "/subs/code/s1.py")
        _record(book, "s2", {"ex1.a": 0.0, "ex1.b": 1.0}, "/subs/s2.yaml")
        _record(book, "s2", {"ex2.a": 0.5}, "/subs/code/s2.py")
        _record(book, "s3", {"ex1.a": 0.5, "ex1.b": 0.0}, "/subs/s3.yaml")  # no code file
        _record(book, "", {}, "/subs/broken.yaml", error="not YAML")
        _record(book, "", {}, "/subs/crash.yaml", error="grader bug", grader_failed=True)
        stats = compute_stats(book, "fake-sheet", points_possible=6)
        assert compute_stats(book, "fake-sheet").totals == stats.totals  # default: the points of every part graded

    totals = stats.totals
    assert (totals.n, totals.students, totals.unreadable, totals.grader_failures) == (7, 4, 1, 1)
    student_points = {"s1": 2 + 0.5 + 3, "s2": 0 + 1 + 1.5, "s3": 1 + 0, "broken": 0}
    scores = np.array(list(student_points.values())) / 6
    assert totals.points_possible == 6
    assert totals.mean == pytest.approx(scores.mean()) and totals.sd == pytest.approx(scores.std())
    assert totals.median == pytest.approx(np.median(scores), abs=1e-6)  # scores are rounded to 6 decimals
    assert (totals.minimum, totals.maximum) == (0, pytest.approx(5.5 / 6))
    assert totals.mean_points == pytest.approx(np.mean(list(student_points.values())))
    assert [b.count for b in totals.histogram] == [1, 1, 0, 0, 1, 0, 0, 0, 0, 1]  # 0 | 1/6 | 2.5/6 | 5.5/6

    parts = {p.key: p for p in stats.parts}
    # Per file: s1's superseded answer file still counts in the part figures; the unreadable file does not.
    assert (parts["ex1.a"].n, parts["ex1.b"].n, parts["ex2.a"].n) == (4, 4, 2)
    assert parts["ex1.a"].mean == pytest.approx(np.mean([0.0, 1.0, 0.0, 0.5]))
    # Discrimination: the part's score against the rest of the *student's* total (answer and code parts).
    fractions = np.array([0.0, 1.0, 0.0, 0.5])  # s1-old, s1, s2, s3
    rest = np.array([5.5 - 2, 5.5 - 2, 2.5 - 0, 1 - 1])
    assert parts["ex1.a"].discrimination == pytest.approx(np.corrcoef(fractions, rest)[0, 1])
    # two code files only: two always correlate +1 or -1, so no discrimination is given
    assert parts["ex2.a"].discrimination is None and "needs at least 3 submissions, has 2" in parts["ex2.a"].discrimination_note

    text = render_stats_text(stats)
    assert "7 submissions (1 could not be graded); 1 more left out" in text
    assert "Totals are over 4 students" in text
    assert f"Total score per student: mean {100 * scores.mean():.1f}%" in text
    assert f"(mean {np.mean(list(student_points.values())):.2f} of 6 points)" in text
    assert "Totals are over 4 students" in render_stats_html(stats)


def test_grader_stats_on_real_files_counts_each_student_once_out_of_the_whole_sheet(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    (folder / "code").mkdir(parents=True)
    text = (SAMPLES / "correct.yaml").read_text(encoding="utf-8")
    (folder / "alice.yaml").write_text(re.sub(r"(?m)^student: .*$", "student: s-alice", text), encoding="utf-8")
    code = (SAMPLES / "code" / "correct.py").read_text(encoding="utf-8")
    (folder / "code" / "alice.py").write_text(code.replace('"s-code-correct"', '"s-alice"'), encoding="utf-8")
    shutil.copy(SAMPLES / "partly-correct.yaml", folder / "bob.yaml")  # s-partly, no code file
    (folder / "broken.yaml").write_text("student: [unclosed\n", encoding="utf-8")
    book = tmp_path / "gb.sqlite"
    batch = grader("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book))
    assert batch.returncode == 0, batch.stderr

    bob = json.loads(grader("grade", str(WEEK7), str(folder / "bob.yaml"), "--format", "json").stdout)["result"]
    points = np.array([66.0, bob["points_earned"], 0.0])  # alice: answer 52 + code 14; bob; the unreadable file
    result = grader("stats", str(WEEK7), "--gradebook", str(book))
    assert result.returncode == 0, result.stderr
    assert "4 submissions (1 could not be graded)" in result.stdout
    assert "Totals are over 3 students" in result.stdout
    assert (
        f"Total score per student: mean {100 * np.mean(points / 66):.1f}%, sd {100 * np.std(points / 66):.1f}%"
        in result.stdout
    )
    assert f"(mean {points.mean():.2f} of 66 points)" in result.stdout
    table = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.startswith("ex")}
    assert table["ex3.code_conv2d"][2] == "1" and table["ex1.a"][2] == "2"  # part figures: per file, readable only


def test_grader_stats_prints_the_same_merge_warnings_as_report_csv(tmp_path: Path) -> None:
    """One student, two answer files grading the same parts: ``stats`` warns on stderr as ``report --csv`` does
    (both from ``grader.cohort.merge_warnings``); its stdout stays the statistics."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, sample in (("first.yaml", "correct.yaml"), ("second.yaml", "partly-correct.yaml")):
        text = (SAMPLES / sample).read_text(encoding="utf-8")
        (folder / name).write_text(re.sub(r"(?m)^student: .*$", "student: s-erin", text), encoding="utf-8")
    book = tmp_path / "gb.sqlite"
    batch = grader("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book))
    assert batch.returncode == 0, batch.stderr

    stats = grader("stats", str(WEEK7), "--gradebook", str(book))
    assert stats.returncode == 0, stats.stderr
    warnings = [line for line in stats.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, stats.stderr
    assert warnings[0].startswith(
        "warning: student 's-erin' handed in several files grading the same parts; the one graded last counts: used "
    )
    assert "warning" not in stats.stdout and "Totals are over 1 student" in stats.stdout

    report = grader("report", str(WEEK7), "--gradebook", str(book), "--out-dir", str(tmp_path / "reports"),
                    "--csv", str(tmp_path / "grades.csv"))
    assert report.returncode == 0, report.stderr
    assert [line for line in report.stderr.splitlines() if line.startswith("warning:")] == warnings


def test_a_part_one_file_leaves_unanswered_and_another_answers_counts_once_as_answered(tmp_path: Path) -> None:
    """bob split the sheet over two files: each file's row for the part it left out ("missing") had counted as a
    0-score submission in the part figures, while the totals credited the answer."""
    def split(fractions: dict[str, float], left_out: set[str], path: str, graded_at: str) -> None:
        result = make_result("bob", fractions, points=POINTS, submission=Path(path).name)
        parts = [part.model_copy(update={"status": Status.missing}) if part.key in left_out else part for part in result.parts]
        book.write(prepare_record(result.model_copy(update={"parts": parts}), path, graded_at=graded_at))

    with Gradebook(tmp_path / "gb.sqlite") as book:
        split({"ex1.a": 1.0, "ex1.b": 1.0, "ex2.a": 0.0}, {"ex2.a"}, "/subs/p1.yaml", DAY1)
        split({"ex1.a": 0.0, "ex1.b": 0.0, "ex2.a": 1.0}, {"ex1.a", "ex1.b"}, "/subs/p2.yaml", DAY2)
        _record(book, "carol", {"ex1.a": 0.0, "ex1.b": 0.0, "ex2.a": 0.0}, "/subs/carol.yaml", DAY1)
        stats = compute_stats(book, "fake-sheet", points_possible=6)
    parts = {p.key: p for p in stats.parts}
    assert (parts["ex1.a"].n, parts["ex2.a"].n) == (2, 2)  # bob once, carol once
    assert parts["ex1.a"].mean == pytest.approx(0.5) and parts["ex2.a"].full_marks == pytest.approx(0.5)
    assert stats.totals.maximum == pytest.approx(1.0)  # bob: 2 + 1 + 3 of 6
