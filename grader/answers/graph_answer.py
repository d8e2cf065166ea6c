"""The ``graph`` answer type: a computation graph drawn as named nodes (the sheet's Exercise 4 b and c),
checked for the primitive ops it uses and compared with a reference function at random points."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator

from grader.answers.base import AnswerError, AnswerSpec, CheckContext, describe_raw, scored
from grader.answers.formula import Domain, PointCheck, check_variable_names, compare_at_points, reference_examples
from grader.answers.references import FunctionReference
from grader.engine.formula import FUNCTION_OPS, FormulaError, NamedGraph, flow_comma_hint, parse_named_graph
from grader.result import Verdict

OPERATOR_OPS = ("add", "sub", "mul", "div", "pow", "neg")
"""Op names the arithmetic operators record (``+ - * / **`` and unary minus)."""
KNOWN_OPS = frozenset(OPERATOR_OPS) | frozenset(FUNCTION_OPS.values())
"""Every primitive op a graph can use."""
MAX_NODES = 1000
WRITTEN_AS: dict[str, str] = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "neg": "unary -",
    **{op: function for function, op in FUNCTION_OPS.items()},
}  # fmt: skip
"""How a student writes each op a graph may record (``maximum`` is ``max``, ``div`` is ``/``)."""


def _written(ops: Iterable[str]) -> str:
    """Op names as a student writes them, in the order given (sorted when a set): ``+, *, sigmoid``."""
    listed = sorted(ops) if isinstance(ops, set | frozenset) else list(ops)
    return ", ".join(WRITTEN_AS.get(op, op) for op in listed)


OUTPUT_KEY = "output"
"""In the mapping form, this key names the output node instead of defining a node."""


class GraphAnswer(PointCheck, AnswerSpec):
    """A computation graph as named nodes, each one expression over the inputs and earlier nodes.

    Written as a mapping, ``{h1: "sigmoid(w1_11*x1 + w1_12*x2)", ..., y: "v1*h1 + v2*h2"}``, with an optional key
    ``output`` naming the output node, or as a list of ``{name: ..., expr: ...}``. Without ``output``, the output is
    the node no other node uses, and when several nodes are unused, the last of them in the order written (see
    :func:`~grader.engine.formula.parse_named_graph`; the others are noted as not used by the output). It is right when it uses only the ``allowed`` primitive ops and its output agrees
    with the key's reference at ``points`` random values of the inputs. The key's value is a
    :class:`~grader.answers.references.FunctionReference` (also exported as ``GraphReference``).
    """

    type: Literal["graph"] = "graph"
    """Tag of this answer type."""
    inputs: dict[str, Domain] = Field(min_length=1)
    """The variables the graph may use (``x1``, ``w1_11`` ...), each with the domain its random values come from."""
    allowed: list[str] = Field(min_length=1)
    """The primitive ops the nodes may use: add, sub, mul, div, pow, neg (the operators) and function ops such as
    sigmoid, relu, maximum (``max(a, b)``), minimum, sin, exp."""

    @field_validator("inputs")
    @classmethod
    def _usable_names(cls, inputs: dict[str, Domain]) -> dict[str, Domain]:
        return check_variable_names(inputs)

    @field_validator("allowed")
    @classmethod
    def _known_ops(cls, allowed: list[str]) -> list[str]:
        unknown = [op for op in allowed if op not in KNOWN_OPS]
        if unknown:
            raise ValueError(f"unknown op(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_OPS))}")
        return allowed

    def parse(self, raw: Any) -> NamedGraph:
        if raw is None:
            raise AnswerError("no answer given")
        output: str | None = None
        pairs: list[tuple[str, str]] = []
        if isinstance(raw, str):  # a block of lines ``name: expression`` (``b_graph: |``), as a prompt may ask
            raw = self._lines_as_mapping(raw)
        if isinstance(raw, dict):
            items = list(raw.items())
            if len(items) > MAX_NODES:
                raise AnswerError(f"the graph has {len(items)} nodes; at most {MAX_NODES} are read")
            for name, expression in items:
                if name == OUTPUT_KEY:
                    if not isinstance(expression, str):
                        raise AnswerError(f"'output' names the output node, got {describe_raw(expression)}")
                    output = expression.strip()
                    continue
                pairs.append((str(name), self._expression(expression, str(name))))
        elif isinstance(raw, list):
            if len(raw) > MAX_NODES:
                raise AnswerError(f"the graph has {len(raw)} nodes; at most {MAX_NODES} are read")
            for position, item in enumerate(raw, start=1):
                if not (isinstance(item, dict) and set(item) == {"name", "expr"}):
                    raise AnswerError(f"node {position}: expected {{name: ..., expr: ...}}, got {describe_raw(item)}")
                pairs.append((str(item["name"]), self._expression(item["expr"], str(item["name"]))))
        else:
            raise AnswerError(f"expected the graph as a mapping from node name to expression, got {describe_raw(raw)}")
        if not pairs:
            raise AnswerError("the graph has no nodes")
        try:
            return parse_named_graph(pairs, inputs=self.inputs, output=output)
        except FormulaError as exc:
            raise AnswerError(f"cannot read the graph: {exc}") from None

    @staticmethod
    def _lines_as_mapping(text: str) -> dict[str, str]:
        """``h1: sigmoid(...)`` on each line of ``text`` (blank lines skipped) as {name: expression}; AnswerError
        naming the first line that is not ``name: expression``, or a name given twice."""
        nodes: dict[str, str] = {}
        lines = text.splitlines()
        written = sum(1 for line in lines if line.strip())
        if written > MAX_NODES + 1:  # the nodes and an output line
            raise AnswerError(f"the graph has {written} lines; at most {MAX_NODES} nodes are read")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            name, colon, expression = line.partition(":")
            if not colon or not name.strip() or not expression.strip():
                raise AnswerError(
                    f"line {number} of the graph: expected 'name: expression' (one node per line), got {line.strip()[:60]!r}"
                )
            if name.strip() in nodes:
                raise AnswerError(f"line {number} of the graph: node {name.strip()!r} is given twice")
            nodes[name.strip()] = expression.strip()
        if not nodes:
            raise AnswerError("the graph has no nodes")
        return nodes

    @staticmethod
    def _expression(expression: Any, name: str) -> str:
        if isinstance(expression, bool) or not isinstance(expression, (str, int, float)):
            # {p: max(a, b)} reads as p: 'max(a' and 'b)': null
            raise AnswerError(
                flow_comma_hint(f"node {name}: expected an expression as text, got {describe_raw(expression)}", name)
            )
        return str(expression)

    def check(self, actual: NamedGraph, expected: FunctionReference, ctx: CheckContext) -> Verdict:
        if not isinstance(expected, FunctionReference):
            raise ValueError(f"graph answer: the key's value is a {type(expected).__name__}, not a FunctionReference")
        disallowed = sorted(actual.ops - set(self.allowed))
        if disallowed:
            used_by = [
                f"node {name} uses {_written(actual.nodes[name].ops - set(self.allowed))}"
                for name in actual.order
                if name not in actual.unused and actual.nodes[name].ops - set(self.allowed)
            ]
            return scored(
                0.0,
                f"the graph uses {_written(disallowed)}, which {'is' if len(disallowed) == 1 else 'are'} not "
                f"allowed here (allowed: {_written(self.allowed)}): {'; '.join(used_by)}",
            )
        verdict = compare_at_points(actual.evaluate, expected, self.inputs, self, ctx, "your graph's output")
        if actual.unused:
            note = f"node{'s' if len(actual.unused) > 1 else ''} {', '.join(actual.unused)} not used by the output {actual.output}"
            return verdict.model_copy(update={"details": [*verdict.details, note]})
        return verdict

    def to_json(self, actual: NamedGraph) -> dict[str, str]:
        nodes = {name: formula.text for name, formula in actual.nodes.items()}
        if list(actual.nodes)[-1] != actual.output:
            nodes[OUTPUT_KEY] = actual.output
        return nodes

    def expected_json(self, expected: FunctionReference) -> list[dict[str, Any]]:
        return reference_examples(expected, self.inputs)

    @property
    def format_hint(self) -> str:
        return (
            "a mapping from node name to expression, e.g. {a1: \"w1*x1 + w2*x2\", h1: \"sigmoid(a1)\"} "
            f"(allowed ops: {', '.join(self.allowed)}; the output is the node no other node uses, the last of them "
            "when several are unused, or the one named by output: NAME)"
        )
