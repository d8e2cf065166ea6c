"""``grader validate``: find every author fault in a sheet before a student sees it.

Checks, for the seed-less variant and each of the sheet's validation seeds: the schema; every quantity (also those
no part uses) and key can be computed; the reference answer, written as a student would write it, scores full marks; and no
known mistake scores full marks (it would never be told apart from the right answer).

Warnings (:func:`validate_sheet`; the sheet is still usable, so they do not fail validation): a key that is all zeros in
some variants (a degenerate variant, e.g. every ReLU unit dead: a student answering zeros scores full marks there), and
a hidden part whose key a visible part gives away (its key, the inputs or expected output of a visible code case, or
the max-pooling winners report.pool_winners marks on it), and ``require`` conditions that so few draws meet that some
variants would find no draw meeting them (their students' sheets could not be graded).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from grader.answers import AnswerError, FormulaAnswer, FunctionReference, GraphAnswer, Tolerances
from grader.answers.formula import compare_at_points
from grader.code_key import code_part_key, defining
from grader.engine.pool import max_pool2d_winners
from grader.errors import GraderError, SpecError, SpecErrors
from grader.grading import check_context, randomized
from grader.key import MAX_DRAWS, AnswerKey, compute_key, follow_through_key, require_met_count, unused_quantity_errors
from grader.result import Visibility
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


class Validation(list[GraderError]):
    """What ``grader validate`` found in one sheet: the list of its faults, which make it unusable (exit 2; empty
    when it is fine), and ``warnings``, to print while the sheet stays usable (exit 0), since what they point at
    may be intended. Warnings are looked for only in a sheet without faults. Being the list of faults, it reads as
    before where only the faults matter."""

    def __init__(self, errors: Iterable[GraderError] = (), warnings: Iterable[SpecError] = ()) -> None:
        super().__init__(errors)
        self.warnings: list[SpecError] = list(warnings)


def validate_sheet(path: Path, more_seeds: Iterable[int] = ()) -> Validation:
    """Every fault found in one sheet file (empty when it is fine), with the warnings as ``.warnings``: for the
    sheet's own numbers, its ``validation_seeds`` and ``more_seeds``."""
    try:
        sheet = load_sheet(path)
    except SpecErrors as exc:
        return Validation(list(exc.errors))
    except GraderError as exc:
        return Validation([exc])
    errors: list[GraderError] = []
    coinciding: dict[tuple[int, int, int], int] = {}  # mistakes allowed to coincide -> variants where they did
    unchanged: dict[tuple[int, int, int], int] = {}  # follow_through entries -> variants their value changed nothing
    seeds = [None, *dict.fromkeys([*sheet.spec.validation_seeds, *more_seeds])]
    watch = _KeyWatch(sheet)
    # One message per fault and place, naming the variants it occurs in (not one per seed).
    found: dict[tuple[object, ...], list[tuple[SpecError, int | None]]] = {}
    for seed in seeds:
        for error in _variant_errors(sheet, seed, coinciding, watch, unchanged):
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
    for (e_index, p_index, f_index), count in unchanged.items():
        if count == len(seeds):
            entry = sheet.spec.exercises[e_index].parts[p_index].follow_through[f_index]
            errors.append(
                _part_error(
                    sheet, e_index, p_index,
                    f"this part's key does not change with {entry.replaces} (set to the key of {entry.part} moved "
                    f"several ways, in every validated variant): it does not use what {entry.part}'s answer stands for",
                    "spec-follow-through", ("follow_through", f_index, "replaces"),
                )
            )
    # Warnings once the sheet has no errors: they are about a sheet that works, and an author fixes errors first.
    if errors:
        return Validation(errors)
    unseeded = len(seeds) == 1 and randomized(sheet)
    no_variants = [
        sheet.error(
            "validation_seeds is empty: only the sheet's own numbers were checked, none of the variants students get "
            "(some inputs are drawn at random); list a few seeds, e.g. [1, 2, 3]",
            code="spec-no-variants", loc=("validation_seeds",),
        )
    ] if unseeded else []
    return Validation(errors, no_variants + _rare_require_warnings(sheet) + watch.warnings())


REQUIRE_SAMPLES = 200
"""Variants drawn to estimate how often an exercise's ``require`` conditions hold on one draw."""
REQUIRE_FAILURES_TOLERATED = 1e-3
"""Share of variants that may find no draw meeting ``require`` (their sheet fails) before validate warns."""


