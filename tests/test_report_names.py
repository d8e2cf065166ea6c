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


def _digits(path: str) -> str:
    import hashlib

    return hashlib.sha256(path.encode()).hexdigest()[:6]


def test_report_names_are_unique_ignoring_case() -> None:
    names = _report_names([
        ("s1", "Bob", "/a/Bob.yaml"), ("s2", "bob", "/b/bob.yaml"), ("s2", "BOB", "/c/BOB.yaml"), ("S2", "bob", "/d/bob.yaml"),
        ("s3", "straße", "/e/straße.yaml"), ("s4", "STRASSE", "/f/STRASSE.yaml"), ("s5", "solo", "/g/solo.yaml"),
    ])
    assert names == [
        "s1--Bob", f"s2--bob-{_digits('/b/bob.yaml')}", f"s2--BOB-{_digits('/c/BOB.yaml')}", f"S2--bob-{_digits('/d/bob.yaml')}",
        "s3--straße", "s4--STRASSE", "solo",
    ]
    assert len({name.casefold() for name in names}) == len(names)


def test_a_report_s_name_never_passes_to_another_file_when_one_without_an_id_gets_one() -> None:
    """Two answers.yaml without an id: their names carry digits of their own paths, so when a's file gains an id no
    name of before names another file after (numbered in list order, b's report took a's name no-id--answers)."""
    paths = ["/subs/a/answers.yaml", "/subs/b/answers.yaml"]
    before = dict(zip(_report_names([("", "answers", paths[0]), ("", "answers", paths[1])]), paths))
    after = dict(zip(_report_names([("s-a", "answers", paths[0]), ("", "answers", paths[1])]), paths))
    assert sorted(before) == sorted(f"no-id--answers-{_digits(path)}" for path in paths)
    assert sorted(after) == ["no-id--answers", "s-a--answers"]
    assert all(before[name] == after[name] for name in set(before) & set(after))


def test_a_report_s_name_never_passes_to_another_student_as_the_cohort_grows() -> None:
    """With one carol.yaml the report is carol; once an unreadable carol.json (no id) joins, neither report is named
    plain carol, so last week's carol.html is never another file's report this week."""
    before = _report_names([("s-carol", "carol", "/s/carol.yaml"), ("s-bob", "answers", "/s/b/answers.yaml")])
    after = _report_names([
        ("", "carol", "/s/carol.json"), ("s-carol", "carol", "/s/carol.yaml"), ("s-bob", "answers", "/s/b/answers.yaml"),
        ("s-alice", "answers", "/s/a/answers.yaml"),
    ])
    assert before == ["carol", "answers"]
    assert after == ["no-id--carol", "s-carol--carol", "s-bob--answers", "s-alice--answers"]
    assert not set(before) & set(after)
