"""formula and graph answers, compared at random points with references built from the engine."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from pydantic import ValidationError

from grader.answers import AnswerError, CheckContext, Domain, FormulaAnswer, FunctionReference, GraphAnswer
from grader.engine.activations import sigmoid_array
from grader.engine.conv import conv1d
from grader.engine.pool import max_pool1d
from grader.engine.shapes import conv_output_size
from grader.result import Status

CTX = CheckContext.from_seed(7)


def _conv_size(values: Mapping[str, np.ndarray]) -> np.ndarray:
    """The engine's conv output size at each point; NaN where the filter does not fit or it is not whole."""
    out = np.full(values["n"].shape, np.nan)
    for i, (n, f, s, p) in enumerate(zip(values["n"], values["f"], values["s"], values["p"], strict=True)):
        try:
            out[i] = conv_output_size(int(n), int(f), int(s), int(p))
        except ValueError:
            pass
    return out


CONV_SIZE = FunctionReference(_conv_size)
SIZES = {
    "n": Domain(low=4, high=32, integer=True),
    "f": Domain(low=1, high=7, integer=True),
    "s": Domain(low=1, high=3, integer=True),
    "p": Domain(low=0, high=3, integer=True),
}


@pytest.fixture
def size_answer() -> FormulaAnswer:
    return FormulaAnswer(variables=SIZES)


@pytest.mark.parametrize("text", ["(n + 2*p - f)/s + 1", "1 + (n - f + 2*p)/s", "(n+2*p-f+s)/s"])
def test_equivalent_formulas_are_correct(size_answer: FormulaAnswer, text: str) -> None:
    verdict = size_answer.check(size_answer.parse(text), CONV_SIZE, CTX)
    assert verdict.status is Status.correct, verdict.feedback


def test_a_wrong_formula_gets_a_counterexample(size_answer: FormulaAnswer) -> None:
    verdict = size_answer.check(size_answer.parse("(n + p - f)/s + 1"), CONV_SIZE, CTX)
    assert verdict.status is Status.incorrect and verdict.fraction == 0
    assert verdict.feedback.startswith("at n=") and "your formula gives" in verdict.feedback
    assert "the reference" not in verdict.feedback  # the key's value only goes to details
    point = dict(item.split("=") for item in verdict.feedback.removeprefix("at ").split(" your")[0].split(", "))
    n, f, s, p = (int(point[k]) for k in "nfsp")
    assert p != 0  # the counterexample really separates the two formulas
    assert f"the reference {conv_output_size(n, f, s, p)}" in verdict.details[0]
    assert f"gives {(n + p - f) / s + 1:g}" in verdict.feedback


