"""Spec + seed -> AnswerKey: the only bridge between exercise specs and the engine.

For each exercise, inputs are drawn (or taken literally), quantities are evaluated by the operations of
:mod:`grader.quantities`, and every part's expected value and known-mistake values are computed and converted
to what its answer type compares against. Author faults become SpecErrors placed at the spec's line.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.answers import FormulaAnswer, GraphAnswer
from grader.answers.choice import OptionAt
from grader.answers.references import FunctionReference, ScheduleReference, TranslationReference
from grader.engine import max_pool2d_winners
from grader.engine.tensor import Tensor
from grader.errors import SpecError, SpecErrors
from grader.quantities import ENTRY_BY_ENTRY_OPS, OPS, Lazy, LazyArrays, QuantityNode, places_only
from grader.result import Visibility
from grader.spec.loader import Sheet
from grader.spec.models import MAX_ENTRIES, Call, ExerciseSpec, InputSpec, PartSpec, PoolWindow, check_literal, entry_count
from grader.spec.yaml_lines import Loc
from grader.text import close_matches

MAX_KEY_ENTRIES = 2 * MAX_ENTRIES
"""The most numbers one variant's key may hold in all (every part's key and known mistakes; 160 MB as float64).
A key is held whole while it is used (``validate`` holds one at a time, ``grade`` caches one per variant), so each
array's cap (MAX_ENTRIES) alone would let a sheet of thousands of large parts take gigabytes."""

_BROADCASTING_OPS = frozenset({"add", "sub", "mul", "div", "pow", "greater", "less", "formula"})
"""Ops whose result has the broadcast shape of their array arguments (a (n, 1) and a (1, m) give n x m)."""


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


_NOT_GIVEN = object()


class Evaluator:
    """Evaluates one exercise's quantities for one variant, memoized; re-evaluates with inputs overridden.

    With ``shared`` (a key's own evaluation), every evaluation without overrides shares one memo, so each quantity
    is computed once for all the exercise's parts and mistakes, and the lazy arguments of ops share the arrays they
    computed with inputs replaced (:meth:`grader.quantities.Lazy.array_with`: the 24 shifted images of a translation
    check run once for ``translation`` and ``every_unit_has_invariant_shift`` together). Week 7's key took 21 ms a
    variant without, 10 ms with; 18 ms now that its formula keys are evaluated at their parts' check points too
    (:func:`_check_points`, work the first grading of each variant did before and now reuses). Without it each
    evaluation starts afresh."""

    def __init__(
        self, sheet: Sheet, exercise_index: int, inputs: Mapping[str, np.ndarray], *, shared: bool = False
    ) -> None:
        self.sheet = sheet
        self.exercise = sheet.spec.exercises[exercise_index]
        self.base: Loc = ("exercises", exercise_index)
        self.inputs = dict(inputs)
        self.shared_env: _Env | None = _Env(self, {}) if shared else None
        self.lazy_arrays: LazyArrays | None = LazyArrays() if shared else None

    def evaluate(
        self, expression: Any, loc: Loc, overrides: Mapping[str, Any] | None = None, outer: _Env | None = None
    ) -> Any:
        """``expression``'s value, with ``overrides`` replacing inputs. ``outer``: the evaluation whose op's lazy
        argument this is, whose input nodes this one uses for every input it does not replace anew."""
        if self.shared_env is not None and not overrides:
            env = self.shared_env
        elif outer is not None:
            given = dict(overrides or {})
            replaced = frozenset(name for name, value in given.items() if outer.overrides.get(name, _NOT_GIVEN) is not value)
            env = _Env(self, given, outer.inputs, replaced)
        else:
            env = _Env(self, dict(overrides or {}))
        return env.resolve(expression, loc)

    def release(self) -> None:
        """Forget the shared memo and arrays once the key is computed: a formula key's function keeps this evaluator
        (to evaluate it at random points, always with inputs replaced), and a cached key must not keep them too."""
        if self.shared_env is not None:  # in place: the functions' closures hold these very objects
            self.shared_env.memo.clear()
        if self.lazy_arrays is not None:
            self.lazy_arrays.kept.clear()
            self.lazy_arrays.bytes = 0


