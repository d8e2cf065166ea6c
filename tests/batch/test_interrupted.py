"""A batch killed with SIGKILL at random moments and run again grades every submission exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.batch import file_sha256
from grader.result import Result
from tests.batch.helpers import make_fake_cohort, write_fake_spec

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = """
import sys
from pathlib import Path
from grader.batch import run_batch
from tests.batch.helpers import fake_grade
summary = run_batch(Path(sys.argv[1]), Path(sys.argv[2]), jobs=2, gradebook_path=Path(sys.argv[3]),
                    progress=False, grade_fn=fake_grade, chunk_size=4)
print(summary.graded, summary.skipped, summary.failed)
"""


def _row_count(gradebook: Path) -> int:
    if not gradebook.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _start(spec: Path, folder: Path, gradebook: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(spec), str(folder), str(gradebook)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _live_members(group: int) -> list[int]:
    """Pids of the process group's members that are still running (zombies awaiting their reaper excluded)."""
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state not in ("Z", "X"):
            live.append(int(entry.name))
    return live


def _workers_gone(group: int, wait: float = 10.0) -> bool:
    """Whether the killed batch's workers die with it (Linux); kills leftovers either way."""
    deadline = time.monotonic() + wait
    while _live_members(group):
        if time.monotonic() > deadline:
            os.killpg(group, signal.SIGKILL)
            return False
        time.sleep(0.01)
    return True


def _check_consistent(gradebook: Path) -> int:
    """No half-written submission: every row's part rows match its stored Result. Returns the row count."""
    with sqlite3.connect(gradebook) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT id, path, points_earned, result_json FROM submissions").fetchall()
        for submission_id, path, points_earned, result_json in rows:
            result = Result.model_validate_json(result_json)
            parts = conn.execute(
                "SELECT part_key, points_earned FROM parts WHERE submission_id = ? ORDER BY position", (submission_id,)
            ).fetchall()
            assert [key for key, _ in parts] == [p.key for p in result.parts], path
            assert sum(points for _, points in parts) == pytest.approx(points_earned)
            assert result.points_earned == pytest.approx(points_earned)
        orphans = conn.execute(
            "SELECT COUNT(*) FROM parts WHERE submission_id NOT IN (SELECT id FROM submissions)"
        ).fetchone()[0]
        assert orphans == 0
        return len(rows)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_rerun_grades_each_submission_exactly_once(tmp_path: Path) -> None:
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    paths = make_fake_cohort(folder, 200, seed=3, sleep=0.01)
    gradebook = tmp_path / "gb.sqlite"
    rng = random.Random(7)

    for threshold in (10 + rng.randrange(10), 80 + rng.randrange(10), 150 + rng.randrange(10)):
        process = _start(spec, folder, gradebook)
        deadline = time.monotonic() + 60
        while _row_count(gradebook) < threshold and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert process.poll() is None, f"the batch ended before it was killed: {process.communicate()}"
        os.kill(process.pid, signal.SIGKILL)  # the writer dies first, mid-stream
        process.wait(timeout=30)
        if sys.platform.startswith("linux"):
            assert _workers_gone(process.pid), "worker processes outlived the killed batch"
        assert process.returncode == -signal.SIGKILL
        graded = _check_consistent(gradebook)
        assert threshold <= graded < len(paths)

    before = _check_consistent(gradebook)
    final = _start(spec, folder, gradebook)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    graded, skipped, failed = map(int, out.split())
    assert (graded, skipped, failed) == (len(paths) - before, before, 0)

    assert _check_consistent(gradebook) == len(paths)
    with sqlite3.connect(gradebook) as conn:
        stored = dict(conn.execute("SELECT path, result_json FROM submissions"))
    assert sorted(stored) == sorted(str(p.resolve()) for p in paths)
    for path in paths:
        result = Result.model_validate_json(stored[str(path.resolve())])
        assert result.submission_hash == file_sha256(path)
        assert result.student_id == json.loads(path.read_text())["student"]


_INTERRUPTIBLE = """
import sys
from pathlib import Path
from grader.batch import run_batch
from grader.errors import Interrupted
from tests.batch.helpers import fake_grade
try:
    summary = run_batch(Path(sys.argv[1]), Path(sys.argv[2]), jobs=2, gradebook_path=Path(sys.argv[3]),
                        progress=False, grade_fn=fake_grade, chunk_size=4)
except Interrupted as stopped:  # what grader.cli.main does with it
    print(stopped, file=sys.stderr)
    sys.exit(130)
print(summary.graded, summary.skipped, summary.failed)
"""


@pytest.mark.parametrize("whom", ["group", "batch-only"], ids=["ctrl-c-in-a-terminal", "kill-int-the-batch"])
def test_ctrl_c_stops_the_workers_says_what_is_saved_and_a_rerun_grades_the_rest(tmp_path: Path, whom: str) -> None:
    spec = write_fake_spec(tmp_path)
    folder = tmp_path / "submissions"
    paths = make_fake_cohort(folder, 200, seed=5, sleep=0.01)
    gradebook = tmp_path / "gb.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTIBLE, str(spec), str(folder), str(gradebook)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while _row_count(gradebook) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert process.poll() is None, f"the batch ended before it was interrupted: {process.communicate()}"
    if whom == "group":
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches every process of the group
    else:
        os.kill(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    graded = _check_consistent(gradebook)
    assert f"interrupted: {graded} of the {len(paths)} submission(s) to grade were graded and are saved in {gradebook}" in err
    assert "run the same command again" in err and "Traceback" not in err
    if sys.platform.startswith("linux"):
        assert _workers_gone(process.pid), "worker processes outlived the interrupted batch"

    rerun = _start(spec, folder, gradebook)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert tuple(map(int, out.split())) == (len(paths) - graded, graded, 0)
    assert _check_consistent(gradebook) == len(paths)


def test_the_command_line_exits_130_with_the_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import grader.batch
    from grader.cli import main
    from grader.errors import Interrupted

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise Interrupted("interrupted: 3 of the 9 submission(s) to grade were graded and are saved in gb.sqlite")

    monkeypatch.setattr(grader.batch, "run_batch", interrupted)
    monkeypatch.setattr(sys, "argv", ["grader", "batch", str(REPO / "exercises" / "week7.yaml"), str(REPO / "submissions" / "week7")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted: 3 of the 9 submission(s) to grade were graded and are saved in gb.sqlite"


def test_ctrl_c_in_any_other_command_says_interrupted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """typer turns Ctrl-C into exit 130 with nothing said; the grader says it was interrupted."""
    import grader.validate
    from grader.cli import main

    def pressed_ctrl_c(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.validate, "validate_paths", pressed_ctrl_c)
    monkeypatch.setattr(sys, "argv", ["grader", "validate", str(REPO / "exercises")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130 and capsys.readouterr().err.strip() == "interrupted"
