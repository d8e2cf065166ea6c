"""Answer types: how each kind of answer is read from a submission, compared with the key and explained.

A part's ``answer:`` mapping in the YAML spec is one of :data:`AnswerSpecUnion`, tagged by ``type``. The
pipeline calls ``parse(raw)`` (AnswerError: the student's answer is unreadable), ``check(actual, expected,
ctx)`` (a Verdict), ``to_json``/``expected_json`` (report data) and ``format_hint`` (answer-file template).
"""

from typing import Annotated, Union, get_args

from pydantic import Field

from grader.answers.array import ArrayAnswer
from grader.answers.base import AnswerError, AnswerSpec, CheckContext, Tolerances
from grader.answers.boolean import BooleanAnswer
from grader.answers.choice import ChoiceAnswer
from grader.answers.code import CodeAnswer
from grader.answers.formula import Domain, FormulaAnswer
from grader.answers.graph_answer import GraphAnswer
from grader.answers.integer import IntegerAnswer
from grader.answers.number import NumberAnswer
from grader.answers.references import FunctionReference, GraphReference, ScheduleReference, TranslationReference
from grader.answers.schedule import ScheduleAnswer
from grader.answers.set_answer import SetAnswer
from grader.answers.shape import ShapeAnswer
from grader.answers.translation import Shifts, TranslationAnswer

AnswerSpecUnion = Annotated[
    Union[  # noqa: UP007 -- a Union keeps the discriminated union readable in the JSON Schema
        NumberAnswer,
        IntegerAnswer,
        ArrayAnswer,
        ShapeAnswer,
        BooleanAnswer,
        ChoiceAnswer,
        SetAnswer,
        ScheduleAnswer,
        FormulaAnswer,
        TranslationAnswer,
        GraphAnswer,
        CodeAnswer,
    ],
    Field(discriminator="type"),
]
"""Any answer type, chosen by its ``type`` tag."""

ANSWER_TYPES: dict[str, type[AnswerSpec]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(AnswerSpecUnion)[0])
}
"""Tag -> answer type class."""

__all__ = [
    "CodeAnswer",
    "ANSWER_TYPES",
    "AnswerError",
    "AnswerSpec",
    "AnswerSpecUnion",
    "ArrayAnswer",
    "BooleanAnswer",
    "CheckContext",
    "ChoiceAnswer",
    "Domain",
    "FormulaAnswer",
    "FunctionReference",
    "GraphAnswer",
    "GraphReference",
    "IntegerAnswer",
    "NumberAnswer",
    "ScheduleAnswer",
    "ScheduleReference",
    "SetAnswer",
    "ShapeAnswer",
    "Shifts",
    "Tolerances",
    "TranslationAnswer",
    "TranslationReference",
]
