"""Sheet x submission -> Result. Grading never raises because of a submission: a broken one scores 0 with why."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from grader import __version__
from grader.answers import AnswerSpec, CheckContext, Tolerances
from grader.engine import max_pool2d_winners
from grader.errors import SHEET_FAULT, InputFileError, SpecErrors, VariantKeyError
from grader.follow_through import with_follow_through
from grader.key import AnswerKey, PartKey, answer_key
from grader.notes import MISSING_STUDENT_NOTE, NO_SEED_NOTE, roster_seed_note, wrong_variant_note
from grader.result import PartResult, Result, Status, Verdict, Visibility
from grader.roster import Roster
from grader.spec.loader import Sheet, load_sheet
from grader.spec.models import ExerciseSpec, MistakeSpec, PartSpec
from grader.submission.answer_file import ANSWER_SUFFIXES, CODE_SUFFIXES, AnswerFile, file_hash, parse_answer_file, read_bytes, salvaged_student
from grader.text import answer_text, close_matches, file_name, one_line, printable

Mode = Literal["full", "check"]
"""``full``: every part graded (instructor/CI). ``check``: the student-side run; hidden parts are pending."""


@lru_cache(maxsize=4096)
def check_context(sheet: Sheet, exercise_id: str, part_id: str) -> CheckContext:
    """The random points of a part's checks: fixed per sheet and part, so every student faces the same test.

    Cached: checks draw from a copy of the context's generator and never advance it.
    """
    digest = hashlib.sha256(f"{sheet.id}:{exercise_id}:{part_id}".encode()).digest()
    return CheckContext.from_seed(int.from_bytes(digest[:8], "little"))


def judge(answer: AnswerSpec, part: PartSpec, raw: Any, key: PartKey, ctx: CheckContext) -> tuple[Any, Verdict]:
    """The student's parsed answer and its verdict, known mistakes included.

    A wrong answer that matches a known mistake gets that mistake's feedback and credit. One that is a known
    mistake's value rounded too early (and not the key's) gets its feedback too, with how it was rounded, and the
    lesser of its own credit and the slip's: none for a number (the key rounded too early earns none), the right
    entries' share at most for an array with partial credit. The slip is named for the many students who round.
    """
    actual, verdict = answer.grade(raw, key.expected, ctx)
    if verdict.fraction >= 1.0 or actual is None:
        return actual, verdict
    found = _known_mistake(answer, part, actual, key, ctx)
    if found is None:
        return actual, verdict
    mistake, rounded = found
    if rounded is None:
        return actual, Verdict(
            fraction=mistake.credit,
            status=Status.partial if mistake.credit > 0 else Status.incorrect,
            feedback=mistake.feedback,
            details=verdict.details,
            mistake=mistake.id,
        )
    fraction = min(verdict.fraction, mistake.credit)  # no more than the slip itself, nor than its own right entries
    return actual, Verdict(
        fraction=fraction, status=Status.partial if fraction > 0 else Status.incorrect, details=verdict.details, mistake=mistake.id,
        feedback=f"{mistake.feedback} ({_rounded_slip(actual, rounded)})",
    )


def judged_fraction(answer: AnswerSpec, part: PartSpec, raw: Any, key: PartKey, ctx: CheckContext) -> float:
    """:func:`judge`'s verdict's fraction, without the feedback: the credit the answer would earn against ``key``."""
    actual, unread = answer.read(raw)
    if unread is not None:
        return unread.fraction
    fraction = answer.fraction(actual, key.expected, ctx)
    if fraction >= 1.0:
        return fraction
    found = _known_mistake(answer, part, actual, key, ctx)
    if found is None:
        return fraction
    mistake, rounded = found
    return mistake.credit if rounded is None else min(fraction, mistake.credit)


def _rounded_slip(actual: Any, rounded: str) -> str:
    """``Your value is that slip's value rounded to 2 decimal places.`` (``values are ... values`` for an array of
    several entries): the note after a known mistake's feedback for an answer that is its value rounded too early."""
    several = np.ndim(actual) > 0 and np.size(actual) > 1
    return f"Your values are that slip's values {rounded}." if several else f"Your value is that slip's value {rounded}."


