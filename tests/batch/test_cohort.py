"""End to end on the real week-7 sheet: a generated cohort graded in parallel, and its statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.batch import run_batch
from grader.gradebook import Gradebook
from grader.grading import grade_file
from grader.spec import load_sheet
from grader.stats import compute_stats, known_mistakes_of
from grader.stats_render import render_stats_html, render_stats_text

REPO = Path(__file__).resolve().parents[2]
SHEET = REPO / "exercises" / "week7.yaml"
SAMPLES = REPO / "submissions" / "week7"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "make_cohort.py"), str(SHEET), str(out), "-n", "60", "--seed", "4",
         "--variants", "4", "--malformed-fraction", "0.05"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "60 submissions" in completed.stdout
    return out


def test_statistics_of_a_graded_cohort_find_exactly_the_planted_mistakes(cohort: Path) -> None:
    planted = json.loads((cohort / "planted.json").read_text())
    gradebook_path = cohort / "gradebook.sqlite"
    summary = run_batch(SHEET, cohort / "submissions", jobs=2, gradebook_path=gradebook_path, progress=False)
    malformed = planted["files"]["malformed"]
    assert malformed == 3
    assert (summary.graded, summary.failed, summary.grader_failures) == (60, malformed, 0)

    sheet = load_sheet(SHEET)
    with Gradebook(gradebook_path) as gradebook:
        stats = compute_stats(gradebook, "week7", known_mistakes=known_mistakes_of(sheet))
    assert stats.totals.n == 60 and stats.totals.unreadable == malformed
    plain_parts = [key for key in sheet.part_keys() if key in planted["parts"]]
    assert [p.key for p in stats.parts if p.key in planted["parts"]] == plain_parts
    total_planted_mistakes = 0
    for part in stats.parts:
        if part.key not in planted["parts"]:
            continue
        expected = planted["parts"][part.key]
        counts = {m.mistake_id: m.count for m in part.mistakes}
        assert {k: v for k, v in counts.items() if v} == expected["mistakes"], part.key
        assert set(counts) == set(known_mistakes_of(sheet)[part.key])
        assert round(part.full_marks * part.n) == expected["right"], part.key
        # Unreadable files count in the totals only: a part's statistics are over the files that could be read.
        assert part.n == 60 - malformed, part.key
        assert part.status_counts.get("missing", 0) == expected["missing"], part.key
        total_planted_mistakes += sum(expected["mistakes"].values())
    assert total_planted_mistakes > 0

    text = render_stats_text(stats)
    html = render_stats_html(stats)
    assert "60 submissions (3 could not be graded)" in text and "flipped-kernel" in html


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="no sample submissions")
def test_a_parallel_batch_stores_what_grading_each_file_alone_gives(tmp_path: Path) -> None:
    gradebook_path = tmp_path / "gb.sqlite"
    summary = run_batch(SHEET, SAMPLES, jobs=2, gradebook_path=gradebook_path, progress=False, chunk_size=3)
    assert summary.graded == summary.total > 0 and summary.grader_failures == 0
    with Gradebook(gradebook_path) as gradebook:
        for path in sorted(SAMPLES.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                stored = gradebook.result(str(path.resolve()), "week7")
                assert stored == grade_file(SHEET, path), path.name
