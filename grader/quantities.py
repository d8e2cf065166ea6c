"""The operations a spec may name in ``{op: ...}``: each one a thin call into the engine, with its arguments.

Values flowing between operations are engine Tensors (so ``grad`` can differentiate any quantity with respect
to any input), Python numbers, tuples, engine Graphs, and the references answer types compare against.
Arguments named in an op's ``lazy`` set arrive unevaluated (a :class:`Lazy`), so the op can re-evaluate a
quantity with an input replaced: a shifted image, or arrays of random points for a formula check.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import hashlib
import inspect
import re
import threading
import weakref
from functools import lru_cache
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from grader import engine
from grader.answers.choice import OptionAt, Position
from grader.answers.references import FunctionReference, ScheduleReference, TranslationReference
from grader.engine import structure, symmetry
from grader.engine.audit import NAMED_CANDIDATES, SPLIT_SEEDS, differs, number_text
from grader.engine.formula import flow_comma_hint
from grader.engine.graph import (
    Graph, KinkDependence, SelectTie, kink_dependence, kinks, rounding_error_units, select_ties, tie_rule_dependence,
)
from grader.engine.tensor import Tensor, as_tensor
from grader.errors import GraderError
from grader.spec.yaml_lines import DECIMAL_FLOAT


LAZY_ARRAY_BYTES = 64 << 20
"""How many bytes of arrays an evaluation's :meth:`Lazy.array_with` remembers at most (later ones are computed each
time): week 7 keeps 24 of 128 bytes; a 1000 x 1000 image shifted by up to 6 pixels would keep 1.3 GB."""


class LazyArrays:
    """The arrays :meth:`Lazy.array_with` computed in one evaluation: by (expression, a digest of the inputs
    replaced), within :data:`LAZY_ARRAY_BYTES`."""

    def __init__(self) -> None:
        self.kept: dict[tuple[Any, ...], tuple[Any, np.ndarray]] = {}
        self.bytes = 0


class Lazy:
    """An unevaluated argument: ``value()`` as written, or ``value_with({input: new_value})``.

    ``arrays``, when given, is shared by every Lazy of one evaluation without overrides (the key's own): there
    :meth:`array_with` remembers the arrays it computed, so ``translation`` and ``every_unit_has_invariant_shift``
    of one layer run it once per shifted image, not once each."""

    def __init__(
        self,
        expression: Any,
        evaluate: Callable[[Any, Mapping[str, Any]], Any],
        arrays: LazyArrays | None = None,
        entry_by_entry: Callable[[Any, frozenset[str]], bool] | None = None,
        every_variant_scope: Callable[[Any, frozenset[str]], Hashable | None] | None = None,
    ) -> None:
        self.expression = expression
        self._evaluate = evaluate
        self._arrays = arrays
        self._entry_by_entry = entry_by_entry
        self._every_variant_scope = every_variant_scope

    def entry_by_entry(self, columns: frozenset[str]) -> bool:
        """Whether the expression, with the inputs ``columns`` replaced by columns of numbers, is computed entry by
        entry from them, as the sheet writes it (False when the evaluation cannot tell)."""
        return self._entry_by_entry is not None and self._entry_by_entry(self.expression, columns)

    def every_variant_scope(self, columns: frozenset[str]) -> Hashable | None:
        """With the inputs ``columns`` replaced, is the expression's value the same in every variant of the sheet
        (it reads no other input that a seed draws, and no value a student gave)? Then a token naming where its
        ``$names`` mean what they mean (the sheet and exercise): values computed for one variant serve all. None
        when it is not, or when the evaluation cannot tell."""
        if self._every_variant_scope is None:
            return None
        return self._every_variant_scope(self.expression, columns)

    def value(self) -> Any:
        return self._evaluate(self.expression, {})

    def value_with(self, overrides: Mapping[str, Any]) -> Any:
        """The expression's value when each named input takes the given value instead of its own."""
        return self._evaluate(self.expression, overrides)

    def array_with(self, overrides: Mapping[str, np.ndarray]) -> np.ndarray:
        """``array_of(value_with(overrides))``, read-only; remembered when the evaluation shares its arrays (only
        arrays: a value's graph is never shared, since a gradient through one quantity must not flow through another
        that was computed alike)."""
        if self._arrays is None:
            return array_of(self.value_with(overrides))
        # a reference ("$pooled") is the same quantity wherever it is written; another expression, the same object
        # (which the entry keeps alive, so that its id is not another's while the entry is kept)
        expression = self.expression if isinstance(self.expression, str) else id(self.expression)
        key = (expression, *(
            (name, a.shape, a.dtype.str, hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=16).digest())
            for name, a in sorted(overrides.items())
        ))
        kept = self._arrays.kept.get(key)
        if kept is not None:
            return kept[1]
        array = np.array(array_of(self.value_with(overrides)))
        array.setflags(write=False)
        if self._arrays.bytes + array.nbytes <= LAZY_ARRAY_BYTES:
            self._arrays.kept[key] = (self.expression, array)
            self._arrays.bytes += array.nbytes
        return array


@dataclass(frozen=True)
class Op:
    """One registered operation: its function, the argument names it takes lazily, and its doc line."""

    name: str
    fn: Callable[..., Any]
    lazy: frozenset[str]
    input_refs: frozenset[str]
    """Arguments that must be a ``$reference`` to an input (not a quantity or a literal)."""
    node_refs: frozenset[str] = frozenset()
    """Arguments that must be a ``$reference`` to an input or a quantity: the op gets the input's Tensor, or the
    quantity as a :class:`QuantityNode` (the Tensor the other quantities were computed from, and its name)."""

    @property
    def doc(self) -> str:
        """The first line of the op's docstring, without reStructuredText's double backquotes."""
        return (inspect.getdoc(self.fn) or "").split("\n", 1)[0].replace("``", "")

    @property
    def signature(self) -> str:
        """The op as an author writes it in YAML: ``conv2d(x: array, w: array, b: array (optional), stride: whole
        number or pair = 1, ...)``: each argument's name, its kind (:data:`KINDS`), and its default when it may be
        left out (``(optional)`` when leaving it out means "none")."""
        items: list[str] = []
        for parameter in inspect.signature(self.fn).parameters.values():
            kind = argument_kind(self, parameter.name)
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                items.append(f"NAME: {kind}, ...")
            elif parameter.default is inspect.Parameter.empty:
                items.append(f"{parameter.name}: {kind}")
            else:
                default = DEFAULT_TEXTS.get((self.name, parameter.name), parameter.default)
                shown = "(optional)" if default is None else f"= {_default_text(default)}"
                items.append(f"{parameter.name}: {kind} {shown}")
        return f"{self.name}({', '.join(items)})"


KINDS: dict[str, str] = {
    "array": "a quantity, an input or a literal: a number or nested lists of numbers ($x, 2, [[1, 2], [3, 4]])",
    "scalar quantity": "a quantity holding one number (a loss), e.g. $loss",
    "quantity": "a quantity or an {op: ...} call, evaluated again with an input replaced",
    "$input": "a $reference to an input (not a quantity or a literal)",
    "$input or $quantity": "a $reference to an input or to a quantity that 'of' is computed from, e.g. $w or $a",
    "graph quantity": "a quantity made by the graph op, e.g. $G",
    "number": "a number, e.g. 1.0e-9",
    "whole number": "a whole number, e.g. 2",
    "whole number or pair": "a whole number, or a pair [rows, columns]",
    "position": "a 0-based position: a whole number, argmax/argmin of a quantity, or a comparison (false: 0, true: 1)",
    "list of whole numbers": "a list of whole numbers, e.g. [2, 0, 1]",
    "list of positions": "a list of 0-based positions, null keeping a whole axis, e.g. [0, null]",
    "list of arrays": "a list of quantities or literals of one shape",
    "text": "text (quote it when it holds ': ' or ', ')",
    "true or false": "true or false (YAML booleans)",
    "axis or axes": "a whole number, or a list of whole numbers (negative: from the end), e.g. 0 or [0, 1]",
    "reduction": "mean (over the samples), sum, or none (one loss per sample)",
    "node name": "the name of a node or input of the graph",
    "list of names": "a list of node or input names, e.g. [f1, x1]",
    "mapping of nodes": "a mapping from node name to expression, e.g. {z: w*x + b, L: z*z}",
    "mapping of inputs": "a mapping from a name to a $reference to an input, e.g. {x: $x, w: $w}",
}
"""The kinds of argument :attr:`Op.signature` names (``grader ops``), each with what an author may write."""

_KIND_BY_ANNOTATION: dict[str, str] = {
    "Any": "array", "int": "whole number", "float": "number", "str": "text", "Lazy": "quantity", "Tensor": "$input",
    "list[int]": "list of whole numbers", "list[int] | None": "list of whole numbers", "list[str]": "list of names",
    "list[str] | None": "list of names", "list[int | None]": "list of positions", "list[Any]": "list of arrays",
    "dict[str, str]": "mapping of nodes", "dict[str, Any]": "mapping of inputs", "str | None": "text",
    "bool": "true or false",
}  # fmt: skip
"""The kind of an argument from its annotation, unless :data:`_KIND_BY_NAME` or :data:`_KIND_BY_OP` says otherwise."""

_KIND_BY_NAME: dict[str, str] = {
    "stride": "whole number", "padding": "whole number", "width": "whole number", "dy": "whole number",
    "dx": "whole number", "graph": "graph quantity", "node": "node name",
}  # fmt: skip
"""The kind of an argument by its name alone, in every op."""

