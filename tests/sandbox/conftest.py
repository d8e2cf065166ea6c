"""Fixtures for the sandbox tests: submission files, the checks that nothing survives a run and the grader is fine."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import CaseInput, Limits, run_cases
from grader.sandbox.worker import UID_BASE, UID_SPAN

HOSTILE_DIR = Path(__file__).parent / "hostile"

FIXED_PATHS = {
    "/tmp/grader-sandbox-test-exercise": Path(f"/tmp/grader-sandbox-test-exercise-{os.getpid()}"),
    "/tmp/grader-sandbox-test-outside": Path(f"/tmp/grader-sandbox-test-outside-{os.getpid()}"),
}
"""The fixed paths hostile files name, and this test run's own folder for each: two test runs on one machine must
not remove each other's (the hostile files are run from copies naming this run's folders, see ``hostile_copy``)."""
EXERCISE_DIR, OUTSIDE_DIR = FIXED_PATHS.values()


def hostile_copy(name: str, folder: Path) -> Path:
    """``HOSTILE_DIR / name`` copied into ``folder``, with the fixed paths it names replaced by this run's."""
    source = (HOSTILE_DIR / name).read_text(encoding="utf-8")
    for fixed, own in FIXED_PATHS.items():
        source = source.replace(fixed, str(own))
    copy = folder / name
    copy.write_text(source, encoding="utf-8")
    return copy
MARKER = b"grader-hostile-marker"

# Short limits keep the slow hostile cases (endless loops, sleeping) to a second or two each.
FAST_LIMITS = Limits(cpu_seconds_per_case=0.5, wall_seconds_per_case=1.5, wall_seconds_total=8.0, memory_bytes=256 << 20)

CONV2D_SOURCE = '''\
"""A correct student conv2d: cross-correlation, valid padding, stride 1."""

import numpy as np


def conv2d(image, filters):
    f, _, C, K = filters.shape
    H, W, _ = image.shape
    out = np.zeros((H - f + 1, W - f + 1, K))
    for x in range(f):
        for y in range(f):
            out += np.tensordot(image[x:x + H - f + 1, y:y + W - f + 1, :], filters[x, y], axes=([2], [0]))
    return out
'''


def conv2d_loops(image: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Obviously-right loop oracle: ``image (H, W, C)``, ``filters (f, f, C, K)`` -> ``(H-f+1, W-f+1, K)``."""
    f, _, C, K = filters.shape
    H, W, _ = image.shape
    out = np.zeros((H - f + 1, W - f + 1, K))
    for i in range(H - f + 1):
        for j in range(W - f + 1):
            for k in range(K):
                for x in range(f):
                    for y in range(f):
                        for c in range(C):
                            out[i, j, k] += image[i + x, j + y, c] * filters[x, y, c, k]
    return out


def survivors() -> list[str]:
    """Processes running as a sandbox uid or carrying the hostile marker in their command line (zombies too)."""
    found: list[str] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        uid_line = next((line for line in status.splitlines() if line.startswith("Uid:")), "Uid: 0")
        uid = int(uid_line.split()[1])
        if UID_BASE <= uid < UID_BASE + UID_SPAN or MARKER in cmdline:
            found.append(f"pid {entry} uid {uid} cmdline {cmdline[:100]!r}")
    return found


def assert_grader_fine(correct_submission: Path) -> None:
    """The grading process still works: numpy gives honest answers and a correct submission still passes."""
    assert np.allclose(np.ones(3), np.ones(3)) and not np.allclose(np.ones(3), np.zeros(3))
    assert isinstance(np.asarray([1.0]), np.ndarray)
    rng = np.random.default_rng(7)
    image, filters = rng.normal(size=(5, 5, 2)), rng.normal(size=(3, 3, 2, 2))
    report = run_cases(correct_submission, "conv2d", [CaseInput("check", {"image": image, "filters": filters})])
    assert report.cases[0].status == "ok", report.cases[0].message
    np.testing.assert_allclose(report.cases[0].value, conv2d_loops(image, filters), rtol=1e-12, atol=1e-12)
    assert survivors() == []


@pytest.fixture(scope="session")
def correct_submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("submissions") / "conv.py"
    path.write_text(CONV2D_SOURCE)
    return path


@pytest.fixture
def write_submission(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a submission file named ``name`` with ``text``; returns its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def exercise_dir() -> Iterator[Path]:
    """This run's copy of the fixed path the hostile ``read_answer_key.py`` tries to read, holding a secret answer key."""
    path = EXERCISE_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    (path / "answer_key.yaml").write_text("expected: secret-answer-8d1f\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def outside_dir() -> Iterator[Path]:
    """This run's copy of the fixed folder the hostile ``write_outside.py`` tries to write into."""
    path = OUTSIDE_DIR
    path.mkdir(mode=0o755, exist_ok=True)
    os.chmod(path, 0o1777)  # world-writable like /tmp: only the sandbox's own layers may stop the write
    (path / "existing.txt").write_text("original\n")
    (path / "created.txt").unlink(missing_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)
