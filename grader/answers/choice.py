"""The ``choice`` answer type: one of a fixed list of options, matched ignoring case and spacing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from grader.answers.base import AnswerError, AnswerSpec, CheckContext, bounded_text, correct, describe_raw, scored
from grader.result import Verdict


def normalize(text: str) -> str:
    """``text`` compared ignoring case and runs of whitespace: ``"  Max  Pooling"`` -> ``"max pooling"``."""
    return " ".join(text.split()).casefold()


def _as_number(option: str) -> float | None:
    """The number an option's text reads as (``'1e-3'`` -> 0.001), or None."""
    try:
        return float(option)
    except ValueError:
        return None


class Position(int):
    """A 0-based position the engine computed (``argmax``/``argmin``), knowing how many positions it ranges over:
    ``among``, the size of the array it was taken over, the same in every variant (shapes do not vary)."""

    among: int

    def __new__(cls, position: int, among: int) -> Position:
        made = super().__new__(cls, position)
        made.among = among
        return made

    def __getnewargs__(self) -> tuple[int, int]:  # type: ignore[override]
        return (int(self), self.among)


@dataclass(frozen=True)
class OptionAt:
    """What the ``option`` op computes: the 0-based position of the right option of a ``choice`` part.

    The engine picks the position (``{op: option, at: {op: argmax, x: $y}}``); the key turns it into the option's
    text (:meth:`option`), so no answer is typed by hand and a plain number is never mistaken for a position.
    """

    position: int
    among: int | None = None
    """How many positions the computation of ``at`` ranges over in any variant: the size of argmax's/argmin's x, 2
    for a comparison; None when not known (a quantity or a literal position)."""

    def option(self, options: Sequence[str], where: str) -> str:
        """The option at :attr:`position`; ValueError (``where`` names the key) when ``at`` ranges over more
        positions than there are options, found from shapes alone (some variant would pick a position past the last
        option, whatever this one picks), or when this variant's position is past the last option."""
        listed = ", ".join(f"{i}: {option!r}" for i, option in enumerate(options))
        if self.among is not None and self.among > len(options):
            raise ValueError(
                f"{where} picks the option at a position among {self.among} (its 'at' is taken over {self.among} "
                f"entries), but there are only {len(options)} options ({listed}): a variant whose largest or smallest "
                f"entry is past position {len(options) - 1} would have no option; give one option per entry"
            )
        if self.position >= len(options):
            raise ValueError(
                f"{where} picks the option at position {self.position}, but there are only {len(options)} ({listed})"
            )
        return options[self.position]


class ChoiceAnswer(AnswerSpec):
    """One option out of ``options``, written as the option's text (case and spacing do not matter).

    The part's ``expected`` is ``{op: option, at: ...}``: the 0-based position of the right option, computed by
    the engine (``argmax``/``argmin`` of a quantity, or a comparison: false picks the first option, true the
    second). The key's value is that option (a str).
    """

    type: Literal["choice"] = "choice"
    """Tag of this answer type."""
    options: list[str] = Field(min_length=2)
    """The options offered, as shown to the student; no two may be equal ignoring case and spacing."""

    @field_validator("options", mode="before")
    @classmethod
    def _options_are_text(cls, options: Any) -> Any:
        if isinstance(options, list):
            for position, option in enumerate(options, start=1):
                if isinstance(option, bool):
                    raise ValueError(
                        f"option {position} was read as the boolean {str(option).lower()} (YAML reads an unquoted "
                        "yes/no/true/false that way); put it in quotes, e.g. 'yes'"
                    )
            return [str(option) if isinstance(option, (int, float)) else option for option in options]
        return options

    @model_validator(mode="after")
    def _options_are_distinct(self) -> ChoiceAnswer:
        seen: dict[str, str] = {}
        numbers: dict[float, str] = {}
        for option in self.options:
            key = normalize(option)
            if not key:
                raise ValueError("an option is empty")
            if key in seen:
                raise ValueError(f"options {seen[key]!r} and {option!r} are the same ignoring case and spacing")
            seen[key] = option
            number = _as_number(option)
            if number is not None and number in numbers:  # a student's 1e-1 is the number 0.1: which one?
                raise ValueError(f"options {numbers[number]!r} and {option!r} are the same number")
            if number is not None:
                numbers[number] = option
        return self

    def _listed(self) -> str:
        return ", ".join(repr(option) for option in self.options)

    def parse(self, raw: Any) -> str:
        if isinstance(raw, bool):
            # YAML 1.1 reads a bare yes/no/true/false as a bool; match it against the options as text.
            candidates = ("yes", "true") if raw else ("no", "false")
        elif isinstance(raw, (str, int, float)):
            candidates = (normalize(bounded_text(str(raw), "the answer")),)
        else:
            raise AnswerError(f"expected one of {self._listed()}, got {describe_raw(raw)}")
        for candidate in candidates:
            for option in self.options:
                if normalize(option) == candidate:
                    return option
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            # A number matches an option that reads as the same number: 1e-3 (read as 0.001) and an option '1e-3'.
            for option in self.options:
                if _as_number(option) == raw:
                    return option
        raise AnswerError(f"{describe_raw(raw)} is not one of the options: {self._listed()}")

    def check(self, actual: str, expected: str, ctx: CheckContext) -> Verdict:
        matches = [option for option in self.options if normalize(option) == normalize(str(expected))]
        if not matches:
            raise ValueError(f"choice answer: the key's value {expected!r} is not one of the options {self._listed()}")
        if actual == matches[0]:
            return correct()
        return scored(0.0, f"{actual!r} is not the right option")

    def to_json(self, actual: str) -> str:
        return actual

    def expected_json(self, expected: str) -> str:
        return str(expected)

    @property
    def format_hint(self) -> str:
        return f"one of {self._listed()}"
