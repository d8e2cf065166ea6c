"""Edge cases of the answer parsers found by a red-team, each through the parser and through real answer files
graded by the real CLI: hostile graphs are refused quickly by an operation limit, odd digits and doubled signs
are graded instead of crashing, messages show enough digits not to contradict themselves, hints fit the text,
Unicode minus signs are read as '-', and a node that only repeats a name is reported as what it is."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from grader.answers.base import AnswerError, format_exact, whole_number_text
from grader.answers.formula import FormulaAnswer
from grader.answers.graph_answer import GraphAnswer
from grader.answers.integer import IntegerAnswer
from grader.answers.number import NumberAnswer
from grader.answers.shape import ShapeAnswer
from grader.cli import app
from grader.engine.formula import MAX_OPERATIONS, FormulaError, parse_formula, parse_named_graph
from grader.result import Status

ROOT = Path(__file__).resolve().parents[2]
WEEK7 = ROOT / "exercises" / "week7.yaml"
CORRECT = ROOT / "submissions" / "week7" / "correct.yaml"

runner = CliRunner()

MLP_INPUTS = ["x1", "x2", "w1_11", "w1_12", "w1_21", "w1_22", "w2_11", "w2_12", "w2_21", "w2_22", "w3_1", "w3_2"]


# ---------------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def correct() -> dict[str, Any]:
    return yaml.safe_load(CORRECT.read_text(encoding="utf-8"))


def answer_file(tmp_path: Path, base: dict[str, Any], edits: dict[str, Any], name: str = "answers.yaml") -> Path:
    """``base`` with ``edits`` ({"ex2.a_set_a": "²"}) written as a YAML answer file (Unicode kept as is)."""
    data = copy.deepcopy(base)
    for key, value in edits.items():
        exercise, part = key.split(".")
        data["answers"].setdefault(exercise, {})[part] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run_cli(*args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and the JSON result of ``grader <args> --format json``; never a crash or an internal error."""
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert result.exit_code != 3, result.output
    return result.exit_code, json.loads(result.stdout)["result"]


def parts_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in result["parts"]}


def feedback_of(spec: Any, raw: Any) -> str:
    """The student-facing reason ``raw`` cannot be read (asserts that it cannot)."""
    actual, verdict = spec.read(raw)
    assert verdict is not None and verdict.status is Status.invalid, (raw, actual)
    return verdict.feedback


# ---------------------------------------------------------------------------------------------- 1. graph size


def _chained_graph(nodes: int, repeats: int = 90) -> dict[str, str]:
    """The red-team's graph: every node the same long sum of ``x1*x2``, chained to the previous node."""
    term = "+".join(["x1*x2"] * repeats)
    return {"n0": term, **{f"n{i}": f"n{i - 1}*0+{term}" for i in range(1, nodes)}}


def test_an_expression_counts_its_operations() -> None:
    assert parse_formula("x").operations == 0
    assert parse_formula("+x").operations == 0
    assert parse_formula("-x").operations == 1
    assert parse_formula("sin(x*y) + 2**x").operations == 4
    assert parse_formula("max(a, b, c)").operations == 2  # folded left: two maximum ops


def test_a_formula_over_the_operation_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(FormulaError, match=r"the formula has 3 operations .*; at most 2 are read"):
        parse_formula("x*x+x*x", max_operations=2)
    assert parse_formula("x*x+x", max_operations=2).operations == 2


def test_a_graph_over_the_operation_limit_is_refused_at_the_node_that_passes_it() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_named_graph(_chained_graph(1000), inputs=["x1", "x2"])
    message = str(caught.value)
    assert f"the graph has more than {MAX_OPERATIONS} operations" in message
    assert f"at most {MAX_OPERATIONS} are read" in message
    assert caught.value.node == "n5"  # reading stopped there: the 994 nodes after it were never parsed


def test_the_limit_is_far_above_the_sheets_graphs() -> None:
    sheet = yaml.safe_load(WEEK7.read_text(encoding="utf-8"))
    (ex4,) = [e for e in sheet["exercises"] if e["id"] == "ex4"]
    for key in ("g", "mlp", "convnet"):
        quantity = ex4["quantities"][key]
        graph = parse_named_graph(quantity["nodes"], inputs=list(quantity["inputs"]))
        used = sum(f.operations for f in graph.nodes.values())
        assert 0 < used * 20 <= MAX_OPERATIONS, (key, used)


