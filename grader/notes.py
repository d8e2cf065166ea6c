"""The notes the grader writes on a submission as a whole (``Result.notes``: they cost no points, every report
shows them to the student), for those that other steps recognize again: grading writes them, and batch and the
cohort merge read them back from stored Results, so their texts live here, in one place."""

from __future__ import annotations

MISSING_STUDENT_NOTE = (
    "student: no student id given: write yours after 'student:' so that this grade is credited to you "
    "(graded all the same)"
)
"""The note of an answer file without a student id."""

MISSING_CODE_STUDENT_NOTE = (
    'STUDENT: no student id given: add the line STUDENT = "your id" to your code so that this grade is credited '
    "to you and added to your answer file (graded all the same, under the file's name for now)"
)
"""The note of a code file without ``STUDENT = "..."``: its student id is then its file name (see
:func:`named_after_file`)."""

ASKING_FOR_AN_ID = (MISSING_STUDENT_NOTE, MISSING_CODE_STUDENT_NOTE)
"""The notes that ask the student for their id: a Result carrying one has no id of the student's own."""

NO_SEED_NOTE = (
    "seed: your file has no 'seed:' line, so it was graded against the sheet's printed numbers; if your sheet was "
    "made for a variant (it says 'variant N' under its title), add the line 'seed: N' to your answer file and "
    "hand it in again"
)
"""The note of a file that names no variant and lost points on a sheet whose variants differ."""


def wrong_variant_note(seed: int) -> str:
    """The note of a file that names variant ``seed`` but whose answers fit the sheet's printed numbers much better."""
    return (
        f"seed: your answers fit the sheet's printed numbers, not variant {seed}: they were graded against variant "
        f"{seed} because your file says 'seed: {seed}'; if your sheet says \"the sheet's own numbers\" under its title "
        f"(no variant number), remove that line and hand the file in again"
    )


def named_after_file(notes: list[str]) -> bool:
    """Whether a Result with these notes has its file's name as student id: a code file without ``STUDENT``."""
    return MISSING_CODE_STUDENT_NOTE in notes
