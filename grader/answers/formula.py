"""The ``formula`` answer type: an expression in named variables, compared with a reference function at random
points of the variables' domains. Also the sampling and point-wise comparison the ``graph`` type shares.

A formula written as an equation (``p = (f-1)/2``, ``p == (f-1)/2``, ``(f-1)/2 = p``) is not read; the message
says which side to keep and what to drop (:func:`equation_hint`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.answers.base import (
    AnswerError,
    AnswerSpec,
    CheckContext,
    Tolerances,
    bounded_text,
    correct,
    describe_raw,
    format_number,
    number_to_json,
    scale_factor,
    scale_hint,
    scored,
    with_hint,
)
from grader.answers.references import FunctionReference
from grader.engine.formula import FUNCTIONS, Formula, FormulaError, parse_formula
from grader.errors import SpecError, SpecErrors
from grader.plain_numbers import plain_numbers_only
from grader.result import Verdict

MIN_DEFINED_POINTS = 10
"""Fewest random points at which the reference must be defined; fewer is the exercise author's fault."""
EXAMPLE_POINTS = 5
"""How many sample points ``expected_json`` shows."""
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_EQUALS = re.compile(r"(?<![<>!=:])==?(?!=)")
"""``=`` or ``==`` as an equation's sign: not part of ``<=``, ``>=``, ``!=``, ``:=`` or ``===``."""
_NAMED_SIDE = re.compile(r"[A-Za-z_][A-Za-z0-9_']* *(?:\([A-Za-z0-9_, ]*\))?\Z")
"""The side of an equation that names what it defines: ``p``, ``p_out``, ``p'``, ``p(f)``, ``n'(n, f)`` (only
these characters, so the message that names it shows nothing else a student typed)."""


def check_variable_names(domains: dict[str, Domain]) -> dict[str, Domain]:
    """The spec's variable names must be usable in a formula: letters, digits, '_', not a function name."""
    bad = [name for name in domains if not _NAME.match(name) or name in FUNCTIONS]
    if bad:
        raise ValueError(
            f"variable name(s) {', '.join(repr(b) for b in bad)} cannot appear in a formula: use letters, digits "
            "and '_', starting with a letter, and not a function name"
        )
    return domains


class Domain(BaseModel):
    """Where a variable's random values are drawn: uniformly in ``[low, high]``, or its whole numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    _plain_numbers_only = model_validator(mode="before")(classmethod(plain_numbers_only))

    low: float = Field(allow_inf_nan=False)
    """Smallest value drawn."""
    high: float = Field(allow_inf_nan=False)
    """Largest value drawn."""
    integer: bool = False
    """Draw only whole numbers in ``[low, high]`` (sizes, strides, paddings)."""

    @model_validator(mode="after")
    def _not_empty(self) -> Domain:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is larger than high ({self.high})")
        if self.integer and math.ceil(self.low) > math.floor(self.high):
            raise ValueError(f"no whole number lies in [{self.low}, {self.high}]")
        return self

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` values drawn with ``rng``: a float64 array ``(count,)``."""
        if self.integer:
            return rng.integers(math.ceil(self.low), math.floor(self.high) + 1, size=count).astype(np.float64)
        return rng.uniform(self.low, self.high, size=count)


class PointCheck(Tolerances):
    """Options shared by the answer types checked at random points (``formula`` and ``graph``)."""

    points: int = Field(default=50, ge=MIN_DEFINED_POINTS, le=10_000)
    """How many random points are drawn from the domains (points where the reference is undefined are skipped)."""


