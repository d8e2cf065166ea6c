"""The exercise-sheet models: what an instructor may write in YAML (strict, frozen, self-documenting)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from grader.answers import AnswerSpecUnion
from grader.answers.choice import normalize
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


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float
        return False


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _describe_item(item: Any) -> str:
    if isinstance(item, list):
        return f"a list of {_entries(len(item))}"
    if isinstance(item, dict):
        return "a mapping"
    return "a number"


def check_literal(value: Any, where: str = "") -> tuple[int, ...]:
    """The shape of a literal input ``value`` (a number or nested lists of numbers, every row of one length).

    ValueError saying what is wrong and where (``rows have different lengths (row 2 has 1 entry, row 1 has 2)``,
    ``not a number: 'three'``): such a value is the author's fault and must never reach numpy.
    """
    at = f" (at value{where})" if where else ""
    if isinstance(value, bool):
        raise ValueError(
            f"not a number: {str(value).lower()}{at} (YAML reads an unquoted yes/no/true/false as a boolean); "
            "write 1 or 0"
        )
    if isinstance(value, (int, float)):
        if not _finite(value):
            raise ValueError(f"not a finite number: {value}{at}")
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("$"):
            raise ValueError(
                f"a literal value cannot refer to {text}{at}: 'value' holds numbers only; to use another input or "
                f"quantity, write {text} where this input is used, or make this a quantity ({{op: ...}})"
            )
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"not a number: {value!r}{at}") from None
        if not _finite(number):
            raise ValueError(f"not a finite number: {value!r}{at}")
        return ()
    if isinstance(value, dict):
        raise ValueError(
            f"expected a number or a (nested) list of numbers{at}, got a mapping; an input's 'value' is the literal "
            "numbers, e.g. [[1, 2], [3, 4]]"
        )
    if not isinstance(value, list):
        raise ValueError(f"expected a number or a (nested) list of numbers{at}, got {type(value).__name__}")
    if all(type(item) in (int, float) for item in value) and all(map(_finite, value)):
        return (len(value),)  # a row of plain numbers: the common case, checked without a call per entry
    shapes = [check_literal(item, f"{where}[{i}]") for i, item in enumerate(value)]
    for i, shape in enumerate(shapes[1:], start=1):
        if shape == shapes[0]:
            continue
        inside = f" in value{where}" if where else ""
        first, other = value[0], value[i]
        if isinstance(first, list) and isinstance(other, list):
            if len(first) != len(other):
                raise ValueError(f"rows have different lengths{inside} (row {i + 1} has {_entries(len(other))}, row 1 has {len(first)})")
            raise ValueError(
                f"rows have different shapes{inside} (row {i + 1} is {_shape_text(shape)}, row 1 is {_shape_text(shapes[0])})"
            )
        raise ValueError(f"rows are of different kinds{inside} (row {i + 1} is {_describe_item(other)}, row 1 is {_describe_item(first)})")
    return (len(value), *(shapes[0] if shapes else ()))


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

    @field_validator("value", mode="before")
    @classmethod
    def _literal_numbers(cls, value: Any) -> Any:
        if value is not None:
            check_literal(value)
        return value

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

_REF = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_expression(value: Any, choice_options: list[str] | None = None) -> Any:
    """An ``expected`` as written: a ``$reference`` or an ``{op: ...}`` call; ValueError with a hint otherwise.

    pydantic would say only that the value matches neither ``constrained-str`` nor ``Call``; the usual slips are
    a name without ``$`` and a value typed by hand, and the message says what to write instead.
    """
    if value is None or isinstance(value, Call):
        return value
    typed = "answers are computed by the engine, never typed in"
    if isinstance(value, str):
        text = value.strip()
        if _REF.match(text):
            return text
        if text.startswith("$"):
            raise ValueError(f"{value!r} is not a $reference: after '$' comes a name (letters, digits, _)")
        if choice_options is not None and normalize(text) in {normalize(option) for option in choice_options}:
            raise ValueError(
                f"{value!r} is typed by hand, but {typed}: a 'choice' part's key is the 0-based position of the right "
                "option, computed by the engine: {op: option, at: ...} (e.g. at: {op: argmax, x: $scores})"
            )
        if _NAME.match(text):
            raise ValueError(f"{value!r} is not a reference: write ${text} to refer to the input or quantity {text}")
        raise ValueError(f"{value!r} is neither a $reference nor an {{op: ...}} call ({typed})")
    if isinstance(value, dict):
        if "op" not in value:
            raise ValueError("an {op: ...} call needs 'op', the operation's name (`grader ops` lists them)")
        if not isinstance(value["op"], str):
            raise ValueError(f"'op' must be an operation's name, got {value['op']!r}")
        return value
    raise ValueError(f"expected a $reference or an {{op: ...}} call, got {value!r} ({typed})")


class MistakeSpec(_Strict):
    """A known wrong answer: the quantity computed under a wrong assumption, and what to tell the student."""

    id: Slug
    """Stable identifier (shown in statistics), e.g. ``flipped-kernel``."""
    expected: Expression
    """What a student making this mistake answers, computed by the engine."""

    @field_validator("expected", mode="before")
    @classmethod
    def _expression(cls, value: Any) -> Any:
        return check_expression(value)
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

    @field_validator("expected", mode="before")
    @classmethod
    def _expression(cls, value: Any, info: ValidationInfo) -> Any:
        answer = info.data.get("answer")
        options = getattr(answer, "options", None) if getattr(answer, "type", None) == "choice" else None
        return check_expression(value, options)

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
