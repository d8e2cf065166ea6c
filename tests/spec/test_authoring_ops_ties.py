"""Ties inside max(a, b) and min(a, b): a key must not rest on the engine's tie rule (the whole adjoint to the
first argument), as for max pooling.

``adjoint``/``adjoints`` of a graph and ``grad`` through a formula refuse an adjoint that changes when a tied
max/min gives its adjoint to the other argument, with one located message naming the node and its equal
arguments; a tie that cannot change the asked adjoint (``max(a, a)``, the adjoint of the max node itself) is fine.
Untied keys are checked against derivatives written out in the test (d max(a, b)/da = 1 where a > b, else 0) and,
when it is installed, against PyTorch. The sheets are real YAML files run through the real command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.engine import Tensor
from grader.quantities import OPS

from .conftest import Grader, graph_sheet, line_of, validate_errors, write

GRAPH = """\
id: graph-ties
exercises:
  - id: ex
    inputs:
      a: {value: A}
      b: {value: B}
    quantities:
      G:
        op: graph
        nodes:
          m: FUNCTION(a, b)
          L: m * 3
        inputs: {a: $a, b: $b}
    parts:
      - {id: ta, prompt: t_a, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: a}}
      - {id: tb, prompt: t_b, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: b}}
      - {id: tm, prompt: t_m, points: 1, answer: {type: number}, expected: {op: adjoint, graph: $G, node: m}}
"""


@pytest.mark.parametrize("function", ["max", "min"])
def test_a_tied_max_or_min_in_a_graph_is_refused_where_the_adjoint_is_asked(
    grader: Grader, tmp_path: Path, function: str
) -> None:
    text = graph_sheet(GRAPH, function, 2, 2)
    errors = validate_errors(grader, write(tmp_path, text))
    assert [e["path"] for e in errors] == ["exercises[0].parts[0].expected", "exercises[0].parts[1].expected"]
    assert [int(e["line"]) for e in errors] == [line_of(text, "id: ta"), line_of(text, "id: tb")]
    for error, name in zip(errors, "ab", strict=True):
        message = error["message"]
        assert error["code"] == "spec-op-failed"
        assert message.startswith(f"adjoint: the adjoint t_{name} depends on {function}'s tie rule: ")
        assert f"node m = {function}(a, b) has equal arguments (a = 2 and b = 2)" in message
        assert "decided by a tie rule" in message and "giving it to the second argument (b) instead changes the key" in message
        assert "dist: normal or uniform" in message
    assert "(t_a is 3 by the tie rule, 0 otherwise)" in errors[0]["message"]
    assert "(t_b is 0 by the tie rule, 3 otherwise)" in errors[1]["message"]


@pytest.mark.parametrize("function", ["max", "min"])
@pytest.mark.parametrize(("a", "b"), [(2.0, -1.5), (-0.5, 0.25)])
def test_untied_keys_are_the_derivatives(grader: Grader, tmp_path: Path, function: str, a: float, b: float) -> None:
    path = write(tmp_path, graph_sheet(GRAPH, function, a, b))
    assert grader("validate", path).code == 0
    run = grader("solve", path, "--format", "json")
    key = json.loads(run.out)["ex"]
    a_wins = a > b if function == "max" else a < b
    assert (key["ta"], key["tb"], key["tm"]) == (3.0 if a_wins else 0.0, 0.0 if a_wins else 3.0, 3.0)


def test_a_tie_that_cannot_change_the_asked_adjoint_is_fine(grader: Grader, tmp_path: Path) -> None:
    text = graph_sheet(GRAPH, "max", 2, 2).replace("max(a, b)", "max(a, a) + b").replace("node: b}}", "node: L}}")
    path = write(tmp_path, text)
    assert grader("validate", path).code == 0, grader("validate", path).err
    key = json.loads(grader("solve", path, "--format", "json").out)["ex"]
    assert (key["ta"], key["tb"], key["tm"]) == (3.0, 1.0, 3.0)  # d/da max(a, a) = 1 by any routing


def test_torch_splits_a_tie_where_the_rule_does_not() -> None:
    """Why the key is refused: another convention (PyTorch's, half to each) gives another adjoint."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the cross-check against it is optional")
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (torch.maximum(a, b) * 3).backward()
    graph = OPS["graph"].fn({"m": "max(a, b)", "L": "m * 3"}, {"a": Tensor(2.0, name="a"), "b": Tensor(2.0, name="b")})
    graph.output.backward()
    assert graph.node("a").grad != pytest.approx(float(a.grad))  # the rule gives 3, torch 1.5
    with pytest.raises(ValueError, match="depends on max's tie rule"):
        OPS["adjoint"].fn(graph, "a")
    with pytest.raises(ValueError, match="depends on max's tie rule"):
        OPS["adjoints"].fn(graph, ["L", "a"])
    assert float(OPS["adjoints"].fn(graph, ["L", "m"])["m"]) == 3.0  # the max node's own adjoint is no tie matter


FORMULA = """\
id: formula-ties
exercises:
  - id: ex
    inputs:
      n: {value: N}
      m: {value: M}
    quantities:
      loss: {op: sum, x: {op: formula, text: "max(n, m) * 3 + n", n: $n, m: $m}}
    parts:
      - {id: g, prompt: dloss/dn, points: 1, answer: {type: array}, expected: {op: grad, of: $loss, wrt: $n}}
"""


def test_grad_through_a_tied_max_of_a_formula_is_refused(grader: Grader, tmp_path: Path) -> None:
    text = FORMULA.replace("N}", "[1.5, 0.5, -2]}").replace("M}", "[0.25, 0.5, 1]}")
    (error,) = validate_errors(grader, write(tmp_path, text))
    assert int(error["line"]) == line_of(text, "id: g") and error["path"] == "exercises[0].parts[0].expected"
    message = error["message"]
    assert message.startswith("grad: the gradient with respect to n depends on max's tie rule: max(n, m) has equal arguments")
    assert "(n = 0.5 and m = 0.5 at entry [1])" in message
    assert "(entry [1] of the gradient is 4 by the tie rule, 1 otherwise)" in message


def test_grad_through_an_untied_max_of_a_formula_is_the_derivative(grader: Grader, tmp_path: Path) -> None:
    n, m = np.array([1.5, 0.25, -2.0]), np.array([0.25, 0.5, 1.0])
    text = FORMULA.replace("N}", f"{n.tolist()}}}").replace("M}", f"{m.tolist()}}}")
    path = write(tmp_path, text)
    assert grader("validate", path).code == 0
    key = json.loads(grader("solve", path, "--format", "json").out)["ex"]["g"]
    expected = [3.0 * (ni > mi) + 1.0 for ni, mi in zip(n, m, strict=True)]  # d/dn (max(n, m) * 3 + n)
    assert key == expected