def _known_mistake(answer: AnswerSpec, part: PartSpec, actual: Any, key: PartKey, ctx: CheckContext) -> tuple[MistakeSpec, str | None] | None:
    """The known mistake a wrong answer ``actual`` is, with None, or else the one whose value it is rounded too
    early, with how it was rounded (:meth:`AnswerSpec.rounded_from`; only when it is not the key's value rounded);
    None when it is neither. Mistakes are tried in the part's order."""
    for mistake in part.mistakes:
        if answer.matches(actual, key.mistakes[mistake.id], ctx):
            return mistake, None
    if part.mistakes and answer.rounded_from(actual, key.expected) is None:
        for mistake in part.mistakes:
            rounded = answer.rounded_from(actual, key.mistakes[mistake.id])
            if rounded is not None:
                return mistake, rounded
    return None


def title_of(part: PartSpec) -> str:
    """A part's whole prompt for reports: each paragraph's lines joined into one (a YAML block breaks them only to
    keep the sheet narrow), paragraphs on lines of their own; the part's id when it has no prompt. Never cut: the
    end of a prompt often says what matters (a code part's "no flipping")."""
    return _joined_prompt(part.prompt) or part.id


@lru_cache(maxsize=4096)
def _joined_prompt(prompt: str) -> str:
    """:func:`title_of`'s text (cached: every submission's every part asks for it)."""
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", prompt.strip()))
    return "\n".join(paragraph for paragraph in paragraphs if paragraph)


def part_fields(exercise: ExerciseSpec, part: PartSpec) -> dict[str, Any]:
    """The fields every PartResult of this part carries, whatever the submission: ids, title, answer type,
    visibility and points possible."""
    return {
        "exercise_id": exercise.id,
        "part_id": part.id,
        "title": title_of(part),
        "answer_type": part.answer.type,
        "visibility": part.visibility,
        "points_possible": part.points,
    }


def missing_part(exercise: ExerciseSpec, part: PartSpec) -> PartResult:
    """A part no file answered (or that an unusable file stands for): ``missing``, 0 points."""
    return PartResult(**part_fields(exercise, part), points_earned=0.0, status=Status.missing)


def pending_part(exercise: ExerciseSpec, part: PartSpec, mode: Mode) -> PartResult | None:
    """The ``pending`` result of a hidden part in check mode (it is graded after submission), else None."""
    if part.visibility is Visibility.hidden and mode == "check":
        return PartResult(**part_fields(exercise, part), points_earned=0.0, status=Status.pending, feedback="graded after submission")
    return None


def part_result(
    exercise: ExerciseSpec, part: PartSpec, raw: Any, key: AnswerKey, ctx: CheckContext, mode: Mode = "full",
    *, written_as: Sequence[str] = (),
) -> PartResult:
    """Grade one answer-file part. Hidden parts carry no expected value, no details and no feedback text beyond
    passed/not passed, or why the answer could not be read (which never depends on the key).

    ``written_as``: ids the answer file used that look like misspellings of this part's id (named when the
    answer is missing). In check mode a hidden part is only read, not graded: the student learns whether their
    answer is missing or unreadable, nothing of the key."""
    hidden = part.visibility is Visibility.hidden
    pending = pending_part(exercise, part, mode)
    if pending is not None:
        return _read_pending(pending, part, raw, written_as)
    common = part_fields(exercise, part)
    part_key = key.part(exercise.id, part.id)
    actual, verdict = judge(part.answer, part, raw, part_key, ctx)
    answer_error = _answer_error(verdict, written_as) if actual is None else ""
    if answer_error and verdict.status is Status.missing:
        verdict = verdict.model_copy(update={"feedback": answer_error})
    annotations = {} if hidden else _annotations(part, actual, key.expected_winners(exercise.id, part.id, part.report.pool_winners))
    return PartResult(
        **common,
        points_earned=round(verdict.fraction * part.points, 6),
        status=verdict.status,
        actual=part.answer.to_json(actual) if actual is not None else None,
        answer_text=answer_text(raw) if actual is None and verdict.status is Status.invalid else None,
        answer_error=answer_error,
        expected=None if hidden else key.expected_json(exercise.id, part.id),
        feedback=(answer_error or _hidden_feedback(verdict)) if hidden else verdict.feedback,
        details=[] if hidden else list(verdict.details),
        mistake=verdict.mistake,
        annotations=annotations,
    )


