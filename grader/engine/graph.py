"""Graph: the computation graph behind one output Tensor, for inspection -- children, schedules, adjoints.

Vocabulary follows the week-7 sheet (Exercise 4): a node's *children* are the nodes computed from it (its
consumers), so the output has none and inputs have the most descendants. A *reverse schedule* lists nodes so
that every node comes after all of its children; ``t_n`` is node n's adjoint d(output)/d(n).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from grader.engine.tensor import Tensor, reverse_schedule


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

    # ---- lookup --------------------------------------------------------------------------------------
    def node(self, label: str | Tensor) -> Tensor:
        """The node with this label (or the node itself); ValueError listing the labels when unknown."""
        if isinstance(label, Tensor):
            if id(label) not in self._children:
                raise ValueError(f"graph: node {label.label!r} is not part of this graph")
            return label
        try:
            return self._by_label[label]
        except KeyError:
            known = ", ".join(sorted(self._by_label))
            raise ValueError(f"graph: no node named {label!r}; the nodes are: {known}") from None

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
