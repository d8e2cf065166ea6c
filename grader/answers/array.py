"""The ``array`` answer type: a nested list of numbers of any rank, compared entrywise within a tolerance.

Reading is built for hostile input: the nested list is walked one depth level at a time (no recursion), its
shape and entry count are known before any array is allocated, and it is rejected as soon as it is deeper
than :data:`MAX_DEPTH`, ragged, holds a non-number, or has more than ``max_entries`` entries.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from grader.answers.base import (
    AnswerError,
    AnswerSpec,
    CheckContext,
    Tolerances,
    correct,
    describe_raw,
    format_number,
    format_pair,
    invalid,
    number_to_json,
    scored,
)
from grader.result import Verdict

MAX_DEPTH = 32
"""Deepest nesting read (numpy itself allows 64 axes; no exercise needs more than a handful)."""
MAX_LISTED = 5
"""How many differing entries the details list by position."""
_LARGEST_FLOAT_BITS = 1024  # ints of 1024 bits or more overflow float64


# ---- reading -----------------------------------------------------------------------------------------------
def _index_of(position: int, shape: list[int]) -> list[int]:
    """The index ``[i, j, ...]`` of the item at flat ``position`` among the items of shape ``shape``."""
    return [int(i) for i in np.unravel_index(position, tuple(shape))] if shape else []


def _where(index: list[int]) -> str:
    return f"at index {index}" if index else "at the top level"


def _leaf_problem(item: Any) -> str | None:
    """Why ``item`` cannot be an entry of a numeric array, or None when it can."""
    if isinstance(item, bool) or isinstance(item, np.bool_):
        return f"is {describe_raw(bool(item))}; expected a number"
    if isinstance(item, int):
        if item.bit_length() >= _LARGEST_FLOAT_BITS:
            return "is a whole number too large for a floating-point number (at most about 1.8e308)"
        return None
    if isinstance(item, (float, np.integer, np.floating)):
        return None
    if isinstance(item, str):
        return f"is {describe_raw(item)}; {_number_as_text_hint(item)}"
    if item is None:
        return "is empty (null); expected a number"
    return f"is {describe_raw(item)}; expected a number"


def _number_as_text_hint(text: str) -> str:
    """What to do about an entry read as text: a number with a leading zero (``07``) or underscores (``1_000``) is
    text in an answer file, as is anything quoted."""
    plain = text.strip().lstrip("+-")
    if plain[:1] == "0" and plain[1:2].isdigit() and plain.replace(".", "", 1).isdigit():
        return f"write numbers without leading zeros ({text.strip()} is read as text) and without quotes"
    if "_" in plain and plain.replace("_", "").replace(".", "", 1).isdigit():
        return f"write numbers without underscores ({text.strip()} is read as text) and without quotes"
    return "write numbers without quotes"


def read_array(raw: Any, *, max_entries: int) -> np.ndarray:
    """A raw nested list of numbers (any rank; a single number for rank 0) as a float64 array.

    Non-finite entries (YAML ``.nan``, ``.inf``) are kept: the check reports them. Raises AnswerError naming
    the index of the first problem: too deep, ragged, not a number, or more than ``max_entries`` entries.
    """
    if isinstance(raw, np.ndarray):
        return _read_ndarray(raw, max_entries=max_entries)
    if not isinstance(raw, (list, tuple)):
        problem = _leaf_problem(raw)
        if problem is not None:
            raise AnswerError(f"expected a nested list of numbers, got {describe_raw(raw)}")
        return np.asarray(float(raw), dtype=np.float64)
    shape: list[int] = []
    level: list[Any] = [raw]  # every item of ``level`` is a list, at depth len(shape)
    while True:
        length = len(level[0])
        for position, item in enumerate(level):
            if len(item) != length:
                index = _index_of(position, shape)
                first = _index_of(0, shape)
                raise AnswerError(
                    f"the rows are not all the same length: the list {_where(index)} has {len(item)} "
                    f"item{'s' if len(item) != 1 else ''}, the one {_where(first)} has {length}"
                )
        shape.append(length)
        if len(shape) > MAX_DEPTH:
            raise AnswerError(f"the list is nested more than {MAX_DEPTH} levels deep")
        total = math.prod(shape)
        if total > max_entries:
            raise AnswerError(
                f"the array has at least {total} entries (its outer axes have shape {tuple(shape)}); "
                f"at most {max_entries} entries are read"
            )
        if total == 0:
            return np.zeros(tuple(shape), dtype=np.float64)
        items = [item for sequence in level for item in sequence]
        if isinstance(items[0], (list, tuple)):
            for position, item in enumerate(items):
                if not isinstance(item, (list, tuple)):
                    raise AnswerError(
                        f"the entry {_where(_index_of(position, shape))} {_leaf_problem(item) or 'is a number'}, "
                        f"but the entry {_where(_index_of(0, shape))} is a list: every row needs the same depth"
                    )
            level = items
            continue
        for position, item in enumerate(items):
            kind = type(item)
            if kind is float or (kind is int and item.bit_length() < _LARGEST_FLOAT_BITS):
                continue
            problem = _leaf_problem(item)
            if problem is not None:
                raise AnswerError(f"the entry {_where(_index_of(position, shape))} {problem}")
        return np.array(items, dtype=np.float64).reshape(shape)


def _read_ndarray(raw: np.ndarray, *, max_entries: int) -> np.ndarray:
    """A numpy array (from a code submission) checked like a nested list: numeric dtype, size, rank."""
    if raw.dtype.kind == "b":
        raise AnswerError("expected numbers, got an array of booleans")
    if raw.dtype.kind not in "iuf":
        raise AnswerError(f"expected an array of numbers, got an array of dtype {raw.dtype}")
    if raw.ndim > MAX_DEPTH:
        raise AnswerError(f"the array has {raw.ndim} axes; at most {MAX_DEPTH} are read")
    if raw.size > max_entries:
        raise AnswerError(f"the array has shape {raw.shape} ({raw.size} entries); at most {max_entries} are read")
    return np.asarray(raw, dtype=np.float64)


def array_to_json(array: np.ndarray) -> Any:
    """An array as nested lists: whole values as ints, NaN/inf as ``"nan"``/``"inf"``/``"-inf"``."""
    finite = np.isfinite(array)
    if finite.all():
        if np.all(array == np.round(array)) and np.all(np.abs(array) < 2**53):
            return array.astype(np.int64).tolist()
        return array.tolist()
    flat = [number_to_json(x) for x in array.reshape(-1).tolist()]
    return np.array(flat, dtype=object).reshape(array.shape).tolist()


# ---- shapes ------------------------------------------------------------------------------------------------
def _describe_shape(shape: tuple[int, ...]) -> str:
    return "a single number" if shape == () else f"shape {shape}"


def _axis_order(actual: tuple[int, ...], expected: tuple[int, ...]) -> tuple[int, ...]:
    """For each axis of ``actual``, the axis of ``expected`` of the same size (equal sizes kept in order)."""
    unused = list(range(len(expected)))
    order = []
    for size in actual:
        axis = next(a for a in unused if expected[a] == size)
        unused.remove(axis)
        order.append(axis)
    return tuple(order)


def shape_hint(actual: tuple[int, ...], expected: tuple[int, ...], axes: list[str] | None) -> str:
    """A guess at why the shapes differ (transposed, channels first, an extra axis of size 1), or ``""``."""
    if len(actual) == len(expected) >= 2 and sorted(actual) == sorted(expected):
        order = _axis_order(actual, expected)
        if axes is not None:
            return f"your axes look like ({', '.join(axes[a] for a in order)}); this answer uses ({', '.join(axes)})"
        if len(expected) == 2:
            return "it looks transposed (rows and columns swapped)"
        if len(expected) == 3 and order == (2, 0, 1):
            return "it looks like channels first (C, H, W); this sheet uses (H, W, C)"
        if order == tuple(reversed(range(len(expected)))):
            return "the axes look reversed"
        return "the sizes are right but the axes are in another order"
    squeezed_actual = tuple(n for n in actual if n != 1)
    squeezed_expected = tuple(n for n in expected if n != 1)
    if squeezed_actual == squeezed_expected:
        if len(actual) > len(expected):
            return "it has extra axes of size 1 (a leading batch axis?)"
        return "it lacks an axis of size 1"
    if math.prod(actual) == math.prod(expected):
        return f"it has the right number of entries ({math.prod(expected)}) arranged in another shape"
    return ""


# ---- the answer type ---------------------------------------------------------------------------------------

def _yours_and_expected(actual: Any, expected: Any) -> str:
    """``yours 0.5431, expected 0.5430590`` for two numbers that differ (digits enough to tell them apart)."""
    yours, key = format_pair(float(actual), float(expected))
    return f"yours {yours}, expected {key}"

class ArrayAnswer(Tolerances, AnswerSpec):
    """A numeric array of any rank (a volume, a filter bank, a gradient), written as nested lists.

    The key's value is a float64 ``np.ndarray``. Each entry is accepted when
    ``|actual - expected| <= abs_tol + rel_tol * |expected|``; the answer is correct when every entry is.
    """

    type: Literal["array"] = "array"
    """Tag of this answer type."""
    partial: bool = False
    """Give partial credit: the fraction of entries within tolerance (otherwise all or nothing)."""
    max_entries: int = Field(default=1_000_000, ge=1)
    """Largest number of entries read; larger answers are rejected before any array is built."""
    axes: list[str] | None = None
    """Names of the axes for messages, e.g. ``[H, W, C]`` (one per axis of the key's array)."""

    def parse(self, raw: Any) -> np.ndarray:
        if raw is None:
            raise AnswerError("no answer given")
        return read_array(raw, max_entries=self.max_entries)

    def check(self, actual: np.ndarray, expected: np.ndarray, ctx: CheckContext) -> Verdict:
        expected = np.asarray(expected, dtype=np.float64)
        if self.axes is not None and len(self.axes) != expected.ndim:
            raise ValueError(
                f"array answer: axes {self.axes} name {len(self.axes)} axes, the key's array has shape "
                f"{expected.shape}"
            )
        if not np.isfinite(expected).all():
            raise ValueError("array answer: the key's array holds NaN or inf")
        if actual.shape != expected.shape:
            hint = shape_hint(actual.shape, expected.shape, self.axes)
            got = str(actual.shape) if actual.shape else "a single number"
            message = f"expected {_describe_shape(expected.shape)}, got {got}"
            return invalid(f"{message}; {hint}" if hint else message)
        finite = np.isfinite(actual)
        if not finite.all():
            bad = np.argwhere(~finite)
            first = [int(i) for i in bad[0]]
            return invalid(
                f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not a finite number "
                f"(first {_where(first)}: {format_number(float(actual[tuple(first)]))})"
            )
        with np.errstate(over="ignore", invalid="ignore"):  # answers near 1e308 overflow to inf: still wrong
            difference = np.abs(actual - expected)
            wrong = difference > self.abs_tol + self.rel_tol * np.abs(expected)
        count = int(np.count_nonzero(wrong))
        if count == 0:
            return correct()
        size = expected.size
        fraction = (size - count) / size if self.partial else 0.0
        if expected.ndim == 0:
            return scored(
                fraction,
                f"your value {format_pair(float(actual), float(expected))[0]} is not within the tolerance of the expected value",
                [_yours_and_expected(actual, expected)],
            )
        return scored(
            fraction,
            f"{count} of {size} entries differ from the expected values",
            self._value_details(actual, expected, difference, wrong),
        )

    def _value_details(
        self, actual: np.ndarray, expected: np.ndarray, difference: np.ndarray, wrong: np.ndarray
    ) -> list[str]:
        """Where the values differ: the largest difference, the first few positions, a transposition hint."""
        largest = [int(i) for i in np.unravel_index(int(np.argmax(difference)), difference.shape)]
        at = tuple(largest)
        details = [
            f"largest difference {format_number(float(difference[at]))} at {largest} "
            f"({_yours_and_expected(actual[at], expected[at])})"
        ]
        positions = np.argwhere(wrong)
        listed = ", ".join(
            f"{[int(i) for i in p]} ({_yours_and_expected(actual[tuple(p)], expected[tuple(p)])})"
            for p in positions[:MAX_LISTED]
        )
        more = f" and {len(positions) - MAX_LISTED} more" if len(positions) > MAX_LISTED else ""
        details.append(f"entries that differ: {listed}{more}")
        if actual.ndim >= 2 and actual.shape[0] == actual.shape[1]:
            swapped = np.swapaxes(actual, 0, 1)
            if np.all(np.abs(swapped - expected) <= self.abs_tol + self.rel_tol * np.abs(expected)):
                details.append("your array matches the key with rows and columns swapped (transposed?)")
        return details

    def to_json(self, actual: np.ndarray) -> Any:
        return array_to_json(actual)

    def expected_json(self, expected: np.ndarray) -> Any:
        return array_to_json(np.asarray(expected, dtype=np.float64))

    @property
    def format_hint(self) -> str:
        layout = f" with axes ({', '.join(self.axes)})" if self.axes else ""
        return f"a nested list of numbers{layout}, first index outermost, e.g. [[1, 2], [3, 4]]; each entry {self.precision_hint}"
