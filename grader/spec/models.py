"""The exercise-sheet models: what an instructor may write in YAML (strict, frozen, self-documenting)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.answers import AnswerSpecUnion
from grader.result import Visibility

SLUG = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
Slug = Annotated[str, Field(pattern=SLUG, max_length=64)]


def _require_unique(what: str, ids: list[str]) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique, repeated: {', '.join(repeated)}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class RandomSpec(_Strict):
    """How a variant draws an input: each student (seed) gets their own numbers."""

    dist: Literal["integers", "normal", "uniform"] = "integers"
    """``integers``: whole numbers from low to high inclusive; ``normal``: mean/std; ``uniform``: [low, high)."""
    shape: list[Annotated[int, Field(ge=1, le=4096)]] = []
    """Array shape; empty for a scalar."""
    low: float = 0
    """Smallest value (integers, uniform)."""
    high: float = 1
    """Largest value (integers: inclusive; uniform: exclusive)."""
    mean: float = 0.0
    """Mean (normal)."""
    std: float = Field(1.0, gt=0)
    """Standard deviation (normal)."""
    zero_border: int = Field(0, ge=0)
    """Set this many rows/columns at the border of the first two axes to 0 (images with a zero frame)."""

    @model_validator(mode="after")
    def _range(self) -> RandomSpec:
        if self.dist != "normal" and self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class InputSpec(_Strict):
    """A problem input: the sheet's literal numbers, a seeded random draw, or both (literal for seed-less)."""

    value: Any = None
    """The literal value (number or nested lists), used for the sheet's own variant (no seed)."""
    random: RandomSpec | None = None
    """Drawn for a seeded variant; without ``value`` it is also used (seed 0) for the seed-less variant."""
    description: str = ""
    """What the input is, for the student's sheet."""
    show: bool = True
    """Print this input on the student's sheet."""

    @model_validator(mode="after")
    def _something(self) -> InputSpec:
        if self.value is None and self.random is None:
            raise ValueError("an input needs a literal 'value', a 'random' draw, or both")
        return self


class Call(BaseModel):
    """A quantity computed by a named engine operation: ``{op: conv2d, x: $image, w: $filters}``.

    Arguments are literals, ``$name`` references to inputs or quantities, or nested calls.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    op: str
    """The operation's name (``grader ops`` lists them with their arguments)."""

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Ref = Annotated[str, Field(pattern=r"^\$[A-Za-z_][A-Za-z0-9_]*$")]
"""``$name``: an input or quantity of the same exercise."""
Expression = Ref | Call


class MistakeSpec(_Strict):
    """A known wrong answer: the quantity computed under a wrong assumption, and what to tell the student."""

    id: Slug
    """Stable identifier (shown in statistics), e.g. ``flipped-kernel``."""
    expected: Expression
    """What a student making this mistake answers, computed by the engine."""
    feedback: str = Field(min_length=1)
    """Shown to the student whose answer matches this mistake."""
    credit: float = Field(0.0, ge=0.0, lt=1.0)
    """Share of the part's points still earned (0 to <1)."""
    may_coincide: bool = False
    """The mistake gives the right answer for some variants (e.g. a flipped kernel when the filters are
    symmetric): ``validate`` then only requires it to differ from the reference in at least one variant."""


class PoolWindow(_Strict):
    """A max-pooling window: size x size, moved by stride (default: size)."""

    size: int = Field(ge=1)
    """Window width and height."""
    stride: int | None = Field(None, ge=1)
    """Step between windows (default: the window size)."""


class ReportOptions(_Strict):
    """How reports draw this part's arrays (no effect on grading)."""

    pool_winners: PoolWindow | None = None
    """Mark the entries that win their max-pooling window, as the printed sheet shows them in bold."""
    channel_label: str = ""
    """What the slices of the last axis are called, e.g. ``output with filter`` (then 1, 2, ...)."""


class PartSpec(_Strict):
    """One gradable item."""

    id: Slug
    prompt: str = Field(min_length=1)
    """The question as the student reads it."""
    points: float = Field(gt=0, le=1000)
    answer: AnswerSpecUnion
    """The answer type and its options (tolerances, domains, ...)."""
    expected: Expression | None = None
    """The reference answer, computed by the engine (never typed by hand). Not used by code parts."""
    visibility: Visibility = Visibility.visible
    """``hidden``: students see only whether they passed, never the expected answer."""
    mistakes: list[MistakeSpec] = []
    note: str = ""
    """For instructors only (e.g. where the printed solution disagrees with the engine)."""
    report: ReportOptions = ReportOptions()
    """How reports draw this part's arrays."""

    @model_validator(mode="after")
    def _expected_needed(self) -> PartSpec:
        if self.expected is None and self.answer.type != "code":
            raise ValueError("'expected' is required (a $reference or an {op: ...} call)")
        _require_unique("mistake ids", [m.id for m in self.mistakes])
        return self


class ExerciseSpec(_Strict):
    """One exercise: inputs, the quantities the engine computes from them, and the parts students answer."""

    id: Slug
    title: str = ""
    text: str = ""
    """The exercise's statement (Markdown)."""
    inputs: dict[str, InputSpec] = {}
    quantities: dict[str, Call] = {}
    """Named intermediate results, in any order (references are resolved by name)."""
    parts: list[PartSpec] = Field(min_length=1)
    notes: str = ""
    """For instructors: e.g. disagreements between the printed solution and the engine."""

    @field_validator("inputs", "quantities")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"{name!r} is not a valid name (letters, digits, _; not starting with a digit)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> ExerciseSpec:
        clash = sorted(set(self.inputs) & set(self.quantities))
        if clash:
            raise ValueError(f"names used both as input and quantity: {', '.join(clash)}")
        _require_unique("part ids", [p.id for p in self.parts])
        return self


class SheetSpec(_Strict):
    """An exercise sheet: the unit a student hands in one answer file for."""

    id: Slug
    title: str = ""
    course: str = ""
    source: str = ""
    """Where the exercises come from (book, printed sheet)."""
    validation_seeds: list[int] = [1, 2, 3]
    """Seeds ``grader validate`` evaluates besides the seed-less variant."""
    exercises: list[ExerciseSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SheetSpec:
        _require_unique("exercise ids", [e.id for e in self.exercises])
        return self
