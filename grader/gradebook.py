"""Gradebook: a SQLite file holding one row per graded submission and one per (submission, part).

Layout (created on first use, stdlib ``sqlite3`` only):

- ``submissions``: one row per (submission path, sheet id) -- the submission's current grade. Columns: path,
  sheet id, student id, variant seed, sha256 of the submission and of the spec, points earned/possible, score,
  error, grader version, ``graded_at`` (UTC ISO 8601) and the full ``Result`` as JSON (``result_json``), so a
  report can be re-rendered later with ``Result.model_validate_json``.
- ``parts``: one row per part of each submission row: status, points, fraction and the ids of the known
  mistakes the part matched (JSON list: the part's own mistake first, then its code cases' mistakes).

Durability: every submission is written in ONE transaction (its old row and part rows deleted, the new ones
inserted), so a reader or a crash never sees half a submission. The journal is WAL with
``synchronous=NORMAL``: in WAL mode a commit is safe against the process being killed at any moment (the
batch's failure case); only a power cut or OS crash may lose the last few commits -- never corrupt the file --
and a lost commit is harmless here, because the next run sees the submission as not graded and grades it
again. ``FULL`` would add an fsync per submission (hundreds per second in a batch) for no gain in correctness.
A write that fails (a full disk, an I/O error) leaves every earlier submission saved and is one GraderError.

Opening for writing adopts only a new or empty database (or a gradebook): another SQLite file is refused before
anything is written to it. A finished gradebook -- its last writer closed, so no ``-wal`` file lies next to it -- is
read from a read-only folder or disk as an immutable file.

One batch at a time: ``grader batch`` opens the gradebook ``exclusive``, holding an advisory lock (``flock``) on the
file for as long as it runs, and a second batch on the same file is refused at once instead of grading everything a
second time. The kernel drops the lock when its process ends, SIGKILL included (the batch's forked workers close
their inherited copy at once, so a worker outliving a killed batch does not keep it). Readers (reports, statistics)
take no such lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from grader.errors import GraderError
from grader.result import PartResult, Result

SCHEMA_VERSION = 1
LOCK_SECONDS = 30.0
"""How long a write waits for another process holding the gradebook (e.g. a second batch) before giving up."""


DISK_FULL_BYTES = 1 << 20
"""Free space below which an I/O error is reported as a full disk: SQLite says "disk I/O error", not "disk is
full", when it cannot grow its shared-memory file (``-shm``) on a full disk."""


def _disk_is_full(folder: Path) -> bool:
    """Whether the disk holding ``folder`` has (next to) no space left for this user."""
    try:
        usage = os.statvfs(folder)
    except OSError:
        return False
    return usage.f_bavail * usage.f_frsize < DISK_FULL_BYTES