_PAIR_OPS = ("conv2d", "max_pool2d", "avg_pool2d", "max_pool_winners")
_KIND_BY_OP: dict[tuple[str, str], str] = {
    **{(name, arg): "whole number or pair" for name in _PAIR_OPS for arg in ("size", "stride", "padding")},
    **{(name, "size"): "whole number" for name in ("max_pool1d", "avg_pool1d", "pool_output_size")},
    **{(name, arg): "whole number" for name in ("conv_output_size", "conv_volume", "pool_output_size") for arg in ("n", "f", "c", "k")},
    ("same_padding", "f"): "whole number",
    **{(name, "axis"): "axis or axes" for name in ("sum", "mean")},
    **{(name, "axis"): "whole number" for name in ("softmax", "log_softmax", "cross_entropy")},
    ("cross_entropy", "reduction"): "reduction",
    ("grad", "of"): "scalar quantity",
    ("grad", "wrt"): "$input or $quantity",
    ("option", "at"): "position",
    ("function", "variables"): "mapping of inputs",
    ("graph", "output"): "node name",
}
"""The kind of an argument of one op, where neither its annotation nor its name tells."""

DEFAULT_TEXTS: dict[tuple[str, str], str] = {
    **{(name, "stride"): "size" for name in ("max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "max_pool_winners", "pool_output_size")},
    ("flip", "axes"): "[0, 1]",
    ("pad", "axes"): "[0, 1]",
    ("schedule", "wrt"): "every node",
    ("graph", "output"): "the node no other node uses",
    **{(name, "axis"): "every axis" for name in ("sum", "mean")},
}
"""Defaults an author reads better in words (a pool's stride is its size) than as the Python default (None)."""


def argument_kind(operation: Op, argument: str) -> str:
    """The kind (a key of :data:`KINDS`) of one argument of ``operation``, as ``grader ops`` shows it."""
    kind = _KIND_BY_OP.get((operation.name, argument)) or _KIND_BY_NAME.get(argument)
    if kind is None and argument in operation.input_refs:
        kind = "$input"
    if kind is None and argument in operation.lazy:
        kind = "quantity"
    if kind is None:
        annotation = inspect.signature(operation.fn).parameters[argument].annotation
        kind = _KIND_BY_ANNOTATION.get(annotation if isinstance(annotation, str) else getattr(annotation, "__name__", ""), "array")
    return kind


def _default_text(default: Any) -> str:
    """A default value as YAML writes it (``1``, ``1.0e-09``, ``size``)."""
    if isinstance(default, str):
        return default
    if isinstance(default, bool):
        return "true" if default else "false"
    text = repr(default)
    if isinstance(default, float) and "e" in text and "." not in text:
        return text.replace("e", ".0e")  # YAML 1.1 (PyYAML) reads 1e-09 as text, 1.0e-09 as a number
    return text


OPS: dict[str, Op] = {}


def op(
    name: str, *, lazy: tuple[str, ...] = (), input_refs: tuple[str, ...] = (), node_refs: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        OPS[name] = Op(name, fn, frozenset(lazy), frozenset(input_refs), frozenset(node_refs))
        return fn

    return register


# ---- conversions ---------------------------------------------------------------------------------------------
def array_of(value: Any) -> np.ndarray:
    """Any value an op produced as a float64 array."""
    if isinstance(value, Tensor):
        return value.value
    return np.asarray(value, dtype=np.float64)


def whole(value: Any, name: str) -> int:
    """A whole number from a literal or a scalar quantity; ValueError naming ``name`` otherwise (also for true/false,
    which numpy would read as 1, and for text other than a decimal number: ``010`` stays text in a sheet, as YAML 1.2
    reads it, and means ten)."""
    if isinstance(value, bool | np.bool_ | dict | None) or (isinstance(value, str) and not _decimal_text(value)):
        raise ValueError(f"{name} must be a whole number, got {_written(value)}")
    if isinstance(value, list):
        raise ValueError(f"{name} must be a single whole number, got the list {value!r}")
    array = array_of(value)
    if array.size != 1 or array.ndim > 1:
        raise ValueError(f"{name} must be a single whole number, got shape {array.shape}")
    number = float(array.reshape(()))
    if not number.is_integer():
        raise ValueError(f"{name} must be a whole number, got {number:g}")
    return int(number)


def _written(value: Any) -> str:
    """A YAML value as an author wrote it, for messages: ``true``, ``'one'``, ``null``."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    return repr(value)


def _decimal_text(text: str) -> bool:
    """Whether text spells a decimal number as sheets write them (``010``, ``1e-6``), which numeric arguments read."""
    stripped = text.strip()
    return bool(DECIMAL_FLOAT.match(stripped) or re.fullmatch(r"[-+]?[0-9]+", stripped))


def number(value: Any, name: str) -> float:
    """A number from a literal or a scalar quantity; ValueError naming ``name`` otherwise (as :func:`whole`)."""
    if isinstance(value, bool | np.bool_ | dict | list | None) or (isinstance(value, str) and not _decimal_text(value)):
        raise ValueError(f"{name} must be a number, got {_written(value)}")
    array = array_of(value)
    if array.size != 1:
        raise ValueError(f"{name} must be a single number, got shape {array.shape}")
    return float(array.reshape(()))


def _pair_or_int(value: Any, name: str) -> int | tuple[int, int]:
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair [rows, columns], got {value!r}")
        return (whole(value[0], name), whole(value[1], name))
    return whole(value, name)


def _elementwise(fn: Callable[..., int], *args: Any) -> Any:
    """``fn`` on whole numbers, or on arrays of them (e.g. random points of a formula check).

    For arrays, entries where ``fn`` raises ValueError (a size that is not a whole number) become NaN:
    the formula check skips points where the reference is undefined.
    """
    arrays = [array_of(a) for a in args]
    if all(a.ndim == 0 for a in arrays):
        return fn(*(whole(a, "argument") for a in arrays))
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.broadcast_to(a, shape).ravel() for a in arrays]
    out = np.full(flat[0].size, np.nan)
    for i in range(out.size):
        try:
            out[i] = fn(*(whole(a[i], "argument") for a in flat))
        except ValueError:
            continue
    return out.reshape(shape)


# ---- engine ops ---------------------------------------------------------------------------------------------
def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


def _floor_cropped(x: Tensor, window: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """``x`` (H, W, C) or (N, H, W, C) without the last rows and columns that no window of ``window`` (rows,
    columns) at ``stride`` reaches: what ``floor: true`` drops, as PyTorch does. Unchanged where the windows tile
    it (or do not fit at all: the op then says so)."""
    rows, columns = x.shape[-3], x.shape[-2]
    keep = [
        (size - span) // step * step + span if span <= size else size
        for size, span, step in ((rows, window[0], stride[0]), (columns, window[1], stride[1]))
    ]
    if keep == [rows, columns]:
        return x
    return structure.crop(x, keep, axes=(x.ndim - 3, x.ndim - 2))


@op("conv2d")
def _conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0, floor: bool = False) -> Tensor:
    """2-D convolution (cross-correlation) of x (H, W, C) with filters w (f, f, C, K), bias b (K,); floor: true drops the last rows/columns the filter cannot reach when the stride does not divide n + 2p - f (as PyTorch)."""
    strides, paddings = _pair_or_int(stride, "stride"), _pair_or_int(padding, "padding")
    if not _flag(floor, "floor"):
        return engine.conv2d(x, w, b, stride=strides, padding=paddings)
    image, filters = as_tensor(x, "conv2d: x"), as_tensor(w, "conv2d: w")
    for axis, width in zip((image.ndim - 3, image.ndim - 2), _pair(paddings), strict=True):
        if width:
            image = structure.pad(image, width, axes=(axis,))
    window = (filters.shape[0], filters.shape[1]) if filters.ndim == 4 else (0, 0)  # a bad w: conv2d says so
    return engine.conv2d(_floor_cropped(image, window, _pair(strides)), filters, b, stride=strides, padding=0)


def _flag(value: Any, name: str) -> bool:
    """A yes/no argument: true or false."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


@op("conv1d")
def _conv1d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """1-D convolution of x (L, C) with filters w (f, C, K), bias b (K,)."""
    return engine.conv1d(x, w, b, stride=whole(stride, "stride"), padding=whole(padding, "padding"))


def _pool(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def pool(x: Any, size: Any, stride: Any = None) -> Tensor:
        return fn(x, _pair_or_int(size, "size"), stride=None if stride is None else _pair_or_int(stride, "stride"))

    pool.__doc__ = (fn.__doc__ or "").split("\n", 1)[0]
    return pool


def _pool2d(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def pool(x: Any, size: Any, stride: Any = None, floor: bool = False) -> Tensor:
        window = _pair_or_int(size, "size")
        strides = window if stride is None else _pair_or_int(stride, "stride")
        image = as_tensor(x, f"{fn.__name__}: x")
        if _flag(floor, "floor") and image.ndim >= 3:
            image = _floor_cropped(image, _pair(window), _pair(strides))
        return fn(image, window, stride=strides)

    pool.__doc__ = (fn.__doc__ or "").split("\n", 1)[0] + (
        " floor: true drops the last rows/columns no window reaches when the windows do not tile x (as PyTorch)."
    )
    return pool


for _name in ("max_pool2d", "avg_pool2d"):
    op(_name)(_pool2d(getattr(engine, _name)))
for _name in ("max_pool1d", "avg_pool1d"):
    op(_name)(_pool(getattr(engine, _name)))


@op("max_pool_winners")
def _max_pool_winners(x: Any, size: Any, stride: Any = None) -> np.ndarray:
    """1 where an entry of x (H, W, C) wins its max-pooling window (receives the gradient), else 0; ties: an error.

    Shaped like x. A window holding its maximum twice (up to TIE_RTOL/TIE_ATOL) has no single winner: the key
    would follow the engine's tie rule (first in row-major order), so it is refused with the window named.
    """
    values = array_of(x)
    window = _pair_or_int(size, "size")
    strides = None if stride is None else _pair_or_int(stride, "stride")
    scan = engine.max_pool2d_ties(values, window, stride=strides, rtol=TIE_RTOL, atol=TIE_ATOL, op="max_pool_winners")
    if scan.ties:
        tie = scan.ties[0]
        others = f"; {scan.tied} of the {scan.windows} windows tie" if scan.tied > 1 else ""
        raise ValueError(
            f"{tie.where()} holds its maximum more than once ({tie.tied_text()}){others}: which entry wins it and "
            "receives the gradient would be decided by a tie rule (the engine's: the first in row-major order), "
            "not by the network, and a student marking the other entry would be graded wrong. Use inputs "
            "whose windows each have a single maximum (random inputs from a continuous distribution, dist: normal "
            "or uniform, not integers), or do not ask for the winners of this pooling layer"
        )
    return engine.max_pool2d_winners(values, window, stride=strides).astype(np.float64)


def _unary(fn: Callable[[Any], Tensor]) -> Callable[[Any], Tensor]:
    def unary(x: Any) -> Tensor:
        return fn(x)

    unary.__doc__ = (fn.__doc__ or "").split("\n", 1)[0]
    return unary


for _name in ("relu", "sigmoid", "tanh", "sin", "cos", "exp", "log", "square", "neg"):
    op(_name)(_unary(getattr(engine, _name)))


def _binary(fn: Callable[[Any, Any], Tensor]) -> Callable[[Any, Any], Tensor]:
    def binary(a: Any, b: Any) -> Tensor:
        return fn(a, b)

    binary.__doc__ = (fn.__doc__ or "").split("\n", 1)[0]
    return binary


for _name, _fn in (("add", engine.add), ("sub", engine.sub), ("mul", engine.mul), ("div", engine.div), ("pow", engine.power)):
    op(_name)(_binary(_fn))


def _axes(axis: Any, name: str = "axis") -> int | list[int] | None:
    """An ``axis`` argument as written in YAML: None (every axis), a whole number, or a non-empty list of them (each
    may be a scalar quantity); ValueError naming ``name`` otherwise."""
    if axis is None:
        return None
    if isinstance(axis, list):
        if not axis:
            raise ValueError(f"{name}: [] names no axis; leave {name} out to use every axis")
        return [whole(item, f"each entry of {name}") for item in axis]
    return whole(axis, name)


@op("sum")
def _sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The sum of x over axis (every axis: a scalar; a whole number or a list of them: those axes); keepdims: true keeps them with length 1."""
    return engine.sum_over(x, _axes(axis), keepdims=_flag(keepdims, "keepdims"))


@op("mean")
def _mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The mean of x over axis (every axis: a scalar; a whole number or a list of them: those axes); keepdims: true keeps them with length 1."""
    return engine.mean(x, _axes(axis), keepdims=_flag(keepdims, "keepdims"))


TIE_RTOL, TIE_ATOL = 1e-9, 1e-12
"""Values this close are a tie for the comparison ops (greater, less, argmax, argmin) and for the maximum of a
max-pooling window (max_pool_winners, grad through a max pool): floating-point rounding (0.1 + 0.2 against 0.3)
must not decide a key."""


ROUNDING_ERRORS_ALLOWED = 64
"""How many times its estimated rounding error (:func:`grader.engine.graph.rounding_error_units`) two values may be
apart and still count as equal up to rounding: the estimate is first-order, and ops other than the element-wise
ones pass on their operands' largest error only."""


def _error_of(x: Any) -> np.ndarray | float:
    """The estimated rounding error of ``x``, per entry (0 for a number or array given as is, or one a grad or
    adjoint returned: its error is not followed)."""
    return rounding_error_units(x) * np.finfo(np.float64).eps if isinstance(x, Tensor) else 0.0


def _within_rounding(left: np.ndarray, right: np.ndarray, error: np.ndarray | float) -> np.ndarray:
    """Where ``left`` and ``right`` (one shape) are equal up to rounding, ``error`` being their estimated rounding
    errors together: rounding must not decide a comparison or a largest entry."""
    close = np.abs(left - right)
    return close <= TIE_ATOL + TIE_RTOL * np.maximum(np.abs(left), np.abs(right)) + ROUNDING_ERRORS_ALLOWED * error


def _compared(a: Any, b: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    left, right = np.broadcast_arrays(array_of(a), array_of(b))
    tied = _within_rounding(left, right, _error_of(a) + _error_of(b))
    if tied.any():
        where = tuple(int(i) for i in np.argwhere(tied)[0])
        raise ValueError(
            f"a and b are equal up to rounding ({float(left[where]):.17g} and {float(right[where]):.17g}"
            f"{f' at {list(where)}' if where else ''}): the answer to '{name}' would be decided by rounding error"
        )
    return left, right


@op("greater")
def _greater(a: Any, b: Any) -> np.ndarray:
    """True where a > b, else false: the key of a boolean part ({op: greater, a: $dz0, b: 0}), or 0/1 for a choice.
    An error where a and b are equal up to rounding."""
    return np.greater(*_compared(a, b, "greater"))


@op("less")
def _less(a: Any, b: Any) -> np.ndarray:
    """True where a < b, else false: the key of a boolean part, or 0/1 for a choice. An error where a and b are equal
    up to rounding."""
    return np.less(*_compared(a, b, "less"))


def _arg_extreme(x: Any, largest: bool) -> Position:
    """The position of the largest (smallest) entry, knowing the size of x (a choice key checks it against its
    options, whatever the variant); ValueError on a tie or fewer than 2 entries."""
    values = array_of(x).reshape(-1)
    if values.size < 2:
        raise ValueError(f"x has {values.size} entr{'y' if values.size == 1 else 'ies'}: there is nothing to choose from")
    position = int(np.argmax(values) if largest else np.argmin(values))
    extreme = values[position]
    error = np.broadcast_to(_error_of(x), np.shape(array_of(x))).reshape(-1)
    tied = np.flatnonzero(_within_rounding(values, np.full_like(values, extreme), error + error[position]))
    if tied.size > 1:
        which = "largest" if largest else "smallest"
        raise ValueError(
            f"entries {', '.join(str(int(i)) for i in tied[:5])} tie for the {which} value ({extreme:.6g}): "
            "there is no single right position"
        )
    return Position(position, among=values.size)


@op("argmax")
def _argmax(x: Any) -> int:
    """The 0-based position of the largest entry of x (row-major); an error on a tie. The key of a choice part."""
    return _arg_extreme(x, largest=True)


@op("argmin")
def _argmin(x: Any) -> int:
    """The 0-based position of the smallest entry of x (row-major); an error on a tie. The key of a choice part."""
    return _arg_extreme(x, largest=False)


@op("option")
def _option(at: Any) -> OptionAt:
    """The key of a choice part: the option at 0-based position 'at' (e.g. {op: argmax, x: $y}; false/true: 0/1), computed from the exercise's numbers."""
    if type(at) in (bool, int, float, str):  # a literal of the sheet (an argmax gives a Position, an op a Tensor)
        raise ValueError(
            f"'at' is written in the sheet ({_written(at)}): that types the key by hand; compute the position from the "
            "exercise's numbers, e.g. {op: argmax, x: $y} or a comparison"
        )
    array = np.asarray(at.value if isinstance(at, Tensor) else at)
    if array.dtype == np.bool_ and array.size == 1:
        return OptionAt(int(bool(array.reshape(())[()])), among=2)
    position = whole(at, "'at'")
    if position < 0:
        raise ValueError(f"'at' must be a 0-based position (0 or more), got {position}")
    return OptionAt(position, among=at.among if isinstance(at, Position) else None)


@op("dense")
def _dense(h: Any, v: Any, b: Any = None) -> Tensor:
    """Dense layer y_o = b_o + sum v_ijko h_ijk; the ranks decide batching: v one axis longer than h (v = h.shape + (O,)) contracts all of h and gives (O,), e.g. h (3,), v (3, 2) -> (2,); v as long as h makes h's first axis a batch (v = h.shape[1:] + (O,)) and gives (N, O), e.g. h (2, 3), v (3, 2) -> (2, 2).

    Nothing else is inferred: to contract every axis of a (2, 3) h as one sample, give v the shape (2, 3, O).
    """
    return engine.dense(h, v, b)


@op("mse_loss")
def _mse_loss(y: Any, target: Any) -> Tensor:
    """1/2 sum (target - y)^2, a scalar."""
    return engine.mse_loss(y, target)


@op("matmul")
def _matmul(a: Any, b: Any) -> Tensor:
    """Matrix product a @ b as numpy: (m, n) @ (n, p) -> (m, p); a vector is a row on the left, a column on the right; leading axes are batches that broadcast."""
    return engine.matmul(a, b)


@op("softmax")
def _softmax(x: Any, axis: Any = -1) -> Tensor:
    """softmax along axis (default the last, the classes): e^x_i / sum_j e^x_j, computed without overflow."""
    return engine.softmax(x, whole(axis, "axis"))


@op("log_softmax")
def _log_softmax(x: Any, axis: Any = -1) -> Tensor:
    """log softmax along axis (default the last): x_i - log sum_j e^x_j, computed without overflow."""
    return engine.log_softmax(x, whole(axis, "axis"))


@op("cross_entropy")
def _cross_entropy(logits: Any, target: Any, axis: Any = -1, reduction: str = "mean") -> Tensor:
    """-sum_i t_i log softmax(logits)_i per sample; target: class indices (the shape of logits without axis) or probabilities (the shape of logits); reduction: mean over the samples (as PyTorch), sum or none.

    The class axis is the last unless axis says otherwise: logits (C,) with a single index, or (N, C) with N
    indices, are the usual cases. dL/dlogits = softmax(logits) - one-hot(target), divided by N for mean.
    """
    return engine.cross_entropy(logits, target, whole(axis, "axis"), reduction)  # type: ignore[arg-type]


@op("flip")
def _flip(x: Any, axes: list[int] | None = None) -> Tensor:
    """x reversed along axes (default the filter's two spatial axes): the flipped-kernel mistake."""
    return structure.flip(x, tuple(axes) if axes is not None else (0, 1))


_PLACES_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("places_only", default=False)
"""Set while a key is computed from a student's answer (:func:`places_only`)."""


@contextlib.contextmanager
def places_only() -> Iterator[None]:
    """While a key is computed again from a student's own answer (follow-through): a position that a quantity gives
    ``index`` must be a place, 0 or more. A sheet's own -1 counts from the end (Python's rule, which keys may use);
    a student's class -1 is no class, and crediting the last entry for it would reward an answer that means nothing."""
    token = _PLACES_ONLY.set(True)
    try:
        yield
    finally:
        _PLACES_ONLY.reset(token)


@op("index")
def _index(x: Any, at: list[int | None]) -> Tensor:
    """x at a 0-based index, one entry of 'at' per axis of x: a whole number or a $reference to one (a class label $y); null keeps a whole axis (the sheet's w_1111 is at [0, 0, 0, 0], a row at [0, null]); a negative position counts from the end."""
    if not isinstance(at, list):
        raise ValueError(f"'at' must be a list of positions, got {at!r}")
    positions = [None if i is None else whole(i, "at") for i in at]
    if _PLACES_ONLY.get():
        for place, (given, position) in enumerate(zip(at, positions, strict=True)):
            if position is not None and position < 0 and not isinstance(given, int | float | str):
                raise ValueError(f"'at' entry {place} is {position}, computed from a student's answer: not a place")
    return structure.index(x, positions)


@op("stack")
def _stack(items: list[Any], axis: int = -1) -> Tensor:
    """The items, all of one shape, stacked along a new axis."""
    if not isinstance(items, list):
        raise ValueError("'items' must be a list")
    return structure.stack(items, whole(axis, "axis"))


@op("transpose")
def _transpose(x: Any, axes: list[int]) -> Tensor:
    """x with its axes permuted (e.g. [2, 0, 1] for channels first)."""
    return structure.transpose(x, axes)


@op("reshape")
def _reshape(x: Any, shape: list[int]) -> Tensor:
    """x with a new shape of the same size, row-major (e.g. an image (6, 6) as (6, 6, 1))."""
    return structure.reshape(x, shape)


@op("pad")
def _pad(x: Any, width: Any, axes: list[int] | None = None) -> Tensor:
    """x with width zeros on both sides of its two spatial axes."""
    return structure.pad(x, whole(width, "width"), tuple(axes) if axes is not None else (0, 1))


@op("formula")
def _formula(text: str, **variables: Any) -> Tensor:
    """A formula of the named arguments, e.g. {op: formula, text: "floor((n + 2*p - f)/s) + 1", n: $n, ...}; functions: sin, cos, exp, log, tanh, sigmoid, relu, square, abs, max, min, floor, ceil."""
    try:
        parsed = _parsed_formula(text, tuple(sorted(variables)))
    except engine.FormulaError as exc:
        # {op: formula, text: max(a, b) + 1} reads as text: 'max(a' and an argument 'b) + 1'
        raise engine.FormulaError(flow_comma_hint(exc.message, text, *variables), column=exc.column) from None
    return parsed.build(variables)


@lru_cache(maxsize=256)
def _parsed_formula(text: str, variables: tuple[str, ...]) -> engine.Formula:
    return engine.parse_formula(text, variables=variables)


# ---- shapes ---------------------------------------------------------------------------------------------------
@op("shape_of")
def _shape_of(x: Any) -> tuple[int, ...]:
    """The shape of x, e.g. (2, 2, 2)."""
    return tuple(int(n) for n in array_of(x).shape)


@op("conv_output_size")
def _conv_output_size(n: Any, f: Any, stride: Any = 1, padding: Any = 0, floor: bool = False) -> Any:
    """(n + 2p - f)/s + 1, the width of a convolution's output (an error when not whole; floor: true rounds down)."""
    return _elementwise(functools.partial(engine.conv_output_size, floor=_flag(floor, "floor")), n, f, stride, padding)


@op("pool_output_size")
def _pool_output_size(n: Any, size: Any, stride: Any = None, floor: bool = False) -> Any:
    """(n - size)/stride + 1, the width of a pooling layer's output (an error when not whole; floor: true rounds down)."""
    return _elementwise(functools.partial(engine.pool_output_size, floor=_flag(floor, "floor")), n, size, size if stride is None else stride)


@op("conv_volume")
def _conv_volume(n: Any, c: Any, f: Any, k: Any, stride: Any = 1, padding: Any = 0) -> tuple[int, ...]:
    """The volume (n', n', k) after k filters f x f x c with stride and padding on an n x n x c input."""
    layer = engine.shapes.Conv(f=whole(f, "f"), k=whole(k, "k"), stride=whole(stride, "stride"), padding=whole(padding, "padding"))
    return engine.pipeline_shapes((whole(n, "n"), whole(n, "n"), whole(c, "c")), [layer])[-1]


@op("same_padding")
def _same_padding(f: Any) -> Any:
    """The padding p that keeps the width at stride 1: (f - 1)/2 (odd f only)."""
    return _elementwise(engine.same_padding, f)


# ---- derivatives and graphs ----------------------------------------------------------------------------------
class QuantityNode(NamedTuple):
    """A quantity named by a ``$reference`` where an op wants a node of a graph (grad's ``wrt``): its name, for
    messages, and its node, the very Tensor every quantity computed from it was built on in this evaluation."""

    name: str
    node: Tensor


@op("grad", node_refs=("wrt",))
def _grad(of: Any, wrt: Any) -> np.ndarray:
    """d(of)/d(wrt) by reverse-mode autodiff: of is a scalar quantity, wrt an input or a quantity it is computed from (dL/da of a layer's output a); shaped like wrt; an error when a tie (max pooling, max/min) or relu/abs at 0 decides it.

    With respect to a quantity, it is the total derivative through that node of the graph (PyTorch's
    ``retain_grad``): every path from wrt to 'of' counts, and a part of 'of' that recomputes the same value
    without using the quantity does not. Ties and kinks matter only between wrt and 'of'.

    An error when it depends on which tied entry of a max-pooling window (up to TIE_RTOL/TIE_ATOL) gets that
    window's gradient: the backward pass runs under a tie audit (no extra cost without max pools, a scan of each
    pool's windows with them), and only when a tied window receives gradient is it run again with each tied
    window's gradient split among its tied entries at random (see _refuse_tie_rule_dependence). The same for a
    max/min of a formula or graph whose two arguments are equal (see _refuse_select_tie_rule), and for a relu or abs
    whose input is 0, where the derivative is a convention (see _refuse_kink_convention). An error too when
    'of' is computed from a gradient or adjoint that depends on wrt: that value is a constant to autodiff, so a
    second-order gradient would silently miss its terms.
    """
    node, label = (wrt.node, wrt.name) if isinstance(wrt, QuantityNode) else (wrt, wrt.label)
    if not isinstance(node, Tensor):
        raise ValueError(f"'wrt' must be a node of the graph 'of' is computed from; {label} is {_value_kind(node)}")
    if not isinstance(of, Tensor):
        raise ValueError(f"'of' must be a scalar quantity of the graph (a loss); it is {_value_kind(of)}")
    if of.value.size != 1:
        raise ValueError(f"'of' must be a scalar quantity (a loss), got shape {of.value.shape}")
    with engine.max_pool_tie_audit(rtol=TIE_RTOL, atol=TIE_ATOL) as audit:
        schedule = of.backward()
    derived = _derivations(schedule)
    # An input is known by its name (a derivative may come from another evaluation of the sheet); a quantity, by its
    # very node: a derivative computed through it changes with it.
    if derived is not None and (label in derived.inputs if node.op == "leaf" else node in derived.nodes):
        raise ValueError(
            f"second-order gradients are not supported: 'of' is computed from a gradient or adjoint (grad, adjoint, "
            f"adjoints) that depends on {label}, and grad takes that value as a constant, so its own dependence on "
            f"{label} would be left out of the key"
        )
    if node.op == "leaf":
        _refuse_moved_copies(schedule, node, label)
    # node.grad alone cannot tell: a backward pass resets only the nodes it reaches, so an earlier grad of another
    # quantity may have left a gradient on it.
    if node.grad is None or not any(n is node for n in schedule):
        raise ValueError(f"'of' does not depend on {label}" + (
            f": no path of its graph goes through the quantity ${label} (an expression that computes the same value "
            f"again, instead of writing ${label}, is another node)" if isinstance(wrt, QuantityNode) else
            " through any differentiable path (an input used only as a class index, a position or in a comparison "
            "has no gradient)"
        ))
    gradient = node.grad.copy()
    if audit.ties:  # a max-pooling window whose maximum is tied receives gradient
        _refuse_tie_rule_dependence(of, node, gradient, audit, label)
    _refuse_conventions(of, [node], schedule, pools=audit.met > 0, labels={id(node): label})
    return _derivative(gradient, schedule)


def _refuse_moved_copies(schedule: list[Tensor], node: Tensor, label: str) -> None:
    """ValueError when, after a backward pass over ``schedule``, gradient reached another leaf named like the input
    ``node``: a copy of it that an op evaluated again with the input replaced (``shifted``'s moved image). The
    gradient through that copy is not followed back to the input, so the key would leave it out."""
    for other in schedule:
        if other is not node and other.op == "leaf" and other.name == label and other.grad is not None and np.any(other.grad):
            raise ValueError(
                f"part of 'of' is computed again with {label} moved (shifted), and grad does not follow the gradient "
                f"through that moved copy of {label}: write the moved computation with {{op: shift, x: ${label}, ...}} "
                f"as its input instead (shift passes the gradient back)"
            )


def _value_kind(value: Any) -> str:
    """What a value that is no node of a computation graph is, for grad's messages."""
    if isinstance(value, Graph):
        return "a graph (use adjoint for its nodes)"
    if isinstance(value, Position):
        return "a position (argmax's or argmin's whole-number index), which has no derivative"
    if isinstance(value, np.ndarray):
        return (
            "an array autodiff holds as a constant (an op such as grad, adjoint, argmax, greater or changed_mask does not "
            "record how it was made)"
        )
    return f"not an array ({type(value).__name__})"


class ConventionError(ValueError):
    """A key that rests on a convention, not on the function: a max-pooling or max/min tie rule, or relu/abs's
    derivative at 0 (raised by :func:`_refuse_tie_rule_dependence`, :func:`_refuse_select_tie_rule` and
    :func:`_refuse_kink_convention`). Where a ``function`` key meets one at some of its random points, the
    function is undefined there (see :func:`_function`)."""


def _convention_refused(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, a :class:`ConventionError` (the sheet's evaluator wraps
    an op's ValueError in a SpecError ``from None``, which keeps it as the context)."""
    seen: BaseException | None = exc
    for _ in range(16):
        if seen is None:
            return False
        if isinstance(seen, ConventionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass(frozen=True)
class Derivation:
    """What a derivative (an array the grad, adjoint or adjoints op returned) was computed from: the names of the
    inputs, and every node its backward pass ran over, through earlier derivatives too (weakly: a node no quantity
    holds any more cannot be a later grad's wrt)."""

    inputs: frozenset[str]
    nodes: weakref.WeakSet[Tensor]

    def __or__(self, other: Derivation) -> Derivation:
        return Derivation(self.inputs | other.inputs, self.nodes | other.nodes)


_DERIVED_FROM: dict[int, tuple[weakref.ReferenceType[np.ndarray], Derivation]] = {}
"""id of an array the grad, adjoint or adjoints op returned -> (a weak reference to it, what it was computed from).
To autodiff such an array is a constant (no graph records how it was made), so ``grad`` looks its constants up here
to refuse a second-order gradient. An entry leaves when its array is freed."""


def _derivative(array: np.ndarray, schedule: list[Tensor]) -> np.ndarray:
    """``array``, a derivative computed over the nodes ``schedule``, registered in :data:`_DERIVED_FROM`."""
    inputs = frozenset(n.name for n in schedule if n.op == "leaf" and n.name is not None)
    derivation = Derivation(inputs, weakref.WeakSet(schedule))
    earlier = _derivations(schedule)
    return _registered(array, derivation if earlier is None else derivation | earlier)


def _registered(array: np.ndarray, derivation: Derivation) -> np.ndarray:
    """``array`` recorded in :data:`_DERIVED_FROM` as a derivative computed from ``derivation``."""
    key = id(array)
    _DERIVED_FROM[key] = (weakref.ref(array, lambda _ref, key=key: _DERIVED_FROM.pop(key, None)), derivation)
    return array


def _derivations(schedule: list[Tensor]) -> Derivation | None:
    """What the derivatives among the leaves of ``schedule`` were computed from (None: no leaf is a derivative).
    An op wraps an array it is given as a constant leaf holding that very array (a graph's input, as a leaf named
    after it)."""
    found: Derivation | None = None
    for node in schedule:
        if node.parents:
            continue
        entry = _DERIVED_FROM.get(id(node.value))
        if entry is not None and entry[0]() is node.value:
            found = entry[1] if found is None else found | entry[1]
    return found


def _refuse_conventions(
    root: Tensor, targets: list[Tensor], schedule: list[Tensor], *, seed: np.ndarray | None = None,
    named: frozenset[str] | None = None, adjoint: bool = False, pools: bool = False, labels: Mapping[int, str] | None = None,
) -> None:
    """The checks every gradient and adjoint gets after max pooling's: ties of max/min
    (:func:`_refuse_select_tie_rule`), then relu/abs at 0 (:func:`_refuse_kink_convention`); same arguments.
    ``labels`` names targets that are no named node (id of the node -> name; a quantity grad's wrt) in messages."""
    _refuse_select_tie_rule(root, targets, schedule, seed=seed, named=named, adjoint=adjoint, pools=pools, labels=labels)
    _refuse_kink_convention(root, targets, schedule, seed=seed, named=named, adjoint=adjoint, pools=pools, labels=labels)


def _refuse_select_tie_rule(
    root: Tensor, targets: list[Tensor], schedule: list[Tensor], *, seed: np.ndarray | None = None,
    named: frozenset[str] | None = None, adjoint: bool = False, pools: bool = False, labels: Mapping[int, str] | None = None,
) -> None:
    """Raise ValueError when the adjoints of ``targets`` (after ``root.backward(seed)``, which ran over
    ``schedule``) change if a max(a, b) or min(a, b) whose arguments are equal (up to TIE_RTOL/TIE_ATOL) gave its
    adjoint to b instead of a, the engine's tie rule: the key would rest on that rule, not on the function. The
    message names the node (``named``: the graph's chosen names) and the adjoint that changes (``adjoint``: a
    graph's t_n, else the gradient of the grad op). A scan of the max/min nodes only; the backward pass runs again
    only when two arguments tie (see :func:`grader.engine.graph.tie_rule_dependence`). With ``pools`` (a max pool
    met a tied window), the split passes also split max pooling's tied windows when the max/min ties alone change
    nothing: a max/min tie and a max-pooling tie may change the key only together."""
    ties = select_ties(schedule, rtol=TIE_RTOL, atol=TIE_ATOL)
    if not ties:
        return
    also = _pool_splits if pools else None
    found = tie_rule_dependence(root, targets, ties, seed=seed, also=also, rtol=TIE_RTOL, atol=TIE_ATOL)
    if found is None:
        return
    tie, function = found.tie, found.tie.function
    asked, what, entry = _asked(_target_label(found.target, labels), found.index, adjoint)
    first_arg, second_arg = (SelectTie.argument(parent) for parent in tie.node.parents)
    engine_arg, other_arg = ("first", "second") if found.to_first else ("second", "first")
    engine_name, other_name = (first_arg, second_arg) if found.to_first else (second_arg, first_arg)
    if found.alone:
        giving = f"giving it to the {other_arg} argument ({other_name}) instead"
        changes = (
            f"changes the key ({entry} is {_gradient_entry(found.by_rule)} by the tie rule, "
            f"{_gradient_entry(found.otherwise)} otherwise)"
        )
    elif found.with_pools:
        nodes = f"the adjoints of the {found.ties} tied max/min nodes between their" if found.ties > 1 else "its adjoint between its"
        giving = f"sharing {nodes} arguments together with max pooling's tie rule"
        changes = f"changes the key ({entry}, for one)"
    else:
        giving = f"sharing the adjoints of the {found.ties} tied max/min nodes between their arguments"
        changes = f"changes the key ({entry}, for one)"
    raise ConventionError(
        f"{asked} depends on {function}'s tie rule: {tie.where(named)} has equal arguments ({tie.arguments_text()}), "
        f"so which of them receives its adjoint is decided by a tie rule (the engine gave it to the {engine_arg} "
        f"argument, {engine_name}), not by the function; {giving} {changes}. Use inputs for which the arguments of this {function} differ (random "
        f"inputs from a continuous distribution, dist: normal or uniform, not integers), or do not ask for "
        f"{'an adjoint' if adjoint else 'a gradient'} through it"
    )


def _pool_splits(split: int) -> Any:
    """A max-pooling tie audit that splits every tied window's gradient with the seed ``split`` (for the ``also``
    of :func:`grader.engine.graph.tie_rule_dependence` and :func:`grader.engine.graph.kink_dependence`)."""
    return engine.max_pool_tie_audit(rtol=TIE_RTOL, atol=TIE_ATOL, split=split, limit=0)


def _asked(label: str, index: tuple[int, ...], adjoint: bool) -> tuple[str, str, str]:
    """``(asked, what, entry)`` of a refusal: ``the adjoint t_a`` (``adjoint``) or ``the gradient with respect to
    a``; ``t_a`` or ``the gradient``; ``entry [1] of t_a`` (or just ``what`` for a scalar)."""
    if adjoint:
        asked, what = f"the adjoint t_{label}", f"t_{label}"
    else:
        asked, what = f"the gradient with respect to {label}", "the gradient"
    return asked, what, f"entry {list(index)} of {what}" if index else what


def _refuse_kink_convention(
    root: Tensor, targets: list[Tensor], schedule: list[Tensor], *, seed: np.ndarray | None = None,
    named: frozenset[str] | None = None, adjoint: bool = False, pools: bool = False, labels: Mapping[int, str] | None = None,
) -> None:
    """Raise ValueError when the adjoints of ``targets`` (after ``root.backward(seed)``, which ran over
    ``schedule``) change if a relu or abs whose input is 0 (up to TIE_ATOL) took another derivative there than the
    engine's 0 (relu: 1; abs: +1 or -1): relu and abs have no derivative at 0, so the key would rest on a
    convention, not on the function. The message names the node (``named``: the graph's chosen names), the entry at
    0 and the key under each convention (``adjoint``: a graph's t_n, else the gradient of the grad op). A scan of
    the relu/abs nodes' inputs only; the backward pass runs again only when one of them is 0 somewhere (see
    :func:`grader.engine.graph.kink_dependence`). The split passes also split the ties of max/min nodes and, with
    ``pools`` (a max pool met a tied window), of max pooling: a relu at 0 behind a tie changes the key only when both
    conventions change."""
    found = kinks(schedule, rtol=TIE_RTOL, atol=TIE_ATOL)
    if not found:
        return
    ties = select_ties(schedule, rtol=TIE_RTOL, atol=TIE_ATOL)
    also = _pool_splits if pools else None
    dependence = kink_dependence(root, targets, found, ties=ties, also=also, seed=seed, rtol=TIE_RTOL, atol=TIE_ATOL)
    if dependence is not None:
        rules = []
        if dependence.with_select_ties:
            rules += [f"{function}'s tie rule" for function in dict.fromkeys(tie.function for tie in ties)]
        rules += ["max pooling's tie rule"] if dependence.with_pool_ties else []
        raise ConventionError(_kink_message(dependence, named, adjoint, " and ".join(rules), _target_label(dependence.target, labels)))


def _target_label(target: Tensor, labels: Mapping[int, str] | None) -> str:
    """How a refusal names the node whose gradient or adjoint changes: its name in ``labels``, else its label."""
    return (labels or {}).get(id(target), target.label)


def _kink_message(found: KinkDependence, named: frozenset[str] | None, adjoint: bool, tie_rules: str, target: str) -> str:
    """The message of :func:`_refuse_kink_convention` for what :func:`kink_dependence` found; ``tie_rules`` names
    the tie rules the split passes changed too (``max pooling's tie rule``), empty when none."""
    kink, function = found.kink, found.kink.function
    asked, what, entry = _asked(target, found.index, adjoint)
    at = found.entry if found.entry is not None else kink.index
    value = float(kink.node.parents[0].value[at])
    shown = "0" if value == 0 else f"{number_text(value)}, 0 up to rounding"
    place = f" at entry {list(at)}" if at else ""
    zeros = int(np.count_nonzero(kink.at))
    others = f" and {zeros - 1} more entr{'y' if zeros == 2 else 'ies'}" if zeros > 1 else ""
    derivative = f"{function}'(0)"
    engine_s = float(kink.rule[at])  # 0 at an exact 0; a rounding error's side otherwise
    if engine_s == 0:
        engine_took = f"the engine takes {derivative} = 0, as PyTorch and TensorFlow do"
    else:
        side = "above" if value > 0 else "below"
        engine_took = (
            f"the engine took {derivative} = {_convention(engine_s, function)} here, as rounding left the input just "
            f"{side} 0; at an exact 0 it takes 0, as PyTorch and TensorFlow do"
        )
    if found.alone:
        values = ", ".join(
            f"{_gradient_entry(key + 0.0)} with {'the engine' + chr(39) + 's ' if c == engine_s else ''}"
            f"{derivative} = {_convention(c, function)}"
            for c, key in found.values
        )
        where = "there" if found.entry is not None else f"at its {zeros} entries at 0"
        changes = f"taking another derivative {where} changes the key ({entry} is {values})"
    else:
        nodes = f"the derivative at 0 of the {found.kinks} relu/abs nodes whose input is 0" if found.kinks > 1 else "it"
        ties = f" together with {tie_rules}" if tie_rules else ""
        changes = f"changing {nodes}{ties} changes the key ({entry}, for one)"
    return (
        f"{asked} depends on {function}'s derivative at 0: {kink.where(named)} has its input at 0 ({kink.argument} = "
        f"{shown}{place}{others}), where {function} has no derivative, so the derivative there is a convention "
        f"({engine_took}), not the function's; {changes}. Use inputs "
        f"for which the input of this {function} is not 0 (random inputs from a continuous distribution, dist: normal "
        f"or uniform, not integers), or do not ask for {'an adjoint' if adjoint else 'a gradient'} through it"
    )


def _convention(derivative: float, function: str) -> str:
    """A derivative at 0 as the message shows it: ``0``, ``1`` (relu), ``+1`` or ``-1`` (abs)."""
    if derivative == 1 and function == "abs":
        return "+1"
    return number_text(derivative)


def _refuse_tie_rule_dependence(of: Tensor, wrt: Tensor, gradient: np.ndarray, audit: engine.TieAudit, label: str) -> None:
    """Raise ValueError when d(of)/d(wrt) changes if tied max-pooling windows give their gradient to other tied
    entries than the tie rule's (one window, or several together); the message names a window, and an entry when
    moving that window's gradient alone to it changes the key. Runs only when tied windows receive gradient.

    With one pooling layer on the path, reverse mode is linear in the adjoints: routing window w's adjoint g_w to
    tied entry e instead of the rule's r changes the gradient by g_w * A(e_e - e_r), A the backward map from the
    pool input to wrt, and any routing changes it by a sum of such terms. A split pass gives each tied window's
    gradient to its tied entries with random positive weights p summing to 1: it changes the gradient by sum over
    w, e of p_we * g_w * A(e_e - e_r), which is zero for every p (a nonzero polynomial in the weights vanishes on a
    set of measure zero only) exactly when every single change is zero. With stacked pools the gradient is
    multilinear in the routings: a split then also catches routings that change the key only together, which is
    refused too (the key depends on the rule all the same). So two split passes (two fixed seeds) decide; a few
    more find a window whose split alone changes the gradient (among the first NAMED_CANDIDATES) and the tied entry
    that does. The engine's ``.grad`` values are left as the tie rule gives them (one more plain pass on refusal
    too).
    """

    def rerouted(**how: Any) -> np.ndarray:
        with engine.max_pool_tie_audit(rtol=TIE_RTOL, atol=TIE_ATOL, limit=0, **how):  # no descriptions needed
            of.backward()
        return np.asarray(wrt.grad).copy()

    seed, split = None, gradient
    for candidate_seed in SPLIT_SEEDS:
        split = rerouted(split=candidate_seed)
        if differs(split, gradient, TIE_RTOL, TIE_ATOL).any():
            seed = candidate_seed
            break
    if seed is None:
        of.backward()  # the nodes' .grad as the tie rule gives them, as after any grad
        return
    try:
        _name_tie_rule_dependence(label, gradient, audit, split, seed, rerouted)
    finally:
        of.backward()


def _name_tie_rule_dependence(
    label: str, gradient: np.ndarray, audit: engine.TieAudit, split: np.ndarray, seed: int,
    rerouted: Callable[..., np.ndarray],
) -> None:
    """Raise the ValueError of :func:`_refuse_tie_rule_dependence`, once a split pass (``split``, with ``seed``)
    changed ``gradient``: find a window (and an entry) to name, and show how one entry of the key changes when a
    concrete routing does it (a split's shares are no routing an author can picture, so its values are not shown)."""
    other = split
    tie: engine.PoolTie = audit.ties[0]
    target = None
    for candidate in audit.ties[:NAMED_CANDIDATES]:  # the first tied window whose split alone changes the gradient
        only = frozenset({candidate.serial})
        alone = rerouted(split=seed, only=only)
        if not differs(alone, gradient, TIE_RTOL, TIE_ATOL).any():
            continue
        tie, other = candidate, alone
        for rank in range(len(candidate.entries)):  # and the first of its tied entries that changes it
            moved = rerouted(entry=rank, only=only)
            if differs(moved, gradient, TIE_RTOL, TIE_ATOL).any():
                other, target = moved, candidate.entries[rank]
                break
        break
    index = tuple(int(i) for i in np.argwhere(differs(other, gradient, TIE_RTOL, TIE_ATOL))[0])
    entry = f"entry {list(index)} of the gradient" if index else "the gradient"
    if target is not None:
        giving = f"giving this window's gradient to another tied entry (input{list(target)}) instead"
        changes = f"changes the key ({entry} is {_gradient_entry(gradient[index])} by the tie rule, {_gradient_entry(other[index])} otherwise)"
    elif other is not split:
        giving = "sharing this window's gradient among its tied entries"
        changes = f"changes the key ({entry}, for one)"
    else:
        giving = "routing the tied windows' gradients to other tied entries together (no one window alone)"
        changes = f"changes the key ({entry}, for one)"
    count = f" ({audit.receiving} tied windows receive gradient)" if audit.receiving > 1 else ""
    raise ConventionError(
        f"the gradient with respect to {label} depends on max pooling's tie rule: {tie.where()} of the "
        f"{tie.op} input holds its maximum more than once ({tie.tied_text('input')}) and receives gradient{count}; "
        f"{giving} {changes}. Use inputs whose pooling windows each have a single maximum (random inputs from a "
        "continuous distribution, dist: normal or uniform, not integers), or do not ask for a gradient through "
        "this max pooling"
    )


def _gradient_entry(value: float) -> str:
    """A gradient entry as the message shows it (6 significant digits)."""
    return f"{float(value):.6g}"


@op("graph")
def _graph(nodes: dict[str, str], inputs: dict[str, Any], output: str | None = None) -> Graph:
    """A computation graph of named nodes ({f1: x1*theta, ...}, any order) over named inputs ({x1: $x1, ...}); its output is the node no other node uses (name it with output: when several are unused).

    The nodes may be written in any order: ``{L: z*z, z: w*x + b}`` computes L. A graph with several nodes that no
    other node uses is refused unless ``output`` names the output node (the order the nodes were written in
    never decides it).
    """
    if not isinstance(nodes, dict) or not isinstance(inputs, dict):
        raise ValueError("'nodes' and 'inputs' must be mappings of names")
    if output is not None and not isinstance(output, str):
        raise ValueError(f"'output' must be the name of a node, got {output!r}")
    named = _parsed_graph(tuple(nodes.items()), tuple(inputs), output)
    return named.build(inputs)


@lru_cache(maxsize=256)
def _parsed_graph(nodes: tuple[tuple[str, str], ...], inputs: tuple[str, ...], output: str | None) -> engine.NamedGraph:
    """The sheet's graph, parsed once per text: a sheet names its output when several nodes could be it."""
    return engine.parse_named_graph(nodes, inputs=inputs, output=output, strict_output=True)


def _graph_arg(graph: Any) -> Graph:
    if not isinstance(graph, Graph):
        raise ValueError(f"'graph' must be a quantity made by the graph op, got {type(graph).__name__}")
    return graph


ADJOINT_ZERO = " (its adjoint would be 0)"
"""Added to the message of an adjoint asked of an input or node the graph's output does not use."""


@op("adjoint")
def _adjoint(graph: Any, node: str) -> np.ndarray:
    """The adjoint t_node = d(output)/d(node) of a graph (the sheet's t_n), by reverse-mode autodiff; an error when a tie in a max/min or relu/abs at 0 decides it.

    With array-valued inputs (random points evaluated together), each point's adjoint is computed independently at
    a node that holds one value per point; at a node the points share, that would be their sum, so it is refused
    there (the points are then evaluated one by one). A max(a, b) or
    min(a, b) whose arguments are equal (up to TIE_RTOL/TIE_ATOL) gives its adjoint to a by the engine's tie rule;
    when giving it to b instead would change t_node, the key would rest on that rule and is refused
    (see :func:`_refuse_select_tie_rule`). The same for a relu(x) or abs(x) with x = 0, whose derivative there is a
    convention (see :func:`_refuse_kink_convention`).
    """
    g = _graph_arg(graph)
    target = g.node(node, left_out_note=ADJOINT_ZERO)
    if _POINTS_TOGETHER.get() and target.value.shape != g.output.value.shape:
        # one node for every point: the seed of ones would add up all the points' adjoints at it
        raise ValueError("adjoint: the node is one value for all the points evaluated together")
    seed = np.ones_like(g.output.value)
    schedule = g.output.backward(seed=seed)
    if _POINTS_TOGETHER.get() and (select_ties(schedule, rtol=TIE_RTOL, atol=TIE_ATOL) or kinks(schedule, rtol=TIE_RTOL, atol=TIE_ATOL)):
        # the audits judge an entry against the largest of the array: one point's kink is judged on its own
        raise ValueError("adjoint: a tie or a kink at one of the points evaluated together")
    _refuse_conventions(g.output, [target], schedule, seed=seed, named=g.named, adjoint=True)
    return _derivative(np.array(target.grad, copy=True), schedule)


@op("adjoints")
def _adjoints(graph: Any, nodes: list[str]) -> dict[str, np.ndarray]:
    """{node: t_node} for the named nodes of a graph: every adjoint at once (one backward pass); ties and kinks as for adjoint."""
    g = _graph_arg(graph)
    if not isinstance(nodes, list) or not nodes:
        raise ValueError("'nodes' must be a list of node names")
    targets = [g.node(name, left_out_note=ADJOINT_ZERO) for name in nodes]
    seed = np.ones_like(g.output.value)
    schedule = g.output.backward(seed=seed)
    _refuse_conventions(g.output, targets, schedule, seed=seed, named=g.named, adjoint=True)
    return {name: _derivative(np.array(t.grad, copy=True), schedule) for name, t in zip(nodes, targets, strict=True)}


@op("graph_output")
def _graph_output(graph: Any) -> Tensor:
    """The value of a graph's output node."""
    return _graph_arg(graph).output


@op("children_of")
def _children_of(graph: Any, node: str) -> frozenset[str]:
    """Every named node computed from node, directly or not (the sheet's AutoDiff step 1)."""
    g = _graph_arg(graph).named_view()
    return frozenset(child.label for child in g.children_of(node))


@op("direct_children")
def _direct_children(graph: Any, node: str) -> frozenset[str]:
    """The named nodes whose expression uses node (the sheet's ch(n)): z for w in {z: w*x + b}."""
    return frozenset(child.label for child in _graph_arg(graph).named_view().direct_children(node))


@op("schedule")
def _schedule(graph: Any, wrt: list[str] | None = None) -> ScheduleReference:
    """The valid reverse schedules of a graph's named nodes (for the variables wrt, or the whole graph)."""
    g = _graph_arg(graph).named_view()
    for name in wrt or []:
        g.node(name)
    return ScheduleReference(graph=g, wrt=tuple(wrt or ()))


@dataclass(frozen=True)
class NamedFunction(FunctionReference):
    """A :class:`FunctionReference` made by the ``function`` op, knowing the variable names it reads, so the key
    can check that the answer's domains cover them before any student is graded."""

    variables: tuple[str, ...] = ()


@op("function", lazy=("of", "variables"))
def _function(of: Lazy, variables: Lazy) -> FunctionReference:
    """A quantity as a function of some inputs, evaluated at random points: {n: $n, f: $f, ...}.

    The keys are the names a student's formula uses; the values the inputs they stand for.
    """
    written = variables.expression
    if not isinstance(written, dict) or not written:
        raise ValueError("'variables' must map the formula's variable names to $inputs, e.g. {n: $n, f: $f}")
    resolved = variables.value()
    names = {key: _input_name(value, written[key], f"variables.{key}") for key, value in resolved.items()}
    for key, value in resolved.items():
        if value.value.size != 1:
            raise ValueError(
                f"variables.{key}: {written[key]} has shape {value.value.shape}, but a formula's variable stands for "
                "one number (a size, a weight, a stride): use an input that is a single number"
            )

    memo: dict[tuple[tuple[str, bytes], ...], np.ndarray] = {}
    scope = of.every_variant_scope(frozenset(names.values()))
    shared = None if scope is None else (scope, repr(of.expression))

    def fn(points: Mapping[str, np.ndarray]) -> np.ndarray:
        # Every student of a part is checked at the same points: remember the reference's values there. When they
        # are the same in every variant, every variant's key shares them (:data:`_VARIANT_FREE_VALUES`).
        arrays = {key: np.asarray(points[key], dtype=np.float64) for key in names}
        memo_key = tuple((key, array.tobytes() + str(array.shape).encode()) for key, array in sorted(arrays.items()))
        values = memo.get(memo_key)
        if values is None:
            columns = {names[key]: array for key, array in arrays.items()}
            if shared is None:
                values = _function_values(of, columns)
            else:
                values = _variant_free_values(of, columns, (*shared, _columns_digest(columns), _PLACES_ONLY.get()))
            if len(memo) >= 32:  # another thread may clear it meanwhile: ``values`` is this call's own
                memo.clear()
            memo[memo_key] = values
        return values.copy()

    return NamedFunction(fn=fn, variables=tuple(names))


_VARIANT_FREE_VALUES: collections.OrderedDict[Hashable, np.ndarray] = collections.OrderedDict()
"""A formula key's values at random points that are the same in every variant (:meth:`Lazy.every_variant_scope`),
by (sheet and exercise, the quantity's text, a sha256 of the inputs at the points, :data:`_PLACES_ONLY`), the last
used within :data:`VARIANT_FREE_BYTES` of values: a batch whose students each have their own variant computes them
once, not once a student (week 7's formula parts were half of each new variant's key)."""
_VARIANT_FREE_LOCK = threading.Lock()  # a batch worker grades code submissions on several threads
VARIANT_FREE_BYTES = 16 << 20
"""Values kept (8 bytes a point; week 7's formula parts keep 10 KB in all, a part may check up to 10,000 points)."""
_variant_free_bytes = 0


def _columns_digest(columns: Mapping[str, np.ndarray]) -> bytes:
    """A sha256 of the inputs a formula key is evaluated with (``{input: (points,) array}``): what its values depend
    on besides the quantity. Built from the inputs, not the formula's variables: ``{a: $n, b: $n}`` sets n to b's
    points and ``{b: $n, a: $n}`` to a's, two keys that share a quantity and variable names but no values."""
    digest = hashlib.sha256()
    for name, column in sorted(columns.items()):
        digest.update(repr((name, column.shape, column.dtype.str)).encode())
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.digest()


def _variant_free_values(of: Lazy, columns: dict[str, np.ndarray], where: Hashable) -> np.ndarray:
    """:func:`_function_values` of ``of`` at ``columns``, shared through :data:`_VARIANT_FREE_VALUES` under ``where``
    (read-only: callers copy)."""
    with _VARIANT_FREE_LOCK:
        kept = _VARIANT_FREE_VALUES.get(where)
        if kept is not None:
            _VARIANT_FREE_VALUES.move_to_end(where)
            return kept
    global _variant_free_bytes
    values = _function_values(of, columns)  # outside the lock: two threads may compute it, never wait on each other
    values.setflags(write=False)
    with _VARIANT_FREE_LOCK:
        if where not in _VARIANT_FREE_VALUES:
            _VARIANT_FREE_VALUES[where] = values
            _variant_free_bytes += values.nbytes
        while _variant_free_bytes > VARIANT_FREE_BYTES and _VARIANT_FREE_VALUES:
            _variant_free_bytes -= _VARIANT_FREE_VALUES.popitem(last=False)[1].nbytes
    return values


def _function_values(of: Lazy, overrides: dict[str, np.ndarray]) -> np.ndarray:
    """'of' at the random points ``overrides`` (``{input: (count,) array}``): a (count,) array, one value per point.

    All points are evaluated at once (each input replaced by its (count,) column) only when 'of' is computed entry
    by entry from them as the sheet writes it (:meth:`Lazy.entry_by_entry`: only :data:`ENTRY_BY_ENTRY_OPS`, through
    every quantity it uses, and every other input a single number); that gives each point its own value. Otherwise
    (a ``sum`` or ``mean`` would sum over the points, even behind a relu that lets only some of them through; an
    array input of as many entries as there are points would pair with them) every point is evaluated on its own,
    as a single number, as is every point when evaluating them together fails at one or disagrees with the first
    or last point evaluated alone (a second safeguard).

    A point where it cannot be evaluated (a size that is not whole, a log of a negative number, or a tie rule or a
    kink's derivative deciding it: :class:`ConventionError`) is NaN, undefined, which the formula check skips; so
    the (count,) values of every point set are computed once, and remembered. The first point's error is raised
    when no point can be evaluated, and ValueError when 'of' is not one number at a point."""
    count = len(next(iter(overrides.values())))
    if count == 1:  # one point: evaluating it with (1,) columns is evaluating it alone
        return np.array([_value_at(of, overrides, slice(None))])
    if of.entry_by_entry(frozenset(overrides)):
        marked = _POINTS_TOGETHER.set(True)
        try:
            together = array_of(of.value_with(overrides)).astype(np.float64)
        except (GraderError, ValueError):
            together = None  # a point it is not defined at: found one by one below
        finally:
            _POINTS_TOGETHER.reset(marked)
        if together is not None and together.shape in ((), (count,)):
            together = np.broadcast_to(together, (count,)).copy()
            try:  # a second safeguard: the first and last point evaluated alone agree
                if all(_same_value(together[i], _value_at(of, overrides, i)) for i in (0, count - 1)):
                    return together
            except (GraderError, ValueError, ArithmeticError):
                pass  # undefined alone at one of them: found one by one below
    out = np.full(count, np.nan)
    first_error: Exception | None = None
    for index in range(count):
        try:
            out[index] = _value_at(of, overrides, index)
        except _NotOneNumber:
            raise
        except (GraderError, ValueError, ArithmeticError) as exc:
            if not _convention_refused(exc):
                first_error = first_error or exc
    if first_error is not None and not np.isfinite(out).any():
        raise first_error
    return out


ENTRY_BY_ENTRY_OPS = frozenset({
    "add", "sub", "mul", "div", "neg", "pow", "square", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu",
    "greater", "less", "formula", "graph", "graph_output", "grad", "adjoint",
    "conv_output_size", "pool_output_size", "same_padding", "conv_volume",
})
"""Quantity ops that compute each entry of their result from the same entry of their (broadcast) arguments: with
every other operand a single number, a column of points in gives each point's own value out. ``formula`` and
``graph`` nodes use only element-wise functions; ``grad`` refuses an 'of' of many values, which then sends the
points one by one; so does ``adjoint`` at a node that is one value for all the points (its seed of ones would add up
their adjoints there, as a review found: :data:`_POINTS_TOGETHER`)."""

_POINTS_TOGETHER: contextvars.ContextVar[bool] = contextvars.ContextVar("points_together", default=False)
"""Set while a formula key's random points are evaluated together (:func:`_function_values`)."""


def _same_value(together: float, alone: float) -> bool:
    """Whether a point's value from evaluating all points at once is the one it has evaluated alone."""
    if together == alone or (np.isnan(together) and np.isnan(alone)):
        return True
    return bool(abs(together - alone) <= 1e-9 * max(1.0, abs(together), abs(alone)))


class _NotOneNumber(ValueError):
    """A formula's quantity that is not one number at a point of its variables."""


def _value_at(of: Lazy, overrides: dict[str, np.ndarray], index: int | slice) -> float:
    """'of' with each input of ``overrides`` replaced by the single number at ``index`` of its column (the whole
    column, ``slice(None)``, when it has one entry)."""
    value = np.asarray(array_of(of.value_with({name: column[index] for name, column in overrides.items()})), dtype=np.float64)
    if value.size != 1:
        raise _NotOneNumber(
            f"'of' must be one number for each value of the formula's variables (a formula gives one number), but it "
            f"has shape {value.shape}: take one entry of it ({{op: index, ...}}), a sum or a loss"
        )
    return float(value.reshape(-1)[0])


def _input_name(reference: Any, written: Any, where: str) -> str:
    """The name of the input a resolved ``$reference`` stands for (inputs are leaves named after themselves).

    ``written`` is the argument as the sheet has it, for the message: an author reads ``$m is a quantity``,
    never the engine's ``Tensor(add#7f...)``.
    """
    if isinstance(reference, Tensor) and reference.op == "leaf" and reference.name:
        return reference.name
    if isinstance(written, str) and written.startswith("$"):
        what = f"{written} is a quantity (computed by {reference.op})" if isinstance(reference, Tensor) else f"{written} is not an input"
        raise ValueError(
            f"{where} must be a $reference to an input, which the check replaces by random points; {what}: "
            "refer to the input(s) it is computed from instead"
        )
    shown = "an {op: ...} call" if isinstance(written, dict) else repr(written)
    raise ValueError(f"{where} must be a $reference to an input, got {shown}")


# ---- translations (the sheet's Exercise 3) -------------------------------------------------------------------
@op("shift")
def _shift(x: Any, dy: Any = 0, dx: Any = 0) -> Tensor:
    """x (H, W, C) or (H, W) moved dy rows down and dx columns right (negative: up/left), zero-filled; grad moves back through it. A signal (L, C) is read as (H, W): dy moves its positions, dx would move its channels."""
    return structure.moved(x, whole(dy, "dy"), whole(dx, "dx"))


DEPENDENCE_SEED = 20261128
"""The fixed seed of the other input :func:`_refuse_independent` tries when no recorded op links 'of' to it."""


def _refuse_independent(of: Lazy, input: Tensor, value: Any) -> None:
    """Raise ValueError (as grad does) when 'of' does not depend on ``input``: moving the image could not change
    it, so a translation key computed from it would say nothing about the image. ``value`` is 'of' evaluated with
    ``input`` replaced (inputs are leaves named after themselves, so a dependence recorded by the ops shows as such a
    leaf under ``value``). An op that returns a plain array (``changed_mask``, ``argmax``) records no link: then 'of'
    is evaluated once more with ``input`` replaced by another array, and refused only when nothing changes."""
    if isinstance(value, Tensor) and any(
        n.op == "leaf" and n.name == input.label for n in engine.reverse_schedule(value)
    ):
        return
    image = input.value
    scale = max(1.0, float(np.abs(image).max(initial=0.0)))
    other = image + np.random.default_rng(DEPENDENCE_SEED).normal(size=image.shape) * scale
    try:
        changed = of.array_with({input.label: other})
    except (ValueError, ArithmeticError, GraderError):
        return  # it fails for another input: it depends on it
    before = array_of(value)
    if before.shape == changed.shape and np.array_equal(before, changed):
        raise ValueError(
            f"'of' does not depend on {input.label}: moving {input.label} cannot change it, so this key would say "
            f"nothing about translating {input.label}; use a quantity computed from ${input.label}"
        )


@op("shifted", lazy=("of",), input_refs=("input",))
def _shifted(of: Lazy, input: Tensor, dy: Any = 0, dx: Any = 0) -> Tensor:
    """The quantity 'of' recomputed after moving the input image ((H, W, C) or (H, W)) by (dy, dx), zero-filled; an error when 'of' does not depend on the input. For a signal (L, C) use dy: dx would move its channels."""
    # A plain array: the moved image is a leaf of its own (named as the input) in 'of' evaluated again, which shares
    # the evaluation's other inputs, so a grad through it follows them; grad refuses to follow the moved copy
    # (see _refuse_moved_copies): a graph quantity inside 'of' could not name both the input and its moved copy.
    moved = symmetry.shift(input.value, whole(dy, "dy"), whole(dx, "dx"))
    value = of.value_with({input.label: moved})
    _refuse_independent(of, input, value)
    return value


@op("count_changed")
def _count_changed(before: Any, after: Any, atol: float = 1e-9) -> int:
    """How many entries differ between two arrays of one shape."""
    a, b = array_of(before), array_of(after)
    if a.shape != b.shape:
        raise ValueError(f"'before' has shape {a.shape} but 'after' has shape {b.shape}")
    return int(np.count_nonzero(np.abs(a - b) > number(atol, "atol")))


@op("changed_mask")
def _changed_mask(before: Any, after: Any, atol: float = 1e-9) -> np.ndarray:
    """1 where two arrays of one shape differ, else 0."""
    a, b = array_of(before), array_of(after)
    if a.shape != b.shape:
        raise ValueError(f"'before' has shape {a.shape} but 'after' has shape {b.shape}")
    return (np.abs(a - b) > number(atol, "atol")).astype(np.float64)


def _layer(of: Lazy, input: Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """'of' as a function of the image ``input``; its first call refuses an 'of' that does not depend on the image
    (see :func:`_refuse_independent`)."""
    checked = False

    def layer(image: np.ndarray) -> np.ndarray:
        nonlocal checked
        if checked:
            return of.array_with({input.label: image})
        value = of.value_with({input.label: image})  # with its graph, which tells at once whether it uses the image
        _refuse_independent(of, input, value)
        checked = True
        return array_of(value)

    return layer


@op("translation", lazy=("of",), input_refs=("input",))
def _translation(of: Lazy, input: Tensor, max_shift: int = 2) -> TranslationReference:
    """For each unit of 'of', the non-zero shifts of the input (|dy|, |dx| <= max_shift) leaving it unchanged; an error when 'of' does not depend on the input."""
    layer = _layer(of, input)
    shifts = symmetry.invariant_shifts_all(layer, input.value, whole(max_shift, "max_shift"))
    units = tuple(shifts)
    valid = {unit: frozenset(found) for unit, found in shifts.items()}
    example = {unit: (min(found, key=lambda s: (abs(s[0]) + abs(s[1]), s)) if found else None) for unit, found in shifts.items()}
    return TranslationReference(
        units=units,
        is_invariant=lambda unit, move: tuple(move) in valid.get(tuple(unit), frozenset()),
        example=example,
        max_shift=whole(max_shift, "max_shift"),
        held=22 * len(units) + 11 * sum(len(found) for found in valid.values()),
    )


@op("every_unit_has_invariant_shift", lazy=("of",), input_refs=("input",))
def _every_unit_invariant(of: Lazy, input: Tensor, max_shift: int = 2) -> bool:
    """Whether every unit of 'of' keeps its value under some non-zero shift of the input (|dy|,|dx| <= max_shift); an error when 'of' does not depend on the input."""
    shifts = symmetry.invariant_shifts_all(_layer(of, input), input.value, whole(max_shift, "max_shift"))
    return all(shifts.values())
