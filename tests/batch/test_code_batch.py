"""Code submissions through the batch: graded several at a time per worker when there are more cores than workers,
each exactly as ``grade_file`` grades it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.batch import code_threads_per_job, run_batch
from grader.gradebook import Gradebook
from grader.grading import grade_file
from tests.batch.helpers import run_grader

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "exercises" / "week7.yaml"
CODE = ROOT / "submissions" / "week7" / "code"


@pytest.mark.parametrize(
    ("jobs", "cores", "expected"),
    [(1, 1, 1), (1, 2, 2), (2, 2, 1), (3, 2, 1), (3, 8, 3), (2, 7, 4), (64, 8, 1)],
)
def test_workers_together_keep_one_code_submission_in_flight_per_core(jobs: int, cores: int, expected: int) -> None:
    assert code_threads_per_job(jobs, cores) == expected


@pytest.mark.parametrize("cores", [1, 4], ids=["one-at-a-time", "four-at-a-time"])
def test_code_submissions_in_a_batch_match_grading_them_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)  # one job: its code threads are the cores
    folder = tmp_path / "code"
    names = ["correct.py", "correct.ipynb", "mistake-flipped-kernel.py", "error-crash.py", "mistake-average-pooling.py"]
    folder.mkdir()
    for name in names:
        shutil.copy(CODE / name, folder / name)
    book = tmp_path / "book.sqlite"
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=book, progress=False, chunk_size=8)
    assert summary.graded == len(names) and summary.failed == 0
    with Gradebook(book) as gradebook:
        stored = {Path(r.submission).name: r for r in gradebook.results("week7")}
        assert gradebook.count() == len(names)
    for name in names:
        alone = grade_file(SHEET, folder / name)
        batched = stored[name]
        assert batched.student_id == alone.student_id
        assert [(p.key, p.status, p.points_earned, p.mistake) for p in batched.parts] == [
            (p.key, p.status, p.points_earned, p.mistake) for p in alone.parts
        ]


def _without_seccomp(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's probe says seccomp is missing (a forked worker inherits the patch)."""
    from grader.sandbox import layers

    probed = dict(layers.probe_layers(), seccomp=False)
    monkeypatch.setattr(layers, "probe_layers", lambda: probed)


