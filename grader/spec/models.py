"""The exercise-sheet models: what an instructor may write in YAML (strict, frozen, self-documenting)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from grader.answers import AnswerSpecUnion
from grader.answers.choice import normalize
from grader.answers.code import NAME, NAME_RULE
from grader.draw_settings import unused_setting_problem
from grader.located import located, require_unique
from grader.plain_numbers import plain_numbers_only
from grader.result import Visibility
from grader.spec.yaml_lines import DECIMAL_FLOAT, DECIMAL_INT

MAX_ENTRIES = 10_000_000
"""The most entries any one array of a sheet may have: an input (literal or drawn), a code case's argument, and
every quantity the engine computes (80 MB as float64). Sheets need a few hundred; the cap turns a typo (a shape of
[4096, 4096, 4096], a pad width of 1e8) into a located error instead of a MemoryError or a killed process."""

MAX_EXACT_INTEGER = 2**53
"""Inputs are float64: whole numbers beyond 2**53 = 9007199254740992 cannot all be held exactly (2**53 + 1 becomes
2**53), so a literal ``value`` and an ``integers`` draw must stay within +-2**53."""

_SPREAD = 40.0
"""A normal draw is kept finite when ``|mean| + 40 std`` is (a draw 40 standard deviations out never happens)."""

SLUG = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
Slug = Annotated[str, Field(pattern=SLUG, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    _plain_numbers_only = model_validator(mode="before")(classmethod(plain_numbers_only))


MAX_VALIDATION_SEED = 2**63 - 1
"""The largest seed (grader.submission.answer_file.MAX_SEED, which answer files and ``--seed`` take)."""


def out_of_range(message: str) -> PydanticCustomError:
    """A validator's error that the loader reports with the code ``spec-range`` (a number outside what is allowed)."""
    return PydanticCustomError("less_than_equal", message)


def entry_count(shape: Any) -> int:
    """The number of entries of an array of ``shape`` (exact: Python ints never overflow)."""
    return math.prod(int(n) for n in shape)


def finite_problem(value: float) -> str | None:
    """Why ``value`` cannot be a random-draw setting (NaN or infinite), or None."""
    if _finite(value):
        return None
    return f"must be a finite number, not {value}"


def range_problem(dist: str, low: float, high: float) -> str | None:
    """Why ``low``/``high`` cannot be drawn from with ``dist`` (empty, reversed or too wide a range), or None.

    ``integers`` needs a whole number in [low, high] and both ends within +-2**53 (the draws are float64, which hold
    larger whole numbers inexactly); ``uniform`` needs low < high and a width high - low that float64 can hold.
    ``normal`` does not use them.
    """
    if dist == "normal" or not (_finite(low) and _finite(high)):
        return None
    if dist == "integers":
        if high < low:
            return f"high ({high:g}) must be >= low ({low:g})"
        if max(abs(low), abs(high)) > MAX_EXACT_INTEGER:
            return (
                f"low ({low:g}) and high ({high:g}) must lie within +-2**53 = {MAX_EXACT_INTEGER}: inputs are float64 "
                "numbers, which cannot hold every larger whole number exactly"
            )
        if math.ceil(low) > math.floor(high):
            return (
                f"there is no whole number from low ({low:g}) to high ({high:g}): 'integers' draws whole numbers "
                "from low to high inclusive (use dist: uniform for fractions)"
            )
        return None
    if not high > low:
        return f"high ({high:g}) must be > low ({low:g}): 'uniform' draws from [low, high)"
    if not _finite(high - low):
        return f"the range from low ({low:g}) to high ({high:g}) is wider than a float64 number can hold"
    return None


def spread_problem(mean: float, std: float) -> str | None:
    """Why a normal draw with ``mean`` and ``std`` could give infinite numbers, or None."""
    if not (_finite(mean) and _finite(std)) or _finite(abs(mean) + _SPREAD * std):
        return None
    return f"mean ({mean:g}) and std ({std:g}) are so large that the draws would overflow float64"


