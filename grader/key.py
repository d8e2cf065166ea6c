"""Spec + seed -> AnswerKey: the only bridge between exercise specs and the engine.

For each exercise, inputs are drawn (or taken literally), quantities are evaluated by the operations of
:mod:`grader.quantities`, and every part's expected value and known-mistake values are computed and converted
to what its answer type compares against. Author faults become SpecErrors placed at the spec's line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from grader.answers import FormulaAnswer, GraphAnswer
from grader.answers.choice import OptionAt
from grader.answers.references import FunctionReference, ScheduleReference, TranslationReference
from grader.engine import max_pool2d_winners
from grader.engine.tensor import Tensor
from grader.errors import SpecError, SpecErrors
from grader.quantities import OPS, Lazy
from grader.spec.loader import Sheet
from grader.spec.models import Call, ExerciseSpec, InputSpec, PartSpec
from grader.spec.yaml_lines import Loc


def variant_rng(seed: int, exercise_id: str) -> np.random.Generator:
    """The generator of one exercise's random inputs for one seed (independent across exercises)."""
    digest = hashlib.sha256(f"{seed}:{exercise_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def draw_input(spec: InputSpec, seed: int | None, rng: np.random.Generator) -> np.ndarray:
    """An input's value for a variant: the literal for seed None (when given), else a draw from ``rng``."""
    if spec.random is None or (seed is None and spec.value is not None):
        return np.asarray(spec.value, dtype=np.float64)
    r = spec.random
    shape = tuple(r.shape)
    if r.dist == "integers":
        value = rng.integers(int(np.ceil(r.low)), int(np.floor(r.high)) + 1, size=shape).astype(np.float64)
    elif r.dist == "normal":
        value = rng.normal(r.mean, r.std, size=shape)
    else:
        value = rng.uniform(r.low, r.high, size=shape)
    if r.zero_border and value.ndim >= 2:
        b = r.zero_border
        value[:b] = 0
        value[-b:] = 0
        value[:, :b] = 0
        value[:, -b:] = 0
    return np.asarray(value, dtype=np.float64)


class Evaluator:
    """Evaluates one exercise's quantities for one variant, memoized; re-evaluates with inputs overridden."""

    def __init__(self, sheet: Sheet, exercise_index: int, inputs: Mapping[str, np.ndarray]) -> None:
        self.sheet = sheet
        self.exercise = sheet.spec.exercises[exercise_index]
        self.base: Loc = ("exercises", exercise_index)
        self.inputs = dict(inputs)

    def evaluate(self, expression: Any, loc: Loc, overrides: Mapping[str, Any] | None = None) -> Any:
        env = _Env(self, dict(overrides or {}))
        return env.resolve(expression, loc)


class _Env:
    def __init__(self, evaluator: Evaluator, overrides: dict[str, Any]) -> None:
        self.ev = evaluator
        # Overrides replace inputs (a shifted image, random points) or add new ones (a code case's arguments,
        # which shadow quantities of the same name).
        values = {**evaluator.inputs, **overrides}
        self.inputs: dict[str, Tensor] = {name: Tensor(value, name=name) for name, value in values.items()}
        self.memo: dict[str, Any] = {}
        self.active: list[str] = []

    def error(self, message: str, code: str, loc: Loc) -> SpecError:
        return self.ev.sheet.error(message, code=code, loc=(*self.ev.base, *loc))

    def name(self, name: str, loc: Loc) -> Any:
        if name in self.inputs:
            return self.inputs[name]
        if name in self.memo:
            return self.memo[name]
        quantities = self.ev.exercise.quantities
        if name not in quantities:
            known = ", ".join(sorted([*self.inputs, *quantities])) or "none"
            raise self.error(f"${name} is neither an input nor a quantity of this exercise; known: {known}", "spec-unknown-ref", loc)
        if name in self.active:
            cycle = " -> ".join([*self.active[self.active.index(name):], name])
            raise self.error(f"quantities depend on each other in a cycle: {cycle}", "spec-cycle", ("quantities", name))
        self.active.append(name)
        try:
            value = self.call(quantities[name], ("quantities", name))
        finally:
            self.active.pop()
        self.memo[name] = value
        return value

    def resolve(self, value: Any, loc: Loc) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            return self.name(value[1:], loc)
        if isinstance(value, Call):
            return self.call(value, loc)
        if isinstance(value, dict) and "op" in value:
            return self.call(Call.model_validate(value), loc)
        if isinstance(value, dict):
            return {k: self.resolve(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, (*loc, i)) for i, v in enumerate(value)]
        return value

    def call(self, call: Call, loc: Loc) -> Any:
        operation = OPS.get(call.op)
        if operation is None:
            known = ", ".join(sorted(OPS))
            raise self.error(f"unknown operation {call.op!r}; known: {known}", "spec-unknown-op", (*loc, "op"))
        args: dict[str, Any] = {}
        for arg, raw in call.args.items():
            arg_loc = (*loc, arg)
            if arg in operation.lazy:
                args[arg] = Lazy(raw, lambda expr, overrides, l=arg_loc: self.ev.evaluate(expr, l, overrides))
            elif arg in operation.input_refs:
                if not (isinstance(raw, str) and raw.startswith("$") and raw[1:] in self.inputs):
                    raise self.error(f"{call.op}: '{arg}' must be a $reference to an input, got {raw!r}", "spec-bad-arg", arg_loc)
                args[arg] = self.inputs[raw[1:]]
            else:
                args[arg] = self.resolve(raw, arg_loc)
        try:
            return operation.fn(**args)
        except TypeError as exc:
            if "argument" not in str(exc):
                raise
            raise self.error(f"{call.op}: bad arguments ({_type_error_text(exc)}); expected {operation.signature}", "spec-bad-args", loc) from None
        except SpecError:
            raise
        except (ValueError, ArithmeticError) as exc:
            text = str(exc)
            # engine functions often name themselves already (``conv_output_size: ... is not a whole number``)
            message = text if text.startswith(f"{call.op}:") else f"{call.op}: {text}"
            raise self.error(message, "spec-op-failed", loc) from None


def _type_error_text(exc: TypeError) -> str:
    text = str(exc)
    return text.split(") ", 1)[-1] if ") " in text else text


@dataclass(frozen=True)
class PartKey:
    """The key of one part: the expected value and each known mistake's value, as the answer type compares them."""

    exercise_id: str
    part_id: str
    expected: Any
    mistakes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerKey:
    """Every part's key for one variant of a sheet, plus the inputs the student's sheet shows."""

    sheet: Sheet
    seed: int | None
    parts: dict[tuple[str, str], PartKey]
    inputs: dict[str, dict[str, np.ndarray]]
    """exercise id -> input name -> value (as drawn for this variant)."""
    _shown: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)

    def expected_json(self, exercise_id: str, part_id: str) -> Any:
        """The part's key as report data, computed once per key (every submission of a variant shows it)."""
        where = (exercise_id, part_id)
        if where not in self._shown:
            self._shown[where] = self._part_spec(exercise_id, part_id).answer.expected_json(self.part(*where).expected)
        return self._shown[where]

    def part(self, exercise_id: str, part_id: str) -> PartKey:
        return self.parts[(exercise_id, part_id)]

    def _part_spec(self, exercise_id: str, part_id: str) -> PartSpec:
        exercise = next(e for e in self.sheet.spec.exercises if e.id == exercise_id)
        return next(p for p in exercise.parts if p.id == part_id)

    def answer_json(self, exercise_id: str, part_id: str) -> Any:
        """What a student would write for the right answer (None when it is not a plain value)."""
        part = self._part_spec(exercise_id, part_id)
        return _submittable(part, self.part(exercise_id, part_id).expected)

    def mistake_ids(self, exercise_id: str, part_id: str) -> list[str]:
        return list(self.part(exercise_id, part_id).mistakes)

    def mistake_json(self, exercise_id: str, part_id: str, mistake_id: str) -> Any:
        """What a student making this known mistake would write (None when it is not a plain value)."""
        part = self._part_spec(exercise_id, part_id)
        return _submittable(part, self.part(exercise_id, part_id).mistakes[mistake_id])

    def as_json(self) -> dict[str, dict[str, Any]]:
        """``{exercise_id: {part_id: value}}`` with arrays as nested lists (the ``solve --format json`` output)."""
        out: dict[str, dict[str, Any]] = {}
        for exercise, part in self.sheet.parts():
            if part.answer.type == "code":
                continue
            out.setdefault(exercise.id, {})[part.id] = self.expected_json(exercise.id, part.id)
        return out


