"""A course's roster: which variant (seed) each student was given, so an answer file is graded against its
student's variant whatever ``seed:`` it names.

A roster is a CSV file with a header row naming (at least) the columns ``student`` and ``seed``, in any order and
any case; other columns (name, e-mail) are ignored, so an LMS export with a seed column added serves as is.
Commas, semicolons or tabs separate the columns (the one that makes a header with both columns); blank lines
are skipped; a UTF-8 byte-order mark (Excel's "CSV UTF-8") is allowed::

    student,seed,name
    s1234567,17,Ada Lovelace
    s7654321,3,Alan Turing

Student ids are compared as Unicode NFC, without surrounding spaces (``José`` typed on two systems is one id), and
seeds are read as answer files read ``seed:`` (:func:`~grader.submission.answer_file.decimal_seed`). Every fault is
an InputFileError naming the file and line: no header with both columns, a quote never closed, a student id
missing, a seed that is not a whole number from 0 to :data:`~grader.submission.answer_file.MAX_SEED`, a student
listed twice.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.errors import InputFileError
from grader.spec.yaml_lines import read_text
from grader.submission.answer_file import MAX_SEED, MAX_STUDENT_ID_LENGTH, decimal_seed
from grader.text import one_line

MAX_ROSTER_BYTES = 64 << 20
"""Largest roster read (bytes): a million students with long names fit in a fraction of it."""
SEPARATORS = (",", ";", "\t")
"""Column separators a roster may use."""
UNLISTED = "unlisted"
""":func:`roster_variant` of a student the roster does not list."""


@dataclass(frozen=True)
class Roster:
    """The variant of each student of a course: ``seeds`` maps a student id (NFC, without surrounding spaces) to
    that student's seed. ``path`` is the file it was read from."""

    path: Path
    seeds: Mapping[str, int]

    def seed_of(self, student: str) -> int | None:
        """The seed of ``student`` (an id as an answer file or ``--student-from`` gives it), None when not listed."""
        return self.seeds.get(_id(student))


def roster_variant(roster: Roster | None, student: str) -> str | None:
    """What ``roster`` says of ``student``, as a gradebook keeps it to tell when a roster has changed: the seed as
    text, :data:`UNLISTED` when it does not list them (or ``student`` is empty), None without a roster."""
    if roster is None:
        return None
    seed = roster.seed_of(student) if student else None
    return UNLISTED if seed is None else str(seed)


def load_roster(path: Path) -> Roster:
    """Read the roster at ``path`` (see the module); InputFileError naming the file and line of any fault."""
    text = read_text(path, "roster", MAX_ROSTER_BYTES).removeprefix("\ufeff")
    header = next((line for line in io.StringIO(text) if line.strip()), None)  # line by line: a roster may hold a million
    if header is None:
        raise InputFileError("the roster is empty; expected a header row naming the columns student and seed", file=path)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(header), strict=True)
    seeds: dict[str, int] = {}
    first_line: dict[str, int] = {}
    columns: tuple[int, int] | None = None
    read_to = 0  # the last line read: a quoted cell may span lines, and a row is named by the line it starts on
    try:
        for row in rows:
            number, read_to = read_to + 1, rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = _columns(row, path, number)
                continue
            student, seed = _entry(row, columns, path, number)
            if student in first_line:
                raise InputFileError(f"the student {_shown(student)} is listed twice (first on line {first_line[student]}); keep one", file=path, line=number)
            first_line[student] = number
            seeds[student] = seed
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise InputFileError('a quote (") opened in this row is never closed', file=path, line=read_to + 1) from None
        raise InputFileError(f"not a valid CSV row: {error}", file=path, line=read_to + 1) from None
    if not seeds:
        raise InputFileError("the roster lists no student: expected a row (student, seed) after the header", file=path)
    return Roster(path=path, seeds=seeds)


def _separator(header: str) -> str:
    """The separator whose reading of the ``header`` row gives one ``student`` and one ``seed`` column; ``,`` when
    none does (then the header's fault is told)."""
    for separator in SEPARATORS:
        names = [cell.strip().lower() for cell in next(csv.reader([header], delimiter=separator), [])]
        if names.count("student") == 1 and names.count("seed") == 1:
            return separator
    return ","


def _columns(header: list[str], path: Path, line: int) -> tuple[int, int]:
    """The positions of the ``student`` and ``seed`` columns in the header row."""
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in ("student", "seed") if names.count(name) != 1]
    if missing:
        found = ", ".join(_shown(cell.strip()) for cell in header[:8]) + (", ..." if len(header) > 8 else "")
        twice = [name for name in missing if names.count(name) > 1]
        problem = f"names the column {twice[0]} twice" if twice else f"has no column {' and no column '.join(missing)}"
        raise InputFileError(
            f"the header row {problem}; expected one column named student and one named seed (found: {found})",
            file=path, line=line,
        )
    return names.index("student"), names.index("seed")


def _entry(row: list[str], columns: tuple[int, int], path: Path, line: int) -> tuple[str, int]:
    """The ``(student, seed)`` of one row."""
    student_at, seed_at = columns
    student = _id(row[student_at]) if student_at < len(row) else ""
    written = row[seed_at].strip() if seed_at < len(row) else ""
    if not student:
        raise InputFileError("the row has no student id", file=path, line=line)
    if len(student) > MAX_STUDENT_ID_LENGTH or not student.isprintable():
        raise InputFileError(
            f"the student id {_shown(student)} is not an id (at most {MAX_STUDENT_ID_LENGTH} characters on one line)",
            file=path, line=line,
        )
    seed = decimal_seed(written) if len(written) <= 40 else None  # no int() of a 5,000-digit cell
    if seed is None:
        shown = _shown(written) if written else "nothing"
        raise InputFileError(f"the seed of {_shown(student)} must be a whole number from 0 to {MAX_SEED}, got {shown}", file=path, line=line)
    return student, seed


def _id(text: str) -> str:
    """A student id as the roster compares it: NFC, without surrounding spaces."""
    return unicodedata.normalize("NFC", text.strip())


def _shown(text: str) -> str:
    """``text`` quoted for a message on one line: at most 40 characters, control characters escaped."""
    cut = text if len(text) <= 40 else text[:40] + "..."
    return f"'{one_line(cut)}'"
