"""Shared by the spec tests: helpers over the ``grader`` fixture of tests/conftest.py (re-exported here with
``Run``, ``Grader``, ``ERROR_LINE``, ``write`` and ``line_of``), which runs the real command line in this process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


from tests.conftest import ERROR_LINE, Grader, Run, line_of, write

__all__ = ["ERROR_LINE", "Grader", "Run", "line_of", "write"]


def validate_errors(grader: Grader, path: Path) -> list[dict[str, str]]:
    """The located errors of ``grader validate PATH`` (``file``, ``line``, ``path``, ``message``, ``code``); asserts
    exit 2 and that every line but the count is one."""
    run = grader("validate", path)
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert lines[-1] == "1 of 1 sheet(s) have errors", run.err
    errors = [m.groupdict() for m in map(ERROR_LINE.match, lines[:-1]) if m]
    assert len(errors) == len(lines) - 1, run.err  # every line is a located error
    return errors


def solved_key(grader: Grader, path: Path) -> dict[str, Any]:
    """``grader solve PATH --format json`` of a sheet that ``grader validate`` accepts."""
    run = grader("validate", path)
    assert run.code == 0, run.err
    run = grader("solve", path, "--format", "json")
    assert run.code == 0, run.err
    return json.loads(run.out)  # type: ignore[no-any-return]


def one_error(run: Run, path: Path, code: str) -> re.Match[str]:
    """The only located error of a run (exit 2), checked to be of ``code`` and in ``path``."""
    assert run.code == 2, run.err
    assert len(run.errors) == 1, run.err
    error = run.errors[0]
    assert error["file"] == str(path) and error["code"] == code, error.string
    return error


def graph_sheet(template: str, function: str, a: float, b: float) -> str:
    """A graph sheet ``template`` with FUNCTION, and inputs ``a: {value: A}``, ``b: {value: B}``, filled in."""
    return template.replace("FUNCTION", function).replace("A}", f"{a}}}").replace("B}", f"{b}}}")
