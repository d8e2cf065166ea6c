"""Report file names never differ only in case: unzipped on macOS or Windows, ``Bob.html`` would overwrite
``bob.html``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from grader.cli import _report_names

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=environment
    )


def test_reports_of_bob_and_BOB_get_names_that_differ_ignoring_case(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    text = (SAMPLES / "correct.yaml").read_text(encoding="utf-8")
    for name, student in (("Bob.yaml", "s-upper"), ("bob.yaml", "s-lower"), ("BOB.yaml", "s-caps")):
        (folder / name).write_text(re.sub(r"(?m)^student: .*$", f"student: {student}", text), encoding="utf-8")
    book = tmp_path / "gb.sqlite"
    assert grader("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book)).returncode == 0
    out = tmp_path / "reports"
    result = grader("report", str(WEEK7), "--gradebook", str(book), "--out-dir", str(out), "--format", "html")
    assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in out.iterdir())
    assert len(names) == 3 and len({name.casefold() for name in names}) == 3, names
    assert "wrote 3 html report(s)" in result.stdout


def test_report_names_are_unique_ignoring_case() -> None:
    names = _report_names([("s1", "Bob"), ("s2", "bob"), ("s2", "BOB"), ("S2", "bob"), ("s3", "straße"), ("s4", "STRASSE"), ("s5", "solo")])
    assert names == ["s1--Bob", "s2--bob", "s2--BOB-2", "S2--bob-3", "s3--straße", "s4--STRASSE", "solo"]
    assert len({name.casefold() for name in names}) == len(names)


def test_a_report_s_name_never_passes_to_another_student_as_the_cohort_grows() -> None:
    """With one carol.yaml the report is carol; once an unreadable carol.json (no id) joins, neither report is named
    plain carol, so last week's carol.html is never another file's report this week."""
    before = _report_names([("s-carol", "carol"), ("s-bob", "answers")])
    after = _report_names([("", "carol"), ("s-carol", "carol"), ("s-bob", "answers"), ("s-alice", "answers")])
    assert before == ["carol", "answers"]
    assert after == ["no-id--carol", "s-carol--carol", "s-bob--answers", "s-alice--answers"]
    assert not set(before) & set(after)
