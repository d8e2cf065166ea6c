"""The student id a code file declares: a top-level ``STUDENT = "s123"`` line, read as text and never run.

Python's own parser (``ast.parse``, which runs nothing) finds the assignment, so a ``STUDENT = "..."`` inside a
docstring or another string (a template's instructions, say) is not one, and the value must be one string literal,
as Python would assign it (escapes and triple quotes read as Python reads them; an f-string, bytes, or an expression
such as ``"s1" + "23"`` is no id). The last top-level ``STUDENT = "<string>"`` counts (other assignments to it, such
as ``STUDENT = None`` or ``STUDENT += "x"``, are not read). A file the parser cannot read (a syntax error, a
notebook's ``%`` magics) or too long to parse is searched line by line for the plain form.
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


def _assigned_by_parser(source: str) -> list[str] | None:
    """The string literals assigned to STUDENT by the module's top-level statements, in order; None when Python's
    parser cannot read ``source``."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a NUL byte
        return None
    values: list[str] = []
    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign):
            target = statement.target
        else:
            continue
        value = statement.value
        if isinstance(target, ast.Name) and target.id == "STUDENT" and isinstance(value, ast.Constant) and isinstance(value.value, str):
            values.append(value.value)
    return values
