"""The notes the grader writes on a submission as a whole (``Result.notes``: they cost no points, every report
shows them to the student), for those that other steps recognize again: grading writes them, and batch and the
cohort merge read them back from stored Results, so their texts live here, in one place. Likewise the texts of
code cases that reports recognize and label (not counted, not run, and how a hidden case failed)."""

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

_UNUSABLE_CODE_STUDENT = "STUDENT: the id on your STUDENT line "


def unusable_code_student_note(problem: str) -> str:
    """The note of a code file whose STUDENT line gives no usable id, ``problem`` saying why (it completes "the id
    on your STUDENT line ...": ``is empty``); its student id is then its file name, as without the line."""
    return (
        f'{_UNUSABLE_CODE_STUDENT}{problem}: write just your id there, e.g. STUDENT = "s123456", so that this grade '
        "is credited to you and added to your answer file (graded all the same, under the file's name for now)"
    )


def asks_for_an_id(note: str) -> bool:
    """Whether ``note`` asks the student for their id (a Result carrying one has no id of the student's own), also
    behind the ``<file>: `` a submission of several files puts before each file's notes (:func:`of_file`)."""
    tails = [note, *(note[at + 2:] for at in range(len(note)) if note.startswith(": ", at))]
    return any(tail in (MISSING_STUDENT_NOTE, MISSING_CODE_STUDENT_NOTE) or tail.startswith(_UNUSABLE_CODE_STUDENT) for tail in tails)


def of_file(submission: str, note: str) -> str:
    """One file's ``note`` in a Result made of several files (``grader.combined``): ``<file name>: <note>``."""
    return f"{submission}: {note}"

NO_SEED_NOTE = (
    "seed: your file has no 'seed:' line, so it was graded against the sheet's printed numbers; if your sheet was "
    "made for a variant (it says 'variant N' under its title), add the line 'seed: N' to your answer file and "
    "hand it in again"
)
"""The note of a file that names no variant and lost points on a sheet whose variants differ."""


def wrong_variant_note(seed: int, from_roster: bool = False) -> str:
    """The note of a file graded against variant ``seed`` (the seed it names, or with ``from_roster`` the one the
    course's roster gives its student) whose answers fit the sheet's printed numbers much better."""
    if from_roster:
        return (
            f"seed: your answers fit the sheet's printed numbers, not your variant, {seed}, which the course's roster gives "
            "you: compute with your variant's numbers"
        )
    return (
        f"seed: your answers fit the sheet's printed numbers, not variant {seed}: they were graded against variant "
        f"{seed} because your file says 'seed: {seed}'; if your sheet says \"the sheet's own numbers\" under its title "
        f"(no variant number), remove that line and hand the file in again"
    )


def roster_seed_note(seed: int, written: int | None) -> str:
    """The note of a file graded against variant ``seed``, which the course's roster gives its student, while the
    file names another (``written``) or none."""
    said = f"your file says 'seed: {written}'" if written is not None else "your file has no 'seed:' line"
    return f"seed: graded against your variant, {seed}, which the course's roster gives you; {said}"


def named_after_file(notes: list[str]) -> bool:
    """Whether a Result with these notes has its file's name as student id: a code file without ``STUDENT``."""
    return any(note == MISSING_CODE_STUDENT_NOTE or note.startswith(_UNUSABLE_CODE_STUDENT) for note in notes)


# ---- the texts of code cases that reports recognize (grading writes them, reports label them) -------------------
CASE_NOT_COUNTED = "not counted: "
"""Starts the feedback of a case that is right in itself but earns nothing (a property that holds for a function
that fails the case it is compared with): reports label it ``not counted``, not ``FAIL``."""
CASE_NOT_RUN = "not run: "
"""Starts the feedback of a case whose function was never called (the file could not be imported, the function is
missing, the submission's time ran out): reports label it ``not run``."""

HIDDEN_CASE_KINDS: dict[str, str] = {
    "timeout": "ran out of time",
    "memory": "used too much memory",
    "crashed": "stopped the process",
    "bad-result": "returned something that is not numbers",
    "not-run": "not run (the time allowed was used up)",
    "before-call": "not run",
    "exception": "raised an exception",
    "shape": "returned an array of the wrong shape",
    "non-finite": "returned non-finite values (NaN or inf)",
    "wrong": "returned a wrong value",
    "dict": "returned a dict, not an array",
    "not-dict": "returned an array, not a dict",
    "keys": "returned a dict without every expected key",
    "property": "broke the property",
    "unchecked": "not checked (the case it is compared with failed)",
    "not-counted": "not counted (the property holds, but the case it is compared with failed)",
}
"""Why a hidden code case failed, in words that tell no value of it (its ``CaseResult.feedback``): the only texts
of a hidden case that reports show. A student's code chooses how a case fails, so these are a few bits a hidden case
(pass or fail alone is one); an exception's type, which the code also chooses among dozens, is never among them."""
