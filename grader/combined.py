"""The files of one submission as one Result: Gradescope's ``results.json`` (like an HTML or JUnit report) is one per
submission, and a student's submission may be an answer file and a code file, graded as two Results.

The parts are taken as the cohort merge takes them (:func:`grader.cohort.by_student`: a file's unanswered part never
replaces another file's answer; of two files answering a part, the later one given counts, and a note says so).
Every part of the sheet is in the combined Result, in sheet order: one that no file answers is ``missing`` with 0
points, so a submission that lacks its code file is scored out of the sheet's points, not out of the parts it
happens to answer. A file that could not be graded is named in the notes; the Result carries an ``error`` only
when none of its files could be graded.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader import __version__
from grader.cohort import by_student, graded_file
from grader.grading import part_fields
from grader.result import PartResult, Result, Status

if TYPE_CHECKING:
    from grader.spec.loader import Sheet


def students_named(results: Sequence[Result]) -> list[str]:
    """The student ids the files give themselves (in Unicode's composed form, each once, in order); a code file
    without a ``STUDENT`` line, known by its file name, and an unreadable file give none."""
    named: dict[str, None] = {}
    for result in results:
        file = graded_file(result)
        if file.student_id and not file.named_after_file:
            named.setdefault(unicodedata.normalize("NFC", file.student_id))
    return list(named)


def combined_result(sheet: Sheet, results: Sequence[Result]) -> Result:
    """One Result of ``results``, the Results of one submission's files for ``sheet`` in the order given (see the
    module docstring), under the first student id they give; a note names the others if they give several (the
    caller decides whether several may be one submission: :func:`students_named`)."""
    named = students_named(results)
    student_id = named[0] if named else ""
    files = [dataclasses.replace(graded_file(result), student_id=student_id or "one submission") for result in results]
    [student] = by_student(files)
    parts: list[PartResult] = []
    for exercise, part in sheet.parts():
        taken = student.parts.get(f"{exercise.id}.{part.id}")
        parts.append(taken if taken is not None else PartResult(**part_fields(exercise, part), points_earned=0.0, status=Status.missing))
    several = len(results) > 1
    notes = [f"{result.submission}: {note}" if several else note for result in results for note in result.notes]
    readable = [result for result in results if result.error is None]
    if readable:
        notes += [f"{result.submission} could not be graded: {result.error}" for result in results if result.error is not None]
    if len(named) > 1:
        notes.append(f"the files name different students ({', '.join(map(repr, named))}): graded as one submission, of {student_id!r}")
    if (conflict := student.conflict()) is not None:
        notes.append(conflict.replace(f"student {student.student_id!r} handed in", "this submission holds", 1))
    layers: dict[str, bool] = {}
    for result in results:
        for layer, active in result.sandbox_layers.items():
            layers[layer] = layers.get(layer, True) and active
    return Result(
        sheet_id=sheet.id,
        sheet_title=sheet.title,
        student_id=student_id,
        seed=student.seed,
        submission=", ".join(result.submission for result in results),
        spec_hash=sheet.spec_hash,
        parts=parts,
        error=None if readable else "\n".join(result.error or "" for result in results),
        notes=notes,
        sandbox_layers=layers,
        grader_version=__version__,
    )
