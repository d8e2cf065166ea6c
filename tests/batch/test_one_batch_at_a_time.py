"""A second batch on a gradebook another batch is writing is refused at once, with one message; the lock goes with
the first batch (at its end, or when it is killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from grader.batch import run_batch
from tests.batch.helpers import fake_grade, make_fake_cohort, run_grader, write_fake_spec, write_fake_submission
from tests.batch.test_interrupted import _row_count, _start


def _start_slow_batch(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, Path, Path]:
    """A batch (fake grading, 2 jobs) that runs for several seconds: one submission dawdles while the others are
    graded. Returns once it has saved a result, so it holds the gradebook."""
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    make_fake_cohort(folder, 12)
    write_fake_submission(folder / "a-slow.json", "slow", {"ex1.a": 1.0}, sleep=6)
    gradebook = tmp_path / "gradebook.sqlite"
    first = _start(spec, folder, gradebook)
    deadline = time.monotonic() + 60
    while _row_count(gradebook) == 0:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first batch saved nothing in 60 s"
        time.sleep(0.05)
    assert first.poll() is None, "the first batch ended before the second started: its slow submission was too quick"
    return first, spec, folder, gradebook


def test_a_second_batch_is_refused_while_the_first_runs_and_runs_after_it(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    first, spec, folder, gradebook = _start_slow_batch(tmp_path)
    try:
        rows_before = _row_count(gradebook)
        code, out, err = run_grader(monkeypatch, capsys, "batch", spec, folder, "--gradebook", gradebook)
        assert code == 2
        assert err.strip() == (
            f"error: gradebook {gradebook}: another grader batch is writing it; wait until that batch ends (two at "
            "once would each grade every submission), or give this one its own --gradebook"
        )
        assert out == ""
        assert _row_count(gradebook) >= rows_before  # the refused batch forgot and removed nothing
        # Reading is not writing: a report of what is saved so far still works.
        code, out, err = run_grader(monkeypatch, capsys, "report", spec, "--gradebook", gradebook, "--out-dir", tmp_path / "reports")
        assert code == 0, err
        assert list((tmp_path / "reports").iterdir())
    finally:
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert stdout.split() == ["13", "0", "0"]  # the first batch graded everything, undisturbed
    after = run_batch(spec, folder, jobs=1, gradebook_path=gradebook, progress=False, grade_fn=fake_grade)
    assert (after.graded, after.skipped) == (0, 13)  # the lock went with the first batch


def test_a_killed_batch_leaves_no_lock_behind(tmp_path: Path) -> None:
    first, spec, folder, gradebook = _start_slow_batch(tmp_path)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    after = run_batch(spec, folder, jobs=2, gradebook_path=gradebook, progress=False, grade_fn=fake_grade)
    assert after.graded + after.skipped == 13 and after.failed == 0


def test_the_lock_is_taken_on_the_gradebook_file_itself(tmp_path: Path) -> None:
    """No lock file is left next to the gradebook: only the gradebook and SQLite's own files."""
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    make_fake_cohort(folder, 3)
    gradebook = tmp_path / "books" / "gradebook.sqlite"
    gradebook.parent.mkdir()
    run_batch(spec, folder, jobs=1, gradebook_path=gradebook, progress=False, grade_fn=fake_grade)
    assert sorted(path.name for path in gradebook.parent.iterdir()) == ["gradebook.sqlite"]
    code = subprocess.run(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(gradebook)],
        check=False,
    ).returncode
    assert code == 0  # released when the batch returned


def test_forked_workers_do_not_hold_the_lock(tmp_path: Path) -> None:
    """A worker forked from the batch closes its copy of the lock, so only the batch itself holds it: a worker
    outliving its killed batch cannot keep the gradebook locked."""
    from grader.gradebook import Gradebook

    with Gradebook(tmp_path / "gb.sqlite", exclusive=True) as book:
        descriptor = book._lock_fd
        assert descriptor is not None
        child = os.fork()
        if child == 0:  # the child: is the descriptor still open here?
            try:
                os.fstat(descriptor)
            except OSError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the forked child still holds the lock descriptor"
        os.fstat(descriptor)  # the parent's is open