def _database_problem(error: sqlite3.DatabaseError, *, saved: bool = False, folder: Path | None = None) -> str:
    """What is wrong with the gradebook, for people, with SQLite's own words in brackets.

    ``saved``: the error came from writing one result, so every result committed before it is in the file (each
    submission is its own transaction) and running the same command again carries on from there. ``folder``: the
    gradebook's folder, whose free space tells a full disk from other I/O errors.
    """
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    then = "; the results graded so far are saved: " if saved else ": "
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(error) or "busy" in str(error):
        return f"another process has held it for more than {LOCK_SECONDS:.0f} s (is a second grader batch writing to it?)"
    if primary == sqlite3.SQLITE_FULL or (primary == sqlite3.SQLITE_IOERR and folder and _disk_is_full(folder)):
        return f"the disk is full (SQLite: {error}){then}free some space and run the same command again"
    if primary == sqlite3.SQLITE_IOERR:
        return (
            f"the disk could not be read or written (SQLite: {error}){then}check the disk and run the same command again"
        )
    if primary == sqlite3.SQLITE_READONLY:
        return (
            f"cannot be written: the file, its folder or its disk is read-only (SQLite: {error}){then}"
            "make it writable or write to a gradebook in a writable folder"
        )
    return f"cannot be used as a SQLite gradebook ({error})"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    sheet_id TEXT NOT NULL,
    submission TEXT NOT NULL,
    student_id TEXT NOT NULL,
    seed INTEGER,
    submission_hash TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    points_earned REAL NOT NULL,
    points_possible REAL NOT NULL,
    score REAL NOT NULL,
    error TEXT,
    grader_version TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    result_json TEXT NOT NULL,
    grader_failed INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    declared_student TEXT,
    roster_variant TEXT,
    UNIQUE (path, sheet_id)
);
CREATE INDEX IF NOT EXISTS submissions_by_sheet ON submissions (sheet_id, path);
CREATE INDEX IF NOT EXISTS submissions_by_spec ON submissions (spec_hash, path);
CREATE TABLE IF NOT EXISTS parts (
    submission_id INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    exercise_id TEXT NOT NULL,
    part_id TEXT NOT NULL,
    part_key TEXT NOT NULL,
    status TEXT NOT NULL,
    points_earned REAL NOT NULL,
    points_possible REAL NOT NULL,
    fraction REAL,
    mistakes TEXT NOT NULL,
    followed TEXT,
    PRIMARY KEY (submission_id, exercise_id, part_id)
);
"""

_SUBMISSION_COLUMNS = (
    "path",
    "sheet_id",
    "submission",
    "student_id",
    "seed",
    "submission_hash",
    "spec_hash",
    "points_earned",
    "points_possible",
    "score",
    "error",
    "grader_version",
    "graded_at",
    "result_json",
    "grader_failed",
    "owner",
    "declared_student",
    "roster_variant",
)
_ADDED_COLUMNS = (("submissions", "owner"), ("submissions", "declared_student"), ("parts", "followed"), ("submissions", "roster_variant"))
"""``(table, column)`` of the columns added after schema version 1 was first written: added (empty, NULL) on opening
an older gradebook for writing; a reader of an older gradebook finds them missing."""
_PART_COLUMNS = (
    "position",
    "exercise_id",
    "part_id",
    "part_key",
    "status",
    "points_earned",
    "points_possible",
    "fraction",
    "mistakes",
    "followed",
)

_SCHEMA_OBJECTS = frozenset(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", _SCHEMA))
"""The tables and indexes :data:`_SCHEMA` creates."""
_TABLES = frozenset({"meta", "submissions", "parts"})
_NOT_A_GRADEBOOK = "is a SQLite file but not a grader gradebook"


def _stored_schema(conn: sqlite3.Connection) -> tuple[frozenset[str], str | None]:
    """The names of the database's own objects (tables, indexes, views, triggers; not SQLite's internal ones) and
    the grader schema version in its ``meta`` table (None when there is none). Only reads."""
    names = frozenset(
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite^_%' ESCAPE '^'")
    )
    if "meta" not in names:
        return names, None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", None) != sqlite3.SQLITE_ERROR:
            raise
        return names, None  # a table called meta without the grader's columns
    return names, None if row is None else str(row[0])


def _columns(conn: sqlite3.Connection, table: str) -> frozenset[str]:
    """The column names of ``table`` (none when there is no such table)."""
    return frozenset(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


def _is_unfinished_gradebook(conn: sqlite3.Connection, names: frozenset[str]) -> bool:
    """Whether a database without a schema version is a gradebook whose creation stopped half-way (older graders
    created the tables one by one): only the grader's own tables, with the grader's columns, and indexes, all of
    the tables empty."""
    if not names <= _SCHEMA_OBJECTS:
        return False
    schema = sqlite3.connect(":memory:")
    try:
        schema.executescript(_SCHEMA)
        for table in names & _TABLES:
            expected = _columns(schema, table)
            present = _columns(conn, table)
            added = frozenset(column for owner, column in _ADDED_COLUMNS if owner == table)
            if not expected - added <= present <= expected:
                return False
    finally:
        schema.close()
    return all(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None for table in names & _TABLES)


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A Result turned into the gradebook's row values, ready to insert.

    Built by :func:`prepare_record` (a pure function, so batch workers can build it and the parent only
    inserts). ``submission_row`` follows ``_SUBMISSION_COLUMNS``; each of ``part_rows`` follows ``_PART_COLUMNS``.
    """

    path: str
    sheet_id: str
    submission_row: tuple[object, ...]
    part_rows: tuple[tuple[object, ...], ...]
    failed: bool
    """True when the Result carries an ``error`` (the submission could not be graded at all)."""
    grader_failed: bool
    """True when the grader itself failed (an exception or a dead worker): such rows are graded again by the
    next batch even when nothing changed, because the fault was not in the submission."""

    @property
    def error(self) -> str:
        """Why the submission could not be graded ("" when it was): the row's ``error`` column."""
        return str(self.submission_row[_SUBMISSION_COLUMNS.index("error")] or "")


