"""The ``integer`` answer type: one whole number (a size, a padding, a count), compared exactly."""

from __future__ import annotations

import math
from typing import Any, Literal

from grader.answers.base import (
    AnswerError,
    AnswerSpec,
    CheckContext,
    correct,
    describe_raw,
    format_exact,
    format_number,
    scored,
    whole_number_text,
)
from grader.answers.number import parse_real
from grader.result import Verdict

MAX_MAGNITUDE = 2**53
"""Largest |value| read: every whole number up to it is exact in a float64, so ``4.0`` and ``4`` agree."""


def parse_whole(raw: Any) -> int:
    """A raw answer as a Python int: an int, or a float/text/constant expression with a whole value."""
    if isinstance(raw, bool):
        raise AnswerError(f"expected a whole number, got {describe_raw(raw)}")
    if isinstance(raw, int):
        value = raw
    else:
        if isinstance(raw, str):
            whole = whole_number_text(raw.strip(), max_digits=20)
            if whole is not None:
                return _bounded(whole)
        real = parse_real(raw)  # AnswerError for text that is not a number (``²``, ``+-27``, ``five``)
        if math.isinf(real) and isinstance(raw, float):  # YAML's .inf, not a number too long to hold
            raise AnswerError(f"expected a whole number, got {format_number(real)}")
        if math.isinf(real):
            raise AnswerError(f"the whole number is too large: at most {MAX_MAGNITUDE} in absolute value is read")
        if math.isnan(real):
            raise AnswerError(f"expected a whole number, got {format_number(real)}")
        if not real.is_integer():
            raise AnswerError(f"expected a whole number, got {format_exact(real)}")
        value = int(real)
    return _bounded(value)


def _bounded(value: int) -> int:
    if abs(value) > MAX_MAGNITUDE:
        raise AnswerError(f"the whole number is too large: at most {MAX_MAGNITUDE} in absolute value is read")
    return value


class IntegerAnswer(AnswerSpec):
    """A whole number such as a volume size or a padding, compared exactly.

    Written as a whole number (``4``), a float with a whole value (``4.0``) or text holding a constant
    expression with a whole value (``"(4 + 2*1 - 3)/1 + 1"``); ``4.5`` is not read. The key's value is an int.
    """

    type: Literal["integer"] = "integer"
    """Tag of this answer type."""

    def parse(self, raw: Any) -> int:
        if raw is None:
            raise AnswerError("no answer given")
        return parse_whole(raw)

    def check(self, actual: int, expected: int, ctx: CheckContext) -> Verdict:
        if isinstance(expected, float):
            if not expected.is_integer():
                raise ValueError(f"integer answer: the key's value {expected} is not a whole number")
            expected = int(expected)
        if actual == expected:
            return correct()
        return scored(
            0.0,
            f"your value {actual} is not the expected whole number",
            [f"yours {actual}, expected {expected} (off by {actual - expected:+d})"],
        )

    def to_json(self, actual: int) -> int:
        return int(actual)

    def expected_json(self, expected: int) -> int:
        return int(expected)

    @property
    def format_hint(self) -> str:
        return "a whole number, e.g. 4"