def sample_points(domains: Mapping[str, Domain], count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``{variable: (count,) array}``, drawn in the domains' order (so a seeded ``rng`` gives the same points)."""
    return {name: domain.sample(count, rng) for name, domain in domains.items()}


def _point_text(values: Mapping[str, np.ndarray], index: int) -> str:
    return ", ".join(f"{name}={format_number(float(column[index]))}" for name, column in values.items())


def _reference_values(reference: FunctionReference, values: Mapping[str, np.ndarray], count: int) -> np.ndarray:
    """The reference at the ``count`` points of ``values``: NaN where it is undefined. An op that refuses a point
    (``log`` of a number <= 0 raises, where numpy would give NaN) makes only that point undefined: the points are
    then evaluated one at a time. ValueError with the first point's reason when it can be evaluated at none."""
    try:
        return np.broadcast_to(np.asarray(reference(values), dtype=np.float64), (count,))
    except (SpecError, SpecErrors, FormulaError, ValueError, ArithmeticError):
        pass
    result = np.full(count, np.nan)
    first_error: Exception | None = None
    for index in range(count):
        point = {name: column[index : index + 1] for name, column in values.items()}
        try:
            result[index] = np.asarray(reference(point), dtype=np.float64).reshape(-1)[0]
        except (SpecError, SpecErrors, FormulaError, ValueError, ArithmeticError) as exc:
            first_error = first_error or exc
    if first_error is not None and not np.isfinite(result).any():
        reason = first_error.message if isinstance(first_error, SpecError) else str(first_error)
        raise ValueError(f"the reference cannot be evaluated at any of the {count} random points: {reason}")
    return result


def reference_at_points(
    reference: FunctionReference, domains: Mapping[str, Domain], options: PointCheck, ctx: CheckContext
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The random points of a part's check (``{variable: (points,) array}``) and the reference there ((points,),
    NaN where undefined). ValueError (the author's fault) when it is defined at fewer than
    :data:`MIN_DEFINED_POINTS` of them. The reference remembers its values at these points, so the key's own check
    (:func:`grader.key.compute_key`) makes grading's free."""
    values = sample_points(domains, options.points, ctx.generator())
    reference_values = _reference_values(reference, values, options.points)
    defined = int(np.isfinite(reference_values).sum())
    if defined < MIN_DEFINED_POINTS:
        raise ValueError(
            f"the reference is defined at only {defined} of {options.points} random points "
            f"(at least {MIN_DEFINED_POINTS} are needed); narrow the variables' domains "
            f"({', '.join(domains)}) or draw more points"
        )
    return values, reference_values


def compare_at_points(
    evaluate: Callable[[Mapping[str, np.ndarray]], np.ndarray],
    reference: FunctionReference,
    domains: Mapping[str, Domain],
    options: PointCheck,
    ctx: CheckContext,
    what: str,
) -> Verdict:
    """Evaluate the student's ``evaluate`` and the reference at the same random points and compare.

    ``what`` names the student's answer in feedback (``your formula``). A point where ``evaluate`` raises
    FormulaError (division by zero, log of 0) counts as wrong there. ValueError (the author's fault) when the
    reference is defined at fewer than :data:`MIN_DEFINED_POINTS` of the points.
    """
    values, reference_values = reference_at_points(reference, domains, options, ctx)
    defined = np.isfinite(reference_values)
    values = {name: column[defined] for name, column in values.items()}
    reference_values = reference_values[defined]
    count = reference_values.shape[0]
    errors: dict[int, str] = {}
    with np.errstate(all="ignore"):  # overflow to inf is judged below, not warned about
        try:
            actual = np.broadcast_to(np.asarray(evaluate(values), dtype=np.float64), (count,))
        except FormulaError:
            actual = np.full(count, np.nan)
            for index in range(count):  # one point at a time, to say where it fails
                point = {name: column[index : index + 1] for name, column in values.items()}
                try:
                    actual[index] = np.asarray(evaluate(point), dtype=np.float64).reshape(-1)[0]
                except FormulaError as exc:
                    errors[index] = str(exc)
    finite = np.isfinite(actual)
    tolerance = options.abs_tol + options.rel_tol * np.abs(reference_values)
    with np.errstate(invalid="ignore"):
        wrong = ~finite | (np.abs(actual - reference_values) > tolerance)
    wrong_count = int(np.count_nonzero(wrong))
    if wrong_count == 0:
        return correct()
    first = int(np.argmax(wrong))
    at = _point_text(values, first)
    share = f"{what} differs from the reference at {wrong_count} of {count} random points"
    if first in errors:
        feedback = f"at {at} {what} cannot be evaluated: {errors[first]}"
    elif not finite[first]:
        feedback = f"at {at} {what} gives {format_number(float(actual[first]))}"
    else:
        feedback = f"at {at} {what} gives {format_number(float(actual[first]))}, which is not the expected value"
        if finite.all():
            feedback = with_hint(feedback, _sign_or_factor_hint(actual, reference_values, tolerance, what))
    details = [
        f"at {at} {what} gives {format_number(float(actual[first])) if first not in errors else 'an error'}, "
        f"the reference {format_number(float(reference_values[first]))}",
        share,
    ]
    return scored(0.0, feedback, details)


def _sign_or_factor_hint(actual: np.ndarray, reference: np.ndarray, tolerance: np.ndarray, what: str) -> str:
    """``your formula is the reference with its sign flipped ...`` when ``actual`` is ``-reference`` at every point
    (where the reference is clearly not 0 at one point at least), or ``your formula is 3 times the correct value
    ...`` for a whole factor (:func:`scale_factor`); else ``""``. The three arrays hold one value per point."""
    if np.all(np.abs(actual + reference) <= tolerance) and np.any(np.abs(reference) > tolerance):
        return f"{what} is the reference with its sign flipped at every point (the size is right)"
    factor = scale_factor(actual, reference, tolerance)
    return scale_hint(factor, f"{what} is") if factor is not None else ""


def reference_examples(reference: FunctionReference, domains: Mapping[str, Domain], count: int = EXAMPLE_POINTS) -> list[dict[str, Any]]:
    """A few distinct points (drawn with a fixed seed) where the reference is defined, with its value there:
    ``[{"at": {"n": 55, "f": 9}, "value": 24}, ...]`` (reports show them as ``at n=55, f=9 the reference gives
    24``). Fewer than ``count`` when the domains hold fewer distinct points."""
    candidates = max(50, 10 * count)
    values = sample_points(domains, candidates, np.random.default_rng(0))
    results = _reference_values(reference, values, candidates)
    examples: list[dict[str, Any]] = []
    seen: set[tuple[float, ...]] = set()
    for index in np.flatnonzero(np.isfinite(results)):
        point = tuple(float(column[index]) for column in values.values())
        if point in seen:  # whole-number domains repeat points: one row each is enough
            continue
        seen.add(point)
        examples.append(
            {
                "at": {name: number_to_json(float(column[index])) for name, column in values.items()},
                "value": number_to_json(float(results[index])),
            }
        )
        if len(examples) == count:
            break
    return examples


def _equation_sign(text: str) -> re.Match[str] | None:
    """The one ``=``/``==`` outside parentheses that makes ``text`` an equation, or None (none, or several)."""
    signs = [sign for sign in _EQUALS.finditer(text) if text.count("(", 0, sign.start()) == text.count(")", 0, sign.start())]
    return signs[0] if len(signs) == 1 else None


def equation_hint(text: str) -> tuple[str, str] | None:
    """For a formula written as an equation, ``(the expression to keep, the message saying what to drop)``: ``p =
    (f-1)/2`` keeps ``(f-1)/2`` (``it is an equation; write only its right-hand side (the expression), without 'p ='``), ``(f-1)/2 ==
    p`` keeps ``(f-1)/2``. Two expressions (``2*p = f - 1``) keep ``""``: the student must solve for the answer.
    None when ``text`` is no equation."""
    sign = _equation_sign(text)
    if sign is None:
        return None
    left, right = text[: sign.start()].strip(), text[sign.end():].strip()
    if not left or _NAMED_SIDE.fullmatch(left):
        dropped = f"{left} {sign.group()}".strip()
        return right, f"it is an equation; write only its right-hand side (the expression), without '{dropped}'"
    if not right or _NAMED_SIDE.fullmatch(right):
        dropped = f"{sign.group()} {right}".strip()
        return left, f"it is an equation; write only its left-hand side (the expression), without '{dropped}'"
    return "", (f"it is an equation ('{sign.group()}' between two expressions); write only the expression that is "
                "the answer, solved for the quantity asked, without '='")


class FormulaAnswer(PointCheck, AnswerSpec):
    """A formula in the given variables, e.g. the conv output size ``(n + 2*p - f)/s + 1``.

    Written as text using numbers, the variables, ``+ - * / **``, parentheses and the functions of
    :mod:`grader.engine.formula` (``sin``, ``exp``, ``max`` ...). It is right when it agrees with the key's
    reference within the tolerances at ``points`` random points drawn from the variables' domains (points
    where the reference is undefined, e.g. a size that is not a whole number, are skipped). The key's value is
    a :class:`~grader.answers.references.FunctionReference`.
    """

    type: Literal["formula"] = "formula"
    """Tag of this answer type."""
    variables: dict[str, Domain] = Field(min_length=1)
    """The variables the formula may use, each with the domain its random values are drawn from."""

    aliases: dict[str, str] = {}
    """Other ways to write a variable's name, each read as that variable: ``{θ: theta}``."""

    @field_validator("variables")
    @classmethod
    def _usable_names(cls, variables: dict[str, Domain]) -> dict[str, Domain]:
        return check_variable_names(variables)

    @model_validator(mode="after")
    def _aliases_name_variables(self) -> FormulaAnswer:
        for alias, variable in self.aliases.items():
            if variable not in self.variables:
                raise ValueError(f"aliases: {alias!r} stands for {variable!r}, which is not one of the variables {sorted(self.variables)}")
            if not alias.strip() or alias != alias.strip():
                raise ValueError(f"aliases: {alias!r} must be a name without spaces around it")
            if alias in self.variables:
                raise ValueError(f"aliases: {alias!r} is itself a variable; an alias is another way to write one")
        return self

    def parse(self, raw: Any) -> Formula:
        if raw is None:
            raise AnswerError("no answer given")
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise AnswerError(f"expected a formula as text, got {describe_raw(raw)}")
        text = bounded_text(str(raw), "the formula")
        for alias, variable in self.aliases.items():  # θ -> theta, where it stands alone (not inside θ2)
            text = re.sub(rf"(?<!\w){re.escape(alias)}(?!\w)", variable, text)
        try:
            return parse_formula(text, variables=self.variables)
        except FormulaError as exc:
            raise AnswerError(self._unreadable(text, exc)) from None

    def _unreadable(self, text: str, error: FormulaError) -> str:
        """Why ``text`` is no formula: the parser's ``error``, or for an equation what to drop (and why the side to
        keep cannot be read either, if it cannot)."""
        equation = equation_hint(text)
        if equation is None:
            return f"cannot read the formula: {error}"
        kept, message = equation
        if kept:
            try:
                parse_formula(kept, variables=self.variables)
            except FormulaError as exc:
                return f"cannot read the formula: {message}; the expression itself cannot be read either: {exc}"
        return f"cannot read the formula: {message}"

    def check(self, actual: Formula, expected: FunctionReference, ctx: CheckContext) -> Verdict:
        if not isinstance(expected, FunctionReference):
            raise ValueError(f"formula answer: the key's value is a {type(expected).__name__}, not a FunctionReference")
        return compare_at_points(actual.evaluate, expected, self.variables, self, ctx, "your formula")

    def to_json(self, actual: Formula) -> str:
        return actual.text

    def expected_json(self, expected: FunctionReference) -> list[dict[str, Any]]:
        return reference_examples(expected, self.variables)

    @property
    def format_hint(self) -> str:
        names = ", ".join(self.variables)
        first = next(iter(self.variables))
        return (
            f"a formula in quotes in the variables {names}, with + - * / ** and parentheses and the functions "
            f"{', '.join(FUNCTIONS)}, e.g. \"2*{first} + 1\""
        )
