"""Shared by every test: the ``grader`` fixture, which runs the real command line (``grader.cli.main``) in this
process, so the exit codes and the output lines are the ones a user sees; and small helpers for test files."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.cli import main

ERROR_LINE = re.compile(
    r'^(?P<file>.+?):(?P<line>\d+) (?P<path>(?:[^\s"]|"(?:[^"\\]|\\.)*")+): (?P<message>.+) \[(?P<code>spec-[a-z-]+)\]$'
)
"""One located author error on stderr: ``file:line field.path: message [spec-code]`` (a key in the path that is not
plain letters, digits, ``_`` and ``-`` is quoted, spaces and all: ``inputs["my x"]``)."""


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


def line_of(text: str, needle: str, after: str = "") -> int:
    """The 1-based number of the first line of ``text`` that contains ``needle`` (after the first line that
    contains ``after``, when given)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i + 1 for i in range(start, len(lines)) if needle in lines[i])