_PLAIN_TYPES = {"number", "integer", "array", "shape", "boolean", "choice", "set"}


def _submittable(part: PartSpec, value: Any) -> Any:
    if part.answer.type not in _PLAIN_TYPES:
        return None
    return part.answer.expected_json(value)


def _convert(part: PartSpec, value: Any, where: str) -> Any:
    """A quantity's value in the form the part's answer type compares against; ValueError when it can't be."""
    kind = part.answer.type
    if kind in ("number", "integer", "array", "boolean"):
        if isinstance(value, OptionAt):
            raise ValueError(f"{where} is an option of a choice (the option op), not a numeric value for a '{kind}' answer")
        if isinstance(value, FunctionReference | ScheduleReference | TranslationReference | frozenset | tuple | dict | str):
            raise ValueError(f"{where} is a {type(value).__name__}, not a numeric value for a '{kind}' answer")
        array = np.asarray(value.value if isinstance(value, Tensor) else value)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{where} is a {type(value).__name__}, not a numeric value for a '{kind}' answer")
        if kind == "array":
            return array.astype(np.float64)
        if array.size != 1:
            raise ValueError(f"{where} has shape {array.shape}; a '{kind}' answer needs a single value")
        scalar = array.reshape(())[()]
        if kind == "boolean":
            return _boolean(scalar, where)
        if kind == "integer":
            if not float(scalar).is_integer():
                raise ValueError(f"{where} is {float(scalar):g}, not a whole number, for an 'integer' answer")
            return int(scalar)
        return float(scalar)
    if kind == "shape":
        if not isinstance(value, tuple):
            raise ValueError(f"{where} must be a shape (use the shape_of op) for a 'shape' answer")
        return value
    if kind == "set":
        if not isinstance(value, frozenset):
            raise ValueError(f"{where} must be a set of names (e.g. the children_of op) for a 'set' answer")
        return value
    if kind == "choice":
        return _choice(part.answer.options, value, where)  # type: ignore[union-attr]
    if kind in ("formula", "graph"):
        if not isinstance(value, FunctionReference):
            raise ValueError(f"{where} must be made by the function op for a '{kind}' answer")
        return value
    if kind == "schedule":
        if not isinstance(value, ScheduleReference):
            raise ValueError(f"{where} must be made by the schedule op for a 'schedule' answer")
        return value
    if kind == "translation":
        if not isinstance(value, TranslationReference):
            raise ValueError(f"{where} must be made by the translation op for a 'translation' answer")
        return value
    return value


