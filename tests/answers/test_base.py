"""The answer-type union read from YAML, its JSON Schema, the shared ladder (grade) and the check context."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from grader.answers import (
    ANSWER_TYPES,
    AnswerSpec,
    AnswerSpecUnion,
    ArrayAnswer,
    CheckContext,
    FormulaAnswer,
    NumberAnswer,
    SetAnswer,
)
from grader.result import Status

UNION = TypeAdapter(AnswerSpecUnion)
CTX = CheckContext.from_seed(3)

SPECS_YAML = """
- {type: number, abs_tol: 0.01}
- {type: integer}
- {type: array, partial: true, axes: [H, W, C]}
- {type: shape, axes: [height, width, depth]}
- {type: boolean}
- {type: choice, options: ['yes', 'no', 3]}
- {type: set, aliases: {θ: theta}}
- {type: schedule}
- {type: formula, variables: {n: {low: 4, high: 32, integer: true}}}
- {type: translation}
- {type: graph, inputs: {x1: {low: -1, high: 1}}, allowed: [add, mul]}
- {type: code, function: conv2d, cases: [{name: given, inputs: {image: $x}}]}
"""


def test_every_type_is_read_from_yaml_by_its_tag() -> None:
    specs = [UNION.validate_python(item) for item in yaml.safe_load(SPECS_YAML)]
    assert [spec.type for spec in specs] == list(ANSWER_TYPES)
    for spec in specs:
        assert isinstance(spec, ANSWER_TYPES[spec.type])
        assert isinstance(spec.format_hint, str) and len(spec.format_hint) > 5
    number = specs[0]
    assert isinstance(number, NumberAnswer) and number.abs_tol == 0.01 and number.rel_tol == 1e-6


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "numbr"}, "does not match any of the expected tags"),
        ({"type": "number", "tolerance": 0.1}, "Extra inputs are not permitted"),
        ({"type": "number", "abs_tol": -1}, "greater than or equal to 0"),
        ({"type": "array", "max_entries": 0}, "greater than or equal to 1"),
        ({"type": "choice", "options": ["a"]}, "at least 2 items"),
        ({"type": "choice", "options": [True, False]}, "option 1 was read as the boolean true"),
        ({"type": "formula", "variables": {}}, "at least 1 item"),
    ],
)
def test_bad_specs_are_refused_with_the_field(item: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        UNION.validate_python(item)
    assert message in str(caught.value)


def test_specs_are_frozen() -> None:
    with pytest.raises(ValidationError):
        NumberAnswer().abs_tol = 1.0  # type: ignore[misc]


def test_the_json_schema_explains_every_field() -> None:
    schema = UNION.json_schema()
    for name, definition in schema["$defs"].items():
        assert definition.get("description"), name
        for field, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"


def test_grade_runs_the_ladder() -> None:
    answer = ArrayAnswer()
    expected = np.ones((2, 2))
    assert answer.grade(None, expected, CTX)[1].status is Status.missing
    assert answer.grade("  ", expected, CTX)[1].status is Status.missing
    actual, unreadable = answer.grade([[1, "x"], [1, 1]], expected, CTX)
    assert actual is None and unreadable.status is Status.invalid and "index [0, 1]" in unreadable.feedback
    actual, verdict = answer.grade([[1, 1], [1, 1]], expected, CTX)
    assert verdict.status is Status.correct and actual.shape == (2, 2)


def test_check_context_copies_leave_the_generator_alone() -> None:
    ctx = CheckContext.from_seed(11)
    first = ctx.generator().random(3)
    assert np.array_equal(ctx.generator().random(3), first)
    assert np.array_equal(ctx.rng.random(3), first)  # the original was not advanced by the copies


def test_report_data_is_json() -> None:
    cases = [
        (NumberAnswer(), 0.5, 1.0),
        (ArrayAnswer(), np.array([[1.0, np.nan]]), np.array([[1.0, 2.5]])),
        (SetAnswer(), frozenset({"b", "a"}), frozenset({"a"})),
    ]
    for answer, actual, expected in cases:
        json.dumps(answer.to_json(actual), allow_nan=False)
        json.dumps(answer.expected_json(expected), allow_nan=False)
    assert SetAnswer().to_json(frozenset({"b", "a"})) == ["a", "b"]


def test_base_class_methods_are_abstract() -> None:
    with pytest.raises(NotImplementedError):
        AnswerSpec(type="x").parse(1)
    assert FormulaAnswer.model_fields["points"].default == 50
