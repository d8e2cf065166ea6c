"""Result: what grading one submission produced -- immutable, JSON-stable, the only input of every report.

Scores are fractions per part (0..1) multiplied by the part's points once, here. Hidden parts never carry the
expected answer or a value diff: a PartResult for a hidden part refuses ``expected``, ``details`` and case
inputs (a validator enforces it), so no renderer can leak them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator


class Status(StrEnum):
    """How a part ended. ``invalid``: the answer could not be read as the expected type (shape, NaN, ...).
    ``error``: the student's code raised, timed out or was stopped by the sandbox. ``pending``: a hidden part
    that a student-side ``grader check`` does not grade (it is graded after submission)."""

    correct = "correct"
    partial = "partial"
    incorrect = "incorrect"
    missing = "missing"
    invalid = "invalid"
    error = "error"
    pending = "pending"


class Visibility(StrEnum):
    """``visible``: students see the expected answer and where theirs differs; ``hidden``: only pass/fail."""

    visible = "visible"
    hidden = "hidden"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Verdict(_Frozen):
    """What comparing one answer (or one code case) with the key found; a fraction of full marks."""

    fraction: float = Field(ge=0.0, le=1.0)
    """Share of the part's points earned, 0..1."""
    status: Status
    feedback: str = ""
    """One or two sentences for the student: what is wrong and, where known, why."""
    details: list[str] = Field(default_factory=list)
    """Where the answer differs (``max abs error 3.1e-2 at [0, 1, 2]; 5 of 16 entries differ``)."""
    mistake: str | None = None
    """Id of the known mistake the answer matched, if any."""


class CaseResult(_Frozen):
    """One test case of a code part."""

    name: str
    visibility: Visibility = Visibility.visible
    passed: bool
    fraction: float = Field(ge=0.0, le=1.0)
    inputs: str = ""
    """Shapes of the inputs (``image (6, 6, 1), filters (3, 3, 1, 2)``); empty for hidden cases."""
    feedback: str = ""
    details: list[str] = Field(default_factory=list)
    mistake: str | None = None


class PartResult(_Frozen):
    """One gradable part of one exercise."""

    exercise_id: str
    part_id: str
    title: str = ""
    """A short prompt for reports (first line of the part's prompt)."""
    answer_type: str
    visibility: Visibility = Visibility.visible
    points_possible: float = Field(ge=0.0)
    points_earned: float = Field(ge=0.0)
    status: Status
    actual: Any = None
    """The student's answer as JSON data (numbers, nested lists, strings); None when missing or unreadable."""
    answer_text: str | None = None
    """What the student wrote when it could not be read as the answer type (``1.5`` for a whole number,
    ``maybe`` for yes/no): at most 200 characters, control characters escaped. None when the answer was read
    (see ``actual``) or nothing was written. It is the student's own text, so it is shown for hidden parts too."""
    answer_error: str = ""
    """Why the student's answer could not be read: ``no answer given`` or ``cannot be read: <why>``. It depends
    only on what the student wrote and on the answer type, never on the key, so reports show it for hidden parts
    too (a student-side ``grader check`` reports it for hidden parts it does not grade). Empty when the answer
    was read (an answer that is read but does not fit the key, e.g. a wrong shape, says so in ``feedback``)."""
    expected: Any = None
    """The key as JSON data; always None for hidden parts."""
    feedback: str = ""
    details: list[str] = Field(default_factory=list)
    mistake: str | None = None
    followed: str | None = None
    """The earlier part (its id, in the same exercise) whose own answer this part was judged by and credited for:
    error carried forward (the part's ``follow_through``). None when it was judged against the key. For a hidden
    part it is the instructor's to see (students see only passed/not passed)."""
    cases: list[CaseResult] = Field(default_factory=list)
    annotations: dict[str, Any] = Field(default_factory=dict)
    """Extra JSON data for rich reports, e.g. ``{"expected_winners": [[...]]}`` (max-pool winners mask)."""

    @model_validator(mode="after")
    def _hidden_parts_carry_no_answer(self) -> PartResult:
        if self.visibility is Visibility.hidden and (self.expected is not None or self.details):
            raise ValueError(f"{self.exercise_id}.{self.part_id}: a hidden part must not carry expected/details")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        """``exercise_id.part_id``: unique within a sheet."""
        return f"{self.exercise_id}.{self.part_id}"


class Result(_Frozen):
    """The grading of one submission against one sheet."""

    sheet_id: str
    sheet_title: str = ""
    student_id: str = ""
    seed: int | None = None
    """The variant graded (None: the sheet's literal numbers)."""
    submission: str = ""
    """File name of the submission as handed in (no directories)."""
    submission_hash: str = ""
    spec_hash: str = ""
    parts: list[PartResult] = Field(default_factory=list)
    error: str | None = None
    """Why the whole submission could not be graded (every part then scores 0)."""
    notes: list[str] = Field(default_factory=list)
    """Remarks on the submission as a whole that cost no points (e.g. answers to parts the sheet does not have)."""
    sandbox_layers: dict[str, bool] = Field(default_factory=dict)
    """For code submissions: which isolation layers were active (``{"bubblewrap": true, ...}``)."""
    grader_version: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def points_earned(self) -> float:
        return round(sum(p.points_earned for p in self.parts), 6)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def points_possible(self) -> float:
        return round(sum(p.points_possible for p in self.parts), 6)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def score(self) -> float:
        """points_earned / points_possible, 0..1 (0 when there is nothing to earn)."""
        return round(self.points_earned / self.points_possible, 6) if self.points_possible else 0.0

    def exercises(self) -> dict[str, list[PartResult]]:
        """Parts grouped by exercise id, in sheet order."""
        grouped: dict[str, list[PartResult]] = {}
        for part in self.parts:
            grouped.setdefault(part.exercise_id, []).append(part)
        return grouped