def _grader(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``grader ARGS...`` in this process (the patched probe applies): its exit code and stderr."""
    code, _, err = run_grader(monkeypatch, capsys, *args)
    return code, err


def test_require_sandbox_stops_a_batch_with_code_before_anything_is_graded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    shutil.copy(CODE / "correct.py", folder / "correct.py")
    book = tmp_path / "book.sqlite"
    _without_seccomp(monkeypatch)
    code, err = _grader(monkeypatch, capsys, "batch", str(SHEET), str(folder), "--gradebook", str(book), "--jobs", "1", "--require-sandbox")
    assert code == 2 and "the sandbox is required" in err and "seccomp" in err, err
    assert not book.exists()  # refused before the gradebook was opened: nothing graded, nothing to resume


def test_require_sandbox_in_a_worker_is_a_grader_failure_graded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask worker may lack a layer the batch's machine has: its code submissions fail as the grader's fault."""
    from grader.sandbox import layers

    folder = tmp_path / "code"
    folder.mkdir()
    shutil.copy(CODE / "correct.py", folder / "correct.py")
    shutil.copy(ROOT / "submissions" / "week7" / "correct.yaml", folder / "answers.yaml")
    real = layers.probe_layers
    calls: list[int] = []

    def parent_has_them_workers_do_not() -> dict[str, bool]:
        calls.append(os.getpid())
        return dict(real(), seccomp=len(calls) == 1 and real()["seccomp"])

    monkeypatch.setattr(layers, "probe_layers", parent_has_them_workers_do_not)
    if not all(real().values()):
        pytest.skip("this machine lacks an isolation layer: the batch would refuse before grading")
    summary = run_batch(SHEET, folder, jobs=1, gradebook_path=tmp_path / "book.sqlite", progress=False, require_sandbox=True)
    assert summary.graded == 2 and summary.grader_failures == 1
    [(path, message)] = summary.failures
    assert path.endswith("correct.py") and "SandboxUnavailable" in message and "seccomp" in message


def test_check_require_sandbox_refuses_code_without_every_layer(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _without_seccomp(monkeypatch)
    code, err = _grader(monkeypatch, capsys, "check", str(SHEET), str(CODE / "correct.py"), "--require-sandbox")
    assert code == 2 and "seccomp" in err, err
    code, err = _grader(monkeypatch, capsys, "check", str(SHEET), str(ROOT / "submissions" / "week7" / "correct.yaml"), "--require-sandbox")
    assert code == 0, err  # no code, nothing to isolate


def test_require_sandbox_says_why_an_installed_bubblewrap_failed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """bubblewrap installed but failing (as a user who cannot read a Python under /root): the message says what it
    said, not only 'install bubblewrap'."""
    from grader.sandbox import layers

    said = "it failed (exit code 1): bwrap: Can't find source path /root/.pyenv/versions/3.11.7: Permission denied"
    probed = dict(layers.probe_layers(), **{name: False for name in layers.BWRAP_LAYERS})
    monkeypatch.setattr(layers, "probe_layers", lambda: probed)
    monkeypatch.setattr(layers, "bwrap_problem", lambda: said)
    code, err = _grader(monkeypatch, capsys, "check", str(SHEET), str(CODE / "correct.py"), "--require-sandbox")
    assert code == 2 and f"bubblewrap is installed, but {said}" in err, err


def test_code_run_without_bubblewrap_is_never_silent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Without bubblewrap, code runs (a laptop can still grade) but could read the machine's files, the sheet and
    other students' included: grade and batch said nothing of it; now they warn. check runs a student's own code on
    their own machine, and answer files run no code: no warning."""
    from grader.sandbox import layers

    probed = dict(layers.probe_layers(), **{name: False for name in layers.BWRAP_LAYERS})
    monkeypatch.setattr(layers, "probe_layers", lambda: probed)
    warning = "code submission ran without bubblewrap (no private filesystem): students' code could read every file"
    code, _, err = run_grader(monkeypatch, capsys, "grade", str(SHEET), str(CODE / "correct.py"))
    assert code == 0 and f"warning: 1 {warning}" in err, err
    code, _, err = run_grader(monkeypatch, capsys, "check", str(SHEET), str(CODE / "correct.py"))
    assert code == 0 and "bubblewrap" not in err, err
    code, _, err = run_grader(monkeypatch, capsys, "grade", str(SHEET), str(ROOT / "submissions" / "week7" / "correct.yaml"))
    assert code == 0 and "bubblewrap" not in err, err
    not_a_module = tmp_path / "not-utf8.py"
    not_a_module.write_bytes(b"\xff\xfe def conv2d(): pass")  # no code of it runs: nothing to warn of
    code, _, err = run_grader(monkeypatch, capsys, "grade", str(SHEET), str(not_a_module))
    assert code == 0 and "bubblewrap" not in err, err
    folder = tmp_path / "code"
    folder.mkdir()
    for name in ("correct.py", "error-crash.py"):
        shutil.copy(CODE / name, folder / name)
    shutil.copy(ROOT / "submissions" / "week7" / "correct.yaml", folder / "answers.yaml")
    code, out, err = run_grader(monkeypatch, capsys, "batch", str(SHEET), str(folder), "--jobs", "1", "--gradebook", str(tmp_path / "gb.sqlite"))
    assert code == 0 and "warning: 2 code submissions ran without bubblewrap" in out + err, out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
        (["--out-dir", "reports-here"], "--out-dir needs --format"),
    ],
    ids=["scheduler-without-dask", "out-dir-without-format"],
)
def test_batch_options_that_need_another_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = _grader(monkeypatch, capsys, "batch", str(SHEET), str(CODE), "--gradebook", "book.sqlite", *args)
    assert code == 2 and message in err, err
    assert not (tmp_path / "book.sqlite").exists() and not (tmp_path / "reports-here").exists()
