"""Cohort statistics of one sheet from the gradebook: per part mean, spread, full marks, discrimination, mistakes.

Two populations, both over the submissions stored for the sheet:

- **Totals are per student.** A student's files (an answer file and a code file, or a second answer file) are
  merged by :func:`grader.cohort.by_student` -- the same merge as the CSV for the LMS; see its rules: the parts of
  all files add up, of two files grading one part the one graded last counts, and a file naming no student (an
  unreadable file) is a student of its own. A student's *score* is their points over the sheet's total points
  (``points_possible`` of :func:`compute_stats`: the whole sheet, answer and code parts), so a student who handed
  in no code file scores out of the whole sheet too.
- **Part figures are per submission file**, as before: every readable file that graded the part counts once
  (a student who handed in two answer files counts twice here).

Definitions:

- a part's *score* is its fraction of the part's points (points_earned / points_possible, 0..1);
- ``mean`` and ``sd`` are the mean and the population standard deviation (ddof=0: the cohort is the whole
  population described, not a sample) of that fraction, or of the students' total scores;
- ``full_marks`` is the share of submissions earning all of the part's points;
- ``discrimination`` is the Pearson correlation between the part's score and the *rest* of the student's total
  (the student's points minus their points on this part), so a part is not correlated with itself. It is None
  when undefined -- fewer than three submissions (two always correlate +1 or -1), or either side constant
  (``discrimination_note`` says which);
- mistake counts are the number of submissions whose part matched each known mistake (once per submission,
  even when several code cases matched it);
- follow-through counts are the number of submissions whose part was credited for the student's own answer to an
  earlier part (its ``follow_through``: error carried forward), per earlier part.

A submission that could not be read at all (a Result with ``error``: every part scores 0) counts in the totals
only, not in any part's statistics. A submission the grader itself failed on is no student's result: it counts
nowhere but in ``TotalStats.grader_failures`` (the next batch grades it again).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.cohort import GradedFile, StudentGrade, by_student, cohort_points, merge_warnings
from grader.gradebook import Gradebook, PartRow, SubmissionRow
from grader.notes import named_after_file
from grader.submission.answer_file import is_code_file

FULL_MARKS_TOLERANCE = 1e-9
CONSTANT_SPREAD = 1e-5
"""Scores or points spread less than this are taken as constant (stored points are rounded to 6 decimals)."""
"""Points within this of the part's points count as full marks (points are sums of floats)."""

HISTOGRAM_BINS = 10
"""Bins of the totals histogram over the score 0..1 (the last bin includes 1.0)."""


@dataclass(frozen=True, slots=True)
class MistakeCount:
    """How many submissions matched one known mistake of a part; ``share`` is count / the part's n."""

    mistake_id: str
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class FollowCount:
    """How many submissions of a part were credited for the student's own answer to the earlier part ``source``
    (follow-through); ``share`` is count / the part's n."""

    source: str
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class PartStats:
    """Statistics of one part (see the module docstring for the definitions)."""

    key: str
    exercise_id: str
    part_id: str
    points_possible: float
    n: int
    mean: float
    sd: float
    full_marks: float
    discrimination: float | None
    discrimination_note: str
    """Empty when ``discrimination`` is defined; otherwise why it is not."""
    status_counts: dict[str, int]
    """Submissions per status (``correct``, ``partial``, ``incorrect``, ``missing``, ...)."""
    mistakes: list[MistakeCount]
    """Most frequent first; known mistakes that never occurred are listed with 0 when the sheet's mistakes were
    given to :func:`compute_stats`."""
    followed: list[FollowCount] = field(default_factory=list)
    """Most frequent first; the earlier parts a part follows that nobody was credited for are listed with 0 when
    the sheet's follow-through was given to :func:`compute_stats`. Empty for a part that follows none."""
    followed_unrecorded: int = 0
    """Submissions of a part that follows others whose record does not say what it followed (graded by a grader
    from before it was recorded): not in ``followed``; the next ``grader batch`` grades them again."""


@dataclass(frozen=True, slots=True)
class HistogramBin:
    """Students whose total score lies in [low, high) (the last bin: [low, high])."""

    low: float
    high: float
    count: int


