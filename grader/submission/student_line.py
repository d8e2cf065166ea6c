"""The student id a code file declares: a top-level ``STUDENT = "s123"`` line, read as text and never run.

Python's own tokenizer finds the line, so a ``STUDENT = "..."`` inside a docstring or another string (a template's
instructions, say) is not one, and the value must be one plain string literal, as Python would assign it (escapes
and triple quotes read as Python reads them; an f-string, bytes, or an expression such as ``"s1" + "23"`` is no
id). The last such line counts, as Python's last assignment would. A file the tokenizer cannot read (a syntax
error, a notebook's ``%`` magics) is searched line by line for the same plain form.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

from grader.submission.answer_file import MAX_STUDENT_ID_LENGTH

# The line-by-line form: one quoted string without its own quote character or a backslash, then the line's end.
_PLAIN_LINE = re.compile(
    r"""^STUDENT[ \t]*(?::[ \t]*str[ \t]*)?=[ \t]*(?:"([^"\\\n]*)"|'([^'\\\n]*)')[ \t]*(?:;[ \t]*)?(?:#.*)?$""",
    re.MULTILINE,
)
_LINE_ENDS = {tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER}
_BEFORE_A_STATEMENT = {tokenize.NEWLINE, tokenize.NL, tokenize.DEDENT, tokenize.ENCODING, tokenize.COMMENT}


@dataclass(frozen=True)
class StudentLine:
    """What a code file's STUDENT line gives: the id (None when there is no line or it is unusable) and, for an
    unusable one, why (a phrase completing "the id on your STUDENT line ...")."""

    student: str | None
    problem: str | None = None


def student_line(source: str) -> StudentLine:
    """The id the last top-level ``STUDENT = "..."`` (or ``STUDENT: str = "..."``) of ``source`` assigns."""
    values = _assigned_by_tokens(source)
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


def _assigned_by_tokens(source: str) -> list[str] | None:
    """The plain string literals assigned to STUDENT at the top level, in order; None when Python's tokenizer
    cannot read ``source``."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.INDENT]
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return None
    values: list[str] = []
    for index, token in enumerate(tokens):
        if token.type != tokenize.NAME or token.string != "STUDENT" or token.start[1] != 0:
            continue
        if index and tokens[index - 1].type not in _BEFORE_A_STATEMENT:
            continue
        words = [t.string if t.type in (tokenize.OP, tokenize.NAME) else "" for t in tokens[index + 1 : index + 4]]
        value_at = index + 4 if words == [":", "str", "="] else index + 2 if words[:1] == ["="] else None
        if value_at is None or value_at + 1 >= len(tokens) or tokens[value_at].type != tokenize.STRING:
            continue
        after = tokens[value_at + 1]
        if after.type not in _LINE_ENDS and not (after.type == tokenize.OP and after.string == ";"):
            continue  # an expression: "s1" + "23", "a" if x else "b", "s1", "s2"
        try:
            value = ast.literal_eval(tokens[value_at].string)
        except (ValueError, SyntaxError):  # an f-string
            continue
        if isinstance(value, str):  # not bytes
            values.append(value)
    return values
