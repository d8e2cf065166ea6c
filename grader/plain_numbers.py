"""Sheets write numbers as numbers, and yes/no as yes/no: a numeric setting given as text (``points: "2"``,
``low: "010"``) or as a boolean (``abs_tol: true``), and a yes/no setting given as a number (``partial: 1``), are
refused at their field, as an input's ``value`` is, instead of pydantic reading them as the value they stand for
(which took a quoted ``010`` for ten, ``"1e3"`` for a thousand and ``true`` for a tolerance of 1, passing every
answer, without a word)."""

from __future__ import annotations

import math
import types
from typing import Annotated, Any, Union, get_args, get_origin

from grader.located import located


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``Annotated[...]``'s metadata (``Annotated[int, Field(ge=1)]``: ``int``)."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def kinds_of(annotation: Any) -> list[Any]:
    """The types a field of this annotation may hold besides None (``int | None``: ``[int]``)."""
    annotation = _bare(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return [_bare(kind) for kind in get_args(annotation) if kind is not type(None)]
    return [annotation]


def _numeric(annotation: Any) -> bool:
    """Whether a field of this annotation holds a number: ``int``, ``float``, or one of them or None."""
    kinds = kinds_of(annotation)
    return bool(kinds) and all(kind in (int, float) for kind in kinds)


def _yes_no(annotation: Any) -> bool:
    """Whether a field of this annotation holds a yes/no: ``bool``, or ``bool`` or None."""
    return kinds_of(annotation) == [bool]


def _item_kinds(annotation: Any) -> list[Any]:
    """The types the items of a list or tuple field may hold (``shift: tuple[int, int]``: ``[int, int]``), [] for
    any other field."""
    kinds = kinds_of(annotation)
    if len(kinds) != 1 or get_origin(kinds[0]) not in (list, tuple):
        return []
    return [kind for item in get_args(kinds[0]) if item is not Ellipsis for kind in kinds_of(item)]


def _numeric_items(annotation: Any) -> bool:
    """Whether a field of this annotation holds a list of numbers (``shape: list[int]``)."""
    items = _item_kinds(annotation)
    return bool(items) and all(kind in (int, float) for kind in items)


def _some_numeric_items(annotation: Any) -> bool:
    """Whether a field of this annotation holds a list whose items may be numbers or something else, never yes/no
    (a random case's ``shape: [h, 3]``: sizes or size names)."""
    items = _item_kinds(annotation)
    return any(kind in (int, float) for kind in items) and bool not in items


def _not_a_number(value: Any) -> str | None:
    """Why ``value``, given where a number belongs, is none (text, or a boolean), or None for a number."""
    if isinstance(value, bool):
        return f"{str(value).lower()} is yes/no, not a number: write a number, e.g. {int(value)}"
    if isinstance(value, str) and not _infinite(value):
        return f"{value!r} is text, not a number: write a plain number (no quotes or underscores), e.g. {_example(value)}"
    return None


def plain_numbers_only(cls: Any, data: Any) -> Any:
    """A ``model_validator(mode="before")`` for sheet models: text or a boolean in a numeric field (or list of
    numbers), and a number in a yes/no field, are refused at that field (a model validator, since pydantic allows
    no "before" field validator on the discriminator ``type``)."""
    if not isinstance(data, dict):
        return data
    for name, value in data.items():
        field = cls.model_fields.get(name) if isinstance(name, str) else None
        if field is None:
            continue
        if _numeric(field.annotation) and (problem := _not_a_number(value)) is not None:
            raise located(problem, (name,))
        if isinstance(value, list) and _some_numeric_items(field.annotation):
            numbers_only = _numeric_items(field.annotation)
            for index, item in enumerate(value):
                if (numbers_only or isinstance(item, bool)) and (problem := _not_a_number(item)) is not None:
                    raise located(problem, (name, index))
        if _yes_no(field.annotation) and isinstance(value, int | float) and not isinstance(value, bool):
            raise located(f"{value!r} is a number, not yes/no: write true or false", (name,))
    return data


def _infinite(text: str) -> bool:
    """Whether ``text`` spells inf or nan (which YAML 1.2 leaves as text unless written .inf): the field's own check
    then says that it must be finite."""
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def _example(text: str) -> str:
    """The plain number ``text`` spells (``"010"``: 10), or 2 when it spells none."""
    try:
        number = float(text.strip().replace("_", ""))
    except ValueError:
        return "2"
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
