"""The hostile corpus: each file in tests/sandbox/hostile/ attacks the sandbox and must get the outcome in TABLE."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import CaseInput, RunReport, probe_layers, run_cases

from .conftest import FAST_LIMITS, HOSTILE_DIR, OUTSIDE_DIR, assert_grader_fine, hostile_copy, survivors

SECRET = "grader-secret-5e0c41b7"
X_VALUES = (np.arange(4.0), np.ones(3))


@dataclass(frozen=True)
class Expected:
    """What a hostile file must get: a status from ``statuses`` and ``fragment`` in every case's message."""

    statuses: tuple[str, ...]
    fragment: str = ""
    cases: int = 2
    check: Callable[[RunReport], None] | None = None
    needs: tuple[str, ...] = field(default=())  # layers without which the expectation does not hold
    slow: bool = False  # waits for a time limit
    cpu_seconds: float | None = None  # per call, instead of FAST_LIMITS' (work that must hit another limit first)


def _values(report: RunReport) -> list[np.ndarray]:
    return [case.value for case in report.cases]  # type: ignore[misc]


def _doubled(report: RunReport) -> None:
    for value, x in zip(_values(report), X_VALUES):
        assert type(value) is np.ndarray and value.dtype == np.float64
        np.testing.assert_array_equal(value, 2 * x)


def _plus_one_not_fake(report: RunReport) -> None:
    for value, x in zip(_values(report), X_VALUES):
        np.testing.assert_array_equal(value, x + 1)
        assert not np.any(value == 42)
    assert '"score": 1.0' in report.stdout_excerpt  # printed, shown, never parsed


def _tripled_plain(report: RunReport) -> None:
    for value, x in zip(_values(report), X_VALUES):
        assert type(value) is np.ndarray
        np.testing.assert_array_equal(value, 3 * x)


def _nan_kept(report: RunReport) -> None:
    for value in _values(report):
        assert value[0] == np.inf and np.isnan(value[1:]).all()


def _no_secret_environ(report: RunReport) -> None:
    for case in report.cases:
        if case.status == "ok":
            seen = bytes(np.asarray(case.value, dtype=np.uint8))
            assert SECRET.encode() not in seen
            assert b"PATH" in seen  # it did read its own (clean) environment


def _nothing_written(report: RunReport) -> None:
    outside = OUTSIDE_DIR
    assert (outside / "existing.txt").read_text() == "original\n"
    assert not (outside / "created.txt").exists()
    for value in _values(report):
        assert int(value) == 0


def _output_capped(report: RunReport) -> None:
    _same_x(report)
    assert len(report.stdout_excerpt) < FAST_LIMITS.max_output_bytes + 200
    assert "more bytes of output not shown" in report.stdout_excerpt


def _same_x(report: RunReport) -> None:
    for value, x in zip(_values(report), X_VALUES):
        np.testing.assert_array_equal(value, x)


def _forged_nesting_relayed_flat(report: RunReport) -> None:
    first, second = report.cases
    assert first.status == "crashed" and "result channel" in first.message, first.message
    assert second.status == "exception" and "[[" not in second.message, second.message


def _first_kept_then_exit_between(report: RunReport) -> None:
    first, second = report.cases
    assert first.status == "ok", first.message
    np.testing.assert_array_equal(first.value, 2 * X_VALUES[0])
    assert second.status == "crashed" and "between two calls" in second.message, second.message


def _names_cut_short(report: RunReport) -> None:
    for case in report.cases:
        assert ", in " + "\u00e9" * 100 + "\n" in case.message  # frames name the function, cut to 100 characters
        assert len(case.message) < 5_000, len(case.message)


def _class_name_cut_short(report: RunReport) -> None:
    for case in report.cases:
        assert "C" * 90 in case.message and len(case.message) < 1_000, len(case.message)


