"""A sheet's ``graph`` op: its output is the node no other node uses (the sink), whatever the order the nodes are
written in; several sinks need ``output:``; an adjoint asked of an input no node uses says so.

Keys are checked against an independent computation: the derivatives of ``L = (w x + b)^2`` written out by hand
in the test (d/dw = 2 (w x + b) x), never against numbers the engine printed. The sheets are real YAML files in
``tmp_path`` and run through the real command line (``grader.cli.main``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.engine import FormulaError, parse_named_graph

from .conftest import Grader, line_of, write

ORDER_SHEET = """\
id: graph-order
exercises:
  - id: ex
    inputs:
      w: {value: 0.5, random: {dist: normal}}
      x: {value: 2.0, random: {dist: normal}}
      b: {value: -0.25, random: {dist: normal}}
    quantities:
      G:
        op: graph
        nodes:
          NODES
        inputs: {w: $w, x: $x, b: $b}
    parts:
      - {id: dLdw, prompt: t_w, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: w}}
      - {id: dLdb, prompt: t_b, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: b}}
      - {id: value, prompt: L, points: 1, answer: {type: number}, expected: {op: graph_output, graph: $G}}
      - {id: sched, prompt: schedule, points: 1, answer: {type: schedule}, expected: {op: schedule, graph: $G, wrt: [w]}}
"""


def _solve(grader: Grader, path: Path, seed: int | None) -> dict:  # type: ignore[type-arg]
    run = grader("solve", path, "--format", "json", *([] if seed is None else ["--seed", str(seed)]))
    assert run.code == 0, run.err
    return json.loads(run.out)["ex"]


def _inputs(grader: Grader, path: Path, seed: int | None) -> dict[str, float]:
    run = grader("data", path, *([] if seed is None else ["--seed", str(seed)]))
    assert run.code == 0, run.err
    return {name: float(value) for name, value in json.loads(run.out)["inputs"]["ex"].items()}


@pytest.mark.parametrize("nodes", ["L: z*z\n          z: w*x + b", "z: w*x + b\n          L: z*z"])
@pytest.mark.parametrize("seed", [None, 3, 17])
def test_the_output_is_the_sink_whatever_the_order(grader: Grader, tmp_path: Path, nodes: str, seed: int | None) -> None:
    path = write(tmp_path, ORDER_SHEET.replace("NODES", nodes))
    assert grader("validate", path).code == 0
    key, given = _solve(grader, path, seed), _inputs(grader, path, seed)
    w, x, b = given["w"], given["x"], given["b"]
    z = w * x + b
    assert key["value"] == pytest.approx(z * z, rel=1e-12)  # L, not z
    assert key["dLdw"] == pytest.approx(2 * z * x, rel=1e-12)  # dL/dw, not dz/dw = x
    assert key["dLdb"] == pytest.approx(2 * z, rel=1e-12)
    assert key["sched"] == ["L", "z", "w"]


TWO_SINKS = """\
id: two-sinks
exercises:
  - id: ex
    inputs:
      a: {value: 0.7}
      b: {value: -1.3}
    quantities:
      G: {op: graph, nodes: NODES, inputs: {a: $a, b: $b}OUTPUT}
    parts:
      - {id: p, prompt: t_a, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: a}}
"""


@pytest.mark.parametrize("nodes", ["{p: a*b, q: a+b}", "{q: a+b, p: a*b}"])
def test_several_sinks_without_output_are_refused_at_the_graph(grader: Grader, tmp_path: Path, nodes: str) -> None:
    text = TWO_SINKS.replace("NODES", nodes).replace("OUTPUT", "")
    path = write(tmp_path, text)
    run = grader("validate", path)
    assert run.code == 2, run.err
    (error,) = run.errors
    assert int(error["line"]) == line_of(text, "op: graph") and error["path"] == "exercises[0].quantities.G"
    assert error["code"] == "spec-op-failed"
    message = error["message"]
    assert "2 nodes that no other node uses" in message and "name it with output" in message
    assert "p" in message and "q" in message
    assert grader("solve", path).code == 2


@pytest.mark.parametrize("nodes", ["{p: a*b, q: a+b}", "{q: a+b, p: a*b}"])
@pytest.mark.parametrize(("output", "t_a"), [("p", lambda a, b: b), ("q", lambda a, b: 1.0)])
def test_output_names_the_output_whatever_the_order(
    grader: Grader, tmp_path: Path, nodes: str, output: str, t_a: object
) -> None:
    path = write(tmp_path, TWO_SINKS.replace("NODES", nodes).replace("OUTPUT", f", output: {output}"))
    assert grader("validate", path).code == 0
    assert _solve(grader, path, None)["p"] == pytest.approx(t_a(0.7, -1.3))  # type: ignore[operator]


def test_a_student_graph_keeps_the_last_node_when_several_are_unused() -> None:
    """The answer format's rule (``the last node is the output``) stays for students; the sheet is strict."""
    assert parse_named_graph({"q": "a+b", "p": "a*b"}, inputs=["a", "b"]).output == "p"
    assert parse_named_graph({"L": "z*z", "z": "w*x + b"}, inputs=["w", "x", "b"]).output == "L"
    with pytest.raises(FormulaError, match="name it with output"):
        parse_named_graph({"q": "a+b", "p": "a*b"}, inputs=["a", "b"], strict_output=True)


UNUSED_INPUT = (
    TWO_SINKS.replace("id: two-sinks", "id: unused-input").replace("prompt: t_a", "prompt: t_b").replace("node: a}", "node: b}")
)
"""The same sheet, asking for t_b."""


def test_the_adjoint_of_an_input_no_node_uses_says_so(grader: Grader, tmp_path: Path) -> None:
    text = UNUSED_INPUT.replace("NODES", "{p: a*2}").replace("OUTPUT", "")
    run = grader("validate", write(tmp_path, text))
    (error,) = run.errors
    assert int(error["line"]) == line_of(text, "id: p") and error["path"] == "exercises[0].parts[0].expected"
    message = error["message"]
    assert "'b' is an input no node uses (its adjoint would be 0)" in message
    assert message.endswith("the nodes of the graph are: a, p")  # named nodes only: not the constant 2
    assert "no node named" not in message


def test_the_adjoint_of_an_input_only_an_unneeded_node_uses_says_so(grader: Grader, tmp_path: Path) -> None:
    text = UNUSED_INPUT.replace("NODES", "{p: a*2, q: b*3}").replace("OUTPUT", ", output: p")
    (error,) = grader("validate", write(tmp_path, text)).errors
    assert "'b' is an input only q uses, which the output p does not depend on (its adjoint would be 0)" in error["message"]


def test_an_unknown_node_lists_the_named_nodes_only(grader: Grader, tmp_path: Path) -> None:
    text = UNUSED_INPUT.replace("NODES", "{p: a*2 + b}").replace("OUTPUT", "").replace("node: b}", "node: c}")
    (error,) = grader("validate", write(tmp_path, text)).errors
    assert error["message"].endswith("no node named 'c'; the nodes are: a, b, p")
