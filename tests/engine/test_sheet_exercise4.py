"""The week-7 sheet, Exercise 4: reverse-mode autodiff on f = sin(theta x1 + x2) + theta x2^2 with the sheet's
node names; every adjoint t_n equals the sheet's closed form at random points, and the sheet's schedules hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine.formula import parse_formula, parse_named_graph
from grader.engine.tensor import Tensor

SHEET_NODES = [
    ("f1", "x1*theta"),
    ("f2", "f1 + x2"),
    ("f3", "sin(f2)"),
    ("f4", "x2**2"),
    ("f5", "theta*f4"),
    ("f6", "f3 + f5"),
]
INPUTS = ["x1", "x2", "theta"]
values = st.floats(-3.0, 3.0, allow_nan=False)


def sheet_adjoints(x1: float, x2: float, theta: float) -> dict[str, float]:
    """The sheet's printed t_n (solution of Exercise 4a)."""
    c = np.cos(theta * x1 + x2)
    return {
        "f6": 1.0,
        "f3": 1.0,
        "f2": c,
        "f1": c,
        "f5": 1.0,
        "theta": x1 * c + x2**2,
        "x1": theta * c,
        "f4": theta,
        "x2": c + 2 * theta * x2,
    }


@settings(max_examples=60, deadline=None)
@given(x1=values, x2=values, theta=values)
def test_every_adjoint_is_the_sheets_closed_form(x1: float, x2: float, theta: float) -> None:
    graph = parse_named_graph(SHEET_NODES, inputs=INPUTS).build({"x1": x1, "x2": x2, "theta": theta})
    t = graph.adjoints()
    for label, expected in sheet_adjoints(x1, x2, theta).items():
        assert float(t[label]) == pytest.approx(expected, rel=1e-12, abs=1e-12), label
    assert float(graph.output.value) == pytest.approx(np.sin(theta * x1 + x2) + theta * x2**2, rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(x1=values, x2=values, theta=values)
def test_the_single_formula_gives_the_same_derivatives(x1: float, x2: float, theta: float) -> None:
    leaves = {"x1": Tensor(x1, name="x1"), "x2": Tensor(x2, name="x2"), "theta": Tensor(theta, name="theta")}
    parse_formula("sin(theta*x1 + x2) + theta*x2**2").build(leaves).backward()
    expected = sheet_adjoints(x1, x2, theta)
    for name, leaf in leaves.items():
        assert float(leaf.grad) == pytest.approx(expected[name], rel=1e-12, abs=1e-12), name


def test_adjoints_are_vectorized_over_many_points() -> None:
    rng = np.random.default_rng(7)
    x1, x2, theta = rng.normal(size=(3, 50))
    graph = parse_named_graph(SHEET_NODES, inputs=INPUTS).build({"x1": x1, "x2": x2, "theta": theta})
    graph.output.backward(seed=np.ones(50))
    expected = sheet_adjoints(x1, x2, theta)
    for label in ("theta", "x1", "x2", "f2", "f4"):
        np.testing.assert_allclose(graph.node(label).grad, np.broadcast_to(expected[label], (50,)), rtol=1e-12)


def test_step_1_children_of_theta() -> None:
    graph = parse_named_graph(SHEET_NODES, inputs=INPUTS).build({"x1": 0.1, "x2": 0.2, "theta": 0.3})
    assert {n.label for n in graph.children_of("theta")} == {"f1", "f2", "f3", "f5", "f6"}


def test_step_2_the_sheets_schedules_are_valid_and_mistakes_are_not() -> None:
    graph = parse_named_graph(SHEET_NODES, inputs=INPUTS).build({"x1": 0.1, "x2": 0.2, "theta": 0.3})
    assert graph.check_reverse_schedule(["f6", "f3", "f2", "f1", "f5", "theta"], wrt=["theta"])
    assert graph.check_reverse_schedule(["f6", "f3", "f2", "f1", "x1", "f5", "theta", "f4", "x2"])
    assert graph.check_reverse_schedule(graph.labels)
    wrong = graph.check_reverse_schedule(["f6", "f3", "f2", "f1", "x1", "theta", "f5", "f4", "x2"])
    assert not wrong and wrong.reason == (
        "theta comes before its child f5; every node must come after all of its children"
    )
    assert "missing node: x2" in graph.check_reverse_schedule(["f6", "f3", "f2", "f1", "x1", "f5", "theta", "f4"]).reason


def test_backward_uses_a_valid_schedule_starting_at_f6() -> None:
    graph = parse_named_graph(SHEET_NODES, inputs=INPUTS).build({"x1": 0.1, "x2": 0.2, "theta": 0.3})
    schedule = graph.backward()
    assert schedule[0].label == "f6" and float(schedule[0].grad) == 1.0  # step 3: t_{f6} = 1
    assert graph.check_reverse_schedule([n.label for n in schedule])