@dataclass(frozen=True, slots=True)
class TotalStats:
    """The distribution of the students' total scores (fractions 0..1 of the sheet's points) and of points.

    ``mean`` .. ``maximum``, ``mean_points`` and ``histogram`` are over the ``students``; ``n`` counts files."""

    n: int
    """Submission files in the statistics (every one but those the grader failed on)."""
    unreadable: int
    """Submissions that could not be graded at all (a Result with ``error``); in ``n`` and the totals (each one a
    student of its own with 0 points)."""
    mean: float
    sd: float
    median: float
    minimum: float
    maximum: float
    mean_points: float
    points_possible: float
    """The sheet's total points (answer and code parts): the denominator of every student's score."""
    histogram: list[HistogramBin]
    grader_failures: int = 0
    """Submissions the grader itself failed on: left out of every statistic (not in ``n``)."""
    students: int = 0
    """Students the totals are over (:func:`grader.cohort.by_student`); ``n`` when each handed in one file."""


@dataclass(frozen=True, slots=True)
class SheetStats:
    """Statistics of one sheet's cohort."""

    sheet_id: str
    sheet_title: str
    totals: TotalStats
    parts: list[PartStats]
    spec_hashes: list[str] = field(default_factory=list)
    """The spec versions the results were graded against; more than one means some are out of date."""
    warnings: list[str] = field(default_factory=list)
    """What the merge of each student's files found (:func:`grader.cohort.merge_warnings`): the same lines as
    ``grader report --csv``; ``grader stats`` prints them on stderr."""


MIN_CORRELATED = 3
"""Submissions a discrimination needs: the correlation of two is always +1 or -1, whatever the part."""


def _pearson(first: np.ndarray, second: np.ndarray) -> tuple[float | None, str]:
    """Pearson correlation of two (n,) arrays, or None and the reason when undefined."""
    if first.size < 2:
        return None, f"undefined: needs at least {MIN_CORRELATED} submissions, has {first.size}"
    # Points are rounded to 6 decimals when stored, so the rest of the total (a difference of two of them) may
    # differ by rounding noise where the scores are the same: below CONSTANT_SPREAD counts as constant.
    if np.ptp(first) <= CONSTANT_SPREAD:
        return None, "undefined: every submission scored the same on this part"
    if np.ptp(second) <= CONSTANT_SPREAD:
        return None, "undefined: the rest of the total is the same for every submission"
    if first.size < MIN_CORRELATED:
        return None, f"undefined: needs at least {MIN_CORRELATED} submissions, has {first.size} (two always correlate +1 or -1)"
    first_dev = first - first.mean()
    second_dev = second - second.mean()
    value = float((first_dev @ second_dev) / math.sqrt(float(first_dev @ first_dev) * float(second_dev @ second_dev)))
    return max(-1.0, min(1.0, value)), ""


@dataclass
class _PartAccumulator:
    exercise_id: str
    part_id: str
    position: int
    points_possible: float = 0.0
    fractions: list[float] = field(default_factory=list)
    rest_points: list[float] = field(default_factory=list)
    full: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    mistakes: Counter[str] = field(default_factory=Counter)
    followed: Counter[str] = field(default_factory=Counter)
    followed_unrecorded: int = 0


