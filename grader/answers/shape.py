"""The ``shape`` answer type: the size of a volume such as ``4x4x2``, compared dimension by dimension."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from grader.answers.base import (
    AnswerError,
    AnswerSpec,
    CheckContext,
    bounded_text,
    correct,
    describe_raw,
    quoted,
    scored,
    whole_number_text,
)
from grader.result import Verdict

MAX_DIMENSIONS = 32
MAX_SIZE = 10**9
"""Largest size read for one dimension."""
_MAX_SIZE_DIGITS = len(str(MAX_SIZE))
_SEPARATOR = re.compile(r"\s*(?:[x×X*,]|\s)\s*")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_TORCH_SIZE = re.compile(r"(?:torch\.)?Size\s*\((.*)\)", re.DOTALL)
"""How PyTorch prints a shape: ``torch.Size([2, 3])``."""


def _size(item: Any, position: int) -> int:
    """One dimension as a positive int (``2``, ``2.0``, ``"2"``); AnswerError naming the 1-based position."""
    if isinstance(item, bool):
        raise AnswerError(f"dimension {position} is {describe_raw(item)}; expected a whole number")
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    if isinstance(item, str):  # "4", "４" (full-width); not "4²", "①" or "+4"
        text = item.strip()
        if text.isdecimal() and len(text) > _MAX_SIZE_DIGITS:
            raise AnswerError(f"dimension {position} is larger than {MAX_SIZE}")
        whole = whole_number_text(text, max_digits=_MAX_SIZE_DIGITS, signed=False)
        item = item if whole is None else whole
    if not isinstance(item, int):
        raise AnswerError(f"dimension {position} is {describe_raw(item)}; expected a whole number")
    if item < 1:
        raise AnswerError(f"dimension {position} is {item}; sizes are at least 1")
    if item > MAX_SIZE:
        raise AnswerError(f"dimension {position} is larger than {MAX_SIZE}")
    return item


def parse_shape(raw: Any) -> tuple[int, ...]:
    """``"2x2x2"``, ``"2 x 2 x 2"``, ``"2×2×2"``, ``"(2, 2, 2)"``, ``[2, 2, 2]`` or ``4`` as a tuple of sizes; also as
    numpy and PyTorch print shapes: ``"(3,)"`` and ``"torch.Size([2, 3])"``."""
    if isinstance(raw, bool):
        raise AnswerError(f"expected a shape such as 4x4x2, got {describe_raw(raw)}")
    if isinstance(raw, int):
        return (_size(raw, 1),)
    if isinstance(raw, str):
        text = bounded_text(raw, "the shape")
        if (printed_by_torch := _TORCH_SIZE.fullmatch(text)) is not None:
            text = printed_by_torch.group(1).strip()
        if text[:1] in _BRACKETS and text[-1:] == _BRACKETS[text[:1]]:
            text = text[1:-1].strip()
        if text.endswith(","):  # a tuple as Python prints one of one size, (3,), as numpy's .shape does
            text = text[:-1].rstrip()
        if not text:
            got = f"no sizes in {quoted(raw.strip())}" if raw.strip() else "empty text"
            raise AnswerError(f"expected a shape such as 4x4x2, got {got}")
        items: list[Any] = [piece for piece in _SEPARATOR.split(text)]
        if any(not piece for piece in items):
            raise AnswerError(f"cannot read {quoted(raw.strip())} as a shape: write the sizes like 4x4x2 or [4, 4, 2]")
        for position, piece in enumerate(items, start=1):
            if not piece.isdecimal():  # _size reads it (str.isdecimal: digits int() reads)
                raise AnswerError(
                    f"cannot read {quoted(raw.strip())} as a shape: dimension {position} is {quoted(piece)}, "
                    "expected a whole number (write the sizes like 4x4x2 or [4, 4, 2])"
                )
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
        if not items:
            raise AnswerError("expected a shape such as 4x4x2, got an empty list")
    else:
        raise AnswerError(f"expected a shape such as 4x4x2, got {describe_raw(raw)}")
    if len(items) > MAX_DIMENSIONS:
        raise AnswerError(f"the shape has {len(items)} dimensions; at most {MAX_DIMENSIONS} are read")
    return tuple(_size(item, position) for position, item in enumerate(items, start=1))


class ShapeAnswer(AnswerSpec):
    """The size of a volume, e.g. ``4x4x2`` for height x width x depth.

    Written as ``"4x4x2"``, ``"4 x 4 x 2"``, ``"4×4×2"``, ``"(4, 4, 2)"`` or ``[4, 4, 2]``, or as numpy and PyTorch
    print a shape (``(3,)``, ``torch.Size([4, 4, 2])``). The key's value is a
    tuple of ints; the order of the dimensions matters (the prompt says which order).
    """

    type: Literal["shape"] = "shape"
    """Tag of this answer type."""
    axes: list[str] | None = Field(default=None, min_length=1)
    """Names of the dimensions for feedback, e.g. ``[height, width, depth]`` (default: first, second, ...)."""
    partial: bool = False
    """Give partial credit: the fraction of dimensions right (only when the number of dimensions is right)."""

    def parse(self, raw: Any) -> tuple[int, ...]:
        if raw is None:
            raise AnswerError("no answer given")
        return parse_shape(raw)

    def _name(self, axis: int) -> str:
        if self.axes is not None and axis < len(self.axes):
            return self.axes[axis]
        return f"dimension {axis + 1}"

    def check(self, actual: tuple[int, ...], expected: tuple[int, ...], ctx: CheckContext) -> Verdict:
        expected = tuple(int(n) for n in expected)
        if self.axes is not None and len(self.axes) != len(expected):
            raise ValueError(f"shape answer: axes {self.axes} name {len(self.axes)} dimensions, the key has {len(expected)}")
        if actual == expected:
            return correct()
        shown = "x".join(map(str, actual))
        if len(actual) != len(expected):
            return scored(
                0.0,
                f"your shape {shown} has {len(actual)} dimension{'s' if len(actual) != 1 else ''}; "
                f"the expected shape has {len(expected)}",
            )
        differ = [axis for axis in range(len(expected)) if actual[axis] != expected[axis]]
        right = len(expected) - len(differ)
        names = ", ".join(self._name(axis) for axis in differ)
        details = [f"{self._name(a)}: yours {actual[a]}, expected {expected[a]}" for a in differ]
        if sorted(actual) == sorted(expected):
            details.append("your sizes are right but in another order")
        return scored(
            right / len(expected) if self.partial else 0.0,
            f"your shape {shown} differs in {names}",
            details,
        )

    def to_json(self, actual: tuple[int, ...]) -> str:
        return "x".join(map(str, actual))

    def expected_json(self, expected: tuple[int, ...]) -> str:
        return "x".join(str(int(n)) for n in expected)

    @property
    def format_hint(self) -> str:
        order = f" ({' x '.join(self.axes)})" if self.axes else ""
        return f"sizes separated by x, e.g. \"4x4x2\"{order}"
