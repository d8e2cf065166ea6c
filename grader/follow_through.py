"""Error carried forward: an answer that is right for the student's own wrong answer to an earlier part.

A part with ``follow_through: [{part: b_check_p, replaces: same_p}]`` that was not answered right is checked once
more, against its key computed again with ``same_p`` set to what the student answered for ``b_check_p``, when that
answer was readable and not right. A match earns the entry's credit, with feedback saying so: one slip is not
held against every later part that uses its result (as STACK's follow-through marks do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from grader.answers.base import CheckContext
from grader.errors import SpecError, SpecErrors
from grader.key import AnswerKey, follow_through_key
from grader.result import PartResult, Status, Visibility
from grader.spec.loader import Sheet
from grader.spec.models import ExerciseSpec, FollowThroughSpec, PartSpec

Raw = Mapping[str, Mapping[str, Any]]
"""exercise id -> part id -> the student's raw answer, as the answer file holds it (``AnswerFile.answers``)."""


def with_follow_through(
    sheet: Sheet, key: AnswerKey, results: Sequence[PartResult], raw: Raw, context: Callable[[str, str], CheckContext]
) -> list[PartResult]:
    """``results`` (one per answer-file part, in sheet order) with each part that declares ``follow_through`` and
    was not answered right re-judged against the key its earlier parts' wrong answers lead to (see the module)."""
    following = _following_parts(sheet)
    if not following or not any(
        (result.exercise_id, result.part_id) in following and _may_follow(result) for result in results
    ):
        return list(results)
    by_id = {(result.exercise_id, result.part_id): result for result in results}
    out: list[PartResult] = []
    for result in results:
        where = (result.exercise_id, result.part_id)
        if where in following and _may_follow(result):
            exercise, part = following[where]
            result = _followed(key, exercise, part, result, by_id, raw, context(exercise.id, part.id))
        out.append(result)
    return out


@lru_cache(maxsize=64)
def _following_parts(sheet: Sheet) -> dict[tuple[str, str], tuple[ExerciseSpec, PartSpec]]:
    """The parts of a loaded sheet that declare follow_through, by (exercise id, part id): most sheets have none, and
    every answer file asks."""
    return {(exercise.id, part.id): (exercise, part) for exercise, part in sheet.parts() if part.follow_through}


def _may_follow(result: PartResult) -> bool:
    """Whether a part's result could improve: read (perhaps of another shape than the key's, which the student's
    own earlier answer may explain), graded (not pending) and short of full marks."""
    graded = result.status in (Status.incorrect, Status.partial, Status.invalid)
    return graded and result.actual is not None and result.points_earned < result.points_possible


def _followed(
    key: AnswerKey, exercise: ExerciseSpec, part: PartSpec, result: PartResult, by_id: Mapping[tuple[str, str], PartResult],
    raw: Raw, ctx: CheckContext,
) -> PartResult:
    """``result``, or the best credit of the follow-through entries the answer is right for, if one gives more.

    An earlier answer is followed when it was read, has its key's shape (a slip in values is followed, not another
    layout, and no key is computed again for arrays of a size the student picks) and is not the key itself: a wrong
    answer earns the entry's credit; one accepted within its tolerance, but not exact, earns all the points (a part
    whose key reacts strongly to it may otherwise fail for an answer the sheet accepted)."""
    best = result
    for entry in part.follow_through:
        source = by_id[(exercise.id, entry.part)]
        if source.status not in (Status.incorrect, Status.partial, Status.correct) or source.actual is None:
            continue  # not graded yet (hidden, in check mode), or nothing to follow
        source_key = key.part(exercise.id, entry.part).expected
        source_spec = next(p for p in exercise.parts if p.id == entry.part)
        value, unread = source_spec.answer.read(raw.get(exercise.id, {}).get(entry.part))
        if unread is not None or np.shape(value) != np.shape(source_key):
            continue
        accepted = source.status is Status.correct
        if accepted and np.array_equal(np.asarray(value, dtype=np.float64), np.asarray(source_key, dtype=np.float64)):
            continue  # the key is computed from this very value
        try:
            given_theirs = follow_through_key(key, exercise.id, part.id, entry.replaces, value, students=True)
        except (SpecError, SpecErrors):
            continue  # nothing is right for that value (a width that is not whole, say)
        _, verdict = part.answer.grade(raw.get(exercise.id, {}).get(part.id), given_theirs, ctx)
        points = round((1.0 if accepted else entry.credit) * part.points, 6)
        if verdict.fraction >= 1.0 and points > best.points_earned:
            best = _credited(part, result, entry, value, key.expected_json(exercise.id, part.id), points, accepted)
    return best


def _credited(
    part: PartSpec, result: PartResult, entry: FollowThroughSpec, value: Any, expected: Any, points: float, accepted: bool
) -> PartResult:
    """The result of an answer right for the student's own answer ``value`` to ``entry.part`` (``accepted``: that
    answer was right within its tolerance); ``expected`` is this part's key (as reports show it)."""
    status = Status.correct if points >= part.points else Status.partial
    if part.visibility is Visibility.hidden:
        feedback = "passed" if status is Status.correct else "not passed"
    else:
        earned = "all its points" if status is Status.correct else f"{points / part.points:g} of its points"
        theirs, right = _scalar_text(value), _scalar_text(expected)
        judged = "which was accepted within its tolerance" if accepted else "which was not right"
        exact = f"the exact {entry.part}" if accepted else f"the right {entry.part}"
        feedback = (
            f"Right for your own answer to {entry.part}{f' ({theirs})' if theirs else ''}, {judged}: this part uses "
            f"that answer, so it earns {earned}" + (f". With {exact} it is {right}" if right else "")
        )
    # details list where the answer differs from the key, which is not what it is judged by here
    update = {
        "points_earned": points, "status": status, "feedback": feedback, "mistake": None, "details": [], "followed": entry.part,
    }
    return result.model_copy(update=update)


def _scalar_text(value: Any) -> str | None:
    """A single number as a sentence shows it (``2``, ``0.4429``), None for anything else (an array is too long to
    repeat in a sentence)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return f"{float(array.reshape(())):.6g}" if array.size == 1 else None