def compute_stats(
    gradebook: Gradebook,
    sheet_id: str,
    *,
    known_mistakes: Mapping[str, Sequence[str]] | None = None,
    points_possible: float | None = None,
    part_points: Mapping[str, float] | None = None,
    follow_through: Mapping[str, Sequence[str]] | None = None,
) -> SheetStats:
    """Statistics of every submission stored for ``sheet_id`` (a sheet id or a spec hash) in ``gradebook``.

    ``known_mistakes`` maps a part key (``ex3.b``) to the ids of its known mistakes (see
    :func:`known_mistakes_of`); they are then listed even when nobody made them, and the parts come in the
    mapping's order. ``points_possible`` is the sheet's total points, the denominator of the students' scores
    (``sum(grader.cohort.sheet_points(sheet).values())``); without it, the points of every part some file graded
    (:func:`grader.cohort.cohort_points`). ``part_points`` (``grader.cohort.sheet_points(sheet)``, in sheet order):
    every part of the sheet, so a part no file graded (no code handed in yet) is listed with n = 0 rather than left
    out. ``follow_through`` maps a part key to the earlier parts it follows (:func:`follow_through_of`), listed
    even when nobody was credited for them. Raises LookupError when the gradebook holds nothing for ``sheet_id``.
    """
    stored = list(gradebook.rows(sheet_id))
    if not stored:
        known = ", ".join(gradebook.sheet_ids()) or "none"
        raise LookupError(f"the gradebook {gradebook.path} has no results for sheet {sheet_id!r} (it has: {known})")
    rows = [row for row in stored if not row.grader_failed]
    grader_failures = len(stored) - len(rows)
    first = gradebook.result(rows[0].path, rows[0].sheet_id) if rows else None
    sheet_title = first.sheet_title if first is not None else ""

    parts_of: dict[str, dict[str, PartRow]] = {row.path: {} for row in rows}
    for part_row in gradebook.part_rows(sheet_id):
        if part_row.path in parts_of:  # not a file the grader failed on
            parts_of[part_row.path][part_row.part_key] = part_row
    files = [
        GradedFile(
            name=row.submission, student_id=row.student_id, parts=parts_of[row.path], seed=row.seed,
            path=row.path, graded_at=row.graded_at, failed=row.error is not None,
            named_after_file=_named_after_file(gradebook, row),
        )
        for row in rows
    ]
    students = by_student(files)
    if points_possible is None:
        points_possible = cohort_points(students)

    parts: dict[str, _PartAccumulator] = {}
    for student in students:
        student_points = student.points_earned
        for file in student.files:
            if file.failed:  # unreadable: in the totals only
                continue
            for row in file.parts.values():
                if row.status == "missing" and student.sources.get(row.part_key) is not file:
                    continue  # left out here, answered in another of the student's files: that one counts
                acc = parts.get(row.part_key)
                if acc is None:
                    acc = parts[row.part_key] = _PartAccumulator(row.exercise_id, row.part_id, row.position)
                acc.position = min(acc.position, row.position)
                acc.points_possible = max(acc.points_possible, row.points_possible)
                if row.fraction is not None:
                    acc.fractions.append(row.fraction)
                    acc.rest_points.append(student_points - student.parts[row.part_key].points_earned)
                if row.points_possible > 0 and row.points_earned >= row.points_possible - FULL_MARKS_TOLERANCE:
                    acc.full += 1
                acc.statuses[row.status] += 1
                acc.mistakes.update(row.mistakes)
                if row.followed:
                    acc.followed[row.followed] += 1
                elif row.followed is None and row.part_key in (follow_through or {}):
                    acc.followed_unrecorded += 1

    for position, (key, points) in enumerate((part_points or {}).items()):
        if key not in parts:  # no file graded it: listed, with n = 0
            exercise_id, _, part_id = key.partition(".")
            parts[key] = _PartAccumulator(exercise_id, part_id, position, points_possible=points)
    order = list(known_mistakes) if known_mistakes is not None else []
    keys = sorted(parts, key=lambda k: (order.index(k) if k in order else len(order), parts[k].position, k))
    part_stats = [
        _part_stats(key, parts[key], (known_mistakes or {}).get(key, ()), (follow_through or {}).get(key, ()))
        for key in keys
    ]
    return SheetStats(
        sheet_id=stored[0].sheet_id,
        sheet_title=sheet_title,
        totals=_total_stats(rows, students, points_possible, grader_failures),
        parts=part_stats,
        spec_hashes=sorted({row.spec_hash for row in stored}),
        warnings=merge_warnings(students),
    )


def _named_after_file(gradebook: Gradebook, row: SubmissionRow) -> bool:
    """:func:`grader.notes.named_after_file` of a row's Result. Only a graded code file whose student id is its
    file name's stem can be one, so only those Results are read (the statistics otherwise need the rows only)."""
    name = Path(row.submission)
    if row.error is not None or not is_code_file(name) or row.student_id != name.stem:
        return False
    result = gradebook.result(row.path, row.spec_hash)
    return result is not None and named_after_file(result.notes)


