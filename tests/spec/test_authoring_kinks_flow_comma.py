"""A comma inside an unquoted YAML flow mapping ends the value: ``{p: max(a, b), L: p*b}`` reads as ``p: 'max(a'``,
``'b)': null``, ``L: p*b``. Where that leaves a node name, a formula's text or a node's expression with unbalanced
parentheses, the located message says so and how to quote it. Also: a student's graph answer names its output as
its docstring and format hint say (the node no other node uses; with several, the last of them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grader.answers.base import AnswerError
from grader.answers.formula import Domain
from grader.answers.graph_answer import GraphAnswer
from grader.engine import FormulaError, parse_named_graph

from .conftest import ERROR_LINE, Grader, line_of, write

HINT = "a comma inside {...} ends the value in YAML: quote the expression, e.g. p: 'max(a, b)'"

SHEET = """\
id: flow
exercises:
  - id: ex
    inputs:
      a: {value: 2}
      b: {value: 3}
    quantities:
      Q
    parts:
      - {id: p, prompt: q, points: 1, answer: {type: number}, expected: EXPECTED}
"""


def _error(grader: Grader, text: str, tmp_path: Path) -> dict[str, str]:
    run = grader("validate", write(tmp_path, text))
    assert run.code == 2, run.err
    [line, summary] = run.err.strip().splitlines()
    assert summary == "1 of 1 sheet(s) have errors"
    match = ERROR_LINE.match(line)
    assert match is not None, line
    return match.groupdict()


@pytest.mark.parametrize(
    ("quantity", "expected", "says"),
    [
        ("m: {op: formula, text: max(a, b) + 1, a: $a, b: $b}", "$m", "'(' was never closed"),
        ("G: {op: graph, nodes: {p: max(a, b), L: p*2}, inputs: {a: $a, b: $b}}", "{op: graph_output, graph: $G}",
         "node name 'b)' is not allowed"),
        ("G: {op: graph, nodes: {p: max(a, a), L: p*b}, inputs: {a: $a, b: $b}}", "{op: adjoint, graph: $G, node: a}",
         "node name 'a)' is not allowed"),
    ],
)
def test_a_flow_mapping_split_at_a_comma_gets_the_quoting_hint(
    grader: Grader, tmp_path: Path, quantity: str, expected: str, says: str
) -> None:
    text = SHEET.replace("Q", quantity).replace("EXPECTED", expected)
    error = _error(grader, text, tmp_path)
    assert int(error["line"]) == line_of(text, quantity) and error["code"] == "spec-op-failed"
    assert error["path"] == f"exercises[0].quantities.{quantity.split(':')[0]}"
    assert says in error["message"] and error["message"].endswith(f"; {HINT}"), error["message"]


def test_quoted_the_same_sheets_are_fine(grader: Grader, tmp_path: Path) -> None:
    for quantity, expected in [
        ("m: {op: formula, text: 'max(a, b) + 1', a: $a, b: $b}", "$m"),
        ("G: {op: graph, nodes: {p: 'max(a, b)', L: p*2}, inputs: {a: $a, b: $b}}", "{op: graph_output, graph: $G}"),
    ]:
        path = write(tmp_path, SHEET.replace("Q", quantity).replace("EXPECTED", expected))
        assert grader("validate", path).code == 0, grader("validate", path).err


def test_a_node_expression_with_unbalanced_parentheses_gets_the_hint_and_balanced_errors_do_not() -> None:
    with pytest.raises(FormulaError) as raised:
        parse_named_graph({"p": "max(a", "L": "p*b"}, inputs=["a", "b"])
    assert raised.value.message.startswith("node p: could not read the formula") and raised.value.message.endswith(HINT)
    with pytest.raises(FormulaError) as raised:
        parse_named_graph({"p": "a +* b", "L": "p*b"}, inputs=["a", "b"])
    assert HINT not in raised.value.message
    with pytest.raises(FormulaError) as raised:
        parse_named_graph({"p q": "a", "L": "p*b"}, inputs=["a", "b"])
    assert HINT not in raised.value.message


def test_a_student_graph_answer_in_flow_style_gets_the_hint() -> None:
    answer = GraphAnswer(inputs={"a": Domain(low=0, high=1), "b": Domain(low=0, high=1)}, allowed=["maximum", "mul"])
    with pytest.raises(AnswerError) as raised:
        answer.parse(yaml.safe_load("{p: max(a, b), L: p*b}"))
    assert str(raised.value) == f"node b): expected an expression as text, got nothing (null); {HINT}"


def test_a_student_graph_output_is_the_unused_node_as_the_docstring_says() -> None:
    answer = GraphAnswer(inputs={"w": Domain(low=0, high=1), "x": Domain(low=0, high=1)}, allowed=["mul"])
    assert answer.parse({"L": "z*z", "z": "w*x"}).output == "L"  # not the last node written
    assert answer.parse({"q": "w*x", "p": "w*w"}).output == "p"  # several unused: the last of them
    assert answer.parse({"q": "w*x", "p": "w*w", "output": "q"}).output == "q"
    assert "the last node is the output" not in answer.format_hint
    assert "the node no other node uses, the last of them when several are unused" in answer.format_hint
    assert "default: the last node" not in (GraphAnswer.__doc__ or "")
