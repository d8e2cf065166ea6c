"""A student's report names their file by its name, never the folders of the machine that graded it; whoever runs
the grader still sees full paths (stderr, the gradebook's key). Real files through the real commands, the
submissions folder given as an absolute path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.gradebook import Gradebook

ROOT = Path(__file__).resolve().parents[1]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
STUDENT_FORMATS = ["html", "md", "json", "gradescope", "text", "junit"]


def grader(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The installed program as a user runs it (``python -m grader``)."""
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=environment
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A batch over an absolute submissions folder holding broken files: (the folder, the gradebook)."""
    folder = (tmp_path_factory.mktemp("paths") / "instructor-home-q7x" / "course-subs-z9k").resolve()
    (folder / "alice").mkdir(parents=True)
    shutil.copy(SAMPLES / "unusable-malformed-yaml.yaml", folder / "alice" / "answers.yaml")
    shutil.copy(SAMPLES / "unusable-not-a-mapping.json", folder / "bob.json")
    (folder / "carol.yaml").write_bytes(b"student: s-carol\nanswers: {ex1: {a: \xff}}\n")  # not UTF-8
    book = folder.parent / "gb.sqlite"
    done = grader("batch", str(WEEK7), str(folder), "--jobs", "1", "--gradebook", str(book))
    assert done.returncode == 0, done.stderr
    return folder, book


def folder_names(folder: Path) -> list[str]:
    """Every component of the folder's absolute path, and the path itself."""
    return [str(folder), str(folder.parent), *(part for part in folder.parts if part != os.sep)]


@pytest.mark.parametrize("fmt", STUDENT_FORMATS)
def test_the_students_report_of_a_broken_file_names_no_folder_of_the_grading_machine(
    graded: tuple[Path, Path], tmp_path: Path, fmt: str
) -> None:
    folder, book = graded
    reports = tmp_path / "reports"
    result = grader("report", str(WEEK7), "--gradebook", str(book), "--format", fmt, "--out-dir", str(reports))
    assert result.returncode == 0, result.stderr
    texts = {path.name: path.read_text(encoding="utf-8") for path in reports.iterdir()}
    assert len(texts) == 3
    for name, text in texts.items():
        for part in folder_names(folder):
            assert part not in text, (name, part)
    alice = next(text for name, text in texts.items() if name.startswith("answers"))
    assert "answers.yaml:5: not valid YAML" in alice
    if fmt == "json":
        errors = sorted(json.loads(text)["result"]["error"].split(":")[0] for text in texts.values())
        assert errors == ["answers.yaml", "bob.json", "carol.yaml"]


def test_whoever_runs_the_grader_sees_full_paths(graded: tuple[Path, Path]) -> None:
    folder, book = graded
    with Gradebook(book, read_only=True) as gradebook:
        keys = sorted(row.path for row in gradebook.rows("week7"))
    assert keys == sorted(str(folder / name) for name in ("alice/answers.yaml", "bob.json", "carol.yaml"))
    result = grader("grade", str(WEEK7), str(folder), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert f"{folder / 'alice' / 'answers.yaml'}: could not be graded: answers.yaml:5: not valid YAML" in result.stderr
    for report in json.loads(result.stdout):  # the reports themselves: the students' view
        assert str(folder.parent) not in json.dumps(report)


def test_grading_one_file_by_a_relative_path_names_it_by_its_name(graded: tuple[Path, Path]) -> None:
    folder, _ = graded
    given = os.path.join("..", "alice", "answers.yaml")  # as ../subs/alice.yaml, from a folder beside it
    result = grader("check", str(WEEK7), given, "--format", "json", cwd=folder / "alice")
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["result"]["error"]
    assert error.startswith("answers.yaml:5: not valid YAML") and ".." not in error
    assert f"{given}: could not be graded: answers.yaml:5:" in result.stderr
