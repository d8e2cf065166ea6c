"""Load an exercise sheet from YAML: validated models plus the line of every field, for errors."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from grader.answers import ANSWER_TYPES
from grader.answers.code import NAME_PATTERN, NAME_RULE, RANDOM_ARG_TAGS
from grader.errors import InputFileError, SpecError, SpecErrors
from grader.plain_numbers import kinds_of
from grader.spec.models import SLUG, ExerciseSpec, PartSpec, SheetSpec
from grader.spec.yaml_lines import (
    LineMap,
    Loc,
    format_path,
    load_yaml_with_lines,
    read_text,
)

_CODES = {
    "missing": "spec-missing",
    "extra_forbidden": "spec-unknown-field",
    "union_tag_invalid": "spec-unknown-type",
    "union_tag_not_found": "spec-missing",
    "greater_than": "spec-range",
    "greater_than_equal": "spec-range",
    "less_than": "spec-range",
    "less_than_equal": "spec-range",
    "string_pattern_mismatch": "spec-name",
    "too_short": "spec-empty",
    "follow_through": "spec-follow-through",
}

_PATTERN_WORDS = {
    NAME_PATTERN: f"name: {NAME_RULE}",
    SLUG: "id: ASCII letters (A-Z, a-z), digits, underscores and hyphens, not starting with a digit or hyphen",
}
"""What the sheet's name and id patterns ask for, in words (pydantic's message quotes the regular expression)."""

_UNION_TAGS = frozenset(ANSWER_TYPES)
"""pydantic puts the chosen answer type's tag in an error's loc (``answer.number.abs_tol``); the YAML has no such level."""


@dataclass(frozen=True, eq=False)
class Sheet:
    """A validated sheet and where it came from.

    ``spec_hash`` is the sha256 of the file's bytes: a gradebook regrades when it changes. Compared and hashed
    by identity, so a loaded sheet can key caches (one answer key per sheet and seed).
    """

    spec: SheetSpec
    path: Path
    spec_hash: str
    lines: LineMap = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def title(self) -> str:
        return self.spec.title

    def parts(self) -> list[tuple[ExerciseSpec, PartSpec]]:
        """Every (exercise, part), in sheet order."""
        return [(exercise, part) for exercise in self.spec.exercises for part in exercise.parts]

    def part_keys(self) -> list[str]:
        """``exercise_id.part_id`` for every part, in sheet order."""
        return [f"{e.id}.{p.id}" for e, p in self.parts()]

    def error(self, message: str, *, code: str, loc: Loc) -> SpecError:
        """A SpecError placed at ``loc`` (a field path inside this sheet)."""
        return SpecError(message, code=code, file=self.path, line=self.lines.line(loc), path=format_path(loc))

    def exercise_index(self, exercise_id: str) -> int:
        return next(i for i, e in enumerate(self.spec.exercises) if e.id == exercise_id)


SUGGESTION_CUTOFF = 0.75
"""How alike (difflib's ratio) an unknown field and a known one must be to be suggested: ``promt``/``prompt`` 0.91,
``abstol``/``abs_tol`` 0.92; ``hint``/``points`` (0.6) are not."""


def _misspelled(errors: list[dict[str, Any]]) -> dict[int, tuple[str, bool]]:
    """The field each unknown field stands for, when one looks like it (``promt`` for ``prompt``): ``{index of the
    unknown field's error: (the field meant, whether it is a required field missing there)}``. The fields are those
    of the model at that place and the required ones missing; the missing field's own error is then left out."""
    missing = {
        (tuple(error["loc"][:-1]), error["loc"][-1])
        for error in errors if error["type"] == "missing" and error["loc"] and isinstance(error["loc"][-1], str)
    }
    meant: dict[int, tuple[str, bool]] = {}
    for index, error in enumerate(errors):
        if error["type"] != "extra_forbidden" or not error["loc"] or not isinstance(error["loc"][-1], str):
            continue
        parent = tuple(error["loc"][:-1])
        taken = {name for name, required in meant.values() if required}
        required = [name for place, name in missing if place == parent and name not in taken]
        known = set(_fields_at(parent)) | set(required)
        close = difflib.get_close_matches(error["loc"][-1], sorted(known), n=1, cutoff=SUGGESTION_CUTOFF)
        if close:
            meant[index] = (close[0], close[0] in required)
    return meant


def _model(kinds: list[Any]) -> type[BaseModel] | None:
    return kinds[0] if len(kinds) == 1 and isinstance(kinds[0], type) and issubclass(kinds[0], BaseModel) else None


def _fields_at(raw_loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model that pydantic's error place ``raw_loc`` is inside of (its last item a field of
    that model), found by walking the sheet's models; [] where the walk cannot tell (a mapping of op arguments)."""
    current: Any = SheetSpec
    for item in raw_loc:
        kinds, model = kinds_of(current), _model(kinds_of(current))
        if len(kinds) == 1 and get_origin(kinds[0]) is list and isinstance(item, int):
            current = get_args(kinds[0])[0]
        elif len(kinds) == 1 and get_origin(kinds[0]) is dict and isinstance(item, str):
            current = get_args(kinds[0])[1]
        elif len(kinds) > 1 and item in ANSWER_TYPES:  # the answer union, by its tag
            current = ANSWER_TYPES[item]
        elif model is not None and item in model.model_fields:
            current = model.model_fields[item].annotation
        else:
            return []
    model = _model(kinds_of(current))
    return list(model.model_fields) if model is not None else []


def _spec_errors(exc: ValidationError, path: Path, lines: LineMap) -> SpecErrors:
    errors = []
    raw_errors = exc.errors(include_url=False)
    meant = _misspelled(raw_errors)
    meant_away = {(tuple(raw_errors[i]["loc"][:-1]), name) for i, (name, required) in meant.items() if required}
    for index, error in enumerate(raw_errors):
        if error["type"] == "missing" and error["loc"] and (tuple(error["loc"][:-1]), error["loc"][-1]) in meant_away:
            continue  # said with the misspelling that stands for it
        raw_loc = error["loc"]
        loc = tuple(
            item for i, item in enumerate(raw_loc)
            if not (i and raw_loc[i - 1] == "answer" and item in _UNION_TAGS)
            and not (i >= 2 and raw_loc[i - 2] == "args" and item in RANDOM_ARG_TAGS)
            and item != "[key]"  # pydantic's mark of an error in a mapping's key: the place is the key's own
        )
        message = error["msg"]
        context = error.get("ctx", {})
        if "at" in context:  # models.located: a place below the field that raised it, e.g. exercises[1].id
            if "first" in context:
                message = f"{message} (line {lines.line((*loc, *context['first']))})"
            loc = (*loc, *context["at"])
        if error["type"] == "union_tag_invalid":
            message = f"unknown answer type {context.get('tag')!r}; expected one of {context.get('expected_tags')}"
        elif error["type"] == "value_error" and "error" in error.get("ctx", {}):
            message = str(error["ctx"]["error"])  # our own validators' words, without pydantic's "Value error, "
        elif error["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}" if loc else message
            if index in meant:
                name, required = meant[index]
                message += f"; did you mean {name!r}?" + (" (it is required here)" if required else "")
        elif error["type"] == "missing" and loc and isinstance(loc[-1], str):
            message = f"{loc[-1]!r} is required here"
        elif error["type"] == "string_pattern_mismatch" and context.get("pattern") in _PATTERN_WORDS:
            message = f"{error['input']!r} is not a valid {_PATTERN_WORDS[context['pattern']]}"
        errors.append(
            SpecError(
                message,
                code=_CODES.get(error["type"], "spec-invalid"),
                file=path,
                line=lines.line(loc),
                path=format_path(loc),
            )
        )
    return SpecErrors(errors)


def load_sheet(path: Path | str) -> Sheet:
    """Read and validate a sheet; SpecErrors (all schema errors, with lines) or InputFileError when unusable."""
    path = Path(path)
    text = read_text(path, "exercise sheet")
    data, lines = load_yaml_with_lines(text, path)
    if not isinstance(data, dict):
        raise InputFileError("an exercise sheet must be a YAML mapping with 'id' and 'exercises'", file=path, line=1)
    try:
        spec = SheetSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_errors(exc, path, lines) from None
    return Sheet(spec=spec, path=path, spec_hash=hashlib.sha256(text.encode()).hexdigest(), lines=lines)
