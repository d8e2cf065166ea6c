"""Sheets write numbers as numbers: a numeric setting given as text (``points: "2"``, ``low: "010"``) is refused at
its field, as an input's ``value`` is, instead of pydantic reading the text as the number it spells (which took a
quoted ``010`` for ten and ``"1e3"`` for a thousand without a word)."""

from __future__ import annotations

import math
import types
from typing import Any, Union, get_args, get_origin

from grader.located import located


def _numeric(annotation: Any) -> bool:
    """Whether a field of this annotation holds a number: ``int``, ``float``, or one of them or None."""
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [kind for kind in get_args(annotation) if kind is not type(None)]
        return bool(kinds) and all(kind in (int, float) for kind in kinds)
    return False


def numbers_not_text(cls: Any, data: Any) -> Any:
    """A ``model_validator(mode="before")`` for sheet models: text in a numeric field is refused at that field (a
    model validator, since pydantic allows no "before" field validator on the discriminator ``type``)."""
    if isinstance(data, dict):
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is not None and isinstance(value, str) and _numeric(field.annotation) and not _infinite(value):
                raise located(
                    f"{value!r} is text, not a number: write a plain number (no quotes or underscores), "
                    f"e.g. {_example(value)}",
                    (name,),
                )
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