class _InputNodes(Mapping[str, Tensor]):
    """An evaluation's inputs as graph leaves (Tensors named after their input), each made when first used: an
    evaluation with one input replaced (a shifted image, a formula's random point) uses few of the exercise's.

    ``outer``: the nodes of the evaluation this one is nested in (an op's lazy argument evaluated again with some
    inputs replaced, e.g. ``shifted``); every input not in ``replaced`` is that very node, so a gradient taken in the
    outer evaluation reaches it through the nested one too (it had reached a copy, and the path was dropped).
    """

    def __init__(
        self, values: dict[str, Any], outer: Mapping[str, Tensor] | None = None, replaced: frozenset[str] = frozenset()
    ) -> None:
        self._values = values
        self._outer = outer
        self._replaced = replaced
        self._nodes: dict[str, Tensor] = {}

    def __getitem__(self, name: str) -> Tensor:
        node = self._nodes.get(name)
        if node is None:
            if self._outer is not None and name not in self._replaced and name in self._outer:
                node = self._outer[name]
            else:
                node = Tensor(self._values[name], name=name)
            self._nodes[name] = node
        return node

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class _Env:
    def __init__(
        self, evaluator: Evaluator, overrides: dict[str, Any], outer: _InputNodes | None = None,
        replaced: frozenset[str] = frozenset(),
    ) -> None:
        self.ev = evaluator
        # Overrides replace inputs (a shifted image, random points) or add new ones (a code case's arguments,
        # which shadow quantities of the same name).
        self.overrides = overrides
        self.inputs = _InputNodes({**evaluator.inputs, **overrides}, outer, replaced)
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

    def node(self, op: str, arg: str, raw: Any, loc: Loc) -> Any:
        """The node a ``$reference`` names for an op's ``node_refs`` argument: an input's Tensor, or a quantity as a
        QuantityNode holding the very value (memoized) the other quantities of this evaluation were computed from."""
        if not (isinstance(raw, str) and raw.startswith("$")):
            raise self.error(
                f"{op}: '{arg}' must be a $reference to an input or a quantity (a node the value is computed from), "
                f"got {raw!r}", "spec-bad-arg", loc,
            )
        name = raw[1:]
        if name in self.inputs:
            return self.inputs[name]
        return QuantityNode(name, self.name(name, loc))

    def _reads(self, expression: Any, columns: frozenset[str]) -> Iterator[tuple[str, Any]]:
        """What ``expression`` reads, as written, through every quantity it uses (each once): ``("input", name)``
        for each input but ``columns``, ``("unknown", name)`` for a ``$name`` that is neither an input nor a
        quantity, ``("op", name)`` for each operation, ``("list", items)`` for each list, and ``("leaf", value)``
        for anything else but text (a formula's text, a node's name, an op's name are read by their op)."""
        seen: set[str] = set()
        pending = [expression]
        quantities = self.ev.exercise.quantities
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                if not item.strip().startswith("$"):
                    continue
                name = item.strip()[1:]
                if name in columns or name in seen:
                    continue
                seen.add(name)
                if name in self.inputs:
                    yield "input", name
                elif name in quantities:
                    pending.append(quantities[name])
                else:
                    yield "unknown", name
            elif isinstance(item, Call):
                yield "op", item.op
                pending.extend(item.args.values())
            elif isinstance(item, dict):
                if "op" in item:
                    yield "op", item["op"]
                pending.extend(value for key, value in item.items() if key != "op")
            elif isinstance(item, list):
                yield "list", item
                pending.extend(item)
            else:
                yield "leaf", item

    def entry_by_entry(self, expression: Any, columns: frozenset[str]) -> bool:
        """Whether ``expression``, with the inputs ``columns`` replaced by columns of numbers, computes each entry from
        the same entry of them alone (:data:`grader.quantities.ENTRY_BY_ENTRY_OPS` through every quantity it uses,
        every other input a single number, no literal array), as written, before anything is evaluated."""
        for kind, item in self._reads(expression, columns):
            if kind == "input" and np.size(self.inputs[item].value) != 1:
                return False
            if kind == "unknown" or (kind == "op" and item not in ENTRY_BY_ENTRY_OPS):
                return False
            if kind == "list" and any(isinstance(entry, int | float | list) and not isinstance(entry, bool) for entry in item):
                return False  # a literal array
            if kind == "leaf" and not isinstance(item, int | float | bool) and item is not None:
                return False
        return True

    def every_variant_scope(self, expression: Any, columns: frozenset[str]) -> tuple[Sheet, int] | None:
        """(sheet, exercise index) when ``expression``, with the inputs ``columns`` replaced, has the same value in
        every variant of the sheet: through every quantity it uses, it reads no input but ``columns`` and inputs
        without a ``random`` draw (the same numbers for every seed), and this evaluation replaces nothing (a
        follow-through's student value, a code case's arguments). None otherwise, and for anything it cannot read
        (:meth:`grader.quantities.Lazy.every_variant_scope`)."""
        if self.overrides:
            return None  # so the inputs read are the exercise's own
        inputs = self.ev.exercise.inputs
        for kind, item in self._reads(expression, columns):
            if kind == "input" and (item not in inputs or inputs[item].random is not None):
                return None
            if kind == "unknown" or (kind == "leaf" and not isinstance(item, int | float | bool) and item is not None):
                return None
        return self.ev.sheet, self.ev.base[1]

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
            raise self.error(f"unknown operation {call.op!r}{_op_meant(call.op)}; known: {known}", "spec-unknown-op", (*loc, "op"))
        args: dict[str, Any] = {}
        for arg, raw in call.args.items():
            arg_loc = (*loc, arg)
            if arg in operation.lazy:
                # evaluated again with some inputs replaced, on top of this evaluation's own replacements (a
                # follow_through's value, a code case's arguments): they hold inside the op's argument too
                args[arg] = Lazy(
                    raw,
                    lambda expr, more, l=arg_loc: self.ev.evaluate(expr, l, {**self.overrides, **more}, self),
                    # arrays computed with some inputs replaced are the same for every Lazy of the key's own
                    # evaluation; an evaluation that replaces inputs itself keeps none
                    self.ev.lazy_arrays if self is self.ev.shared_env else None,
                    self.entry_by_entry,
                    self.every_variant_scope,
                )
            elif arg in operation.input_refs:
                if not (isinstance(raw, str) and raw.startswith("$") and raw[1:] in self.inputs):
                    raise self.error(f"{call.op}: '{arg}' must be a $reference to an input, got {raw!r}", "spec-bad-arg", arg_loc)
                args[arg] = self.inputs[raw[1:]]
            elif arg in operation.node_refs:
                args[arg] = self.node(call.op, arg, raw, arg_loc)
            else:
                args[arg] = self.resolve(raw, arg_loc)
        for what, shape in _planned_arrays(call.op, args):
            if entry_count(shape) > MAX_ENTRIES:
                raise self.error(
                    f"{call.op}: {what} would have {entry_count(shape)} entries (shape {_shape_text(shape)}); an array "
                    f"may have at most {MAX_ENTRIES} (MAX_ENTRIES)", "spec-range", loc,
                )
        try:
            result = operation.fn(**args)
        except MemoryError:
            raise self.error(
                f"{call.op}: ran out of memory computing this quantity; make its inputs smaller", "spec-range", loc
            ) from None
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
        size = _entries_held(result)
        if size > MAX_ENTRIES:
            raise self.error(
                f"{call.op}: the result has {size} entries; an array may have at most {MAX_ENTRIES} (MAX_ENTRIES)",
                "spec-range", loc,
            )
        return result


