"""Graph: the computation graph behind one output Tensor, for inspection -- children, schedules, adjoints.

Vocabulary follows the week-7 sheet (Exercise 4): a node's *children* are the nodes computed from it (its
consumers), so the output has none and inputs have the most descendants. A *reverse schedule* lists nodes so
that every node comes after all of its children; ``t_n`` is node n's adjoint d(output)/d(n).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from grader.engine.tensor import VJP, Tensor, reverse_schedule, unbroadcast
from grader.engine.audit import NAMED_CANDIDATES, SPLIT_SEEDS, differs, number_text


def _no_vjp(g: np.ndarray) -> Sequence[np.ndarray | None]:
    raise ValueError("the named view of a graph is for inspection; differentiate the graph itself")


@dataclass(frozen=True)
class ScheduleCheck:
    """Whether a proposed reverse schedule is valid, and if not the first reason why (student-readable)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


class Graph:
    """Every node ``output`` depends on, with parent and child links, addressable by label.

    Nodes are labelled by ``Tensor.label`` (their ``name`` when set). Building the Graph does not run
    backward; :meth:`backward` does, and records the schedule it used.
    """

    def __init__(self, output: Tensor) -> None:
        self.output = output
        self.nodes: list[Tensor] = reverse_schedule(output)  # output first
        self._by_label: dict[str, Tensor] = {}
        for node in self.nodes:
            if node.label in self._by_label:
                raise ValueError(f"graph: two different nodes are both labelled {node.label!r}")
            self._by_label[node.label] = node
        self._children: dict[int, list[Tensor]] = {id(n): [] for n in self.nodes}
        for node in self.nodes:
            for parent in dict.fromkeys(node.parents):  # a node used twice (x*x) is one child, not two
                self._children[id(parent)].append(node)
        self.schedule: list[Tensor] | None = None
        self.named: frozenset[str] | None = None
        """The labels someone chose (a NamedGraph's inputs and nodes); other labels were made up from the text of
        a sub-expression (``w * x``). None: every label counts as chosen (a graph built from tensors directly)."""
        self.left_out: dict[str, str] = {}
        """Chosen names that are not part of the graph (an input no node uses, a node the output does not depend
        on), each with the sentence saying so: :meth:`node` gives it instead of "no node named ..."."""

    # ---- lookup --------------------------------------------------------------------------------------
    def node(self, label: str | Tensor, *, left_out_note: str = "") -> Tensor:
        """The node with this label (or the node itself); ValueError listing the labels when unknown.

        For a chosen name that is not part of the graph (:attr:`left_out`) the message says why, followed by
        ``left_out_note`` (e.g. `` (its adjoint would be 0)``).
        """
        if isinstance(label, Tensor):
            if id(label) not in self._children:
                raise ValueError(f"graph: node {label.label!r} is not part of this graph")
            return label
        try:
            return self._by_label[label]
        except KeyError:
            if label in self.left_out:
                raise ValueError(
                    f"graph: {self.left_out[label]}{left_out_note}; the nodes of the graph are: {self._known()}"
                ) from None
            raise ValueError(f"graph: no node named {label!r}; the nodes are: {self._known()}") from None

    def _known(self) -> str:
        """The labels a message lists as the graph's nodes: the chosen names only (not ``2`` or ``w * x``) when the
        graph knows which labels were chosen (:attr:`named`), else every label."""
        labels = [n.label for n in self.nodes if self.named is None or n.label in self.named]
        return ", ".join(sorted(labels))

    @property
    def labels(self) -> list[str]:
        """Labels of all nodes, output first, in the order of the engine's own reverse schedule."""
        return [n.label for n in self.nodes]

    def named_view(self) -> Graph:
        """The graph as its author drew it: only the named nodes (inputs and the nodes given a name), each
        computed from the named nodes its expression uses.

        In ``{z: w*x + b, L: z*z}`` the product ``w * x`` is part of z's expression, not a node: here w's direct
        children are [z], everything that depends on w is [z, L], and a reverse schedule for w is ``L, z, w``.
        Constants are left out. A schedule valid here extends to one of the whole graph (each sub-expression
        goes just before its node), so the view loses nothing a student is asked. ``self`` when every label was
        chosen (``named`` is None, or no sub-expression and no constant has a label of its own).
        """
        if self.named is None or all(n.label in self.named for n in self.nodes):
            return self
        proxies: dict[int, Tensor] = {}
        for node in reversed(self.nodes):  # leaves first: each proxy's parents exist already
            if node.label not in self.named:
                continue
            parents = [proxies[id(p)] for p in self._named_sources(node)]
            if not parents and node.op == "leaf":
                proxy = Tensor(node.value, name=node.label)
            else:
                proxy = Tensor.from_op(node.value, node.op, parents, _no_vjp)
                proxy.name = node.label
            proxies[id(node)] = proxy
        view = Graph(proxies[id(self.output)])
        view.named = self.named
        view.left_out = self.left_out
        return view

    def _named_sources(self, node: Tensor) -> list[Tensor]:
        """The named nodes ``node``'s expression uses: its parents, looking through unnamed sub-expressions."""
        found: list[Tensor] = []
        stack = list(reversed(node.parents))
        seen: set[int] = set()
        while stack:
            parent = stack.pop()
            if id(parent) in seen:
                continue
            seen.add(id(parent))
            if self.named is not None and parent.label in self.named:
                found.append(parent)
            else:
                stack.extend(reversed(parent.parents))
        return found

    def parents(self, node: str | Tensor) -> list[Tensor]:
        """The nodes ``node`` was computed from, in argument order (duplicates removed)."""
        return list(dict.fromkeys(self.node(node).parents))

    def direct_children(self, node: str | Tensor) -> list[Tensor]:
        """The nodes computed directly from ``node`` (the sheet's ch(n) in step 4)."""
        return list(self._children[id(self.node(node))])

    def children_of(self, node: str | Tensor) -> list[Tensor]:
        """Every node that depends on ``node``, directly or not (the sheet's step 1: for theta, f1 f2 f3 f5 f6).

        Returned in the graph's schedule order (output first).
        """
        start = self.node(node)
        reached: set[int] = set()
        frontier = [start]
        while frontier:
            current = frontier.pop()
            for child in self._children[id(current)]:
                if id(child) not in reached:
                    reached.add(id(child))
                    frontier.append(child)
        return [n for n in self.nodes if id(n) in reached]

    # ---- schedules -----------------------------------------------------------------------------------
    def check_reverse_schedule(self, order: Sequence[str | Tensor], wrt: Iterable[str | Tensor] = ()) -> ScheduleCheck:
        """Is ``order`` a valid reverse (backwards) schedule? Every node must come after all of its children.

        A schedule may cover only what is needed for some variables (the sheet's ``f6, f3, f2, f1, f5,
        theta`` for theta): then every child of a scheduled node must be scheduled too, before it, and each
        node in ``wrt`` must appear. With ``wrt`` empty, the schedule must cover the whole graph except
        constants (op ``"const"``, e.g. the 2 in ``x2 ** 2``), which carry no adjoint anyone asks for; a
        schedule may still list them, under the same rule.
        """
        positions: dict[int, int] = {}
        for position, item in enumerate(order):
            try:
                node = self.node(item)
            except ValueError as exc:
                return ScheduleCheck(False, str(exc).removeprefix("graph: "))
            if id(node) in positions:
                return ScheduleCheck(False, f"{node.label} appears twice")
            positions[id(node)] = position
        try:
            required = [self.node(w) for w in wrt] if wrt else [n for n in self.nodes if n.op != "const"]
        except ValueError as exc:
            return ScheduleCheck(False, str(exc).removeprefix("graph: "))
        missing = [n.label for n in required if id(n) not in positions]
        if missing:
            return ScheduleCheck(False, f"missing node{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        for item in order:
            node = self.node(item)
            for child in self._children[id(node)]:
                if id(child) not in positions:
                    return ScheduleCheck(
                        False, f"{node.label} is scheduled but its child {child.label} is not"
                    )
                if positions[id(child)] > positions[id(node)]:
                    return ScheduleCheck(
                        False,
                        f"{node.label} comes before its child {child.label}; "
                        "every node must come after all of its children",
                    )
        return ScheduleCheck(True)

    # ---- adjoints ------------------------------------------------------------------------------------
    def backward(self) -> list[Tensor]:
        """Run ``output.backward()``; keep and return the schedule used (output first)."""
        self.schedule = self.output.backward()
        return self.schedule

    def adjoints(self) -> dict[str, np.ndarray]:
        """``{label: t_label}`` for every node, running backward first if it has not run."""
        if self.schedule is None:
            self.backward()
        return {n.label: n.grad for n in self.nodes}  # type: ignore[misc]

    def describe(self) -> list[dict[str, object]]:
        """One row per node, output first: label, op, value, parents, children, adjoint (None before backward)."""
        return [
            {
                "label": n.label,
                "op": n.op,
                "value": n.value,
                "parents": [p.label for p in self.parents(n)],
                "children": [c.label for c in self.direct_children(n)],
                "adjoint": n.grad if self.schedule is not None else None,
            }
            for n in self.nodes
        ]


# ---- ties of max and min nodes --------------------------------------------------------------------------------
SELECT_OPS: dict[str, str] = {"maximum": "max", "minimum": "min"}
"""Engine op -> the function a formula writes: the nodes whose adjoint follows a tie rule. When the two arguments
are equal, :func:`grader.engine.activations.maximum` (and ``minimum``) give the whole adjoint to the FIRST one, a
convention like max pooling's: a key must not rest on it."""

SPLIT_LOW, SPLIT_HIGH = 0.25, 0.75
"""A split gives each tied entry's adjoint to the first argument with a weight drawn uniformly from
[SPLIT_LOW, SPLIT_HIGH), the rest to the second."""


@dataclass(frozen=True)
class SelectTie:
    """A max or min node whose two arguments are equal (up to a tolerance) at some of its entries.

    Attributes:
        node: the node (op ``maximum`` or ``minimum``, see :data:`SELECT_OPS`).
        tied: bool array shaped like the node: where the two arguments are equal.
        index: the first tied entry that receives a non-zero adjoint, else the first tied entry (() for a scalar).
        first, second: the two arguments' values at ``index``.
        receiving: whether some tied entry received a non-zero adjoint in the backward pass it was found after.
    """

    node: Tensor
    tied: np.ndarray
    index: tuple[int, ...]
    first: float
    second: float
    receiving: bool

    @property
    def function(self) -> str:
        """``max`` or ``min``, as a formula writes it."""
        return SELECT_OPS[self.node.op]

    @property
    def engine_first(self) -> bool:
        """Whether the engine gives the adjoint at :attr:`index` to the first argument (max: first >= second; min:
        first <= second): rounding may leave a tied second argument strictly ahead."""
        return self.first >= self.second if self.node.op == "maximum" else self.first <= self.second

    @staticmethod
    def argument(node: Tensor) -> str:
        """An argument of a max/min node as a message names it: its name, number or expression (``w * x``)."""
        return _text(node, 3, top=True)

    def where(self, named: frozenset[str] | None = None) -> str:
        """The node as an author wrote it: ``node m = max(a, b)`` when it has a chosen name (``named``: the chosen
        labels, None: every name counts), else its expression, ``max(a, b)``."""
        text = f"{self.function}({', '.join(self.argument(p) for p in self.node.parents)})"
        name = self.node.name
        if name is not None and (named is None or name in named) and name != text:
            return f"node {name} = {text}"
        return text

    def arguments_text(self) -> str:
        """``a = 2 and b = 2`` (the arguments' expressions and their values at :attr:`index`)."""
        first, second = (self.argument(p) for p in self.node.parents)
        entry = f" at entry {list(self.index)}" if self.index else ""
        return f"{first} = {number_text(self.first)} and {second} = {number_text(self.second)}{entry}"


_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def _text(node: Tensor, depth: int, *, top: bool = False) -> str:
    """A node as formula text for a message: its name, a constant's number, or its op over its parents' text (at
    most ``depth`` levels, then ``...``). ``top``: no parentheses around an operator's result."""
    if node.name is not None:
        return node.name
    if node.op == "const" and node.value.size == 1:
        return number_text(float(node.value.reshape(())))
    if depth <= 0 or not node.parents:
        return "..."
    args = [_text(parent, depth - 1) for parent in node.parents]
    if node.op in _INFIX and len(args) == 2:
        text = f"{args[0]} {_INFIX[node.op]} {args[1]}"
        return text if top else f"({text})"
    if node.op == "neg" and len(args) == 1:
        return f"-{args[0]}"
    return f"{SELECT_OPS.get(node.op, node.op)}({', '.join(args)})"


def select_ties(nodes: Iterable[Tensor], *, rtol: float, atol: float) -> list[SelectTie]:
    """The max/min nodes among ``nodes`` whose two arguments are equal somewhere: ``|a - b| <= atol + rtol *
    max(|a|, |b|)`` (rounding must not decide which argument wins). Read after a backward pass, ``receiving`` says
    whether a tied entry got a non-zero adjoint. One scan of each max/min node; nothing for other nodes."""
    found: list[SelectTie] = []
    for node in nodes:
        if node.op not in SELECT_OPS or len(node.parents) != 2:
            continue
        first, second = np.broadcast_arrays(node.parents[0].value, node.parents[1].value)
        tied = np.abs(first - second) <= atol + rtol * np.maximum(np.abs(first), np.abs(second))
        if not tied.any():
            continue
        adjoint = node.grad if node.grad is not None and node.grad.shape == tied.shape else np.zeros(tied.shape)
        receiving = tied & (adjoint != 0)
        at = tuple(int(i) for i in np.argwhere(receiving if receiving.any() else tied)[0])
        found.append(SelectTie(node, tied.copy(), at, float(first[at]), float(second[at]), bool(receiving.any())))
    return found


@dataclass(frozen=True)
class TieRuleDependence:
    """How an adjoint depends on the tie rule of max/min nodes (what :func:`tie_rule_dependence` found).

    Attributes:
        tie: the tied node to name: one whose tie alone changes ``target``'s adjoint when ``alone``, else the
            first tied node receiving adjoint.
        alone: whether giving ``tie``'s tied adjoint to its second argument instead (every other node keeping the
            rule) changes the adjoint; False: only rerouting several tied nodes together does.
        target: the node whose adjoint changes.
        index: the entry of ``target``'s adjoint that changes (() for a scalar).
        by_rule: that entry by the tie rule.
        otherwise: that entry when ``tie``'s adjoint goes to the second argument (``alone``), else under a split.
        ties: how many max/min nodes have tied arguments.
        to_first: where the engine sent ``tie``'s adjoint at its entry (the first argument, or the second when
            rounding left the second strictly ahead); when ``alone``, ``otherwise`` is the key with it sent to the
            other argument.
        with_pools: whether the change found needed the max-pooling tie splits of ``also`` too (not ``alone``).
    """

    tie: SelectTie
    alone: bool
    target: Tensor
    index: tuple[int, ...]
    by_rule: float
    otherwise: float
    ties: int
    to_first: bool = True
    with_pools: bool = False


def _shared_vjp(tie: SelectTie, share: np.ndarray) -> VJP:
    """A VJP for ``tie.node`` that gives, at each tied entry, the fraction ``share`` (shaped like the node) of the
    adjoint to the first argument and the rest to the second; elsewhere it routes as the node's own VJP does."""
    x, y = tie.node.parents
    first, second = np.broadcast_arrays(x.value, y.value)
    first_wins = first >= second if tie.node.op == "maximum" else first <= second

    def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        to_first = np.where(tie.tied, g * share, np.where(first_wins, g, 0.0))
        return unbroadcast(to_first, x.shape), unbroadcast(g - to_first, y.shape)

    return vjp


@contextmanager
def _rerouted(routes: Sequence[tuple[SelectTie, np.ndarray]]) -> Iterator[None]:
    """Inside the block, each tied node's VJP splits its tied entries' adjoints by its share (see
    :func:`_shared_vjp`); the nodes' own VJPs are put back on leaving, whatever happens."""
    saved = [(tie.node, tie.node._vjp) for tie, _ in routes]
    try:
        for tie, share in routes:
            tie.node._vjp = _shared_vjp(tie, share)
        yield
    finally:
        for node, vjp in saved:
            node._vjp = vjp


def tie_rule_dependence(
    root: Tensor, targets: Sequence[Tensor], ties: Sequence[SelectTie], *, seed: np.ndarray | None = None,
    also: Callable[[int], AbstractContextManager[object]] | None = None, rtol: float, atol: float,
) -> TieRuleDependence | None:
    """Whether the adjoints of ``targets`` depend on the tie rule of the tied max/min nodes ``ties``
    (:func:`select_ties` of the graph under ``root``), after ``root.backward(seed)`` has run (so the targets'
    ``.grad`` hold the rule's adjoints). None when they do not; the ``.grad`` values are left as the rule gives them.

    Reverse mode is linear in the adjoints: with one tied node, giving a tied entry's adjoint g to the second
    argument instead of the first changes each target's adjoint by g * (d second - d first), and a split with weight
    p changes it by (1 - p) times that, so a split changes it exactly when the other choice does. With stacked tied
    nodes the adjoints are multilinear in the splits, which are drawn at random: a change that some routing makes is
    seen, but for a set of weights of measure zero. So two split passes (two fixed seeds) decide; then each tied
    node (up to :data:`NAMED_CANDIDATES`) is given to its second argument alone, then to its first, to name one
    whose tie alone matters. ``max(a, a)``, or a tie whose adjoint is 0 whatever the routing, is fine.

    ``also(split_seed)``, when given, is a context (e.g. a max-pooling tie audit that splits tied windows) that
    two more split passes run inside when the plain ones find nothing: a max/min tie and a max-pooling tie that
    change the key only together are seen too (``with_pools`` in the result).
    """
    if not ties or not targets:
        return None
    rule = [np.array(target.grad, dtype=np.float64, copy=True) for target in targets]

    def changed(
        routes: Sequence[tuple[SelectTie, np.ndarray]], split_seed: int | None = None,
    ) -> tuple[int, tuple[int, ...], float, float] | None:
        extra = also(split_seed) if also is not None and split_seed is not None else nullcontext()
        with _rerouted(routes), extra:
            root.backward(seed)
        for k, (target, base) in enumerate(zip(targets, rule, strict=True)):
            other = np.asarray(target.grad, dtype=np.float64)
            where = np.argwhere(differs(other, base, rtol, atol))
            if len(where):  # (a 0-d array gives one row of no columns)
                index = tuple(int(i) for i in where[0])
                return k, index, float(base[index]), float(other[index])
        return None

    try:
        found, with_pools = None, False
        for pools in (False, True) if also is not None else (False,):
            for split_seed in SPLIT_SEEDS:
                rng = np.random.default_rng(split_seed)
                shares = [(tie, rng.uniform(SPLIT_LOW, SPLIT_HIGH, size=tie.tied.shape)) for tie in ties]
                found = changed(shares, split_seed if pools else None)
                if found is not None:
                    break
            if found is not None:
                with_pools = pools
                break
        if found is None:
            return None
        if not with_pools:
            for tie in ties[:NAMED_CANDIDATES]:
                for share in (0.0, 1.0):  # all to the second argument, then all to the first
                    alone = changed([(tie, np.full(tie.tied.shape, share))])
                    if alone is not None:
                        k, index, by_rule, otherwise = alone
                        return TieRuleDependence(
                            tie, True, targets[k], index, by_rule, otherwise, len(ties), to_first=share == 0.0,
                        )
        k, index, by_rule, otherwise = found
        first = next((tie for tie in ties if tie.receiving), ties[0])
        return TieRuleDependence(
            first, False, targets[k], index, by_rule, otherwise, len(ties), to_first=first.engine_first,
            with_pools=with_pools,
        )
    finally:
        root.backward(seed)  # the nodes' .grad as the tie rule gives them, as after any backward pass


# ---- kinks of relu and abs: the derivative at 0 ---------------------------------------------------------------
KINK_CONVENTIONS: dict[str, tuple[float, ...]] = {"relu": (0.0, 1.0), "abs": (0.0, 1.0, -1.0)}
"""Engine op -> the derivatives at 0 a key could be computed with: the engine's first (0, as in PyTorch and
TensorFlow, see :func:`grader.engine.activations.relu`), then the one-sided derivatives. relu and abs have no
derivative at 0, so which of these a backward pass uses there is a convention: a key must not rest on it."""

KINK_SPLIT: dict[str, tuple[float, float]] = {"relu": (0.25, 0.75), "abs": (-0.5, 0.5)}
"""A split pass gives each entry at 0 a derivative drawn uniformly from this range: a random convex combination of
the one-sided derivatives (0 and 1 for relu, -1 and +1 for abs) that differs from the engine's (for an entry at
exactly 0) but for a set of measure zero."""

NAMED_ENTRIES = 16
"""How many entries at 0 of a relu/abs node are tried, one at a time, to name one whose derivative alone matters."""


@dataclass(frozen=True)
class Kink:
    """A relu or abs node whose input is 0 (up to a tolerance) at some of its entries, where it has no derivative.

    Attributes:
        node: the node (op ``relu`` or ``abs``, see :data:`KINK_CONVENTIONS`).
        at: bool array shaped like the node's input: where it is 0.
        rule: the derivative the engine uses, shaped like the input (relu: 1 where the input is > 0, else 0; abs:
            its sign, 0 at 0).
        index: the first entry at 0 that receives a non-zero adjoint, else the first entry at 0 (() for a scalar).
        value: the input at ``index`` (0, or a rounding error such as 1e-17).
        receiving_at: bool array shaped like the input: the entries at 0 that received a non-zero adjoint in the
            backward pass the kink was found after.
    """

    node: Tensor
    at: np.ndarray
    rule: np.ndarray
    index: tuple[int, ...]
    value: float
    receiving_at: np.ndarray

    @property
    def receiving(self) -> bool:
        """Whether some entry at 0 received a non-zero adjoint (see :attr:`receiving_at`)."""
        return bool(self.receiving_at.any())

    @property
    def function(self) -> str:
        """``relu`` or ``abs``, as a formula writes it."""
        return self.node.op

    @property
    def conventions(self) -> tuple[float, ...]:
        """The derivatives at 0 a key could be computed with, the engine's (0) first."""
        return KINK_CONVENTIONS[self.node.op]

    @property
    def argument(self) -> str:
        """The node's input as a message names it: its name or expression (``a - 0.7``, ``conv2d(x, w)``)."""
        return _text(self.node.parents[0], 3, top=True)

    def where(self, named: frozenset[str] | None = None) -> str:
        """``node p = relu(a - 0.7)`` when the node has a chosen name (``named``: the chosen labels, None: every
        name counts), else its expression, ``relu(a - 0.7)``."""
        text = f"{self.function}({self.argument})"
        name = self.node.name
        if name is not None and (named is None or name in named) and name != text:
            return f"node {name} = {text}"
        return text

    def derivative(self, at_zero: float | np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """The node's derivative with ``at_zero`` (a number, or an array shaped like the input) at its entries at 0
        (only those in ``where`` when given), the engine's elsewhere."""
        chosen = self.at if where is None else self.at & where
        return np.where(chosen, at_zero, self.rule)


def _rounding_scale(x: Tensor) -> np.ndarray | float:
    """The size of the numbers the op that made ``x`` combined: ``max(|operands|)``, entry by entry when the
    operands broadcast to ``x``'s shape (``a - b``), else their largest entry (a sum, a product of matrices). 0
    for an input or constant: it holds its value exactly."""
    if not x.parents:
        return 0.0
    values = [np.abs(np.asarray(parent.value, dtype=np.float64)) for parent in x.parents]
    try:
        shaped = np.broadcast_arrays(*values, np.empty(x.value.shape))[:-1]
    except ValueError:
        shaped = []
    if shaped and all(v.shape == x.value.shape for v in shaped):
        return np.maximum.reduce(shaped) if len(shaped) > 1 else shaped[0]
    return max(float(v.max(initial=0.0)) for v in values)


REARRANGING_OPS = frozenset({"reshape", "index", "stack", "transpose", "pad", "flip", "shift", "crop"})
"""Ops that only move entries (and add zeros): each entry keeps the error it had, and nothing is rounded."""


def _carried(derivative: np.ndarray, error: np.ndarray) -> np.ndarray:
    """``|derivative| * error``, 0 where the error is 0 (an exact operand: no 0 * inf from a slope at 0 or a
    division by an underflowed square)."""
    return np.where(error > 0, np.abs(derivative) * error, 0.0)


def _error_units_of_op(node: Tensor, errors: list[np.ndarray]) -> np.ndarray:
    """:func:`rounding_error_units` of ``node`` from its parents' (``errors``, one per parent, in the parent's
    shape): the parents' errors carried through the op to first order (each times the op's slope), plus the op's
    own rounding (its result's size; for a sum, convolution or product of matrices, the size of the terms it adds,
    times how many each entry adds)."""
    value = np.abs(node.value)
    values = [np.asarray(parent.value, dtype=np.float64) for parent in node.parents]
    op = node.op
    with np.errstate(all="ignore"):
        if op in ("add", "sub"):
            total = errors[0] + errors[1] + value
        elif op == "mul":
            total = _carried(values[1], errors[0]) + _carried(values[0], errors[1]) + value
        elif op == "div":
            total = _carried(1 / values[1], errors[0]) + _carried(values[0] / values[1] ** 2, errors[1]) + value
        elif op == "square":
            total = _carried(2 * values[0], errors[0]) + value
        elif op == "pow":
            base, exponent = values
            total = _carried(exponent * base ** (exponent - 1), errors[0]) + _carried(node.value * np.log(np.abs(base)), errors[1]) + value
        elif op == "exp":
            total = _carried(node.value, errors[0]) + value
        elif op == "log":
            total = _carried(1 / values[0], errors[0]) + value
        elif op == "sigmoid":
            total = _carried(node.value * (1 - node.value), errors[0]) + value
        elif op == "tanh":
            total = _carried(1 - node.value**2, errors[0]) + value
        elif op == "sin":
            total = _carried(np.cos(values[0]), errors[0]) + value
        elif op == "cos":
            total = _carried(np.sin(values[0]), errors[0]) + value
        elif op in ("neg", "relu", "abs", "floor", "ceil"):
            total = errors[0]  # exact; at most as much change as the argument's
        elif op in ("maximum", "minimum"):
            total = np.maximum(errors[0], errors[1])
        elif op in REARRANGING_OPS:
            total = np.asarray(max((float(e.max(initial=0.0)) for e in errors), default=0.0))
        else:  # a sum, convolution, product of matrices, pool, softmax, loss: each entry adds up to `terms` terms
            terms = max(1.0, max(v.size for v in values) / max(1, node.value.size))
            sizes = [float(np.abs(v).max(initial=0.0)) for v in values]
            largest = [float(e.max(initial=0.0)) for e in errors]
            others = [float(np.prod([size for j, size in enumerate(sizes) if j != i])) if len(sizes) > 1 else 1.0 for i in range(len(sizes))]
            carried = sum(error * factor for error, factor in zip(largest, others, strict=True))
            total = terms * (carried + float(np.prod(sizes))) + value
        total = np.broadcast_to(total, value.shape)
    return np.where(np.isfinite(total), total, np.inf)


def rounding_error_units(x: Tensor) -> np.ndarray:
    """Per entry of ``x`` (its shape): an estimate of the rounding error it carries, in units of float64's relative
    precision (multiply by 2.2e-16): 0 for an input or constant (exact), else its parents' errors carried through
    the op to first order, plus the op's own rounding (see :func:`_error_units_of_op`).

    s = (a + b) - c of 3333.3, 6666.6 and 9999.9 is 1.8e-12 where it is 0: its error is about 2e4 units
    (4e-12), so comparing it with 0 is decided by rounding. A softmax written out, exp(z) / sum(exp(z)) with z
    near 20, keeps errors of a few units however large exp(z) is: the division carries relative errors, not sizes
    (the largest number anywhere in the computation had been taken as the error scale, which tied 0.62 with
    1.3e-9). Ops that are not element-wise pass on the largest error of their operands to every entry.
    """
    if not x.parents:
        return np.zeros(x.value.shape)
    errors: dict[int, np.ndarray] = {}
    for node in reversed(reverse_schedule(x)):  # inputs first
        if not node.parents:
            errors[id(node)] = np.zeros(node.value.shape)
            continue
        errors[id(node)] = _error_units_of_op(node, [errors[id(parent)] for parent in node.parents])
    return errors[id(x)]


def kinks(nodes: Iterable[Tensor], *, atol: float, rtol: float | None = None) -> list[Kink]:
    """The relu/abs nodes among ``nodes`` whose input x is 0 somewhere, up to the rounding of the op that made it:
    ``|x| <= atol + rtol * max(|operands|)`` (as :func:`select_ties` compares a max's arguments; see
    :func:`_rounding_scale`), so that rounding does not decide which side of the kink an entry is on. An input or
    constant x is at 0 only where it is exactly 0 (3e-13 typed in a sheet is no rounding error). Read after a
    backward pass, ``receiving`` says whether an entry at 0 got a non-zero adjoint. One scan of each relu/abs node's
    input; nothing for other nodes. Without ``rtol``, the plain absolute test ``|x| <= atol`` for every input (the
    sheet's audits pass ``rtol``)."""
    found: list[Kink] = []
    for node in nodes:
        if node.op not in KINK_CONVENTIONS or len(node.parents) != 1:
            continue
        parent = node.parents[0]
        x = parent.value
        if rtol is None:
            at = np.abs(x) <= atol
        elif not parent.parents:
            at = x == 0
        else:
            at = np.abs(x) <= atol + rtol * _rounding_scale(parent)
        if not at.any():
            continue
        rule = (x > 0).astype(np.float64) if node.op == "relu" else np.sign(x)
        adjoint = node.grad if node.grad is not None and node.grad.shape == at.shape else np.zeros(at.shape)
        receiving = at & (adjoint != 0)
        index = tuple(int(i) for i in np.argwhere(receiving if receiving.any() else at)[0])
        found.append(Kink(node, at, rule, index, float(x[index]), receiving))
    return found


@dataclass(frozen=True)
class KinkDependence:
    """How a key depends on the derivative at 0 of relu/abs nodes (what :func:`kink_dependence` found).

    Attributes:
        kink: the node to name: one whose derivative at 0 alone changes the key when ``alone``, else the first
            node whose entries at 0 receive adjoint.
        alone: whether changing ``kink``'s derivative at 0 alone (every other node keeping the engine's rules)
            changes the key; False: only changing several together (or with a tie rule) does.
        entry: the entry of ``kink``'s input whose derivative alone changes the key, None when no single entry was
            found (all of the node's entries at 0 together do).
        target: the node whose adjoint changes.
        index: the entry of ``target``'s adjoint that changes (() for a scalar).
        values: ``(derivative at 0, that entry of the key)`` for each of ``kink.conventions`` (when ``alone``;
            empty otherwise), the engine's first.
        kinks: how many relu/abs nodes have inputs at 0.
        with_select_ties: whether the change found (not ``alone``) needs the max/min ``ties`` shared too.
        with_pool_ties: whether it needs the max-pooling ties of ``also`` split too.
    """

    kink: Kink
    alone: bool
    entry: tuple[int, ...] | None
    target: Tensor
    index: tuple[int, ...]
    values: tuple[tuple[float, float], ...]
    kinks: int
    with_select_ties: bool = False
    with_pool_ties: bool = False


@contextmanager
def _kinked(routes: Sequence[tuple[Kink, np.ndarray]]) -> Iterator[None]:
    """Inside the block, each relu/abs node's VJP multiplies the adjoint by its route's derivative (shaped like the
    input); the nodes' own VJPs are put back on leaving, whatever happens."""
    saved = [(kink.node, kink.node._vjp) for kink, _ in routes]

    def vjp_with(derivative: np.ndarray) -> VJP:
        return lambda g: (g * derivative,)

    try:
        for kink, derivative in routes:
            kink.node._vjp = vjp_with(derivative)
        yield
    finally:
        for node, vjp in saved:
            node._vjp = vjp


def kink_dependence(
    root: Tensor, targets: Sequence[Tensor], found: Sequence[Kink], *, ties: Sequence[SelectTie] = (),
    also: Callable[[int], AbstractContextManager[object]] | None = None, seed: np.ndarray | None = None,
    rtol: float, atol: float,
) -> KinkDependence | None:
    """Whether the adjoints of ``targets`` depend on the derivative at 0 of the relu/abs nodes ``found``
    (:func:`kinks` of the graph under ``root``), after ``root.backward(seed)`` has run (so the targets' ``.grad``
    hold the engine's adjoints). None when they do not; the ``.grad`` values are left as the engine gives them.

    Reverse mode is linear in each node's derivative: with one node at 0, giving entry e the derivative d instead of
    the engine's d0 changes each target's adjoint by (d - d0) times a coefficient c_e, so a pass giving every entry at
    0 a random derivative in the node's range (:data:`KINK_SPLIT`: a convex combination of the one-sided
    derivatives) changes the key exactly when some one-sided derivative at some entry does (a nonzero linear form
    vanishes at random weights with probability 0). Stacked nodes make the key multilinear in the derivatives, and
    a max pool or a max/min whose tie sends the adjoint past an entry at 0 multiplies in the tie's routing: the
    split passes therefore also split the max/min ``ties`` (as :func:`tie_rule_dependence` does) and run inside
    ``also(split_seed)`` (e.g. a max-pooling tie audit that splits tied windows), so that a key that only changes
    when both conventions change is seen too. Two split passes (two fixed seeds, :data:`SPLIT_SEEDS`) decide; then
    each node (up to :data:`NAMED_CANDIDATES`) is given each one-sided derivative at its entries at 0, alone, and
    then its entries one at a time (up to :data:`NAMED_ENTRIES`), to name a node and an entry and show the key under
    each convention. A node at 0 receiving no adjoint, or not reaching the targets, is fine.
    """
    if not found or not targets:
        return None
    rule = [np.array(target.grad, dtype=np.float64, copy=True) for target in targets]

    def run(routes: Sequence[tuple[Kink, np.ndarray]], shares: Sequence[tuple[SelectTie, np.ndarray]] = (),
            split_seed: int | None = None) -> list[np.ndarray]:
        extra = also(split_seed) if also is not None and split_seed is not None else nullcontext()
        with _kinked(routes), _rerouted(shares), extra:
            root.backward(seed)
        return [np.array(target.grad, dtype=np.float64, copy=True) for target in targets]

    def first_change(adjoints: Sequence[np.ndarray]) -> tuple[int, tuple[int, ...]] | None:
        for k, (other, base) in enumerate(zip(adjoints, rule, strict=True)):
            where = np.argwhere(differs(other, base, rtol, atol))
            if len(where):  # (a 0-d array gives one row of no columns)
                return k, tuple(int(i) for i in where[0])
        return None

    def conventions(kink: Kink, where: np.ndarray | None) -> tuple[tuple[int, tuple[int, ...]] | None, list[list[np.ndarray]]]:
        results = [run([(kink, kink.derivative(c, where))]) for c in kink.conventions]
        for adjoints in results:
            change = first_change(adjoints)
            if change is not None:
                return change, results
        return None, results

    def entries(kink: Kink) -> list[np.ndarray]:
        """Masks of single entries at 0 to try, those receiving adjoint first (at most NAMED_ENTRIES)."""
        at, receiving = kink.at, kink.receiving_at
        masks: list[np.ndarray] = []
        for candidate in [*np.argwhere(receiving), *np.argwhere(at & ~receiving)][:NAMED_ENTRIES]:
            one = np.zeros(at.shape, dtype=bool)
            one[tuple(candidate)] = True
            masks.append(one)
        return masks

    try:
        found_change: tuple[int, tuple[int, ...]] | None = None
        derivatives: list[np.ndarray] = []
        shares: list[tuple[SelectTie, np.ndarray]] = []
        used_seed = SPLIT_SEEDS[0]
        for split_seed in SPLIT_SEEDS:
            rng = np.random.default_rng(split_seed)
            derivatives = [rng.uniform(*KINK_SPLIT[k.function], size=k.at.shape) for k in found]
            shares = [(tie, rng.uniform(SPLIT_LOW, SPLIT_HIGH, size=tie.tied.shape)) for tie in ties]
            routes = [(k, k.derivative(d)) for k, d in zip(found, derivatives, strict=True)]
            found_change = first_change(run(routes, shares, split_seed))
            used_seed = split_seed
            if found_change is not None:
                break
        if found_change is None:
            return None
        def needed(routes: Sequence[tuple[Kink, np.ndarray]]) -> tuple[bool, bool]:
            """Which tie kinds the change made by ``routes`` with the split ties needs: (max/min, max pooling)."""
            if first_change(run(routes)) is not None:
                return False, False
            if shares and first_change(run(routes, shares)) is not None:
                return True, False
            if also is not None and first_change(run(routes, (), used_seed)) is not None:
                return False, True
            return bool(shares), also is not None

        for kink in found[:NAMED_CANDIDATES]:
            change, results = conventions(kink, None)
            if change is None and not kink.receiving:
                continue
            # (all its entries at once may cancel out, 2 - 2, where one entry alone does not: try them even then)
            entry: tuple[int, ...] | None = None
            for one in entries(kink):
                single, single_results = conventions(kink, one)
                if single is not None:
                    entry, change, results = tuple(int(i) for i in np.argwhere(one)[0]), single, single_results
                    break
            if change is None:
                continue
            k, index = change
            values = tuple((c, float(adjoints[k][index])) for c, adjoints in zip(kink.conventions, results, strict=True))
            return KinkDependence(kink, True, entry, targets[k], index, values, len(found))
        # No node alone: its derivative matters only with another node's, or with a tie's routing. Name an entry
        # whose random derivative, with the same split of the ties, changes the key.
        for kink, derivative in list(zip(found, derivatives, strict=True))[:NAMED_CANDIDATES]:
            for one in entries(kink):
                change = first_change(run([(kink, kink.derivative(derivative, one))], shares, used_seed))
                if change is not None:
                    k, index = change
                    entry = tuple(int(i) for i in np.argwhere(one)[0])
                    select, pool = needed([(kink, kink.derivative(derivative, one))])
                    return KinkDependence(kink, False, entry, targets[k], index, (), len(found), select, pool)
        k, index = found_change
        first = next((kink for kink in found if kink.receiving), found[0])
        select, pool = needed([(kink, kink.derivative(d)) for kink, d in zip(found, derivatives, strict=True)])
        return KinkDependence(first, False, None, targets[k], index, (), len(found), select, pool)
    finally:
        root.backward(seed)  # the nodes' .grad as the engine gives them, as after any backward pass
