"""The base of every answer type: AnswerSpec (parse / check / show), AnswerError, CheckContext, verdict helpers.

An answer type is a frozen pydantic model read from a part's ``answer:`` mapping in the YAML spec. Grading one
part runs the check ladder (PrairieLearn style) and stops at the first rung that fails:

    missing -> type -> shape -> dtype -> finite -> values

``parse`` covers missing/type/dtype (it raises :class:`AnswerError`, a message for the student); ``check``
covers shape/finite/values and returns a :class:`~grader.result.Verdict`. Verdict feedback never states an
expected value; where and by how much go into ``details``, which the pipeline drops for hidden parts.

Numeric types add a hint to a wrong value's feedback when it is one of the usual slips (:func:`number_hint`): the
opposite sign, or the right value rounded too early. Such a hint tells how the answer relates to the key, so it
is only for students who see the key: the pipeline shows a hidden part's (and a hidden code case's) feedback
only as passed / not passed. How many decimal places a student wrote comes from the text of the number
(:class:`WrittenFloat`, kept by the answer file reader), or else from the shortest ``repr`` of the float.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.plain_numbers import plain_numbers_only
from grader.result import Status, Verdict

MAX_TEXT_LENGTH = 10_000
"""Longest string answer read at all; longer ones are rejected before any parsing."""


class AnswerError(ValueError):
    """Why a student's answer cannot be read, in words the student can act on.

    Example: ``expected a number, got the text 'seven'``. The pipeline turns it into an ``invalid`` verdict.
    """


@dataclass(frozen=True)
class CheckContext:
    """What a check may need besides the answer and the key.

    Attributes:
        rng: seeded by the pipeline per submission and part. Checks never advance it: a check that needs
            random points draws them from a copy (:meth:`generator`), so ``check`` stays a pure function of
            its arguments and every known-mistake check of a part sees the same points as the first check.
    """

    rng: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> CheckContext:
        """A context whose generator is ``np.random.default_rng(seed)``."""
        return cls(rng=np.random.default_rng(seed))

    def generator(self) -> np.random.Generator:
        """A copy of ``rng`` in its current state (``rng`` itself is left untouched)."""
        return copy.deepcopy(self.rng)


class AnswerSpec(BaseModel):
    """Base of the answer types: how a part's answer is written, read and compared with the key.

    Subclasses set ``type`` to a ``Literal`` (the tag of the union in the spec) and implement the methods.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    _plain_numbers_only = model_validator(mode="before")(classmethod(plain_numbers_only))

    type: str
    """The answer type's tag (``number``, ``array``, ...)."""

    def parse(self, raw: Any) -> Any:
        """The student's raw value (what ``yaml.safe_load``/``json.load`` gave) as this type's answer.

        Raises :class:`AnswerError` when it cannot be read (``None`` counts as a missing answer).
        """
        raise NotImplementedError(f"{type(self).__name__}.parse")

    def check(self, actual: Any, expected: Any, ctx: CheckContext) -> Verdict:
        """Compare a parsed answer with the key's value: a pure function of its arguments.

        Raises a plain ``ValueError`` only for the author's faults (an ``expected`` of the wrong kind).
        """
        raise NotImplementedError(f"{type(self).__name__}.check")

    def fraction(self, actual: Any, expected: Any, ctx: CheckContext) -> float:
        """``check(actual, expected, ctx).fraction`` without the feedback a student reads (hints, details): all that
        matching a known mistake or another variant's key needs. Answer types whose feedback costs more than the
        comparison compute it on their own."""
        return self.check(actual, expected, ctx).fraction

    def matches(self, actual: Any, expected: Any, ctx: CheckContext) -> bool:
        """Whether ``actual`` earns full marks against ``expected``: is it that value (within the tolerance)?"""
        return self.fraction(actual, expected, ctx) >= 1.0

    def rounded_from(self, actual: Any, value: Any) -> str | None:
        """When ``actual`` (a wrong answer) is ``value`` (the key's or a known mistake's) rounded too early, how it
        was rounded (``rounded to 4 decimal places; this part needs at least 6``), else None. Only number and array
        answers are written with places to tell."""
        return None

    def to_json(self, actual: Any) -> Any:
        """A parsed answer as JSON data (numbers, strings, lists, mappings) for reports."""
        raise NotImplementedError(f"{type(self).__name__}.to_json")

    def expected_json(self, expected: Any) -> Any:
        """The key's value as JSON data for reports (only ever shown for visible parts)."""
        raise NotImplementedError(f"{type(self).__name__}.expected_json")

    @property
    def format_hint(self) -> str:
        """How to write this answer in an answer file (shown in the blank template)."""
        raise NotImplementedError(f"{type(self).__name__}.format_hint")

    # ---- the whole ladder in one call --------------------------------------------------------------------
    @staticmethod
    def is_missing(raw: Any) -> bool:
        """True for ``None`` (an empty YAML value) and for blank text: the student gave no answer."""
        return raw is None or (isinstance(raw, str) and not raw.strip())

    def read(self, raw: Any) -> tuple[Any, Verdict | None]:
        """``(parsed answer, None)``, or ``(None, verdict)`` when it is missing or cannot be read as this type.

        Only the student's text and the answer type decide, never the key: ``parse(raw)`` sees nothing else, so
        this may run on hidden parts before they are graded (``grader check``)."""
        if self.is_missing(raw):
            return None, missing("no answer given")
        try:
            return self.parse(raw), None
        except AnswerError as exc:
            return None, invalid(str(exc))

    def grade(self, raw: Any, expected: Any, ctx: CheckContext) -> tuple[Any, Verdict]:
        """``(actual, verdict)`` for a raw answer: missing -> parse -> check. ``actual`` is None unless parsed."""
        actual, unread = self.read(raw)
        return (None, unread) if unread is not None else (actual, self.check(actual, expected, ctx))