def _shape_text(shape: tuple[int, ...]) -> str:
    """``4002x4002`` for messages (``()`` for a scalar)."""
    return "x".join(str(n) for n in shape) if shape else "()"


def _entries_held(value: Any) -> int:
    """How many numbers a value holds (an array's entries; a mapping's in all; a translation key's memory in numbers
    of 8 bytes; 1 for anything else)."""
    if isinstance(value, TranslationReference):
        return max(1, value.held)
    if isinstance(value, Tensor):
        return int(value.value.size)
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, dict):
        return sum(_entries_held(item) for item in value.values())
    return 1


def _arg_shape(value: Any) -> tuple[int, ...]:
    """The shape of an evaluated argument (a number is ``()``); ValueError for anything that is not an array."""
    if isinstance(value, Tensor):
        return tuple(value.value.shape)
    if isinstance(value, np.ndarray):
        return tuple(value.shape)
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return ()
    if isinstance(value, list):
        return check_literal(value)  # nested lists of numbers as written; ValueError for anything else
    raise ValueError("not an array")


def _arg_whole(value: Any) -> int:
    """An evaluated whole-number argument; ValueError otherwise (the op then says what is wrong)."""
    if type(value) is int:
        return value
    array = np.asarray(value.value if isinstance(value, Tensor) else value, dtype=np.float64)
    if array.size != 1 or not float(array.reshape(())).is_integer():
        raise ValueError("not a whole number")
    return int(array.reshape(()))


