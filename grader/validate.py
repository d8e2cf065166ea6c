"""``grader validate``: find every author fault in a sheet before a student sees it.

Checks, for the seed-less variant and each of the sheet's validation seeds: the schema; every quantity (also those
no part uses) and key can be computed; the reference answer, written as a student would write it, scores full marks; and no
known mistake scores full marks (it would never be told apart from the right answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from grader.answers import AnswerError, FormulaAnswer, FunctionReference, GraphAnswer, Tolerances
from grader.answers.formula import compare_at_points
from grader.code_key import code_part_key
from grader.errors import GraderError, SpecError, SpecErrors
from grader.grading import check_context
from grader.key import AnswerKey, compute_key, unused_quantity_errors
from grader.spec.loader import Sheet, load_sheet
from grader.spec.models import PartSpec

_WRITTEN_AS_STUDENT = {"number", "integer", "array", "shape", "boolean", "choice", "set", "schedule", "translation"}


def sheet_files(paths: Iterable[Path]) -> list[Path]:
    """The sheet files named, with folders expanded to their ``*.yaml``/``*.yml`` files (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            files.append(path)
    return files


def validate_sheet(path: Path) -> list[GraderError]:
    """Every fault found in one sheet file (empty when it is fine)."""
    try:
        sheet = load_sheet(path)
    except SpecErrors as exc:
        return list(exc.errors)
    except GraderError as exc:
        return [exc]
    errors: list[GraderError] = []
    coinciding: dict[tuple[int, int, int], int] = {}  # mistakes allowed to coincide -> variants where they did
    seeds = [None, *sheet.spec.validation_seeds]
    # One message per fault and place, naming the variants it occurs in (not one per seed).
    found: dict[tuple[object, ...], list[tuple[SpecError, int | None]]] = {}
    for seed in seeds:
        for error in _variant_errors(sheet, seed, coinciding):
            found.setdefault((error.file, error.line, error.path, error.code), []).append((error, seed))
    for occurrences in found.values():
        errors.extend(_in_variants(occurrences, len(seeds)))
    errors.extend(_check_code_parts(sheet))
    for (e_index, p_index, m_index), count in coinciding.items():
        if count == len(seeds):
            mistake = sheet.spec.exercises[e_index].parts[p_index].mistakes[m_index]
            errors.append(
                _part_error(
                    sheet, e_index, p_index,
                    f"known mistake {mistake.id!r} equals the reference answer in every validated variant",
                    "spec-mistake-full", ("mistakes", m_index),
                )
            )
    return errors


def _variant_errors(sheet: Sheet, seed: int | None, coinciding: dict[tuple[int, int, int], int]) -> list[SpecError]:
    """The faults of one variant: its key's, and those of the quantities no part uses (messages without the variant).

    The key lives only while this runs, so validating several seeds holds one key at a time, not two."""
    try:
        key = compute_key(sheet, seed, name_variant=False)
    except SpecErrors as exc:
        errors: list[SpecError] = list(exc.errors)
    else:
        errors = _check_key(sheet, key, coinciding)
        del key
    return errors + unused_quantity_errors(sheet, seed)


def _in_variants(occurrences: list[tuple[SpecError, int | None]], variant_count: int) -> list[SpecError]:
    """One fault at one place, found in some variants: its message once, with the variants named first
    (``seeds 2, 3: ...``) unless it occurs in every variant alike. When the variants' messages differ (a key of
    -0.15 in one, 0.31 in another), the first variant's message is shown and the others are listed after it."""
    messages: dict[str, list[int | None]] = {}
    for error, seed in occurrences:
        messages.setdefault(error.message, []).append(seed)
    first = occurrences[0][0]
    if len(messages) == 1:
        variants = next(iter(messages.values()))
        if len(set(variants)) == variant_count:
            return [first]
        return [first.with_message(f"{_variants_text(variants)}: {first.message}")]
    (message, variants), *others = messages.items()
    rest = [seed for _, seeds in others for seed in seeds]
    return [first.with_message(f"{_variants_text(variants)}: {message} (likewise in {_variants_text(rest)})")]


def _variants_text(variants: list[int | None]) -> str:
    names = ["the sheet's own numbers"] if None in variants else []
    seeds = list(dict.fromkeys(str(seed) for seed in variants if seed is not None))
    if seeds:
        names.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}")
    return " and ".join(names)


def _check_code_parts(sheet: Sheet) -> list[GraderError]:
    """Every code part's cases can be built, and each known mistake differs from the key in some case."""
    errors: list[GraderError] = []
    for e_index, exercise in enumerate(sheet.spec.exercises):
        for p_index, part in enumerate(exercise.parts):
            if part.answer.type != "code":
                continue
            try:
                key = code_part_key(sheet, exercise.id, part.id)
            except SpecError as exc:
                errors.append(exc)
                continue
            ctx = check_context(sheet, exercise.id, part.id)
            values = [c for c in key.cases if c.kind == "value"]
            for m_index, mistake in enumerate(part.mistakes):
                if all(part.answer.check(c.mistakes[mistake.id], c.expected, ctx).fraction >= 1.0 for c in values):
                    errors.append(
                        _part_error(
                            sheet, e_index, p_index,
                            f"known mistake {mistake.id!r} gives the right output in every case: add a case where it differs",
                            "spec-mistake-full", ("mistakes", m_index),
                        )
                    )
    return errors