class Tolerances(BaseModel):
    """Numeric tolerances shared by the numeric answer types (numpy ``isclose`` semantics)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    _plain_numbers_only = model_validator(mode="before")(classmethod(plain_numbers_only))

    abs_tol: float = Field(default=1e-6, ge=0.0, allow_inf_nan=False)
    """Absolute tolerance: a value is accepted when ``|actual - expected| <= abs_tol + rel_tol * |expected|``."""
    rel_tol: float = Field(default=1e-6, ge=0.0, allow_inf_nan=False)
    """Relative tolerance, scaled by ``|expected|`` (see ``abs_tol``)."""

    def tolerance_for(self, expected: float) -> float:
        """The largest accepted ``|actual - expected|`` for this expected value."""
        return self.abs_tol + self.rel_tol * abs(expected)

    @property
    def precision_hint(self) -> str:
        """How close an answer must be, for students: ``exact``, ``within 0.01``, or ``within 1e-06 + 1e-06 *
        |expected|: give 7 significant digits or more`` (enough for the relative part: rel_tol 1e-6 needs 7)."""
        if self.rel_tol == 0:
            return "exact" if self.abs_tol == 0 else f"within {self.abs_tol:g}"
        digits = max(1, math.ceil(-math.log10(self.rel_tol) - 1e-9)) + 1
        return f"within {self.abs_tol:g} + {self.rel_tol:g} * |expected|: give {digits} significant digits or more"


# ---- verdicts ----------------------------------------------------------------------------------------------
def correct(feedback: str = "") -> Verdict:
    return Verdict(fraction=1.0, status=Status.correct, feedback=feedback)


def invalid(feedback: str, details: Sequence[str] = ()) -> Verdict:
    """The answer could not be read as this type (wrong type, shape, NaN): 0 points."""
    return Verdict(fraction=0.0, status=Status.invalid, feedback=feedback, details=list(details))


def missing(feedback: str = "no answer given") -> Verdict:
    return Verdict(fraction=0.0, status=Status.missing, feedback=feedback)


def scored(fraction: float, feedback: str = "", details: Sequence[str] = ()) -> Verdict:
    """A verdict whose status follows the fraction: 1 correct, 0 incorrect, in between partial."""
    fraction = min(1.0, max(0.0, float(fraction)))
    if fraction >= 1.0:
        status = Status.correct
    elif fraction <= 0.0:
        status = Status.incorrect
    else:
        status = Status.partial
    return Verdict(fraction=fraction, status=status, feedback=feedback, details=list(details))


# ---- reading raw values ------------------------------------------------------------------------------------
QUOTED_CHARACTERS = 60
"""Most characters of a student's text a message quotes (an answer may be 10,000 long, and a report quotes it in
every part it fails, and in every format)."""


def quoted(text: str) -> str:
    """``text`` in quotes for a message, its first :data:`QUOTED_CHARACTERS` only when longer (with its length)."""
    if len(text) <= QUOTED_CHARACTERS:
        return repr(text)
    return f"{text[:QUOTED_CHARACTERS]!r}... ({len(text)} characters)"


def describe_raw(raw: Any) -> str:
    """A short student-facing description of a raw value: ``the text 'seven'``, ``true (a boolean)``."""
    if raw is None:
        return "nothing (null)"
    if isinstance(raw, bool):
        return f"{'true' if raw else 'false'} (a boolean)"
    if isinstance(raw, str):
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(raw, int):
        text = str(raw) if raw.bit_length() < 200 else "a huge integer"
        return f"the whole number {text}"
    if isinstance(raw, float):
        return f"the number {raw!r}"
    if isinstance(raw, dict):
        return f"a mapping with {len(raw)} key{'s' if len(raw) != 1 else ''}"
    if isinstance(raw, (list, tuple)):
        return f"a list of {len(raw)} item{'s' if len(raw) != 1 else ''}"
    return f"a value of type {type(raw).__name__}"


def bounded_text(raw: str, what: str) -> str:
    """``raw`` stripped; AnswerError when it is longer than :data:`MAX_TEXT_LENGTH` characters."""
    if len(raw) > MAX_TEXT_LENGTH:
        raise AnswerError(f"{what} is {len(raw)} characters long; at most {MAX_TEXT_LENGTH} are read")
    return raw.strip()


def whole_number_text(text: str, *, max_digits: int, signed: bool = True) -> int | None:
    """``text`` (stripped) as an int when it is one optional sign (with ``signed``) and 1 to ``max_digits``
    decimal digits, else None.

    Decimal digits are those of ``str.isdecimal`` -- ASCII, full-width ``４２``, Arabic-Indic ``٤٢`` ... -- which
    ``int`` reads; superscripts (``²``), circled digits (``①``) and doubled signs (``+-27``) are not, and give
    None rather than a ValueError from ``int``.
    """
    digits = text[1:] if signed and text[:1] in ("+", "-") else text
    if not (digits.isdecimal() and len(digits) <= max_digits):
        return None
    try:
        return int(text)
    except ValueError:  # isdecimal and int agree on every digit known today; never crash if they ever do not
        return None


def format_exact(value: float) -> str:
    """A number for a message that says it is not whole: :func:`format_number`, or the shortest exact form
    (``repr``) when rounding to 6 digits would make it look whole (``0.9999999999999999``, not ``1``)."""
    shown = format_number(value)
    if math.isfinite(value) and not float(value).is_integer() and shown.lstrip("-").isdigit():
        return repr(float(value))
    return shown


def format_pair(actual: float, expected: float) -> tuple[str, str]:
    """``actual`` and ``expected`` for a message saying they differ: as :func:`format_number`, with more
    significant digits (up to 17) while the two would read the same (``0.5431`` and ``0.5430590``)."""
    shown = format_number(actual), format_number(expected)
    if shown[0] != shown[1] or actual == expected or not all(map(math.isfinite, (float(actual), float(expected)))):
        return shown
    for digits in range(7, 18):
        shown = f"{float(actual):.{digits}g}", f"{float(expected):.{digits}g}"
        if shown[0] != shown[1]:
            break
    return shown


def format_number(value: float) -> str:
    """A number for messages: integral values without a decimal point, others with 6 significant digits."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def number_to_json(value: float) -> int | float | str:
    """A float as JSON data: integral values as ints, NaN/inf as the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# ---- hints for wrong numbers ------------------------------------------------------------------------------
class WrittenFloat(float):
    """A float that keeps the text it was written as (``0.440``, ``4.4e-1``), so a hint can tell how many decimal
    places the student gave. It compares, hashes, prints and serialises as the plain float."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, text: str) -> WrittenFloat:
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return float(self), self.text