class GradedKey(NamedTuple):
    """What a batch needs of a stored row to decide whether to grade the file again: the hash of what was graded,
    the student it was credited to by its place in the folder (None: by the id it gives), the id it gave when
    that was someone else, and the student it was credited to and what the roster said of them (for a roster's
    changes)."""

    submission_hash: str
    owner: str | None
    declared_student: str | None
    student_id: str = ""
    roster_variant: str | None = None
    """What the roster gave the student when the file was graded (:func:`grader.roster.roster_variant`): None
    without a roster."""


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """One row of the ``submissions`` table, without the Result JSON (read it with :meth:`Gradebook.result`)."""

    path: str
    sheet_id: str
    submission: str
    student_id: str
    seed: int | None
    submission_hash: str
    spec_hash: str
    points_earned: float
    points_possible: float
    score: float
    error: str | None
    grader_version: str
    graded_at: str
    grader_failed: bool


@dataclass(frozen=True, slots=True)
class PartRow:
    """One row of the ``parts`` table joined with its submission's path and totals.

    ``fraction`` is points_earned / points_possible (None when the part is worth 0 points); ``mistakes`` the ids
    of the known mistakes the part matched, part first, then code cases, without repeats.
    """

    path: str
    sheet_id: str
    spec_hash: str
    position: int
    exercise_id: str
    part_id: str
    part_key: str
    status: str
    points_earned: float
    points_possible: float
    fraction: float | None
    mistakes: tuple[str, ...]
    submission_points_earned: float
    submission_points_possible: float
    followed: str | None = None
    """:attr:`grader.result.PartResult.followed`: the earlier part whose own answer the part was credited for, ``""``
    for none; None when not recorded (a row an older grader wrote, before the gradebook had the column)."""


def utc_now_iso() -> str:
    """The current time as UTC ISO 8601 with seconds precision (``2025-03-14T09:26:53+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _mistakes_json(part: PartResult) -> str:
    """The ``mistakes`` column of a part's row: :func:`part_mistakes` as a JSON list (most parts match none)."""
    mistakes = part_mistakes(part)
    return json.dumps(list(mistakes)) if mistakes else "[]"


def part_mistakes(part: PartResult) -> tuple[str, ...]:
    """Ids of the known mistakes a part matched: the part's own first, then its cases', each once."""
    found: list[str] = []
    for mistake in [part.mistake, *(case.mistake for case in part.cases)]:
        if mistake and mistake not in found:
            found.append(mistake)
    return tuple(found)


def prepare_record(
    result: Result,
    submission_path: str,
    *,
    graded_at: str | None = None,
    grader_failed: bool = False,
    submission_hash: str | None = None,
    owner: str | None = None,
    declared_student: str | None = None,
    roster_variant: str | None = None,
) -> PreparedRecord:
    """Row values for ``result`` graded from ``submission_path`` (the key of the row together with the sheet id).

    ``graded_at`` defaults to now (UTC); ``grader_failed`` marks a Result built because the grader itself failed
    (see :attr:`PreparedRecord.grader_failed`); ``submission_hash`` overrides the Result's for the row's
    ``submission_hash`` column (a batch stores the hash it judged "unchanged" by). ``owner`` is the student the
    file was credited to by its place in the folder (``batch --student-from``; None: by the id it gives), and
    ``declared_student`` the id the file gave when that differed from ``owner``; ``roster_variant`` what the
    roster of ``batch --roster`` gave the student (:func:`grader.roster.roster_variant`). Pure apart from the clock.
    """
    submission_row = (
        submission_path,
        result.sheet_id,
        result.submission,
        result.student_id,
        result.seed,
        submission_hash if submission_hash is not None else result.submission_hash,
        result.spec_hash,
        result.points_earned,
        result.points_possible,
        result.score,
        result.error,
        result.grader_version,
        graded_at or utc_now_iso(),
        # Computed fields (totals, part keys) are left out: the models forbid extra fields, and leaving them out
        # is what lets Result.model_validate_json read the stored text back.
        result.model_dump_json(exclude_computed_fields=True),
        int(grader_failed),
        owner,
        declared_student,
        roster_variant,
    )
    part_rows = tuple(
        (
            position,
            part.exercise_id,
            part.part_id,
            part.key,
            part.status.value,
            part.points_earned,
            part.points_possible,
            part.points_earned / part.points_possible if part.points_possible else None,
            _mistakes_json(part),
            part.followed or "",  # "" recorded as none; NULL only in rows of a grader from before the column
        )
        for position, part in enumerate(result.parts)
    )
    return PreparedRecord(
        path=submission_path,
        sheet_id=result.sheet_id,
        submission_row=submission_row,
        part_rows=part_rows,
        failed=result.error is not None,
        grader_failed=grader_failed,
    )