def _rare_require_warnings(sheet: Sheet) -> list[SpecError]:
    """A warning per exercise whose ``require`` conditions hold so rarely that some variants would find no draw
    meeting them in MAX_DRAWS tries (estimated over REQUIRE_SAMPLES variants' first draws, stopping as soon as enough
    of them met the conditions to rule that out): the validation seeds passing says little when such variants are a
    few in a hundred."""
    # The share of draws meeting the conditions below which more than REQUIRE_FAILURES_TOLERATED variants fail.
    rare = 1.0 - REQUIRE_FAILURES_TOLERATED ** (1.0 / MAX_DRAWS)
    enough = math.ceil(rare * REQUIRE_SAMPLES)
    warnings: list[SpecError] = []
    for e_index, exercise in enumerate(sheet.spec.exercises):
        if not exercise.require or all(spec.random is None for spec in exercise.inputs.values()):
            continue
        met = require_met_count(sheet, e_index, REQUIRE_SAMPLES, enough)
        if met is None or met >= enough:
            continue
        share = met / REQUIRE_SAMPLES
        failing = (1.0 - share) ** MAX_DRAWS
        odds = "most variants" if failing >= 0.5 else f"about one variant in {round(1 / failing)}"
        warnings.append(sheet.error(
            f"only {share:.1%} of draws meet the conditions (measured on {REQUIRE_SAMPLES} variants), so {odds} would "
            f"find no draw meeting them in {MAX_DRAWS} tries, and that student's sheet could not be graded; relax the "
            "conditions or change the inputs' draws so that most draws meet them",
            code="spec-require-rare", loc=("exercises", e_index, "require"),
        ))
    return warnings


def _variant_errors(
    sheet: Sheet, seed: int | None, coinciding: dict[tuple[int, int, int], int], watch: _KeyWatch | None = None,
    unchanged: dict[tuple[int, int, int], int] | None = None,
) -> list[SpecError]:
    """The faults of one variant: its key's, its follow_through entries' (counting in ``unchanged`` those whose value
    changed nothing), and those of the quantities no part uses (messages without the variant). ``watch`` sees the
    key too (for the warnings).

    The key lives only while this runs, so validating several seeds holds one key at a time, not two."""
    try:
        key = compute_key(sheet, seed, name_variant=False)
    except SpecErrors as exc:
        errors: list[SpecError] = list(exc.errors)
    else:
        errors = _check_key(sheet, key, coinciding)
        errors += _check_follow_through(sheet, key, {} if unchanged is None else unchanged)
        if watch is not None:
            watch.observe(key)
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
                defined = defining(values, mistake.id)
                if not defined:
                    errors.append(
                        _part_error(
                            sheet, e_index, p_index,
                            f"known mistake {mistake.id!r} is undefined in every case, so no output can match it "
                            f"(case {values[0].name!r}: {values[0].undefined_mistakes[mistake.id]})",
                            "spec-op-failed", ("mistakes", m_index, "expected"),
                        )
                    )
                elif all(part.answer.matches(c.mistakes[mistake.id], c.expected, ctx) for c in defined):
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
                            f"known mistake {mistake.id!r} scores full marks (it equals the reference answer); where "
                            "it may for some variants (a symmetric filter, every unit dead), write may_coincide: true "
                            "on the mistake, or rule those draws out with the exercise's require:",
                            "spec-mistake-full", ("mistakes", m_index),
                        )
                    )
    return errors


def _check_follow_through(sheet: Sheet, key: AnswerKey, unchanged: dict[tuple[int, int, int], int]) -> list[SpecError]:
    """Each follow_through entry stands for what it says: with ``replaces`` set to the earlier part's own key, the
    part's key comes out again (else the earlier answer is not that input or quantity). Entries whose key does not
    change when that value moves (:func:`_moved`) are counted in ``unchanged`` (an error when it is so in every
    variant)."""
    errors: list[SpecError] = []
    for e_index, exercise in enumerate(sheet.spec.exercises):
        for p_index, part in enumerate(exercise.parts):
            if not part.follow_through or part.answer.type == "code":
                continue  # a code part's entries are refused with its key
            expected = key.part(exercise.id, part.id).expected
            ctx = check_context(sheet, exercise.id, part.id)
            for f_index, entry in enumerate(part.follow_through):
                source = key.part(exercise.id, entry.part).expected
                where = ("follow_through", f_index, "replaces")
                try:
                    again = follow_through_key(key, exercise.id, part.id, entry.replaces, source)
                except SpecError as exc:
                    errors.append(_part_error(
                        sheet, e_index, p_index, f"with {entry.replaces} set to the key of {entry.part}, this part's key "
                        f"cannot be computed: {exc.message} (follow_through makes {entry.replaces} a given value, so "
                        f"nothing that {entry.replaces} is computed from reaches this key through it)",
                        "spec-follow-through", where,
                    ))
                    continue
                if not _scores_full_or_not(part, again, expected, ctx):
                    errors.append(_part_error(
                        sheet, e_index, p_index, f"with {entry.replaces} set to the key of {entry.part}, this part's key "
                        f"would be {_short(part.answer.expected_json(again))}, not {_short(part.answer.expected_json(expected))}: the "
                        f"answer to {entry.part} is not {entry.replaces}", "spec-follow-through", where,
                    ))
                    continue
                if all(_same_key_when_moved(key, exercise.id, part, entry, moved, expected, ctx) for moved in _moved(source)):
                    where_count = (e_index, p_index, f_index)
                    unchanged[where_count] = unchanged.get(where_count, 0) + 1
    return errors