def test_many_repeated_sub_expressions_get_numbered_labels_in_order() -> None:
    named = parse_named_graph(_chained_graph(5, repeats=40), inputs=["x1", "x2"])
    graph = named.build({"x1": 1.0, "x2": 2.0})
    labels = set(graph.labels)
    assert len(labels) == len(graph.nodes)
    products = {label for label in labels if label == "x1 * x2" or label.startswith("x1 * x2 #")}
    assert products == {"x1 * x2"} | {f"x1 * x2 #{k}" for k in range(2, 5 * 40 + 1)}
    assert named.evaluate({"x1": 1.0, "x2": 2.0}) == pytest.approx(40 * 2.0)
    assert graph.output.value == pytest.approx(40 * 2.0)


def test_the_red_teams_graph_is_refused_quickly_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"student": "s1", "seed": 17, "answers": {"ex4": {"b_graph": _chained_graph(1000)}}},
                                   sort_keys=False), encoding="utf-8")
    assert path.stat().st_size > 500_000
    code, result = run_cli("grade", str(WEEK7), str(path))
    assert code == 0
    graph = parts_of(result)["ex4.b_graph"]
    assert graph["status"] == "invalid"
    assert f"at most {MAX_OPERATIONS} are read" in graph["feedback"]
    assert graph["feedback"].startswith("cannot read the graph: the graph has more than")


def test_a_large_but_legal_graph_is_graded_through_the_cli(tmp_path: Path, correct: dict[str, Any]) -> None:
    graph = dict(correct["answers"]["ex4"]["b_graph"])
    output = graph.pop("y")
    chain = {"z0": "x1*x2", **{f"z{i}": f"z{i - 1}*w3_1*x2 + x1" for i in range(1, 300)}}  # 899 operations
    graph.update(chain)
    graph["y"] = f"{output} + 0*sigmoid(z299)"  # the chain adds nothing: the graph is right
    path = answer_file(tmp_path, correct, {"ex4.b_graph": graph})
    code, result = run_cli("grade", str(WEEK7), str(path))
    assert code == 0
    assert parts_of(result)["ex4.b_graph"]["status"] == "correct", parts_of(result)["ex4.b_graph"]["feedback"]


# ---------------------------------------------------------------------------------------------- 2. odd digits


@pytest.mark.parametrize(
    ("text", "signed", "value"),
    [("42", True, 42), ("+42", True, 42), ("-42", True, -42), ("４２", True, 42), ("٤٢", True, 42),
     ("-42", False, None), ("²", True, None), ("5²", True, None), ("⁵", True, None), ("①", True, None),
     ("+-27", True, None), ("--3", True, None), ("-+5", True, None), ("", True, None), ("-", True, None),
     ("1_000", True, None), (" 4", True, None), ("1234", True, None)],
)  # fmt: skip
def test_whole_number_text_reads_one_sign_and_decimal_digits(text: str, signed: bool, value: int | None) -> None:
    assert whole_number_text(text, max_digits=3 if text == "1234" else 20, signed=signed) == value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("²", "write powers with '**', e.g. x**2 not x²"),
        ("⁵", "invalid character '⁵' (U+2075)"),
        ("①", "invalid character '①' (U+2460)"),
        ("5²", "write powers with '**', e.g. 5**2 not 5²"),
        ("+-27", "cannot read '+-27' as a number: it starts with two signs (+-); write one sign at most, e.g. 27 or -27"),
        ("--3", "it starts with two signs (--)"),
        ("-+5", "it starts with two signs (-+)"),
        ("- -3", "it starts with two signs (--)"),
    ],
)
def test_odd_digits_and_doubled_signs_in_an_integer_are_refused_with_a_reason(raw: str, message: str) -> None:
    assert message in feedback_of(IntegerAnswer(), raw)


@pytest.mark.parametrize(("raw", "value"), [("４２", 42), ("٤٢", 42), ("+5", 5), ("-5", -5), ("−5", -5), (" 7 ", 7)])
def test_integers_in_other_digits_and_signs_are_read(raw: str, value: int) -> None:
    assert IntegerAnswer().parse(raw) == value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("50x50x1²", "cannot read '50x50x1²' as a shape: dimension 3 is '1²', expected a whole number"),
        (["6³"], "dimension 1 is the text '6³'; expected a whole number"),
        (["①", 2], "dimension 1 is the text '①'; expected a whole number"),
        ("4x+4", "dimension 2 is '+4', expected a whole number"),
        ("4x" + "9" * 40, "dimension 2 is larger than 1000000000"),
        ([4, "9" * 40], "dimension 2 is larger than 1000000000"),
    ],
)
def test_odd_digits_in_a_shape_are_refused_with_a_reason(raw: Any, message: str) -> None:
    assert message in feedback_of(ShapeAnswer(), raw)


