"""The ``array`` answer type: a nested list of numbers of any rank, compared entrywise within a tolerance.

Reading is built for hostile input: the nested list is walked one depth level at a time (no recursion), its
shape and entry count are known before any array is allocated, and it is rejected as soon as it is deeper
than :data:`MAX_DEPTH`, ragged, holds a non-number, or has more than ``max_entries`` entries. The array it gives
(a :class:`ReadArray`) keeps the entries as written, so hints can tell the decimal places of each.

A wrong array gets one hint in its feedback when one explanation fits: the key with its axes in another order
(:func:`matching_order`, any order of up to :data:`MAX_PERMUTED_RANK` axes, named with the part's ``axes``), the
key with the opposite sign in every differing entry, or the key rounded to the decimal places written in every
differing entry.
"""

from __future__ import annotations

import functools
import itertools
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
    decimals_needed,
    decimals_of,
    describe_raw,
    format_number,
    format_pair,
    half_unit,
    invalid,
    is_rounding,
    number_hint,
    number_to_json,
    opposite_sign_hint,
    places_text,
    rounding_hint,
    scale_factor,
    scale_hint,
    scored,
    with_hint,
)
from grader.result import Verdict

MAX_DEPTH = 32
"""Deepest nesting read (numpy itself allows 64 axes; no exercise needs more than a handful)."""
MAX_LISTED = 5
"""How many differing entries the details list by position."""
MAX_ROUNDING_CHECKED = 100_000
"""Most differing entries whose written decimal places are read for the rounding hint (each is read one by one);
an answer with more differing entries gets no rounding hint."""
MAX_PERMUTED_RANK = 4
"""Arrays of up to this many axes are tried in every order of their axes (4! = 24 orders) for a layout hint."""
_LARGEST_FLOAT_BITS = 1024  # ints of 1024 bits or more overflow float64


class ReadArray(np.ndarray):
    """A float64 array read from nested lists that keeps its entries as written: ``written`` holds them flat, in
    C order (ints, floats, :class:`~grader.answers.base.WrittenFloat`), for the decimal places a hint names.
    Arrays computed from it (views, arithmetic) are plain: their ``written`` is None."""

    written: list[Any] | None

    def __array_finalize__(self, obj: Any) -> None:
        self.written = None


def _kept(array: np.ndarray, written: list[Any]) -> ReadArray:
    """``array`` as a :class:`ReadArray` whose entries were written as ``written`` (flat, C order)."""
    read = array.view(ReadArray)
    read.written = written
    return read


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
        return _kept(np.asarray(float(raw), dtype=np.float64), [raw])
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
        return _kept(np.array(items, dtype=np.float64).reshape(shape), items)


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
    """An array as nested lists: whole values as ints, NaN/inf as ``"nan"``/``"inf"``/``"-inf"``, -0.0 as 0.0 (a
    relu's zero gradient is no negative number)."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        array = array + 0.0  # -0.0 + 0.0 is 0.0
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


# ---- layouts: the key's axes in another order -----------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def axis_orders(source: tuple[int, ...], target: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Every order of the axes of shape ``source`` (as ``np.transpose`` takes it) that gives shape ``target``,
    leaving out keeping them all in place. Axes of size 1 keep their order among themselves (swapping two of them
    moves no entry, so it would only be the same explanation twice). Empty for ranks other than 2 to
    :data:`MAX_PERMUTED_RANK`."""
    if len(source) != len(target) or not 2 <= len(source) <= MAX_PERMUTED_RANK:
        return ()
    orders = []
    for order in itertools.permutations(range(len(source))):
        ones = [axis for axis in order if source[axis] == 1]
        if tuple(source[axis] for axis in order) == target and ones == sorted(ones) and order != tuple(sorted(order)):
            orders.append(order)
    return tuple(orders)


def close_to(actual: np.ndarray, expected: np.ndarray, tolerances: Tolerances) -> np.ndarray:
    """Entrywise, whether ``|actual - expected| <= abs_tol + rel_tol * |expected|`` (two arrays of one shape; a
    boolean array of that shape, False where either is NaN)."""
    with np.errstate(over="ignore", invalid="ignore"):  # answers near 1e308 overflow to inf: not close
        return np.abs(actual - expected) <= tolerances.abs_tol + tolerances.rel_tol * np.abs(expected)


