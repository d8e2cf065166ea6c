"""Property: for random sheets of formula parts (fixed, drawn and both-kind inputs; op trees with add, mul, relu,
formula, graph, grad, index, sum; random maps of variables to inputs; known mistakes), every variant's formula keys
are the same at their check points and at other points whether the variants share values
(grader.quantities._VARIANT_FREE_VALUES) or each computes its own. Adapted from a review's fuzz, which found none
differing in 190 sheets."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import key as key_module
from grader import quantities
from grader.answers.formula import reference_at_points, sample_points
from grader.errors import SpecErrors
from grader.grading import check_context
from grader.key import compute_key
from grader.spec import load_sheet

NUMBERS = ["a", "b", "c", "d", "e"]


class _SheetWriter:
    """One random sheet's YAML, drawn from ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def inputs(self) -> dict[str, str]:
        drawn = "random: {dist: uniform, low: 0.5, high: 3}"
        written: dict[str, str] = {}
        for name in NUMBERS:
            value = round(self.rng.uniform(0.5, 3), 2)
            written[name] = self.rng.choice([f"{{value: {value}}}", f"{{{drawn}}}", f"{{value: {value}, {drawn}}}"])
        written["w"] = self.rng.choice(["{value: [1.5, -2.0, 0.5]}", "{random: {dist: normal, shape: [3]}}"])
        return written

    def expression(self, depth: int, quantities: list[str]) -> str:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.25:
            references = [f"${rng.choice(NUMBERS)}"] * 4 + ([f"${rng.choice(quantities)}"] if quantities else [])
            return rng.choice([*references, str(round(rng.uniform(-2, 2), 1))])
        inner = lambda: self.expression(depth - 1, quantities)  # noqa: E731 -- drawn only when used
        op = rng.choice(["add", "sub", "mul", "sin", "square", "relu", "formula", "graph", "grad", "index", "tanh", "sum"])
        if op in ("add", "sub", "mul"):
            return f"{{op: {op}, a: {inner()}, b: {inner()}}}"
        if op in ("sin", "square", "relu", "tanh"):
            return f"{{op: {op}, x: {inner()}}}"
        if op == "formula":
            return f"{{op: formula, text: 'max(p, q) + p*q', p: {inner()}, q: {inner()}}}"
        if op == "graph":
            x, y = rng.sample(NUMBERS, 2)
            nodes = f"{{g1: '{x}*{y}', g2: 'sigmoid(g1) + {x}'}}"
            return f"{{op: graph_output, graph: {{op: graph, nodes: {nodes}, inputs: {{{x}: ${x}, {y}: ${y}}}}}}}"
        if op == "grad":
            x = rng.choice(NUMBERS)
            loss = f"{{op: sum, x: {{op: square, x: {{op: mul, a: $w, b: {{op: add, a: ${x}, b: {inner()}}}}}}}}}"
            return f"{{op: grad, of: {loss}, wrt: ${x}}}"
        if op == "index":
            return f"{{op: index, x: {{op: mul, a: $w, b: {inner()}}}, at: [{rng.choice([0, 1, -1])}]}}"
        return f"{{op: sum, x: {{op: mul, a: $w, b: {inner()}}}}}"

    def sheet(self) -> str:
        rng = self.rng
        quantities: dict[str, str] = {}
        for index in range(3):
            written = self.expression(3, [name for name, text in quantities.items() if text.startswith("{")])
            quantities[f"q{index}"] = written
        calls = [name for name, text in quantities.items() if text.startswith("{")]
        lines = ["id: fuzz", "validation_seeds: [1, 2]", "exercises:", "  - id: e", "    inputs:"]
        lines += [f"      {name}: {text}" for name, text in self.inputs().items()]
        lines += ["    quantities:", *(f"      {name}: {quantities[name]}" for name in calls)] if calls else []
        lines += ["    parts:"]
        for index in range(3):
            variables = rng.sample(NUMBERS, rng.randint(1, 3))
            of = rng.choice([f"${name}" for name in calls] or ["$a"]) if rng.random() < 0.6 else self.expression(3, calls)
            if not of.startswith(("$", "{")):
                of = f"{{op: add, a: {of}, b: 0}}"
            domains = ", ".join(f"{name}: {{low: 0.5, high: 3}}" for name in variables)
            mapped = ", ".join(f"{name}: ${rng.choice([name] * 3 + NUMBERS)}" for name in variables)
            lines += [f"      - id: p{index}", "        prompt: p", "        points: 1",
                      f"        answer: {{type: formula, variables: {{{domains}}}}}",
                      f"        expected: {{op: function, of: {of}, variables: {{{mapped}}}}}"]
            if rng.random() < 0.5:
                other = ", ".join(f"{name}: ${rng.choice(NUMBERS)}" for name in variables)
                mistake = f"{{id: m, expected: {{op: function, of: {of}, variables: {{{other}}}}}, feedback: m}}"
                lines += ["        mistakes:", f"          - {mistake}"]
        return "\n".join(lines) + "\n"


def _key_values(sheet: Any, seed: int | None) -> dict[str, Any] | str:
    """Every formula key's values (and known mistake's) at its part's check points and at 30 other points; the
    message when the sheet cannot key this variant."""
    try:
        answer_key = compute_key(sheet, seed)
    except SpecErrors as errors:
        return "; ".join(error.message for error in errors.errors)
    found: dict[str, Any] = {}
    for exercise, part in sheet.parts():
        part_key = answer_key.part(exercise.id, part.id)
        for name, reference in [("", part_key.expected), *part_key.mistakes.items()]:
            try:
                _, at_check = reference_at_points(reference, part.answer.variables, part.answer, check_context(sheet, exercise.id, part.id))
            except ValueError as error:
                at_check = str(error)
            try:
                elsewhere = reference(sample_points(part.answer.variables, 30, np.random.default_rng(5)))
            except Exception as error:  # noqa: BLE001 -- the same error with sharing and without is what counts
                elsewhere = f"{type(error).__name__}: {error}"
            found[f"{part.id}:{name}"] = (at_check, elsewhere)
    return found


def _same(shared: dict[str, Any] | str, alone: dict[str, Any] | str) -> bool:
    if isinstance(shared, str) or isinstance(alone, str):
        return shared == alone
    if shared.keys() != alone.keys():
        return False
    for name, values in alone.items():
        for own, with_sharing in zip(values, shared[name], strict=True):
            if isinstance(own, str) or isinstance(with_sharing, str):
                if own != with_sharing:
                    return False
            elif not np.array_equal(own, with_sharing, equal_nan=True):
                return False
    return True


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_sheets_key_every_variant_alike_with_and_without_sharing(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"fuzz-{seed}.yaml"
    path.write_text(_SheetWriter(random.Random(seed)).sheet(), encoding="utf-8")
    try:
        sheet = load_sheet(path)
    except SpecErrors:
        return  # the schema refused this draw (e.g. an op where a number must be): nothing to key
    variants: list[int | None] = [None, 1, 2, 3]
    with monkeypatch.context() as patched:
        patched.setattr(quantities, "_VARIANT_FREE_VALUES", type(quantities._VARIANT_FREE_VALUES)())
        patched.setattr(quantities, "_variant_free_bytes", 0)
        shared = {variant: _key_values(sheet, variant) for variant in [*variants, 2, None]}
        patched.setattr(key_module._Env, "every_variant_scope", lambda self, expression, columns: None)
        for variant in variants:
            alone = _key_values(sheet, variant)
            assert _same(shared[variant], alone), (path.read_text(), variant, shared[variant], alone)