_BATCH_LOCKS: set[int] = set()
"""The descriptors holding a batch's lock in this process (see :meth:`Gradebook._lock_for_batch`)."""


def _drop_inherited_locks() -> None:
    """In a child forked from a batch (its grading workers): close the inherited lock descriptors. A flock belongs
    to the open file, which a fork shares, so a worker outliving its killed batch would otherwise keep the gradebook
    locked; closing the child's copy leaves the parent's lock held."""
    for descriptor in _BATCH_LOCKS:
        try:
            os.close(descriptor)
        except OSError:
            pass
    _BATCH_LOCKS.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


class Gradebook:
    """The SQLite gradebook at ``path`` (created with its tables on first use).

    One process writes at a time (the batch parent); readers may open the same file concurrently (WAL).
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False, exclusive: bool = False) -> None:
        """Open (and, unless ``read_only``, create) the gradebook; ``read_only`` never changes the file (reports
        and statistics open it so) and refuses one that does not exist or is not a gradebook. ``exclusive`` (a
        batch) also locks the file against other exclusive openers until :meth:`close`: GraderError if one holds
        it.

        Opening for writing creates the tables only in a new or empty database: a SQLite file with other tables is
        refused before anything is written to it. A finished gradebook (no ``-wal`` file next to it) can be read
        from a read-only folder or disk.
        """
        self.path = Path(path)
        self.read_only = read_only
        self._conn: sqlite3.Connection = None  # type: ignore[assignment]  # set below; None once closed
        self._lock_fd: int | None = None
        if self.path.exists() and self.path.is_dir():
            raise GraderError(f"gradebook {self.path}: is a directory; give a file name such as gradebook.sqlite")
        if not self.path.parent.exists():
            raise GraderError(f"gradebook {self.path}: the folder {self.path.parent} does not exist")
        if read_only and not self.path.is_file():
            raise GraderError(f"gradebook {self.path}: does not exist (grader batch creates it)")
        try:
            if read_only:
                self._conn = self._connect_read_only()
                names, version = _stored_schema(self._conn)
                if not _TABLES <= names or version is None:
                    raise GraderError(f"gradebook {self.path}: {_NOT_A_GRADEBOOK}")
                self._check_schema_version(version)
            else:
                # isolation_level=None: transactions are opened explicitly (BEGIN IMMEDIATE) so one submission is
                # exactly one transaction, and reads outside record() do not hold a write lock.
                self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_SECONDS)
                if exclusive:
                    self._lock_for_batch()
                self._prepare_for_writing()
        except sqlite3.DatabaseError as error:
            self.close()
            raise GraderError(f"gradebook {self.path}: {self._open_problem(error)}") from None
        except BaseException:
            self.close()
            raise

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write. A gradebook is in WAL mode, so reading it normally needs its ``-shm``
        file, which SQLite creates next to it; in a read-only folder or disk it cannot, and when no ``-wal`` file
        exists either -- the last batch finished and the whole gradebook is in the main file -- the file is read
        as immutable (no locks, no side files). A ``-wal`` file there holds results not yet in the main file:
        then say so."""
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=LOCK_SECONDS)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError as error:
            conn.close()
            code = getattr(error, "sqlite_errorcode", None)
            # CANTOPEN on a read-only disk; READONLY_DIRECTORY (a READONLY code) in a folder this user cannot write
            primary = code & 0xFF if isinstance(code, int) else None
            if primary not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY) or not os.access(self.path, os.R_OK):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists():
            raise GraderError(
                f"gradebook {self.path}: cannot be read in this read-only folder: {wal.name} lies next to it (the "
                "gradebook's last batch did not finish cleanly, or one is still running) and reading it needs "
                f"files SQLite cannot create here; copy the gradebook together with {wal.name} to a writable "
                "folder and read it there"
            )
        # immutable=1: SQLite trusts that nobody changes the file while it is open (it takes no locks). Nobody can
        # on a read-only disk; in a folder only others may write to, a batch writing there would have its -wal file
        # next to the gradebook (checked above) for as long as it runs.
        conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None, timeout=LOCK_SECONDS)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        if wal.exists():  # a batch started between the check and the open: its pages may be half written
            conn.close()
            raise GraderError(f"gradebook {self.path}: a batch is writing it ({wal.name} appeared); read it when the batch has ended")
        return conn

    def _lock_for_batch(self) -> None:
        """Take the batch's advisory lock on the gradebook file (``flock`` on a descriptor of its own, which
        SQLite's byte-range locks do not touch), or GraderError when another batch holds it. A file system without
        ``flock`` (some network shares) goes unlocked, as before. The connection has created the file by now:
        SQLite creates it on connecting."""
        try:  # for writing: an NFS client emulates flock with a byte-range lock, which needs a writable descriptor
            self._lock_fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return  # whatever hinders this open hinders SQLite too, and it says so more precisely
        _BATCH_LOCKS.add(self._lock_fd)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return  # no flock here: unlocked (the descriptor is closed with the gradebook)
            raise GraderError(
                f"gradebook {self.path}: another grader batch is writing it; wait until that batch ends (two at "
                "once would each grade every submission), or give this one its own --gradebook"
            ) from None

    def _prepare_for_writing(self) -> None:
        """Make the open database a gradebook of this schema version: create the tables in a new or empty database,
        add the columns an older gradebook lacks. Refuses any other SQLite file before writing anything to it."""
        conn = self._conn
        names, version = _stored_schema(conn)
        self._refuse_foreign(names, version)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if version is not None and _SCHEMA_OBJECTS <= names and not self._missing_columns():
            return  # nothing to add: no write lock taken
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Again under the write lock: another batch may have created the tables since the first look.
            names, version = _stored_schema(conn)
            self._refuse_foreign(names, version)
            for statement in _SCHEMA.split(";"):  # one by one: executescript() would commit the transaction
                if statement.strip():
                    conn.execute(statement)
            if version is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            for table, column in self._missing_columns():  # an older gradebook: the new columns start empty (NULL)
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _refuse_foreign(self, names: frozenset[str], version: str | None) -> None:
        """GraderError unless the database is empty, a gradebook of this schema version or one whose creation
        stopped half-way."""
        if version is None and names and not _is_unfinished_gradebook(self._conn, names):
            raise GraderError(f"gradebook {self.path}: {_NOT_A_GRADEBOOK}")
        if version is not None:
            self._check_schema_version(version)

    def _missing_columns(self) -> list[tuple[str, str]]:
        """``(table, column)`` of the columns added since schema version 1 was first written that the gradebook
        lacks."""
        present = {table: _columns(self._conn, table) for table in {table for table, _ in _ADDED_COLUMNS}}
        return [(table, column) for table, column in _ADDED_COLUMNS if column not in present[table]]

    def _check_schema_version(self, version: str) -> None:
        """GraderError unless ``version`` (from the ``meta`` table) is the one this grader reads and writes."""
        if version != str(SCHEMA_VERSION):
            raise GraderError(
                f"gradebook {self.path}: schema version {version}, this grader reads version {SCHEMA_VERSION}"
            )

    def _open_problem(self, error: sqlite3.DatabaseError) -> str:
        """:func:`_database_problem` for an error while opening; a file that cannot be created or opened for
        writing says where to look."""
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_CANTOPEN:
            if self.path.exists() and not os.access(self.path, os.R_OK):
                return "cannot be read: no permission to read the file"
            if not self.read_only and not os.access(self.path.parent, os.W_OK):
                return f"cannot be created or opened for writing: the folder {self.path.parent} is read-only"
        return _database_problem(error, folder=self.path.parent)

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already done so (it does after a full disk or an I/O
        error); a failing rollback is left unsaid, since the error that led here is the one to report."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    # -- context manager ---------------------------------------------------------------------------------------

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection, then release the batch's lock (idempotent). In this order: closing any descriptor
        of the file drops the byte-range locks SQLite holds on it in this process."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            _BATCH_LOCKS.discard(self._lock_fd)
            os.close(self._lock_fd)  # also releases the flock
            self._lock_fd = None

    # -- writing -----------------------------------------------------------------------------------------------

    def record(self, result: Result, submission_path: str, *, grader_failed: bool = False) -> None:
        """Store ``result`` as the grade of ``submission_path`` for its sheet, replacing any earlier grade.

        One transaction: the old row and its part rows go, the new ones arrive, or nothing changes.
        """
        self.write(prepare_record(result, submission_path, grader_failed=grader_failed))

    def write(self, record: PreparedRecord) -> None:
        """Insert a :class:`PreparedRecord` (see :meth:`record`), in one transaction. GraderError when another
        process holds the gradebook for more than LOCK_SECONDS, or when it cannot be written (a full disk, an I/O
        error, a read-only file): the results written before stay saved."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM submissions WHERE path = ? AND sheet_id = ?", (record.path, record.sheet_id))
            cursor = conn.execute(
                f"INSERT INTO submissions ({', '.join(_SUBMISSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_SUBMISSION_COLUMNS))})",
                record.submission_row,
            )
            submission_id = cursor.lastrowid
            conn.executemany(
                f"INSERT INTO parts (submission_id, {', '.join(_PART_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' * len(_PART_COLUMNS))})",
                [(submission_id, *row) for row in record.part_rows],
            )

    def record_folder(self, folder: str) -> None:
        """Remember ``folder`` (a resolved path, as gradebook keys write it) as one a batch graded into this
        gradebook (:meth:`folders`); read and written in one transaction, so two batches lose neither."""
        if folder in self.folders():
            return
        with self._transaction() as conn:
            known = self.folders()
            if folder not in known:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('submission_folders', ?)",
                    (json.dumps([*known, folder]),),
                )

    def folders(self) -> list[str]:
        """The submissions folders batches graded into this gradebook (none for one written before they were kept)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'submission_folders'").fetchone()
        try:
            folders = json.loads(row[0]) if row is not None else []
        except (TypeError, ValueError):
            return []
        return [folder for folder in folders if isinstance(folder, str)] if isinstance(folders, list) else []

    def remove(self, paths: list[str], sheet_id: str) -> None:
        """Delete the rows of ``paths`` for ``sheet_id`` (their part rows go with them), in one transaction: a batch
        forgets the files that are no longer in the folder it grades. GraderError as for :meth:`write`."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM submissions WHERE path = ? AND sheet_id = ?", [(path, sheet_id) for path in paths])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back when the body fails. GraderError when
        another process holds the gradebook for more than LOCK_SECONDS, or when it cannot be written (a full disk,
        an I/O error, a read-only file): what was committed before stays saved."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()  # SQLite may have rolled back already (a full disk at COMMIT): then nothing to do
                raise
        except sqlite3.DatabaseError as error:
            if type(error) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                raise  # IntegrityError, ProgrammingError: a bad record or a closed gradebook, the caller's bug
            raise GraderError(
                f"gradebook {self.path}: {_database_problem(error, saved=True, folder=self.path.parent)}"
            ) from None

    # -- reading -----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one state of the gradebook, even while a batch commits results (one read
        transaction): a report's names, rows and Results read in separate queries belong together."""
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    def has(self, path: str, submission_hash: str, spec_hash: str) -> bool:
        """Whether ``path`` is graded with exactly this submission content and this spec (then a batch skips it).

        A row where the grader itself failed does not count: the submission still needs grading.
        """
        row = self._conn.execute(
            "SELECT 1 FROM submissions WHERE path = ? AND submission_hash = ? AND spec_hash = ? "
            "AND grader_failed = 0 LIMIT 1",
            (path, submission_hash, spec_hash),
        ).fetchone()
        return row is not None

    def graded_keys(self, spec_hash: str, following: Iterable[str] = ()) -> dict[str, GradedKey]:
        """``{path: GradedKey}`` of every submission graded against the spec with ``spec_hash``, leaving out rows
        where the grader itself failed (those are graded again), and rows where a part of ``following`` (the part
        keys that declare ``follow_through``) has no record of what it followed: an older grader graded them, and
        grading them again records it.

        One query instead of one :meth:`has` per file when a batch decides what to skip.
        """
        keys = list(following)
        unrecorded = (
            f" AND NOT EXISTS (SELECT 1 FROM parts p WHERE p.submission_id = s.id AND p.followed IS NULL "
            f"AND p.part_key IN ({', '.join('?' * len(keys))}))"
            if keys
            else ""
        )
        rows = self._conn.execute(
            "SELECT s.path, s.submission_hash, s.owner, s.declared_student, s.student_id, s.roster_variant FROM submissions s "
            f"WHERE s.spec_hash = ? AND s.grader_failed = 0{unrecorded}",
            (spec_hash, *keys),
        )
        return {path: GradedKey(*row) for path, *row in rows}

    def count(self) -> int:
        """Number of submission rows."""
        return int(self._conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])

    def result(self, path: str, sheet: str) -> Result | None:
        """The stored Result of ``path`` for ``sheet`` (a sheet id or a spec hash), or None."""
        row = self._conn.execute(
            "SELECT result_json FROM submissions WHERE path = ? AND (sheet_id = ? OR spec_hash = ?)",
            (path, sheet, sheet),
        ).fetchone()
        return self._stored_result(path, row[0]) if row else None

    def results(self, sheet: str) -> Iterator[Result]:
        """Every stored Result for ``sheet`` -- a sheet id or a spec hash -- ordered by submission path.

        Streams from the database: one Result in memory at a time.
        """
        cursor = self._conn.execute(
            "SELECT path, result_json FROM submissions WHERE sheet_id = ? OR spec_hash = ? ORDER BY path",
            (sheet, sheet),
        )
        for path, result_json in cursor:
            yield self._stored_result(path, result_json)

    def _stored_result(self, path: str, result_json: str) -> Result:
        try:
            return Result.model_validate_json(result_json)
        except ValueError:
            raise GraderError(
                f"gradebook {self.path}: the stored result of {path} cannot be read (changed outside the grader, or "
                "written by another grader version); grade it again with grader batch --regrade"
            ) from None

    def rows(self, sheet: str | None = None) -> Iterator[SubmissionRow]:
        """Submission rows (all, or those of ``sheet``: a sheet id or a spec hash), ordered by sheet then path."""
        # SubmissionRow's fields: every column up to grader_failed but the Result JSON (owner and declared_student,
        # added later, are for the batch's own decisions and may be missing from an older gradebook).
        columns = ", ".join(c for c in _SUBMISSION_COLUMNS[: _SUBMISSION_COLUMNS.index("grader_failed") + 1] if c != "result_json")
        if sheet is None:
            cursor = self._conn.execute(f"SELECT {columns} FROM submissions ORDER BY sheet_id, path")
        else:
            cursor = self._conn.execute(
                f"SELECT {columns} FROM submissions WHERE sheet_id = ? OR spec_hash = ? ORDER BY sheet_id, path",
                (sheet, sheet),
            )
        for row in cursor:
            yield SubmissionRow(*row[:-1], bool(row[-1]))

    def part_rows(self, sheet: str) -> Iterator[PartRow]:
        """Part rows of ``sheet`` (a sheet id or a spec hash) with their submission's totals, by path then position."""
        # A gradebook an older grader wrote, read without being opened for writing, lacks the column: none followed.
        followed = "p.followed" if "followed" in _columns(self._conn, "parts") else "NULL"
        cursor = self._conn.execute(
            "SELECT s.path, s.sheet_id, s.spec_hash, p.position, p.exercise_id, p.part_id, p.part_key, p.status, "
            "p.points_earned, p.points_possible, p.fraction, p.mistakes, s.points_earned, s.points_possible, "
            f"{followed} "
            "FROM parts p JOIN submissions s ON s.id = p.submission_id "
            "WHERE s.sheet_id = ? OR s.spec_hash = ? ORDER BY s.path, p.position",
            (sheet, sheet),
        )
        for row in cursor:
            yield PartRow(*row[:11], tuple(json.loads(row[11])), row[12], row[13], row[14])  # type: ignore[arg-type]

    def sheet_ids(self) -> list[str]:
        """The sheet ids that have at least one submission row, sorted."""
        return [row[0] for row in self._conn.execute("SELECT DISTINCT sheet_id FROM submissions ORDER BY 1")]