_DECIMAL_TEXT = re.compile(r"[+-]?(?P<whole>\d*)(?:\.(?P<fraction>\d*))?(?:[eE](?P<exponent>[+-]?\d{1,6}))?")
"""A plain decimal number as text, optionally with an exponent (``-0.440``, ``4.4e-1``, ``12``)."""


def written_decimals(text: str) -> int | None:
    """The decimal place of the last digit of a plain number text: 2 for ``0.44`` and ``4.4e-1``, 3 for
    ``0.440``, 0 for ``12``, -2 for ``1.2e3``; None for any other text (``1/3``, ``inf``, ``1_000``)."""
    match = _DECIMAL_TEXT.fullmatch(text.strip())
    if match is None or not (match["whole"] or match["fraction"]):
        return None
    return len(match["fraction"] or "") - int(match["exponent"] or 0)


def decimals_of(value: float) -> int | None:
    """The decimal places ``value`` was written with: from its text when it is a :class:`WrittenFloat` (or an
    int: 0), else from its shortest ``repr`` (a whole float counts 0). None when not finite or not known."""
    if isinstance(value, (int, np.integer)):
        return 0
    if not math.isfinite(value):
        return None
    text = getattr(value, "text", None)
    decimals = written_decimals(text) if isinstance(text, str) else None
    if decimals is not None:
        return decimals
    if float(value).is_integer():
        return 0
    return written_decimals(repr(float(value)))