class RandomSpec(_Strict):
    """How a variant draws an input: each student (seed) gets their own numbers."""

    dist: Literal["integers", "normal", "uniform"] = "integers"
    """``integers``: whole numbers from low to high inclusive; ``normal``: mean/std; ``uniform``: [low, high)."""
    shape: list[Annotated[int, Field(ge=1, le=4096)]] = []
    """Array shape; empty for a scalar. At most MAX_ENTRIES (10 million) entries in all."""
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

    @field_validator("low", "high", "mean", "std", mode="before")
    @classmethod
    def _finite_setting(cls, value: Any) -> Any:
        """NaN or infinity in low/high/mean/std would crash the draw or give non-finite inputs; checked before the
        range checks (NaN fails them with a misleading message), also for the text ``inf`` or ``nan``, which YAML
        1.2 leaves as text and pydantic would read as a number."""
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return value  # not a number at all: pydantic says so
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(finite_problem(number))
        return value

    @field_validator("shape")
    @classmethod
    def _size(cls, shape: list[int]) -> list[int]:
        """The shape is refused by its entry count (MAX_ENTRIES) before anything is drawn."""
        count = entry_count(shape)
        if count > MAX_ENTRIES:
            raise out_of_range(
                f"shape {shape} has {count} entries; an input may have at most {MAX_ENTRIES} (MAX_ENTRIES)"
            )
        return shape

    @field_validator("high")
    @classmethod
    def _range(cls, high: float, info: ValidationInfo) -> float:
        """low and high must leave something to draw (:func:`range_problem`); reported at ``high``."""
        if "low" in info.data and "dist" in info.data:
            problem = range_problem(info.data["dist"], info.data["low"], high)
            if problem:
                raise out_of_range(problem)
        return high

    @field_validator("std")
    @classmethod
    def _spread(cls, std: float, info: ValidationInfo) -> float:
        """A normal draw must stay finite (:func:`spread_problem`); reported at ``std``."""
        if "mean" in info.data:
            problem = spread_problem(info.data["mean"], std)
            if problem:
                raise out_of_range(problem)
        return std

    @field_validator("zero_border")
    @classmethod
    def _border(cls, border: int, info: ValidationInfo) -> int:
        """A zero border needs two axes (it was silently skipped on one) and must leave an inside that is not 0."""
        shape = info.data.get("shape")
        if not border or shape is None:
            return border
        if len(shape) < 2:
            raise ValueError(
                f"zero_border sets rows and columns of the first two axes to 0, but shape {shape} has "
                f"{'no axes' if not shape else 'one axis'}: drop zero_border or give the input two axes or more"
            )
        side = min(shape[0], shape[1])
        if 2 * border >= side:
            largest = (side - 1) // 2
            fix = f"use zero_border: {largest} or less" if largest else "drop zero_border (no border leaves any inside)"
            raise out_of_range(
                f"zero_border {border} on shape {shape} sets every entry to 0 (a border of {border} on each side "
                f"leaves nothing of {side} rows or columns); {fix}"
            )
        return border

    @model_validator(mode="after")
    def _settings_used(self) -> RandomSpec:
        """A setting the draw ignores (``low``/``high`` for ``normal``, ``mean``/``std`` for ``integers`` and
        ``uniform``) is refused at that setting; only settings the author wrote count (every one has a default)."""
        problem = unused_setting_problem(self.dist, self.model_fields_set)
        if problem:
            raise located(problem[1], (problem[0],))
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


def _plain_number_ok(item: int | float) -> bool:
    """A plain int or float that a float64 input holds exactly: finite, and a whole number within +-2**53."""
    if type(item) is int:
        return -MAX_EXACT_INTEGER <= item <= MAX_EXACT_INTEGER
    return _finite(item)


def _inexact_integer(number: int, shown: str, at: str) -> ValueError:
    """The error for a whole number beyond +-2**53 in a literal value (shown as ``shown``, placed by ``at``)."""
    return ValueError(
        f"{shown} cannot be held exactly{at}: inputs are float64 numbers, which hold whole numbers exactly only up to "
        f"2**53 = {MAX_EXACT_INTEGER} ({number} would become {float(number):.17g})"
        if _finite(number) else
        f"{shown} is too large{at}: inputs are float64 numbers, which hold whole numbers exactly only up to "
        f"2**53 = {MAX_EXACT_INTEGER}"
    )