def test_a_point_where_the_formula_fails_counts_as_wrong_and_is_named(size_answer: FormulaAnswer) -> None:
    verdict = size_answer.check(size_answer.parse("(n + 2*p - f)/s + 1 + 0/(s - 1)"), CONV_SIZE, CTX)
    assert verdict.status is Status.incorrect
    point, _, reason = verdict.feedback.partition(" your formula cannot be evaluated: ")
    assert "s=1" in point.split(", ") and "division by zero" in reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(n + 2*q - f)/s + 1", "unknown name 'q'"),
        ("__import__('os').system('ls')", "cannot read the formula"),
        ("n^2", "'^' is not allowed"),
        ("(n + 2p - f)/s + 1", "write multiplication with '*'"),
        ("e**n + f", "unknown name 'e' at column 1 (Euler's number: write exp(x) for e**x, exp(1) for e)"),
    ],
)
def test_unreadable_formulas_carry_the_parsers_message(size_answer: FormulaAnswer, text: str, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        size_answer.parse(text)
    assert message in str(caught.value)


def test_non_text_is_refused(size_answer: FormulaAnswer) -> None:
    with pytest.raises(AnswerError, match="expected a formula as text, got a list"):
        size_answer.parse(["n"])
    assert size_answer.parse(3).text == "3"


def test_a_reference_undefined_almost_everywhere_is_the_authors_fault() -> None:
    answer = FormulaAnswer(variables={"n": Domain(low=1, high=2)})
    nowhere = FunctionReference(lambda v: np.full(v["n"].shape, np.nan))
    with pytest.raises(ValueError, match="defined at only 0 of 50 random points"):
        answer.check(answer.parse("n"), nowhere, CTX)


def test_checks_are_pure_and_leave_the_context_alone(size_answer: FormulaAnswer) -> None:
    before = CTX.rng.bit_generator.state
    wrong = size_answer.parse("(n - f)/s + 1")
    first = size_answer.check(wrong, CONV_SIZE, CTX)
    assert size_answer.check(wrong, CONV_SIZE, CTX) == first
    assert CTX.rng.bit_generator.state == before


def test_expected_json_shows_sample_points_with_reference_values(size_answer: FormulaAnswer) -> None:
    examples = size_answer.expected_json(CONV_SIZE)
    assert len(examples) == 5
    for example in examples:
        at = example["at"]
        assert example["value"] == conv_output_size(at["n"], at["f"], at["s"], at["p"])


def test_domains_are_validated() -> None:
    with pytest.raises(ValidationError, match="larger than high"):
        Domain(low=3, high=1)
    with pytest.raises(ValidationError, match="no whole number"):
        Domain(low=0.2, high=0.8, integer=True)
    with pytest.raises(ValidationError, match="greater than or equal to 10"):
        FormulaAnswer(variables=SIZES, points=3)
    with pytest.raises(ValidationError, match="'w-1', 'sin' cannot appear in a formula"):
        FormulaAnswer(variables={"w-1": Domain(low=0, high=1), "sin": Domain(low=0, high=1)})
    with pytest.raises(ValidationError, match="'_x' cannot appear in a formula"):
        GraphAnswer(inputs={"_x": Domain(low=0, high=1)}, allowed=["add"])


# ---- graph -------------------------------------------------------------------------------------------------
DENSE_INPUTS = {name: Domain(low=-2, high=2) for name in ["x1", "x2", "w11", "w12", "w21", "w22", "v1", "v2"]}


def _dense(values: Mapping[str, np.ndarray]) -> np.ndarray:
    h1 = sigmoid_array(values["w11"] * values["x1"] + values["w12"] * values["x2"])
    h2 = sigmoid_array(values["w21"] * values["x1"] + values["w22"] * values["x2"])
    return values["v1"] * h1 + values["v2"] * h2


DENSE = FunctionReference(_dense)


@pytest.fixture
def dense_answer() -> GraphAnswer:
    return GraphAnswer(inputs=DENSE_INPUTS, allowed=["add", "mul", "sigmoid"])


def test_a_right_graph_in_every_form(dense_answer: GraphAnswer) -> None:
    mapping = {"a1": "w11*x1 + w12*x2", "h1": "sigmoid(a1)", "a2": "w21*x1 + w22*x2", "h2": "sigmoid(a2)",
               "y": "v1*h1 + v2*h2"}
    as_list = [{"name": k, "expr": v} for k, v in mapping.items()]
    reordered = {"y": "v1*h1 + v2*h2", **{k: v for k, v in mapping.items() if k != "y"}, "output": "y"}
    lines = "\n".join(f"{k}: {v}" for k, v in mapping.items()) + "\n\n"  # a YAML block ``b_graph: |``, as prompts ask
    for raw in (mapping, as_list, reordered, lines):
        verdict = dense_answer.check(dense_answer.parse(raw), DENSE, CTX)
        assert verdict.status is Status.correct, verdict.feedback
    assert dense_answer.to_json(dense_answer.parse(reordered))["output"] == "y"


def test_disallowed_ops_are_named_with_their_node(dense_answer: GraphAnswer) -> None:
    raw = {"h1": "1/(1 + exp(-(w11*x1 + w12*x2)))", "h2": "sigmoid(w21*x1 + w22*x2)", "y": "v1*h1 + v2*h2"}
    verdict = dense_answer.check(dense_answer.parse(raw), DENSE, CTX)
    assert verdict.status is Status.incorrect
    # as the student writes them, not the engine's op names (div, exp, neg)
    assert verdict.feedback.startswith("the graph uses /, exp, unary -, which are not allowed here (allowed: +, *, sigmoid)")
    assert "node h1 uses /, exp, unary -" in verdict.feedback


def test_a_wrong_graph_gets_a_counterexample_and_unused_nodes_are_noted(dense_answer: GraphAnswer) -> None:
    raw = {"h1": "sigmoid(w11*x1 + w12*x2)", "h2": "sigmoid(w21*x1 + w12*x2)", "spare": "x1*x2", "y": "v1*h1 + v2*h2"}
    verdict = dense_answer.check(dense_answer.parse(raw), DENSE, CTX)
    assert verdict.status is Status.incorrect and "your graph's output gives" in verdict.feedback
    assert "node spare not used by the output y" in verdict.details


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"a": "b + x1", "b": "a * x2"}, "the nodes form a cycle"),
        ({"a": "x1 + z"}, "unknown name 'z'"),
        ({"a": "x1", "output": "b"}, "output 'b' is not a node"),
        ({"output": "a"}, "the graph has no nodes"),
        ([{"name": "a"}], "node 1: expected {name: ..., expr: ...}"),
        ({"a": ["x1"]}, "node a: expected an expression as text"),
        ("x1 + x2", "line 1 of the graph: expected 'name: expression' (one node per line), got 'x1 + x2'"),
        ("a: x1\nb = a", "line 2 of the graph: expected 'name: expression'"),
        ("a: x1\na: x2", "line 2 of the graph: node 'a' is given twice"),
        ("\n \n", "the graph has no nodes"),
        (3, "expected the graph as a mapping"),
    ],
)
def test_unreadable_graphs(dense_answer: GraphAnswer, raw: object, message: str) -> None:
    with pytest.raises(AnswerError) as caught:
        dense_answer.parse(raw)
    assert message in str(caught.value)


