"""The gradebook when the world fails it: a full disk, a read-only place, a SQLite file that is someone else's.

Each failure is one line naming the gradebook (exit 2 from the command), never a traceback or an "internal error".
The tests that need a real full or read-only disk mount a small tmpfs (as root; they are skipped, with the reason,
where mounting is not permitted); the folder of the read-only tests is a ``chmod 555`` folder when not root.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import gradebook as gradebook_module
from grader.errors import GraderError
from grader.gradebook import Gradebook, prepare_record
from tests.batch.helpers import make_result

ROOT = Path(__file__).resolve().parents[2]
WEEK7 = ROOT / "exercises" / "week7.yaml"
SAMPLES = ROOT / "submissions" / "week7"
NOT_A_GRADEBOOK = "is a SQLite file but not a grader gradebook"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m grader ARGS`` as a user runs it, from the repository."""
    environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], book: Path, *needles: str) -> None:
    """Exit 2 and one ``error: gradebook BOOK: ...`` line holding every needle; no traceback, no internal error."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: gradebook {book}: "), line
    for needle in needles:
        assert needle in line, line


def answer_files(folder: Path) -> Path:
    """The week-7 sample answer files (no code: those run in the sandbox and are slow) copied into ``folder``."""
    folder.mkdir()
    for sample in sorted(SAMPLES.iterdir()):
        if sample.is_file() and sample.suffix in (".yaml", ".json"):
            shutil.copy(sample, folder / sample.name)
    return folder


def submission_count(book: Path) -> int:
    with sqlite3.connect(f"{book.as_uri()}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``tmpfs(name, size=None)``: a fresh tmpfs mounted at ``tmp_path / name`` (skips the test where mounting is
    not permitted); every one is unmounted afterwards, also when the test fails."""
    mounted: list[Path] = []

    def mount(name: str, size: str | None = None) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a small tmpfs needs root and mount(8)")
        point = tmp_path / name
        point.mkdir()
        options = ["-o", f"size={size}"] if size else []
        done = subprocess.run(["mount", "-t", "tmpfs", *options, "tmpfs", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True, capture_output=True)


@pytest.fixture
def read_only_folder(tmp_path: Path, tmpfs: Callable[..., Path]) -> Iterator[Callable[[dict[str, Path]], Path]]:
    """``read_only_folder({name: source})``: a folder holding copies of the files, which the grader (run by this
    user) cannot write to: a read-only tmpfs as root (root writes into any ``chmod 555`` folder), else a folder
    without write permission."""
    locked: list[Path] = []

    def make(files: dict[str, Path]) -> Path:
        folder = tmpfs("ro") if os.geteuid() == 0 else tmp_path / "ro"
        folder.mkdir(exist_ok=True)
        for name, source in files.items():
            shutil.copy(source, folder / name)
        if os.geteuid() == 0:
            remount(folder, "ro")
        else:
            folder.chmod(0o555)
            locked.append(folder)
        return folder

    yield make
    for folder in locked:
        folder.chmod(0o755)


@pytest.fixture(scope="module")
def week7_gradebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished gradebook of two week-7 samples, written by ``grader batch``."""
    folder = tmp_path_factory.mktemp("week7")
    submissions = folder / "subs"
    submissions.mkdir()
    for name in ("correct.yaml", "correct-seed-17.yaml"):
        shutil.copy(SAMPLES / name, submissions / name)
    book = folder / "gb.sqlite"
    result = run("batch", WEEK7, submissions, "--jobs", "1", "--gradebook", book)
    assert result.returncode == 0, result.stderr
    assert not Path(f"{book}-wal").exists()  # closed cleanly: everything is in the main file
    return book


# -- a full disk -------------------------------------------------------------------------------------------------


def test_a_full_disk_during_a_batch_is_one_line_and_the_next_run_carries_on(tmp_path: Path, tmpfs: Callable[..., Path]) -> None:
    """The red team's case: SQLite rolls the transaction back itself when COMMIT finds the disk full; the grader
    must not roll back again ("no transaction is active") and must say what happened."""
    folder = answer_files(tmp_path / "subs")
    disk = tmpfs("full", size="300k")
    book = disk / "gb.sqlite"
    result = run("batch", WEEK7, folder, "--jobs", "1", "--gradebook", book)
    assert_one_error_line(
        result,
        book,
        "the disk is full (SQLite: database or disk is full); the results graded so far are saved: "
        "free some space and run the same command again",
    )
    saved = submission_count(book)
    assert 0 < saved < len(list(folder.iterdir()))
    with sqlite3.connect(book) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    remount(disk, "size=20m")  # space freed: the same command grades the rest, skipping what was saved
    again = run("batch", WEEK7, folder, "--jobs", "1", "--gradebook", book)
    assert again.returncode == 0, again.stderr
    assert f"skipped {saved} unchanged" in again.stdout
    assert submission_count(book) == len(list(folder.iterdir()))


@pytest.mark.parametrize("size", ["8k", "64k"])  # 8k: no room for the -shm file (SQLite: "disk I/O error")
def test_a_disk_full_before_the_gradebook_is_created_is_one_line(tmp_path: Path, tmpfs: Callable[..., Path], size: str) -> None:
    folder = answer_files(tmp_path / "subs")
    disk = tmpfs("full", size=size)
    book = disk / "gb.sqlite"
    result = run("batch", WEEK7, folder, "--jobs", "1", "--gradebook", book)
    assert_one_error_line(result, book, "the disk is full (SQLite: ", "free some space and run the same command again")
    remount(disk, "size=20m")  # whatever the failed creation left behind is taken up again
    again = run("batch", WEEK7, folder, "--jobs", "1", "--gradebook", book)
    assert again.returncode == 0, again.stderr
    assert submission_count(book) == len(list(folder.iterdir()))


def test_a_full_disk_in_the_middle_of_a_write_keeps_the_earlier_results(tmp_path: Path) -> None:
    """Without mounting anything: ``max_page_count`` makes SQLite report a full database mid-transaction."""
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        first = make_result("s1", {"ex1.a": 1.0}, submission_hash="h1", spec_hash="s")
        gradebook.record(first, "p1")
        pages = gradebook._conn.execute("PRAGMA page_count").fetchone()[0]
        gradebook._conn.execute(f"PRAGMA max_page_count = {pages}")
        big = make_result("s2" * 20_000, {"ex1.a": 1.0, "ex1.b": 0.0}, submission_hash="h2", spec_hash="s")
        with pytest.raises(GraderError, match=r"gb\.sqlite: the disk is full \(SQLite: database or disk is full\); "
                                              r"the results graded so far are saved"):
            gradebook.record(big, "p2")
        assert not gradebook._conn.in_transaction
        assert {path: key[:3] for path, key in gradebook.graded_keys("s").items()} == {"p1": ("h1", None, None)}
        gradebook._conn.execute("PRAGMA max_page_count = 1073741823")  # space again: writing goes on
        gradebook.record(big, "p2")
        assert gradebook.count() == 2


class _CommitFails:
    """A connection whose COMMIT fails as on a full disk, after SQLite has rolled the transaction back itself."""

    def __init__(self, conn: sqlite3.Connection, code: int, message: str) -> None:
        self.conn = conn
        self.code = code
        self.message = message

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self.conn.execute("ROLLBACK")
            error = sqlite3.OperationalError(self.message)
            error.sqlite_errorcode = self.code  # type: ignore[attr-defined]
            raise error
        return self.conn.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)


@pytest.mark.parametrize(
    ("code", "message", "cause"),
    [
        (sqlite3.SQLITE_FULL, "database or disk is full", "the disk is full"),
        (sqlite3.SQLITE_IOERR | (3 << 8), "disk I/O error", "the disk could not be read or written"),
        (sqlite3.SQLITE_READONLY, "attempt to write a readonly database", "cannot be written: the file, its folder"),
    ],
)
def test_a_commit_that_fails_after_sqlite_rolled_back_names_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, message: str, cause: str
) -> None:
    monkeypatch.setattr(gradebook_module, "DISK_FULL_BYTES", 0)  # tmp_path's disk may really be nearly full
    with Gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.record(make_result("s1", {"ex1.a": 1.0}, submission_hash="h1", spec_hash="s"), "p1")
        real = gradebook._conn
        gradebook._conn = _CommitFails(real, code, message)  # type: ignore[assignment]
        try:
            with pytest.raises(GraderError) as raised:
                gradebook.record(make_result("s2", {"ex1.a": 1.0}, submission_hash="h2", spec_hash="s"), "p2")
        finally:
            gradebook._conn = real
        text = str(raised.value)
        assert text.startswith(f"gradebook {tmp_path / 'gb.sqlite'}: {cause}")
        assert f"(SQLite: {message})" in text and "the results graded so far are saved" in text
        assert {path: key[:3] for path, key in gradebook.graded_keys("s").items()} == {"p1": ("h1", None, None)}


# -- a read-only place -------------------------------------------------------------------------------------------


def test_a_finished_gradebook_is_read_from_a_read_only_folder(
    tmp_path: Path, week7_gradebook: Path, read_only_folder: Callable[[dict[str, Path]], Path]
) -> None:
    folder = read_only_folder({"gb.sqlite": week7_gradebook})
    book = folder / "gb.sqlite"
    stats = run("stats", WEEK7, "--gradebook", book)
    assert stats.returncode == 0, stats.stderr
    assert "Statistics of week7" in stats.stdout and "2 submissions" in stats.stdout
    report = run("report", WEEK7, "--gradebook", book, "--out-dir", tmp_path / "reports")
    assert report.returncode == 0, report.stderr
    assert len(list((tmp_path / "reports").iterdir())) == 2
    assert sorted(path.name for path in folder.iterdir()) == ["gb.sqlite"]  # nothing created next to it

    # Writing there is refused in one line, before anything is graded.
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", one)
    batch = run("batch", WEEK7, one, "--jobs", "1", "--gradebook", book)
    assert_one_error_line(batch, book, "read-only")


def test_an_unfinished_gradebook_in_a_read_only_folder_says_to_copy_it_with_its_wal(
    tmp_path: Path, week7_gradebook: Path, read_only_folder: Callable[[dict[str, Path]], Path]
) -> None:
    crashed = tmp_path / "crashed.sqlite"
    shutil.copy(week7_gradebook, crashed)
    # A batch killed after a commit: the commit is in crashed.sqlite-wal, not yet in the main file.
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sqlite3, sys\n"
         "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "conn.execute('PRAGMA wal_autocheckpoint = 0')\n"
         "conn.execute(\"INSERT INTO meta (key, value) VALUES ('killed', 'yes')\")\n"
         "os._exit(0)\n", str(crashed)],
        capture_output=True, text=True,
    )
    assert killed.returncode == 0, killed.stderr
    assert Path(f"{crashed}-wal").stat().st_size > 0
    folder = read_only_folder({"gb.sqlite": crashed, "gb.sqlite-wal": Path(f"{crashed}-wal")})
    book = folder / "gb.sqlite"
    result = run("stats", WEEK7, "--gradebook", book)
    assert_one_error_line(
        result, book, "gb.sqlite-wal", "did not finish cleanly",
        "copy the gradebook together with gb.sqlite-wal to a writable folder",
    )
    # Copied as told, with its -wal file, it reads (and holds the killed batch's last commit).
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(book, copy / "gb.sqlite")
    shutil.copy(Path(f"{book}-wal"), copy / "gb.sqlite-wal")
    assert run("stats", WEEK7, "--gradebook", copy / "gb.sqlite").returncode == 0
    with Gradebook(copy / "gb.sqlite", read_only=True) as gradebook:
        assert gradebook._conn.execute("SELECT value FROM meta WHERE key = 'killed'").fetchone() == ("yes",)


# -- someone else's SQLite file ----------------------------------------------------------------------------------


FOREIGN = {
    "students": "CREATE TABLE students (id, name); INSERT INTO students VALUES (1, 'Ada')",
    "submissions-of-another-tool": "CREATE TABLE submissions (x)",
    "meta-without-version": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); "
    "INSERT INTO meta VALUES ('owner', 'someone'); CREATE TABLE notes (text)",
    "meta-of-another-shape": "CREATE TABLE meta (name, size)",
    "grader-tables-with-rows": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); "
    "INSERT INTO meta VALUES ('colour', 'blue')",
    "only-a-view": "CREATE VIEW answer AS SELECT 42",
}


@pytest.mark.parametrize("schema", sorted(FOREIGN))
def test_batch_refuses_another_sqlite_file_without_touching_it(tmp_path: Path, schema: str) -> None:
    book = tmp_path / "other.sqlite"
    with sqlite3.connect(book) as conn:
        conn.executescript(FOREIGN[schema])
    conn.close()
    before = book.read_bytes()
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SAMPLES / "correct.yaml", folder)
    result = run("batch", WEEK7, folder, "--jobs", "1", "--gradebook", book)
    assert_one_error_line(result, book, NOT_A_GRADEBOOK)
    assert book.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other.sqlite", "subs"]  # no -wal, no -shm
    with pytest.raises(GraderError, match=NOT_A_GRADEBOOK):
        Gradebook(book, read_only=True)  # the same words when reading it


def test_new_empty_and_half_created_databases_become_gradebooks(tmp_path: Path) -> None:
    empty_file = tmp_path / "empty.sqlite"
    empty_file.touch()
    no_tables = tmp_path / "no-tables.sqlite"
    with sqlite3.connect(no_tables) as conn:
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    # An older grader created the tables one statement at a time: stopped after the first, the file holds an
    # empty meta table and nothing else.
    half = tmp_path / "half.sqlite"
    with sqlite3.connect(half) as conn:
        conn.execute(gradebook_module._SCHEMA.split(";")[0])
    conn.close()
    for path in (tmp_path / "new.sqlite", empty_file, no_tables, half):
        with Gradebook(path) as gradebook:
            gradebook.record(make_result("s1", {"ex1.a": 1.0}, submission_hash="h", spec_hash="s"), "p")
        with Gradebook(path, read_only=True) as gradebook:
            assert {path: key[:3] for path, key in gradebook.graded_keys("s").items()} == {"p": ("h", None, None)}


def test_a_gradebook_of_another_schema_version_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    book = tmp_path / "future.sqlite"
    with sqlite3.connect(book) as conn:
        conn.executescript(gradebook_module._SCHEMA.replace("    owner TEXT,\n    declared_student TEXT,\n", ""))
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '2')")
    conn.close()
    before = book.read_bytes()
    with pytest.raises(GraderError, match="schema version 2, this grader reads version 1"):
        Gradebook(book)
    assert book.read_bytes() == before and not Path(f"{book}-wal").exists()


def test_an_older_gradebook_still_gains_its_new_columns_in_one_step(tmp_path: Path) -> None:
    """Schema version 1 without owner/declared_student: opened for writing, it is upgraded and written to."""
    book = tmp_path / "old.sqlite"
    with sqlite3.connect(book) as conn:
        conn.executescript(gradebook_module._SCHEMA.replace("    owner TEXT,\n    declared_student TEXT,\n", ""))
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    conn.close()
    with Gradebook(book) as gradebook:
        gradebook.write(prepare_record(make_result("s1", {}, submission_hash="h", spec_hash="s"), "q", owner="ann"))
        assert {path: key[:3] for path, key in gradebook.graded_keys("s").items()} == {"q": ("h", "ann", None)}


def test_a_finished_gradebook_is_read_from_a_folder_this_user_may_not_write(tmp_path: Path, week7_gradebook: Path) -> None:
    """A ``chmod 555`` folder (not a read-only disk): SQLite says READONLY_DIRECTORY there, not CANTOPEN. As root the
    test drops the capabilities that let root write anywhere (``setpriv``), so the folder binds it as any user."""
    as_a_user: list[str] = []
    if os.geteuid() == 0:
        as_a_user = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        if shutil.which("setpriv") is None or subprocess.run([*as_a_user, "true"], capture_output=True).returncode != 0:
            pytest.skip("as root this needs setpriv(1), allowed to drop the right to write into any folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(week7_gradebook, folder / "gb.sqlite")
    folder.chmod(0o555)
    try:
        environment = {name: value for name, value in os.environ.items() if name != "GITHUB_STEP_SUMMARY"}
        stats = subprocess.run(
            [*as_a_user, sys.executable, "-m", "grader", "stats", str(WEEK7), "--gradebook", str(folder / "gb.sqlite")],
            capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment,
        )
    finally:
        folder.chmod(0o755)
    assert stats.returncode == 0, stats.stderr
    assert "Statistics of week7" in stats.stdout
    assert sorted(path.name for path in folder.iterdir()) == ["gb.sqlite"]
