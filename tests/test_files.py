"""Output files (``grader.files.write_atomic``) through the real CLI: what sits at ``-o PATH`` is respected.

``grader schema -o PATH`` is the probe: it grades nothing, so each run is quick. No test touches a real ``/dev``
node: devices are made with mknod in the test's own folder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRADER = [sys.executable, "-m", "grader"]


def schema_to(path: Path, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """``grader schema -o path`` as a user runs it, with the given umask."""
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [*GRADER, "schema", "-o", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
        env=environment, umask=umask,
    )


def _is_schema(text: str) -> bool:
    return "properties" in json.loads(text)


def test_a_symlink_is_followed_and_its_target_replaced(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    result = schema_to(link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == target.name
    assert _is_schema(target.read_text(encoding="utf-8"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "target.json"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("out/schema.json")
    result = schema_to(link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and _is_schema((tmp_path / "out" / "schema.json").read_text(encoding="utf-8"))


def test_a_symlink_loop_is_refused_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    result = schema_to(tmp_path / "a")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: cannot write {tmp_path / 'a'}: ")
    assert os.readlink(tmp_path / "a") == "b" and os.readlink(tmp_path / "b") == "a"


def test_a_fifo_is_streamed_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []

    def read() -> None:
        with open(fifo, encoding="utf-8") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = schema_to(fifo)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and _is_schema(received[0])
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_character_device_is_written_not_replaced(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    node = tmp_path / "fakenull"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the null device, in the test's own folder
    except OSError as error:
        pytest.skip(f"mknod is not allowed here: {error}")
    try:
        with open(node, "w", encoding="utf-8") as handle:
            handle.write("probe")
        usable = True
    except OSError:  # a file system mounted nodev: the node exists but cannot be opened
        usable = False
    result = schema_to(node)
    assert result.returncode == (0 if usable else 2), result.stderr
    after = os.lstat(node)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["fakenull"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_usual_mode(tmp_path: Path, umask: int, mode: int) -> None:
    out = tmp_path / "schema.json"
    result = schema_to(out, umask=umask)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o640)
    before = out.stat().st_ino
    result = schema_to(out, umask=0o022)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_ino != before and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert _is_schema(out.read_text(encoding="utf-8"))


def test_a_write_removes_what_a_killed_writer_of_the_same_file_left(tmp_path: Path) -> None:
    """A writer killed between creating its temporary file and renaming it leaves ``.NAME.PID.xxxx.tmp``; the next
    write of that file removes it when that process is gone, and leaves a live writer's alone."""
    from grader.files import write_atomic

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    orphan = tmp_path / f".report.html.{gone.stdout.strip()}.abc123.tmp"
    orphan.write_text("half a report")
    live = tmp_path / f".report.html.{os.getppid()}.def456.tmp"
    live.write_text("being written")
    other = tmp_path / f".other.html.{gone.stdout.strip()}.abc123.tmp"
    other.write_text("another file's")
    write_atomic(tmp_path / "report.html", "<p>done</p>")
    assert (tmp_path / "report.html").read_text() == "<p>done</p>"
    assert not orphan.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "report.html"])
