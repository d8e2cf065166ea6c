"""The key of a code part: every case's arguments and the engine's value for them (and each known mistake's).

Literal cases take their inputs from the exercise's seed-less variant; random cases are drawn from the
sheet's own seed (the same hidden cases for every student) and redrawn until the key is defined there (a
random n, f, s, p whose output size is not whole is redrawn); property checks derive shifted cases from a
literal case and record which output cells or units the student's outputs must relate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np

from grader.answers.code import CodeAnswer, PropertyCheck, RandomArray, RandomCases, shapes_text
from grader.engine import symmetry
from grader.engine.formula import FormulaError, parse_formula
from grader.errors import SpecError
from grader.key import Evaluator, exercise_inputs
from grader.quantities import array_of
from grader.result import Visibility
from grader.spec.loader import Sheet
from grader.spec.models import (
    MAX_ENTRIES,
    MAX_EXACT_INTEGER,
    PartSpec,
    check_literal,
    entry_count,
    finite_problem,
    range_problem,
    spread_problem,
)
from grader.spec.yaml_lines import Loc

MAX_DRAWS = 200
"""Attempts to draw one random case whose key is defined before it is the author's fault."""


def _inside_after_move(shape: tuple[int, ...], output_shift: tuple[int, int]) -> np.ndarray:
    """Boolean mask of ``shape`` (rows, columns, ...): the cells an output moved by ``output_shift`` (rows, columns)
    still covers -- outside them the moved output holds the zeros that filled in."""
    out_y, out_x = output_shift
    inside = np.zeros(shape, dtype=bool)
    inside[max(out_y, 0): shape[0] + min(out_y, 0), max(out_x, 0): shape[1] + min(out_x, 0)] = True
    return inside


@dataclass(frozen=True)
class CodeCaseKey:
    """One call of the student's function and what to compare its output with.

    ``kind``: ``value`` compares the output with ``expected``; ``equivariance`` compares it with the output of case
    ``base`` moved by ``output_shift`` (the input's ``shift`` divided by the layer's stride) at the cells of ``mask``;
    ``invariance`` compares it with the output of ``base`` at ``units``. ``mistakes`` holds each known mistake's
    output by id, for the mistakes defined for this call; ``undefined_mistakes`` why each other one is not.
    """

    name: str
    visibility: Visibility
    kwargs: dict[str, Any]
    expected: Any
    mistakes: dict[str, Any] = field(default_factory=dict)
    undefined_mistakes: dict[str, str] = field(default_factory=dict)
    kind: Literal["value", "equivariance", "invariance"] = "value"
    base: str = ""
    shift: tuple[int, int] = (0, 0)
    output_shift: tuple[int, int] = (0, 0)
    mask: np.ndarray | None = None
    units: tuple[tuple[int, ...], ...] = ()

    @cached_property
    def inputs_text(self) -> str:
        """What the case calls the function with, for feedback (:func:`shapes_text`); worked out once per key, not
        for every submission."""
        return shapes_text(self.kwargs)


def defining(cases: list[CodeCaseKey], mistake_id: str) -> list[CodeCaseKey]:
    """The value cases of ``cases`` for which the known mistake ``mistake_id`` is defined (has an output)."""
    return [case for case in cases if case.kind == "value" and mistake_id in case.mistakes]


@dataclass(frozen=True)
class CodeKey:
    """Every case of one code part, in the order they are run."""

    cases: tuple[CodeCaseKey, ...]

    def case(self, name: str) -> CodeCaseKey:
        return next(c for c in self.cases if c.name == name)