def quoted_number(text: str) -> bool:
    """Whether ``text`` (a string of a sheet that ``float()`` reads) was written in quotes: the sheet loader reads a
    number written without quotes as a number (grader.spec.yaml_lines.DECIMAL_INT, DECIMAL_FLOAT), and it never has
    spaces around it. Text it leaves as text unquoted (``010``, ``1_000``) cannot be told from quoted text here."""
    return text != text.strip() or bool(DECIMAL_INT.match(text) or DECIMAL_FLOAT.match(text))


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
            f"not a number: {str(value).lower()}{at} (YAML reads an unquoted true/false as a boolean); "
            "write 1 or 0"
        )
    if value is None:
        raise ValueError(f"an empty entry (~ or null){at}: write a number there")
    if isinstance(value, int) and not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}...({len(str(value))} digits)"
        raise _inexact_integer(value, shown, at)
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
        if number.is_integer() and abs(number) >= MAX_EXACT_INTEGER:
            try:
                whole = int(text.replace("_", ""))
            except ValueError:
                whole = None  # written as a float ("1e20"): the author asked for that float
            if whole is not None and abs(whole) > MAX_EXACT_INTEGER:
                raise _inexact_integer(whole, repr(value), at)
        if not _finite(number):
            raise ValueError(f"not a finite number: {value!r}{at}")
        if quoted_number(value):
            raise ValueError(
                f"{value!r}{at} is a number written as text (in quotes, or as a block scalar); write it as a plain "
                f"number: {text.strip()}"
            )
        return ()
    if isinstance(value, dict):
        raise ValueError(
            f"expected a number or a (nested) list of numbers{at}, got a mapping; an input's 'value' is the literal "
            "numbers, e.g. [[1, 2], [3, 4]]"
        )
    if not isinstance(value, list):
        raise ValueError(f"expected a number or a (nested) list of numbers{at}, got {type(value).__name__}")
    if not value:
        where_text = f" at value{where}" if where else ""
        raise ValueError(f"an empty list{where_text}: an input needs at least one number in every row")
    if all(type(item) in (int, float) for item in value) and all(map(_plain_number_ok, value)):
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
            count = entry_count(check_literal(value))
            if count > MAX_ENTRIES:
                raise out_of_range(f"value has {count} entries; an input may have at most {MAX_ENTRIES} (MAX_ENTRIES)")
        return value

    @model_validator(mode="after")
    def _something(self) -> InputSpec:
        if self.value is None and self.random is None:
            raise ValueError("an input needs a literal 'value', a 'random' draw, or both")
        if self.value is not None and self.random is not None:
            literal, drawn = check_literal(self.value), tuple(self.random.shape)
            if literal != drawn:
                raise ValueError(f"{_shapes_disagree(literal, drawn)}: the sheet's own numbers and every student's draw must have one shape")
        return self


def _shapes_disagree(literal: tuple[int, ...], drawn: tuple[int, ...]) -> str:
    """Says how a literal value's shape and its random draw's shape differ, and what to write instead."""
    if not literal:
        return f"value is a single number but random.shape is {list(drawn)} (write shape: [] or leave it out for a number)"
    if not drawn:
        return f"value has shape {list(literal)} but random has no shape (a single number); write random.shape: {list(literal)}"
    return f"value has shape {list(literal)} but random.shape is {list(drawn)}"


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
            raise ValueError(
                f"{value!r} is not a $reference: after '$' comes a name (ASCII letters, digits and underscores)"
            )
        if choice_options is not None and normalize(text) in {normalize(option) for option in choice_options}:
            raise ValueError(
                f"{value!r} is typed by hand, but {typed}: a 'choice' part's key is the 0-based position of the right "
                "option, computed by the engine: {op: option, at: ...} (e.g. at: {op: argmax, x: $scores})"
            )
        if NAME.match(text):
            raise ValueError(f"{value!r} is not a reference: write ${text} to refer to the input or quantity {text}")
        raise ValueError(f"{value!r} is neither a $reference nor an {{op: ...}} call ({typed})")
    if isinstance(value, dict):
        if "op" not in value:
            raise ValueError("an {op: ...} call needs 'op', the operation's name (`grader ops` lists them)")
        if not isinstance(value["op"], str):
            raise ValueError(f"'op' must be an operation's name, got {value['op']!r}")
        return value
    raise ValueError(f"expected a $reference or an {{op: ...}} call, got {value!r} ({typed})")


