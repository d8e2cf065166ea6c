"""Tensor: a float64 numpy array that records how it was made, and reverse-mode autodiff over those records.

Each op builds its output node and the closure that sends the gradient back to its parents, in one place
(as in micrograd). ``backward()`` walks a reverse topological schedule and leaves every node's adjoint in
``.grad`` -- the sheet's ``t_n``. :mod:`grader.engine.graph` inspects the recorded graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ArrayLike = Any  # numbers, nested lists, numpy arrays
VJP = Callable[[np.ndarray], Sequence[np.ndarray | None]]
"""Vector-Jacobian product: adjoint of the output (output's shape) -> adjoint per parent (parent's shape)."""


def check_finite(value: np.ndarray, name: str) -> None:
    """Raise ValueError naming ``name`` and the first bad index when ``value`` holds NaN or inf."""
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
        bad = np.argwhere(~np.isfinite(value))
        where = tuple(int(i) for i in bad[0]) if value.ndim else ()
        raise ValueError(
            f"{name}: {len(bad)} non-finite entr{'y' if len(bad) == 1 else 'ies'} (NaN or inf), "
            f"first at index {list(where)} = {value[where]!r}; inputs must be finite"
        )


def at_index(index: Sequence[int]) -> str:
    """`` at index [i, j]`` for an array entry, or nothing for a scalar (messages read well either way)."""
    return f" at index {list(index)}" if len(index) else ""


def to_array(value: ArrayLike, name: str) -> np.ndarray:
    """``value`` as a finite float64 array; ValueError naming ``name`` when it is not numeric or not finite."""
    if isinstance(value, Tensor):
        return value.value
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers or an array of numbers, got {type(value).__name__} ({exc})") from None
    check_finite(array, name)
    return array


class Tensor:
    """A node of a computation graph holding a float64 array.

    Attributes:
        value: the array computed by the forward pass (any shape).
        grad: after ``backward()`` on a scalar that this node contributed to, d(output)/d(self), shaped like
            ``value``; ``None`` before.
        name: a label for reports and schedules (``"theta"``, ``"f3"``); ops leave it ``None``.
        op: the operation that produced the node (``"leaf"`` for inputs).
        parents: the nodes this one was computed from, in argument order.
    """

    __slots__ = ("value", "grad", "name", "op", "parents", "_vjp", "_fresh_grads", "__weakref__")
    __array_priority__ = 1000  # so that ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, array: ArrayLike, name: str | None = None) -> None:
        self.value: np.ndarray = to_array(array, name or "tensor")
        self.grad: np.ndarray | None = None
        self.name = name
        self.op = "leaf"
        self.parents: tuple[Tensor, ...] = ()
        self._vjp: VJP | None = None
        self._fresh_grads = False

    @classmethod
    def from_op(
        cls, value: np.ndarray, op: str, parents: Sequence[Tensor], vjp: VJP, *, fresh_grads: bool = False
    ) -> Tensor:
        """A node made by an op: ``value`` is the forward result, ``vjp`` sends its adjoint to ``parents``.

        ``fresh_grads=True`` promises that every array ``vjp`` returns is newly allocated on each call and kept
        by nobody else (not ``g`` or a view of it, not a stored array), so ``backward`` may adopt it as a
        parent's ``.grad`` instead of copying it. Leave it False when unsure: a broken promise lets one
        node's later ``+=`` change another node's gradient.

        ValueError naming ``op`` when the result is not finite (e.g. ``1e200 * 1e200`` overflows float64), so
        no NaN or inf travels silently through a graph.
        """
        out = cls.__new__(cls)
        out.value = np.asarray(value, dtype=np.float64)
        if not np.isfinite(out.value).all():
            bad = np.argwhere(~np.isfinite(out.value))
            index = [int(i) for i in bad[0]]
            kind = "NaN" if np.isnan(out.value[tuple(index)]) else "an overflow (inf)"
            raise ValueError(
                f"{op}: the result is not finite: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'}"
                f"{', first' + at_index(index) if index else ''} is {kind}; "
                "float64 holds magnitudes up to about 1.8e308"
            )
        out.grad = None
        out.name = None
        out.op = op
        out.parents = tuple(parents)
        out._vjp = vjp
        out._fresh_grads = fresh_grads
        return out

    # ---- inspection -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def label(self) -> str:
        """``name`` when set, else ``op#id`` (stable for the life of the node)."""
        return self.name if self.name is not None else f"{self.op}#{id(self):x}"

    def named(self, name: str) -> Tensor:
        """Set ``name`` and return self, for chaining: ``(x * theta).named("f1")``."""
        self.name = name
        return self

    def __repr__(self) -> str:
        return f"Tensor({self.label}, op={self.op}, shape={self.shape})"

    def item(self) -> float:
        """The value as a Python float; ValueError unless the node holds exactly one number."""
        if self.value.size != 1:
            raise ValueError(f"item(): {self.label} has shape {self.shape}, not a single number")
        return float(self.value.reshape(()))

    # ---- autodiff ---------------------------------------------------------------------------------------
    def backward(self, seed: ArrayLike | None = None) -> list[Tensor]:
        """Fill ``.grad`` of every node this one depends on; return the reverse schedule that was used.

        ``seed`` is the adjoint of this node (default 1, which needs a scalar -- the sheet's ``t_{n_1} = 1``).
        Gradients are reset first, so calling ``backward`` twice gives the same result, not twice the result.
        """
        if seed is None:
            if self.value.size != 1:
                raise ValueError(
                    f"backward() without a seed needs a scalar output, got shape {self.shape}; "
                    "reduce it (e.g. with .sum()) or pass seed= with that shape"
                )
            seed_array = np.ones_like(self.value)  # fresh: adopted below without a copy
        else:
            seed_given = to_array(seed, "seed")
            try:
                # astype copies, so the caller's seed is never the array that later += writes into
                seed_array = np.broadcast_to(seed_given, self.shape).astype(np.float64)
            except ValueError:
                raise ValueError(
                    f"backward(): seed has shape {seed_given.shape}, which does not fit the output's shape {self.shape}"
                ) from None
        schedule = reverse_schedule(self)
        for node in schedule:
            node.grad = None
        self.grad = seed_array
        for node in schedule:
            if node._vjp is None or node.grad is None:
                continue
            with np.errstate(over="ignore", invalid="ignore"):  # non-finite adjoints are reported below
                parent_grads = node._vjp(node.grad)
            for parent, parent_grad in zip(node.parents, parent_grads, strict=True):
                if parent_grad is None:
                    continue
                if parent_grad.shape != parent.shape:
                    raise AssertionError(f"{node.op}: VJP gave shape {parent_grad.shape} for {parent.shape}")
                if not np.isfinite(parent_grad).all():
                    raise ValueError(
                        f"backward: the adjoint that {node.label} ({node.op}) sends to {parent.label} is not "
                        "finite (overflow); the values in the graph are too large"
                    )
                if parent.grad is None:
                    # A parent's first adjoint is later updated in place (+=), so it must be an array that
                    # no one else holds: a VJP's result is often g itself or a view of it (add, reshape),
                    # which would tie this node's .grad to another's. Copy unless the op vouches for it.
                    adopt = node._fresh_grads and parent_grad.dtype == np.float64 and parent_grad.flags.writeable
                    parent.grad = parent_grad if adopt else np.array(parent_grad, dtype=np.float64, copy=True)
                else:
                    parent.grad += parent_grad
        for node in schedule:
            if node.grad is None:  # reachable but every path sent None (e.g. a constant exponent)
                node.grad = np.zeros_like(node.value)
        return schedule

    # ---- operators --------------------------------------------------------------------------------------
    def __add__(self, other: ArrayLike) -> Tensor:
        return add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return div(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return power(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return power(other, self)

    def __neg__(self) -> Tensor:
        return neg(self)

    def __pos__(self) -> Tensor:
        return self

    def sum(self) -> Tensor:
        return sum_all(self)

    __hash__ = object.__hash__  # nodes are identities; == is not overloaded


def as_tensor(value: ArrayLike, name: str = "input") -> Tensor:
    """``value`` itself when it is a Tensor, else a new leaf named ``name`` (validated finite float64)."""
    if isinstance(value, Tensor):
        return value
    return _constant(value, name)


def _constant(value: ArrayLike, name: str) -> Tensor:
    """A leaf with op ``"const"`` for a raw array passed to an op; ``name`` is only used in error messages."""
    leaf = Tensor.__new__(Tensor)
    leaf.value = to_array(value, name)
    leaf.grad = None
    leaf.name = None
    leaf.op = "const"
    leaf.parents = ()
    leaf._vjp = None
    leaf._fresh_grads = False
    return leaf


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape`` again."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _broadcast_pair(op: str, a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor, tuple[int, ...]]:
    left, right = as_tensor(a, f"{op}: left operand"), as_tensor(b, f"{op}: right operand")
    try:
        shape = np.broadcast_shapes(left.shape, right.shape)
    except ValueError:
        raise ValueError(
            f"{op}: operand shapes {left.shape} and {right.shape} do not broadcast together"
        ) from None
    return left, right, shape


def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a + b, elementwise with numpy broadcasting."""
    x, y, _ = _broadcast_pair("add", a, b)
    with np.errstate(over="ignore", invalid="ignore"):  # from_op reports a non-finite result by name
        value = x.value + y.value
    return Tensor.from_op(
        value, "add", (x, y), lambda g: (unbroadcast(g, x.shape), unbroadcast(g, y.shape))
    )


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a - b, elementwise with numpy broadcasting."""
    x, y, _ = _broadcast_pair("sub", a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        value = x.value - y.value
    return Tensor.from_op(
        value, "sub", (x, y), lambda g: (unbroadcast(g, x.shape), unbroadcast(-g, y.shape))
    )


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a * b, elementwise with numpy broadcasting."""
    x, y, _ = _broadcast_pair("mul", a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        value = x.value * y.value
    return Tensor.from_op(
        value,
        "mul",
        (x, y),
        lambda g: (unbroadcast(g * y.value, x.shape), unbroadcast(g * x.value, y.shape)),
    )


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a / b, elementwise; ValueError when b has a zero where the quotient is needed."""
    x, y, _ = _broadcast_pair("div", a, b)
    if np.any(y.value == 0):
        index = [int(i) for i in np.argwhere(y.value == 0)[0]]
        raise ValueError(f"div: division by zero: the divisor is 0{at_index(index)} (shape {y.shape})")
    with np.errstate(over="ignore", invalid="ignore"):
        quotient = x.value / y.value
    return Tensor.from_op(
        quotient,
        "div",
        (x, y),
        lambda g: (unbroadcast(g / y.value, x.shape), unbroadcast(-g * quotient / y.value, y.shape)),
    )


def power(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a ** b, elementwise with broadcasting.

    ValueError when a result is not a finite real number (negative base with a fractional exponent, 0 to a
    negative power, overflow such as ``9 ** 9 ** 9``). In ``backward``, the exponent's adjoint needs a > 0
    where it is used (d/db a^b = a^b ln a) unless the exponent is a constant, and the base's adjoint must be
    finite (``x ** 0.5`` at x = 0 has none): otherwise ValueError.
    """
    x, y, _ = _broadcast_pair("pow", a, b)
    with np.errstate(all="ignore"):
        value = np.power(x.value, y.value)
    if not np.isfinite(value).all():
        index = [int(i) for i in np.argwhere(~np.isfinite(value))[0]]
        base = float(np.broadcast_to(x.value, value.shape)[tuple(index)])
        exponent = float(np.broadcast_to(y.value, value.shape)[tuple(index)])
        if np.isnan(value[tuple(index)]):
            why = "a negative base needs a whole-number exponent"
        elif base == 0:
            why = "0 to a negative power is undefined"
        else:
            why = "the result overflows float64 (largest about 1.8e308)"
        raise ValueError(f"pow: {base:g} ** {exponent:g} is not a finite real number{at_index(index)}: {why}")
    exponent_is_const = y.op == "const"

    def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        with np.errstate(all="ignore"):
            dx = g * y.value * np.power(x.value, y.value - 1)
        dx = np.where((y.value == 0) | (g == 0), 0.0, dx)  # d/dx x^0 = 0, also at x = 0
        if not np.isfinite(dx).all():
            index = [int(i) for i in np.argwhere(~np.isfinite(dx))[0]]
            base = float(np.broadcast_to(x.value, dx.shape)[tuple(index)])
            exponent = float(np.broadcast_to(y.value, dx.shape)[tuple(index)])
            raise ValueError(
                f"pow: the derivative of x ** {exponent:g} at x = {base:g} is not finite{at_index(index)}"
            )
        if exponent_is_const:
            return unbroadcast(dx, x.shape), None
        if np.any((x.value <= 0) & (g != 0)):
            raise ValueError("pow: the derivative with respect to the exponent needs a positive base")
        with np.errstate(all="ignore"):
            dy = g * value * np.log(np.where(x.value > 0, x.value, 1.0))
        return unbroadcast(dx, x.shape), unbroadcast(dy, y.shape)

    return Tensor.from_op(value, "pow", (x, y), vjp)


def square(a: ArrayLike) -> Tensor:
    """a ** 2, elementwise (the sheet's f4)."""
    x = as_tensor(a, "square: x")
    with np.errstate(over="ignore"):
        value = x.value * x.value
    return Tensor.from_op(value, "square", (x,), lambda g: (2.0 * g * x.value,))


def neg(a: ArrayLike) -> Tensor:
    """-a."""
    x = as_tensor(a, "neg: x")
    return Tensor.from_op(-x.value, "neg", (x,), lambda g: (-g,))


def sum_all(a: ArrayLike) -> Tensor:
    """The sum of every entry of ``a``: a scalar (shape ``()``)."""
    x = as_tensor(a, "sum: x")
    return Tensor.from_op(
        np.asarray(x.value.sum()), "sum", (x,), lambda g: (np.broadcast_to(g, x.shape).copy(),)
    )


def reverse_schedule(output: Tensor) -> list[Tensor]:
    """Every node ``output`` depends on, each after all of its children: ``output`` first, leaves last.

    Iterative depth-first post-order (no recursion limit), reversed. Many orders are valid (the sheet says
    so); this one is deterministic for a given graph. :meth:`grader.engine.graph.Graph.check_reverse_schedule`
    checks a proposed one.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(output, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parents):
            if id(parent) not in seen:
                stack.append((parent, False))
    order.reverse()
    return order

