"""Graph: the sheet's Exercise 4 children and schedules, and schedules on random DAGs against an independent checker."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine.activations import sin
from grader.engine.graph import Graph
from grader.engine.tensor import Tensor, add, mul, square


def sheet_graph(x1: float = 0.3, x2: float = -1.2, theta: float = 0.7) -> Graph:
    """The sheet's Eq. 9, built op by op with the sheet's names."""
    x1_, x2_, theta_ = Tensor(x1, name="x1"), Tensor(x2, name="x2"), Tensor(theta, name="theta")
    f1 = mul(x1_, theta_).named("f1")
    f2 = add(f1, x2_).named("f2")
    f3 = sin(f2).named("f3")
    f4 = square(x2_).named("f4")
    f5 = mul(theta_, f4).named("f5")
    f6 = add(f3, f5).named("f6")
    return Graph(f6)


def labels(nodes: list[Tensor]) -> set[str]:
    return {n.label for n in nodes}


def test_children_of_theta_are_the_sheets_step_1() -> None:
    graph = sheet_graph()
    assert labels(graph.children_of("theta")) == {"f1", "f2", "f3", "f5", "f6"}
    assert labels(graph.children_of("x1")) == {"f1", "f2", "f3", "f6"}
    assert labels(graph.children_of("x2")) == {"f2", "f3", "f4", "f5", "f6"}
    assert graph.children_of("f6") == []


def test_direct_children_and_parents() -> None:
    graph = sheet_graph()
    assert labels(graph.direct_children("theta")) == {"f1", "f5"}
    assert labels(graph.direct_children("x2")) == {"f2", "f4"}
    assert labels(graph.direct_children("f4")) == {"f5"}
    assert [p.label for p in graph.parents("f5")] == ["theta", "f4"]
    assert graph.parents("x1") == []


def test_the_sheets_two_schedules_are_accepted() -> None:
    graph = sheet_graph()
    assert graph.check_reverse_schedule(["f6", "f3", "f2", "f1", "f5", "theta"], wrt=["theta"])
    assert graph.check_reverse_schedule(["f6", "f3", "f2", "f1", "x1", "f5", "theta", "f4", "x2"])
    assert graph.check_reverse_schedule(graph.labels)  # the engine's own


@pytest.mark.parametrize(
    ("order", "wrt", "reason"),
    [
        (["f3", "f6", "f2", "f1", "f5", "theta"], ["theta"], "f6 is scheduled but|f3 comes before its child f6"),
        (["f6", "f3", "f2", "f1", "theta", "f5"], ["theta"], "theta comes before its child f5"),
        (["f6", "f3", "f2", "f1", "theta"], ["theta"], "theta is scheduled but its child f5 is not"),
        (["f6", "f3", "f2", "f1", "f5"], ["theta"], "missing node: theta"),
        (["f6", "f3", "f2", "f2", "f1", "f5", "theta"], ["theta"], "f2 appears twice"),
        (["f6", "f3", "f2", "f1", "f5", "tehta"], ["theta"], "no node named 'tehta'"),
        (["f6", "f3", "f2", "f1", "x1", "f5", "theta", "f4"], [], "missing node: x2"),
        (["f6", "f3", "f2", "f1", "x1", "f5", "theta", "x2", "f4"], [], "x2 comes before its child f4"),
    ],
)
def test_invalid_schedules_are_rejected_with_a_reason(order: list[str], wrt: list[str], reason: str) -> None:
    check = sheet_graph().check_reverse_schedule(order, wrt=wrt)
    assert not check.ok and not check
    assert any(part in check.reason for part in reason.split("|")), check.reason


def test_unknown_wrt_is_a_reason_not_an_exception() -> None:
    check = sheet_graph().check_reverse_schedule(["f6"], wrt=["x9"])
    assert not check and "no node named 'x9'" in check.reason


def test_adjoints_are_the_sheets_t_values() -> None:
    x1, x2, theta = 0.3, -1.2, 0.7
    graph = sheet_graph(x1, x2, theta)
    t = graph.adjoints()
    c = np.cos(theta * x1 + x2)
    assert float(t["theta"]) == pytest.approx(x1 * c + x2**2)
    assert float(t["x2"]) == pytest.approx(c + 2 * theta * x2)
    assert [row["label"] for row in graph.describe()] == graph.labels


def test_lookup_errors_list_the_nodes() -> None:
    graph = sheet_graph()
    with pytest.raises(ValueError, match="no node named 'f9'; the nodes are: f1, f2"):
        graph.node("f9")
    with pytest.raises(ValueError, match="is not part of this graph"):
        graph.node(Tensor(1.0, name="stranger"))


def test_two_nodes_with_one_name_are_refused() -> None:
    a, b = Tensor(1.0, name="a"), Tensor(2.0, name="a")
    with pytest.raises(ValueError, match="two different nodes are both labelled 'a'"):
        Graph(a + b)


def test_constants_need_not_be_scheduled() -> None:
    x = Tensor(2.0, name="x")
    f = (x**2).named("f")  # the exponent 2 is a constant leaf
    graph = Graph(f)
    assert len(graph.nodes) == 3
    assert graph.check_reverse_schedule(["f", "x"])


# ---- random DAGs ----------------------------------------------------------------------------------------
@st.composite
def random_dags(draw: st.DrawFn) -> Graph:
    """Leaves n0..n{k-1}, then op nodes each using one or two earlier nodes; sinks are summed into 'out'."""
    leaves = draw(st.integers(1, 3))
    ops = draw(st.integers(1, 10))
    nodes: list[Tensor] = [Tensor(0.1 * (i + 1), name=f"n{i}") for i in range(leaves)]
    used: set[int] = set()
    for i in range(leaves, leaves + ops):
        first = draw(st.integers(0, i - 1))
        if draw(st.booleans()):
            second = draw(st.integers(0, i - 1))
            node = (add if draw(st.booleans()) else mul)(nodes[first], nodes[second])
            used.update((first, second))
        else:
            node = sin(nodes[first])
            used.add(first)
        nodes.append(node.named(f"n{i}"))
    sinks = [n for i, n in enumerate(nodes) if i not in used]
    out = sinks[0]
    for extra in sinks[1:]:
        out = add(out, extra)
    if out.name is None:
        out.name = "out"
    return Graph(out)


def independent_valid(graph: Graph, order: list[str]) -> bool:
    """Reference check written from the definition: every node exactly once, each after all its consumers."""
    everything = {n.label for n in graph.nodes}
    if len(order) != len(set(order)) or set(order) != everything:
        return False
    position = {label: i for i, label in enumerate(order)}
    for node in graph.nodes:
        for parent in node.parents:  # node consumes parent, so node must come first
            if position[node.label] > position[parent.label]:
                return False
    return True


def random_reverse_topological(graph: Graph, rng: random.Random) -> list[str]:
    """Kahn's algorithm from the output with random tie-breaking: a random valid reverse schedule."""
    consumers = {n.label: {c.label for c in graph.nodes if n in c.parents} for n in graph.nodes}
    remaining = {label: len(c) for label, c in consumers.items()}
    ready = [label for label, count in remaining.items() if count == 0]
    order: list[str] = []
    by_label = {n.label: n for n in graph.nodes}
    while ready:
        label = ready.pop(rng.randrange(len(ready)))
        order.append(label)
        for parent in dict.fromkeys(by_label[label].parents):
            remaining[parent.label] -= 1
            if remaining[parent.label] == 0:
                ready.append(parent.label)
    return order


@settings(max_examples=60, deadline=None)
@given(graph=random_dags())
def test_engine_schedule_is_always_valid(graph: Graph) -> None:
    assert graph.check_reverse_schedule(graph.labels)
    assert independent_valid(graph, graph.labels)
    assert graph.nodes[0] is graph.output


@settings(max_examples=80, deadline=None)
@given(graph=random_dags(), seed=st.integers(0, 2**32 - 1), shuffle=st.booleans())
def test_a_permutation_is_accepted_iff_it_is_a_reversed_topological_order(
    graph: Graph, seed: int, shuffle: bool
) -> None:
    rng = random.Random(seed)
    if shuffle:
        order = graph.labels[:]
        rng.shuffle(order)
    else:
        order = random_reverse_topological(graph, rng)
        assert independent_valid(graph, order)
    assert bool(graph.check_reverse_schedule(order)) == independent_valid(graph, order)
