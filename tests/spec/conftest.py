"""Shared by the spec tests: the ``grader`` fixture, which runs the real command line (``grader.cli.main``) in this
process, so the exit codes and the stderr lines are the ones a user sees."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli import main

ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+) (?P<path>\S+): (?P<message>.+) \[(?P<code>spec-[a-z-]+)\]$")
"""One located author error on stderr: ``file:line field.path: message [spec-code]``."""


class Run:
    """What one ``grader ARGS...`` run gave: its exit code, stdout and stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def errors(self) -> list[re.Match[str]]:
        """The ``file:line path: message [code]`` lines on stderr."""
        return [m for m in map(ERROR_LINE.match, self.err.splitlines()) if m]


Grader = Callable[..., Run]
"""The ``grader`` fixture's type: ``grader("validate", path)`` returns a :class:`Run`."""


@pytest.fixture
def grader(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Grader:
    """Run ``grader ARGS...`` in this process as the installed program does; returns a Run."""

    def run(*args: str | Path) -> Run:
        monkeypatch.setattr(sys, "argv", ["grader", *map(str, args)])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        code = exited.value.code if isinstance(exited.value.code, int) else 0
        assert "internal error" not in captured.err and "Traceback" not in captured.err, captured.err
        return Run(code, captured.out, captured.err)

    return run


def write(folder: Path, text: str, name: str = "sheet.yaml") -> Path:
    """``text`` written to ``folder / name`` (UTF-8); its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the first line of ``text`` that contains ``needle``."""
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


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