def _read_pending(pending: PartResult, part: PartSpec, raw: Any, written_as: Sequence[str]) -> PartResult:
    """A check-mode hidden part, read but not graded: the student's answer (theirs to see) and why it cannot
    be read, if it cannot."""
    actual, unread = part.answer.read(raw)  # never sees the key
    if unread is None:
        return pending.model_copy(update={"actual": part.answer.to_json(actual)})
    error = _answer_error(unread, written_as)
    return PartResult.model_validate({
        **pending.model_dump(exclude={"key"}),
        "answer_text": answer_text(raw) if unread.status is Status.invalid else None,
        "answer_error": error,
        "feedback": f"graded after submission; {error}",
    })


def _answer_error(verdict: Verdict, written_as: Sequence[str]) -> str:
    """The ``answer_error`` of an answer that grading could not read (``actual`` is None only then)."""
    if verdict.status is Status.missing:
        return _missing_sentence(written_as)
    if verdict.status is Status.invalid:
        return _unreadable_sentence(verdict.feedback)
    return ""


def _missing_sentence(written_as: Sequence[str]) -> str:
    if not written_as:
        return "no answer given"
    names = " or ".join(repr(name) for name in written_as)
    return f"no answer given (the answer file has {names} instead, which is not a part id: check the spelling)"


def _unreadable_sentence(message: str) -> str:
    message = message.strip()
    if message.lower().startswith(("cannot read", "could not read")):
        return message
    return f"cannot be read: {message}"


def _annotations(part: PartSpec, actual: Any, expected_winners: tuple[tuple[int, ...], list[Any]] | None) -> dict[str, Any]:
    """Drawing hints for reports: tolerances, what the channels are called, max-pooling winners of both arrays
    (``expected_winners``: the key's shape and winners, :meth:`AnswerKey.expected_winners`; the answer's are
    computed here when it has the key's shape)."""
    notes: dict[str, Any] = {}
    if isinstance(part.answer, Tolerances):
        notes.update(atol=part.answer.abs_tol, rtol=part.answer.rel_tol)
    if part.report.channel_label:
        notes["channel_label"] = part.report.channel_label
    window = part.report.pool_winners
    if window is not None and expected_winners is not None:
        shape, notes["expected_winners"] = expected_winners
        answer = np.asarray(actual, dtype=np.float64) if isinstance(actual, np.ndarray) else None
        if answer is not None and answer.shape == shape and np.isfinite(answer).all():
            notes["actual_winners"] = max_pool2d_winners(answer, window.size, stride=window.stride).tolist()
    return notes


def _hidden_feedback(verdict: Verdict) -> str:
    return "passed" if verdict.status is Status.correct else "not passed"