def test_shapes_in_full_width_digits_are_read() -> None:
    assert ShapeAnswer().parse("４x４x２") == (4, 4, 2)
    assert ShapeAnswer().parse(["4", "４", 2]) == (4, 4, 2)


def test_odd_digits_through_the_cli_in_grade_and_check_mode(tmp_path: Path, correct: dict[str, Any]) -> None:
    edits = {"ex2.a_set_a": "²", "ex2.a_set_b": "+-27", "ex2.a_set_c": "①", "ex2.a_volume": "50x50x1²",
             "ex3.a": ["6³"], "ex2.a_set_d": "5²"}  # fmt: skip
    path = answer_file(tmp_path, correct, edits)
    for command in ("grade", "check"):
        code, result = run_cli(command, str(WEEK7), str(path))
        assert code == 0
        parts = parts_of(result)
        for key in edits:
            if key == "ex2.a_set_d":  # hidden: 0 points, its reason kept in answer_error
                assert parts[key]["points_earned"] == 0 and parts[key]["status"] != "correct", (command, parts[key])
                assert "5**2 not 5²" in parts[key]["answer_error"], (command, parts[key])
                continue
            assert parts[key]["status"] == "invalid", (command, key, parts[key])
            feedback = parts[key]["feedback"]
            assert feedback and parts[key]["answer_error"] in (feedback, f"cannot be read: {feedback}"), (command, key)
    graded = parts_of(run_cli("grade", str(WEEK7), str(path))[1])
    assert "it starts with two signs (+-)" in graded["ex2.a_set_b"]["feedback"]
    assert "dimension 3 is '1²'" in graded["ex2.a_volume"]["feedback"]


# ---------------------------------------------------------------------------------------------- 3. enough digits


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(0.9999999999999999, "0.9999999999999999"), (1.0000000001, "1.0000000001"), ("1.0000000001", "1.0000000001"),
     (123456.7, "123456.7"), (4.5, "4.5"), (1 / 3, "0.333333")],
)  # fmt: skip
def test_a_number_that_is_not_whole_is_never_shown_as_whole(raw: Any, shown: str) -> None:
    assert feedback_of(IntegerAnswer(), raw) == f"expected a whole number, got {shown}"


def test_format_exact() -> None:
    assert format_exact(0.9999999999999999) == "0.9999999999999999"
    assert format_exact(-2.0000001) == "-2.0000001"
    assert format_exact(0.25) == "0.25" and format_exact(3.0) == "3" and format_exact(math.nan) == "NaN"


def test_the_whole_number_message_through_the_cli(tmp_path: Path, correct: dict[str, Any]) -> None:
    path = answer_file(tmp_path, correct, {"ex2.b_check_p": 0.9999999999999999, "ex2.b_check_size": 1.0000000001})
    parts = parts_of(run_cli("grade", str(WEEK7), str(path))[1])
    assert parts["ex2.b_check_p"]["feedback"] == "expected a whole number, got 0.9999999999999999"
    assert parts["ex2.b_check_size"]["feedback"] == "expected a whole number, got 1.0000000001"


