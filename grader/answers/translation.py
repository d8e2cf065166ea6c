"""The ``translation`` answer type: for each pooled unit, a shift of the image that leaves its value unchanged.

Exercise 3d of the week-7 sheet: "for each output unit of the max-pooling layer, find a translation of the
original image under which its value is invariant". Units are 0-based indices ``i,j,k`` of the pooled volume
``(H', W', K)``; a shift ``[dy, dx]`` moves the image ``dy`` rows down and ``dx`` columns right (negative:
up/left), zeros filling in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from grader.answers.base import AnswerError, AnswerSpec, CheckContext, bounded_text, describe_raw, scored
from grader.answers.references import Shift, TranslationReference, Unit
from grader.engine.formula import read_minus_signs
from grader.result import Verdict

MAX_UNITS = 10_000
"""Most units read in one answer."""
MAX_RANK = 8
MAX_OFFSET = 10**6
MAX_LISTED = 3
"""How many wrong units the feedback itself names (details name all)."""
_SPLIT = re.compile(r"\s*[,;\s]\s*")
_NONE_WORDS = {"none", "no", "null", "-"}


@dataclass(frozen=True)
class Shifts:
    """A parsed answer: shifts by unit (written as a mapping) or in row-major unit order (written as a list).

    Exactly one of the two is set. A shift of None says "no such translation exists for this unit".
    """

    by_unit: dict[Unit, Shift | None] | None = None
    in_order: tuple[Shift | None, ...] | None = None


def unit_text(unit: Unit) -> str:
    return ",".join(map(str, unit))


def _strip_brackets(text: str) -> str:
    if text[:1] in "([" and text[-1:] in ")]":
        return text[1:-1].strip()
    return text


def _whole(item: Any, what: str) -> int:
    if isinstance(item, bool):
        raise AnswerError(f"{what} is {describe_raw(item)}; expected a whole number")
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    if isinstance(item, str) and re.fullmatch(r"[+-]?\d{1,9}", read_minus_signs(item.strip())):
        item = int(read_minus_signs(item.strip()))  # "−1" pasted from a PDF is -1, as "-1" is
    if not isinstance(item, int):
        raise AnswerError(f"{what} is {describe_raw(item)}; expected a whole number")
    if abs(item) > MAX_OFFSET:
        raise AnswerError(f"{what} is too large")
    return item


def parse_unit(key: Any) -> Unit:
    """A unit written ``"0,1,1"`` (also ``"(0, 1, 1)"``, ``"0 1 1"``, or an int for rank 1) as a tuple."""
    if isinstance(key, int) and not isinstance(key, bool):
        pieces: list[Any] = [key]
    elif isinstance(key, str):
        text = _strip_brackets(bounded_text(key, "a unit"))
        pieces = _SPLIT.split(text) if text else []
    else:
        raise AnswerError(f"a unit is written like \"0,1,1\", got {describe_raw(key)}")
    if not pieces or len(pieces) > MAX_RANK:
        raise AnswerError(f"cannot read the unit {key!r}: write its 0-based index like \"0,1,1\"")
    unit = tuple(_whole(piece, f"in unit {key!r}, an index") for piece in pieces)
    if min(unit) < 0:
        raise AnswerError(f"unit {key!r}: indices are 0-based and not negative")
    return unit


def parse_shift(raw: Any, where: str) -> Shift | None:
    """A shift ``[dy, dx]`` (or ``"(dy, dx)"``); None for ``null``/``"none"`` (no such translation)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        text = _strip_brackets(bounded_text(raw, where))
        if text.casefold() in _NONE_WORDS:
            return None
        items: list[Any] = _SPLIT.split(text) if text else []
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise AnswerError(f"{where}: expected a shift [dy, dx] (or none), got {describe_raw(raw)}")
    if len(items) != 2:
        raise AnswerError(f"{where}: expected a shift [dy, dx] of two whole numbers, got {len(items)} item(s)")
    return (_whole(items[0], f"{where}: dy"), _whole(items[1], f"{where}: dx"))