def grade_answer_file(
    sheet: Sheet, submission: AnswerFile, *, mode: Mode = "full", roster: Roster | None = None, owner: str | None = None,
) -> Result:
    """Grade a parsed answer file against its variant's key: the seed it names, else the sheet's numbers; with a
    ``roster``, the seed the roster gives its student (``owner`` when the file's place in the folder names it,
    else the id the file gives), whatever seed it names, and 0 points with why when the roster does not list
    that student (:func:`on_roster`).

    Raises VariantKeyError (with this submission's Result saying the sheet failed) when that key cannot be computed."""
    roster_notes: list[str] = []
    if roster is not None:
        placed = on_roster(sheet, submission, roster, owner)
        if isinstance(placed, Result):
            return placed
        submission, roster_notes = placed
    try:
        key = answer_key(sheet, submission.seed)
    except SpecErrors as exc:
        failed = unusable(
            sheet, submission.path, SHEET_FAULT, submission_hash=submission.sha256,
            student_id=submission.student, seed=submission.seed,
        )
        raise VariantKeyError(exc.errors, failed) from None
    gradable = [(exercise, part) for exercise, part in sheet.parts() if part.answer.type != "code"]
    unknown, misspelled = _unknown_answers(submission, sheet)
    parts: list[PartResult] = []
    for exercise, part in gradable:
        raw = submission.answers.get(exercise.id, {}).get(part.id)
        parts.append(part_result(exercise, part, raw, key, check_context(sheet, exercise.id, part.id), mode,
                                 written_as=misspelled.get((exercise.id, part.id), ())))
    parts = with_follow_through(sheet, key, parts, submission.answers, partial(check_context, sheet))
    notes = _another_sheet_note(submission, sheet)
    notes += [MISSING_STUDENT_NOTE] if not submission.student else []
    notes += roster_notes
    notes += variant_notes(sheet, submission, key, parts, from_roster=roster is not None)
    notes += unknown
    return sheet_result(
        sheet, submission.path, student_id=submission.student, seed=submission.seed,
        submission_hash=submission.sha256, parts=parts, notes=notes,
    )


@lru_cache(maxsize=64)
def randomized(sheet: Sheet) -> bool:
    """Whether the sheet's variants differ: some input has a ``random`` draw (else every seed is the printed sheet)."""
    return any(spec.random is not None for exercise in sheet.spec.exercises for spec in exercise.inputs.values())


def on_roster(sheet: Sheet, submission: AnswerFile, roster: Roster, owner: str | None = None) -> tuple[AnswerFile, list[str]] | Result:
    """``submission`` to be graded against the variant ``roster`` gives its student (``owner``, else the id the file
    gives), with a note when the file names another seed or none; or, when the roster does not list the student
    (or the file names none), its Result: 0 points, saying why (the variant to grade against is unknown)."""
    student = owner if owner is not None else submission.student
    seed = roster.seed_of(student) if student else None
    if seed is None:
        unknown = "so the variant to grade your answers against is unknown"
        if owner is not None:  # the id comes from where the file was handed in: nothing in the file can fix it
            reason = f"the student {one_line(repr(student))} is not on the course's roster, {unknown}; ask your instructor"
        elif student:
            reason = f"the student id {one_line(repr(student))} is not on the course's roster, {unknown}; check the id your file gives ('student')"
        else:
            reason = "the file names no student, and the course grades each student's answers against their own variant: add your id ('student')"
        reason = f"{file_name(submission.path)}: {reason}"
        return unusable(sheet, submission.path, reason, submission_hash=submission.sha256, student_id=submission.student)
    notes = [] if submission.seed == seed else [roster_seed_note(seed, submission.seed)]
    return dataclasses.replace(submission, seed=seed), notes


def variant_notes(
    sheet: Sheet, submission: AnswerFile, key: AnswerKey, parts: Sequence[PartResult], *, from_roster: bool = False,
) -> list[str]:
    """Notes on the variant a file was graded against, for a file that lost points on a randomized sheet (a file with
    full marks, or on a sheet whose variants are all alike, costs nothing here).

    A file naming no seed is told it was graded against the sheet's printed numbers and that a ``seed:`` line is
    needed if its sheet was made for a variant (the seeds are too many to try). A file naming a seed is re-judged
    against the printed numbers' key (cached per variant, as ``key`` is); when its answers fit that key much better
    (:func:`fits_better`) the note says so, naming the variants only: never a key value or a part.

    Only visible parts count, for the trigger as for the comparison: notes are shown at once (Gradescope's
    always-visible output included), so a note that depended on a hidden part would tell before publication that
    it lost points.
    """
    graded = [part for part in parts if part.visibility is Visibility.visible and part.status is not Status.pending]
    if not randomized(sheet) or sum(p.points_earned for p in graded) >= sum(p.points_possible for p in graded) - 1e-9:
        return []
    if submission.seed is None:
        return [NO_SEED_NOTE]
    try:
        printed = answer_key(sheet, None)
    except SpecErrors:  # the printed numbers have no key: nothing to compare with (the author hears of it elsewhere)
        return []
    return [wrong_variant_note(submission.seed, from_roster)] if fits_better(sheet, submission, key, printed, graded) else []