# ---------------------------------------------------------------------------------------------- 4. scientific notation


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("2n", "write multiplication with '*', e.g. 2*n not 2n"),
        ("2e", "e.g. 2*e not 2e"),
        ("2.5E-3n", "e.g. 2.5E-3*n not 2.5E-3n"),
        ("1e5x", "e.g. 1e5*x not 1e5x"),
        ("(n + 2*p - f)/s + 1e0)", "the parentheses do not match (1 '(' but 2 ')')"),
        ("(n + 2*p - f)/s + 1E+0)", "the parentheses do not match"),
    ],
)
def test_hints_read_number_literals_as_numbers(text: str, hint: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert hint in str(caught.value)
    if "parentheses" in hint:
        assert "multiplication" not in str(caught.value)


def test_an_uncertainty_gets_its_own_hint_not_the_multiplication_one() -> None:
    message = feedback_of(NumberAnswer(), "-0.9765273 ± 1e-7")
    assert message == "cannot read '-0.9765273 ± 1e-7' as a number: write the value alone, without '±' and an uncertainty"
    assert "multiplication" not in feedback_of(NumberAnswer(), "-0.9765273 +/- 1e-7")


def test_scientific_notation_hints_through_the_cli(tmp_path: Path, correct: dict[str, Any]) -> None:
    path = answer_file(tmp_path, correct, {"ex2.a_formula": "(n + 2*p - f)/s + 1e0)", "ex4.t_f2": "-0.3124931 ± 1e-7"})
    parts = parts_of(run_cli("grade", str(WEEK7), str(path))[1])
    assert "the parentheses do not match" in parts["ex2.a_formula"]["feedback"]
    for key in ("ex2.a_formula", "ex4.t_f2"):
        assert parts[key]["status"] == "invalid" and "multiplication" not in parts[key]["feedback"], key


# ---------------------------------------------------------------------------------------------- 5. minus signs


@pytest.mark.parametrize("minus", ["\u2212", "\u2013", "\ufe63", "\uff0d"])
def test_unicode_minus_signs_are_read_as_minus(minus: str) -> None:
    assert NumberAnswer().parse(f"{minus}0.9765273") == -0.9765273
    assert NumberAnswer().parse(f"2{minus}0.5") == 1.5
    assert IntegerAnswer().parse(f"{minus}5") == -5
    formula = parse_formula(f"(n {minus} f)/s + 1")
    assert formula.text == "(n - f)/s + 1" and formula.evaluate({"n": 7, "f": 3, "s": 2}) == 3.0
    with pytest.raises(FormulaError, match=r"at column 4"):
        parse_formula(f"n {minus}* f")  # columns are unchanged by the replacement


def test_a_formula_answer_with_a_minus_sign_is_right() -> None:
    answer = FormulaAnswer(variables={"f": {"low": 1, "high": 9}})
    assert answer.parse("(f \u2212 1)/2").evaluate({"f": 5.0}) == 2.0


def test_a_pasted_minus_sign_through_the_cli(tmp_path: Path, correct: dict[str, Any]) -> None:
    right = correct["answers"]["ex1"]["c_grad"]
    assert right < 0
    path = answer_file(tmp_path, correct, {"ex1.c_grad": f"\u2212{abs(right)!r}", "ex2.b_formula": "(f \u2212 1)/2"})
    parts = parts_of(run_cli("grade", str(WEEK7), str(path))[1])
    assert parts["ex1.c_grad"]["status"] == "correct", parts["ex1.c_grad"]["feedback"]
    assert parts["ex2.b_formula"]["status"] == "correct", parts["ex2.b_formula"]["feedback"]


# ---------------------------------------------------------------------------------------------- 6. decimal comma


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-0,976", "write decimals with a point: -0.976, not -0,976"),
        ("0,976", "write decimals with a point: 0.976, not 0,976"),
        ("012,345", "write decimals with a point: 012.345, not 012,345"),
        ("1,0000", "write decimals with a point: 1.0000, not 1,0000"),
        ("0,5431", "write decimals with a point: 0.5431, not 0,5431"),
        ("1,000", "write 1000 without a thousands separator, or 1.000 with a decimal point"),
        ("-1,234", "write -1234 without a thousands separator, or -1.234 with a decimal point"),
        ("+12,345", "write +12345 without a thousands separator, or +12.345 with a decimal point"),
        ("\u22120,976", "write decimals with a point: -0.976, not \u22120,976"),
    ],
)
def test_decimal_comma_hints_offer_only_readings_that_make_sense(raw: str, message: str) -> None:
    assert feedback_of(NumberAnswer(), raw) == message


def test_a_decimal_comma_through_the_cli(tmp_path: Path, correct: dict[str, Any]) -> None:
    path = answer_file(tmp_path, correct, {"ex1.c_grad": "-0,182"})
    part = parts_of(run_cli("grade", str(WEEK7), str(path))[1])["ex1.c_grad"]
    assert part["status"] == "invalid" and part["feedback"] == "write decimals with a point: -0.182, not -0,182"


# ---------------------------------------------------------------------------------------------- 7. repeated names


def test_a_node_that_only_repeats_a_name_is_refused_when_read() -> None:
    for expression in ("x1", "(x1)", "+x1", "+(+x1)"):
        with pytest.raises(FormulaError) as caught:
            parse_named_graph({"a": expression, "b": "a*2"}, inputs=["x1"])
        assert str(caught.value).startswith("node 'a' only repeats 'x1'") and caught.value.node == "a"
    unused = parse_named_graph({"a": "x1", "b": "x1*2"}, inputs=["x1"])  # an unused alias is only noted
    assert unused.unused == ("a",) and unused.evaluate({"x1": 3.0}) == 6.0


