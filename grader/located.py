"""Validation errors placed below the field or model that raises them: a sheet's author is sent to the entry to fix
(``exercises[1].id``), not to the whole list that holds it. The loader (grader.spec.loader) appends ``at`` to the
error's place and the line of ``first`` to its message."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError


def located(
    message: str, at: tuple[str | int, ...], *, first: tuple[str | int, ...] | None = None, kind: str = "value_error"
) -> PydanticCustomError:
    """A validator's error placed at ``at`` below the field or model that raises it (``("exercises", 1, "id")``
    for SheetSpec). ``first``: a place below the same field that the message refers to (the first of two equal
    ids); the loader appends its line. ``kind``: the error type, which gives the loader's code
    (``string_pattern_mismatch``: ``spec-name``)."""
    context: dict[str, Any] = {"at": at} if first is None else {"at": at, "first": first}
    context["message"] = message  # filled in last, so braces in it ({at}, a name) stay as written
    return PydanticCustomError(kind, "{message}", context)


def require_unique(what: str, field: str, ids: list[str], key: str = "id") -> None:
    """Raise a :func:`located` error at the second of two equal ids in ``field`` (``exercises[1].id``), naming the
    first; ``what`` names one id (``"exercise id"``)."""
    seen: dict[str, int] = {}
    for index, ident in enumerate(ids):
        if ident in seen:
            raise located(
                f"{what}s must be unique, but {ident!r} is also the {key} of {field}[{seen[ident]}]",
                (field, index, key),
                first=(field, seen[ident], key),
            )
        seen[ident] = index