def _boolean(scalar: Any, where: str) -> bool:
    """A boolean part's key: a comparison's True/False, or a number that is exactly 0 or 1 -- never a number's
    truthiness (a gradient of -0.01 is not "yes")."""
    if isinstance(scalar, (bool, np.bool_)):
        return bool(scalar)
    number = float(scalar)
    if number in (0.0, 1.0):
        return number == 1.0
    raise ValueError(
        f"{where} is {number:g}, not a yes/no value: a 'boolean' part's key must be a comparison "
        "(e.g. {op: greater, a: ..., b: 0}) or exactly 0 or 1"
    )


def _choice(options: list[str], value: Any, where: str) -> str:
    """A choice part's key: the option at the position the ``option`` op computed."""
    if not isinstance(value, OptionAt):
        if isinstance(value, Tensor | np.ndarray | int | float | np.number):
            shown = np.asarray(value.value if isinstance(value, Tensor) else value)
            got = f"a plain number ({shown.reshape(())[()]:g})" if shown.size == 1 else f"an array of shape {shown.shape}"
        else:
            got = f"a {type(value).__name__}"
        raise ValueError(
            f"{where} is {got}, not an option: a 'choice' part's key is {{op: option, at: ...}}, the 0-based position "
            "of the right option computed by the engine (e.g. at: {op: argmax, x: ...}); if the answer is the "
            "number itself, use an 'integer' or 'number' part"
        )
    if value.position >= len(options):
        listed = ", ".join(f"{i}: {option!r}" for i, option in enumerate(options))
        raise ValueError(f"{where} picks the option at position {value.position}, but there are only {len(options)} ({listed})")
    return options[value.position]


def exercise_inputs(exercise: ExerciseSpec, seed: int | None) -> dict[str, np.ndarray]:
    rng = variant_rng(0 if seed is None else seed, exercise.id)
    return {name: draw_input(spec, seed, rng) for name, spec in exercise.inputs.items()}


def compute_key(sheet: Sheet, seed: int | None = None, *, name_variant: bool = True) -> AnswerKey:
    """The answer key of ``sheet`` for variant ``seed`` (None: the sheet's literal numbers).

    Raises SpecErrors listing every part whose key cannot be computed (the author's fault); with
    ``name_variant`` each message of a seeded variant starts ``seed 17:`` (a key may fail for one seed only).
    """
    try:
        return _compute_key(sheet, seed)
    except SpecErrors as exc:
        if seed is None or not name_variant:
            raise
        raise SpecErrors(
            error.with_message(f"seed {seed}: {error.message}") for error in exc.errors
        ) from None


