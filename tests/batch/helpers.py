"""Test helpers for batch grading: a fake grading function driven by small JSON submission files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from grader import __version__
from grader.result import CaseResult, PartResult, Result, Status

FAKE_SPEC = """\
id: fake-sheet
title: Fake <sheet> & co
exercises:
  - id: ex1
    inputs: {a: {value: 2}}
    parts:
      - id: a
        prompt: What is a?
        points: 1
        answer: {type: number}
        expected: $a
"""
"""A real, loadable sheet: ``run_batch`` loads it for the sheet id; the fake grading function ignores it."""

PART_POINTS = {"ex1.a": 2.0, "ex1.b": 1.0, "ex2.a": 3.0}


def write_fake_spec(folder: Path, text: str = FAKE_SPEC) -> Path:
    path = folder / "fake.yaml"
    path.write_text(text)
    return path


def write_fake_submission(path: Path, student: str, fractions: dict[str, float], **extra: Any) -> Path:
    """A JSON file the fake grading function reads: ``fractions`` per part key, plus flags
    (``mistakes``: {part key: mistake id}, ``crash``, ``die``, ``sleep`` seconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"student": student, "fractions": fractions, **extra}, sort_keys=True))
    return path


def _status(fraction: float) -> Status:
    if fraction >= 1.0:
        return Status.correct
    return Status.partial if fraction > 0 else Status.incorrect


def make_result(
    student: str,
    fractions: dict[str, float],
    *,
    mistakes: dict[str, str] | None = None,
    case_mistakes: dict[str, list[str]] | None = None,
    sheet_id: str = "fake-sheet",
    submission: str = "",
    submission_hash: str = "",
    spec_hash: str = "",
    error: str | None = None,
    points: dict[str, float] | None = None,
) -> Result:
    """A Result with one part per entry of ``fractions`` (points from ``points`` or PART_POINTS)."""
    points = points or PART_POINTS
    parts = []
    for key, fraction in fractions.items():
        exercise_id, part_id = key.split(".")
        possible = points[key]
        cases = [
            CaseResult(name=f"case{i}", passed=False, fraction=0.0, mistake=m)
            for i, m in enumerate((case_mistakes or {}).get(key, []))
        ]
        parts.append(
            PartResult(
                exercise_id=exercise_id,
                part_id=part_id,
                answer_type="number",
                points_possible=possible,
                points_earned=round(possible * fraction, 6),
                status=_status(fraction),
                mistake=(mistakes or {}).get(key),
                cases=cases,
            )
        )
    return Result(
        sheet_id=sheet_id,
        sheet_title="Fake <sheet> & co",
        student_id=student,
        submission=submission,
        submission_hash=submission_hash,
        spec_hash=spec_hash,
        parts=parts,
        error=error,
        grader_version=__version__,
    )


def fake_grade(spec_path: Path, submission_path: Path) -> Result:
    """Grade a fake submission file: read the fractions it declares; crash, die or dawdle when it asks to."""
    content = submission_path.read_bytes()
    data = json.loads(content)
    if data.get("sleep"):
        time.sleep(float(data["sleep"]))
    if data.get("crash"):
        raise RuntimeError(f"fake grader bug on {data['student']}")
    if data.get("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    return make_result(
        data["student"],
        data["fractions"],
        mistakes=data.get("mistakes"),
        submission=submission_path.name,
        submission_hash=hashlib.sha256(content).hexdigest(),
        spec_hash=hashlib.sha256(spec_path.read_bytes()).hexdigest(),
    )


def make_fake_cohort(folder: Path, n: int, *, seed: int = 0, sleep: float = 0.0) -> list[Path]:
    """``n`` fake submissions with fractions drawn from a seeded generator, in nested folders."""
    import numpy as np

    rng = np.random.default_rng(seed)
    paths = []
    for index in range(n):
        fractions = {key: float(rng.choice([0.0, 0.5, 1.0])) for key in PART_POINTS}
        extra: dict[str, Any] = {"sleep": sleep} if sleep else {}
        path = folder / f"group{index % 3}" / f"s{index:04d}.json"
        paths.append(write_fake_submission(path, f"s{index:04d}", fractions, **extra))
    return paths


def run_grader(monkeypatch: Any, capsys: Any, *args: str | Path) -> tuple[int, str, str]:
    """Run ``grader ARGS...`` in this process as the installed program does (``grader.cli.main``, so monkeypatches
    apply): its exit code, stdout and stderr (never a traceback or an internal error)."""
    import sys

    import pytest

    from grader.cli import main

    monkeypatch.setattr(sys, "argv", ["grader", *map(str, args)])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "internal error" not in captured.err, captured.err
    return (exited.value.code if isinstance(exited.value.code, int) else 0), captured.out, captured.err