TABLE: dict[str, Expected] = {
    "infinite_loop.py": Expected(("timeout",), "CPU time", cases=1, slow=True),
    "sleep_forever.py": Expected(("timeout",), "took more than", cases=1, slow=True),
    "import_time_loop.py": Expected(("timeout",), "importing import_time_loop.py", slow=True),
    "memory_bomb.py": Expected(("memory",), "ran out of memory"),
    # Filling 256 MiB takes ~0.2 s of CPU; on a loaded machine it may take more than FAST_LIMITS' 0.5 s.
    "memory_bomb_list.py": Expected(("memory",), "MemoryError", cases=1, cpu_seconds=3.0),
    "fork_bomb.py": Expected(("exception",), "PermissionError", needs=("seccomp",)),
    "subprocess_spawn.py": Expected(("exception",), "PermissionError", needs=("seccomp",)),
    "daemon_process.py": Expected(("exception",), "PermissionError", needs=("seccomp",)),
    "daemon_thread.py": Expected(("ok",), check=_doubled),
    "exit_zero.py": Expected(("exception",), "SystemExit"),
    "os_exit_zero.py": Expected(("crashed",), "exit code 0"),
    "close_descriptors.py": Expected(("crashed",), "closes or replaces file descriptors it did not open"),
    "fake_result_stdout.py": Expected(("ok",), check=_plus_one_not_fake),
    "corrupt_channel.py": Expected(("crashed",), "result channel"),
    "forged_empty_blob.py": Expected(("bad-result",), "axis longer", cases=1),
    "read_answer_key.py": Expected(("exception",), "FileNotFoundError", needs=("private-filesystem",)),
    "proc_environ.py": Expected(("ok",), check=_no_secret_environ),
    "write_outside.py": Expected(("ok",), check=_nothing_written, needs=("private-filesystem",)),
    "monkeypatch_numpy.py": Expected(("ok",), check=_doubled),
    "monkeypatch_harness.py": Expected(("ok",), check=_doubled),
    "return_nan.py": Expected(("ok",), check=_nan_kept),
    "always_equal.py": Expected(("bad-result",), "AlwaysEqual"),
    "ndarray_subclass.py": Expected(("ok",), check=_tripled_plain),
    "huge_array.py": Expected(("bad-result",), "MiB"),
    "endless_print.py": Expected(("ok",), check=_output_capped),
    "network.py": Expected(("exception",), "PermissionError", needs=("seccomp",)),
    "deep_recursion.py": Expected(("exception",), "RecursionError"),
    "deep_recursion_unlimited.py": Expected(("timeout", "memory", "crashed", "exception"), cases=1, slow=True),
    "attack_worker.py": Expected(("exception",), "4 attacks refused"),
    "big_file.py": Expected(("exception",), "File too large"),
    "dev_files.py": Expected(("ok",), check=_doubled, needs=("private-filesystem",)),
    "many_files.py": Expected(("crashed",), "created more than 10000 files or folders", needs=("private-filesystem",), cpu_seconds=20.0),
    "forged_nested_frame.py": Expected(("exception", "crashed"), check=_forged_nesting_relayed_flat),
    "system_v_ipc.py": Expected(("exception",), "PermissionError: all refused", needs=("seccomp",)),
    "long_names.py": Expected(("exception",), "ValueError: deep enough", check=_names_cut_short),
    "long_class_name.py": Expected(("missing-function",), "not a function", check=_class_name_cut_short),
    "int8_result.py": Expected(("bad-result",), "as 64-bit numbers"),
    "exit_in_del.py": Expected(("ok", "crashed"), check=_first_kept_then_exit_between),
}


def test_every_hostile_file_has_an_expectation() -> None:
    assert sorted(p.name for p in HOSTILE_DIR.glob("*.py")) == sorted(TABLE)