def half_unit(decimals: int) -> float:
    """Half a unit in the ``decimals``-th decimal place (0.005 for 2), with a little room for float rounding."""
    return 0.5 * 10.0 ** -decimals * (1 + 1e-9)


MIN_ROUNDED_DIGITS = 2
"""Significant digits a wrong number must have been written with to be called the key rounded too early: ``0.44``
for 0.4429 (2) is, while ``1`` for 0.7136 or ``3`` for 3.44 (1) more likely is another slip (a factor left out) than
a rounding, and ``0.0`` tells nothing."""


def is_rounding(actual: float, expected: float, decimals: int | None) -> bool:
    """Whether ``actual``, written with ``decimals`` places (at least 0) and at least :data:`MIN_ROUNDED_DIGITS`
    significant digits, is ``expected`` rounded to that many places: at most half a unit of its last place away. A 0
    (``0``, ``0.000``) is never one on its own (an array's rounded entries may include zeros: see
    ``array.rounded_hint``)."""
    if decimals is None or decimals < 0 or actual == 0:
        return False
    significant = math.floor(math.log10(abs(actual))) + 1 + decimals
    return significant >= MIN_ROUNDED_DIGITS and abs(actual - expected) <= half_unit(decimals)


def decimals_needed(tolerance: float) -> int | None:
    """The fewest decimal places with which every correctly rounded value is within ``tolerance`` (half a unit of
    the last place at most ``tolerance``); None for a tolerance of 0, which no number of places is sure to meet."""
    if not tolerance > 0 or not math.isfinite(0.5 / tolerance):  # a tolerance of 1e-310: no places are enough either
        return None
    return max(0, math.ceil(math.log10(0.5 / tolerance) - 1e-9))


def places_text(decimals: int) -> str:
    """``a whole number``, ``1 decimal place``, ``6 decimal places``."""
    return "a whole number" if decimals == 0 else f"{decimals} decimal place{'s' if decimals != 1 else ''}"


def rounding_hint(decimals: int | None, needed: int | None, subject: str = "it", *, computed: bool = False) -> str:
    """``it matches the correct value rounded to 2 decimal places, but this part needs more digits: give at least
    6 decimal places`` (``decimals`` None: rounded to the decimal places you wrote; ``needed`` is left out when it
    is None or not more than ``decimals``). ``subject`` replaces ``it`` (``each of them``). ``computed``: the
    values came from the student's code, which should not round at all: ``..., but your code rounds: return the
    value unrounded``."""
    if computed:
        places = "fewer decimal places" if decimals is None else places_text(decimals)
        return f"{subject} matches the correct value rounded to {places}, but your code rounds: return the values unrounded"
    places = "the decimal places you wrote" if decimals is None else places_text(decimals)
    more = "" if needed is None or (decimals is not None and needed <= decimals) else f": give at least {places_text(needed)}"
    return f"{subject} matches the correct value rounded to {places}, but this part needs more digits{more}"


def is_opposite_sign(actual: float, expected: float, tolerance: float) -> bool:
    """Whether ``actual`` is ``-expected`` within ``tolerance`` while ``expected`` is clearly not 0 (``|expected| >
    tolerance``, so ``actual`` has the other sign and is no right answer)."""
    return abs(expected) > tolerance and abs(actual + expected) <= tolerance


