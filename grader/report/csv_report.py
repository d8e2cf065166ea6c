"""CSV of a cohort for a gradebook or LMS import: one row per student, one column per part (RFC 4180).

The renderer decides nothing about grades: it writes one row per item it is given. For one row per student,
give it the merged grades of :func:`grader.cohort.by_student` (an answer file and a code file of one student, or
two answer files, become one row; ``grader report --csv`` does so); a plain Result is one row of its own.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from grader.report.common import xml_safe
from grader.result import PartResult, Result

FIXED_HEAD = ("student_id", "seed", "submission")
FIXED_TAIL = ("total", "score")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class StudentRow(Protocol):
    """What a row needs: ``grader.cohort.StudentGrade`` has it (and a ``Result`` has it with ``parts`` a list)."""

    @property
    def student_id(self) -> str: ...

    @property
    def seed(self) -> int | None: ...

    @property
    def submission(self) -> str: ...

    @property
    def parts(self) -> Mapping[str, PartResult]: ...

    @property
    def points_earned(self) -> float: ...

    @property
    def points_possible(self) -> float: ...


def _cell_text(text: str) -> str:
    """A student-controlled string as a cell that spreadsheets will not run as a formula (OWASP's CSV
    injection advice: a leading ``'``), with line breaks kept (csv quotes them) and other control characters
    replaced."""
    text = xml_safe(text)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _points(value: float) -> str:
    """Points as plain decimals a spreadsheet reads (``1.5``, ``2``), never exponent notation."""
    text = f"{round(value, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _row_parts(row: Result | StudentRow) -> Iterable[PartResult]:
    parts = row.parts
    return parts.values() if isinstance(parts, Mapping) else parts


def part_columns(rows: Sequence[Result | StudentRow]) -> list[str]:
    """Union of the part keys in sheet order: a key first met in one row goes right after the key that
    precedes it there, so rows that each lack some parts still merge into the sheet's order.

    Only a guess at the sheet's order (rows that share no key keep the order they come in): a caller that has
    the sheet gives :func:`render_csv` its keys."""
    columns: list[str] = []
    for row in rows:
        previous = -1
        for part in _row_parts(row):
            if part.key not in columns:
                columns.insert(previous + 1, part.key)
            previous = columns.index(part.key)
    return columns


def render_csv(
    rows: Sequence[Result | StudentRow],
    *,
    part_keys: Sequence[str] | None = None,
    points_possible: float | None = None,
) -> str:
    """Header ``student_id,seed,submission,<part keys...>,total,score``, one row per item of ``rows``; CRLF line ends.

    ``rows``: students merged by :func:`grader.cohort.by_student` (or Results, each a row of its own).
    ``part_keys``: the sheet's part keys in sheet order -- one column each, even when nobody has that part;
    parts of a row beyond them follow. Without it, :func:`part_columns` guesses the order from the rows.
    ``points_possible``: the sheet's total points, the denominator of ``score``; without it, the points possible
    of the parts the row has.

    Cells: ``student_id`` (empty for a file that names no student: an unreadable file, whose row is that file
    alone), ``seed`` (empty for code files and the sheet's own numbers), ``submission`` (the file names), the
    points earned per part (empty when the row has no such part), ``total`` the sum of the parts shown and
    ``score`` total / points possible (0..1).
    """
    columns = list(part_keys) if part_keys is not None else []
    columns += [key for key in part_columns(rows) if key not in columns]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([*FIXED_HEAD, *columns, *FIXED_TAIL])
    for row in rows:
        earned = {part.key: _points(part.points_earned) for part in _row_parts(row)}
        total = row.points_earned
        possible = row.points_possible if points_possible is None else points_possible
        writer.writerow([
            _cell_text(row.student_id),
            "" if row.seed is None else str(row.seed),
            _cell_text(row.submission),
            *(earned.get(key, "") for key in columns),
            _points(total),
            _points(round(total / possible, 6) if possible else 0.0),
        ])
    return buffer.getvalue()