def _counted(counter: Counter[str], listed: Iterable[str]) -> list[tuple[str, int]]:
    """``counter``'s ids and counts with every id of ``listed`` (0 when absent), most frequent first, then by id."""
    counts = Counter(counter)
    for name in listed:
        counts.setdefault(name, 0)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _part_stats(key: str, acc: _PartAccumulator, known: Iterable[str], follows: Iterable[str]) -> PartStats:
    fractions = np.asarray(acc.fractions, dtype=np.float64)
    rest = np.asarray(acc.rest_points, dtype=np.float64)
    n = sum(acc.statuses.values())
    if n == 0:
        discrimination, note = None, "undefined: no file graded this part"
    elif acc.points_possible == 0:  # no score to correlate (its fractions are undefined)
        discrimination, note = None, "undefined: the part has no points"
    else:
        discrimination, note = _pearson(fractions, rest)
    mistakes = [MistakeCount(mistake, count, count / n if n else 0.0) for mistake, count in _counted(acc.mistakes, known)]
    followed = [FollowCount(source, count, count / n if n else 0.0) for source, count in _counted(acc.followed, follows)]
    return PartStats(
        key=key,
        exercise_id=acc.exercise_id,
        part_id=acc.part_id,
        points_possible=acc.points_possible,
        n=n,
        mean=float(fractions.mean()) if fractions.size else 0.0,
        sd=float(fractions.std()) if fractions.size else 0.0,
        full_marks=acc.full / n if n else 0.0,
        discrimination=discrimination,
        discrimination_note=note,
        status_counts=dict(sorted(acc.statuses.items())),
        mistakes=mistakes,
        followed=followed,
        followed_unrecorded=acc.followed_unrecorded,
    )


def _total_stats(
    rows: Sequence,  # type: ignore[type-arg]
    students: Sequence[StudentGrade[PartRow]],
    points_possible: float,
    grader_failures: int,
) -> TotalStats:
    if not students:  # every stored result is one the grader failed on
        bins = [HistogramBin(float(i) / HISTOGRAM_BINS, float(i + 1) / HISTOGRAM_BINS, 0) for i in range(HISTOGRAM_BINS)]
        return TotalStats(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, float(points_possible), bins, grader_failures, 0)
    points = np.asarray([student.points_earned for student in students], dtype=np.float64)
    scores = np.round(points / points_possible, 6) if points_possible > 0 else np.zeros_like(points)
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    # Rounding before the floor puts 0.6 in [60%, 70%) although 0.6 * 10 may land a hair below 6 in binary
    # (np.histogram's edges have the same trap); the last bin is closed, so a perfect score lands in it.
    scaled = np.round(np.clip(scores, 0.0, 1.0) * HISTOGRAM_BINS, 9)
    indices = np.minimum(np.floor(scaled).astype(int), HISTOGRAM_BINS - 1)
    counts = np.bincount(indices, minlength=HISTOGRAM_BINS)
    return TotalStats(
        n=len(rows),
        unreadable=sum(1 for row in rows if row.error is not None),
        mean=float(scores.mean()),
        sd=float(scores.std()),
        median=float(np.median(scores)),
        minimum=float(scores.min()),
        maximum=float(scores.max()),
        mean_points=float(points.mean()),
        points_possible=float(points_possible),
        histogram=[
            HistogramBin(float(edges[i]), float(edges[i + 1]), int(counts[i])) for i in range(HISTOGRAM_BINS)
        ],
        grader_failures=grader_failures,
        students=len(students),
    )


def follow_through_of(sheet: object) -> dict[str, list[str]]:
    """``{part key: [ids of the earlier parts it follows]}`` of a loaded sheet, for the parts that follow any."""
    return {
        f"{exercise.id}.{part.id}": [entry.part for entry in part.follow_through]
        for exercise, part in sheet.parts()  # type: ignore[attr-defined]
        if part.follow_through
    }


def known_mistakes_of(sheet: object) -> dict[str, list[str]]:
    """``{part key: [mistake ids]}`` of a loaded sheet (``grader.spec.Sheet``), in sheet order."""
    return {
        f"{exercise.id}.{part.id}": [mistake.id for mistake in part.mistakes]
        for exercise, part in sheet.parts()  # type: ignore[attr-defined]
    }