def test_a_repeating_node_is_an_invalid_graph_answer() -> None:
    answer = GraphAnswer(inputs={"x1": {"low": -1, "high": 1}}, allowed=["mul"])
    message = feedback_of(answer, {"a": "x1", "b": "a*a"})
    assert message == "cannot read the graph: node 'a' only repeats 'x1'; give it an operation or use 'x1' directly where 'a' is used"


def test_a_repeating_node_through_the_cli(tmp_path: Path, correct: dict[str, Any]) -> None:
    graph = {"a": "x1", **correct["answers"]["ex4"]["b_graph"]}
    graph["h1_1"] = "sigmoid(w1_11*a + w1_12*x2)"
    path = answer_file(tmp_path, correct, {"ex4.b_graph": graph})
    part = parts_of(run_cli("grade", str(WEEK7), str(path))[1])["ex4.b_graph"]
    assert part["status"] == "invalid"
    assert part["feedback"].startswith("cannot read the graph: node 'a' only repeats 'x1'")
    assert "cannot be evaluated" not in part["feedback"]


def test_evaluate_and_build_agree() -> None:
    named = parse_named_graph({"h": "sigmoid(w1_11*x1 + w1_12*x2)", "y": "w3_1*h + h*h"}, inputs=MLP_INPUTS)
    values = {name: np.linspace(-1, 1, 5) + k for k, name in enumerate(MLP_INPUTS)}
    np.testing.assert_array_equal(named.evaluate(values), named.build(values).output.value)


def test_a_number_matches_the_option_that_reads_as_it() -> None:
    """Unquoted 1e-3 in an answer file is the number 0.001: it still picks the option written '1e-3'."""
    from grader.answers.choice import ChoiceAnswer

    choice = ChoiceAnswer(options=["1e-3", "1e-2", "slow"])
    assert choice.parse(0.001) == "1e-3" and choice.parse("1E-2") == "1e-2" and choice.parse(" SLOW ") == "slow"
    with pytest.raises(AnswerError, match="not one of the options"):
        choice.parse(0.5)


def test_array_entries_read_as_text_say_why() -> None:
    from grader.answers.array import read_array

    for entry, fragment in [("07", "without leading zeros"), ("1_000", "without underscores"), ("'1.5'", "without quotes")]:
        with pytest.raises(AnswerError, match=fragment):
            read_array([[1.0, entry]], max_entries=10)


def test_options_that_are_the_same_number_are_refused() -> None:
    from pydantic import ValidationError

    from grader.answers.choice import ChoiceAnswer

    with pytest.raises(ValidationError, match="options '0.1' and '1e-1' are the same number"):
        ChoiceAnswer(options=["0.1", "1e-1"])


@pytest.mark.parametrize(
    ("answer", "text"),
    [(IntegerAnswer(), "28#x"), (NumberAnswer(), "0.5 # about a half"), (FormulaAnswer(variables={"n": {"low": 1, "high": 9}}), "n + 1#2")],
)
def test_a_hash_mark_is_refused_not_read_as_the_start_of_a_comment(answer: Any, text: str) -> None:
    """Python's parser dropped everything after '#': "28#x" was read as 28 and scored correct."""
    with pytest.raises(AnswerError, match=f"'#' is not allowed \\(column {text.index('#') + 1}\\)"):
        answer.parse(text)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("(n+2p-f)/s+1", "a number is directly followed by a name; write multiplication with '*', e.g. 2*p not 2p"),
        ("2(n+1)", "to multiply, write 2*(...)"),
        ("(n+1)(n+2)", "to multiply, write (n + 1)*(...)"),
    ],
)
def test_implicit_multiplication_is_explained_without_python_words(text: str, said: str) -> None:
    """Python calls 2p an "invalid decimal literal" and 2(n+1) a call of 2; a student is told to write the '*'."""
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert said in str(caught.value) and "decimal literal" not in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "raw"),
    [
        (NumberAnswer(), "1" * 1500 + "x"),  # read as a formula: "a number directly followed by a name"
        (NumberAnswer(), "9" * 3000 + "x"),  # over the formula's length limit
        (NumberAnswer(), "+-" + "5" * 3000),
        (ShapeAnswer(), "2x" * 1500 + "y"),
        (ShapeAnswer(), "2, " + "7" * 4000 + "q"),
    ],
)
def test_a_long_unreadable_answer_is_quoted_in_part(answer: Any, raw: str) -> None:
    """Messages quoted the whole text (3,000 characters, in every format and in the step summary); now its first 60
    characters and its length."""
    with pytest.raises(AnswerError) as refused:
        answer.parse(raw)
    message = str(refused.value)
    assert len(message) < 400, message
    assert f"... ({len(raw)} characters)" in message, message
