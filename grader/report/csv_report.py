"""CSV of many Results for a gradebook or LMS import: one row per submission, one column per part (RFC 4180)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from grader.report.common import xml_safe
from grader.result import Result

FIXED_HEAD = ("student_id", "seed", "submission")
FIXED_TAIL = ("total", "score")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def part_columns(results: Sequence[Result]) -> list[str]:
    """Union of the part keys in sheet order: a key first met in one Result goes right after the key that
    precedes it there, so Results that each lack some parts still merge into the sheet's order."""
    columns: list[str] = []
    for result in results:
        previous = -1
        for part in result.parts:
            if part.key not in columns:
                columns.insert(previous + 1, part.key)
            previous = columns.index(part.key)
    return columns


def render_csv(results: Sequence[Result]) -> str:
    """Header ``student_id,seed,submission,<part keys...>,total,score``; cells are points earned (empty when a
    Result lacks that part), ``total`` the points earned, ``score`` the 0..1 fraction. CRLF line ends."""
    columns = part_columns(results)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([*FIXED_HEAD, *columns, *FIXED_TAIL])
    for result in results:
        earned = {part.key: _points(part.points_earned) for part in result.parts}
        writer.writerow([
            _cell_text(result.student_id),
            "" if result.seed is None else str(result.seed),
            _cell_text(result.submission),
            *(earned.get(key, "") for key in columns),
            _points(result.points_earned),
            _points(result.score),
        ])
    return buffer.getvalue()
