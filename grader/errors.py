"""The grader's exceptions: the author's faults (SpecError) and unusable input files, each with a place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.result import Result


class GraderError(Exception):
    """Base class: an error a person must fix; the CLI prints ``str(error)`` and exits 2, never a traceback."""


def format_location(file: str | Path | None, line: int | None, path: str | None) -> str:
    """``file:line path`` with whatever parts are known (``exercises/week7.yaml:41 exercises[2].points``)."""
    place = str(file) if file is not None else ""
    if line is not None:
        place = f"{place}:{line}" if place else f"line {line}"
    if path:
        place = f"{place} {path}" if place else path
    return place


class SpecError(GraderError):
    """A fault in an exercise spec, found before any student sees it.

    Attributes:
        file: the spec file; line: 1-based line in it (None when unknown); path: the field path such as
        ``exercises[2].parts[1].tolerance``; code: a stable identifier such as ``spec-unknown-op``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        file: str | Path | None = None,
        line: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.file = str(file) if file is not None else None
        self.line = line
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        place = format_location(self.file, self.line, self.path)
        return f"{place}: {self.message} [{self.code}]" if place else f"{self.message} [{self.code}]"

    def with_message(self, message: str) -> SpecError:
        """A copy with another message (``seed 5: ...``), at the same place and with the same code."""
        return SpecError(message, code=self.code, file=self.file, line=self.line, path=self.path)

    def located(self, *, file: str | Path | None = None, line: int | None = None, path: str | None = None) -> SpecError:
        """A copy with the missing parts of the location filled in (known parts win)."""
        return SpecError(
            self.message,
            code=self.code,
            file=self.file or (str(file) if file is not None else None),
            line=self.line if self.line is not None else line,
            path=self.path or path,
        )


class SpecErrors(GraderError):
    """Several SpecErrors found in one pass (``grader validate`` lists them all)."""

    def __init__(self, errors: Iterable[SpecError]) -> None:
        self.errors: Sequence[SpecError] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class VariantKeyError(SpecErrors):
    """The sheet could not compute the key of the variant a submission names (the author's fault, found while
    grading). ``result`` is that submission's Result saying so, with its student id and seed kept; the errors are
    for the instructor only."""

    def __init__(self, errors: Iterable[SpecError], result: Result) -> None:
        super().__init__(errors)
        self.result = result


SHEET_FAULT = (
    "the sheet has no valid answer key for this submission's variant, so it could not be graded; this is a "
    "fault of the sheet, not of the submission -- it will be graded again once the sheet is fixed"
)
"""What a student's report says when the sheet raised SpecError(s) for their variant (the details are the author's)."""


class InputFileError(GraderError):
    """A file given to the grader cannot be used at all (missing, unreadable, not YAML/JSON, wrong form)."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None, path: str | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        place = format_location(self.file, self.line, self.path)
        return f"{place}: {self.message}" if place else self.message


class Interrupted(GraderError):
    """The user stopped a long command (Ctrl-C); the message says what was saved and how to go on. The CLI exits
    130, as a shell does for SIGINT."""