class TranslationAnswer(AnswerSpec):
    """For each output unit of a pooling layer, a translation of the input image that leaves its value unchanged.

    Written as a mapping from unit to shift, ``{"0,0,0": [0, 1], "0,1,1": [1, 0], ...}`` (units 0-based
    ``i,j,k``; ``[dy, dx]`` = dy rows down, dx columns right, negative for up/left; ``none`` when no translation
    keeps the value), or as a list of shifts in row-major unit order. The key's value is a
    :class:`~grader.answers.references.TranslationReference`; any shift the engine finds invariant is right.
    The fraction is the share of units answered right.
    """

    type: Literal["translation"] = "translation"
    """Tag of this answer type."""

    def parse(self, raw: Any) -> Shifts:
        if raw is None:
            raise AnswerError("no answer given")
        if isinstance(raw, dict):
            if len(raw) > MAX_UNITS:
                raise AnswerError(f"the answer names {len(raw)} units; at most {MAX_UNITS} are read")
            by_unit: dict[Unit, Shift | None] = {}
            for key, value in raw.items():
                unit = parse_unit(key)
                if unit in by_unit:
                    raise AnswerError(f"unit {unit_text(unit)} is given twice")
                by_unit[unit] = parse_shift(value, f"unit {unit_text(unit)}")
            return Shifts(by_unit=by_unit)
        if isinstance(raw, (list, tuple)):
            if len(raw) > MAX_UNITS:
                raise AnswerError(f"the answer lists {len(raw)} shifts; at most {MAX_UNITS} are read")
            return Shifts(in_order=tuple(parse_shift(item, f"shift {n}") for n, item in enumerate(raw, start=1)))
        raise AnswerError(
            f"expected a mapping from unit to shift such as {{\"0,0,0\": [0, 1]}}, got {describe_raw(raw)}"
        )

    def check(self, actual: Shifts, expected: TranslationReference, ctx: CheckContext) -> Verdict:
        if not isinstance(expected, TranslationReference):
            raise ValueError(f"translation answer: the key's value is a {type(expected).__name__}")
        units = expected.units
        problems: list[str] = []
        if actual.in_order is not None:
            if len(actual.in_order) > len(units):
                return scored(0.0, f"you listed {len(actual.in_order)} shifts but there are {len(units)} units")
            given: dict[Unit, Shift | None] = dict(zip(units, actual.in_order))
        else:
            given = dict(actual.by_unit or {})
            known = set(units)
            unknown = [unit for unit in given if unit not in known]
            if unknown:
                problems.append(
                    "no such unit: " + ", ".join(unit_text(u) for u in unknown[:MAX_LISTED])
                    + (" ..." if len(unknown) > MAX_LISTED else "")
                    + f" (units are 0-based i,j,k from {unit_text(units[0])} to {unit_text(units[-1])})"
                )
        missing_units = [unit for unit in units if unit not in given]
        right = 0
        for unit in units:
            if unit not in given:
                continue
            shift = given[unit]
            name = unit_text(unit)
            if shift is None:
                if expected.example.get(unit) is None:
                    right += 1
                else:
                    problems.append(f"unit {name}: there is a translation that keeps its value")
            elif shift == (0, 0):
                problems.append(f"unit {name}: (0, 0) does not move the image")
            elif max(abs(shift[0]), abs(shift[1])) > expected.max_shift:
                problems.append(
                    f"unit {name}: the shift {shift} is larger than {expected.max_shift} pixels in some direction"
                )
            elif expected.is_invariant(unit, shift):
                right += 1
            else:
                problems.append(f"unit {name}: shifting by {shift} changes its value")
        if missing_units:
            problems.append("no shift given for unit" + ("s " if len(missing_units) > 1 else " ")
                            + ", ".join(unit_text(u) for u in missing_units))
        if right == len(units) and not problems:
            return scored(1.0)
        wrong = len(units) - right
        shown = "; ".join(problems[:MAX_LISTED]) + ("; ..." if len(problems) > MAX_LISTED else "")
        summary = f"{wrong} of {len(units)} units are not right" if wrong else "every unit is right"
        if wrong and _fits_swapped(given, expected):
            summary += (
                "; every shift you gave keeps its unit when read as [dx, dy]: write each as [dy, dx], rows down first, "
                "then columns right"
            )
        return scored(right / len(units), f"{summary}: {shown}", problems)

    def to_json(self, actual: Shifts) -> Any:
        if actual.in_order is not None:
            return [None if s is None else list(s) for s in actual.in_order]
        return {unit_text(u): None if s is None else list(s) for u, s in (actual.by_unit or {}).items()}

    def expected_json(self, expected: TranslationReference) -> dict[str, list[int] | None]:
        return {
            unit_text(unit): None if expected.example.get(unit) is None else list(expected.example[unit])  # type: ignore[arg-type]
            for unit in expected.units
        }

    @property
    def format_hint(self) -> str:
        return (
            "a mapping from unit (0-based \"i,j,k\") to shift [dy, dx] (dy rows down, dx columns right, "
            "negative for up/left; none if no translation works), e.g. {\"0,0,0\": [0, 1], \"0,0,1\": [-1, 0]}"
        )


def _fits_swapped(given: dict[Unit, Shift | None], expected: TranslationReference) -> bool:
    """Whether every shift given for a unit of the key keeps that unit with its two numbers swapped, while some do not
    as written: the student wrote [dx, dy] (columns first)."""
    units = set(expected.units)
    shifts = [(unit, shift) for unit, shift in given.items() if shift is not None and unit in units]
    if not shifts or any(max(abs(shift[0]), abs(shift[1])) > expected.max_shift for _, shift in shifts):
        return False
    return all(expected.is_invariant(unit, (shift[1], shift[0])) for unit, shift in shifts) and not all(
        expected.is_invariant(unit, shift) for unit, shift in shifts
    )