def refuse_nan(value: Any) -> Any:
    """``value`` unchanged, or ValueError when it is NaN (``.nan``), which every range check would misname."""
    if isinstance(value, float | str) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            return value
        if math.isnan(number):
            raise ValueError("must be a number, not NaN (.nan)")
    return value


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
    credit: float = Field(0.0, json_schema_extra={"minimum": 0, "exclusiveMaximum": 1})  # checked by _credit_share
    """Share of the part's points still earned (0 to <1)."""

    @field_validator("credit", mode="before")
    @classmethod
    def _credit_number(cls, value: Any) -> Any:
        """NaN credit would otherwise be reported as a range error."""
        return refuse_nan(value)

    @field_validator("credit")
    @classmethod
    def _credit_share(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            hint = " (an answer worth all the points is no mistake: make it the expected answer)" if value >= 1 else ""
            raise out_of_range(
                f"credit is the share of the part's points this mistake still earns, from 0 up to but not including 1 "
                f"(0.5: half the points); got {value:g}{hint}"
            )
        return value
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


class FollowThroughSpec(_Strict):
    """Error carried forward: an answer that is right for the student's own (wrong) answer to an earlier part of the
    exercise earns ``credit``, as a marker gives "correct given your p" (STACK's follow-through marks)."""

    part: Slug
    """Another part of the same exercise (a number, integer or array answer) whose answer this part uses."""
    replaces: str = Field(min_length=1)
    """The input or quantity that part's answer stands for: this part's key is computed again with it set to the
    student's answer there."""
    credit: float = Field(1.0, gt=0.0, le=1.0)
    """Share of this part's points an answer right for the student's own value earns (default all)."""

    @field_validator("credit", mode="before")
    @classmethod
    def _credit_number(cls, value: Any) -> Any:
        return refuse_nan(value)


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
    follow_through: list[FollowThroughSpec] = []
    """Earlier parts whose answers this part uses: a wrong one there is not held against this part twice."""
    note: str = ""
    """For instructors only (e.g. where the printed solution disagrees with the engine)."""
    report: ReportOptions = ReportOptions()
    """How reports draw this part's arrays."""

    @field_validator("points", mode="before")
    @classmethod
    def _points_number(cls, value: Any) -> Any:
        """NaN points would otherwise be reported as 'less than or equal to 1000'."""
        return refuse_nan(value)

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
        require_unique("mistake id", "mistakes", [m.id for m in self.mistakes])
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
    require: list[Expression] = []
    """Conditions every variant's inputs must meet, each a comparison (``{op: greater, a: ..., b: 0}``, true where
    every entry is) or a quantity that is exactly 0 or 1: a seeded variant whose draw fails one is drawn again (no
    dead ReLU layer, no tied pooling window). The sheet's own numbers must meet them as written."""
    notes: str = ""
    """For instructors: e.g. disagreements between the printed solution and the engine."""

    @field_validator("require", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        return [check_expression(item) for item in value] if isinstance(value, list) else value

    @field_validator("inputs", "quantities")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not NAME.match(name):
                raise located(
                    f"{name!r} is not a valid name: a name must be {NAME_RULE}",
                    (name,),
                    kind="string_pattern_mismatch",
                )
        return value

    @model_validator(mode="after")
    def _unique(self) -> ExerciseSpec:
        clash = sorted(set(self.inputs) & set(self.quantities))
        if clash:
            raise ValueError(f"names used both as input and quantity: {', '.join(clash)}")
        require_unique("part id", "parts", [p.id for p in self.parts])
        self._follow_earlier()
        return self

    def _follow_earlier(self) -> None:
        """A part's ``follow_through`` names an earlier part: its answer is judged by the student's own answer there,
        which the student gave before. A later part is refused at the entry's ``part`` (the part itself and a part
        that does not exist are refused with the key, grader.key)."""
        index_of = {part.id: index for index, part in enumerate(self.parts)}
        for p_index, part in enumerate(self.parts):
            for f_index, entry in enumerate(part.follow_through):
                if index_of.get(entry.part, -1) > p_index:
                    earlier = ", ".join(other.id for other in self.parts[:p_index])
                    which = f"name an earlier part ({earlier})" if earlier else "this is the exercise's first part"
                    raise located(
                        f"follow_through.part names {entry.part!r}, which comes after this part: follow-through credits "
                        f"an answer judged by the student's own answer to an earlier part; {which}, or move "
                        f"{entry.part!r} before {part.id!r}",
                        ("parts", p_index, "follow_through", f_index, "part"),
                        kind="follow_through",
                    )


class SheetSpec(_Strict):
    """An exercise sheet: the unit a student hands in one answer file for."""

    id: Slug
    title: str = ""
    course: str = ""
    source: str = ""
    """Where the exercises come from (book, printed sheet)."""
    validation_seeds: list[int] = [1, 2, 3]
    """Seeds ``grader validate`` evaluates besides the seed-less variant (whole numbers >= 0, as ``--seed``)."""
    exercises: list[ExerciseSpec] = Field(min_length=1)

    @field_validator("validation_seeds", mode="before")
    @classmethod
    def _seeds(cls, seeds: Any) -> Any:
        """Seeds are whole numbers from 0 to 2**63 - 1, as ``--seed`` and answer files take (a variant no student can
        have is not worth validating; ``true``, which is not the seed 1, is refused before, by ``plain_numbers_only``).
        (No seeds at all: validate warns.)"""
        if isinstance(seeds, list):
            for seed in seeds:
                if isinstance(seed, int) and not 0 <= seed <= MAX_VALIDATION_SEED:
                    raise out_of_range(
                        f"a seed is a whole number from 0 to {MAX_VALIDATION_SEED} (as --seed and answer files take), got {seed}"
                    )
        return seeds

    @model_validator(mode="after")
    def _unique(self) -> SheetSpec:
        require_unique("exercise id", "exercises", [e.id for e in self.exercises])
        return self