@pytest.fixture(scope="module")
def secret_holder() -> object:
    """A process of the grader's user whose environment holds a secret, like a grader started with credentials."""
    os.environ["GRADER_SECRET"] = SECRET
    holder = subprocess.Popen(["sleep", "120"], env={"GRADER_SECRET": SECRET, "PATH": "/usr/bin:/bin"})
    yield holder
    holder.kill()
    holder.wait()
    del os.environ["GRADER_SECRET"]


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if TABLE[name].slow else []) for name in sorted(TABLE)])
def test_hostile_submission(
    name: str, secret_holder: object, exercise_dir: Path, outside_dir: Path, correct_submission: Path, tmp_path: Path
) -> None:
    expected = TABLE[name]
    active = probe_layers()
    missing = [layer for layer in expected.needs if not active[layer]]
    if missing:
        pytest.skip(f"needs the isolation layers {missing}, not available on this machine")
    cases = [CaseInput(f"case{i}", {"x": X_VALUES[i]}) for i in range(expected.cases)]
    cwd = os.getcwd()

    limits = FAST_LIMITS
    if expected.cpu_seconds is not None:
        limits = replace(FAST_LIMITS, cpu_seconds_per_case=expected.cpu_seconds, wall_seconds_per_case=2 * expected.cpu_seconds + 1)
    report = run_cases(hostile_copy(name, tmp_path), "solve", cases, limits=limits)

    assert [case.name for case in report.cases] == [case.name for case in cases]
    for case in report.cases:
        assert case.status in expected.statuses, f"{name}: {case.status}: {case.message}"
        assert expected.fragment in case.message, f"{name}: {case.message!r}"
        assert (case.value is not None) == (case.status == "ok")
        assert "_grader_sandbox" not in case.message and "child.py" not in case.message
    if expected.check is not None:
        expected.check(report)
    assert all(report.layers[layer] for layer in expected.needs)
    assert survivors() == []
    assert os.getcwd() == cwd
    assert_grader_fine(correct_submission)


def test_network_is_unreachable_without_seccomp_when_namespaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """With seccomp off, the network namespace alone must still stop the connection."""
    if not probe_layers()["no-network"]:
        pytest.skip("no network namespace (bubblewrap) on this machine")
    import grader.sandbox.layers as layers_module

    probed = dict(layers_module.probe_layers(), seccomp=False)
    monkeypatch.setattr(layers_module, "probe_layers", lambda: probed)
    report = run_cases(HOSTILE_DIR / "network.py", "solve", [CaseInput("net", {"x": X_VALUES[0]})], limits=FAST_LIMITS)
    assert report.layers["seccomp"] is False and report.layers["no-network"] is True
    outcome = report.cases[0]
    assert outcome.status == "exception"
    assert "Network is unreachable" in outcome.message or "OSError" in outcome.message, outcome.message
    assert survivors() == []


DAEMON_SOURCE = """\
import os, time


def solve(x):
    ready_read, ready_write = os.pipe()
    if os.fork() == 0:  # a daemon in a session of its own, out of reach of the process-group kill
        os.setsid()
        if os.fork() == 0:
            os.write(ready_write, b"up")
            time.sleep(1000)
        os._exit(0)
    os.read(ready_read, 2)  # return only once the daemon runs
    return x
"""


def test_a_daemon_started_without_seccomp_is_swept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With seccomp off the student can fork: the worker must then sweep their uid (with seccomp on it skips the
    sweep, since no process can have been started), leaving no process behind."""
    import grader.sandbox.layers as layers_module

    if not probe_layers()["separate-user"]:
        pytest.skip("the sweep by uid needs the grader to run as root (a fresh uid per submission)")
    probed = dict(layers_module.probe_layers(), seccomp=False)
    monkeypatch.setattr(layers_module, "probe_layers", lambda: probed)
    submission = tmp_path / "daemon.py"
    submission.write_text(DAEMON_SOURCE)
    report = run_cases(submission, "solve", [CaseInput("daemon", {"x": X_VALUES[0]})], limits=FAST_LIMITS)
    assert report.layers["seccomp"] is False
    assert report.cases[0].status == "ok", report.cases[0].message  # forking worked: only the sweep stops the daemon
    assert survivors() == []