def _part_error(sheet: Sheet, e_index: int, p_index: int, message: str, code: str, suffix: tuple[Any, ...] = ()) -> SpecError:
    return sheet.error(message, code=code, loc=("exercises", e_index, "parts", p_index, *suffix))


def _check_key(sheet: Sheet, key: AnswerKey, coinciding: dict[tuple[int, int, int], int]) -> list[SpecError]:
    """The faults of one variant's key (messages without the variant: :func:`validate_sheet` names it)."""
    errors: list[SpecError] = []
    for e_index, exercise in enumerate(sheet.spec.exercises):
        for p_index, part in enumerate(exercise.parts):
            if part.answer.type == "code":
                continue
            part_key = key.part(exercise.id, part.id)
            ctx = check_context(sheet, exercise.id, part.id)
            exact = _exact_on_fractions(part, part_key.expected)
            if exact is not None:
                errors.append(_part_error(sheet, e_index, p_index, exact, "spec-zero-tolerance", ("answer",)))
            try:
                full = _scores_full(part, part_key.expected, part_key.expected, ctx)
            except (AnswerError, ValueError) as exc:
                errors.append(_part_error(sheet, e_index, p_index, f"the reference answer cannot be checked: {exc}", "spec-key-unusable", ("expected",)))
                continue
            if full is False:
                errors.append(_part_error(sheet, e_index, p_index, "the reference answer does not score full marks", "spec-key-not-full", ("expected",)))
            for m_index, mistake in enumerate(part.mistakes):
                try:
                    matches = _scores_full(part, part_key.mistakes[mistake.id], part_key.expected, ctx)
                except (AnswerError, ValueError):
                    continue  # a mistake that cannot even be written as an answer cannot score full marks
                if matches and mistake.may_coincide:
                    where = (e_index, p_index, m_index)
                    coinciding[where] = coinciding.get(where, 0) + 1
                elif matches:
                    errors.append(
                        _part_error(
                            sheet, e_index, p_index,
                            f"known mistake {mistake.id!r} scores full marks (it equals the reference answer)",
                            "spec-mistake-full", ("mistakes", m_index),
                        )
                    )
    return errors


def _exact_on_fractions(part: PartSpec, expected: Any) -> str | None:
    """Why tolerances of 0 cannot work for this key, or None: a key with fractions is a floating-point result, and a
    right answer computed in another order (or with float32) differs from it in the last bits."""
    answer = part.answer
    if not isinstance(answer, Tolerances) or answer.abs_tol or answer.rel_tol:
        return None
    values = np.asarray(expected, dtype=np.float64)
    fractional = values[np.isfinite(values) & (values != np.round(values))]
    if not fractional.size:
        return None
    return (
        f"abs_tol and rel_tol are both 0, but the key holds fractions (e.g. {float(fractional.flat[0]):.17g}): a right "
        "answer computed in another order differs in the last digits; give a tolerance such as rel_tol: 1e-9"
    )


def _scores_full(part: PartSpec, answer_value: Any, expected: Any, ctx: Any) -> bool | None:
    """Would ``answer_value``, handed in by a student, score full marks against ``expected``?

    None when the answer type has no written form to try (then only the reference is exercised).
    """
    answer = part.answer
    if answer.type in _WRITTEN_AS_STUDENT:
        raw = answer.expected_json(answer_value)
        return answer.check(answer.parse(raw), expected, ctx).fraction >= 1.0
    if isinstance(answer, FormulaAnswer | GraphAnswer) and isinstance(answer_value, FunctionReference):
        domains = answer.variables if isinstance(answer, FormulaAnswer) else answer.inputs
        verdict = compare_at_points(answer_value.fn, expected, domains, answer, ctx, "the answer")
        return verdict.fraction >= 1.0
    return None


def validate_paths(paths: Iterable[Path]) -> dict[Path, list[GraderError]]:
    """``{sheet file: its faults}`` for every sheet named (folders expanded)."""
    paths = list(paths)
    files = sheet_files(paths)
    if not files:
        places = ", ".join(str(path) for path in paths) or "the paths given"
        raise GraderError(f"no exercise sheets found in {places} (expected .yaml/.yml files)")
    return {path: _validate_one(path) for path in files}


def _validate_one(path: Path) -> list[GraderError]:
    """:func:`validate_sheet`, with a grader bug on one sheet reported as that sheet's error: the other sheets of
    a folder are still checked and listed."""
    try:
        return validate_sheet(path)
    except Exception as exc:  # noqa: BLE001 -- a bug must not hide the results of the other sheets
        return [GraderError(f"{path}: internal error while validating this sheet: {type(exc).__name__}: {exc} (please report this with the sheet)")]