def fits_better(sheet: Sheet, submission: AnswerFile, graded_key: AnswerKey, other_key: AnswerKey,
                parts: Sequence[PartResult]) -> bool:
    """Whether the file's answers fit ``other_key`` much better than ``graded_key``, the key ``parts`` were graded
    against.

    Only parts whose answer was read and whose key reads differently in the two variants are compared (the others
    score alike under both). Over those, ``other_key`` fits much better when it earns at least half of their points,
    at least twice the points ``graded_key`` earns, and more on at least two parts: one yes/no or whole-number answer
    that happens to be right for the other variant is no evidence. The verdict is one boolean over all those parts.
    """
    specs = {(exercise.id, part.id): (exercise, part) for exercise, part in sheet.parts()}
    compared = [
        (result, *specs[(result.exercise_id, result.part_id)])
        for result in parts
        if result.actual is not None and result.points_possible > 0
        and graded_key.expected_json(result.exercise_id, result.part_id) != other_key.expected_json(result.exercise_id, result.part_id)
    ]
    possible = sum(result.points_possible for result, _, _ in compared)
    earned = sum(result.points_earned for result, _, _ in compared)
    below_full = sum(result.points_earned < result.points_possible - 1e-9 for result, _, _ in compared)
    # Bounds that need no judging: other_key earns at most ``possible``, and can gain only where points were lost.
    if below_full < 2 or 2 * earned > possible:
        return False
    earned_other = 0.0
    gained = 0
    for result, exercise, part in compared:
        raw = submission.answers.get(exercise.id, {}).get(part.id)
        fraction = judged_fraction(part.answer, part, raw, other_key.part(exercise.id, part.id), check_context(sheet, exercise.id, part.id))
        earned_other += fraction * result.points_possible
        gained += fraction > result.points_earned / result.points_possible + 1e-9
    return gained >= 2 and earned_other >= 0.5 * possible and earned_other >= 2 * earned


def sheet_result(sheet: Sheet, path: Path, **fields: Any) -> Result:
    """A Result of ``sheet`` for the submission file at ``path``: the sheet's id, title and spec hash and this
    grader's version filled in; ``fields`` give the rest (parts, submission_hash, student_id, error, ...)."""
    return Result(
        sheet_id=sheet.id,
        sheet_title=sheet.title,
        spec_hash=sheet.spec_hash,
        submission=file_name(path),
        grader_version=__version__,
        **fields,
    )