def test_allowed_ops_must_be_known() -> None:
    with pytest.raises(ValidationError, match="unknown op"):
        GraphAnswer(inputs=DENSE_INPUTS, allowed=["add", "softmax"])


def _conv_pool_dense(values: Mapping[str, np.ndarray]) -> np.ndarray:
    """The sheet's Exercise 4c network (1 filter of length 3, max-pool k=2, one dense output), via the engine."""
    out = np.empty(values["x1"].shape)
    for i in range(out.shape[0]):
        x = np.array([[values[f"x{j}"][i]] for j in range(1, 5)])  # (L=4, C=1)
        w = np.array([[[values[f"w{j}"][i]]] for j in range(1, 4)])  # (f=3, C=1, K=1)
        pooled = max_pool1d(conv1d(x, w), 2).value  # (1, 1)
        out[i] = values["v"][i] * pooled[0, 0]
    return out


def test_the_conv_pool_graph_of_exercise_4c() -> None:
    inputs = {name: Domain(low=-1, high=1) for name in ["x1", "x2", "x3", "x4", "w1", "w2", "w3", "v"]}
    answer = GraphAnswer(inputs=inputs, allowed=["mul", "add", "maximum"])
    raw = {"c1": "w1*x1 + w2*x2 + w3*x3", "c2": "w1*x2 + w2*x3 + w3*x4", "m": "max(c1, c2)", "y": "v*m"}
    reference = FunctionReference(_conv_pool_dense)
    assert answer.check(answer.parse(raw), reference, CTX).status is Status.correct
    flipped = {**raw, "c1": "w3*x1 + w2*x2 + w1*x3", "c2": "w3*x2 + w2*x3 + w1*x4"}  # a convolution, not cross-correlation
    assert answer.check(answer.parse(flipped), reference, CTX).status is Status.incorrect


def test_a_formula_reads_its_aliases_as_the_variables_they_stand_for() -> None:
    """Week 7's t_theta_formula takes θ for theta, as its schedule and set parts do; θ inside a longer name is not
    touched, and an alias must stand for one of the variables."""
    answer = FormulaAnswer(variables={"theta": {"low": -1, "high": 1}, "x": {"low": -1, "high": 1}}, aliases={"θ": "theta"})
    assert answer.parse("x*cos(θ*x) + θ").variables == ("theta", "x")
    with pytest.raises(AnswerError, match="unknown name 'θ2'"):
        answer.parse("θ2 + x")
    with pytest.raises(ValidationError, match="'θ' stands for 'phi', which is not one of the variables"):
        FormulaAnswer(variables={"theta": {"low": -1, "high": 1}}, aliases={"θ": "phi"})
