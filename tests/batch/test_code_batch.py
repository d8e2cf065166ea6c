"""Code submissions through the batch: graded several at a time per worker when there are more cores than workers,
each exactly as ``grade_file`` grades it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.batch import code_threads_per_job, run_batch
from grader.gradebook import Gradebook
from grader.grading import grade_file

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
CODE = ROOT / "submissions" / "week7" / "code"


@pytest.mark.parametrize(
    ("jobs", "cores", "expected"),
    [(1, 1, 1), (1, 2, 2), (2, 2, 1), (3, 2, 1), (3, 8, 3), (2, 7, 4), (64, 8, 1)],
)
def test_workers_together_keep_one_code_submission_in_flight_per_core(jobs: int, cores: int, expected: int) -> None:
    assert code_threads_per_job(jobs, cores) == expected


@pytest.mark.parametrize("cores", [1, 4], ids=["one-at-a-time", "four-at-a-time"])
def test_code_submissions_in_a_batch_match_grading_them_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)  # one job: its code threads are the cores
    folder = tmp_path / "code"
    names = ["correct.py", "correct.ipynb", "mistake-flipped-kernel.py", "error-crash.py", "mistake-average-pooling.py"]
    folder.mkdir()
    for name in names:
        shutil.copy(CODE / name, folder / name)
    book = tmp_path / "book.sqlite"
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, chunk_size=8)
    assert summary.graded == len(names) and summary.failed == 0
    with Gradebook(book) as gradebook:
        stored = {Path(r.submission).name: r for r in gradebook.results("week7")}
        assert gradebook.count() == len(names)
    for name in names:
        alone = grade_file(SHEET, folder / name)
        batched = stored[name]
        assert batched.student_id == alone.student_id
        assert [(p.key, p.status, p.points_earned, p.mistake) for p in batched.parts] == [
            (p.key, p.status, p.points_earned, p.mistake) for p in alone.parts
        ]
