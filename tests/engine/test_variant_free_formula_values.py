"""A formula key's values at its random points are shared by every variant's key only when they are the same in
every variant (grader.quantities._VARIANT_FREE_VALUES): through every quantity the formula's reference uses, it
reads no input a seed draws but its own variables. Each shipped sheet's formula and graph keys, and every known
mistake's, give the same values with sharing as computed afresh for the variant; a reference that reads a drawn
input is never shared, so each student is graded against their own variant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader import key as key_module
from grader import quantities
from grader.answers.formula import reference_examples, sample_points
from grader.answers.references import FunctionReference
from grader.grading import loaded_sheet
from grader.key import compute_key
from tests.conftest import Grader, write

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
SEEDS = [None, 1, 2, 17, 4242]


@pytest.fixture
def fresh_shared_values() -> Iterator[None]:
    """An empty shared store before and after the test, so no other test's values are read."""
    quantities._VARIANT_FREE_VALUES.clear()
    quantities._variant_free_bytes = 0
    yield
    quantities._VARIANT_FREE_VALUES.clear()
    quantities._variant_free_bytes = 0


def _function_keys(sheet_path: Path, seed: int | None) -> dict[str, tuple[FunctionReference, object]]:
    """Every formula or graph key of a variant, mistakes included: ``{"ex.part[:mistake]": (reference, domains)}``."""
    sheet = loaded_sheet(sheet_path)
    answer_key = compute_key(sheet, seed)
    found: dict[str, tuple[FunctionReference, object]] = {}
    for exercise, part in sheet.parts():
        part_key = answer_key.part(exercise.id, part.id)
        domains = getattr(part.answer, "variables", None) or getattr(part.answer, "inputs", None)
        for name, value in [("", part_key.expected), *part_key.mistakes.items()]:
            if isinstance(value, FunctionReference):
                found[f"{exercise.id}.{part.id}{':' if name else ''}{name}"] = (value, domains)
    return found


def _values(reference: FunctionReference, domains: object) -> list[np.ndarray]:
    """The reference at 40 points of a fixed draw, and at the points its report examples come from."""
    points = sample_points(domains, 40, np.random.default_rng(99))  # type: ignore[arg-type]
    examples = reference_examples(reference, domains)  # type: ignore[arg-type]
    return [np.asarray(reference(points)), np.asarray([example["value"] for example in examples], dtype=float)]


@pytest.mark.parametrize("sheet_path", sorted(EXERCISES.glob("*.yaml")), ids=lambda path: path.stem)
def test_shared_values_are_each_variants_own(sheet_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_shared_values: None) -> None:
    shared = {seed: {name: _values(*keyed) for name, keyed in _function_keys(sheet_path, seed).items()} for seed in SEEDS}
    monkeypatch.setattr(key_module._Env, "every_variant_scope", lambda self, expression, columns: None)
    for seed in SEEDS:
        alone = {name: _values(*keyed) for name, keyed in _function_keys(sheet_path, seed).items()}
        assert alone.keys() == shared[seed].keys()
        for name, values in alone.items():
            for own, with_sharing in zip(values, shared[seed][name], strict=True):
                np.testing.assert_array_equal(with_sharing, own, err_msg=f"{sheet_path.name} seed {seed} {name}")


DRAWN_SCALE = """\
id: drawn-scale
exercises:
  - id: e
    inputs:
      n: {value: 3}
      k: {value: 2, random: {dist: integers, low: 2, high: 40}}
      c: {value: 5}
    quantities:
      scaled: {op: mul, a: $k, b: $n}
      fixed: {op: add, a: {op: mul, a: $c, b: $n}, b: 1}
    parts:
      - id: scaled
        prompt: "k n as a formula in n"
        points: 1
        answer:
          type: formula
          variables: {n: {low: 1, high: 10, integer: true}}
        expected: {op: function, of: $scaled, variables: {n: $n}}
      - id: fixed
        prompt: "c n + 1 as a formula in n"
        points: 1
        answer:
          type: formula
          variables: {n: {low: 1, high: 10, integer: true}}
        expected: {op: function, of: $fixed, variables: {n: $n}}
"""


def test_a_reference_reading_a_drawn_input_is_each_students_own(
    tmp_path: Path, grader: Grader, fresh_shared_values: None
) -> None:
    """Students of different variants, graded in one run, hand in their own k: each scores full, and another
    variant's k scores 0."""
    sheet_path = write(tmp_path, DRAWN_SCALE)
    assert grader("validate", sheet_path).code == 0
    sheet = loaded_sheet(sheet_path)
    scales = {seed: int(compute_key(sheet, seed).inputs["e"]["k"]) for seed in range(1, 40)}
    seeds = [next(seed for seed, k in scales.items() if k == wanted) for wanted in sorted(set(scales.values()))[:3]]
    assert len(seeds) == 3, scales
    folder = tmp_path / "answers"
    folder.mkdir()
    for seed in seeds:
        for other in seeds:
            text = f"seed: {seed}\nanswers:\n  e:\n    scaled: '{scales[other]}*n'\n    fixed: '5*n + 1'\n"
            write(folder, text, f"s{seed}-{other}.yaml")
    run = grader("grade", sheet_path, folder, "--format", "json")
    assert run.code == 0, run.err
    earned = {report["result"]["submission"]: report["result"]["points_earned"] for report in json.loads(run.out)}
    assert earned == {f"s{seed}-{other}.yaml": 2.0 if other == seed else 1.0 for seed in seeds for other in seeds}