def _scores_full_or_not(part: PartSpec, answer_value: Any, expected: Any, ctx: Any) -> bool:
    """:func:`_scores_full`, with a value that cannot even be written as an answer (another shape) scoring nothing."""
    try:
        return bool(_scores_full(part, answer_value, expected, ctx))
    except (AnswerError, ValueError):
        return False


def _short(value: Any, limit: int = 80) -> str:
    """A key as a message quotes it: whole when short, else its start and ``...``."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _moved(value: Any) -> list[np.ndarray]:
    """Values ``value`` is moved to, to see whether a key depends on it: 1, 2, 3, ... added to its entries in order
    (not one constant for all, which softmax ignores), the opposite sign (which a comparison with 0 notices), and
    twice it plus 3."""
    array = np.asarray(value, dtype=np.float64)
    steps = 1 + np.arange(array.size, dtype=np.float64).reshape(array.shape)
    return [array + steps, -array - steps, 2 * array + 3]


def _same_key_when_moved(
    key: AnswerKey, exercise_id: str, part: PartSpec, entry: Any, moved: np.ndarray, expected: Any, ctx: Any
) -> bool:
    """Whether ``part``'s key is still ``expected`` with ``entry.replaces`` set to ``moved`` (no key at all for it
    counts as a change)."""
    try:
        again = follow_through_key(key, exercise_id, part.id, entry.replaces, moved)
    except SpecError:
        return False
    return _scores_full_or_not(part, again, expected, ctx)


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
        return answer.matches(answer.parse(raw), expected, ctx)
    if isinstance(answer, FormulaAnswer | GraphAnswer) and isinstance(answer_value, FunctionReference):
        domains = answer.variables if isinstance(answer, FormulaAnswer) else answer.inputs
        verdict = compare_at_points(answer_value.fn, expected, domains, answer, ctx, "the answer")
        return verdict.fraction >= 1.0
    return None


_NUMERIC = frozenset({"number", "integer", "array"})
"""Answer types whose key is a number or an array of numbers (what the warnings look at)."""
_CAUSE = "often every ReLU unit is inactive there, so no gradient flows"
_FIX = (
    "students' variants are drawn like these, so other validation seeds do not help: change the inputs or their "
    "random draws, or add a require: condition to the exercise (drawn again until it holds), so that no variant's "
    "key is"
)


class _KeyWatch:
    """Collects the warnings of :func:`validate_sheet` from each validated variant's key (:meth:`observe`), one key at a
    time: degenerate keys (all zeros, or 0 in some variants only) and hidden keys that a visible part shows."""

    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet
        self.seeds: list[int | None] = []
        self.zero_arrays: dict[tuple[int, int], list[int | None]] = {}
        self.sizes: dict[tuple[int, int], int] = {}
        self.numbers: dict[tuple[int, int], dict[int | None, bool]] = {}  # part -> variant -> key is 0
        self.leaks: dict[tuple[int, int, str, str], list[int | None]] = {}  # (part, source, advice) -> variants
        self._code_sources: list[tuple[str, str, np.ndarray]] | None = None

    def _parts(self) -> Iterable[tuple[int, int, str, str, PartSpec]]:
        for e_index, exercise in enumerate(self.sheet.spec.exercises):
            for p_index, part in enumerate(exercise.parts):
                if part.answer.type in _NUMERIC:
                    yield e_index, p_index, exercise.id, f"{exercise.id}.{part.id}", part

    def observe(self, key: AnswerKey) -> None:
        """Note what one variant's key shows (all of its parts' keys could be computed)."""
        self.seeds.append(key.seed)
        values = {(e, p): _numbers(key.part(exercise_id, part.id).expected) for e, p, exercise_id, _, part in self._parts()}
        shown = self._visible_sources(values)
        for e, p, _, _, part in self._parts():
            value = values[(e, p)]
            if value is None:
                continue
            if part.answer.type == "array" and value.size > 1:
                self.sizes[(e, p)] = value.size
                if not value.any():
                    self.zero_arrays.setdefault((e, p), []).append(key.seed)
            if part.answer.type == "number" and value.size == 1:
                self.numbers.setdefault((e, p), {})[key.seed] = not value.any()
            if part.visibility is not Visibility.hidden or _trivial(value):
                continue
            for what, advice, source in shown:
                if source.shape == value.shape and np.allclose(value, source):
                    self.leaks.setdefault((e, p, what, advice), []).append(key.seed)
                elif value.size == 1 and source.size > 1 and _holds_entry(source, float(value.reshape(()))):
                    self.leaks.setdefault((e, p, f"an entry of {what}", advice), []).append(key.seed)
                elif 1 < value.size < source.size and _holds_slice(source, value):
                    self.leaks.setdefault((e, p, f"a slice of {what}", advice), []).append(key.seed)

    def _visible_sources(self, values: dict[tuple[int, int], np.ndarray | None]) -> list[tuple[str, str, np.ndarray]]:
        """What students see of this variant, each with what to change: each visible part's key and the pool
        winners marked on it, and the inputs and expected outputs of the visible code cases (the same in every
        variant). ``{hidden}`` in the advice stands for the hidden part."""
        shown: list[tuple[str, str, np.ndarray]] = []
        for e, p, _, name, part in self._parts():
            value = values[(e, p)]
            if part.visibility is Visibility.hidden or value is None:
                continue
            shown.append((
                f"the key of the visible part {name}, which its report shows",
                f"make {name} hidden too or {{hidden}} visible, or change one of them", value,
            ))
            window = part.report.pool_winners
            if window is not None:
                try:
                    marks = max_pool2d_winners(value, window.size, stride=window.stride).astype(np.float64)
                except ValueError:
                    continue  # compute_key refuses such a window (spec-report)
                shown.append((
                    f"the max-pooling winners that report.pool_winners marks on the visible part {name} (its report "
                    "stars them on the expected answer)",
                    f"remove pool_winners from {name}'s report options, make {name} hidden, or make {{hidden}} visible",
                    marks,
                ))
        return shown + self._code_cases()

    def _code_cases(self) -> list[tuple[str, str, np.ndarray]]:
        if self._code_sources is not None:
            return self._code_sources
        self._code_sources = []
        for exercise in self.sheet.spec.exercises:
            for part in exercise.parts:
                if part.answer.type != "code" or part.visibility is Visibility.hidden:
                    continue
                try:
                    code_key = code_part_key(self.sheet, exercise.id, part.id)
                except SpecError:
                    continue  # reported by _check_code_parts
                for case in code_key.cases:
                    if case.visibility is Visibility.hidden:
                        continue
                    where = f"the visible case {case.name!r} of the code part {exercise.id}.{part.id}"
                    advice = (
                        f"make case {case.name!r} hidden (visibility: hidden) or {{hidden}} visible, or give the case "
                        "other inputs"
                    )
                    outputs = case.expected if isinstance(case.expected, dict) else {"": case.expected}
                    for output, value in outputs.items():
                        array = _numbers(value)
                        if array is not None:
                            label = f"the output {output!r}" if output else "the expected output"
                            self._code_sources.append((f"{label} of {where}, which its feedback shows", advice, array))
                    for argument, value in case.kwargs.items():
                        array = _numbers(value)
                        if array is not None:
                            self._code_sources.append((f"the input {argument!r} of {where}", advice, array))
        return self._code_sources

    def warnings(self) -> list[SpecError]:
        """The warnings, in sheet order (each naming the variants it concerns)."""
        found: list[SpecError] = []
        total = len(self.seeds)
        for e, p, _, name, part in self._parts():
            zeros = self.zero_arrays.get((e, p), [])
            if zeros:
                where = (
                    "in every validated variant" if len(zeros) == total
                    else f"in {_variants_text(zeros)}, {len(zeros)} of the {total} validated variants"
                )
                found.append(_part_error(
                    self.sheet, e, p,
                    f"the key of {name} is all zeros ({self.sizes[(e, p)]} entries) {where}: a student who answers "
                    f"all zeros there scores full marks without computing anything ({_CAUSE}); {_FIX} all zeros, or "
                    "ignore this warning if the zeros are intended",
                    "spec-degenerate-key", ("expected",),
                ))
            is_zero = self.numbers.get((e, p), {})
            zero = [seed for seed, flag in is_zero.items() if flag]
            if zero and len(zero) < len(is_zero):
                others = [seed for seed, flag in is_zero.items() if not flag]
                found.append(_part_error(
                    self.sheet, e, p,
                    f"the key of {name} is 0 in {_variants_text(zero)} but not in {_variants_text(others)}: a "
                    "degenerate variant, where a student who answers 0 scores full marks without computing anything "
                    f"({_CAUSE}); {_FIX} 0, or ignore this warning if it is intended",
                    "spec-degenerate-key", ("expected",),
                ))
            if part.visibility is not Visibility.hidden:
                continue
            for (le, lp, what, advice), seeds in self.leaks.items():
                if (le, lp) != (e, p):
                    continue
                where = "in every validated variant" if len(seeds) == total else f"in {_variants_text(seeds)}"
                found.append(_part_error(
                    self.sheet, e, p,
                    f"{where}, the key of the hidden part {name} equals {what}: a student can copy it from there; "
                    + advice.format(hidden=name),
                    "spec-hidden-shown", ("visibility",),
                ))
        return found


def _numbers(value: Any) -> np.ndarray | None:
    """A key as a float64 array, or None when it is not numbers."""
    if isinstance(value, bool | str | dict) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if np.isfinite(array).all() else None


def _holds_entry(source: np.ndarray, number: float) -> bool:
    """Whether some entry of ``source`` (any shape) is ``number`` up to rounding (relative 1e-9): a hidden number key
    that a visible array shows as one of its entries (``dw[0, 0, 0]`` of a visible ``dw``)."""
    return bool(np.isclose(source, number, rtol=1e-9, atol=0.0).any())


MAX_SLICES = 10_000
"""Slices of a visible array :func:`_holds_slice` compares at most (a bound on validate's time, never reached by the
arrays of a sheet)."""


def _holds_slice(source: np.ndarray, value: np.ndarray) -> bool:
    """Whether ``value`` is ``source`` with some of its axes fixed at one index each (up to rounding, relative 1e-9):
    a hidden array key that a visible array shows as a slice (``dw[:, :, :, 0]`` of a visible ``dw``). The kept axes
    stay in order; axes of length 1 in ``value`` count for nothing (``value`` (5, 5, 1) of ``source`` (5, 5, 2))."""
    for kept in itertools.combinations(range(source.ndim), value.ndim):
        if tuple(source.shape[axis] for axis in kept) != value.shape:
            continue
        fixed = [axis for axis in range(source.ndim) if axis not in kept]
        if math.prod(source.shape[axis] for axis in fixed) > MAX_SLICES:
            continue
        for at in itertools.product(*(range(source.shape[axis]) for axis in fixed)):
            index: list[Any] = [slice(None)] * source.ndim
            for axis, position in zip(fixed, at, strict=True):
                index[axis] = position
            candidate = source[tuple(index)]
            if candidate.shape == value.shape and np.allclose(candidate, value, rtol=1e-9, atol=0.0):
                return True
    squeezed = np.squeeze(value)
    return squeezed.shape != value.shape and squeezed.size > 1 and _holds_slice(source, squeezed)


def _trivial(value: np.ndarray) -> bool:
    """A key too plain for an equal one elsewhere to give it away: all zeros (see the all-zeros warning), or a single
    whole number (sizes, counts and strides coincide all the time: a hidden width of 3 is no more given away by a
    visible stride of 3 than by the digit 3 anywhere on the sheet). A single number with a fraction is kept: that
    one another part shows is a real leak."""
    return not value.any() or (value.size == 1 and float(value.reshape(())).is_integer())


def validate_paths(paths: Iterable[Path], more_seeds: Iterable[int] = ()) -> dict[Path, Validation]:
    """``{sheet file: its faults}`` for every sheet named (folders expanded), for its own seeds and ``more_seeds``;
    each list of faults has the sheet's warnings as ``.warnings`` (see :class:`Validation`)."""
    more_seeds = list(more_seeds)
    paths = list(paths)
    files = sheet_files(paths)
    if not files:
        places = ", ".join(str(path) for path in paths) or "the paths given"
        raise GraderError(f"no exercise sheets found in {places} (expected .yaml/.yml files)")
    return {path: _check_one(path, more_seeds) for path in files}


def _check_one(path: Path, more_seeds: list[int]) -> Validation:
    """:func:`validate_sheet`, with a grader bug on one sheet reported as that sheet's error: the other sheets of
    a folder are still checked and listed."""
    try:
        return validate_sheet(path, more_seeds)
    except Exception as exc:  # noqa: BLE001 -- a bug must not hide the results of the other sheets
        return Validation([GraderError(f"{path}: internal error while validating this sheet: {type(exc).__name__}: {exc} (please report this with the sheet)")])
