"""The ``code`` answer type: a function the student writes, run in the sandbox on cases, each compared with the key.

A code part names the function and its cases: literal cases (inputs from the exercise), random cases drawn
per sheet (sizes may vary, e.g. random n, f, s, p for a convolution), and property checks (the function is
equivariant to shifts; its pooled output keeps the values the engine says a shift leaves unchanged). The key
computes the part's ``expected`` expression for each case with the function's arguments bound to the case's
inputs; the student's outputs are compared with the same check ladder as answer files.
"""

from __future__ import annotations

import functools
import keyword
import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from grader.answers.array import ArrayAnswer
from grader.answers.base import AnswerError, AnswerSpec, CheckContext, Tolerances, correct, invalid, scored
from grader.draw_settings import unused_setting_problem
from grader.located import located, require_unique
from grader.plain_numbers import plain_numbers_only
from grader.result import Verdict, Visibility

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""A name (a function, an argument, a dim): ASCII letters, digits and underscores, not starting with a digit."""
NAME_RULE = "ASCII letters (A-Z, a-z), digits and underscores, not starting with a digit"
"""What :data:`NAME_PATTERN` asks for, in the words every message about a name uses."""
NAME = re.compile(NAME_PATTERN.replace("$", "\\Z"))
"""NAME_PATTERN compiled, matching the whole text (a trailing line break included)."""
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
def _argument_name(name: str) -> str:
    if not NAME.match(name) or keyword.iskeyword(name) or len(name) > 64:
        raise ValueError(
            f"{name!r} is not a valid argument name: the student's function takes it as a parameter, so it must be a "
            "Python identifier (ASCII letters, digits and underscores, not starting with a digit) that is not a keyword"
        )
    return name


ArgName = Annotated[str, AfterValidator(_argument_name)]
"""The name of an argument of the student's function: a Python identifier that is not a keyword."""
CaseName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$", max_length=64)]


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    _plain_numbers_only = model_validator(mode="before")(classmethod(plain_numbers_only))


class CodeCase(_Options):
    """One call of the student's function with inputs from the exercise."""

    name: CaseName
    """Shown to the student (for visible cases) and in reports."""
    inputs: dict[ArgName, Any]
    """Argument name -> ``$input``/``$quantity``, an ``{op: ...}`` call, or a literal."""
    visibility: Visibility = Visibility.visible
    """``hidden``: the student sees only whether the case passed."""


class DimRange(_Options):
    """A whole number drawn uniformly from low..high (inclusive) for each random case."""

    low: int
    """Smallest value."""
    high: int
    """Largest value (inclusive)."""

    @model_validator(mode="after")
    def _ordered(self) -> DimRange:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class RandomArray(_Options):
    """An array argument of a random case; its shape may use dims (``[n, n, c]``, ``["m + f - 1", c]``)."""

    shape: list[int | str]
    """Sizes: numbers, dim names, or small formulas of dims (``"m + f - 1"``)."""
    dist: Literal["integers", "normal", "uniform"] = "integers"
    """``integers``: whole numbers low..high; ``normal``: mean/std; ``uniform``: [low, high)."""
    low: float = -3
    """Smallest value (integers, uniform)."""
    high: float = 3
    """Largest value (integers: inclusive; uniform: exclusive)."""
    mean: float = 0.0
    """Mean (normal)."""
    std: float = Field(1.0, gt=0)
    """Standard deviation (normal)."""

    @model_validator(mode="after")
    def _settings_used(self) -> RandomArray:
        """A setting the draw ignores (``low``/``high`` for ``normal``, ``mean``/``std`` for the others) is refused
        at that setting, as for a sheet's random inputs."""
        problem = unused_setting_problem(self.dist, self.model_fields_set)
        if problem:
            raise located(problem[1], (problem[0],))
        return self