def _arg_pair(value: Any) -> tuple[int, int]:
    """An evaluated stride or padding (a number or a [rows, columns] pair) as a pair; ValueError otherwise."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError("not a pair")
        return (_arg_whole(value[0]), _arg_whole(value[1]))
    number = _arg_whole(value)
    return (number, number)


def _planned_arrays(op: str, args: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """The largest arrays ``op`` is about to allocate, from its arguments' shapes, before it runs: a pad width of 1e8,
    broadcasting an (n, 1) against a (1, m), or a convolution's padded input and windows must be refused by their
    size, not by a MemoryError. Empty when the op allocates no more than its arguments hold, or when the arguments
    do not fit the op (the op itself then says why)."""
    try:
        if op in _BROADCASTING_OPS:
            shapes = [_arg_shape(value) for name, value in args.items() if name != "text"]
            return [("the result", tuple(np.broadcast_shapes(*shapes)))] if shapes else []
        if op == "pad":
            shape = list(_arg_shape(args["x"]))
            width = _arg_whole(args["width"])
            axes = args.get("axes")
            for axis in (0, 1) if axes is None else axes:
                shape[int(axis)] += 2 * max(width, 0)
            return [("the padded array", tuple(shape))]
        if op == "stack":
            items = args["items"]
            return [("the result", (len(items), *_arg_shape(items[0])))] if isinstance(items, list) and items else []
        if op in ("conv2d", "conv1d"):
            return _planned_conv(op, args)
        if op == "matmul":
            return _planned_matmul(args)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError):
        return []
    return []


def _planned_conv(op: str, args: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """A convolution's padded input and its matrix of windows (output positions x filter entries)."""
    x, w = _arg_shape(args["x"]), _arg_shape(args["w"])
    spatial = 2 if op == "conv2d" else 1
    batch = x[0] if len(x) == spatial + 2 else 1
    sizes, channels = x[-spatial - 1:-1], x[-1]
    pads = _arg_pair(args.get("padding", 0)) if spatial == 2 else (_arg_whole(args.get("padding", 0)),)
    strides = _arg_pair(args.get("stride", 1)) if spatial == 2 else (_arg_whole(args.get("stride", 1)),)
    padded = tuple(n + 2 * max(p, 0) for n, p in zip(sizes, pads, strict=True))
    planned = [("the padded input", (batch, *padded, channels))]
    outputs = [(n - f) // s + 1 if s > 0 else 0 for n, f, s in zip(padded, w[:spatial], strides, strict=True)]
    if min(outputs) >= 1:
        window = math.prod(w[:spatial]) * channels
        planned.append(("the windows it multiplies", (batch * math.prod(outputs), window)))
    return planned


def _planned_matmul(args: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """A matrix product's result: (n, 1) @ (1, m) holds n * m numbers from n + m."""
    a, b = _arg_shape(args["a"]), _arg_shape(args["b"])
    if not a or not b:
        return []
    rows = a[-2:-1] if len(a) >= 2 else ()
    columns = b[-1:] if len(b) >= 2 else ()
    return [("the result", (*np.broadcast_shapes(a[:-2], b[:-2]), *rows, *columns))]


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
    numbers: int = field(default=0, compare=False)
    """How many numbers the key holds in all: its inputs and the parts' keys and known mistakes (the latter are what
    :data:`MAX_KEY_ENTRIES` bounds; the inputs are bounded by :data:`MAX_ENTRIES` each)."""
    _shown: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)
    _winners: dict[tuple[str, str], tuple[tuple[int, ...], list[Any]]] = field(default_factory=dict, repr=False, compare=False)

    def expected_json(self, exercise_id: str, part_id: str) -> Any:
        """The part's key as report data, computed once per key (every submission of a variant shows it)."""
        where = (exercise_id, part_id)
        if where not in self._shown:
            self._shown[where] = self._part_spec(exercise_id, part_id).answer.expected_json(self.part(*where).expected)
        return self._shown[where]

    def expected_winners(
        self, exercise_id: str, part_id: str, window: PoolWindow | None
    ) -> tuple[tuple[int, ...], list[Any]] | None:
        """The max-pooling winners of the part's key in ``window`` (the part's ``report.pool_winners``): the key's
        shape (H, W, C) and the winners as nested lists of booleans of that shape; computed once per key, as
        :meth:`expected_json` is. None when the part asks for none (``window`` None) or its key has no value to show."""
        if window is None:
            return None
        where = (exercise_id, part_id)
        if where not in self._winners:
            expected = self.expected_json(exercise_id, part_id)
            if expected is None:
                return None
            array = np.asarray(expected, dtype=np.float64)
            self._winners[where] = (array.shape, max_pool2d_winners(array, window.size, stride=window.stride).tolist())
        return self._winners[where]

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
    return value.option(options, where)  # refuses, from shapes alone, an 'at' over more entries than options


MAX_DRAWS = 100
"""Draws of a variant's inputs tried before an exercise's ``require`` is declared impossible for it."""


def exercise_inputs(sheet: Sheet, e_index: int, seed: int | None) -> dict[str, np.ndarray]:
    """One exercise's inputs for variant ``seed``: drawn in order from the variant's generator, and drawn again (the
    generator going on) while they fail one of the exercise's ``require`` conditions, up to MAX_DRAWS times.
    A variant whose first draw meets them is the same as without them. SpecError, at the condition, when no draw
    meets it, or when the sheet's own numbers (seed None, all literal) do not."""
    exercise = sheet.spec.exercises[e_index]
    rng = variant_rng(0 if seed is None else seed, exercise.id)
    if not exercise.require:
        return {name: draw_input(spec, seed, rng) for name, spec in exercise.inputs.items()}
    fixed = seed is None and all(spec.value is not None or spec.random is None for spec in exercise.inputs.values())
    draws = 1 if fixed else MAX_DRAWS
    failed: tuple[int, str] = (0, "")
    for _ in range(draws):
        values = {name: draw_input(spec, seed, rng) for name, spec in exercise.inputs.items()}
        unmet = _failed_condition(sheet, e_index, values)
        if unmet is None:
            return values
        failed = unmet
    index, why = failed
    where = "the numbers written in the sheet do not meet it" if fixed else f"no draw of the inputs met it in {draws} tries"
    raise sheet.error(
        f"require[{index}]: {where}{f' ({why})' if why else ''}; relax the condition or change the inputs or their draws",
        code="spec-require", loc=("exercises", e_index, "require", index),
    )


def require_met_count(sheet: Sheet, e_index: int, samples: int, enough: int | None = None) -> int | None:
    """How many of the variants ``0 .. samples - 1`` meet exercise ``e_index``'s ``require`` conditions with their
    first draw (each variant's draws are independent of the others'): ``count / samples`` estimates how often one
    draw does. Counting stops at ``enough``. None when a condition cannot be computed for some draw (validating the
    variants says so)."""
    exercise = sheet.spec.exercises[e_index]
    met = 0
    for seed in range(samples):
        rng = variant_rng(seed, exercise.id)
        values = {name: draw_input(spec, seed, rng) for name, spec in exercise.inputs.items()}
        try:
            met += _failed_condition(sheet, e_index, values) is None
        except SpecError:
            return None
        if enough is not None and met >= enough:
            break
    return met


def _failed_condition(sheet: Sheet, e_index: int, values: Mapping[str, np.ndarray]) -> tuple[int, str] | None:
    """The first ``require`` condition ``values`` fail (its index, and why when an op could not decide it: a
    comparison of two equal values), None when they meet all. SpecError when a condition is no yes/no value or
    cannot be computed at all (an unknown op or name)."""
    conditions = sheet.spec.exercises[e_index].require
    if not conditions:
        return None
    evaluator = Evaluator(sheet, e_index, values)
    for index, condition in enumerate(conditions):
        try:
            value = evaluator.evaluate(condition, ("require", index))
        except SpecError as exc:
            if exc.code != "spec-op-failed":
                raise
            return index, exc.message  # undecided for this draw (a tie, say): another draw may decide it
        array = np.asarray(value.value if isinstance(value, Tensor) else value)
        if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
            raise sheet.error(
                "a condition must be a comparison (e.g. {op: greater, a: {op: sum, x: $h}, b: 0}) or a quantity that "
                "is exactly 0 or 1 in every entry", code="spec-require", loc=("exercises", e_index, "require", index),
            )
        if not array.astype(bool).all():
            return index, ""
    return None


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
    held = 0  # numbers the key holds so far (MAX_KEY_ENTRIES)
    for e_index, exercise in enumerate(sheet.spec.exercises):
        try:
            values = exercise_inputs(sheet, e_index, seed)
        except SpecError as exc:
            errors.append(exc)
            continue
        inputs[exercise.id] = values
        evaluator = Evaluator(sheet, e_index, values, shared=True)
        for p_index, part in enumerate(exercise.parts):
            try:
                _check_follow_through(sheet, e_index, p_index)
            except SpecError as exc:
                errors.append(exc)
                continue
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
            held += _entries_held(expected) + sum(_entries_held(value) for value in mistakes.values())
            if held > MAX_KEY_ENTRIES:
                errors.append(
                    sheet.error(
                        f"the answer key holds {held} numbers up to this part (its key and known mistakes included); "
                        f"one variant's key may hold at most {MAX_KEY_ENTRIES} (MAX_KEY_ENTRIES): make the arrays "
                        "students answer with smaller, or split the sheet",
                        code="spec-range", loc=("exercises", e_index, *part_loc, "expected"),
                    )
                )
                raise SpecErrors(_unique_errors(errors))  # stop here: the rest would only take more memory
            parts[(exercise.id, part.id)] = PartKey(exercise.id, part.id, expected, mistakes)
        evaluator.release()
    if errors:
        raise SpecErrors(_unique_errors(errors))
    drawn = sum(_entries_held(value) for values in inputs.values() for value in values.values())
    return AnswerKey(sheet=sheet, seed=seed, parts=parts, inputs=inputs, numbers=held + drawn)


def _op_meant(op: Any) -> str:
    """`` (did you mean 'relu'?)`` for an operation written in other letter case or misspelled, else ``""``."""
    close = close_matches(op, OPS, n=2, cutoff=0.75) if isinstance(op, str) else []
    return " (did you mean " + " or ".join(map(repr, close)) + "?)" if close else ""


def referenced_names(expression: Any) -> set[str]:
    """Every ``$name`` an expression mentions (a reference, a call's arguments, nested lists and mappings)."""
    if isinstance(expression, str):
        text = expression.strip()
        return {text[1:]} if text.startswith("$") else set()
    if isinstance(expression, Call):
        return referenced_names(expression.args)
    if isinstance(expression, dict):
        return set().union(*(referenced_names(value) for value in expression.values()))
    if isinstance(expression, list | tuple):
        return set().union(*(referenced_names(value) for value in expression))
    return set()


def calls_in(expression: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every operation an expression calls, nested calls included: ``(op, its arguments)`` (a call, or a mapping
    with ``op`` as nested calls are written; lists and mappings are searched)."""
    if isinstance(expression, Call):
        yield expression.op, expression.args
        children: Iterable[Any] = expression.args.values()
    elif isinstance(expression, dict):
        if isinstance(expression.get("op"), str):
            yield expression["op"], {name: value for name, value in expression.items() if name != "op"}
        children = expression.values()
    elif isinstance(expression, list | tuple):
        children = expression
    else:
        return
    for child in children:
        yield from calls_in(child)


def unused_quantities(exercise: ExerciseSpec) -> list[str]:
    """The quantities of an exercise that no part reads, directly or through other quantities (in sheet order)."""
    pending: set[str] = set()
    for part in exercise.parts:
        pending |= referenced_names(part.expected)
        pending |= referenced_names([mistake.expected for mistake in part.mistakes])
        for case in getattr(part.answer, "cases", None) or []:
            pending |= referenced_names(getattr(case, "inputs", {}))
    used: set[str] = set()
    while pending:
        name = pending.pop()
        if name in used or name not in exercise.quantities:
            continue
        used.add(name)
        pending |= referenced_names(exercise.quantities[name]) - used
    return [name for name in exercise.quantities if name not in used]


def unused_quantity_errors(sheet: Sheet, seed: int | None) -> list[SpecError]:
    """The faults of the quantities no part reads, evaluated for variant ``seed``: an unknown op, a bad argument, a
    cycle or an undefined ``$name`` there would otherwise go unnoticed until a part uses the quantity. Messages are
    without the variant (as :func:`compute_key` with ``name_variant=False``); inputs that cannot be drawn are left to
    the key's own errors."""
    errors: list[SpecError] = []
    for e_index, exercise in enumerate(sheet.spec.exercises):
        unused = unused_quantities(exercise)
        if not unused:
            continue
        try:
            env = _Env(Evaluator(sheet, e_index, exercise_inputs(sheet, e_index, seed)), {})
        except SpecError:
            continue  # the key's own errors say it
        for name in unused:
            try:
                env.name(name, ("quantities", name))
            except SpecError as exc:
                errors.append(exc)
    return _unique_errors(errors)


def _unique_errors(errors: list[SpecError]) -> list[SpecError]:
    seen: set[str] = set()
    unique = []
    for error in errors:
        if str(error) not in seen:
            seen.add(str(error))
            unique.append(error)
    return unique


FOLLOW_SOURCE_TYPES = ("number", "integer", "array")
"""Answer types whose answer can stand for an input or quantity (follow_through's ``part``)."""


def _check_follow_through(sheet: Sheet, e_index: int, p_index: int) -> None:
    """SpecError, at the field, when a part's ``follow_through`` names no usable earlier answer: another part of
    the exercise with a number, integer or array answer, visible when this part is (a visible part's feedback would
    tell whether a hidden one was right), standing for an input or quantity of the exercise."""
    exercise = sheet.spec.exercises[e_index]
    part = exercise.parts[p_index]
    if not part.follow_through:
        return  # most parts: nothing to build for every part of every variant's key
    parts = {other.id: other for other in exercise.parts}
    seen: set[tuple[str, str]] = set()
    for f_index, entry in enumerate(part.follow_through):
        loc = ("exercises", e_index, "parts", p_index, "follow_through", f_index)
        if (entry.part, entry.replaces) in seen:
            raise sheet.error(
                f"follow_through lists part {entry.part!r} replacing {entry.replaces!r} twice; keep one entry (the best "
                "credit of the entries an answer fits is given)", code="spec-follow-through", loc=loc,
            )
        seen.add((entry.part, entry.replaces))
        source = parts.get(entry.part)
        if part.answer.type not in _PLAIN_TYPES:
            raise sheet.error(
                f"follow_through works for answers that are values ({', '.join(sorted(_PLAIN_TYPES))}), not for a "
                f"'{part.answer.type}' part", code="spec-follow-through", loc=loc,
            )
        if source is None or source is part:
            others = ", ".join(other.id for other in exercise.parts if other is not part) or "none"
            what = "this part itself" if source is part else f"no part {entry.part!r} in exercise {exercise.id!r}"
            raise sheet.error(f"follow_through.part names {what}; the other parts: {others}", code="spec-follow-through", loc=(*loc, "part"))
        if source.answer.type not in FOLLOW_SOURCE_TYPES:
            raise sheet.error(
                f"part {source.id!r} has a '{source.answer.type}' answer, which cannot stand for a value; follow_through "
                f"takes a part answered with a {', '.join(FOLLOW_SOURCE_TYPES[:-1])} or {FOLLOW_SOURCE_TYPES[-1]}",
                code="spec-follow-through", loc=(*loc, "part"),
            )
        if source.visibility is Visibility.hidden and part.visibility is not Visibility.hidden:
            raise sheet.error(
                f"part {source.id!r} is hidden: this visible part's feedback would tell whether the student's answer "
                "there was right; make both hidden, or both visible", code="spec-follow-through", loc=(*loc, "part"),
            )
        if entry.replaces not in exercise.inputs and entry.replaces not in exercise.quantities:
            known = ", ".join(sorted([*exercise.inputs, *exercise.quantities])) or "none"
            raise sheet.error(
                f"follow_through.replaces must name an input or quantity of exercise {exercise.id!r} (without $), got "
                f"{entry.replaces!r}; known: {known}", code="spec-follow-through", loc=(*loc, "replaces"),
            )


def follow_through_key(
    key: AnswerKey, exercise_id: str, part_id: str, replaces: str, value: Any, *, students: bool = False
) -> Any:
    """The key of a part computed again with the input or quantity ``replaces`` set to ``value`` (a student's answer
    to an earlier part, as that part's answer type reads it, when ``students``): what is right "given your answer
    there". A student's value must lead ``index`` to places (:func:`grader.quantities.places_only`).

    SpecError when it cannot be computed for that value (a width that is not whole, say): then nothing is right
    given it."""
    sheet = key.sheet
    e_index = sheet.exercise_index(exercise_id)
    exercise = sheet.spec.exercises[e_index]
    p_index = next(index for index, part in enumerate(exercise.parts) if part.id == part_id)
    part = exercise.parts[p_index]
    evaluator = Evaluator(sheet, e_index, key.inputs[exercise_id])
    overrides = {replaces: np.asarray(value, dtype=np.float64)}
    with places_only() if students else contextlib.nullcontext():
        return _key_value(evaluator, part, part.expected, ("parts", p_index, "expected"), "expected", overrides)


def _key_value(
    evaluator: Evaluator, part: PartSpec, expression: Any, loc: Loc, what: str, overrides: Mapping[str, Any] | None = None
) -> Any:
    value = evaluator.evaluate(expression, loc, overrides)
    try:
        converted = _convert(part, value, what)
    except ValueError as exc:
        raise evaluator.sheet.error(str(exc), code="spec-answer-type", loc=(*evaluator.base, *loc)) from None
    _check_domains(evaluator, part, converted, loc[:2], what)
    _check_points(evaluator, part, converted, loc, what)
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


def _check_points(evaluator: Evaluator, part: PartSpec, value: Any, loc: Loc, what: str) -> None:
    """A formula or graph key must be defined at enough of the random points its part is checked at (those of
    :func:`grader.grading.check_context`), else no student could be graded on it; evaluating it there now also
    remembers its values for grading."""
    answer = part.answer
    if not isinstance(value, FunctionReference) or not isinstance(answer, FormulaAnswer | GraphAnswer):
        return
    from grader.answers.formula import reference_at_points
    from grader.grading import check_context  # grading imports this module

    domains = answer.variables if isinstance(answer, FormulaAnswer) else answer.inputs
    exercise_id = evaluator.exercise.id
    try:
        reference_at_points(value, domains, answer, check_context(evaluator.sheet, exercise_id, part.id))
    except ValueError as exc:
        raise evaluator.sheet.error(
            f"the {what} function cannot be checked: {exc}", code="spec-key-unusable", loc=(*evaluator.base, *loc)
        ) from None


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


KEY_CACHE_KEYS = 256
"""How many variants' keys one process keeps at most (least recently used go first)."""
KEY_CACHE_NUMBERS = 2_500_000
"""How many numbers the kept keys may hold in all (20 MB as float64): a sheet of big arrays keeps few variants,
the week-7 sheet (about 3,000 numbers a variant) keeps :data:`KEY_CACHE_KEYS`. The key just computed is kept
whatever its size, so a batch of one variant computes it once."""

_KEYS: OrderedDict[tuple[Sheet, int | None], AnswerKey] = OrderedDict()
_KEYS_LOCK = threading.Lock()  # a batch worker grades code submissions on several threads


def answer_key(sheet: Sheet, seed: int | None = None) -> AnswerKey:
    """:func:`compute_key`, cached per (sheet, seed) within :data:`KEY_CACHE_KEYS` and :data:`KEY_CACHE_NUMBERS`:
    a batch computes each variant's key once, and its memory stays bounded however many variants it meets."""
    where = (sheet, seed)
    with _KEYS_LOCK:
        if where in _KEYS:
            _KEYS.move_to_end(where)
            return _KEYS[where]
    key = compute_key(sheet, seed)  # outside the lock: two threads may compute one key, never wait on each other
    with _KEYS_LOCK:
        _KEYS[where] = key
        _KEYS.move_to_end(where)
        held = sum(kept.numbers for kept in _KEYS.values())
        while len(_KEYS) > 1 and (len(_KEYS) > KEY_CACHE_KEYS or held > KEY_CACHE_NUMBERS):
            _, dropped = _KEYS.popitem(last=False)
            held -= dropped.numbers
    return key