def test_a_reference_reading_only_its_variables_and_fixed_inputs_is_computed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_shared_values: None
) -> None:
    sheet = loaded_sheet(write(tmp_path, DRAWN_SCALE))
    evaluated: list[str] = []
    real = quantities._function_values

    def counted(of: quantities.Lazy, overrides: dict[str, np.ndarray]) -> np.ndarray:
        evaluated.append(of.expression)
        return real(of, overrides)

    monkeypatch.setattr(quantities, "_function_values", counted)
    for seed in (1, 2, 3, 4):
        compute_key(sheet, seed)
    assert evaluated.count("$fixed") == 1, evaluated
    assert evaluated.count("$scaled") == 4, evaluated


ONE_INPUT_TWO_VARIABLES = """\
id: one-input-two-variables
exercises:
  - id: e
    inputs:
      n: {value: 3}
      c: {value: 5}
    quantities:
      q: {op: add, a: {op: mul, a: $c, b: $n}, b: 1}
      right: {op: mul, a: {op: add, a: $n, b: 1}, b: $c}
    parts:
      - id: p
        prompt: "c (a + 1), with a the first size and b the second"
        points: 2
        answer: {type: formula, variables: {a: {low: 1, high: 10, integer: true}, b: {low: 20, high: 30, integer: true}}}
        expected: {op: function, of: $right, variables: {a: $n}}
        mistakes:
          - id: used-b
            expected: {op: function, of: $q, variables: {a: $n, b: $n}}
            feedback: "c b + 1: you used b, the second size"
          - id: used-a
            expected: {op: function, of: $q, variables: {b: $n, a: $n}}
            feedback: "c a + 1: the +1 belongs inside, before multiplying by c"
            credit: 0.5
"""


def test_two_variables_naming_one_input_in_either_order_are_two_keys(
    tmp_path: Path, grader: Grader, fresh_shared_values: None
) -> None:
    """{a: $n, b: $n} evaluates the quantity at b's points (the last one sets n), {b: $n, a: $n} at a's: one quantity
    and one set of names, two keys (a review found them sharing values, so 5a + 1 was graded as the used-b mistake's
    missing match instead of the used-a mistake's half credit)."""
    sheet_path = write(tmp_path, ONE_INPUT_TWO_VARIABLES)
    assert grader("validate", sheet_path).code == 0
    answers = write(tmp_path, "answers:\n  e:\n    p: '5*a + 1'\n", "answers.yaml")
    run = grader("grade", sheet_path, answers, "--format", "json")
    part = json.loads(run.out)["result"]["parts"][0]
    assert (part["points_earned"], part["mistake"]) == (1.0, "used-a"), part


def test_an_evaluation_that_replaces_anything_shares_nothing(tmp_path: Path) -> None:
    """A follow-through's student value or a code case's arguments replace inputs or quantities: the values then
    belong to that evaluation alone, whatever the expression reads."""
    sheet = loaded_sheet(write(tmp_path, DRAWN_SCALE))
    evaluator = key_module.Evaluator(sheet, 0, key_module.exercise_inputs(sheet, 0, 3))
    own = key_module._Env(evaluator, {})
    assert own.every_variant_scope("$fixed", frozenset({"n"})) == (sheet, 0)
    assert own.every_variant_scope("$scaled", frozenset({"n"})) is None
    assert own.every_variant_scope("$scaled", frozenset({"n", "k"})) == (sheet, 0)
    assert own.every_variant_scope({"op": "mul", "a": "$c", "b": [1, 2.5, True, None]}, frozenset()) == (sheet, 0)
    assert own.every_variant_scope("$nowhere", frozenset()) is None
    replaced = key_module._Env(evaluator, {"c": np.array(7.0)})
    assert replaced.every_variant_scope("$fixed", frozenset({"n"})) is None


def test_the_shared_values_stay_within_their_bytes(monkeypatch: pytest.MonkeyPatch, fresh_shared_values: None) -> None:
    """The store keeps the values used last within VARIANT_FREE_BYTES (a part may check 10,000 points), keyed by
    a digest of the points, not the points themselves; the keys stay right after values were dropped."""
    sheet = loaded_sheet(EXERCISES / "week7.yaml")
    compute_key(sheet, 1)
    everything = sum(values.nbytes for values in quantities._VARIANT_FREE_VALUES.values())
    assert len(quantities._VARIANT_FREE_VALUES) > 2 and quantities._variant_free_bytes == everything
    assert all(len(where[-2]) == 32 for where in quantities._VARIANT_FREE_VALUES)  # sha256 of the points
    bound = everything // 3
    monkeypatch.setattr(quantities, "VARIANT_FREE_BYTES", bound)
    quantities._VARIANT_FREE_VALUES.clear()
    quantities._variant_free_bytes = 0
    bounded = {name: _values(*keyed) for name, keyed in _function_keys(EXERCISES / "week7.yaml", 2).items()}
    kept = sum(values.nbytes for values in quantities._VARIANT_FREE_VALUES.values())
    assert 0 < kept <= bound and quantities._variant_free_bytes == kept
    monkeypatch.setattr(key_module._Env, "every_variant_scope", lambda self, expression, columns: None)
    alone = {name: _values(*keyed) for name, keyed in _function_keys(EXERCISES / "week7.yaml", 2).items()}
    for name, values in alone.items():
        for own, with_sharing in zip(values, bounded[name], strict=True):
            np.testing.assert_array_equal(with_sharing, own, err_msg=name)
