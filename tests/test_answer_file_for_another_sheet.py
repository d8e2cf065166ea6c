"""An answer file written for another sheet is graded 0 and its report says first that none of its exercises is on
this sheet, rather than only listing each unknown exercise id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.spec.loader import load_sheet
from tests.batch.helpers import run_grader

REPO = Path(__file__).resolve().parents[1]
WEEK7 = REPO / "exercises" / "week7.yaml"
CONV1D_CORRECT = REPO / "submissions" / "conv1d_avgpool" / "correct.yaml"


def test_a_conv1d_answer_file_graded_against_week7_says_it_is_for_another_sheet(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    code, out, err = run_grader(monkeypatch, capsys, "grade", WEEK7, CONV1D_CORRECT, "--format", "json")
    assert code == 0, err
    exercises = ", ".join(exercise.id for exercise in load_sheet(WEEK7).spec.exercises)
    notes = json.loads(out)["result"]["notes"]
    assert notes[0] == (
        f"answers: none of this file's exercises is on the sheet 'week7' (its exercises: {exercises}), so nothing in "
        "it was graded: is it an answer file for another sheet? `grader template` writes one for this sheet"
    )
    assert len(notes) > 1  # the unknown exercise ids are still listed after it


def test_a_file_with_one_known_exercise_gets_no_such_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    answers = tmp_path / "mixed.yaml"
    answers.write_text("student: s1\nanswers:\n  ex1: {a: 0.5}\n  conv: {out: [1, 2]}\n", encoding="utf-8")
    code, out, err = run_grader(monkeypatch, capsys, "grade", WEEK7, answers, "--format", "json")
    assert code == 0, err
    notes = json.loads(out)["result"]["notes"]
    assert not any("none of this file's exercises" in note for note in notes)
    assert any("this sheet has no exercise 'conv'" in note for note in notes)
