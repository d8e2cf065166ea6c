"""The files of one submission as one Result: Gradescope's ``results.json`` (like an HTML or JUnit report) is one per
submission, and a student's submission may be an answer file and a code file, graded as two Results.

The parts are taken as the cohort merge takes them (:func:`grader.cohort.by_student`: a file's unanswered part never
replaces another file's answer), except that of two files answering a part, the one *saved* last counts (its
modification time; at the same time, the later in the order given, which for a folder is path order): a
resubmission ``answers-v2.yaml`` beside ``answers.yaml`` counts, whatever the names' order, where the files keep
their times. A note names the answers replaced, so a student who did not mean them can hand in one file. Every part of the sheet is in the combined
Result, in sheet order: one that no file answers is ``missing`` with 0 points, so a submission that lacks its code
file is scored out of the sheet's points, not out of the parts it happens to answer. A file that could not be graded
is named in the notes; the Result carries an ``error`` only when none of its files could be graded.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader import __version__
from grader.cohort import FILE_SEPARATOR, by_student, graded_file
from grader.notes import named_after_file, of_file
from grader.grading import missing_part
from grader.result import PartResult, Result

if TYPE_CHECKING:
    from grader.spec.loader import Sheet

SHOWN_PARTS = 6
"""Part keys a note lists before "..."."""


def students_named(results: Sequence[Result]) -> list[str]:
    """The student ids the files give themselves (in Unicode's composed form, each once, in order); a code file
    without a ``STUDENT`` line, known by its file name, and an unreadable file give none."""
    named: dict[str, None] = {}
    for result in results:
        file = graded_file(result)
        if file.student_id and not file.named_after_file:
            named.setdefault(unicodedata.normalize("NFC", file.student_id))
    return list(named)


def combined_result(sheet: Sheet, results: Sequence[Result], saved_at: Sequence[float] | None = None) -> Result:
    """One Result of ``results``, the Results of one submission's files for ``sheet`` (see the module docstring);
    ``saved_at``: each file's modification time (seconds), None to count the order given. The student id is the one
    the file saved last gives; a note names the others if the files give several (the caller decides whether
    several may be one submission: :func:`students_named`)."""
    times = list(saved_at) if saved_at is not None else [float(index) for index in range(len(results))]
    order = sorted(range(len(results)), key=lambda index: times[index])  # stable: at one time, the order given
    named = students_named([results[index] for index in order])
    student_id = named[-1] if named else ""
    files = [
        dataclasses.replace(graded_file(result, graded_at=f"{time:024.6f}"), student_id=student_id or "one submission")
        for result, time in zip(results, times, strict=True)
    ]
    [student] = by_student(files)
    parts: list[PartResult] = []
    for exercise, part in sheet.parts():
        taken = student.parts.get(f"{exercise.id}.{part.id}")
        parts.append(taken if taken is not None else missing_part(exercise, part))
    several = len(results) > 1
    # A code file's note that it is graded under its own name, apart from the answer file, is not so here.
    notes = [
        of_file(result.submission, note) if several else note
        for result in results for note in result.notes if not (several and named_after_file([note]))
    ]
    readable = [result for result in results if result.error is None]
    if readable:
        notes += [f"{result.submission} could not be graded: {result.error}" for result in results if result.error is not None]
    if len(named) > 1:
        notes.append(f"the files name different students ({', '.join(map(repr, named))}): graded as one submission, of {student_id!r}")
    same_time = len(set(times)) < len(times)
    for file, keys in student.superseded():
        shown = ", ".join(keys[:SHOWN_PARTS]) + (", ..." if len(keys) > SHOWN_PARTS else "")
        by = ", ".join(dict.fromkeys(student.sources[key].name for key in keys))
        why = "saved later" if not same_time else "saved later, or at the same time and later by name"
        notes.append(f"{file.name}: its answers to {shown} are replaced by those of {by}, {why}")
    layers: dict[str, bool] = {}
    for result in results:
        for layer, active in result.sandbox_layers.items():
            layers[layer] = layers.get(layer, True) and active
    return Result(
        sheet_id=sheet.id,
        sheet_title=sheet.title,
        student_id=student_id,
        seed=student.seed,
        submission=FILE_SEPARATOR.join(result.submission for result in results),
        spec_hash=sheet.spec_hash,
        parts=parts,
        error=None if readable else "\n".join(result.error or "" for result in results),
        notes=notes,
        sandbox_layers=layers,
        grader_version=__version__,
    )


def nothing_handed_in(sheet: Sheet, submission: str, reason: str) -> Result:
    """The Result of a submission without a single file to grade (an empty upload, a ``.txt``, a ``.zip``): every
    part of the sheet ``missing`` with 0 points, and ``reason``."""
    parts = [missing_part(exercise, part) for exercise, part in sheet.parts()]
    return Result(
        sheet_id=sheet.id, sheet_title=sheet.title, submission=submission, spec_hash=sheet.spec_hash, parts=parts,
        error=reason, grader_version=__version__,
    )