def _compute_key(sheet: Sheet, seed: int | None) -> AnswerKey:
    parts: dict[tuple[str, str], PartKey] = {}
    inputs: dict[str, dict[str, np.ndarray]] = {}
    errors: list[SpecError] = []
    for e_index, exercise in enumerate(sheet.spec.exercises):
        values = exercise_inputs(exercise, seed)
        inputs[exercise.id] = values
        evaluator = Evaluator(sheet, e_index, values)
        for p_index, part in enumerate(exercise.parts):
            if part.answer.type == "code":
                parts[(exercise.id, part.id)] = PartKey(exercise.id, part.id, expected=None)
                continue
            part_loc: Loc = ("parts", p_index)
            try:
                expected = _key_value(evaluator, part, part.expected, (*part_loc, "expected"), "expected")
                _check_report(evaluator, part, expected, part_loc)
                mistakes = {
                    m.id: _key_value(evaluator, part, m.expected, (*part_loc, "mistakes", m_index, "expected"), f"mistake {m.id!r}")
                    for m_index, m in enumerate(part.mistakes)
                }
            except SpecError as exc:
                errors.append(exc)
                continue
            parts[(exercise.id, part.id)] = PartKey(exercise.id, part.id, expected, mistakes)
    if errors:
        raise SpecErrors(_unique_errors(errors))
    return AnswerKey(sheet=sheet, seed=seed, parts=parts, inputs=inputs)


def _unique_errors(errors: list[SpecError]) -> list[SpecError]:
    seen: set[str] = set()
    unique = []
    for error in errors:
        if str(error) not in seen:
            seen.add(str(error))
            unique.append(error)
    return unique


def _key_value(evaluator: Evaluator, part: PartSpec, expression: Any, loc: Loc, what: str) -> Any:
    value = evaluator.evaluate(expression, loc)
    try:
        converted = _convert(part, value, what)
    except ValueError as exc:
        raise evaluator.sheet.error(str(exc), code="spec-answer-type", loc=(*evaluator.base, *loc)) from None
    _check_domains(evaluator, part, converted, loc[:2], what)
    return converted


def _check_domains(evaluator: Evaluator, part: PartSpec, value: Any, part_loc: Loc, what: str) -> None:
    """A formula or graph key reads every variable of its ``function``; the answer must give each a domain to
    draw random points from (else every check of the part would fail, whatever the student wrote)."""
    names = getattr(value, "variables", None)
    answer = part.answer
    if not names or not isinstance(answer, FormulaAnswer | GraphAnswer):
        return
    field_name = "variables" if isinstance(answer, FormulaAnswer) else "inputs"
    domains = answer.variables if isinstance(answer, FormulaAnswer) else answer.inputs
    missing = [name for name in names if name not in domains]
    if missing:
        listed = ", ".join(missing)
        plural = len(missing) > 1
        raise evaluator.sheet.error(
            f"answer.{field_name} has no domain for {listed}, which the {what} function reads (its variables: "
            f"{', '.join(names)}); add {missing[0]}: {{low: ..., high: ...}} to answer.{field_name}, or drop "
            f"{'them' if plural else 'it'} from the function's variables (then {'they keep their' if plural else 'it keeps its'} "
            "value in each variant)",
            code="spec-domain",
            loc=(*evaluator.base, *part_loc, "answer", field_name),
        )


def _check_report(evaluator: Evaluator, part: PartSpec, expected: Any, part_loc: Loc) -> None:
    """``report.pool_winners`` must be drawable on the key (an (H, W, C) array the window tiles): grading draws it
    for every submission and must not fail there."""
    window = part.report.pool_winners
    if window is None:
        return
    try:
        if isinstance(expected, bool | str) or not isinstance(expected, float | int | np.ndarray):
            raise ValueError(f"the key of a '{part.answer.type}' part is not an array")
        max_pool2d_winners(np.asarray(expected, dtype=np.float64), window.size, stride=window.stride)
    except ValueError as exc:
        raise evaluator.sheet.error(
            f"report.pool_winners: {exc}; remove pool_winners or use it on an (H, W, C) array the window tiles",
            code="spec-report",
            loc=(*evaluator.base, *part_loc, "report"),
        ) from None


@lru_cache(maxsize=256)
def _cached_key(sheet: Sheet, seed: int | None) -> AnswerKey:
    return compute_key(sheet, seed)


def answer_key(sheet: Sheet, seed: int | None = None) -> AnswerKey:
    """:func:`compute_key`, cached per (sheet, seed): a batch computes each variant's key once."""
    return _cached_key(sheet, seed)