def opposite_sign_hint(subject: str = "it") -> str:
    """``it has the opposite sign of the correct value (the size is right)``; ``subject`` replaces ``it``."""
    return f"{subject} has the opposite sign of the correct value (the size is right)"


def number_hint(actual: float, expected: float, tolerance: float, *, computed: bool = False) -> str:
    """A hint for a number that is not within ``tolerance`` of ``expected`` when it is one of the usual slips --
    the opposite sign, the correct value rounded to the places written (:func:`rounding_hint`), or both, or a whole
    factor too many or too few (:func:`scale_factor`) -- else ``""``. ``computed``: ``actual`` came from the
    student's code (see :func:`rounding_hint`)."""
    if is_opposite_sign(actual, expected, tolerance):
        return opposite_sign_hint()
    decimals = decimals_of(actual)
    if is_rounding(actual, expected, decimals):
        return rounding_hint(decimals, decimals_needed(tolerance), computed=computed)
    if abs(expected) > tolerance and is_rounding(-actual, expected, decimals):  # -0.44 for 0.4429
        rounded = rounding_hint(decimals, decimals_needed(tolerance), "apart from the sign it", computed=computed)
        return f"it has the opposite sign of the correct value, and {rounded}"
    factor = number_scale_factor(actual, expected, tolerance)
    return scale_hint(factor, "it is") if factor is not None else ""


MAX_FACTOR = 1024
"""The largest whole factor (or divisor) :func:`scale_factor` names: 2 for a gradient counted twice, 16 for a mean
over a 4x4 map where the sum was meant."""


def scale_factor(actual: np.ndarray, expected: np.ndarray, tolerance: np.ndarray) -> float | None:
    """The factor k, a whole number or one over a whole number (2 to :data:`MAX_FACTOR` in size, either sign but not -1, which is
    the opposite sign), for which every entry of ``actual`` is within ``|k| * tolerance`` of k times the key's entry,
    judged from the key's largest entry (which must be clearly not 0); else None. All arrays have one shape."""
    flat_expected, flat_actual = expected.reshape(-1), actual.reshape(-1)
    largest = int(np.argmax(np.abs(flat_expected))) if flat_expected.size else 0
    if not flat_expected.size or abs(flat_expected[largest]) <= tolerance.reshape(-1)[largest]:
        return None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        factor = _whole_factor(float(flat_actual[largest] / flat_expected[largest]))
    if factor is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        fits = np.abs(actual - factor * expected) <= max(abs(factor), 1.0) * tolerance
    return factor if bool(np.all(fits)) else None


def number_scale_factor(actual: float, expected: float, tolerance: float) -> float | None:
    """:func:`scale_factor` of one number, in plain floats (numpy's overhead is most of the time on one entry)."""
    if abs(expected) <= tolerance:
        return None
    factor = _whole_factor(actual / expected)  # no ZeroDivisionError: |expected| > tolerance >= 0
    if factor is None:
        return None
    return factor if abs(actual - factor * expected) <= max(abs(factor), 1.0) * tolerance else None


def _whole_factor(ratio: float) -> float | None:
    """The whole number or one over a whole number, 2 to :data:`MAX_FACTOR` in size (not -1), that ``ratio`` rounds
    to; None when there is none or ``ratio`` is not finite."""
    if not math.isfinite(ratio) or not 1 / (2 * MAX_FACTOR) < abs(ratio) < 2 * MAX_FACTOR:
        return None
    whole, inverse = round(ratio), round(1 / ratio)
    return float(whole) if 2 <= abs(whole) <= MAX_FACTOR else 1 / inverse if 2 <= abs(inverse) <= MAX_FACTOR else None


def scale_hint(factor: float, subject: str) -> str:
    """``it is 2 times the correct value`` or ``... the correct value divided by 16``, asking which factor slipped."""
    if abs(factor) >= 1:
        size = f"{int(factor)} times the correct value"
    else:
        size = f"the correct value divided by {round(1 / factor)}"
    return f"{subject} {size} (a factor counted twice or left out, or a mean where a sum is meant, or the reverse?)"


def with_hint(feedback: str, hint: str) -> str:
    """``feedback; hint``, or ``feedback`` alone when there is no hint."""
    return f"{feedback}; {hint}" if hint else feedback