def matching_order(actual: np.ndarray, expected: np.ndarray, tolerances: Tolerances) -> tuple[int, ...] | None:
    """The one order of the key's axes (``expected.transpose(order)``) that gives the student's array within the
    tolerances, or None when no order does or several do: a key symmetric under some reordering has no single
    explanation, and no hint is better than a wrong one. Any shapes; the key has no NaN."""
    orders = axis_orders(expected.shape, actual.shape)
    if not orders or actual.size != expected.size:
        return None
    # A reordering keeps the values: sorted, they match within the loosest tolerance of any entry, or no order can
    # (one cheap test that rules out nearly every wrong answer before any order is tried).
    loosest = tolerances.abs_tol + tolerances.rel_tol * float(np.max(np.abs(expected), initial=0.0))
    with np.errstate(invalid="ignore", over="ignore"):
        if not np.all(np.abs(np.sort(actual, axis=None) - np.sort(expected, axis=None)) <= loosest):
            return None
    found = [
        order for order in orders if bool(np.all(close_to(actual, expected.transpose(order), tolerances)))
    ]
    return found[0] if len(found) == 1 else None


def layout_hint(order: tuple[int, ...], axes: list[str] | None) -> str:
    """What a student's array laid out as ``expected.transpose(order)`` did: named with the part's ``axes`` when
    it has them (``your array is laid out [filter, position] but the sheet asks for [position, filter]``)."""
    if axes is not None:
        return f"your array is laid out [{', '.join(axes[axis] for axis in order)}] but the sheet asks for [{', '.join(axes)}]"
    if order[:2] == (1, 0) and order[2:] == tuple(range(2, len(order))):
        return "your array is the correct one with rows and columns swapped (transposed)"
    yours = ", ".join(str(axis) for axis in range(len(order)))
    return (f"your array holds the correct values with the axes in another order: your axes {yours} are the "
            f"sheet's axes {', '.join(str(axis) for axis in order)}")


# ---- hints for values: the opposite sign, rounded too early ---------------------------------------------------
def sign_hint(actual: np.ndarray, expected: np.ndarray, wrong: np.ndarray, tolerance: np.ndarray) -> str:
    """A hint when every differing entry (``wrong``) is the negative of the key's entry, which is clearly not 0
    (:func:`~grader.answers.base.is_opposite_sign`); else ``""``. All four arrays have one shape; ``tolerance``
    holds each entry's accepted difference."""
    negated = np.abs(actual + expected) <= tolerance
    if not np.all((negated & (np.abs(expected) > tolerance))[wrong]):
        return ""
    if np.count_nonzero(wrong) == 1:
        return opposite_sign_hint()
    return "your array is the correct one with every sign flipped" if np.all(negated) else opposite_sign_hint("each of them")


def rounded_hint(
    actual: np.ndarray, expected: np.ndarray, wrong: np.ndarray, tolerance: np.ndarray, written: list[Any] | None
) -> str:
    """A hint when every differing entry (``wrong``) is the key's entry rounded to the decimal places it was written
    with (:func:`rounded_places`); else ``""``."""
    found = rounded_places(actual, expected, wrong, tolerance, written)
    if found is None:
        return ""
    decimals, needed = found
    return rounding_hint(decimals, needed, "it" if np.count_nonzero(wrong) == 1 else "each of them", computed=written is None)


def rounded_places(
    actual: np.ndarray, expected: np.ndarray, wrong: np.ndarray, tolerance: np.ndarray, written: list[Any] | None
) -> tuple[int | None, int | None] | None:
    """``(places, needed)`` when every differing entry (``wrong``) is ``expected``'s entry rounded to the decimal
    places it was written with (``written``: the entries as written, flat in C order; None for values the student's
    code computed, read from the floats' shortest forms); else None. ``places``: the places written, None when
    entries were written with different numbers of places; ``needed``: the places the strictest differing entry's
    ``tolerance`` needs, None when unknown or not more than written. A 0 (``0`` or ``0.000``) is no rounding on
    its own: it counts when the key's entry rounds to 0 at the most places the others were written with; nor is an
    entry with one significant digit (``-0.02`` for -0.0243): it counts when another entry, rounded with as many
    places, has two or more. None beyond :data:`MAX_ROUNDING_CHECKED` differing entries. All arrays have one
    shape."""
    positions = np.flatnonzero(wrong)
    yours, keys = actual.reshape(-1)[positions], expected.reshape(-1)[positions]
    if len(positions) > MAX_ROUNDING_CHECKED or not np.all(np.abs(yours - keys) <= half_unit(0)):
        return None  # too many to read one by one, or one further off than any rounding to a whole number or finer
    places: set[int] = set()
    zeros: list[float] = []  # the key's entries where the student wrote 0
    small: list[int] = []  # places of entries rounded right but with one significant digit (-0.02 for -0.0243)
    for position, value, key in zip(positions.tolist(), yours.tolist(), keys.tolist(), strict=True):
        decimals = decimals_of(written[position] if written is not None else value)
        if value == 0:
            zeros.append(key)
        elif decimals is None or decimals < 0:
            return None
        elif is_rounding(value, key, decimals):
            places.add(decimals)
        elif abs(value - key) <= half_unit(decimals):
            small.append(decimals)  # alone no rounding (a slip gives one digit as often), next to others one
        else:
            return None
    if not places or any(abs(key) > half_unit(max(places)) for key in zeros) or any(d not in places for d in small):
        return None
    needs = [decimals_needed(t) for t in tolerance.reshape(-1)[positions].tolist()]
    known = [need for need in needs if need is not None]
    needed = max(known) if len(known) == len(needs) and max(known) > max(places) else None
    return (next(iter(places)) if len(places) == 1 else None), needed