def _literal_number(value: Any) -> int | float:
    if isinstance(value, str):
        raise ValueError(f"{value!r} is a number written as text (in quotes); write it as a plain number: {value.strip()}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "null" if value is None else type(value).__name__
        raise ValueError(
            "an argument of the random cases is a random array ({shape: [...], dist: ...}), the name of a dim, or a "
            f"number; got {kind}"
        )
    if not math.isfinite(value):
        raise ValueError(f"an argument of the random cases must be a finite number, got {value!r}")
    return value


def _dim_name(value: str) -> str:
    if not NAME.match(value) or len(value) > 64:
        raise ValueError(
            f"{value!r} is not the name of a dim (ASCII letters, digits and underscores); an argument is a random "
            "array, a dim's name or a number (formulas of dims such as \"m + f - 1\" go in a random array's shape)"
        )
    return value


def _random_arg_kind(value: Any) -> str:
    """Which of :data:`RandomArg`'s forms ``value`` is written as: one form is validated, so a mistake in an array
    is told once, not once per form."""
    if isinstance(value, dict | RandomArray):
        return "random-array"
    if isinstance(value, str):
        # Text the sheet loader would have read as a number had it not been quoted, as an input's value tells it
        # (spec.models.quoted_number); unquoted inf, nan, 017 or 1_000 are text to YAML, and a name to look up.
        from grader.spec.models import quoted_number  # deferred: the spec models import this module

        try:
            float(value)
        except ValueError:
            return "dim-name"
        return "literal-number" if quoted_number(value) else "dim-name"
    return "literal-number"


_DIM_NAME_SCHEMA = {"type": "string", "pattern": NAME_PATTERN, "maxLength": 64}
RandomArg = Annotated[
    Annotated[RandomArray, Tag("random-array")]
    | Annotated[str, AfterValidator(_dim_name), WithJsonSchema(_DIM_NAME_SCHEMA), Tag("dim-name")]
    | Annotated[Any, AfterValidator(_literal_number), WithJsonSchema({"type": "number"}), Tag("literal-number")],
    Discriminator(_random_arg_kind),
]
"""A random case's argument: a random array, the name of a dim, or a literal number (the tags are pydantic's, which
the sheet loader leaves out of an error's place: RANDOM_ARG_TAGS)."""
RANDOM_ARG_TAGS = frozenset({"random-array", "dim-name", "literal-number"})


class RandomCases(_Options):
    """Cases drawn from the sheet's seed (the same for every student), redrawn until the key is defined."""

    count: int = Field(ge=1, le=100)
    """How many random cases."""
    visibility: Visibility = Visibility.hidden
    """Random cases are hidden by default: students see only pass/fail counts."""
    dims: dict[Name, DimRange] = {}
    """Whole numbers drawn per case, usable in shapes and as arguments."""
    args: dict[ArgName, RandomArg]
    """Argument -> a random array, the name of a dim, or a literal number."""


class PropertyCheck(_Options):
    """A relation the student's function must satisfy, checked on its own outputs.

    ``equivariance``: calling it on the input shifted by ``shift`` gives the output shifted by the same amount
    (divided by ``stride`` for a layer with a stride: 2 pixels move a stride-2 output by 1 cell), at every cell
    where the engine's reference function has that property (away from the border).
    ``pool_invariance``: for each output unit the engine finds a shift (|dy|, |dx| <= ``max_shift``) leaving
    the reference's value unchanged; the student's output must keep those values too.
    """

    kind: Literal["equivariance", "pool_invariance"]
    """Which relation is checked."""
    case: CaseName
    """The literal case whose inputs are shifted."""
    input: Name
    """The argument that is shifted (an image (H, W) or (H, W, C))."""
    shift: tuple[int, int] = (1, 1)
    """(dy, dx) for ``equivariance``: rows down, columns right."""
    stride: int = Field(1, ge=1, le=8)
    """For ``equivariance`` of a layer with a stride: the output moves by ``shift`` / ``stride`` cells (each of dy, dx a
    multiple of it)."""
    max_shift: int = Field(1, ge=1, le=4)
    """Largest |dy|, |dx| tried for ``pool_invariance``."""
    visibility: Visibility = Visibility.visible
    """``hidden``: the student sees only whether the check passed."""

    @field_validator("shift")
    @classmethod
    def _moves(cls, shift: tuple[int, int]) -> tuple[int, int]:
        """A zero shift compares the output with itself: the check would pass for any function."""
        if shift == (0, 0):
            raise ValueError(
                "shift [0, 0] moves nothing, so the check would pass for any function: a shift must move the image by "
                "at least one pixel (dy or dx not 0), e.g. [1, 1]"
            )
        return shift

    @model_validator(mode="after")
    def _settings_of_its_kind(self) -> PropertyCheck:
        """``shift`` is equivariance's, ``max_shift`` pool_invariance's: the other kind ignores it, so writing it
        means a check other than the one the author meant; refused at that setting."""
        ignores = {"equivariance": ("max_shift",), "pool_invariance": ("shift", "stride")}[self.kind]
        for ignored in ignores:
            if ignored in self.model_fields_set:
                used = "max_shift" if self.kind == "pool_invariance" else "shift and stride"
                raise located(
                    f"{ignored} is not used by {'an' if self.kind[0] in 'aeiou' else 'a'} {self.kind} check (it takes "
                    f"{used}): drop {ignored}, or write the kind "
                    "of check that uses it",
                    (ignored,),
                )
        if self.kind == "equivariance" and any(step % self.stride for step in self.shift):
            raise located(
                f"shift {list(self.shift)} is not a multiple of stride {self.stride}: a layer of stride {self.stride} "
                f"moves its output by whole cells only for shifts in steps of {self.stride} pixels",
                ("shift",),
            )
        return self


class CodeAnswer(Tolerances, AnswerSpec):
    """A function the student writes, graded case by case in the sandbox (never in the grader's process)."""

    type: Literal["code"] = "code"
    """Tag of this answer type."""
    function: Name
    """The function's name in the student's module."""
    cases: list[CodeCase] = Field(min_length=1)
    """Calls with inputs from the exercise (the sheet's own numbers)."""
    random_cases: RandomCases | None = None
    """Calls with inputs drawn from the sheet's seed (the same for every student)."""
    properties: list[PropertyCheck] = []
    """Relations checked on the student's own outputs (equivariance, pooling invariance)."""
    output: Literal["array", "mapping"] = "array"
    """``array``: the function returns an array or a number; ``mapping``: a dict of names to numbers/arrays."""
    seconds_per_case: float = Field(2.0, gt=0, le=60)
    """CPU and wall time each call may take."""

    @field_validator("function")
    @classmethod
    def _not_keyword(cls, function: str) -> str:
        """The sandbox calls the function by name: a keyword (``class``, ``lambda``, ``None``) is no function name,
        and the sandbox refuses it when grading; refused here, where the author can fix it (code ``spec-name``, as
        a name that is no identifier)."""
        if keyword.iskeyword(function):
            raise located(
                f"{function!r} is a Python keyword: the function name must be a Python identifier that is not a keyword "
                f"(e.g. {function.lower()}_fn)",
                (),
                kind="string_pattern_mismatch",
            )
        return function

    @model_validator(mode="after")
    def _cases(self) -> CodeAnswer:
        names = [c.name for c in self.cases]
        require_unique("case name", "cases", names, key="name")
        for index, check in enumerate(self.properties):
            if check.case not in names:
                raise located(
                    f"property {check.kind}: no case named {check.case!r}; expected the name of one of this part's "
                    f"cases: {', '.join(names)}",
                    ("properties", index, "case"),
                )
        return self

    # ---- the answer-file interface: code parts are handed in as code, never in an answer file ------------------
    def parse(self, raw: Any) -> Any:
        raise AnswerError(f"this part is answered with code: hand in a .py or .ipynb file defining {self.function}()")

    @property
    def format_hint(self) -> str:
        return f"Python code defining {self.function}(); handed in as a .py or .ipynb file"

    # ---- one case --------------------------------------------------------------------------------------------
    @functools.cached_property
    def _array_answer(self) -> ArrayAnswer:
        """The array check with this part's tolerances (built once: every case of every submission uses it)."""
        return ArrayAnswer(abs_tol=self.abs_tol, rel_tol=self.rel_tol)

    def _array(self) -> ArrayAnswer:
        return self._array_answer

    def check(self, actual: Any, expected: Any, ctx: CheckContext) -> Verdict:
        """One case's output against the key's value for that case (an array, a number, or a mapping of them)."""
        if self.output == "mapping":
            return self._check_mapping(actual, expected, ctx)
        if isinstance(actual, dict):
            return invalid(f"{self.function}() returned a dict; it should return an array or a number")
        return self._array().check(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64), ctx)

    def fraction(self, actual: Any, expected: Any, ctx: CheckContext) -> float:
        if self.output == "mapping" or isinstance(actual, dict):  # a dict's verdict names its entries: cheap, kept whole
            return self.check(actual, expected, ctx).fraction
        return self._array().fraction(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64), ctx)

    def _check_mapping(self, actual: Any, expected: dict[str, Any], ctx: CheckContext) -> Verdict:
        if not isinstance(actual, dict):
            return invalid(f"{self.function}() should return a dict of names to values, got an array")
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing:
            return invalid(f"the dict has no entry for {', '.join(missing)}" + (f"; unexpected: {', '.join(extra)}" if extra else ""))
        wrong: list[str] = []
        details: list[str] = []
        for name, value in expected.items():
            verdict = self._array().check(np.asarray(actual[name], dtype=np.float64), np.asarray(value, dtype=np.float64), ctx)
            if verdict.fraction < 1.0:
                wrong.append(name)
                details += [f"{name}: {line}" for line in _key_lines(verdict, np.ndim(value))]
        if not wrong:
            return correct()
        return scored(0.0, f"wrong value{'s' if len(wrong) > 1 else ''} for {', '.join(wrong)}", details)

    def failure_kind(self, actual: Any, expected: Any) -> str:
        """How an output that :meth:`check` refuses is wrong, in a word that tells none of its values or shapes
        (a key of ``grader.notes.HIDDEN_CASE_KINDS``): ``dict``, ``not-dict``, ``keys``, ``shape``,
        ``non-finite`` or ``wrong``. ``actual``: an array (e.g. ``(H', W', K)``) or a dict of them, as the sandbox
        returns it; ``expected``: the key's value for the case."""
        if self.output == "mapping":
            if not isinstance(actual, dict):
                return "not-dict"
            if any(name not in actual for name in expected):
                return "keys"
            pairs = [(np.asarray(actual[name], dtype=np.float64), np.shape(value)) for name, value in expected.items()]
        elif isinstance(actual, dict):
            return "dict"
        else:
            pairs = [(np.asarray(actual, dtype=np.float64), np.shape(expected))]
        if any(array.shape != shape for array, shape in pairs):
            return "shape"
        if not all(np.isfinite(array).all() for array, _ in pairs):
            return "non-finite"
        return "wrong"

    def to_json(self, actual: Any) -> Any:
        if isinstance(actual, dict):
            return {k: self._array().to_json(np.asarray(v, dtype=np.float64)) for k, v in actual.items()}
        return self._array().to_json(np.asarray(actual, dtype=np.float64))

    def expected_json(self, expected: Any) -> Any:
        return self.to_json(expected)


def _key_lines(verdict: Verdict, ndim: int) -> list[str]:
    """What one wrong entry of a returned dict gets in the details: for a number only ``yours 1.5, expected 2``
    (the verdict's feedback says the same in other words), for an array or an unreadable value the feedback and
    then where it differs."""
    if ndim == 0 and verdict.details:
        return list(verdict.details)
    return [verdict.feedback, *verdict.details]


def shapes_text(kwargs: dict[str, Any]) -> str:
    """``image (6, 6, 1), filters (3, 3, 1, 2), stride 1`` -- what a visible case is called with."""
    parts = []
    for name, value in kwargs.items():
        array = np.asarray(value)
        parts.append(f"{name} {tuple(array.shape)}" if array.ndim else f"{name} {array.item():g}")
    return ", ".join(parts)
