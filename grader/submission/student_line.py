"""The student id a code file declares: a top-level ``STUDENT = "s123"`` line, read as text and never run.

Python's own parser (``ast.parse``, which runs nothing) finds the assignment, so a ``STUDENT = "..."`` inside a
docstring or another string (a template's instructions, say) is not one, and the value must be one string literal,
as Python would assign it (escapes and triple quotes read as Python reads them). The last top-level assignment to
STUDENT counts, as in Python (``STUDENT = X = "s1"`` included): when it assigns anything but one string literal (an
f-string, bytes, ``None``, an expression such as ``"s1" + "23"``, or ``STUDENT += "x"``) the file gives no id, and the
reason says so. A file the parser cannot read (a syntax error, a notebook's ``%`` magics) or too long to parse is
searched line by line for the plain form.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.submission.answer_file import MAX_STUDENT_ID_LENGTH

# Where an assignment to STUDENT may start; without one, nothing is parsed.
_CANDIDATE = re.compile(r"^STUDENT[ \t]*(?::[ \t]*str[ \t]*)?=", re.MULTILINE)
# The line-by-line form: one quoted string without its own quote character or a backslash, then the line's end.
_PLAIN_LINE = re.compile(
    r"""^STUDENT[ \t]*(?::[ \t]*str[ \t]*)?=[ \t]*(?:"([^"\\\r\n]*)"|'([^'\\\r\n]*)')[ \t]*(?:;[ \t]*)?(?:#[^\r\n]*)?\r?$""",
    re.MULTILINE,
)
NOT_A_STRING = "is not one string in quotes (the grader reads the line without running your code)"
"""Why the last top-level assignment to STUDENT gives no id when it assigns an expression, ``None`` and the like."""
MAX_PARSED_CHARS = 1 << 15
"""Longest source parsed to find the line: a student's file is a few kB, and a parse may take up to about 1 kB of
memory and 10 microseconds per character (measured at 128 KiB: 117 MB for ``x`` lines, 1.3 s for f-strings), so
32 KiB stays within about 30 MB and 0.3 s in the grader's process. A longer file is searched line by line."""


@dataclass(frozen=True)
class StudentLine:
    """What a code file's STUDENT line gives: the id (None when there is no line or it is unusable) and, for an
    unusable one, why (a phrase completing "the id on your STUDENT line ...")."""

    student: str | None
    problem: str | None = None


def student_line(source: str) -> StudentLine:
    """The id the last top-level ``STUDENT = "..."`` (or ``STUDENT: str = "..."``) of ``source`` assigns."""
    source = source.removeprefix("\ufeff")  # a byte-order mark some Windows editors write
    if not _CANDIDATE.search(source):
        return StudentLine(None)
    values = _assigned_by_parser(source) if len(source) <= MAX_PARSED_CHARS else None
    if values is None:
        values = [plain or single for plain, single in _PLAIN_LINE.findall(source)]
    if not values:
        return StudentLine(None)
    if values[-1] is None:
        return StudentLine(None, NOT_A_STRING)
    student = values[-1].strip()
    if not student:
        return StudentLine(None, "is empty")
    if len(student) > MAX_STUDENT_ID_LENGTH:
        return StudentLine(None, f"is {len(student)} characters long; a student id has at most {MAX_STUDENT_ID_LENGTH}")
    if not student.isprintable():
        return StudentLine(
            None, "holds a tab, a control character or an invisible space (a non-breaking or zero-width space, as "
            "text pasted from a PDF has)"
        )
    return StudentLine(student)


def _assigned_by_parser(source: str) -> list[str | None] | None:
    """What the module's top-level statements assign to STUDENT, in order: the string of a string literal, None for
    anything else (an expression, ``None``, ``+=``); None when Python's parser cannot read ``source``."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a NUL byte
        return None
    values: list[str | None] = []
    for statement in module.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AugAssign) or (isinstance(statement, ast.AnnAssign) and statement.value):
            targets = [statement.target]
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == "STUDENT" for target in targets):
            value = statement.value
            literal = isinstance(value, ast.Constant) and isinstance(value.value, str) and not isinstance(statement, ast.AugAssign)
            values.append(value.value if literal else None)  # type: ignore[union-attr]
    return values
