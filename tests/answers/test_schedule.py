"""schedule answers, checked against the engine's graph of the sheet's Exercise 4 function."""

from __future__ import annotations

import itertools

import pytest

from grader.answers import AnswerError, CheckContext, ScheduleAnswer, ScheduleReference
from grader.engine.formula import parse_named_graph
from grader.engine.graph import Graph
from grader.result import Status

CTX = CheckContext.from_seed(0)


@pytest.fixture(scope="module")
def graph() -> Graph:
    """f(x1, x2, theta) = sin(theta*x1 + x2) + theta*x2**2 as the sheet's nodes f1..f6 (Eq. 9)."""
    nodes = {"f1": "x1*theta", "f2": "f1 + x2", "f3": "sin(f2)", "f4": "square(x2)", "f5": "theta*f4", "f6": "f3 + f5"}
    named = parse_named_graph(nodes, inputs=["x1", "x2", "theta"])
    return named.build({"x1": 0.3, "x2": -1.2, "theta": 0.7})


@pytest.mark.parametrize(
    "raw",
    ["f6, f3, f2, f1, f5, theta", "f6 f3 f2 f1 f5 theta", "f6 -> f3 -> f2 -> f1 -> f5 -> θ",
     ["f6", "f3", "f2", "f1", "f5", "theta"], "F6, F3, F2, F1, F5, Theta"],
)
def test_the_sheets_schedule_for_theta_in_every_form(graph: Graph, raw: object) -> None:
    answer = ScheduleAnswer(aliases={"θ": "theta"})
    verdict = answer.check(answer.parse(raw), ScheduleReference(graph, ("theta",)), CTX)
    assert verdict.status is Status.correct, verdict.feedback


def test_every_valid_order_is_accepted_and_every_invalid_one_refused(graph: Graph) -> None:
    reference = ScheduleReference(graph, ("theta",))
    nodes = ["f6", "f3", "f2", "f1", "f5", "theta"]
    children = {"theta": {"f1", "f5"}, "f1": {"f2"}, "f2": {"f3"}, "f3": {"f6"}, "f5": {"f6"}, "f6": set()}
    accepted = 0
    for order in itertools.permutations(nodes):
        position = {name: i for i, name in enumerate(order)}
        valid = all(position[c] < position[n] for n in nodes for c in children[n])
        verdict = ScheduleAnswer().check(order, reference, CTX)
        assert (verdict.status is Status.correct) == valid, order
        accepted += valid
    assert accepted > 1  # several valid schedules exist, as the sheet says


def test_whole_graph_schedule(graph: Graph) -> None:
    full = ScheduleReference(graph)
    sheet_order = ScheduleAnswer().parse("f6, f3, f2, f1, x1, f5, theta, f4, x2")
    assert ScheduleAnswer().check(sheet_order, full, CTX).status is Status.correct
    partial = ScheduleAnswer().check(("f6", "f3", "f2", "f1", "f5", "theta"), full, CTX)
    assert partial.status is Status.incorrect and "missing nodes: " in partial.feedback


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        ("f6, f3, f1, f2, f5, theta", "f1 comes before its child f2; every node must come after all of its children"),
        ("f6, f3, f2, f1, theta", "theta is scheduled but its child f5 is not"),
        ("f6, f3, f2, f1, f5", "missing node: theta"),
        ("f6, f3, f2, f1, f5, f5, theta", "f5 appears twice"),
        ("f6, f3, f2, f1, f7, theta", "no node named 'f7'"),
    ],
)
def test_invalid_schedules_say_why(graph: Graph, order: str, reason: str) -> None:
    verdict = ScheduleAnswer().check(ScheduleAnswer().parse(order), ScheduleReference(graph, ("theta",)), CTX)
    assert verdict.status is Status.incorrect and verdict.fraction == 0
    assert reason in verdict.feedback


def test_expected_json_is_the_engines_own_valid_schedule(graph: Graph) -> None:
    reference = ScheduleReference(graph, ("theta",))
    shown = ScheduleAnswer().expected_json(reference)
    assert set(shown) == {"f6", "f3", "f2", "f1", "f5", "theta"}
    assert ScheduleAnswer().check(tuple(shown), reference, CTX).status is Status.correct
    assert ScheduleAnswer().expected_json(ScheduleReference(graph)) == graph.labels


@pytest.mark.parametrize(("raw", "message"), [("", "the schedule is empty"), (3, "got the whole number 3"), ([["f1"]], "item 1 is a list")])
def test_schedule_rejects(raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        ScheduleAnswer().parse(raw)
    assert message in str(caught.value)