# ---- the answer type ---------------------------------------------------------------------------------------

def _yours_and_expected(actual: Any, expected: Any) -> str:
    """``yours 0.5431, expected 0.5430590`` for two numbers that differ (digits enough to tell them apart)."""
    yours, key = format_pair(float(actual), float(expected))
    return f"yours {yours}, expected {key}"

class ArrayAnswer(Tolerances, AnswerSpec):
    """A numeric array of any rank (a volume, a filter bank, a gradient), written as nested lists.

    The key's value is a float64 ``np.ndarray``. Each entry is accepted when
    ``|actual - expected| <= abs_tol + rel_tol * |expected|``; the answer is correct when every entry is. A wrong
    answer's feedback names its layout when it is the key with the axes in another order, or says that the
    differing entries have the opposite sign or are rounded too early, when that explains every one of them.
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
        written = actual.written if isinstance(actual, ReadArray) else None
        actual = np.asarray(actual, dtype=np.float64)
        expected = self._usable_key(expected)
        if actual.shape != expected.shape:
            return invalid(self._shape_feedback(actual, expected))
        finite = np.isfinite(actual)
        if not finite.all():
            bad = np.argwhere(~finite)
            first = [int(i) for i in bad[0]]
            return invalid(
                f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not a finite number "
                f"(first {_where(first)}: {format_number(float(actual[tuple(first)]))})"
            )
        difference, wrong = self._differences(actual, expected)
        count = int(np.count_nonzero(wrong))
        if count == 0:
            return correct()
        size = expected.size
        fraction = self._fraction_right(count, size)
        if expected.ndim == 0:
            value = written[0] if written is not None else float(actual)
            return scored(
                fraction,
                with_hint(
                    f"your value {format_pair(float(actual), float(expected))[0]} is not within the tolerance of the expected value",
                    number_hint(value, float(expected), self.tolerance_for(float(expected)), computed=written is None),
                ),
                [_yours_and_expected(actual, expected)],
            )
        return scored(
            fraction,
            with_hint(f"{count} of {size} entries differ from the expected values", self._values_hint(actual, expected, wrong, written)),
            self._value_details(actual, expected, difference, wrong),
        )

    def fraction(self, actual: np.ndarray, expected: np.ndarray, ctx: CheckContext) -> float:
        actual = np.asarray(actual, dtype=np.float64)
        expected = self._usable_key(expected)
        if actual.shape != expected.shape or not np.isfinite(actual).all():
            return 0.0
        count = int(np.count_nonzero(self._differences(actual, expected)[1]))
        return 1.0 if count == 0 else self._fraction_right(count, expected.size)

    def _usable_key(self, expected: np.ndarray) -> np.ndarray:
        """The key's array as float64; ValueError (the author's fault) when it holds NaN or inf or has another number
        of axes than ``axes`` names."""
        expected = np.asarray(expected, dtype=np.float64)
        if self.axes is not None and len(self.axes) != expected.ndim:
            raise ValueError(
                f"array answer: axes {self.axes} name {len(self.axes)} axes, the key's array has shape "
                f"{expected.shape}"
            )
        if not np.isfinite(expected).all():
            raise ValueError("array answer: the key's array holds NaN or inf")
        return expected

    def _differences(self, actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``|actual - expected|`` and where it exceeds the tolerance (two arrays of the key's shape; ``actual`` is
        finite and of that shape)."""
        with np.errstate(over="ignore", invalid="ignore"):  # answers near 1e308 overflow to inf: still wrong
            difference = np.abs(actual - expected)
            return difference, difference > self._tolerance(expected)

    def _tolerance(self, expected: np.ndarray) -> np.ndarray:
        """Each entry's accepted ``|actual - expected|`` (an array of ``expected``'s shape)."""
        return self.abs_tol + self.rel_tol * np.abs(expected)

    def _fraction_right(self, count: int, size: int) -> float:
        """The fraction earned with ``count`` of ``size`` entries wrong (at least one): the share right with partial
        credit, else 0."""
        return (size - count) / size if self.partial else 0.0

    def _shape_feedback(self, actual: np.ndarray, expected: np.ndarray) -> str:
        """``expected shape (6, 2), got (2, 6)`` and a hint: the layout the values show when one order of the key's
        axes gives them (:func:`matching_order`), else a guess from the sizes (:func:`shape_hint`)."""
        got = str(actual.shape) if actual.shape else "a single number"
        order = matching_order(actual, expected, self)
        hint = layout_hint(order, self.axes) if order is not None else shape_hint(actual.shape, expected.shape, self.axes)
        return with_hint(f"expected {_describe_shape(expected.shape)}, got {got}", hint)

    def _values_hint(self, actual: np.ndarray, expected: np.ndarray, wrong: np.ndarray, written: list[Any] | None) -> str:
        """One explanation of an array of the right shape whose ``wrong`` entries differ: its axes in another order,
        the opposite sign, rounded too early, or every entry a whole factor off (in that order of preference); ``""``
        when none fits."""
        order = matching_order(actual, expected, self)
        if order is not None:
            return layout_hint(order, self.axes)
        tolerance = self._tolerance(expected)
        hint = sign_hint(actual, expected, wrong, tolerance) or rounded_hint(actual, expected, wrong, tolerance, written)
        factor = None if hint else scale_factor(actual, expected, tolerance)
        if factor is not None:
            return scale_hint(factor, "every entry is")
        return hint or _offset_hint(actual, expected, tolerance)

    def _value_details(
        self, actual: np.ndarray, expected: np.ndarray, difference: np.ndarray, wrong: np.ndarray
    ) -> list[str]:
        """Where the values differ: the largest difference and the first few positions."""
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
        return details  # a transposed array is named in the feedback (:func:`matching_order`), not again here

    def rounded_from(self, actual: np.ndarray, value: np.ndarray) -> str | None:
        written = actual.written if isinstance(actual, ReadArray) else None
        actual, value = np.asarray(actual, dtype=np.float64), np.asarray(value, dtype=np.float64)
        if actual.shape != value.shape or actual.size == 0 or not (np.isfinite(actual).all() and np.isfinite(value).all()):
            return None
        _, wrong = self._differences(actual, value)
        found = rounded_places(actual, value, wrong, self._tolerance(value), written) if wrong.any() else None
        if found is None:
            return None
        decimals, needed = found
        rounded = f"rounded to {places_text(decimals)}" if decimals is not None else "rounded too early"
        return rounded + (f"; this part needs at least {places_text(needed)}" if needed is not None else "")

    def to_json(self, actual: np.ndarray) -> Any:
        return array_to_json(actual)

    def expected_json(self, expected: np.ndarray) -> Any:
        return array_to_json(np.asarray(expected, dtype=np.float64))

    @property
    def format_hint(self) -> str:
        layout = f" with axes ({', '.join(self.axes)})" if self.axes else ""
        return f"a nested list of numbers{layout}, first index outermost, e.g. [[1, 2], [3, 4]]; each entry {self.precision_hint}"


def _offset_hint(actual: np.ndarray, expected: np.ndarray, tolerance: np.ndarray) -> str:
    """``every entry is the correct value plus 0.5 (...)`` when the answer (two entries or more, of the key's shape)
    is the key shifted by one constant, beyond the tolerance, within it everywhere: a bias added twice or left out, a
    term counted in every entry. ``""`` otherwise."""
    if expected.size < 2:
        return ""
    with np.errstate(over="ignore", invalid="ignore"):
        shift = actual - expected
        constant = float(np.median(shift))
        fits = np.abs(shift - constant) <= tolerance
    if not (math.isfinite(constant) and bool(np.all(fits)) and bool(np.all(np.abs(constant) > tolerance))):
        return ""
    size = f"plus {format_number(constant)}" if constant > 0 else f"minus {format_number(-constant)}"
    return f"every entry is the correct value {size} (a term, such as a bias, added to every entry or left out of it?)"

