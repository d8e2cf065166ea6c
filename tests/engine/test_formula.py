"""Formulas and named graphs: values and adjoints against direct numpy, whitelist refusals, hostile inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.engine.formula import MAX_DEPTH, MAX_LENGTH, FormulaError, parse_formula, parse_named_graph
from grader.engine.gradcheck import numerical_gradient
from grader.engine.graph import Graph
from grader.engine.tensor import Tensor

VARIABLES = ("theta", "x", "y")

# ---- random expressions: text and an independent numpy value --------------------------------------------
UNARY_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "square": np.square,
}
BINARY_OPERATORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
}
Expr = tuple[str, Callable[[dict[str, np.ndarray]], np.ndarray]]
GAPS = "__gaps__"
"""An env entry (a list) into which every max/min appends how far apart its two arguments are."""


def leaf() -> st.SearchStrategy[Expr]:
    names = st.sampled_from(VARIABLES).map(lambda n: (n, lambda env, n=n: env[n]))
    numbers = st.sampled_from([0.5, 1, 2, 3.25]).map(lambda c: (repr(c), lambda env, c=c: np.float64(c)))
    return names | numbers


def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def unary(pair: tuple[str, Expr]) -> Expr:
        name, (text, value) = pair
        return f"{name}({text})", lambda env: UNARY_FUNCTIONS[name](value(env))

    def binary(triple: tuple[str, Expr, Expr]) -> Expr:
        symbol, (lt, lv), (rt, rv) = triple
        return f"({lt} {symbol} {rt})", lambda env: BINARY_OPERATORS[symbol](lv(env), rv(env))

    def power(pair: tuple[Expr, int]) -> Expr:
        (text, value), k = pair
        return f"({text})**{k}", lambda env: value(env) ** k

    def extremum(triple: tuple[str, Expr, Expr]) -> Expr:
        name, (lt, lv), (rt, rv) = triple
        f = np.maximum if name == "max" else np.minimum

        def value(env: dict[str, Any]) -> np.ndarray:
            left, right = lv(env), rv(env)
            env.get(GAPS, []).append(float(np.min(np.abs(left - right))))
            return f(left, right)

        return f"{name}({lt}, {rt})", value

    def negate(child: Expr) -> Expr:
        return f"-({child[0]})", lambda env: -child[1](env)

    return (
        st.tuples(st.sampled_from(sorted(UNARY_FUNCTIONS)), children).map(unary)
        | st.tuples(st.sampled_from(sorted(BINARY_OPERATORS)), children, children).map(binary)
        | st.tuples(children, st.sampled_from([2, 3])).map(power)
        | st.tuples(st.sampled_from(["max", "min"]), children, children).map(extremum)
        | children.map(negate)
    )


expressions = st.recursive(leaf(), extend, max_leaves=8)
points = st.fixed_dictionaries({n: st.floats(-1.5, 1.5, allow_nan=False) for n in VARIABLES})


@settings(max_examples=80, deadline=None)
@given(expr=expressions, at=points)
def test_random_formulas_evaluate_like_numpy(expr: Expr, at: dict[str, float]) -> None:
    text, value = expr
    formula = parse_formula(text, variables=VARIABLES)
    env = {n: np.float64(v) for n, v in at.items()}
    np.testing.assert_allclose(formula.evaluate(env), value(env), rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(expr=expressions, at=points)
def test_random_formulas_differentiate_like_central_differences(expr: Expr, at: dict[str, float]) -> None:
    text, value = expr
    formula = parse_formula(text, variables=VARIABLES)
    if not formula.variables:
        return
    env = {n: np.float64(v) for n, v in at.items()}
    # max/min/relu have kinks; keep only points where a small step does not cross one. A max/min at (or near) a tie
    # is skipped even where the whole formula is smooth there: max(theta, x) - max(x, theta) is 0, but the engine's
    # documented tie rule (the adjoint goes to the first argument) gives d/dtheta = 1 - 0 at theta == x.
    gaps: list[float] = []
    value({**env, GAPS: gaps})
    if gaps and min(gaps) < 1e-3:
        return
    for name in formula.variables:
        around = [value({**env, name: env[name] + d}) for d in (-1e-4, 0.0, 1e-4)]
        if abs(around[2] - 2 * around[1] + around[0]) > 1e-6:
            return
    leaves = {n: Tensor(env[n], name=n) for n in formula.variables}
    formula.build(leaves).backward()
    for name in formula.variables:

        def f(point: np.ndarray, name: str = name) -> float:
            return float(value({**env, name: point}))

        expected = numerical_gradient(f, np.asarray(env[name]))
        np.testing.assert_allclose(leaves[name].grad, expected, rtol=1e-5, atol=1e-6, err_msg=f"{text} d/d{name}")


def test_sheet_formula_variables_ops_and_vectorized_evaluation() -> None:
    formula = parse_formula("sin(theta*x1 + x2) + theta*x2**2")
    assert formula.variables == ("theta", "x1", "x2")
    assert formula.ops == {"mul", "add", "sin", "pow"}
    x1 = np.linspace(-1, 1, 5)
    x2 = np.linspace(0, 2, 3)[:, None]  # broadcasts against x1 to (3, 5)
    actual = formula.evaluate({"theta": 0.5, "x1": x1, "x2": x2})
    assert actual.shape == (3, 5)
    np.testing.assert_allclose(actual, np.sin(0.5 * x1 + x2) + 0.5 * x2**2)


def test_volume_size_formula_as_a_student_would_write_it() -> None:
    formula = parse_formula("(n + 2*p - f)/s + 1", variables=["n", "p", "f", "s"])
    assert formula.ops == {"add", "mul", "sub", "div"}
    n = np.array([6, 7, 32])
    actual = formula.evaluate({"n": n, "p": np.array([0, 1, 2]), "f": 3, "s": np.array([1, 2, 1])})
    np.testing.assert_array_equal(actual, [4, 4, 34])


def test_build_keeps_given_tensors_so_gradients_reach_them() -> None:
    theta = Tensor(2.0, name="theta")
    out = parse_formula("theta**3 + max(theta, 1) + min(theta, 1) + abs(-theta) + relu(theta)").build({"theta": theta})
    out.backward()
    assert float(theta.grad) == pytest.approx(3 * 4 + 1 + 0 + 1 + 1)


def test_max_with_more_than_two_arguments_folds_left() -> None:
    formula = parse_formula("max(x, y, theta)")
    assert formula.ops == {"maximum"}
    assert formula.evaluate({"x": 1.0, "y": 5.0, "theta": 3.0}) == 5.0


def test_missing_and_bad_inputs() -> None:
    formula = parse_formula("x1*theta + x2")
    with pytest.raises(FormulaError, match=r"missing inputs 'theta', 'x2' for the formula 'x1\*theta \+ x2'; given: x1"):
        formula.evaluate({"x1": 1.0})
    with pytest.raises(FormulaError, match="input 'theta'.*non-finite"):
        formula.evaluate({"x1": 1.0, "x2": 1.0, "theta": np.nan})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1 * tehta", "unknown name 'tehta' at column 6 (did you mean 'theta'?); known: theta, x1, x2"),
        ("x1^2", "'^' is not allowed (column 3): use '**' for powers"),
        ("x1 // 2", "'//' (column 4) is not allowed"),
        ("x1 % 2", "'%' (column 4) is not allowed"),
        ("sinn(x1)", "unknown function 'sinn' at column 1 (did you mean 'sin'?)"),
        ("x1(2)", "'x1' at column 1 is a variable, not a function"),
        ("sin(x1, x2)", "sin() at column 1 takes exactly 1 argument, got 2"),
        ("max(x1)", "max() at column 1 needs at least 2 arguments, got 1"),
        ("sin(x=x1)", "sin() at column 5 takes no keyword arguments"),
        ("sin", "'sin' at column 1 is a function: call it like sin(x)"),
        ("x1 < x2", "a comparison (< > == ...) at column 1 is not allowed"),
        ("x1 if x2 else theta", "'... if ... else ...' at column 1 is not allowed"),
        ("'x1'", "'x1' at column 1 is not a number"),
        ("True", "True at column 1 is not a number"),
        ("2j", "2j at column 1 is not a number"),
        ("1e999", "the number at column 1 is too large"),
        ("2x1", "write multiplication with '*', e.g. 2*x not 2x"),
        ("x1 x2", "at column 4: it is not a valid formula; is an operator such as '*' missing"),
        ("x1 +", "it ends with '+', something is missing after it"),
        ("sin(x1", "the parentheses do not match (1 '(' but 0 ')')"),
        ("", "the formula is empty"),
        ("x1\n+ x2", "a formula must be a single line"),
        ("_x", "names may not start with '_'"),
        ("log(x1 - x1 + x2 - x2)", "log(x1 - x1 + x2 - x2) at column 1: log: x must be > 0 everywhere, got 0"),
        ("x1 / (x2 - x2)", "x1 / (x2 - x2) at column 1: div: division by zero"),
    ],
)
def test_student_readable_refusals(text: str, message: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text, variables=["x1", "x2", "theta"]).evaluate({"x1": 1.0, "x2": 2.0, "theta": 3.0})
    assert message in str(caught.value)


def test_errors_carry_the_column() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula("x1 + tehta", variables=["x1", "theta"])
    assert caught.value.column == 6 and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('x')", "\"__import__('os').system\" at column 1 cannot be called"),
        ("__import__('os')", "unknown function '__import__' at column 1"),
        ("().__class__", "'.' (attribute access) at column 1 is not allowed"),
        ("x.__dict__", "'.' (attribute access) at column 1 is not allowed"),
        ("lambda: 1", "'lambda' at column 1 is not allowed"),
        ("[1]*10**9", "a list [...] at column 1 is not allowed"),
        ("x[0]", "indexing with [...] at column 1 is not allowed"),
        ("[x for x in y]", "a list comprehension at column 1 is not allowed"),
        ("(x := 1)", "':=' (assignment) at column 2 is not allowed"),
        ("f'{x}'", "an f-string at column 1 is not allowed"),
        ("9**9**9", "pow: 9 ** 3.8742e+08 is not a finite real number: the result overflows float64"),
        ("10.0**400", "the result overflows float64"),
        ("x" * 10**6, f"the formula is 1000000 characters long; the limit is {MAX_LENGTH}"),
        ("(" * 500 + "x" + ")" * 500, f"the formula nests brackets more than {MAX_DEPTH} deep (column {MAX_DEPTH + 1})"),
        ("-" * 1500 + "x", f"nested too deeply: more than {MAX_DEPTH} operations inside one another"),
        ("+".join(["x"] * 500), f"nested too deeply: more than {MAX_DEPTH} operations inside one another (each + - * / of a long chain"),
        ("x\x00", "control character at column 2"),
    ],
)
def test_hostile_inputs_are_refused_quickly(text: str, message: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text).evaluate({"x": 1.0, "y": 1.0})
    assert message in str(caught.value)


# ---- named graphs -----------------------------------------------------------------------------------------
SHEET_NODES = {
    "f1": "x1*theta",
    "f2": "f1 + x2",
    "f3": "sin(f2)",
    "f4": "x2**2",
    "f5": "theta*f4",
    "f6": "f3 + f5",
}


def sheet_graph() -> Graph:
    return parse_named_graph(SHEET_NODES, inputs=["x1", "x2", "theta"]).build({"x1": 0.3, "x2": -1.2, "theta": 0.7})


def test_sheet_nodes_keep_their_names() -> None:
    named = parse_named_graph(SHEET_NODES, inputs=["x1", "x2", "theta"])
    assert named.output == "f6" and named.order == ("f1", "f2", "f3", "f4", "f5", "f6") and named.unused == ()
    assert named.ops == {"mul", "add", "sin", "pow"}
    graph = sheet_graph()
    assert {n.label for n in graph.nodes if n.op != "const"} == {"x1", "x2", "theta", *SHEET_NODES}
    f4 = graph.node("f4")
    assert f4.op == "pow" and [p.label for p in graph.parents("f4")] == ["x2", "2"]
    assert graph.node("2").op == "const"
    graph.backward()
    assert float(graph.node("x2").grad) == pytest.approx(np.cos(0.7 * 0.3 - 1.2) + 2 * 0.7 * -1.2)


def test_named_graph_agrees_with_the_single_formula() -> None:
    named = parse_named_graph(SHEET_NODES, inputs=["x1", "x2", "theta"])
    formula = parse_formula("sin(theta*x1 + x2) + theta*x2**2")
    grid = {"x1": np.linspace(-2, 2, 7), "x2": np.linspace(-1, 3, 7)[:, None], "theta": 0.4}
    np.testing.assert_allclose(named.evaluate(grid), formula.evaluate(grid), rtol=1e-14)


def test_nodes_may_be_given_in_any_order_and_as_pairs() -> None:
    pairs = [("f6", "f3 + f5"), ("f3", "sin(f2)"), ("f2", "f1 + x2"), ("f1", "x1*theta"), ("f5", "theta*f4"),
             ("f4", "x2**2")]  # fmt: skip
    named = parse_named_graph(pairs, inputs=["x1", "x2", "theta"], output="f6")
    assert named.order.index("f1") < named.order.index("f2") < named.order.index("f3") < named.order.index("f6")
    grid = {"x1": 0.1, "x2": 0.2, "theta": 0.3}
    assert named.evaluate(grid) == parse_named_graph(SHEET_NODES, inputs=["x1", "x2", "theta"]).evaluate(grid)


def test_unnamed_intermediate_nodes_get_their_text_as_label() -> None:
    named = parse_named_graph({"f2": "x1*theta + x2", "f3": "sin(f2) + x1*theta"}, inputs=["x1", "x2", "theta"])
    graph = named.build({"x1": 1.0, "x2": 2.0, "theta": 3.0})
    assert {n.label for n in graph.nodes} == {"f3", "f2", "x1", "x2", "theta", "x1 * theta", "sin(f2)",
                                              "x1 * theta #2"}  # fmt: skip
    assert graph.node("f2").op == "add" and graph.node("x1 * theta").op == "mul"


def test_unused_nodes_are_reported_and_left_out() -> None:
    named = parse_named_graph({"a": "x*2", "b": "x+1", "c": "a*a"}, inputs=["x"])
    assert named.unused == ("b",) and named.ops == {"mul"}
    assert "b" not in named.build({"x": 1.0}).labels


@pytest.mark.parametrize(
    ("nodes", "output", "message"),
    [
        ({"f1": "f2 + x1", "f2": "f1 * 2"}, None, "the nodes form a cycle: f1 -> f2 -> f1"),
        ({"f1": "f2", "f2": "f3 + 1", "f3": "f1 * 2"}, None, "cycle: f1 -> f2 -> f3 -> f1"),
        ({"f1": "f1 + 1"}, None, "node f1 uses itself (f1: f1 + 1)"),
        ({"f1": "x1 + f9"}, None, "node f1: unknown name 'f9' at column 6"),
        ({"f1": "x1 +* 2"}, None, "node f1: could not read the formula at column 5"),
        ({"x1": "2*x1"}, None, "node 'x1' has the same name as an input"),
        ({"sin": "x1"}, None, "node name 'sin' is not allowed"),
        ({"f 1": "x1"}, None, "node name 'f 1' is not allowed"),
        ({"f1": "x1*2"}, "f2", "output 'f2' is not a node; nodes: f1"),
        ({}, None, "the graph has no nodes"),
    ],
)
def test_named_graph_refusals(nodes: dict[str, str], output: str | None, message: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_named_graph(nodes, inputs=["x1"], output=output)
    assert message in str(caught.value)


def test_named_graph_refusals_at_build_time_name_the_node() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_named_graph({"f1": "x1*2", "f2": "f1"}, inputs=["x1"]).build({"x1": 1.0})
    assert "node 'f2' only repeats 'f1'" in str(caught.value) and caught.value.node == "f2"
    with pytest.raises(FormulaError) as caught:
        parse_named_graph({"f1": "x1 - 1", "f2": "log(f1)"}, inputs=["x1"]).build({"x1": 1.0})
    assert "log(f1) at column 1: log: x must be > 0" in str(caught.value) and caught.value.node == "f2"
    with pytest.raises(FormulaError, match="missing input 'x2'; given: x1"):
        parse_named_graph({"f1": "x1*x2"}, inputs=["x1", "x2"]).build({"x1": 1.0})
    with pytest.raises(FormulaError, match="input name x1 given twice"):
        parse_named_graph({"f1": "x1*2"}, inputs=["x1", "x1"])
    bad: Any = [("f1",)]
    with pytest.raises(FormulaError, match=r"node 1: expected a pair \(name, expression\)"):
        parse_named_graph(bad, inputs=["x1"])
