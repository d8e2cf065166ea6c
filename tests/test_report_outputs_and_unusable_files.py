"""``report --csv`` alone writes only the CSV; a file that cannot be read scores 0 on the parts a file of its kind
answers (an answer file: the parts that are not code), with no hidden part "graded after submission"."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.spec.loader import load_sheet
from tests.batch.helpers import run_grader

REPO = Path(__file__).resolve().parents[1]
WEEK7 = REPO / "exercises" / "week7.yaml"
SAMPLES = REPO / "submissions" / "week7"


@pytest.fixture
def gradebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in ("correct.yaml", "partly-correct.yaml"):
        shutil.copy(SAMPLES / name, folder / name)
    book = tmp_path / "gb.sqlite"
    code, _, err = run_grader(monkeypatch, capsys, "batch", WEEK7, folder, "--jobs", "1", "--gradebook", book)
    assert code == 0, err
    return book


def test_report_with_only_csv_writes_only_the_csv(tmp_path: Path, gradebook: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run_grader(monkeypatch, capsys, "report", WEEK7, "--gradebook", gradebook, "--csv", "grades.csv")
    assert code == 0, err
    assert out.strip() == "wrote grades.csv"
    assert sorted(path.name for path in work.iterdir()) == ["grades.csv"]  # no ./reports folder
    rows = list(csv.DictReader(io.StringIO((work / "grades.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 2


def test_report_with_csv_and_a_format_writes_both(tmp_path: Path, gradebook: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_grader(monkeypatch, capsys, "report", WEEK7, "--gradebook", gradebook, "--csv", "grades.csv", "--format", "md")
    assert code == 0, err
    assert sorted(path.name for path in (tmp_path / "reports").iterdir()) == ["correct.md", "partly-correct.md"]
    assert (tmp_path / "grades.csv").is_file()


def test_an_unreadable_answer_file_scores_0_of_the_answer_parts_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    sheet = load_sheet(WEEK7)
    parts = list(sheet.parts())
    answer_points = sum(part.points for _, part in parts if part.answer.type != "code")
    assert answer_points < sum(part.points for _, part in parts)  # the sheet has code parts, so the totals differ
    broken = tmp_path / "broken.yaml"
    broken.write_text("student: s1\nanswers: {ex1: {a: [1, 2}\n", encoding="utf-8")
    code, out, err = run_grader(monkeypatch, capsys, "check", WEEK7, broken)
    assert code == 2 and "broken.yaml:2: not valid YAML: " in err and err.strip().endswith("; is the '[' at line 2, column 20 closed?"), err
    total = re.search(r"^Total: (.+)$", out, re.MULTILINE)
    assert total is not None and total.group(1) == f"0/{answer_points:g} points (0%)", out
    assert "graded after submission" not in out
    shown = dict((name, status) for status, name in re.findall(r"^\[(\w[\w ]*)\] (\S+)", out, re.MULTILINE))
    answered = {f"{exercise.id}.{part.id}": part for exercise, part in parts if part.answer.type != "code"}
    assert set(shown) == set(answered)
    for name, status in shown.items():  # a hidden part shows a student only that it did not pass
        assert status == ("not passed" if answered[name].visibility.value == "hidden" else "missing"), (name, status)