def _unknown_answers(submission: AnswerFile, sheet: Sheet) -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    """Notes on the answer file's ids that the sheet does not have, each suggesting the closest known id
    ("did you mean 'b_pool'?"), and for each answer-file part the unknown ids that look like it (to name them
    when that part's answer is missing)."""
    answerable: dict[str, list[str]] = {}
    code_parts: set[tuple[str, str]] = set()
    for exercise, part in sheet.parts():
        answerable.setdefault(exercise.id, [])
        if part.answer.type == "code":
            code_parts.add((exercise.id, part.id))
        else:
            answerable[exercise.id].append(part.id)
    exercises = list(answerable)
    notes: list[str] = []
    misspelled: dict[tuple[str, str], list[str]] = {}
    unlisted = 0
    for exercise_id, answers in submission.answers.items():
        shown_exercise = _shown_id(exercise_id)
        if exercise_id not in answerable:
            if len(notes) >= MAX_UNKNOWN_ID_NOTES:  # beyond, only counted: each note costs a search for a close id
                unlisted += 1
                continue
            hint = _did_you_mean(str(exercise_id), exercises)
            notes.append(f"answers.{shown_exercise}: this sheet has no exercise '{shown_exercise}'{hint} "
                         f"(ignored; exercises: {', '.join(exercises)})")
            continue
        parts = answerable[exercise_id]
        given = set(answers)
        for part_id in answers:
            if part_id in parts:
                continue
            if len(notes) >= MAX_UNKNOWN_ID_NOTES:
                unlisted += 1
                if unlisted <= MAX_UNKNOWN_ID_NOTES * 10 and (exercise_id, part_id) not in code_parts:
                    # Not listed, but still named in the feedback of the part it looks like (a bounded search).
                    close = _closest(str(part_id), [p for p in parts if p not in given])
                    if close is not None:
                        misspelled.setdefault((exercise_id, close), []).append(_shown_id(part_id))
                continue
            shown = _shown_id(part_id)
            where = f"answers.{shown_exercise}.{shown}"
            if (exercise_id, part_id) in code_parts:
                notes.append(f"{where}: {exercise_id}.{part_id} is a code part (ignored here): hand it in as a .py "
                             "or .ipynb file")
                continue
            close = _closest(str(part_id), [p for p in parts if p not in given])
            if close is not None:
                misspelled.setdefault((exercise_id, close), []).append(shown)
                hint = f"; did you mean {close!r}?"
            else:
                elsewhere = [e for e in exercises if part_id in answerable[e]]
                hint = f"; did you mean {elsewhere[0]}.{part_id}?" if elsewhere else _did_you_mean(str(part_id), parts)
            notes.append(f"{where}: exercise {exercise_id!r} has no part '{shown}'{hint} (ignored; parts: {', '.join(parts)})")
    if unlisted:
        notes.append(f"answers: {unlisted} more answer{'s' if unlisted != 1 else ''} under ids this sheet does not have "
                     "(ignored; not listed one by one)")
    return notes, misspelled


def _another_sheet_note(submission: AnswerFile, sheet: Sheet) -> list[str]:
    """The note, first of all, on an answer file none of whose exercises is on ``sheet``: likely for another sheet."""
    exercises = [exercise.id for exercise in sheet.spec.exercises]
    if not submission.answers or any(exercise_id in exercises for exercise_id in submission.answers):
        return []
    return [f"answers: none of this file's exercises is on the sheet {sheet.id!r} (its exercises: {', '.join(exercises)}), "
            "so nothing in it was graded: is it an answer file for another sheet? `grader template` writes one for this sheet"]


MAX_UNKNOWN_ID_NOTES = 20
"""Notes listed one by one on answers under ids the sheet does not have; beyond, they are only counted."""


def _shown_id(name: object) -> str:
    """An id from the answer file as a note shows it: escaped once (``\\n``, ``\\u202e``, invisible characters such
    as a zero-width space as ``\\u200b``), never stripped, at most 60 characters (``b_unusual\\n`` or ``'a_set_a '``
    must not read like the part ``b_unusual`` or ``a_set_a``)."""
    text = "".join(
        f"\\u{ord(char):04x}" if char != " " and unicodedata.category(char) in _INVISIBLE else char
        for char in json.dumps(str(name), ensure_ascii=False)[1:-1]
    )
    text = printable(text)
    return text if len(text) <= 60 else text[:57] + "..."


_INVISIBLE = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn"})
"""Unicode categories of characters an id may hold that a reader would not see (formats, spaces other than the
plain one, separators, combining marks)."""


def _closest(name: str, known: Sequence[str]) -> str | None:
    """The known id most like ``name`` (:func:`grader.text.close_matches`), or None."""
    return next(iter(close_matches(name, known)), None)


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = _closest(name, known)
    return f"; did you mean {close!r}?" if close is not None else ""


def unusable(
    sheet: Sheet, path: Path, reason: str, *, submission_hash: str = "", student_id: str = "", seed: int | None = None,
) -> Result:
    """The Result of a submission that could not be graded at all: 0 points for every part a file of its kind
    answers (:func:`parts_answered_by`), with the reason (and the student id and seed when the file could be read).

    Hidden parts are ``missing`` in check mode too, not "graded after submission": nothing of this file will be
    graded later, and saying it scores 0 there tells nothing of their keys."""
    parts = [missing_part(exercise, part) for exercise, part in parts_answered_by(sheet, path)]
    return sheet_result(
        sheet, path, submission_hash=submission_hash, parts=parts, error=reason, student_id=student_id, seed=seed
    )


