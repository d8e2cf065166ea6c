"""Shared by every test: the ``grader`` fixture, which runs the real command line (``grader.cli.main``) in this
process, so the exit codes and the output lines are the ones a user sees; and small helpers for test files.

The suite runs in parallel (``pytest -n auto``, pytest-xdist). A few sandbox tests look at every process of the
machine (no sandboxed process may be left alive) or kill processes they find: they are marked ``machine_wide``, by
hand or because they call one of :data:`MACHINE_WIDE_CHECKS` (directly, through helpers of their module, or through
fixtures), and run while no other test of any run of this suite on the machine runs (a readers-writer lock on a
file in the temporary folder). Tests never time things: Hypothesis runs without its per-example deadline."""

from __future__ import annotations

import fcntl
import inspect
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from grader.cli import main

settings.register_profile("grader-suite", deadline=None)
settings.load_profile("grader-suite")

MACHINE_WIDE_CHECKS = frozenset({"survivors", "assert_grader_fine", "_zygotes", "_left_behind_by_ended_workers"})
"""Helpers of the sandbox tests that look at (or kill) every sandbox process of the machine: a test that calls one
is ``machine_wide``."""


def _calls_machine_wide_check(function: Callable[..., object], seen: set[types.CodeType]) -> bool:
    """Whether ``function`` names one of :data:`MACHINE_WIDE_CHECKS`, in its body, a function nested in it, or a
    plain function of its module it calls (followed the same way)."""
    function = inspect.unwrap(getattr(getattr(function, "hypothesis", None), "inner_test", function))
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    pending = [code]
    while pending:
        code = pending.pop()
        if code in seen:
            continue
        seen.add(code)
        if MACHINE_WIDE_CHECKS & set(code.co_names):
            return True
        pending += [const for const in code.co_consts if isinstance(const, types.CodeType)]
        module_globals = getattr(function, "__globals__", {})
        pending += [
            module_globals[name].__code__ for name in code.co_names
            if isinstance(module_globals.get(name), types.FunctionType)
        ]
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``machine_wide`` every test that calls one of :data:`MACHINE_WIDE_CHECKS`, itself or in a fixture."""
    for item in items:
        seen: set[types.CodeType] = set()
        function = getattr(item, "function", None)
        fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        callables = [function, *(definition.func for definitions in fixtures.values() for definition in definitions)]
        if any(_calls_machine_wide_check(f, seen) for f in callables if f is not None):
            item.add_marker(pytest.mark.machine_wide)


MACHINE_LOCKS = Path(tempfile.gettempdir()) / f"grader-tests-{os.getuid()}"
"""The lock files every run of this suite by this user shares (``machine.lock`` and ``turnstile.lock``)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Around each test's setup (fixtures of every scope included), call and teardown: a ``machine_wide`` test
    waits until no other test of any run (xdist's workers, another run of the suite) runs and holds the others off
    while it runs; every other test runs beside any but those. A turnstile, taken by every test on its way in,
    lets a waiting machine-wide test in ahead of the tests that come after it."""
    MACHINE_LOCKS.mkdir(mode=0o700, exist_ok=True)
    alone = item.get_closest_marker("machine_wide") is not None
    with open(MACHINE_LOCKS / "turnstile.lock", "a") as turnstile, open(MACHINE_LOCKS / "machine.lock", "a") as machine:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(machine, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            return (yield)
        finally:
            fcntl.flock(machine, fcntl.LOCK_UN)


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
