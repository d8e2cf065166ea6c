"""The ``boolean`` answer type: yes or no (``Is it possible to find ... ?``)."""

from __future__ import annotations

from typing import Any, Literal

from grader.answers.base import AnswerError, AnswerSpec, CheckContext, bounded_text, correct, describe_raw, scored
from grader.result import Verdict

_WORDS: dict[str, bool] = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}


def _word(value: bool) -> str:
    return "yes" if value else "no"


class BooleanAnswer(AnswerSpec):
    """Yes or no. Written as ``yes``/``no``, ``y``/``n`` or ``true``/``false`` (any case). The key's value is a bool."""

    type: Literal["boolean"] = "boolean"
    """Tag of this answer type."""

    def parse(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            text = bounded_text(raw, "the answer").casefold()
            if text in _WORDS:
                return _WORDS[text]
        raise AnswerError(f"expected yes or no, got {describe_raw(raw)}")

    def check(self, actual: bool, expected: bool, ctx: CheckContext) -> Verdict:
        if not isinstance(expected, bool):
            raise ValueError(f"boolean answer: the key's value {expected!r} is not a bool")
        if actual == expected:
            return correct()
        return scored(0.0, f"your answer {_word(actual)!r} is not right")

    def to_json(self, actual: bool) -> bool:
        return bool(actual)

    def expected_json(self, expected: bool) -> bool:
        return bool(expected)

    @property
    def format_hint(self) -> str:
        return "yes or no"
