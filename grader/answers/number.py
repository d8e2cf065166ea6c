"""The ``number`` answer type: one real number, compared with the key within a tolerance.

A number read from text keeps that text (:class:`~grader.answers.base.WrittenFloat`), so a wrong value that is
the right one rounded too early can be told apart by the decimal places written (``0.440`` has three).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import numpy as np

from grader.answers.base import (
    QUOTED_CHARACTERS,
    AnswerError,
    AnswerSpec,
    CheckContext,
    Tolerances,
    WrittenFloat,
    bounded_text,
    correct,
    decimals_needed,
    decimals_of,
    describe_raw,
    format_number,
    format_pair,
    invalid,
    is_rounding,
    number_hint,
    number_to_json,
    places_text,
    quoted,
    scored,
    with_hint,
)
from grader.engine.formula import FormulaError, parse_formula, read_minus_signs
from grader.result import Verdict

_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
"""``0,5431``: a decimal comma (as many locales write it), not a pair of numbers."""
_DOUBLED_SIGN = re.compile(r"[+-]\s*[+-]")
"""``+-27``, ``--3``, ``- -3``: a number text starting with two signs."""

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
"""Names a constant expression may use."""


def evaluate_constant(text: str) -> float:
    """The value of a constant expression such as ``1/3``, ``2*pi`` or ``cos(0.5)``.

    Uses the engine's safe formula parser (Python's ``ast`` with a whitelist, never ``eval``); the only names
    allowed are the constants ``pi`` and ``e``. Raises AnswerError with the parser's message otherwise.
    """
    try:
        formula = parse_formula(text, variables=CONSTANTS)
        value = np.asarray(formula.evaluate(CONSTANTS), dtype=np.float64)
    except FormulaError as exc:
        raise AnswerError(f"cannot read {quoted(text)} as a number: {exc}") from None
    if value.size != 1:
        raise AnswerError(f"cannot read {quoted(text)} as a number: it gives {value.size} values, expected one")
    return float(value.reshape(()))


def parse_real(raw: Any) -> float:
    """A raw answer as a Python float (NaN and inf pass through; callers decide). Booleans are not numbers.

    A number written as text (``"0.440"``, ``"−0.97"``) comes back as a :class:`WrittenFloat` keeping the text
    (minus signs read as ``-``); a YAML/JSON float does when the answer file reader kept it."""
    if isinstance(raw, bool):
        raise AnswerError(f"expected a number, got {describe_raw(raw)}")
    if isinstance(raw, int):
        try:
            return float(raw)
        except OverflowError:
            raise AnswerError(
                f"the number has {len(str(abs(raw))) if raw.bit_length() < 14_000 else 'thousands of'} digits; "
                "it is too large for a floating-point number (at most about 1.8e308)"
            ) from None
    if isinstance(raw, float):
        return raw
    if isinstance(raw, (np.integer, np.floating)) and not isinstance(raw, np.bool_):
        return float(raw)
    if isinstance(raw, str):
        text = bounded_text(raw, "the answer")
        if not text:
            raise AnswerError("expected a number, got empty text")
        try:
            return WrittenFloat(float(text), text)
        except ValueError:
            pass
        return _parse_number_text(text)
    raise AnswerError(f"expected a number, got {describe_raw(raw)}")


def _parse_number_text(text: str) -> float:
    """The slow path of :func:`parse_real` for stripped text ``float`` did not read: Unicode minus signs,
    a decimal comma, a sign written twice, a ``±`` uncertainty, or a constant expression."""
    original, text = text, read_minus_signs(text)  # "−0.97" pasted from a PDF (U+2212 MINUS SIGN) is -0.97
    try:
        return WrittenFloat(float(text), text)
    except ValueError:
        pass
    signs = _DOUBLED_SIGN.match(text)
    if signs is not None:  # "+-27" is most likely ±27, "--3" a typo: neither is read as a number
        rest = text[signs.end():].strip()
        example = f", e.g. {rest} or -{rest}" if _is_float(rest) and rest[:1] not in "+-" and len(rest) <= QUOTED_CHARACTERS else ""
        raise AnswerError(
            f"cannot read {quoted(original)} as a number: it starts with two signs ({signs.group(0).replace(' ', '')}); "
            f"write one sign at most{example}"
        )
    if "\u00b1" in text or "+/-" in text:
        raise AnswerError(f"cannot read {quoted(original)} as a number: write the value alone, without '±' and an uncertainty")
    if _DECIMAL_COMMA.fullmatch(text):
        whole, _, fraction = text.partition(",")
        digits = whole.lstrip("+-")
        # 1,000 may be a thousands separator or a decimal comma; 0,976 and 012,345 can only be decimal commas.
        if len(fraction) == 3 and int(digits[0]) != 0:
            raise AnswerError(f"write {whole}{fraction} without a thousands separator, or {whole}.{fraction} with a decimal point")
        raise AnswerError(f"write decimals with a point: {whole}.{fraction}, not {original}")
    return evaluate_constant(original)  # parse_formula reads the minus signs itself; messages show the original


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class NumberAnswer(Tolerances, AnswerSpec):
    """A single real number, e.g. a loss value or one derivative.

    Written as a number (``0.25``) or as text holding a constant expression (``"1/4"``, ``"2*pi"``,
    ``"cos(0.5)"``). Accepted when ``|actual - expected| <= abs_tol + rel_tol * |expected|`` (numpy ``isclose``
    semantics). The key's value is a float. A wrong value gets a hint when it has the opposite sign of the key
    or is the key rounded to the decimal places written (:func:`~grader.answers.base.number_hint`).
    """

    type: Literal["number"] = "number"
    """Tag of this answer type."""

    def parse(self, raw: Any) -> float:
        if raw is None:
            raise AnswerError("no answer given")
        return parse_real(raw)

    def check(self, actual: float, expected: float, ctx: CheckContext) -> Verdict:
        expected = _finite_key(expected)
        if not math.isfinite(actual):
            return invalid(f"your answer is {format_number(actual)}; give a finite number")
        difference = abs(actual - expected)
        tolerance = self.tolerance_for(expected)
        if difference <= tolerance:
            return correct()
        yours, key = format_pair(actual, expected)
        return scored(
            0.0,
            with_hint(f"your value {yours} is not within the tolerance of the expected value",
                      number_hint(actual, expected, tolerance)),
            [f"yours {yours}, expected {key}: difference {difference:.3g} > tolerance {tolerance:.3g}"],
        )

    def fraction(self, actual: float, expected: float, ctx: CheckContext) -> float:
        expected = _finite_key(expected)
        return 1.0 if math.isfinite(actual) and abs(actual - expected) <= self.tolerance_for(expected) else 0.0

    def rounded_from(self, actual: float, value: Any) -> str | None:
        value = float(value)
        decimals = decimals_of(actual)
        if decimals is None or not math.isfinite(value) or not is_rounding(actual, value, decimals):
            return None
        needed = decimals_needed(self.tolerance_for(value))
        more = f"; this part needs at least {places_text(needed)}" if needed is not None and needed > decimals else ""
        return f"rounded to {places_text(decimals)}{more}"

    def to_json(self, actual: float) -> int | float | str:
        return number_to_json(actual)

    def expected_json(self, expected: float) -> int | float | str:
        return number_to_json(expected)

    @property
    def format_hint(self) -> str:
        return f"a number ({self.precision_hint}), e.g. 0.25 (or an expression in quotes such as \"1/4\" or \"2*pi\")"


def _finite_key(expected: Any) -> float:
    """The key's value as a float; ValueError (the author's fault) when it is NaN or infinite."""
    expected = float(expected)
    if not math.isfinite(expected):
        raise ValueError(f"number answer: the key's value is {expected}, not a finite number")
    return expected
