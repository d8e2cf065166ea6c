"""Code submissions through the batch: graded two at a time per worker, each exactly as ``grade_file`` grades it."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.batch import run_batch
from grader.gradebook import Gradebook
from grader.grading import grade_file

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
CODE = ROOT / "submissions" / "week7" / "code"


def test_code_submissions_in_a_batch_match_grading_them_one_by_one(tmp_path: Path) -> None:
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
