"""Shared by the test_hints_* modules: a small sheet written here (its keys computed by the engine), and running the
real command line (``grader solve`` / ``grader grade``) on answer files written as text, so the numbers are read
exactly as a student typed them (``0.440``, ``−6``).

No test in this module: it only holds what the others use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[2]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CONV1D = ROOT / "exercises" / "conv1d_avgpool.yaml"

SHEET = """\
id: hints
title: Hints for usual slips
exercises:
  - id: ex
    title: Numbers and arrays
    inputs:
      x: {value: [[[0.1183, -2.5], [1.25, 0.7071]], [[-0.33, 3.1], [0.05, -1.75]]]}
      m: {value: [[1.5, -6], [2, -0.25]]}
    quantities:
      vol: {op: tanh, x: $x}
      sym: {op: add, a: $vol, b: {op: transpose, x: $vol, axes: [1, 0, 2]}}
    parts:
      - id: num
        prompt: tanh of the first entry of x.
        points: 1
        answer: {type: number}
        expected: {op: index, x: $vol, at: [0, 0, 0]}
      - id: zero
        prompt: A difference that is 0.
        points: 1
        answer: {type: number}
        expected: {op: sub, a: {op: index, x: $m, at: [0, 0]}, b: {op: index, x: $m, at: [0, 0]}}
      - id: vol
        prompt: tanh of x, indexed [row, column, filter].
        points: 1
        answer: {type: array, axes: [row, column, filter]}
        expected: $vol
      - id: sym
        prompt: An array symmetric in rows and columns.
        points: 1
        answer: {type: array, axes: [row, column, filter]}
        expected: $sym
      - id: mat
        prompt: The matrix m.
        points: 1
        answer: {type: array, abs_tol: 1.0e-9, rel_tol: 0}
        expected: {op: reshape, x: $m, shape: [2, 2]}
"""
"""A sheet with a number key, a zero key, a (2, 2, 2) key with no symmetry, one symmetric in its first two axes,
and a matrix with negative entries."""

runner = CliRunner()


def write_sheet(folder: Path) -> Path:
    """:data:`SHEET` written to ``folder / hints.yaml``."""
    path = folder / "hints.yaml"
    path.write_text(SHEET, encoding="utf-8")
    return path


def solve(sheet: Path) -> dict[str, dict[str, Any]]:
    """The key the engine computes for the sheet's printed numbers: ``grader solve SHEET --format json``."""
    result = runner.invoke(app, ["solve", str(sheet), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def grade(sheet: Path, answers: Path, command: str = "grade") -> dict[str, dict[str, Any]]:
    """``grader grade SHEET ANSWERS --format json`` (or ``check``): the parts by key (``ex.num``)."""
    result = runner.invoke(app, [command, str(sheet), str(answers), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return {part["key"]: part for part in json.loads(result.stdout)["result"]["parts"]}


def answer_file(folder: Path, exercise: str, answers: dict[str, str], name: str = "answers.yaml") -> Path:
    """A YAML answer file whose answers to ``exercise`` are written exactly as the given texts (``{"num": "0.440"}``
    gives the line ``num: 0.440``)."""
    lines = ["student: s1", "answers:", f"  {exercise}:", *(f"    {part}: {text}" for part, text in answers.items())]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def flow(value: Any) -> str:
    """A number or nested list in YAML flow style, numbers as Python's shortest ``repr`` (``[[0.5, -1.0]]``)."""
    if isinstance(value, list):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return repr(value)