def parts_answered_by(sheet: Sheet, path: Path) -> list[tuple[ExerciseSpec, PartSpec]]:
    """The parts a file like ``path`` answers: an answer file (.yaml/.json) the parts that are not code, a .py or
    .ipynb file the code parts, as grading them does; any other file, or a kind the sheet has no part for, all."""
    suffix = path.suffix.lower()
    every = list(sheet.parts())
    if suffix in ANSWER_SUFFIXES:
        answered = [(exercise, part) for exercise, part in every if part.answer.type != "code"]
    elif suffix in CODE_SUFFIXES:
        answered = [(exercise, part) for exercise, part in every if part.answer.type == "code"]
    else:
        answered = every
    return answered or every


def student_error(error: InputFileError, path: Path) -> str:
    """``error`` as the student's report gives it: naming the file by its name (``alice.yaml:5: ...``), as
    ``Result.submission`` does, never by the folders of the machine that graded it. Whoever runs the grader knows
    the full path (the CLI's stderr and a batch's gradebook key name it)."""
    return str(InputFileError(error.message, file=file_name(path) if error.file is not None else None,
                              line=error.line, path=error.path))


def grade_submission(
    sheet: Sheet, path: Path, *, mode: Mode = "full", require_sandbox: bool = False, roster: Roster | None = None,
    owner: str | None = None,
) -> Result:
    """Grade one handed-in file (answer file, .py or .ipynb). Never raises for the student's faults; a file that
    cannot be read scores 0 with why, naming the file by its name only (:func:`student_error`). ``roster`` and
    ``owner``: see :func:`grade_answer_file` (code files have no variant)."""
    try:
        data = read_bytes(path)
    except InputFileError as exc:
        return unusable(sheet, path, student_error(exc, path))
    suffix = path.suffix.lower()
    if suffix in ANSWER_SUFFIXES:
        try:
            submission = parse_answer_file(path, data)
        except InputFileError as exc:  # graded 0, credited to the student the text plainly names, if any
            student = salvaged_student(data, suffix)
            return unusable(sheet, path, student_error(exc, path), submission_hash=file_hash(data), student_id=student)
        return grade_answer_file(sheet, submission, mode=mode, roster=roster, owner=owner)
    if suffix in CODE_SUFFIXES:
        from grader.code_grading import grade_code_file  # the sandbox is loaded only for code

        return grade_code_file(sheet, path, data, mode=mode, require_sandbox=require_sandbox)
    expected = ", ".join(ANSWER_SUFFIXES + CODE_SUFFIXES)
    return unusable(sheet, path, f"{file_name(path)}: unsupported file type {suffix or '(none)'}; expected one of {expected}", submission_hash=file_hash(data))


def grade_file(
    spec_path: Path | str, submission_path: Path | str, *, mode: Mode = "full", require_sandbox: bool = False,
    roster: Roster | None = None, owner: str | None = None,
) -> Result:
    """Load the sheet (cached) and grade one submission file: the function batch workers call (with
    ``require_sandbox`` bound by ``functools.partial`` for ``grader batch --require-sandbox``, and ``roster`` and
    ``owner`` given for ``grader batch --roster``)."""
    return grade_submission(loaded_sheet(Path(spec_path)), Path(submission_path), mode=mode, require_sandbox=require_sandbox,
                            roster=roster, owner=owner)


_SHEETS: dict[tuple[Path, int, int], Sheet] = {}


def loaded_sheet(path: Path) -> Sheet:
    """:func:`load_sheet`, cached per file version (path, modification time, size): :func:`grade_file` loads a sheet
    once per process, and a batch's forked workers find the one the batch loaded before it started them."""
    try:
        stat = path.stat()
    except OSError:
        return load_sheet(path)  # which says what is wrong with the path, as an error for people
    cache_key = (path.absolute(), stat.st_mtime_ns, stat.st_size)
    if cache_key not in _SHEETS:
        _SHEETS[cache_key] = load_sheet(path)
    return _SHEETS[cache_key]