def _rng(sheet: Sheet, exercise_id: str, part_id: str) -> np.random.Generator:
    digest = hashlib.sha256(f"code:{sheet.id}:{exercise_id}:{part_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _argument(value: Any) -> Any:
    """A case argument as the sandbox passes it: whole numbers as int, other scalars as float, arrays as arrays."""
    array = array_of(value)
    if array.ndim == 0:
        number = float(array)
        return int(number) if number.is_integer() else number
    return array.copy()


class _PartKeyBuilder:
    def __init__(self, sheet: Sheet, e_index: int, p_index: int) -> None:
        self.sheet = sheet
        self.exercise = sheet.spec.exercises[e_index]
        self.part: PartSpec = self.exercise.parts[p_index]
        self.answer: CodeAnswer = self.part.answer  # type: ignore[assignment]
        self.loc: Loc = ("parts", p_index)
        self.evaluator = Evaluator(sheet, e_index, exercise_inputs(sheet, e_index, None))

    def error(self, message: str, code: str, *loc: Any) -> SpecError:
        return self.sheet.error(message, code=code, loc=(*self.evaluator.base, *self.loc, *loc))

    def expected_at(self, kwargs: dict[str, Any]) -> Any:
        """The expected output of one call."""
        return self._value(self.part.expected, kwargs, ("expected",))

    def values(self, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, str]]:
        """The expected output, every known mistake's output for one call, and why each mistake undefined for it
        is (by mistake id).

        A mistake may be undefined where the key is not: ``ignored-padding`` slides the filters over the image
        without its padding, which leaves no whole output size for some sizes. Such a mistake cannot be recognised
        in this call, and that is all: it neither fails the key nor makes a random case be drawn again (which
        would have kept out exactly the sizes where the padding matters).
        """
        expected = self.expected_at(kwargs)
        mistakes: dict[str, Any] = {}
        undefined: dict[str, str] = {}
        for index, mistake in enumerate(self.part.mistakes):
            try:
                mistakes[mistake.id] = self._value(mistake.expected, kwargs, ("mistakes", index, "expected"))
            except SpecError as exc:
                if exc.code != "spec-op-failed":
                    raise
                undefined[mistake.id] = exc.message
        return expected, mistakes, undefined

    def _value(self, expression: Any, kwargs: dict[str, Any], loc: Loc) -> Any:
        value = self.evaluator.evaluate(expression, (*self.loc, *loc), kwargs)
        if self.answer.output == "mapping":
            if not isinstance(value, dict):
                raise self.error("a code part with output 'mapping' needs an expected value that is a mapping", "spec-answer-type", *loc)
            return {str(k): array_of(v).copy() for k, v in value.items()}
        if isinstance(value, dict):
            raise self.error("this expected value is a mapping: set the answer's output to 'mapping'", "spec-answer-type", *loc)
        return array_of(value).copy()

    def _case_argument(self, index: int, name: str, raw: Any) -> Any:
        """Argument ``name`` of literal case ``index``: a literal checked as an input's ``value`` is, a reference or
        an op evaluated; anything that is no number or array of numbers is an error at its field."""
        where = ("answer", "cases", index, "inputs", name)
        if not isinstance(raw, dict) and not (isinstance(raw, str) and raw.strip().startswith("$")):
            try:
                check_literal(raw)
            except ValueError as exc:
                raise self.error(f"case input {name!r}: {exc}", "spec-invalid", *where) from None
        value = self.evaluator.evaluate(raw, (*self.loc, *where))
        try:
            return _argument(value)
        except (ValueError, TypeError):
            kind = "a mapping" if isinstance(value, dict) else repr(value)[:80]
            raise self.error(
                f"case input {name!r} must be a number or an array of numbers, got {kind}", "spec-invalid", *where
            ) from None

    def literal_cases(self) -> list[CodeCaseKey]:
        cases = []
        for index, case in enumerate(self.answer.cases):
            kwargs = {name: self._case_argument(index, name, raw) for name, raw in case.inputs.items()}
            try:
                expected, mistakes, undefined = self.values(kwargs)
            except SpecError as exc:  # placed at the expression that failed; say for which case's inputs
                line = self.sheet.lines.line((*self.evaluator.base, *self.loc, "answer", "cases", index))
                raise exc.with_message(f"case {case.name!r}{f' (line {line})' if line else ''}: {exc.message}") from None
            cases.append(CodeCaseKey(case.name, case.visibility, kwargs, expected, mistakes, undefined_mistakes=undefined))
        return cases

    def _check_random_args(self, spec: RandomCases) -> None:
        """Random cases call the function with the same arguments as the literal cases: an argument a literal
        case passes and ``random_cases.args`` lacks is named, instead of failing every draw."""
        for case in self.answer.cases:
            missing = [name for name in case.inputs if name not in spec.args]
            if missing:
                listed = ", ".join(repr(name) for name in missing)
                raise self.error(
                    f"random_cases.args has no {listed}, which case {case.name!r} passes to {self.answer.function}; "
                    f"add {missing[0]}: a dim name, a number or {{shape: [...]}} to random_cases.args",
                    "spec-random-cases", "answer", "random_cases", "args",
                )

    def _check_random_settings(self, spec: RandomCases) -> None:
        """``random_cases`` settings that no draw can use are refused before drawing, each at its field: a dim range
        beyond +-2**53, NaN or infinite low/high/mean/std, an empty or too wide range, and a size in a shape that is
        a number below 1 or a dim whose range reaches below 1 (an empty array would test nothing)."""
        where = ("answer", "random_cases")
        for name, dim in spec.dims.items():
            if max(abs(dim.low), abs(dim.high)) > MAX_EXACT_INTEGER:
                raise self.error(
                    f"dim {name!r} must stay within +-2**53 = {MAX_EXACT_INTEGER}, got low {dim.low}, high {dim.high}",
                    "spec-range", *where, "dims", name,
                )
        for name, arg in spec.args.items():
            if not isinstance(arg, RandomArray):
                continue
            at = (*where, "args", name)
            for setting in ("low", "high", "mean", "std"):
                problem = finite_problem(getattr(arg, setting))
                if problem:
                    raise self.error(f"{setting} {problem}", "spec-invalid", *at, setting)
            problem = range_problem(arg.dist, arg.low, arg.high)
            if problem:
                raise self.error(problem, "spec-range", *at, "high")
            problem = spread_problem(arg.mean, arg.std) if arg.dist == "normal" else None
            if problem:
                raise self.error(problem, "spec-range", *at, "std")
            for index, size in enumerate(arg.shape):
                if isinstance(size, str) and size.strip() in spec.dims and spec.dims[size.strip()].low < 1:
                    dim = spec.dims[size.strip()]
                    raise self.error(
                        f"the shape of {name!r} uses dim {size.strip()!r} as a size, but its range {dim.low}..{dim.high} "
                        "reaches below 1 (an empty array tests nothing); give that dim low: 1 or more, or use another dim",
                        "spec-range", *at, "shape", index,
                    )
                if not isinstance(size, str) and size < 1:
                    raise self.error(
                        f"the shape of {name!r} has the size {size}; every size must be a whole number >= 1",
                        "spec-range", *at, "shape", index,
                    )

    def random_cases(self, spec: RandomCases) -> list[CodeCaseKey]:
        self._check_random_args(spec)
        self._check_random_settings(spec)
        rng = _rng(self.sheet, self.exercise.id, self.part.id)
        cases = []
        for number in range(1, spec.count + 1):
            last_error: SpecError | None = None
            for _ in range(MAX_DRAWS):
                kwargs = self._draw(spec, rng, number)
                try:
                    expected, mistakes, undefined = self.values(kwargs)
                except SpecError as exc:
                    if exc.code != "spec-op-failed":
                        raise  # an unknown name or op, a bad argument: no other draw can fix it
                    last_error = exc  # e.g. a drawn size that is not whole: draw again
                    continue
                cases.append(
                    CodeCaseKey(f"random-{number}", spec.visibility, kwargs, expected, mistakes, undefined_mistakes=undefined)
                )
                break
            else:
                raise self.error(
                    f"no random case with a defined key in {MAX_DRAWS} draws (last: {last_error.message if last_error else '?'}); "
                    "narrow the dims so that the key is defined for most draws", "spec-random-cases", "answer", "random_cases",
                )
        return cases

    def _draw(self, spec: RandomCases, rng: np.random.Generator, number: int) -> dict[str, Any]:
        dims = {name: int(rng.integers(r.low, r.high + 1)) for name, r in spec.dims.items()}
        kwargs: dict[str, Any] = {}
        for name, arg in spec.args.items():
            if isinstance(arg, RandomArray):
                kwargs[name] = self._array(arg, dims, rng, name, number)
            elif isinstance(arg, str):
                if arg not in dims:
                    raise self.error(f"argument {name!r} names the dim {arg!r}, which is not in dims", "spec-unknown-ref", "answer", "random_cases", "args", name)
                kwargs[name] = dims[arg]
            else:
                kwargs[name] = arg
        return {name: _argument(value) for name, value in kwargs.items()}

    def _array(self, arg: RandomArray, dims: dict[str, int], rng: np.random.Generator, name: str, number: int) -> np.ndarray:
        """One random array argument of random case ``number``. A size that is not a whole number >= 1 for this draw
        (``"n - 4"`` for n = 1, ``"n/2"`` for n odd) is refused, not rounded or clamped to an empty array: the draws
        are the sheet's own, the same in ``validate`` as in grading, so no hidden case ever has such a size."""
        where = ("answer", "random_cases", "args", name)
        shape = []
        for index, n in enumerate(arg.shape):
            if isinstance(n, str):
                try:
                    size = float(parse_formula(n, variables=dims).evaluate(dims))
                except FormulaError as exc:
                    raise self.error(f"the shape of {name!r}: {exc}", "spec-bad-arg", *where) from None
                if not (size >= 1 and size.is_integer()):
                    drawn = ", ".join(f"{dim} = {value}" for dim, value in dims.items())
                    raise self.error(
                        f"the shape of {name!r}: {n!r} is {size:g} in random case {number} ({drawn}); every size must be "
                        "a whole number >= 1 for every draw: narrow the dims or change the formula",
                        "spec-range", *where, "shape", index,
                    )
                shape.append(int(size))
            else:
                shape.append(n)
        if entry_count(shape) > MAX_ENTRIES:
            drawn = ", ".join(f"{dim} = {value}" for dim, value in dims.items())
            raise self.error(
                f"the shape of {name!r} is {shape} in random case {number} ({drawn}): {entry_count(shape)} entries; an "
                f"array may have at most {MAX_ENTRIES} (MAX_ENTRIES): narrow the dims",
                "spec-range", *where, "shape",
            )
        if arg.dist == "integers":
            return rng.integers(int(np.ceil(arg.low)), int(np.floor(arg.high)) + 1, size=shape).astype(np.float64)
        if arg.dist == "normal":
            return rng.normal(arg.mean, arg.std, size=shape)
        return rng.uniform(arg.low, arg.high, size=shape)

    def property_cases(self, literal: list[CodeCaseKey]) -> list[CodeCaseKey]:
        cases = []
        for index, check in enumerate(self.answer.properties):
            base = next(c for c in literal if c.name == check.case)
            if check.input not in base.kwargs or not 2 <= np.asarray(base.kwargs[check.input]).ndim <= 3:
                raise self.error(
                    f"{check.kind}: case {check.case!r} has no image argument {check.input!r} (an array (H, W) or "
                    "(H, W, C) to shift)", "spec-bad-arg", "answer", "properties", index,
                )
            if check.kind == "equivariance":
                cases.append(self._equivariance(check, base, index))
            else:
                cases += self._invariance(check, base, index)
        return cases

    def _shifted_call(self, base: CodeCaseKey, check: PropertyCheck, shift: tuple[int, int]) -> tuple[dict[str, Any], Any]:
        kwargs = dict(base.kwargs)
        kwargs[check.input] = symmetry.shift(np.asarray(base.kwargs[check.input], dtype=np.float64), *shift)
        expected = self.expected_at(kwargs)
        return kwargs, expected

    def _equivariance(self, check: PropertyCheck, base: CodeCaseKey, index: int) -> CodeCaseKey:
        shift = tuple(check.shift)
        kwargs, expected = self._shifted_call(base, check, shift)  # type: ignore[arg-type]
        reference = np.asarray(base.expected, dtype=np.float64)
        if reference.ndim < 2 or np.asarray(expected).shape != reference.shape:
            raise self.error("equivariance needs an output image of the same shape for the shifted input", "spec-bad-arg", "answer", "properties", index)
        dy, dx = shift
        out_y, out_x = dy // check.stride, dx // check.stride  # a layer of stride s moves its output 1 cell per s pixels
        mask = np.isclose(symmetry.shift(reference, out_y, out_x), expected)  # cells where the reference is equivariant
        mask &= _inside_after_move(mask.shape, (out_y, out_x))
        if not mask.any() or not self._moves_on_random_image(check, base, (dy, dx), (out_y, out_x)):
            raise self.error(
                "equivariance: no output cell moves with the input under this shift; choose a smaller shift, or for a "
                "layer with a stride, give it as stride (and a shift that is a multiple of it)",
                "spec-bad-arg", "answer", "properties", index,
            )
        return CodeCaseKey(
            f"{base.name}-shifted-{dy}-{dx}", check.visibility, kwargs, expected, {},
            kind="equivariance", base=base.name, shift=(dy, dx), output_shift=(out_y, out_x), mask=mask,
        )

    def _moves_on_random_image(
        self, check: PropertyCheck, base: CodeCaseKey, shift: tuple[int, int], output_shift: tuple[int, int]
    ) -> bool:
        """Whether some output cell of the key really moves by ``output_shift`` when an image of random normal
        numbers (the shape of the case's image, the case's other arguments) moves by ``shift``.

        The case's own image can match by coincidence: its zeros and repeated small integers make cells equal
        whatever the layer does, so a shift the layer does not follow (1 pixel under a stride of 2) still left a
        few cells to check and the check tested almost nothing. On random numbers a cell counts only where its
        value is not 0, changed with the shift, and equals the moved output. When the key is not defined on
        random numbers the case's own mask stands.
        """
        image = np.asarray(base.kwargs[check.input], dtype=np.float64)
        probe = np.random.default_rng(0).normal(size=image.shape)

        def key_at(x: np.ndarray) -> np.ndarray:
            return np.asarray(self.expected_at({**base.kwargs, check.input: x}), dtype=np.float64)

        try:
            before, after = key_at(probe), key_at(symmetry.shift(probe, *shift))
            moved = symmetry.shift(before, *output_shift)
        except (SpecError, ValueError, TypeError):
            return True
        if before.shape != after.shape:
            return True
        inside = _inside_after_move(after.shape, output_shift)
        return bool((inside & np.isclose(moved, after) & ~np.isclose(after, 0) & ~np.isclose(after, before)).any())

    def _invariance(self, check: PropertyCheck, base: CodeCaseKey, index: int) -> list[CodeCaseKey]:
        image = np.asarray(base.kwargs[check.input], dtype=np.float64)

        def layer(x: np.ndarray) -> np.ndarray:
            return np.asarray(self.expected_at({**base.kwargs, check.input: x}), dtype=np.float64)

        shifts = symmetry.invariant_shifts_all(layer, image, check.max_shift)
        by_shift: dict[tuple[int, int], list[tuple[int, ...]]] = {}
        for unit, found in shifts.items():
            if found:
                by_shift.setdefault(min(found, key=lambda s: (abs(s[0]) + abs(s[1]), s)), []).append(unit)
        if not by_shift:
            raise self.error("pool_invariance: no output unit keeps its value under any shift in range", "spec-bad-arg", "answer", "properties", index)
        cases = []
        for shift, units in sorted(by_shift.items()):
            kwargs, expected = self._shifted_call(base, check, shift)
            cases.append(
                CodeCaseKey(
                    f"{base.name}-shifted-{shift[0]}-{shift[1]}", check.visibility, kwargs, expected, {},
                    kind="invariance", base=base.name, shift=shift, units=tuple(units),
                )
            )
        return cases

    def build(self) -> CodeKey:
        literal = self.literal_cases()
        randoms = self.random_cases(self.answer.random_cases) if self.answer.random_cases else []
        return CodeKey(tuple(literal + randoms + self.property_cases(literal)))


@lru_cache(maxsize=64)
def code_part_key(sheet: Sheet, exercise_id: str, part_id: str) -> CodeKey:
    """The key of one code part (cached per loaded sheet). SpecError when it cannot be computed."""
    e_index = sheet.exercise_index(exercise_id)
    p_index = next(i for i, p in enumerate(sheet.spec.exercises[e_index].parts) if p.id == part_id)
    return _PartKeyBuilder(sheet, e_index, p_index).build()
